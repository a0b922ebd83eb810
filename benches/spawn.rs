//! Spawn benchmark: procwire against tokio::process, std::process and a raw
//! `posix_spawn` floor (nix's safe wrapper, default attributes), measured
//! in the same run so that load on a shared machine cannot fake a win.
//!
//! Workloads (all run `/bin/true`):
//! - sequential spawn+reap, stdio inherited;
//! - sequential spawn+reap, stdin/stdout/stderr on pipes;
//! - C children at once: spawn them all, then wait for them all, on a
//!   2-worker multi-thread runtime and on a current-thread one.
//!
//! Each workload runs R rounds. Within a round the contenders take turns
//! slice by slice (slices of 50 sequential spawns; two batches of C for the
//! at-once workload), in an order that rotates and reverses, so load from
//! elsewhere hits all of them alike. Rates are medians over rounds; ratios
//! are medians over rounds of procwire's rate over the peer's rate in the
//! same round.
//!
//! Environment knobs: `PROCWIRE_BENCH_N` (sequential spawns per round,
//! default 2000), `PROCWIRE_BENCH_ROUNDS` (R, default 7),
//! `PROCWIRE_BENCH_C` (children at once, default 2000),
//! `PROCWIRE_BENCH_SLICE` (default 50), `PROCWIRE_BENCH_ONLY`
//! (comma-separated contender names, e.g. `procwire` or `raw`, to profile
//! one alone with `strace -c -f`).
//!
//! Run with `cargo bench -p procwire-bench --bench spawn`.
#![forbid(unsafe_code)]

#[path = "common/mod.rs"]
mod common;
#[path = "common/rounds.rs"]
mod rounds;

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;
use std::time::Instant;

use nix::spawn::{posix_spawn, PosixSpawnAttr, PosixSpawnFileActions};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use procwire::ChildFd;
use tokio::runtime::Runtime;

use common::env_usize;
use rounds::{measure, print_table, raise_nofile, Row, Series};

const TRUE: &str = "/bin/true";
const TRUE_C: &CStr = c"/bin/true";

