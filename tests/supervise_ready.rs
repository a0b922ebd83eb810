//! Readiness: a notification fd, a log line, a probe; the start timeout;
//! the watchdog. Real children, generous margins (the machine is shared).

use std::time::Duration;

use procwire::Command;
use procwire_supervisor::{
    Cause, Exit, ProgramSpec, Readiness, RestartPolicy, RestartSpec, State, Supervisor,
};
use tokio::time::Instant;

#[path = "supervise_common.rs"]
mod common;

use common::*;

fn never_restart(spec: &mut ProgramSpec) -> &mut ProgramSpec {
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    spec.restart(restart)
}

#[tokio::test]
async fn notification_fd_is_ready_at_the_first_newline() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    // A partial line first: not ready until its newline, 300 ms later.
    let mut program = ProgramSpec::new("s6", sh("printf re >&3; sleep 0.3; echo ady >&3; exec sleep 100"));
    program.ready(Readiness::NotificationFd(3));
    let t0 = Instant::now();
    let status = sup.add(program).await.unwrap();
    assert_eq!(status.state, State::Starting);
    let ready = next(&mut events, "s6", |e| e.to == State::Running).await;
    assert!(matches!(ready.cause, Cause::Ready));
    let took = ready.at - t0;
    assert!(took >= ms(290) && took < ms(3000), "{took:?}");
    assert_eq!(sup.status("s6").await.unwrap().state, State::Running);
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn notification_fd_closed_without_a_newline_runs_into_the_start_timeout() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = ProgramSpec::new("mute", sh("printf x >&3; exec 3>&-; exec sleep 100"));
    program.ready(Readiness::NotificationFd(3)).start_timeout(ms(500));
    never_restart(&mut program);
    let t0 = Instant::now();
    sup.add(program).await.unwrap();
    let stopping = next(&mut events, "mute", |e| e.to == State::Stopping).await;
    assert!(matches!(stopping.cause, Cause::StartTimeout), "{stopping:?}");
    let took = stopping.at - t0;
    assert!(took >= ms(490) && took < ms(3000), "{took:?}");
    // Stopped with the stop policy (TERM), and read as a timeout: counted
    // as a failure, so even `Never` does not make it a clean exit.
    let ended = next(&mut events, "mute", |e| !e.to.is_live()).await;
    match ended.cause {
        Cause::AutoStopped { exit: Exit::StartTimeout, outcome, .. } => {
            assert_eq!(outcome.status.and_then(|s| s.signal()), Some(15));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ended.to, State::Exited);
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_start_timeout_counts_as_a_failure_for_the_policy() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = ProgramSpec::new("slow", sh("exec sleep 100"));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::OnFailure).backoff(procwire_supervisor::Backoff::fixed(ms(50)));
    program.ready(Readiness::NotificationFd(3)).start_timeout(ms(200)).restart(restart);
    sup.add(program).await.unwrap();
    let ended = next(&mut events, "slow", |e| matches!(e.cause, Cause::AutoStopped { .. })).await;
    assert_eq!(ended.to, State::Backoff, "OnFailure restarts after a start timeout");
    let again = next(&mut events, "slow", |e| e.to == State::Starting).await;
    assert_eq!(again.incarnation, 2);
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_log_line_makes_it_ready() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program =
        ProgramSpec::new("web", sh("echo starting; sleep 0.2; echo 'listening on 8080' >&2; exec sleep 100"));
    program.ready(Readiness::log_line(|l| l.line.bytes.starts_with(b"listening")));
    let t0 = Instant::now();
    sup.add(program).await.unwrap();
    let ready = next(&mut events, "web", |e| e.to == State::Running).await;
    assert!(ready.at - t0 >= ms(190), "{:?}", ready.at - t0);
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_probe_makes_it_ready() {
    let dir = std::env::temp_dir().join(format!("procwire-probe-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program =
        ProgramSpec::new("probed", sh(&format!("sleep 0.3; touch {}; exec sleep 100", dir.display())));
    let path = dir.clone();
    program.ready(Readiness::probe(ms(20), move || {
        let path = path.clone();
        async move { path.exists() }
    }));
    sup.add(program).await.unwrap();
    assert_eq!(sup.status("probed").await.unwrap().state, State::Starting);
    next(&mut events, "probed", |e| e.to == State::Running).await;
    assert!(dir.exists());
    std::fs::remove_file(&dir).unwrap();
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_watchdog_nobody_pings_stops_it_with_sigabrt() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut logs = sup.logs().await.unwrap();
    let script = "test \"$WATCHDOG_PID\" = $$ && echo $WATCHDOG_USEC; exec sleep 100";
    let mut program = ProgramSpec::new("dog", sh(script));
    program.watchdog(ms(300));
    never_restart(&mut program);
    let t0 = Instant::now();
    sup.add(program).await.unwrap();
    let line = logs.recv().await.unwrap();
    assert_eq!(&line.line.bytes[..], b"300000");
    let missed = next(&mut events, "dog", |e| e.to == State::Stopping).await;
    assert!(matches!(missed.cause, Cause::WatchdogMissed { triggered: false }), "{missed:?}");
    let took = missed.at - t0;
    assert!(took >= ms(290) && took < ms(3000), "{took:?}");
    let ended = next(&mut events, "dog", |e| !e.to.is_live()).await;
    match ended.cause {
        Cause::AutoStopped { exit: Exit::Watchdog, outcome, .. } => {
            assert_eq!(outcome.status.and_then(|s| s.signal()), Some(6), "SIGABRT first");
        }
        other => panic!("{other:?}"),
    }
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn on_watchdog_restarts_after_a_watchdog_only() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = ProgramSpec::new("dog", sh("exec sleep 100"));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::OnWatchdog).backoff(procwire_supervisor::Backoff::none());
    program.watchdog(ms(100)).restart(restart);
    sup.add(program).await.unwrap();
    let ended = next(&mut events, "dog", |e| matches!(e.cause, Cause::AutoStopped { .. })).await;
    assert_eq!(ended.to, State::Backoff);
    next(&mut events, "dog", |e| e.to == State::Starting && e.incarnation == 2).await;
    sup.stop("dog").await.unwrap();
    // The same program exiting 1 by itself: not a watchdog, no restart.
    let mut program = ProgramSpec::new("fails", sh("exit 1"));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::OnWatchdog);
    program.restart(restart);
    sup.add(program).await.unwrap();
    let ended = next(&mut events, "fails", |e| !e.to.is_live() && e.to != State::Stopped).await;
    assert_eq!(ended.to, State::Exited);
    sup.shutdown().await.unwrap();
}

