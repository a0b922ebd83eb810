//! Readiness: a notification fd, a log line, a probe; the start timeout;
//! the watchdog. Real children, generous margins (the machine is shared).

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
    let mut program = ProgramSpec::new("dog", sh("echo $WATCHDOG_USEC; exec sleep 100"));
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
