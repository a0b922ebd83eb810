//! Issue #17: the defaults a first program gets behave as a service author
//! expects from systemd and Kubernetes. Each test uses `ProgramSpec::new`
//! and nothing else that bears on what it checks.

use std::time::Duration;

use procwire_supervisor::{Cause, Exit, ProgramSpec, Readiness, State, Supervisor, DEFAULT_START_TIMEOUT};
use procwire_tests::{guard, is_dead, proc_stat};

#[path = "supervise_common.rs"]
mod common;

use common::*;

/// Not in the supervisor's process group (so a terminal's ^C, SIGINT to
/// that group, cannot reach it): it leads a group of its own. The
/// `supervise` example's test sends that ^C (examples/tests).
#[tokio::test]
async fn a_program_added_with_defaults_leads_a_process_group_of_its_own() {
    let (sup, _task) = Supervisor::new();
    let pid = sup.add(ProgramSpec::new("p", sh("exec sleep 100"))).await.unwrap().pid.unwrap();
    let stat = proc_stat(pid).expect("its /proc/PID/stat");
    let ours = nix::unistd::getpgrp().as_raw() as u32;
    assert_eq!(stat.pgrp, pid, "it leads its group");
    assert_ne!(stat.pgrp, ours);
    sup.shutdown().await.unwrap();

    // The old way, asked for.
    let (sup, _task) = Supervisor::new();
    let mut program = ProgramSpec::new("q", sh("exec sleep 100"));
    program.own_process_group(false);
    let pid = sup.add(program).await.unwrap().pid.unwrap();
    assert_eq!(proc_stat(pid).unwrap().pgrp, ours);
    sup.shutdown().await.unwrap();
}

/// A program with a readiness protocol that never says it is ready is
/// stopped at the default start timeout, 90 s, exactly (paused clock).
#[tokio::test(start_paused = true)]
async fn a_program_never_ready_is_stopped_at_the_default_start_timeout() {
    assert_eq!(DEFAULT_START_TIMEOUT, Duration::from_secs(90));
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = ProgramSpec::new("silent", sh("exec sleep 1000"));
    program.ready(Readiness::notify());
    assert_eq!(program.get_start_timeout(), Some(DEFAULT_START_TIMEOUT));
    sup.add(program).await.unwrap();
    let starting = until(&mut events, State::Starting).await;
    let stopping = until(&mut events, State::Stopping).await;
    assert!(matches!(stopping.cause, Cause::StartTimeout), "{stopping:?}");
    assert_eq!(stopping.at - starting.at, DEFAULT_START_TIMEOUT);
    let next = until(&mut events, State::Backoff).await;
    assert!(matches!(next.cause, Cause::AutoStopped { exit: Exit::StartTimeout, .. }), "{next:?}");
    sup.shutdown().await.unwrap();
}

/// The environment variable that makes a copy of this binary the
/// supervisor to be killed.
#[cfg(target_os = "linux")]
const KILLED: &str = "PROCWIRE_TEST_SUPERVISOR_TO_KILL";

/// A supervisor killed with SIGKILL (no shutdown, no drop, nothing runs)
/// leaves no program running: each got SIGKILL as its parent died
/// (`PR_SET_PDEATHSIG`, Linux's).
#[cfg(target_os = "linux")]
#[test]
fn a_supervisor_killed_with_sigkill_leaves_no_program_running() {
    if std::env::var_os(KILLED).is_some() {
        // The copy: a supervisor with two programs; their pids on stdout.
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (sup, _task) = Supervisor::new();
            for name in ["a", "b"] {
                let pid = sup.add(ProgramSpec::new(name, sh("exec sleep 1000"))).await.unwrap().pid.unwrap();
                println!("pid {pid}");
            }
            std::future::pending::<()>().await;
        });
        return;
    }
    // In a copy of its own that adopts the orphans (this machine's pid 1
    // reaps none), so that the programs killed are reaped, not left as
    // zombies.
    procwire_tests::in_own_process("a_supervisor_killed_with_sigkill_leaves_no_program_running", kill_one);
}