fn notifier(name: &str, steps: &[&str]) -> ProgramSpec {
    let mut program =
        ProgramSpec::new(name, procwire::Command::new(procwire_tests::pw_child!()).args(steps).clone());
    program.ready(Readiness::notify());
    program
}

#[tokio::test]
async fn sd_notify_ready_makes_it_running_and_status_shows() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let steps = ["sleep-ms:200", "notify:READY=1\\nSTATUS=serving 3 clients", "sleep-ms:100000"];
    // From before the spawn: the child starts its 200 ms before the
    // `Starting` event is stamped (after the spawn returns), so that
    // event is no lower bound.
    let asked = Instant::now();
    sup.add(notifier("notifier", &steps)).await.unwrap();
    next(&mut events, "notifier", |e| e.to == State::Starting).await;
    let running = next(&mut events, "notifier", |e| e.to == State::Running).await;
    let took = running.at - asked;
    println!("READY=1 sent 200 ms after the spawn: Running after {took:?}");
    // `Starting` is stamped once the spawn returns, after the child's
    // 200 ms began: a little less than 200 ms may pass (199.2 ms once,
    // under load); Running at once, without waiting for READY, would be
    // well under 150 ms.
    assert!(took >= ms(150) && took < ms(1000), "{took:?}");
    let status = sup.status("notifier").await.unwrap();
    assert_eq!(status.notify_status.as_deref(), Some("serving 3 clients"));
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn sd_notify_without_ready_runs_into_the_start_timeout() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = notifier("silent", &["notify:STATUS=still loading", "sleep-ms:100000"]);
    program.start_timeout(ms(500));
    never_restart(&mut program);
    let t0 = Instant::now();
    sup.add(program).await.unwrap();
    let told = next(&mut events, "silent", |e| matches!(e.cause, Cause::Notified(_))).await;
    assert_eq!((told.from, told.to), (State::Starting, State::Starting));
    let stopping = next(&mut events, "silent", |e| e.to == State::Stopping).await;
    assert!(matches!(stopping.cause, Cause::StartTimeout));
    assert!(stopping.at - t0 >= ms(490), "{:?}", stopping.at - t0);
    let ended = next(&mut events, "silent", |e| !e.to.is_live()).await;
    assert!(matches!(ended.cause, Cause::AutoStopped { exit: Exit::StartTimeout, .. }), "{ended:?}");
    sup.shutdown().await.unwrap();
}

