//! procwire-supervisor's actor with real children: restarts per the
//! backoff (real and paused clocks), stops that stay stopped, spawn errors,
//! the stop ladder in process and group scope, restarts, limits and exit
//! policies. Margins are generous: the machine is shared.

use std::time::Duration;

use procwire::{Command, Signal, SpawnStep, StopPolicy, StopScope};
use procwire_supervisor::{
    Backoff, Cause, Decision, ProgramSpec, RestartPolicy, RestartSpec, StartLimit, State, Supervisor, Trigger,
};
use procwire_tests::{group_members, guard, pw_child};
use tokio::time::Instant;

#[path = "supervise_common.rs"]
mod common;

use common::*;

#[tokio::test]
async fn a_crash_loop_follows_the_backoff() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let backoff = Backoff::exponential(ms(100), 2.0, ms(1600)).unwrap();
    sup.add(spec("crash", sh("exit 1"), backoff)).await.unwrap();
    let mut starts = Vec::new();
    for incarnation in 1..=4 {
        let e = next(&mut events, "crash", starting).await;
        assert_eq!(e.incarnation, incarnation);
        let trigger = if incarnation == 1 { Trigger::Autostart } else { Trigger::Backoff };
        assert_eq!(e.cause_trigger(), Some(trigger));
        starts.push(e.at);
        if incarnation < 4 {
            let exit = next(&mut events, "crash", |e| e.to == State::Backoff).await;
            let Cause::Exited { status, decision } = exit.cause else { panic!("{exit:?}") };
            assert_eq!(status.code(), Some(1));
            assert_eq!(decision, Decision::Restart { delay: ms(100 << (incarnation - 1)) });
        }
    }
    // Spawns at 0, 0.1, 0.3, 0.7 s: each gap at least its delay (timers
    // never fire early), and not much more (a generous margin).
    for (i, gap) in starts.windows(2).map(|w| w[1] - w[0]).enumerate() {
        let delay = ms(100 << i);
        assert!(gap >= delay && gap < delay + ms(800), "gap {i}: {gap:?} for {delay:?}");
    }
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn never_goes_to_exited() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = spec("once", sh("exit 3"), Backoff::none());
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    program.restart(restart);
    sup.add(program).await.unwrap();
    let e = next(&mut events, "once", |e| e.to == State::Exited).await;
    assert_eq!(e.from, State::Running);
    none_within(&mut events, "once", ms(300), starting).await;
    let status = sup.status("once").await.unwrap();
    assert_eq!((status.state, status.incarnation), (State::Exited, 1));
    assert_eq!(status.last_exit.and_then(|s| s.code()), Some(3));
}

