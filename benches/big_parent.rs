//! Spawn benchmark with a big parent: procwire's spawn paths against std's
//! fork path, each measured with a small parent and again after the bench
//! process has allocated and touched 4 GiB, in the same run.
//!
//! Contenders (each spawns `/bin/true` and waits for it, sequentially):
//! - `pw-pipes`: procwire's default map, pipes on 0, 1 and 2 (posix_spawn);
//! - `pw-sparse`: `clear_child_fds()`, then `{1: r, 7: w, 9: Null}`
//!   (posix_spawn);
//! - `pw-pty`: a new 24x80 pseudo-terminal (posix_spawn);
//! - `pw-uid`: `uid` and `gid` set to the current ids (procwire's
//!   `clone(CLONE_VM | CLONE_VFORK)` trampoline);
//! - `std-fork`: `std::process::Command` with `uid` set to the current uid,
//!   which makes std fork+exec instead of posix_spawn: what a fork-based
//!   spawner (Twisted with `usePTY` or `uid`) pays;
//! - `std-spawn`: std's default posix_spawn path, as a control.
//!
//! Both std contenders have pipes on 0, 1 and 2, as `pw-pipes` has.
//!
//! Each of R rounds has a small phase (the bench's own few MiB), then
//! allocates 4 GiB and writes one byte to every 4096-byte page of it, runs
//! the big phase, and frees it. Within a phase the contenders take turns in
//! slices (N spawns each per phase, `std-fork` a smaller count, as it takes
//! ~100 ms a spawn with the big parent), in an order that rotates from round
//! to round and reverses every other slice. Per contender the bench reports
//! the medians over rounds of microseconds per spawn, small and big; the
//! big/small ratio and the speedup over `std-fork` with the big parent are
//! medians over rounds of the same-round ratios.
//!
//! Environment knobs: `PROCWIRE_BENCH_ROUNDS` (R, default 5),
//! `PROCWIRE_BENCH_N` (spawns per contender per phase, default 200),
//! `PROCWIRE_BENCH_FORK_N` (the same for `std-fork`, default 20),
//! `PROCWIRE_BENCH_SLICES` (turns per phase, default 4),
//! `PROCWIRE_BENCH_GIB` (the big parent's extra memory, default 4),
//! `PROCWIRE_BENCH_ONLY` (comma-separated contender names, e.g. `pw-uid` or
//! `std-fork`, to profile one alone with `strace -c -f`).
//!
//! Run with `cargo bench -p procwire-bench --bench big_parent`.
#![forbid(unsafe_code)]

#[path = "common/mod.rs"]
mod common;

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Instant;

use procwire::{ChildFd, PtySize};
use tokio::runtime::Runtime;

use common::{env_usize, median};

const TRUE: &str = "/bin/true";
const PAGE: usize = 4096;
/// Each procwire variant's big/small ratio should stay within this.
const RATIO_TARGET: f64 = 1.2;
/// procwire with the big parent should beat std's fork path by this much.
const SPEEDUP_TARGET: f64 = 50.0;

/// Spawns and reaps the given number of children; returns the seconds it took.
type Spawner<'a> = Box<dyn FnMut(usize) -> f64 + 'a>;

/// One contender and its microseconds per spawn, one per round and phase.
struct Contender<'a> {
    name: &'static str,
    procwire: bool,
    /// Spawns per phase.
    count: usize,
    run: Spawner<'a>,
    small: Vec<f64>,
    big: Vec<f64>,
}

fn main() {
    let rounds = env_usize("PROCWIRE_BENCH_ROUNDS", 5);
    let n = env_usize("PROCWIRE_BENCH_N", 200);
    let fork_n = env_usize("PROCWIRE_BENCH_FORK_N", 20);
    let slices = env_usize("PROCWIRE_BENCH_SLICES", 4).max(1);
    let gib = env_usize("PROCWIRE_BENCH_GIB", 4);
    println!(
        "procwire big-parent bench: {rounds} rounds; per phase N={n} spawns per contender \
         (std-fork {fork_n}) in {slices} slices; big parent = +{gib} GiB touched; reaper={}; loadavg {}",
        if cfg!(any(procwire_force_sigchld, procwire_portable)) { "SIGCHLD (forced)" } else { "pidfd" },
        loadavg()
    );
    let rt = &tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();

    let mut pipes = procwire::Command::new(TRUE);
    let mut sparse = procwire::Command::new(TRUE);
    sparse
        .clear_child_fds()
        .child_fd(1, ChildFd::ReadPipe)
        .child_fd(7, ChildFd::WritePipe)
        .child_fd(9, ChildFd::Null);
    let mut pty = procwire::Command::new(TRUE);
    pty.pty(PtySize::default());
    let mut creds = procwire::Command::new(TRUE);
    creds.uid(uid).gid(gid);
    let mut fork = std::process::Command::new(TRUE);
    // std takes its fork+exec path whenever uid (or gid, groups, a pre_exec
    // hook...) is set; the current uid changes nothing in the child.
    fork.uid(uid).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut spawn = std::process::Command::new(TRUE);
    spawn.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());

    let only = std::env::var("PROCWIRE_BENCH_ONLY").ok();
    let mut contenders: Vec<Contender<'_>> = [
        ("pw-pipes", true, n, Box::new(move |k| seq_procwire(rt, &mut pipes, k)) as Spawner<'_>),
        ("pw-sparse", true, n, Box::new(move |k| seq_procwire(rt, &mut sparse, k))),
        ("pw-pty", true, n, Box::new(move |k| seq_procwire(rt, &mut pty, k))),
        ("pw-uid", true, n, Box::new(move |k| seq_procwire(rt, &mut creds, k))),
        ("std-fork", false, fork_n, Box::new(move |k| seq_std(&mut fork, k))),
        ("std-spawn", false, n, Box::new(move |k| seq_std(&mut spawn, k))),
    ]
    .into_iter()
    .filter(|(name, ..)| only.as_deref().is_none_or(|o| o.split(',').any(|w| w == *name)))
    .map(|(name, procwire, count, run)| Contender {
        name,
        procwire,
        count,
        run,
        small: Vec::with_capacity(rounds),
        big: Vec::with_capacity(rounds),
    })
    .collect();

    // Warm-up, not measured: the first spawn of each pays for page faults
    // in the bench's own code and the runtime's first registrations.
    for c in &mut contenders {
        (c.run)(1);
    }
    for round in 0..rounds {
        for (i, us) in phase(round, slices, &mut contenders).into_iter().enumerate() {
            contenders[i].small.push(us);
        }
        let t = Instant::now();
        let big = touched(gib << 30);
        let touch_secs = t.elapsed().as_secs_f64();
        let rss = rss_mib();
        for (i, us) in phase(round, slices, &mut contenders).into_iter().enumerate() {
            contenders[i].big.push(us);
        }
        drop(std::hint::black_box(big));
        println!(
            "round {}: allocated and touched {gib} GiB in {touch_secs:.2} s (VmRSS {rss} MiB); loadavg {}",
            round + 1,
            loadavg()
        );
    }

    println!();
    for c in &contenders {
        println!("{:<10} small µs/spawn [{}]", c.name, fmt_list(&c.small));
        println!("{:<10} big   µs/spawn [{}]", "", fmt_list(&c.big));
    }
    println!();
    print_table(&contenders);
}

