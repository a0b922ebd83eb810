//! This process as a child subreaper (issue 17, "PID 1 in a container"):
//! core's `Subreaper` and the supervisor's `Builder::subreaper`. Orphans a
//! program leaves behind are adopted here and reaped when they exit, a
//! child procwire spawned is never reaped by the subreaper however soon
//! it exits, and shutdown stops the adopted processes still running.
//!
//! Every test runs in a copy of the test binary of its own
//! ([`in_own_process`]): the subreaper flag, and the reaping of every
//! child procwire did not spawn, are the whole process's. Inside the
//! copy, every child is spawned through procwire, as the mode asks.
//!
//! Linux only: elsewhere `Subreaper::new` is an `Unsupported` error.
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::time::Duration;

use procwire::{Command, Subreaper};
use procwire_supervisor::{LogLine, ProgramSpec, RestartPolicy, RestartSpec, Supervisor};
use procwire_tests::{children, guard, in_own_process, proc_stat, process_exists, zombie_children, Strays};

#[path = "supervise_common.rs"]
mod common;

use common::{ms, sh};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn is_subreaper() -> bool {
    nix::sys::prctl::get_child_subreaper().expect("PR_GET_CHILD_SUBREAPER")
}

/// Waits (looking at `/proc` every 10 ms, for at most 10 s) until `done`
/// holds; panics with `what` and this process's children otherwise.
async fn until(what: &str, done: impl Fn() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !done() {
            tokio::time::sleep(ms(10)).await;
        }
    })
    .await;
    if waited.is_err() {
        let left: Vec<_> = children().into_iter().filter_map(proc_stat).collect();
        panic!("{what}: not within 10 s; children of this process: {left:?}");
    }
}

/// Waits for the first line `program` prints that starts with `prefix`.
async fn line(logs: &mut procwire_supervisor::Logs, program: &str, prefix: &str) -> LogLine {
    guard(20, "a log line", async {
        loop {
            let line = logs.recv().await.expect("logs");
            if &*line.program == program && line.line.bytes.starts_with(prefix.as_bytes()) {
                return line;
            }
        }
    })
    .await
}

fn once(name: &str, command: Command) -> ProgramSpec {
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    let mut spec = ProgramSpec::new(name, command);
    spec.restart(restart);
    spec
}

/// A program forks orphans (double-forked `true`s: each one's parent, a
/// subshell, exits at once) without pause, while 200 `true`s spawned
/// here through procwire, outside the supervisor, exit as fast as they
/// can: every orphan is adopted by this process and reaped by the
/// supervisor (no child, zombie or not, is left once the program is
/// stopped), and every `true`'s own `wait` gets its exit code 0 (none was
/// reaped by the supervisor first: it would fail with `ECHILD`).
#[test]
fn supervisor_reaps_every_orphan_and_never_a_procwire_child() {
    in_own_process("supervisor_reaps_every_orphan_and_never_a_procwire_child", || {
        runtime().block_on(async {
            assert!(!is_subreaper());
            let (sup, task) = Supervisor::builder().subreaper(true).build();
            let mut logs = sup.logs().await.unwrap();
            let forker = sh("echo forking; while :; do (true &); done");
            sup.add(once("forker", forker)).await.unwrap();
            line(&mut logs, "forker", "forking").await;
            assert!(is_subreaper(), "the supervisor made this process a subreaper");

            let mut spawns = tokio::task::JoinSet::new();
            for _ in 0..200 {
                spawns.spawn(async {
                    let mut child = Command::new("true").spawn().expect("spawn true");
                    child.wait().await
                });
            }
            let mut waited = 0;
            while let Some(joined) = guard(60, "200 trues", spawns.join_next()).await {
                let status = joined.unwrap().expect("the true's own wait: never reaped by the subreaper");
                assert_eq!(status.code(), Some(0));
                waited += 1;
            }
            assert_eq!(waited, 200);

            sup.stop("forker").await.unwrap();
            // The orphans in flight exit at once: all reaped, nothing left.
            until("every orphan reaped", || children().is_empty()).await;
            sup.shutdown().await.unwrap();
            guard(20, "the task", task).await.unwrap().unwrap();
            assert!(!is_subreaper(), "cleared again when the supervisor ended");
        });
    });
}