/// A program that shows where its notification socket is, and waits.
fn socket_shower(name: &str, access: procwire_supervisor::NotifyAccess) -> ProgramSpec {
    let mut program = ProgramSpec::new(name, sh("echo \"$NOTIFY_SOCKET\"; exec sleep 100"));
    program.ready(Readiness::Notify { access });
    program
}

#[tokio::test]
async fn oversized_and_garbage_datagrams_change_nothing_but_an_event() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let steps = [
        "notify-size:65536",
        "notify:READY=1\\x00\\xff\\x01garbage",
        "notify:\\xff\\xfe",
        "sleep-ms:300",
        "notify:READY=1",
        "sleep-ms:100000",
    ];
    sup.add(notifier("noisy", &steps)).await.unwrap();
    let big = next(&mut events, "noisy", |e| matches!(e.cause, Cause::NotifyRejected { .. })).await;
    assert!(
        matches!(
            big.cause,
            Cause::NotifyRejected { reason: procwire_supervisor::Rejection::TooLarge { len: 65536 }, .. }
        ),
        "{big:?}"
    );
    assert_eq!((big.from, big.to), (State::Starting, State::Starting));
    let nul = next(&mut events, "noisy", |e| matches!(e.cause, Cause::NotifyRejected { .. })).await;
    assert_eq!((nul.from, nul.to), (State::Starting, State::Starting), "{nul:?}");
    // Not UTF-8: the line is ignored (told), the rest applies (nothing).
    let garbage = next(&mut events, "noisy", |e| e.from == e.to).await;
    assert!(matches!(&garbage.cause, Cause::Notified(n) if !n.ready && n.ignored.len() == 1), "{garbage:?}");
    assert_eq!(sup.status("noisy").await.unwrap().state, State::Starting);
    next(&mut events, "noisy", |e| e.to == State::Running).await;
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_watchdog_pinged_for_a_second_fires_300_ms_after_the_last_ping() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut steps = vec!["notify:READY=1"];
    steps.extend(std::iter::repeat_n(["sleep-ms:100", "notify:WATCHDOG=1"], 10).flatten());
    steps.push("sleep-ms:100000");
    let mut program = notifier("pinger", &steps);
    program.watchdog(ms(300));
    never_restart(&mut program);
    sup.add(program).await.unwrap();
    let running = next(&mut events, "pinger", |e| e.to == State::Running).await;
    let missed = next(&mut events, "pinger", |e| e.to == State::Stopping).await;
    let at = missed.at - running.at;
    println!("pinged every 100 ms for 1 s with a 300 ms watchdog: missed at {at:?}");
    assert!(matches!(missed.cause, Cause::WatchdogMissed { triggered: false }));
    assert!(at >= ms(1290) && at < ms(2500), "{at:?}");
    let ended = next(&mut events, "pinger", |e| !e.to.is_live()).await;
    match ended.cause {
        Cause::AutoStopped { exit: Exit::Watchdog, outcome, .. } => {
            assert_eq!(outcome.status.and_then(|s| s.signal()), Some(6));
        }
        other => panic!("{other:?}"),
    }
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn watchdog_trigger_stops_it_at_once() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = notifier(
        "trigger",
        &["notify:READY=1", "sleep-ms:100", "notify:WATCHDOG=trigger", "sleep-ms:100000"],
    );
    program.watchdog(ms(60_000));
    sup.add(program).await.unwrap();
    let missed = next(&mut events, "trigger", |e| e.to == State::Stopping).await;
    assert!(matches!(missed.cause, Cause::WatchdogMissed { triggered: true }), "{missed:?}");
    sup.shutdown().await.unwrap();
}