#[tokio::test]
async fn stop_keeps_it_stopped() {
    let (sup, _task) = Supervisor::new();
    let status =
        sup.add(spec("sleeper", Command::new("sleep").arg("100").clone(), Backoff::fixed(ms(200)))).await;
    let pid = status.unwrap().pid.expect("running");
    let outcome = sup.stop("sleeper").await.unwrap().expect("it ran");
    let mut events = sup.events().await.unwrap();
    assert_eq!(outcome.status.and_then(|s| s.signal()), Some(15));
    assert!(!outcome.final_signal_sent);
    assert!(procwire_tests::is_dead(pid));
    assert_eq!(sup.status("sleeper").await.unwrap().state, State::Stopped);
    none_within(&mut events, "sleeper", ms(400), starting).await;
    // A manual start after that works.
    assert_eq!(sup.start("sleeper").await.unwrap().state, State::Running);
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn stop_and_remove_cancel_a_pending_restart() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    for name in ["stopped", "removed"] {
        sup.add(spec(name, sh("exit 1"), Backoff::fixed(ms(300)))).await.unwrap();
        next(&mut events, name, |e| e.to == State::Backoff).await;
    }
    let watch = sup.watch("removed").await.unwrap();
    assert_eq!(sup.stop("stopped").await.unwrap(), None);
    assert_eq!(sup.remove("removed").await.unwrap(), None);
    assert_eq!(watch.borrow().state, State::Removed);
    none_within(&mut events, "stopped", ms(700), starting).await;
    none_within(&mut events, "removed", ms(10), starting).await;
    assert_eq!(sup.status("stopped").await.unwrap().state, State::Stopped);
    assert!(matches!(sup.status("removed").await, Err(procwire_supervisor::Error::UnknownProgram(_))));
    // The removed name can be added again.
    sup.add(spec("removed", Command::new("true"), Backoff::fixed(ms(300)))).await.unwrap();
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missing_program_is_an_event_and_a_backoff() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let status =
        sup.add(spec("ghost", Command::new("/no/such/program"), Backoff::fixed(ms(50)))).await.unwrap();
    assert_eq!(status.state, State::Backoff);
    for incarnation in 1..=3 {
        let e = next(&mut events, "ghost", |e| e.to == State::Backoff).await;
        assert_eq!(e.incarnation, incarnation);
        let Cause::SpawnFailed { error, decision } = &e.cause else { panic!("{e:?}") };
        assert!(matches!(**error, procwire::Error::Spawn { step: SpawnStep::Exec, .. }), "{error}");
        assert_eq!(*decision, Decision::Restart { delay: ms(50) });
    }
    // A manual start reports the error, and the supervisor keeps working.
    let err = sup.start("ghost").await.unwrap_err();
    assert!(matches!(err, procwire_supervisor::Error::Spawn { .. }), "{err}");
    let ok = sup.add(spec("fine", Command::new("sleep").arg("100").clone(), Backoff::none())).await.unwrap();
    assert_eq!(ok.state, State::Running);
    assert!(matches!(
        sup.add(spec("fine", Command::new("true"), Backoff::none())).await,
        Err(procwire_supervisor::Error::Duplicate(_))
    ));
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn stop_ladder_sends_the_final_signal_after_the_grace() {
    let (sup, _task) = Supervisor::new();
    let mut logs = sup.logs().await.unwrap();
    let mut stubborn = ProgramSpec::new(
        "stubborn",
        Command::new(pw_child!()).args(["trap:15", "write:1:ready\\n", "sleep-ms:100000"]).clone(),
    );
    stubborn.stop(StopPolicy::new().with_grace(ms(300)));
    sup.add(stubborn).await.unwrap();
    let line = guard(20, "ready", logs.recv()).await.unwrap();
    assert_eq!((&*line.program, line.fd, &line.line.bytes[..]), ("stubborn", 1, &b"ready"[..]));
    let t0 = Instant::now();
    let outcome = sup.stop("stubborn").await.unwrap().unwrap();
    let elapsed = t0.elapsed();
    assert_eq!(outcome.status.and_then(|s| s.signal()), Some(9));
    assert!(outcome.final_signal_sent);
    assert!(elapsed >= ms(290) && elapsed < ms(3000), "{elapsed:?}");
    // `signal` reaches a running program.
    let sleeper =
        sup.add(ProgramSpec::new("sleeper", Command::new("sleep").arg("100").clone())).await.unwrap();
    let mut events = sup.events().await.unwrap();
    sup.signal("sleeper", Signal::KILL).await.unwrap();
    let e = next(&mut events, "sleeper", |e| e.to == State::Backoff).await;
    assert_eq!(e.pid, sleeper.pid);
    assert_eq!(sup.status("sleeper").await.unwrap().pid, None);
    assert!(matches!(e.cause, Cause::Exited { status, .. } if status.signal() == Some(9)));
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn group_scope_stops_every_member() {
    let (sup, _task) = Supervisor::new();
    let mut logs = sup.logs().await.unwrap();
    let mut program = ProgramSpec::new("group", sh("sleep 100 & sleep 100 & echo started; wait"));
    program.stop(StopPolicy::new().with_scope(StopScope::Group).with_grace(ms(2000)));
    let pid = sup.add(program).await.unwrap().pid.unwrap();
    let line = guard(20, "started", logs.recv()).await.unwrap();
    assert_eq!(&line.line.bytes[..], b"started");
    let members = group_members(pid);
    assert!(members.len() >= 3, "{members:?}");
    let outcome = sup.stop("group").await.unwrap().unwrap();
    assert!(!outcome.final_signal_sent);
    assert!(group_members(pid).is_empty(), "{:?}", group_members(pid));
    // `signal` reaches the whole group too.
    let mut events = sup.events().await.unwrap();
    let pid = sup.start("group").await.unwrap().pid.unwrap();
    guard(20, "started", logs.recv()).await.unwrap();
    let members = group_members(pid);
    assert!(members.len() >= 3, "{members:?}");
    sup.signal("group", Signal::TERM).await.unwrap();
    let e = next(&mut events, "group", |e| e.to == State::Backoff).await;
    assert!(matches!(e.cause, Cause::Exited { status, .. } if status.signal() == Some(15)), "{e:?}");
    for member in members {
        procwire_tests::until_dead(member, "a member").await;
    }
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn group_scope_sweeps_leftovers_before_the_next_incarnation() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = spec("leaver", sh("sleep 100 &"), Backoff::fixed(ms(200)));
    program.stop(StopPolicy::new().with_scope(StopScope::Group).with_grace(ms(2000)));
    sup.add(program).await.unwrap();
    let running = next(&mut events, "leaver", |e| e.to == State::Running).await;
    let pid = running.pid.unwrap();
    next(&mut events, "leaver", |e| e.to == State::Starting && e.incarnation == 2).await;
    assert!(group_members(pid).is_empty(), "{:?}", group_members(pid));
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn restart_is_at_once_and_not_counted() {
    let (sup, _task) = Supervisor::new();
    let sleep = || Command::new("sleep").arg("100").clone();
    let first = sup.add(spec("a", sleep(), Backoff::fixed(ms(5000)))).await.unwrap();
    sup.add(spec("b", sleep(), Backoff::fixed(ms(5000)))).await.unwrap();
    sup.add(spec("idle", sleep(), Backoff::fixed(ms(5000)))).await.unwrap();
    sup.stop("idle").await.unwrap();
    let t0 = Instant::now();
    let again = sup.restart("a").await.unwrap();
    assert!(t0.elapsed() < ms(3000));
    assert_eq!((again.state, again.incarnation, again.attempts), (State::Running, 2, 0));
    assert_ne!(again.pid, first.pid);
    assert!(procwire_tests::is_dead(first.pid.unwrap()));
    let all = sup.restart_all().await.unwrap();
    let mut names: Vec<_> =
        all.into_iter().map(|s| s.unwrap()).map(|s| (s.name.to_string(), s.incarnation)).collect();
    names.sort();
    assert_eq!(names, [("a".to_string(), 3), ("b".to_string(), 2)]);
    assert_eq!(sup.status("idle").await.unwrap().state, State::Stopped);
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn start_limit_fails_then_start_and_retry_after_start_again() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut restart = RestartSpec::new();
    let limit = StartLimit::new(5, Duration::from_secs(10)).unwrap().with_retry_after(ms(500));
    restart.backoff(Backoff::none()).start_limit(Some(limit));
    let mut program = ProgramSpec::new("limited", sh("exit 1"));
    program.restart(restart);
    sup.add(program).await.unwrap();
    let failed = next(&mut events, "limited", |e| e.to == State::Failed).await;
    assert_eq!(failed.incarnation, 5);
    assert!(matches!(failed.cause, Cause::Exited { decision: Decision::Fail { .. }, .. }));
    // retry_after starts it by itself, with a fresh history.
    let retry = next(&mut events, "limited", starting).await;
    assert_eq!(
        (retry.from, retry.cause_trigger(), retry.incarnation),
        (State::Failed, Some(Trigger::RetryAfter), 6)
    );
    next(&mut events, "limited", |e| e.to == State::Failed).await;
    // A manual start is neither blocked nor counted.
    let started = sup.start("limited").await.unwrap();
    assert_eq!(started.incarnation, 11);
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_child_that_exits_soon_after_term_gets_no_final_signal() {
    let (sup, _task) = Supervisor::new();
    let mut logs = sup.logs().await.unwrap();
    let steps = ["trap:15", "write:1:ready\\n", "await-trap:1:bye\\n", "sleep-ms:100", "exit:7"];
    let mut polite = ProgramSpec::new("polite", Command::new(pw_child!()).args(steps).clone());
    polite.stop(StopPolicy::new().with_grace(ms(3000)));
    sup.add(polite).await.unwrap();
    let mut watch = sup.watch("polite").await.unwrap();
    assert_eq!(watch.borrow_and_update().state, State::Running);
    guard(20, "ready", logs.recv()).await.unwrap();
    let outcome = sup.stop("polite").await.unwrap().unwrap();
    assert_eq!(outcome.status.and_then(|s| s.code()), Some(7));
    assert!(!outcome.final_signal_sent);
    assert!(watch.has_changed().unwrap());
    let now = watch.borrow_and_update().clone();
    assert_eq!((now.state, now.pid, now.last_exit.and_then(|s| s.code())), (State::Stopped, None, Some(7)));
    sup.remove("polite").await.unwrap();
    guard(5, "the watch closes", async { while watch.changed().await.is_ok() {} }).await;
    assert_eq!(watch.borrow().state, State::Removed);
    sup.shutdown().await.unwrap();
}

/// The spawn times (from the first) of a program that always dies at once,
/// until `n` spawns or it stays down, under tokio's paused clock: the clock
/// stands still while a child runs and jumps to each backoff timer.
async fn spawn_times(restart: RestartSpec, n: usize) -> (Vec<Duration>, State) {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = ProgramSpec::new("p", sh("exit 1"));
    program.restart(restart);
    sup.add(program).await.unwrap();
    let (mut times, mut t0) = (Vec::new(), None);
    let end = loop {
        let e = events.recv().await.unwrap();
        if e.to == State::Starting {
            let t0 = *t0.get_or_insert(e.at);
            times.push(e.at - t0);
            if times.len() == n {
                break State::Starting;
            }
        }
        if matches!(e.to, State::Failed | State::Exited) {
            break e.to;
        }
    };
    sup.shutdown().await.unwrap();
    (times, end)
}

fn close(actual: &[Duration], expected_ms: &[u64]) {
    assert_eq!(actual.len(), expected_ms.len(), "{actual:?}");
    for (a, e) in actual.iter().zip(expected_ms) {
        let diff = a.as_secs_f64() * 1000.0 - *e as f64;
        assert!(diff.abs() <= 2.0, "{actual:?} against {expected_ms:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn presets_spawn_at_the_anchors_times_under_paused_time() {
    let with = |backoff: Backoff| {
        let mut spec = RestartSpec::new();
        spec.backoff(backoff);
        spec
    };
    let (t, _) = spawn_times(RestartSpec::procmon(), 6).await;
    close(&t, &[0, 1000, 3000, 7000, 15000, 31000]);
    let (t, end) = spawn_times(RestartSpec::supervisord(), 10).await;
    close(&t, &[0, 1000, 3000, 6000]);
    assert_eq!(end, State::Failed);
    let (t, _) = spawn_times(with(Backoff::systemd(ms(100), 5, ms(3200)).unwrap()), 8).await;
    close(&t, &[0, 100, 300, 700, 1500, 3100, 6300, 9500]);
    let (t, _) = spawn_times(with(Backoff::pm2(ms(100)).unwrap()), 6).await;
    close(&t, &[0, 100, 250, 475, 812, 1317]);
    let (t, _) = spawn_times(with(Backoff::exponential(ms(100), 2.0, ms(1600)).unwrap()), 8).await;
    close(&t, &[0, 100, 300, 700, 1500, 3100, 4700, 6300]);
}

#[tokio::test(start_paused = true)]
async fn a_stable_run_resets_the_backoff() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut restart = RestartSpec::new();
    restart.min_uptime(Duration::from_secs(1)).backoff(Backoff::exponential(ms(100), 2.0, ms(1600)).unwrap());
    let mut program = ProgramSpec::new("p", Command::new("sleep").arg("100").clone());
    program.restart(restart);
    sup.add(program).await.unwrap();
    until(&mut events, State::Running).await;
    tokio::time::advance(ms(1200)).await;
    let mut delays = Vec::new();
    for _ in 0..3 {
        sup.signal("p", Signal::KILL).await.unwrap();
        let e = until(&mut events, State::Backoff).await;
        let Cause::Exited { decision: Decision::Restart { delay }, .. } = e.cause else { panic!("{e:?}") };
        delays.push(delay);
        until(&mut events, State::Running).await;
    }
    // The 1.2 s run was stable: at once; then quick deaths: 0.1 s, 0.2 s.
    assert_eq!(delays, [Duration::ZERO, ms(100), ms(200)]);
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn policies_and_exit_sets_are_honoured_and_the_stop_signal_is_chosen() {
    use procwire_supervisor::ExitReason;
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let on_failure = |prevent: &[u8]| {
        let mut restart = RestartSpec::new();
        restart.policy(RestartPolicy::OnFailure).prevent_codes(prevent.to_vec()).success_codes([0, 4]);
        restart
    };
    for (name, script, prevent, reason) in [
        ("clean", "exit 0", vec![], ExitReason::Policy),
        ("success-set", "exit 4", vec![], ExitReason::Policy),
        ("prevented", "exit 3", vec![3], ExitReason::Prevented),
    ] {
        let mut program = ProgramSpec::new(name, sh(script));
        program.restart(on_failure(&prevent));
        sup.add(program).await.unwrap();
        let e = next(&mut events, name, |e| e.to == State::Exited).await;
        assert!(
            matches!(e.cause, Cause::Exited { decision: Decision::Exit { reason: r }, .. } if r == reason),
            "{e:?}"
        );
    }
    let mut failing = ProgramSpec::new("failing", sh("exit 3"));
    failing.restart(on_failure(&[]));
    sup.add(failing).await.unwrap();
    next(&mut events, "failing", |e| e.to == State::Backoff).await;
    let mut int = ProgramSpec::new("int", Command::new("sleep").arg("100").clone());
    int.stop(StopPolicy::new().with_signal(Signal::INT));
    sup.add(int).await.unwrap();
    let outcome = sup.stop("int").await.unwrap().unwrap();
    assert_eq!(outcome.status.and_then(|s| s.signal()), Some(2));
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn remove_stops_a_running_program_first() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let pid = sup
        .add(ProgramSpec::new("gone", Command::new("sleep").arg("100").clone()))
        .await
        .unwrap()
        .pid
        .unwrap();
    let outcome = sup.remove("gone").await.unwrap().expect("it ran");
    assert_eq!(outcome.status.and_then(|s| s.signal()), Some(15));
    assert!(procwire_tests::is_dead(pid));
    let stopping = next(&mut events, "gone", |e| e.to == State::Stopping).await;
    assert!(matches!(stopping.cause, Cause::StopRequested(procwire_supervisor::AfterStop::Remove)));
    let removed = next(&mut events, "gone", |e| e.to == State::Removed).await;
    assert_eq!((removed.from, removed.pid), (State::Stopping, Some(pid)));
    assert!(matches!(sup.remove("gone").await, Err(procwire_supervisor::Error::UnknownProgram(_))));
    assert!(matches!(
        sup.signal("gone", Signal::TERM).await,
        Err(procwire_supervisor::Error::UnknownProgram(_))
    ));
    sup.shutdown().await.unwrap();
    assert!(matches!(sup.shutdown().await, Err(procwire_supervisor::Error::ShutDown)));
}

const DAEMONS: &str = "setsid sleep 100 & sleep 100 & wait";

/// The two sleeps `DAEMONS` started, once both run: (the one in the
/// group, the setsid'd one).
async fn sleeps_of(leader: u32) -> (u32, u32) {
    guard(10, "two sleeps", async {
        loop {
            let kids: Vec<_> = procwire_tests::processes().into_iter().filter(|p| p.ppid == leader).collect();
            let sleeping = |p: &&procwire_tests::ProcStat| {
                std::fs::read(format!("/proc/{}/comm", p.pid)).is_ok_and(|c| c.starts_with(b"sleep"))
            };
            if kids.len() == 2 && kids.iter().filter(sleeping).count() == 2 {
                let setsid =
                    |pid: u32| nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid as i32))).ok();
                let (a, b) = (kids[0].pid, kids[1].pid);
                return if setsid(a).is_some_and(|s| s.as_raw() as u32 == a) { (b, a) } else { (a, b) };
            }
            tokio::time::sleep(ms(10)).await;
        }
    })
    .await
}

#[tokio::test]
async fn cgroup_scope_leaves_no_process_of_the_program_and_removes_its_cgroup() {
    let Some(scratch) = procwire_tests::ScratchCgroup::new("supervise") else { return };
    let (sup, _task) = Supervisor::new();
    let mut program = ProgramSpec::new("daemons", sh(DAEMONS));
    program.cgroup(scratch.path()).stop(StopPolicy::new().with_scope(StopScope::Cgroup).with_grace(ms(5000)));
    let leader = sup.add(program).await.unwrap().pid.unwrap();
    let (sleep, daemon) = sleeps_of(leader).await;
    assert_eq!(scratch.children().len(), 1, "the incarnation's own cgroup");
    let outcome = sup.stop("daemons").await.unwrap().unwrap();
    assert!(!outcome.final_signal_sent);
    for pid in [leader, sleep, daemon] {
        assert!(procwire_tests::is_dead(pid), "{pid} survived the stop");
    }
    assert_eq!(scratch.children(), Vec::<std::path::PathBuf>::new(), "the cgroup is removed");
    sup.shutdown().await.unwrap();
}

/// Why the cgroup scope exists: in group scope, the setsid'd sleep
/// survives the stop (the test then kills it).
#[tokio::test]
async fn group_scope_misses_a_setsid_daemon() {
    let (sup, _task) = Supervisor::new();
    let mut program = ProgramSpec::new("daemons", sh(DAEMONS));
    program.stop(StopPolicy::new().with_scope(StopScope::Group).with_grace(ms(5000)));
    let leader = sup.add(program).await.unwrap().pid.unwrap();
    let (sleep, daemon) = sleeps_of(leader).await;
    sup.stop("daemons").await.unwrap();
    assert!(procwire_tests::is_dead(leader) && procwire_tests::is_dead(sleep));
    let survived = !procwire_tests::is_dead(daemon);
    let _ =
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(daemon as i32), nix::sys::signal::Signal::SIGKILL);
    assert!(survived, "the setsid'd sleep left the group: a group stop cannot reach it");
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_cgroup_directory_that_is_not_one_is_refused_at_add() {
    let (sup, _task) = Supervisor::new();
    let mut program = ProgramSpec::new("p", Command::new("true"));
    program.cgroup(std::env::temp_dir());
    assert!(matches!(sup.add(program).await, Err(procwire_supervisor::Error::Cgroup { .. })));
    let mut program = ProgramSpec::new("q", Command::new("true"));
    program.stop(StopPolicy::new().with_scope(StopScope::Cgroup));
    assert!(matches!(
        sup.add(program).await,
        Err(procwire_supervisor::Error::Spec(procwire_supervisor::SpecError::NoCgroup))
    ));
    assert!(sup.statuses().await.unwrap().is_empty());
    sup.shutdown().await.unwrap();
}

/// A program that cannot be spawned leaves no cgroup behind: the one made
/// for the attempt is removed with the error, at each attempt.
#[tokio::test]
async fn a_spawn_error_leaves_no_cgroup_behind() {
    let Some(scratch) = procwire_tests::ScratchCgroup::new("supervise") else { return };
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = spec("ghost", Command::new("/no/such/program"), Backoff::fixed(ms(20)));
    program.cgroup(scratch.path());
    assert!(sup.add(program).await.is_ok());
    for attempt in 1..=3 {
        let failed = next(&mut events, "ghost", |e| matches!(e.cause, Cause::SpawnFailed { .. })).await;
        assert_eq!(failed.incarnation, attempt);
        assert_eq!(scratch.children(), Vec::<std::path::PathBuf>::new(), "attempt {attempt}");
    }
    sup.shutdown().await.unwrap();
}

/// What an operator reads in a status: when the live incarnation started,
/// how often the supervisor restarted it by itself, how and when it last
/// ended; and one line of it.
#[tokio::test]
async fn status_tells_uptime_restarts_and_the_last_exit() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let t0 = Instant::now();
    sup.add(spec("crasher", sh("exit 3"), Backoff::fixed(ms(50)))).await.unwrap();
    for _ in 0..3 {
        next(&mut events, "crasher", |e| e.to == State::Backoff).await;
    }
    sup.stop("crasher").await.unwrap();
    let status = sup.status("crasher").await.unwrap();
    assert!(status.restarts >= 2, "{status:?}");
    assert_eq!(status.last_exit.and_then(|s| s.code()), Some(3));
    assert!(status.last_exit_at.is_some_and(|at| at > t0), "{status:?}");
    assert_eq!(status.started_at, None, "nothing runs");
    let line = status.to_string();
    assert!(
        line.starts_with("crasher #") && line.contains("restart(s)") && line.contains("exited with code 3"),
        "{line}"
    );

    sup.add(ProgramSpec::new("sleeper", sh("exec sleep 100"))).await.unwrap();
    let running = next(&mut events, "sleeper", |e| e.to == State::Running).await;
    let status = sup.status("sleeper").await.unwrap();
    assert!(status.started_at.is_some_and(|at| at > t0 && at <= running.at), "{status:?}");
    assert_eq!(status.restarts, 0);
    assert!(status.to_string().contains(", up "), "{status}");
    sup.shutdown().await.unwrap();
}