/// The race at its tightest: a thread looks at this process's children
/// and reaps the adopted ones without pause, while 300 `true`s are
/// spawned through procwire and waited for; each `wait` gets its own exit
/// code. The control: a child spawned behind procwire's back (a `fork` by
/// another API, here `std::process`) is taken for adopted and reaped by
/// the subreaper, as its docs say, and its own `wait` fails.
#[test]
fn subreaper_never_reaps_a_procwire_child_and_takes_others_for_adopted() {
    in_own_process("subreaper_never_reaps_a_procwire_child_and_takes_others_for_adopted", || {
        runtime().block_on(async {
            let subreaper = std::sync::Arc::new(Subreaper::new().expect("a subreaper"));
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let looker = {
                let (subreaper, stop) = (subreaper.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut looks = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        subreaper.reap().expect("a look at /proc");
                        looks += 1;
                        std::thread::yield_now();
                    }
                    looks
                })
            };
            let mut spawns = tokio::task::JoinSet::new();
            for _ in 0..10 {
                spawns.spawn(async {
                    for _ in 0..30 {
                        let mut child = Command::new("true").spawn().expect("spawn true");
                        let status = child.wait().await.expect("never reaped by the subreaper");
                        assert_eq!(status.code(), Some(0));
                    }
                });
            }
            while let Some(joined) = guard(120, "300 trues", spawns.join_next()).await {
                joined.unwrap();
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let looks = looker.join().unwrap();
            assert!(looks > 0);

            // The control, with nothing else running.
            let mut foreign = std::process::Command::new("true").spawn().unwrap();
            let pid = foreign.id();
            until("the std child to exit", || zombie_children().contains(&pid)).await;
            let reaped = subreaper.reap().unwrap();
            assert_eq!(reaped.iter().map(|a| (a.pid, a.status.code())).collect::<Vec<_>>(), [(pid, Some(0))]);
            let err = foreign.wait().expect_err("reaped by the subreaper already");
            assert_eq!(err.raw_os_error(), Some(nix::libc::ECHILD));
        });
    });
}

/// Shutdown stops the adopted processes still running once the programs
/// are stopped: an orphaned shell that waits for its own `sleep` gets
/// SIGTERM and dies; its `sleep`, adopted then, gets SIGTERM in turn.
/// Both are reaped, and listed in the report; nothing is left.
#[test]
fn shutdown_stops_the_adopted_orphans_and_those_adopted_meanwhile() {
    in_own_process("shutdown_stops_the_adopted_orphans_and_those_adopted_meanwhile", || {
        runtime().block_on(async {
            let (sup, task) = Supervisor::builder().subreaper(true).build();
            let mut logs = sup.logs().await.unwrap();
            // The subshell exits at once: the inner sh is orphaned, with
            // its sleep; `$$` in the inner sh is its own pid.
            let daemon = sh("(sh -c 'sleep 1000 & echo \"orphan $$ $!\"; wait' &); exec sleep 1000");
            // The program alone is stopped (the default stop would take
            // its orphans with it, by its cgroup or its group): what it
            // left is the subreaper's to stop.
            let mut program = once("daemon", daemon);
            program.stop(ProgramSpec::DEFAULT_STOP.with_scope(procwire::StopScope::Process));
            let pid = sup.add(program).await.unwrap().pid.unwrap();
            let said = line(&mut logs, "daemon", "orphan ").await;
            let said = String::from_utf8_lossy(&said.line.bytes).into_owned();
            let pids: Vec<u32> = said.split_whitespace().skip(1).map(|p| p.parse().unwrap()).collect();
            let (orphan, grandchild) = (pids[0], pids[1]);
            let _strays = Strays(vec![orphan, grandchild]);
            let me = std::process::id();
            until("the orphan to be adopted here", || proc_stat(orphan).is_some_and(|p| p.ppid == me)).await;
            assert_eq!(proc_stat(grandchild).map(|p| p.ppid), Some(orphan));

            let report = guard(30, "shutdown", sup.shutdown()).await.unwrap();
            assert_eq!(report.stopped.len(), 1, "{report:?}");
            // Maybe also the subshell, exit code 0: now and then the
            // program's shell execs `sleep` before it reaps it, and it is
            // adopted when the program stops, then reaped here or by the
            // stop's first look.
            let adopted: BTreeSet<(u32, Option<i32>)> = report
                .adopted
                .iter()
                .filter(|a| a.status.code() != Some(0))
                .map(|a| (a.pid, a.status.signal()))
                .collect();
            assert_eq!(adopted, BTreeSet::from([(orphan, Some(15)), (grandchild, Some(15))]), "{report:?}");
            guard(20, "the task", task).await.unwrap().unwrap();
            for p in [pid, orphan, grandchild] {
                assert!(!process_exists(p), "{p} is gone, reaped: {:?}", proc_stat(p));
            }
            assert!(children().is_empty(), "{:?}", children());
            assert!(!is_subreaper());
        });
    });
}