fn main() {
    let n = env_usize("PROCWIRE_BENCH_N", 2000);
    let rounds = env_usize("PROCWIRE_BENCH_ROUNDS", 7);
    let c = env_usize("PROCWIRE_BENCH_C", 2000);
    let slice = env_usize("PROCWIRE_BENCH_SLICE", 50).clamp(1, n.max(1));
    let nofile = raise_nofile();
    let env = parent_env();
    println!(
        "procwire spawn bench: N={n} sequential (in slices of {slice}), C={c} at once, {rounds} rounds, \
         RLIMIT_NOFILE={nofile}, reaper={}",
        if cfg!(any(procwire_force_sigchld, procwire_portable)) { "SIGCHLD (forced)" } else { "pidfd" }
    );
    let ct = &tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mt =
        &tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let env = &env;

    let mut rows = Vec::new();
    for pipes in [false, true] {
        let mut pw = procwire::Command::new(TRUE);
        if !pipes {
            pw.child_fds([(0, ChildFd::Parent(0)), (1, ChildFd::Parent(1)), (2, ChildFd::Parent(2))]);
        }
        let mut tk = tokio::process::Command::new(TRUE);
        let mut st = std::process::Command::new(TRUE);
        if pipes {
            tk.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
            st.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let series = measure(
            rounds,
            n,
            slice,
            vec![
                ("procwire", Box::new(move |k| seq_procwire(ct, &mut pw, k))),
                ("tokio", Box::new(move |k| seq_tokio(ct, &mut tk, k))),
                ("std", Box::new(move |k| seq_std(&mut st, k))),
                ("raw", Box::new(move |k| seq_raw(k, pipes, env))),
            ],
        );
        let what = if pipes { "3 pipes" } else { "stdio inherited" };
        rows.push(Row::new(format!("sequential spawn+reap, {what}"), format!("{n} per round"), series));
    }

    // Two batches of C per round (A B C .. then .. C B A), so that each
    // contender's round straddles the others'.
    let at_once = measure(
        rounds,
        2 * c,
        c,
        vec![
            ("procwire", Box::new(|k| many_procwire(mt, k, true))),
            ("tokio", Box::new(|k| many_tokio(mt, k, true))),
            ("procwire-ct", Box::new(|k| many_procwire(ct, k, false))),
            ("tokio-ct", Box::new(|k| many_tokio(ct, k, false))),
            ("std", Box::new(many_std)),
            ("raw", Box::new(|k| many_raw(k, env))),
        ],
    );
    let pick = |names: [&str; 4]| -> Vec<Series> {
        names.iter().filter_map(|&want| at_once.iter().find(|s| s.name == want).cloned()).collect()
    };
    rows.push(Row::new(
        format!("{c} at once, multi_thread (2 workers)"),
        format!("2 batches of {c} per round"),
        pick(["procwire", "tokio", "std", "raw"]),
    ));
    let mut ct_series = pick(["procwire-ct", "tokio-ct", "std", "raw"]);
    for s in &mut ct_series {
        s.name = s.name.trim_end_matches("-ct");
    }
    rows.push(Row::new(
        format!("{c} at once, current_thread"),
        format!("2 batches of {c} per round"),
        ct_series,
    ));

    println!();
    print_table(&rows);
}

// ---- sequential ----------------------------------------------------------

fn seq_procwire(rt: &Runtime, cmd: &mut procwire::Command, n: usize) -> f64 {
    rt.block_on(async {
        let t = Instant::now();
        for _ in 0..n {
            let status = cmd.spawn().expect("procwire spawn").wait().await.expect("procwire wait");
            assert!(status.success());
        }
        t.elapsed().as_secs_f64()
    })
}

fn seq_tokio(rt: &Runtime, cmd: &mut tokio::process::Command, n: usize) -> f64 {
    rt.block_on(async {
        let t = Instant::now();
        for _ in 0..n {
            let status = cmd.spawn().expect("tokio spawn").wait().await.expect("tokio wait");
            assert!(status.success());
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

fn seq_raw(n: usize, pipes: bool, env: &[CString]) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        if pipes {
            // The child's ends are dup2'ed onto 0/1/2 (which clears
            // close-on-exec on the copies); the parent keeps its ends
            // until the child is reaped, as the others do.
            let pipes: Vec<(OwnedFd, OwnedFd)> = (0..3).map(|_| common::pipe_cloexec()).collect();
            let mut fa = PosixSpawnFileActions::init().expect("file actions");
            fa.add_dup2(pipes[0].0.as_raw_fd(), 0).expect("dup2");
            fa.add_dup2(pipes[1].1.as_raw_fd(), 1).expect("dup2");
            fa.add_dup2(pipes[2].1.as_raw_fd(), 2).expect("dup2");
            let pid = raw_spawn(&fa, env);
            let parent_ends: Vec<OwnedFd> =
                pipes.into_iter().enumerate().map(|(i, (r, w))| if i == 0 { w } else { r }).collect();
            raw_reap(pid);
            drop(parent_ends);
        } else {
            let fa = PosixSpawnFileActions::init().expect("file actions");
            raw_reap(raw_spawn(&fa, env));
        }
    }
    t.elapsed().as_secs_f64()
}

// ---- many at once --------------------------------------------------------

fn many_procwire(rt: &Runtime, c: usize, in_task: bool) -> f64 {
    let round = async move {
        let mut cmd = procwire::Command::new(TRUE);
        cmd.child_fds([(0, ChildFd::Parent(0)), (1, ChildFd::Parent(1)), (2, ChildFd::Parent(2))]);
        let t = Instant::now();
        let mut children: Vec<procwire::Child> =
            (0..c).map(|_| cmd.spawn().expect("procwire spawn")).collect();
        let statuses = futures::future::join_all(children.iter_mut().map(|ch| ch.wait())).await;
        let secs = t.elapsed().as_secs_f64();
        assert!(statuses.into_iter().all(|s| s.expect("procwire wait").success()));
        secs
    };
    if in_task {
        rt.block_on(rt.spawn(round)).expect("task")
    } else {
        rt.block_on(round)
    }
}

fn many_tokio(rt: &Runtime, c: usize, in_task: bool) -> f64 {
    let round = async move {
        let mut cmd = tokio::process::Command::new(TRUE);
        let t = Instant::now();
        let mut children: Vec<tokio::process::Child> =
            (0..c).map(|_| cmd.spawn().expect("tokio spawn")).collect();
        let statuses = futures::future::join_all(children.iter_mut().map(|ch| ch.wait())).await;
        let secs = t.elapsed().as_secs_f64();
        assert!(statuses.into_iter().all(|s| s.expect("tokio wait").success()));
        secs
    };
    if in_task {
        rt.block_on(rt.spawn(round)).expect("task")
    } else {
        rt.block_on(round)
    }
}

fn many_std(c: usize) -> f64 {
    let mut cmd = std::process::Command::new(TRUE);
    let t = Instant::now();
    let children: Vec<std::process::Child> = (0..c).map(|_| cmd.spawn().expect("std spawn")).collect();
    for mut child in children {
        assert!(child.wait().expect("std wait").success());
    }
    t.elapsed().as_secs_f64()
}

fn many_raw(c: usize, env: &[CString]) -> f64 {
    let t = Instant::now();
    let pids: Vec<Pid> =
        (0..c).map(|_| raw_spawn(&PosixSpawnFileActions::init().expect("file actions"), env)).collect();
    for pid in pids {
        raw_reap(pid);
    }
    t.elapsed().as_secs_f64()
}

// ---- the raw floor ---------------------------------------------------------

/// `posix_spawn` with default attributes and the given file actions.
fn raw_spawn(fa: &PosixSpawnFileActions, env: &[CString]) -> Pid {
    let attr = PosixSpawnAttr::init().expect("spawn attr");
    posix_spawn(TRUE_C, fa, &attr, &[TRUE_C], env).expect("posix_spawn")
}

fn raw_reap(pid: Pid) {
    assert_eq!(waitpid(pid, None).expect("waitpid"), WaitStatus::Exited(pid, 0));
}

/// The parent's environment, built once: procwire, tokio and std pass
/// `environ` through without copying it.
fn parent_env() -> Vec<CString> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect()
}

// ---- harness -------------------------------------------------------------