/// The supervisor's own `NOTIFY_SOCKET` (from a systemd above it) reaches
/// no child that does not use sd_notify with the supervisor; one that does
/// gets the supervisor's socket instead.
#[test]
fn the_supervisors_own_notify_socket_reaches_no_child() {
    let env = [("NOTIFY_SOCKET", "@procwire-test-systemd-above")];
    procwire_tests::in_own_process_with_env(
        "the_supervisors_own_notify_socket_reaches_no_child",
        &env,
        || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let (sup, _task) = Supervisor::new();
                let mut logs = sup.logs().await.unwrap();
                let mut plain =
                    ProgramSpec::new("plain", sh("echo \"plain [$NOTIFY_SOCKET] ${NOTIFY_SOCKET+set}\""));
                never_restart(&mut plain);
                sup.add(plain).await.unwrap();
                let line = logs.recv().await.unwrap();
                assert_eq!(&line.line.bytes[..], b"plain [] ");
                sup.add(socket_shower("notifying", procwire_supervisor::NotifyAccess::Main)).await.unwrap();
                let line = logs.recv().await.unwrap();
                let socket = String::from_utf8(line.line.bytes.to_vec()).unwrap();
                assert!(socket.starts_with("@procwire/notify/"), "{socket}");
                sup.shutdown().await.unwrap();
            });
        },
    );
}

/// Under systemd, the supervisor says `READY=1` once every autostart
/// program is running, keeps `STATUS=` current, and says `STOPPING=1`.
#[cfg(target_os = "linux")]
#[test]
fn the_supervisor_tells_its_own_systemd() {
    let name = format!("procwire-test-systemd-{}", std::process::id());
    let socket = format!("@{name}");
    let listener = (std::env::var_os("PROCWIRE_TEST_OWN_PROCESS").is_none()).then(|| {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        std::os::unix::net::UnixDatagram::bind_addr(&addr).unwrap()
    });
    let env = [("NOTIFY_SOCKET", socket.as_str())];
    procwire_tests::in_own_process_with_env("the_supervisor_tells_its_own_systemd", &env, || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (sup, _task) = Supervisor::builder().notify_systemd(true).build();
            let mut events = sup.events().await.unwrap();
            let mut slow = ProgramSpec::new("slow", sh("sleep 0.3; echo >&3; exec sleep 100"));
            slow.ready(Readiness::NotificationFd(3));
            sup.add_all([ProgramSpec::new("fast", sh("exec sleep 100")), slow]).await.unwrap();
            next(&mut events, "slow", |e| e.to == State::Running).await;
            sup.shutdown().await.unwrap();
        });
    });
    // The copy has exited: everything it said is queued here.
    let Some(listener) = listener else { return };
    listener.set_nonblocking(true).unwrap();
    let mut said = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = listener.recv(&mut buf) {
        said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let ready = said.iter().position(|m| m.starts_with("READY=1\n")).unwrap_or_else(|| panic!("{said:#?}"));
    assert_eq!(said.iter().filter(|m| m.contains("READY=1")).count(), 1, "{said:#?}");
    assert!(said[ready].contains("STATUS=2 running, 0 starting"), "{said:#?}");
    assert!(said[..ready].iter().any(|m| m.contains("STATUS=1 running, 1 starting")), "{said:#?}");
    assert!(said[ready..].iter().any(|m| m == "STOPPING=1"), "{said:#?}");
}