/// A process adopted alive sends this process no SIGCHLD (its parent that
/// died was not our child), so the stop also looks on its own: an adopted
/// shell that traps SIGTERM kills its own child with SIGKILL when asked
/// to stop, which orphans that child's `sleep`; the `sleep` is found
/// within the grace and gets SIGTERM (not the final SIGKILL, which it
/// would get if it were only found when the grace runs out), while the
/// shell, which outlives its grace, gets SIGKILL.
#[test]
fn stop_adopted_finds_a_process_adopted_alive_without_a_sigchld() {
    in_own_process("stop_adopted_finds_a_process_adopted_alive_without_a_sigchld", || {
        runtime().block_on(async {
            use tokio::io::AsyncBufReadExt;
            let mut subreaper = Subreaper::new().expect("a subreaper");
            let a =
                "sh -c \"$B\" & b=$!; trap 'kill -9 $b' TERM; echo \"a $$\"; while :; do sleep 0.05; done";
            let b = "sleep 1000 & echo \"c $!\"; wait";
            let mut parent = Command::new("sh")
                .args(["-c", "(sh -c \"$A\" &)"])
                .env("A", a)
                .env("B", b)
                .stdin(procwire::ChildFd::Null)
                .spawn()
                .expect("spawn the shell that orphans A");
            let mut out = tokio::io::BufReader::new(parent.take_reader(1).unwrap()).lines();
            assert!(parent.wait().await.unwrap().success());
            let (mut shell, mut sleep) = (None, None);
            while shell.is_none() || sleep.is_none() {
                let line = guard(20, "A and C say who they are", out.next_line()).await.unwrap().unwrap();
                let (who, pid) = line.split_once(' ').unwrap();
                let pid: u32 = pid.parse().unwrap();
                match who {
                    "a" => shell = Some(pid),
                    _ => sleep = Some(pid),
                }
            }
            let (shell, sleep) = (shell.unwrap(), sleep.unwrap());
            let _strays = Strays(vec![shell, sleep]);
            let me = std::process::id();
            until("A adopted here", || proc_stat(shell).is_some_and(|p| p.ppid == me)).await;
            assert_ne!(proc_stat(sleep).map(|p| p.ppid), Some(me), "C is not ours yet");

            let policy = procwire::StopPolicy::new().with_grace(Duration::from_secs(2));
            let reaped = guard(30, "stop_adopted", subreaper.stop_adopted(policy)).await.unwrap();
            let status = |pid: u32| reaped.iter().find(|a| a.pid == pid).map(|a| a.status.signal());
            assert_eq!(status(sleep), Some(Some(15)), "{reaped:?}");
            assert_eq!(status(shell), Some(Some(9)), "{reaped:?}");
            assert!(children().is_empty(), "{:?}", children());
        });
    });
}

/// Dropping the last subreaper clears the flag and leaves no zombie: an
/// adopted process still running goes to procwire's reaper thread, which
/// reaps it when it exits (by itself, or by the SIGKILL that
/// `kill_on_drop` sends at once).
#[test]
fn a_dropped_subreaper_clears_the_flag_and_hands_its_orphans_on() {
    in_own_process("a_dropped_subreaper_clears_the_flag_and_hands_its_orphans_on", || {
        runtime().block_on(async {
            for kill in [false, true] {
                let mut subreaper = Subreaper::new().expect("a subreaper");
                subreaper.kill_on_drop(kill);
                assert!(is_subreaper());
                let seconds = if kill { "1000" } else { "0.5" };
                let orphan = orphan_sleep(seconds).await;
                let _strays = Strays(vec![orphan]);
                drop(subreaper);
                assert!(!is_subreaper(), "cleared by the last drop");
                if !kill {
                    assert!(proc_stat(orphan).is_some_and(|p| !p.is_dead()), "still running");
                }
                until("the orphan reaped by the reaper thread", || !process_exists(orphan)).await;
            }
        });
    });
}

