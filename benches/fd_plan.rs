//! fd-plan benchmark: `spawn()` + wait of `/bin/true` whose childFDs map is
//! a chain of N entries (child fd f_i <- `ChildFd::Parent(f_{i+1})`, over
//! N+1 close-on-exec copies of `/dev/null`), against the same child with no
//! map to plan: procwire with stdio inherited (`{0: 0, 1: 1, 2: 2}`, a plan
//! of one step) and `std::process` (the peer floor), in the same run.
//!
//! Each of R rounds runs, for each chain length, every contender in turn
//! (the order rotates from round to round) for at least a time budget and
//! at least one spawn, and records its milliseconds per spawn+wait. The
//! bench prints the medians over rounds and the median over rounds of the
//! same-round ratio chain / std.
//!
//! Environment knobs: `PROCWIRE_BENCH_CHAIN` (comma-separated chain
//! lengths, default `1000,8000`), `PROCWIRE_BENCH_ROUNDS` (R, default 7),
//! `PROCWIRE_BENCH_MS` (time budget per contender per round, default 100).
//! `RLIMIT_NOFILE` is raised to the hard limit to hold the chain's fds.
//!
//! Run with `cargo bench -p procwire-bench --bench fd_plan`.
#![forbid(unsafe_code)]

#[path = "common/mod.rs"]
mod common;

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use procwire::ChildFd;
use tokio::runtime::Runtime;

use common::{env_usize, median};

const TRUE: &str = "/bin/true";

/// Runs one spawn+wait.
type Spawner<'a> = Box<dyn FnMut() + 'a>;

fn main() {
    let rounds = env_usize("PROCWIRE_BENCH_ROUNDS", 7);
    let budget = Duration::from_millis(env_usize("PROCWIRE_BENCH_MS", 100) as u64);
    let lengths: Vec<usize> = std::env::var("PROCWIRE_BENCH_CHAIN")
        .unwrap_or_else(|_| "1000,8000".into())
        .split(',')
        .map(|n| n.trim().parse().unwrap_or_else(|_| panic!("PROCWIRE_BENCH_CHAIN: {n:?} is not a count")))
        .collect();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    }
    println!(
        "procwire fd-plan bench: chains {lengths:?}, {rounds} rounds, >= {} ms per contender per round, \
         RLIMIT_NOFILE={}, engine={}",
        budget.as_millis(),
        hard.max(soft),
        if cfg!(any(procwire_force_posix_spawn, procwire_portable)) {
            "posix_spawn (forced)"
        } else {
            "default"
        }
    );
    let rt = &tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    let mut table = Vec::new();
    for &n in &lengths {
        let null = File::open("/dev/null").expect("open /dev/null");
        let fds: Vec<OwnedFd> =
            (0..=n).map(|_| OwnedFd::from(null.try_clone().expect("dup /dev/null"))).collect();
        let mut raw: Vec<i32> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        raw.sort_unstable();
        let mut chain = procwire::Command::new(TRUE);
        chain.child_fds(raw.windows(2).map(|w| (w[0], ChildFd::Parent(w[1]))));
        let mut plain = procwire::Command::new(TRUE);
        plain.child_fds([(0, ChildFd::Parent(0)), (1, ChildFd::Parent(1)), (2, ChildFd::Parent(2))]);
        let mut std_cmd = std::process::Command::new(TRUE);

        let mut contenders: Vec<(&str, Spawner<'_>, Vec<f64>)> = vec![
            ("procwire chain", Box::new(|| run_procwire(rt, &mut chain)), Vec::new()),
            ("procwire no map", Box::new(|| run_procwire(rt, &mut plain)), Vec::new()),
            ("std no map", Box::new(|| assert!(std_cmd.status().expect("std spawn").success())), Vec::new()),
        ];
        let k = contenders.len();
        for round in 0..rounds {
            for j in 0..k {
                let (_, run, ms) = &mut contenders[(round + j) % k];
                ms.push(per_spawn_ms(run, budget));
            }
        }
        println!("\nchain of {n} entries:");
        for (name, _, ms) in &contenders {
            let each: Vec<String> = ms.iter().map(|m| format!("{m:.2}")).collect();
            println!("  {name:<16} median {:>9.2} ms  rounds [{}]", median(ms.clone()), each.join(" "));
        }
        let ratio = |a: usize, b: usize| {
            median(contenders[a].2.iter().zip(&contenders[b].2).map(|(x, y)| x / y).collect())
        };
        let row = (n, median(contenders[0].2.clone()), median(contenders[1].2.clone()), ratio(0, 2));
        println!("  chain/std {:.2}x, chain/procwire-no-map {:.2}x", row.3, ratio(0, 1));
        table.push((row, median(contenders[2].2.clone())));
        drop(fds);
    }

    println!("\n| chain | procwire spawn+wait | procwire, no map | std, no map | chain/std |");
    println!("|---:|---:|---:|---:|---:|");
    for ((n, chain, plain, ratio), std_ms) in table {
        println!("| {n} | {chain:.2} ms | {plain:.2} ms | {std_ms:.2} ms | {ratio:.1}x |");
    }
    println!("\ntimes: median over rounds of ms per spawn+wait; ratio: median of same-round ratios.");
}

fn run_procwire(rt: &Runtime, cmd: &mut procwire::Command) {
    rt.block_on(async {
        let status = cmd.spawn().expect("procwire spawn").wait().await.expect("procwire wait");
        assert!(status.success());
    });
}

/// Runs `run` until `budget` has passed (at least once); returns the mean
/// milliseconds per run.
fn per_spawn_ms(run: &mut Spawner<'_>, budget: Duration) -> f64 {
    let t = Instant::now();
    let mut count = 0u32;
    while count == 0 || t.elapsed() < budget {
        run();
        count += 1;
    }
    t.elapsed().as_secs_f64() * 1000.0 / f64::from(count)
}
