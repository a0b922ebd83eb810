//! procwire-supervisor's actor with real children: restarts per the
//! backoff, stops that stay stopped, spawn errors, the stop ladder, lines,
//! and shutdown leaving nothing behind. Margins are generous: the machine
//! is shared.

use std::time::Duration;

use procwire::{Command, Signal, SpawnStep, StopPolicy, StopScope};
use procwire_supervisor::{
    Backoff, Cause, Decision, Event, LogLine, ProgramSpec, RestartPolicy, RestartSpec, StartLimit, State,
    Supervisor, Trigger,
};
use procwire_tests::{children, guard, in_own_process, open_fds, pw_child, until_dead, zombie_children};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

fn spec(name: &str, command: Command, backoff: Backoff) -> ProgramSpec {
    let mut restart = RestartSpec::new();
    restart.backoff(backoff);
    let mut spec = ProgramSpec::new(name, command);
    spec.restart(restart);
    spec
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The next event of `program` that `pred` accepts (others skipped).
async fn next(rx: &mut broadcast::Receiver<Event>, program: &str, pred: impl Fn(&Event) -> bool) -> Event {
    guard(20, "an event", async {
        loop {
            match rx.recv().await {
                Ok(e) if &*e.program == program && pred(&e) => return e,
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => panic!("lagged by {n}"),
                Err(RecvError::Closed) => panic!("events closed"),
            }
        }
    })
    .await
}

/// Whether `program` gets an event `pred` accepts within `within`.
async fn none_within(
    rx: &mut broadcast::Receiver<Event>,
    program: &str,
    within: Duration,
    pred: impl Fn(&Event) -> bool,
) {
    let found = tokio::time::timeout(within, next(rx, program, pred)).await;
    assert!(found.is_err(), "unexpected event: {:?}", found.unwrap());
}

fn starting(e: &Event) -> bool {
    e.to == State::Starting
}

#[tokio::test]
async fn a_crash_loop_follows_the_backoff() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let backoff = Backoff::exponential(ms(100), 2.0, ms(1600)).unwrap();
    sup.add(spec("crash", sh("exit 1"), backoff)).await.unwrap();
    let t0 = Instant::now();
    let mut at = Vec::new();
    for _ in 0..3 {
        let e = next(&mut events, "crash", starting).await;
        at.push(e.incarnation);
        let mut exit = next(&mut events, "crash", |e| e.to == State::Backoff).await;
        if let Cause::Exited { status, decision } = &mut exit.cause {
            assert_eq!(status.code(), Some(1));
            assert!(matches!(decision, Decision::Restart { .. }));
        } else {
            panic!("{exit:?}");
        }
    }
    let e = next(&mut events, "crash", starting).await;
    let elapsed = t0.elapsed();
    assert_eq!(e.cause_trigger(), Some(Trigger::Backoff));
    // Spawns at 0, 0.1, 0.3, 0.7 s.
    assert!(elapsed >= ms(690) && elapsed < ms(1500), "{elapsed:?}");
    assert_eq!(at, [1, 2, 3]);
    assert_eq!(e.incarnation, 4);
    sup.shutdown().await.unwrap();
}

trait TriggerOf {
    fn cause_trigger(&self) -> Option<Trigger>;
}

impl TriggerOf for Event {
    fn cause_trigger(&self) -> Option<Trigger> {
        match self.cause {
            Cause::Start(t) => Some(t),
            _ => None,
        }
    }
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
async fn lines_come_with_name_and_fd_long_ones_in_pieces() {
    let (sup, _task) = Supervisor::new();
    let mut logs = sup.logs().await.unwrap();
    let script = "head -c 102400 /dev/zero | tr '\\0' a; echo; echo after; echo oops >&2; printf tail";
    let mut program = ProgramSpec::new("talker", sh(script));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    program.restart(restart);
    sup.add(program).await.unwrap();
    let mut out: Vec<LogLine> = Vec::new();
    let mut err: Vec<LogLine> = Vec::new();
    while out.len() < 9 || err.is_empty() {
        let line = guard(20, "lines", logs.recv()).await.unwrap();
        assert_eq!(&*line.program, "talker");
        assert_eq!(line.incarnation, 1);
        match line.fd {
            1 => out.push(line),
            2 => err.push(line),
            fd => panic!("fd {fd}"),
        }
    }
    let pieces: Vec<(usize, bool)> =
        out[..7].iter().map(|l| (l.line.bytes.len(), l.line.continued)).collect();
    assert_eq!(
        pieces,
        [
            (16384, true),
            (16384, true),
            (16384, true),
            (16384, true),
            (16384, true),
            (16384, true),
            (4096, false)
        ]
    );
    assert_eq!(&out[7].line.bytes[..], b"after");
    assert_eq!(&out[8].line.bytes[..], b"tail");
    assert_eq!(&err[0].line.bytes[..], b"oops");
    // No invented empty line after the end.
    let more = tokio::time::timeout(ms(300), logs.recv()).await;
    assert!(more.is_err(), "{more:?}");
    sup.shutdown().await.unwrap();
}

#[test]
fn shutdown_leaves_no_child_no_zombie_no_fd() {
    in_own_process("shutdown_leaves_no_child_no_zombie_no_fd", || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let baseline = open_fds();
            let (sup, task) = Supervisor::new();
            for i in 0..3 {
                sup.add(ProgramSpec::new(format!("sleep{i}"), Command::new("sleep").arg("100").clone()))
                    .await
                    .unwrap();
            }
            sup.add(spec("crash", sh("exit 1"), Backoff::none())).await.unwrap();
            let mut stubborn = ProgramSpec::new(
                "stubborn",
                Command::new(pw_child!()).args(["trap:15", "sleep-ms:100000"]).clone(),
            );
            stubborn.stop(StopPolicy::new().with_grace(ms(200)));
            sup.add(stubborn).await.unwrap();
            tokio::time::sleep(ms(300)).await;
            let report = guard(20, "shutdown", sup.shutdown()).await.unwrap();
            assert!(report.stopped.len() >= 4, "{report:?}");
            assert_eq!(report.forced().collect::<Vec<_>>(), ["stubborn"]);
            assert!(zombie_children().is_empty(), "{:?}", zombie_children());
            assert!(children().is_empty(), "{:?}", children());
            assert_eq!(open_fds(), baseline);
            assert!(matches!(sup.start("sleep0").await, Err(procwire_supervisor::Error::ShutDown)));
            guard(5, "the task", task).await.unwrap();
        });
    });
}