/// A `sleep` orphaned at once and adopted here; its pid.
async fn orphan_sleep(seconds: &str) -> u32 {
    use tokio::io::AsyncReadExt;
    let mut parent = Command::new("sh")
        .args(["-c", "(sleep \"$1\" >/dev/null & echo $!)", "sh", seconds])
        .stdin(procwire::ChildFd::Null)
        .spawn()
        .expect("spawn the shell that orphans a sleep");
    let mut said = String::new();
    parent.take_reader(1).unwrap().read_to_string(&mut said).await.unwrap();
    assert!(parent.wait().await.unwrap().success());
    let pid: u32 = said.trim().parse().unwrap();
    let me = std::process::id();
    until("the sleep adopted here", || proc_stat(pid).is_some_and(|p| p.ppid == me)).await;
    pid
}

/// `Builder::adopted_stop`: an adopted process that ignores SIGTERM gets
/// the final signal when that policy's grace runs out (250 ms here), not
/// after the default 5 s; one that obeys gets the policy's first signal
/// (SIGHUP here).
#[test]
fn adopted_stop_sets_the_ladder_for_the_adopted() {
    in_own_process("adopted_stop_sets_the_ladder_for_the_adopted", || {
        runtime().block_on(async {
            let policy = procwire::StopPolicy::new()
                .with_signal(procwire::Signal::HUP)
                .with_grace(Duration::from_millis(250));
            let (sup, task) = Supervisor::builder().subreaper(true).adopted_stop(policy).build();
            let mut logs = sup.logs().await.unwrap();
            // Two orphans: a shell that ignores HUP (and waits on a sleep
            // that does not: both are the shell's children, so the sleep
            // is no orphan and only the shell counts) and a plain sleep.
            let daemon = sh("(sh -c 'trap \"\" HUP; echo \"stubborn $$\"; while :; do sleep 1; done' &); \
                 (sleep 1000 & echo \"plain $!\"); exec sleep 1000");
            let mut program = once("daemon", daemon);
            program.stop(ProgramSpec::DEFAULT_STOP.with_scope(procwire::StopScope::Process));
            sup.add(program).await.unwrap();
            // Both lines, in whichever order they come.
            let (mut stubborn, mut plain) = (0u32, 0u32);
            while stubborn == 0 || plain == 0 {
                let said = line(&mut logs, "daemon", "").await;
                let said = String::from_utf8_lossy(&said.line.bytes).into_owned();
                let mut words = said.split_whitespace();
                let (what, pid) = (words.next(), words.next().and_then(|p| p.parse().ok()));
                match (what, pid) {
                    (Some("stubborn"), Some(pid)) => stubborn = pid,
                    (Some("plain"), Some(pid)) => plain = pid,
                    _ => {}
                }
            }
            let _strays = Strays(vec![stubborn, plain]);
            let me = std::process::id();
            until("both adopted here", || {
                [stubborn, plain].iter().all(|&p| proc_stat(p).is_some_and(|s| s.ppid == me))
            })
            .await;

            let started = std::time::Instant::now();
            let report = guard(30, "shutdown", sup.shutdown()).await.unwrap();
            let took = started.elapsed();
            let signal_of =
                |pid: u32| report.adopted.iter().find(|a| a.pid == pid).map(|a| a.status.signal());
            assert_eq!(signal_of(stubborn), Some(Some(9)), "{report:?}");
            assert_eq!(signal_of(plain), Some(Some(1)), "{report:?}");
            // The program's own stop is at once (sleep obeys SIGTERM); the
            // default ladder would hold the stubborn shell for 5 s.
            assert!(took < Duration::from_secs(4), "shutdown took {took:?}");
            guard(20, "the task", task).await.unwrap().unwrap();
        });
    });
}