/// One phase: every contender spawns its count, slice by slice, taking
/// turns (A B C .., then .. C B A; the first one rotating from round to
/// round). Returns each contender's microseconds per spawn.
fn phase(round: usize, slices: usize, contenders: &mut [Contender<'_>]) -> Vec<f64> {
    let m = contenders.len();
    let mut secs = vec![0.0; m];
    for s in 0..slices {
        for k in 0..m {
            let k = if s % 2 == 1 { m - 1 - k } else { k };
            let i = (round + k) % m;
            let c = &mut contenders[i];
            // The count split into `slices` near-equal parts.
            let part = c.count / slices + usize::from(s < c.count % slices);
            secs[i] += (c.run)(part);
        }
    }
    secs.iter().zip(contenders.iter()).map(|(s, c)| s * 1e6 / c.count.max(1) as f64).collect()
}

// ---- contenders ----------------------------------------------------------

fn seq_procwire(rt: &Runtime, cmd: &mut procwire::Command, n: usize) -> f64 {
    rt.block_on(async {
        let t = Instant::now();
        for _ in 0..n {
            let mut child = cmd.spawn().expect("procwire spawn");
            // The terminal's master side (None without a PTY), held until
            // the child is reaped, as a caller reading it would.
            let master = child.take_pty();
            let status = child.wait().await.expect("procwire wait");
            assert!(status.success());
            drop(master);
        }
        t.elapsed().as_secs_f64()
    })
}

fn seq_std(cmd: &mut std::process::Command, n: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        let status = cmd.spawn().expect("std spawn").wait().expect("std wait");
        assert!(status.success());
    }
    t.elapsed().as_secs_f64()
}

// ---- the big parent -------------------------------------------------------

/// `bytes` of heap with one byte written to every page, so that each page
/// is resident and has its own page-table entry for a `fork()` to copy.
fn touched(bytes: usize) -> Vec<u8> {
    let mut v = vec![0u8; bytes];
    for i in (0..bytes).step_by(PAGE) {
        v[i] = 1;
    }
    std::hint::black_box(v)
}

/// This process's resident set, in MiB, from `/proc/self/status`.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// The 1-, 5- and 15-minute load averages.
fn loadavg() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

// ---- report ----------------------------------------------------------------

fn fmt_list(v: &[f64]) -> String {
    v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ")
}

/// The median over rounds of `a[r] / b[r]`.
fn paired(a: &[f64], b: &[f64]) -> f64 {
    median(a.iter().zip(b).map(|(a, b)| a / b).collect())
}

fn print_table(contenders: &[Contender<'_>]) {
    let fork = contenders.iter().find(|c| c.name == "std-fork");
    println!(
        "| contender | small parent µs/spawn | 4 GiB parent µs/spawn | big/small | std-fork big / this big |"
    );
    println!("|---|---:|---:|---:|---:|");
    let (mut ratio_met, mut speedup_met) = (true, true);
    for c in contenders {
        let ratio = paired(&c.big, &c.small);
        let speedup = fork.map(|f| paired(&f.big, &c.big));
        if c.procwire {
            ratio_met &= ratio <= RATIO_TARGET;
            speedup_met &= speedup.is_none_or(|s| s >= SPEEDUP_TARGET);
        }
        println!(
            "| {} | {:.0} | {:.0} | {:.2}x | {} |",
            c.name,
            median(c.small.clone()),
            median(c.big.clone()),
            ratio,
            speedup.map_or_else(|| "-".into(), |s| format!("{s:.0}x")),
        );
    }
    println!("\nµs/spawn: median over rounds; ratios: median over rounds of the same-round ratio.");
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    println!("target: every procwire variant big/small <= {RATIO_TARGET}x: {}", verdict(ratio_met));
    if fork.is_some() {
        println!(
            "target: every procwire variant >= {SPEEDUP_TARGET}x faster than std-fork, big parent: {}",
            verdict(speedup_met)
        );
    }
}