#[tokio::test]
async fn dropping_every_handle_shuts_down_in_the_background() {
    let (sup, task) = Supervisor::new();
    let status =
        sup.add(ProgramSpec::new("orphan?", Command::new("sleep").arg("100").clone())).await.unwrap();
    let pid = status.pid.unwrap();
    let clone = sup.clone();
    drop(sup);
    drop(clone);
    guard(20, "the task", task).await.unwrap();
    until_dead(pid, "the sleeper").await;
}

/// Live (not zombie) members of process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids = Vec::new();
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|p| p.parse::<u32>().ok()) == Some(pgid) && !matches!(fields[0], "Z" | "X")
        {
            pids.push(pid);
        }
    }
    pids
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
async fn a_consumer_that_never_reads_lags_and_the_child_never_blocks() {
    let (sup, _task) = Supervisor::with_capacity(64, 16);
    let mut logs = sup.logs().await.unwrap();
    let mut events = sup.events().await.unwrap();
    let mut program = ProgramSpec::new("chatty", sh("seq 1 200000"));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    program.restart(restart);
    sup.add(program).await.unwrap();
    let exited = next(&mut events, "chatty", |e| e.to == State::Exited).await;
    assert!(matches!(exited.cause, Cause::Exited { status, .. } if status.code() == Some(0)));
    match logs.recv().await {
        Err(RecvError::Lagged(n)) => assert!(n > 1000, "{n}"),
        other => panic!("{other:?}"),
    }
    sup.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_lines_reach_the_sink_in_order_exactly_once() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let (seen, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let script = "awk 'BEGIN { for (i = 0; i < 1000000; i++) printf \"%031d\\n\", i }'";
    let mut program = ProgramSpec::new("million", sh(script));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    program.restart(restart);
    let (s, b) = (seen.clone(), bad.clone());
    program.sink(move |l| {
        let n = s.fetch_add(1, Ordering::Relaxed);
        let ok = l.fd == 1
            && l.line.bytes.len() == 31
            && std::str::from_utf8(&l.line.bytes).ok().and_then(|t| t.parse::<u64>().ok()) == Some(n);
        if !ok {
            b.fetch_add(1, Ordering::Relaxed);
        }
    });
    sup.add(program).await.unwrap();
    next(&mut events, "million", |e| e.to == State::Exited).await;
    guard(60, "a million lines", async {
        while seen.load(Ordering::Relaxed) < 1_000_000 {
            tokio::time::sleep(ms(20)).await;
        }
    })
    .await;
    tokio::time::sleep(ms(100)).await;
    assert_eq!((seen.load(Ordering::Relaxed), bad.load(Ordering::Relaxed)), (1_000_000, 0));
    sup.shutdown().await.unwrap();
}

#[test]
fn crash_loops_then_shutdown_leave_nothing_behind() {
    in_own_process("crash_loops_then_shutdown_leave_nothing_behind", || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let baseline = open_fds();
            let (sup, task) = Supervisor::new();
            let mut events = sup.events().await.unwrap();
            procwire_tests::raise_nofile();
            for i in 0..200 {
                sup.add(spec(&format!("loop{i}"), Command::new("true"), Backoff::none())).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            let report = guard(30, "shutdown", sup.shutdown()).await.unwrap();
            assert_eq!(report.forced().count(), 0);
            let (mut spawns, mut missed) = (0, 0);
            loop {
                match events.try_recv() {
                    Ok(e) => spawns += u64::from(e.to == State::Running),
                    Err(broadcast::error::TryRecvError::Lagged(n)) => missed += n,
                    Err(_) => break,
                }
            }
            // Three events a restart (Starting, Running, Backoff): many restarts.
            assert!(spawns + missed / 3 > 400, "{spawns} seen, {missed} missed");
            let last = sup.statuses().await;
            assert!(matches!(last, Err(procwire_supervisor::Error::ShutDown)), "{last:?}");
            assert!(zombie_children().is_empty(), "{:?}", zombie_children());
            assert!(children().is_empty(), "{:?}", children());
            assert_eq!(open_fds(), baseline);
            guard(5, "the task", task).await.unwrap();
        });
    });
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