#[cfg(target_os = "linux")]
fn kill_one() {
    use procwire_tests::is_dead;
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    let exe = std::env::current_exe().unwrap();
    let mut copy = std::process::Command::new(exe)
        .args(["a_supervisor_killed_with_sigkill_leaves_no_program_running", "--exact", "--nocapture"])
        .env(KILLED, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pids = Vec::new();
    let mut out = std::io::BufReader::new(copy.stdout.take().unwrap());
    while pids.len() < 2 {
        let mut line = String::new();
        assert_ne!(std::io::BufRead::read_line(&mut out, &mut line).unwrap(), 0, "the copy ended early");
        if let Some(pid) = line.trim().strip_prefix("pid ") {
            pids.push(pid.parse::<u32>().unwrap());
        }
    }
    assert!(pids.iter().all(|p| !is_dead(*p)), "both run");
    copy.kill().unwrap();
    copy.wait().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !pids.iter().all(|p| is_dead(*p)) && std::time::Instant::now() < deadline {
        std::thread::sleep(ms(10));
    }
    let survivors: Vec<u32> = pids.iter().copied().filter(|p| !is_dead(*p)).collect();
    // Adopted here: killed (if the test failed) and reaped here.
    for pid in &pids {
        let pid = nix::unistd::Pid::from_raw(*pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
    // A supervisor killed leaves its incarnations' cgroups (`procwire-NAME.NS.PID.N`,
    // in its own cgroup), empty now: removed here.
    if let Some(own) = procwire::Cgroup::current() {
        let tag = format!(".{}.", copy.id());
        for entry in std::fs::read_dir(own).unwrap().flatten() {
            if entry.file_name().to_string_lossy().contains(&tag) {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
    assert!(survivors.is_empty(), "still running 20 s after the supervisor was killed: {survivors:?}");
}

/// A program that crashes 2 s after each start, with the defaults, waits
/// 1 s, 2 s, 4 s ... up to 5 minutes (never a fixed pace); once a run
/// lasted past the stability threshold (10 s), its crash is restarted
/// after the first delay, 1 s, and the growth starts over. Paused clock:
/// the uptimes are the clock's, and the delays exact.
#[tokio::test(start_paused = true)]
async fn a_crash_looping_program_backs_off_by_default_and_a_stable_run_resets_it() {
    use procwire::Signal;
    use procwire_supervisor::Decision;
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    sup.add(ProgramSpec::new("worker", sh("exec sleep 1000"))).await.unwrap();
    let mut delays = Vec::new();
    let crash_after = |uptime: Duration| {
        let sup = sup.clone();
        async move {
            tokio::time::advance(uptime).await;
            sup.signal("worker", Signal::KILL).await.unwrap();
        }
    };
    for _ in 0..11 {
        until(&mut events, State::Running).await;
        crash_after(Duration::from_secs(2)).await;
        let backoff = until(&mut events, State::Backoff).await;
        match backoff.cause {
            Cause::Exited { decision: Decision::Restart { delay }, .. } => delays.push(delay.as_secs()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    // A stable run (past 10 s), then a crash: the first delay again, and
    // the growth from the start.
    let mut after_stable = Vec::new();
    for uptime in [11, 2, 2] {
        until(&mut events, State::Running).await;
        crash_after(Duration::from_secs(uptime)).await;
        let backoff = until(&mut events, State::Backoff).await;
        match backoff.cause {
            Cause::Exited { decision: Decision::Restart { delay }, .. } => after_stable.push(delay.as_secs()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(after_stable, [1, 1, 2]);
    sup.shutdown().await.unwrap();
}

// ---- issue 20: no orphan by default -------------------------------------

/// Prints `daemon PID` for a `setsid`'d daemon (a session of its own, out
/// of the program's process group) once it runs, and `member PID` for a
/// plain background process (in the program's group).
const DAEMON_AND_MEMBER: &str = "d=$(setsid sh -c 'echo $$; exec sleep 1000 >/dev/null 2>&1 </dev/null' &); \
     echo daemon $d; sleep 1000 >/dev/null 2>&1 </dev/null & echo member $!";

/// Whether the default stop has a cgroup here: this process's own cgroup
/// v2 is writable (what `Builder::cgroup_root` looks for by default).
#[cfg(target_os = "linux")]
fn default_has_a_cgroup() -> bool {
    let own = procwire::Cgroup::current();
    let writable = own.as_deref().is_some_and(|d| procwire::Cgroup::check_writable(d).is_ok());
    println!(
        "default stop scope here: {}",
        if writable { "a cgroup per incarnation" } else { "the process group" }
    );
    writable
}

/// The pid after `prefix` in the next line of `program`'s incarnation
/// `incarnation` that starts with it.
async fn pid_line(
    logs: &mut procwire_supervisor::Logs,
    program: &str,
    incarnation: u64,
    prefix: &str,
) -> u32 {
    procwire_tests::guard(20, "a pid line", async {
        loop {
            let l = logs.recv().await.expect("logs");
            let text = String::from_utf8_lossy(&l.line.bytes).into_owned();
            if &*l.program == program && l.incarnation == incarnation {
                if let Some(pid) = text.strip_prefix(prefix) {
                    return pid.trim().parse().expect("a pid");
                }
            }
        }
    })
    .await
}

/// This process's children: SIGKILLed and reaped (the daemons that
/// escaped, adopted here since the copy is a subreaper).
#[cfg(target_os = "linux")]
fn kill_and_reap_adopted() {
    let tasks = std::fs::read_dir("/proc/self/task").unwrap();
    let children: Vec<i32> = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| s.split_whitespace().map(|p| p.parse().unwrap()).collect::<Vec<i32>>())
        .collect();
    for pid in children {
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
}

fn own_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Issue 20: a program that forks a `setsid`'d daemon and exits, with
/// the defaults: before its next incarnation starts, its group member is
/// gone, and so is the daemon where the supervisor's own cgroup is
/// writable (a cgroup per incarnation); without one the daemon escapes,
/// as the docs say.
#[test]
#[cfg(target_os = "linux")]
fn the_default_stop_leaves_no_orphan_before_the_next_incarnation() {
    procwire_tests::in_own_process("the_default_stop_leaves_no_orphan_before_the_next_incarnation", || {
        nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
        let cgroup = default_has_a_cgroup();
        own_runtime().block_on(async {
            let (sup, task) = Supervisor::new();
            let (mut events, mut logs) = (sup.events().await.unwrap(), sup.logs().await.unwrap());
            sup.add(ProgramSpec::new("d", sh(&format!("{DAEMON_AND_MEMBER}; exit 1")))).await.unwrap();
            let daemon = pid_line(&mut logs, "d", 1, "daemon ").await;
            let member = pid_line(&mut logs, "d", 1, "member ").await;
            let backoff = next(&mut events, "d", |e| e.to == State::Backoff).await;
            assert_eq!(backoff.incarnation, 1);
            assert!(is_dead(member), "the group's member is gone once the exit is handled");
            assert_eq!(is_dead(daemon), cgroup, "the daemon is gone exactly when there is a cgroup");
            let second = next(&mut events, "d", starting).await;
            assert_eq!(second.incarnation, 2);
            assert!(is_dead(member));
            assert_eq!(is_dead(daemon), cgroup, "at the next incarnation's start too");
            sup.shutdown().await.unwrap();
            guard(20, "the task", task).await.unwrap().unwrap();
        });
        kill_and_reap_adopted();
    });
}

/// Issue 20: a running program with a `setsid`'d daemon, with the
/// defaults: after `stop()` the daemon is gone where the supervisor's own
/// cgroup is writable (the program ran in a cgroup below it), and
/// escapes otherwise; its group member is gone either way.
#[test]
#[cfg(target_os = "linux")]
fn the_default_stop_leaves_no_orphan_after_stop() {
    procwire_tests::in_own_process("the_default_stop_leaves_no_orphan_after_stop", || {
        nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
        let cgroup = default_has_a_cgroup();
        own_runtime().block_on(async {
            let (sup, task) = Supervisor::new();
            let mut logs = sup.logs().await.unwrap();
            let program = ProgramSpec::new("d", sh(&format!("{DAEMON_AND_MEMBER}; exec sleep 1000")));
            let pid = sup.add(program).await.unwrap().pid.unwrap();
            let daemon = pid_line(&mut logs, "d", 1, "daemon ").await;
            let member = pid_line(&mut logs, "d", 1, "member ").await;
            let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
            let its = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
            assert_eq!(its != own, cgroup, "a cgroup of its own exactly when one can be made: {its}");
            assert!(!is_dead(daemon) && !is_dead(member));
            sup.stop("d").await.unwrap();
            assert!(is_dead(member), "the group's member is gone");
            assert_eq!(is_dead(daemon), cgroup, "the daemon is gone exactly when there is a cgroup");
            sup.shutdown().await.unwrap();
            guard(20, "the task", task).await.unwrap().unwrap();
        });
        kill_and_reap_adopted();
    });
}

/// Issue 20, the fallback: with no cgroup root, the default stop is the
/// process group and the sweep: the member is gone before the next
/// incarnation, the `setsid`'d daemon escapes it; a subreaper supervisor
/// stops the daemon at shutdown.
#[test]
fn without_a_cgroup_root_a_daemon_escapes_the_group_and_a_subreaper_stops_it_at_shutdown() {
    let name = "without_a_cgroup_root_a_daemon_escapes_the_group_and_a_subreaper_stops_it_at_shutdown";
    procwire_tests::in_own_process(name, || {
        own_runtime().block_on(async {
            let (sup, task) = Supervisor::builder().cgroup_root(None).subreaper(true).build();
            let (mut events, mut logs) = (sup.events().await.unwrap(), sup.logs().await.unwrap());
            sup.add(ProgramSpec::new("d", sh(&format!("{DAEMON_AND_MEMBER}; exit 1")))).await.unwrap();
            let daemon = pid_line(&mut logs, "d", 1, "daemon ").await;
            let member = pid_line(&mut logs, "d", 1, "member ").await;
            next(&mut events, "d", |e| starting(e) && e.incarnation == 2).await;
            assert!(is_dead(member), "the group's member is gone");
            assert!(!is_dead(daemon), "the setsid'd daemon escaped the group");
            let report = sup.shutdown().await.unwrap();
            assert!(is_dead(daemon), "stopped at shutdown");
            assert!(report.adopted.iter().any(|a| a.pid == daemon), "{:?}", report.adopted);
            guard(20, "the task", task).await.unwrap().unwrap();
        });
    });
}

/// A cgroup root that is no writable cgroup v2 directory is refused when
/// the supervisor starts.
#[tokio::test]
async fn a_cgroup_root_that_is_not_a_cgroup_is_refused_at_start() {
    let (_sup, task) = Supervisor::builder().cgroup_root(Some("/proc".into())).build();
    let err = guard(20, "the task", task).await.unwrap().unwrap_err();
    assert!(matches!(err, procwire_supervisor::Error::CgroupRoot(_)), "{err}");
    assert!(err.to_string().contains("/proc"), "{err}");
}

/// A supervisor killed by SIGKILL removes none of its cgroups, and what
/// escaped the parent-death signal keeps running in them. The next
/// supervisor over the same root kills what runs in the cgroups of a
/// supervisor that is gone and removes them; those of a live one stay,
/// and so do those named for another pid namespace.
#[test]
#[cfg(target_os = "linux")]
fn a_new_supervisor_clears_the_cgroups_a_killed_one_left() {
    procwire_tests::in_own_process("a_new_supervisor_clears_the_cgroups_a_killed_one_left", || {
        if !default_has_a_cgroup() {
            println!("skipped: no writable cgroup here");
            return;
        }
        let ns = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self/ns/pid").expect("/proc/self/ns/pid").ino()
        };
        // A cgroup of this process's own, so that the supervisors the
        // other tests of this binary start meanwhile (in the parent test
        // process, whose cgroup is the one above) do not sweep the stale
        // cgroup below before this test's supervisor does.
        let outer = procwire::Cgroup::current().expect("own cgroup");
        let mine = procwire::Cgroup::create(&outer, &format!("sweep-test-{}", std::process::id()))
            .expect("this test's cgroup");
        let move_to = |dir: &std::path::Path| {
            std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string())
                .expect("move this process")
        };
        move_to(mine.path());
        let own = procwire::Cgroup::current().expect("own cgroup");
        assert_eq!(own, mine.path());
        let mut gone = std::process::Command::new("true").spawn().expect("true");
        let gone_pid = gone.id();
        gone.wait().expect("reap true");
        // Children that hold no pipe of the test's and die with its
        // runtime, should an assertion fail first.
        let sleeper = |cgroup: Option<&std::path::Path>| {
            let mut command = procwire::Command::new("sleep");
            command
                .arg("1000")
                .stdout(procwire::ChildFd::Null)
                .stderr(procwire::ChildFd::Null)
                .kill_on_drop(true);
            if let Some(dir) = cgroup {
                command.cgroup(dir);
            }
            command.spawn().expect("sleep")
        };
        let stale =
            procwire::Cgroup::create(&own, &format!("procwire-web.{ns}.{gone_pid}.0")).expect("stale cgroup");
        // A gone pid of another pid namespace: it cannot be looked up from
        // here (a container's supervisor sharing the tree), so it stays.
        let foreign = procwire::Cgroup::create(&own, &format!("procwire-web.{}.{gone_pid}.1", ns + 1))
            .expect("foreign cgroup");
        let kept_exists = own_runtime().block_on(async {
            let mut live = sleeper(None);
            let kept = procwire::Cgroup::create(&own, &format!("procwire-web.{ns}.{}.7", live.id().unwrap()))
                .expect("kept cgroup");
            // An escaped daemon of the killed supervisor's program.
            let mut daemon = sleeper(Some(stale.path()));
            let (sup, _task) = Supervisor::new();
            let status = guard(20, "the daemon killed", daemon.wait()).await.expect("wait");
            assert_eq!(status.signal(), Some(9), "{status:?}");
            guard(20, "the stale cgroup removed", async {
                while stale.path().exists() {
                    tokio::time::sleep(ms(10)).await;
                }
            })
            .await;
            sup.shutdown().await.unwrap();
            let kept_exists = kept.path().exists();
            let _ = kept.remove();
            live.signal("KILL").expect("kill sleep");
            live.wait().await.expect("reap sleep");
            kept_exists
        });
        let foreign_exists = foreign.path().exists();
        let _ = foreign.remove();
        move_to(&outer);
        let _ = mine.remove();
        assert!(kept_exists, "a live supervisor's cgroup was removed");
        assert!(foreign_exists, "another pid namespace's cgroup was removed");
    });
}