/// `MAINPID=` may not name a stranger (here pid 1): refused, told as an
/// event; the rest of the datagram applies.
#[tokio::test]
async fn mainpid_naming_a_stranger_is_refused() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    sup.add(notifier("liar", &["notify:MAINPID=1\\nREADY=1", "sleep-ms:100000"])).await.unwrap();
    let refused = next(&mut events, "liar", |e| matches!(e.cause, Cause::NotifyRefused { .. })).await;
    assert!(matches!(refused.cause, Cause::NotifyRefused { pid: 1 }), "{refused:?}");
    next(&mut events, "liar", |e| e.to == State::Running).await;
    sup.shutdown().await.unwrap();
}

/// Durations too long for the clock, from the spec or from the program,
/// mean never: no panic, no overflow; zero means none.
#[tokio::test]
async fn extreme_durations_mean_never_and_zero_means_none() {
    let (sup, task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let max = u64::MAX;
    let says = format!("notify:EXTEND_TIMEOUT_USEC={max}\\nWATCHDOG_USEC={max}\\nREADY=1");
    let mut program = notifier("forever", &[&says, "notify:WATCHDOG=1", "sleep-ms:100000"]);
    program.start_timeout(std::time::Duration::MAX).watchdog(std::time::Duration::MAX);
    sup.add(program).await.unwrap();
    next(&mut events, "forever", |e| e.to == State::Running).await;
    let mut zero = ProgramSpec::new("zero", sh("echo \"[${WATCHDOG_USEC-unset}]\"; exec sleep 100"));
    zero.watchdog(std::time::Duration::ZERO).start_timeout(std::time::Duration::ZERO);
    let mut logs = sup.logs().await.unwrap();
    sup.add(zero).await.unwrap();
    assert_eq!(&logs.recv().await.unwrap().line.bytes[..], b"[unset]");
    none_within(&mut events, "forever", ms(300), |e| e.to != State::Running).await;
    assert_eq!(sup.status("zero").await.unwrap().state, State::Running);
    sup.shutdown().await.unwrap();
    assert!(task.await.unwrap().is_ok());
}

#[tokio::test]
async fn readiness_settings_that_cannot_work_are_refused() {
    use procwire_supervisor::{Error, SpecError};
    let (sup, _task) = Supervisor::new();
    for fd in [-1, 0, 1, 2] {
        let mut program = ProgramSpec::new("fd", sh("true"));
        program.ready(Readiness::NotificationFd(fd));
        assert!(matches!(sup.add(program).await, Err(Error::Spec(SpecError::NotificationFd(f))) if f == fd));
    }
    let mut program = ProgramSpec::new("busy", sh("true"));
    program.ready(Readiness::probe(std::time::Duration::ZERO, || async { false }));
    assert!(matches!(sup.add(program).await, Err(Error::Spec(SpecError::ZeroProbeInterval))));
    assert!(sup.statuses().await.unwrap().is_empty());
    sup.shutdown().await.unwrap();
}

/// A readiness predicate that panics loses no line and no pipe: the
/// lines still come, the start timeout applies.
#[tokio::test]
async fn a_panicking_line_predicate_loses_no_line() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut logs = sup.logs().await.unwrap();
    let mut program = ProgramSpec::new("panicky", sh("seq 1 1000; exec sleep 100"));
    program.ready(Readiness::log_line(|_| panic!("a bad predicate"))).start_timeout(ms(500)).no_sink();
    never_restart(&mut program);
    sup.add(program).await.unwrap();
    procwire_tests::guard(20, "1000 lines", async {
        for n in 1..=1000 {
            let line = logs.recv().await.unwrap();
            assert_eq!(line.line.bytes, n.to_string().as_bytes());
        }
    })
    .await;
    let ended = next(&mut events, "panicky", |e| matches!(e.cause, Cause::AutoStopped { .. })).await;
    assert!(matches!(ended.cause, Cause::AutoStopped { exit: Exit::StartTimeout, .. }), "{ended:?}");
    sup.shutdown().await.unwrap();
}