/// The next event into `to`, with no timer of its own (under paused time
/// a guard's timer would let the clock jump while a child dies).
async fn until(rx: &mut broadcast::Receiver<Event>, to: State) -> Event {
    loop {
        let e = rx.recv().await.unwrap();
        if e.to == to {
            return e;
        }
    }
}

/// This process's CPU time (user + system), from `getrusage`.
fn cpu_time() -> Duration {
    use nix::sys::resource::{getrusage, UsageWho};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let (u, s) = (usage.user_time(), usage.system_time());
    let micros = (u.tv_sec() + s.tv_sec()) * 1_000_000 + u.tv_usec() + s.tv_usec();
    Duration::from_micros(micros as u64)
}

#[test]
fn idle_programs_cost_no_cpu() {
    in_own_process("idle_programs_cost_no_cpu", || {
        procwire_tests::raise_nofile();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let (sup, _task) = Supervisor::new();
            for i in 0..200 {
                let program = ProgramSpec::new(format!("idle{i}"), Command::new("sleep").arg("1000").clone());
                assert_eq!(sup.add(program).await.unwrap().state, State::Running);
            }
            tokio::time::sleep(ms(500)).await;
            let before = cpu_time();
            std::thread::sleep(Duration::from_secs(3));
            let spent = cpu_time() - before;
            println!("cpu while idle: {spent:?}");
            assert!(spent < ms(10), "{spent:?} of CPU in 3 s with 200 idle programs");
            let report = guard(30, "shutdown", sup.shutdown()).await.unwrap();
            assert_eq!(report.stopped.len(), 200);
        });
    });
}

/// Not a test: restarts per second of a program that exits at once (zero
/// delay, restart always) against a raw spawn-and-wait loop of the same
/// program, in the same run. `cargo test --test supervise -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn restart_throughput_against_a_raw_loop() {
    let window = Duration::from_secs(2);
    let t0 = Instant::now();
    let mut raw = 0u32;
    while t0.elapsed() < window {
        let mut child = Command::new("true").spawn().unwrap();
        child.wait().await.unwrap();
        raw += 1;
    }
    let (sup, _task) = Supervisor::with_capacity(1 << 16, 16);
    let mut events = sup.events().await.unwrap();
    sup.add(spec("fast", Command::new("true"), Backoff::none())).await.unwrap();
    let t0 = Instant::now();
    let (mut spawns, mut missed) = (0u64, 0u64);
    while t0.elapsed() < window {
        match events.recv().await {
            Ok(e) => spawns += u64::from(e.to == State::Running),
            Err(RecvError::Lagged(n)) => missed += n,
            Err(RecvError::Closed) => break,
        }
    }
    let supervised = sup.status("fast").await.unwrap().incarnation;
    sup.shutdown().await.unwrap();
    let ratio = supervised as f64 / f64::from(raw);
    println!("raw loop: {raw} in {window:?}; supervised: {supervised} ({spawns} seen, {missed} missed); ratio {ratio:.2}");
}

/// Not a test: 1,000,000 lines of 32 bytes through the supervisor (its
/// sink and its log channel, with a receiver reading) against the same
/// program read line by line over a plain pipe, in the same run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn log_capture_against_a_plain_pipe() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use tokio::io::AsyncBufReadExt;
    let script = "awk 'BEGIN { for (i = 0; i < 1000000; i++) printf \"%031d\\n\", i }'";
    let t0 = Instant::now();
    let mut child = sh(script).spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.take_reader(1).unwrap()).lines();
    let mut plain = 0u64;
    while lines.next_line().await.unwrap().is_some() {
        plain += 1;
    }
    child.wait().await.unwrap();
    let plain_time = t0.elapsed();

    let (sup, _task) = Supervisor::new();
    let mut logs = sup.logs().await.unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let mut program = ProgramSpec::new("million", sh(script));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    program.restart(restart);
    let s = seen.clone();
    program.sink(move |_| {
        s.fetch_add(1, Ordering::Relaxed);
    });
    let t0 = Instant::now();
    sup.add(program).await.unwrap();
    let (mut received, mut missed) = (0u64, 0u64);
    while received + missed < 1_000_000 {
        match logs.recv().await {
            Ok(_) => received += 1,
            Err(RecvError::Lagged(n)) => missed += n,
            Err(RecvError::Closed) => break,
        }
    }
    let supervised_time = t0.elapsed();
    sup.shutdown().await.unwrap();
    let ratio = plain_time.as_secs_f64() / supervised_time.as_secs_f64();
    println!(
        "plain pipe: {plain} lines in {plain_time:?}; supervisor: {} through the sink, {received} received, {missed} missed, in {supervised_time:?}; ratio {ratio:.2}",
        seen.load(Ordering::Relaxed)
    );
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