/// Liveness (#17): once `Running`, a check that fails (false, out of time,
/// or a panic) `failures` times in a row stops the program with a cause
/// that says so, and the policy restarts it; under the paused clock, at
/// exactly ready + failures x (interval + the time each call took).
#[tokio::test(start_paused = true)]
async fn a_failing_liveness_check_restarts_the_program_after_its_failures_in_a_row() {
    use procwire_supervisor::{Backoff, Liveness};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    let calls = Arc::new(AtomicU32::new(0));
    // Three ways to fail, and one success between two runs of failures:
    // 1 ok, 2 false, 3 ok (resets), 4 false, 5 hangs past the timeout,
    // 6 panics: stopped after call 6.
    let counter = calls.clone();
    let check = Liveness::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            match n {
                1 | 3 => true,
                5 => std::future::pending().await,
                6 => panic!("a probe that panics"),
                _ => false,
            }
        }
    })
    .interval(Duration::from_secs(10))
    .timeout(Duration::from_secs(1))
    .failures(3);
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = ProgramSpec::new("live", Command::new("sleep").arg("1000").clone());
    let mut restart = RestartSpec::new();
    restart.backoff(Backoff::fixed(Duration::from_secs(2)));
    program.liveness(check).restart(restart);
    sup.add(program).await.unwrap();
    let ready = until(&mut events, State::Running).await;
    let stopping = until(&mut events, State::Stopping).await;
    assert!(matches!(stopping.cause, Cause::LivenessFailed { failures: 3 }), "{stopping:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    // Six intervals, and the one call that ran out of its second.
    assert_eq!(stopping.at - ready.at, Duration::from_secs(61));
    let backoff = until(&mut events, State::Backoff).await;
    assert!(
        matches!(backoff.cause, Cause::AutoStopped { exit: Exit::Liveness, .. }),
        "read as a missed watchdog, restarted: {backoff:?}"
    );
    let again = until(&mut events, State::Running).await;
    assert_eq!(again.incarnation, 2);
    sup.shutdown().await.unwrap();
}

/// A liveness check that cannot work is refused at `add`.
#[tokio::test]
async fn a_liveness_check_that_cannot_work_is_refused() {
    use procwire_supervisor::{Error, Liveness, SpecError};
    let (sup, _task) = Supervisor::new();
    for check in [
        Liveness::new(|| async { true }).interval(Duration::ZERO),
        Liveness::new(|| async { true }).timeout(Duration::ZERO),
        Liveness::new(|| async { true }).failures(0),
    ] {
        let mut program = ProgramSpec::new("p", Command::new("true"));
        program.liveness(check);
        assert!(matches!(sup.add(program).await, Err(Error::Spec(SpecError::Liveness(_)))));
    }
    assert!(sup.statuses().await.unwrap().is_empty(), "nothing added");
}

/// `WATCHDOG_USEC=0` from the program turns its watchdog off, as in
/// systemd (it used to arm a watchdog of zero, which fired at once).
#[tokio::test]
async fn watchdog_usec_0_turns_the_watchdog_off() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let steps = ["notify:READY=1", "notify:WATCHDOG_USEC=0", "notify:STATUS=calm", "sleep-ms:100000"];
    let mut program = notifier("calm", &steps);
    program.watchdog(ms(300));
    never_restart(&mut program);
    sup.add(program).await.unwrap();
    next(&mut events, "calm", |e| e.to == State::Running).await;
    // Datagrams are read in order: once STATUS= is told, the 0 was read.
    next(
        &mut events,
        "calm",
        |e| matches!(&e.cause, Cause::Notified(n) if n.status.as_deref() == Some("calm")),
    )
    .await;
    // Three periods without a ping: nothing happens.
    none_within(&mut events, "calm", ms(1000), |e| e.to == State::Stopping).await;
    assert_eq!(sup.status("calm").await.unwrap().state, State::Running);
    sup.shutdown().await.unwrap();
}
