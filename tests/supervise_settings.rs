//! Settings at their extremes (issue 16, defect 6): refused at `add` with
//! a typed error that names the setting, or working.

use std::time::Duration;

use procwire_supervisor::{
    Backoff, Cause, Error, LogSpec, ProgramSpec, RestartPolicy, RestartSpec, SpecError, StartLimit, State,
    Supervisor,
};
use procwire_tests::guard;

#[path = "supervise_common.rs"]
mod common;

use common::*;

const MAX: Duration = Duration::MAX;

fn crasher(name: &str, restart: RestartSpec) -> ProgramSpec {
    let mut spec = ProgramSpec::new(name, sh("exit 1"));
    spec.no_sink().restart(restart);
    spec
}

fn restart(f: impl FnOnce(&mut RestartSpec)) -> RestartSpec {
    let mut spec = RestartSpec::new();
    f(&mut spec);
    spec
}

// Issue 16, defect 6: `max_line(usize::MAX)` passed `add`; the drain task
// then overflowed on `max + 1` (in a debug build it panicked and the child
// died of SIGPIPE at each incarnation; in release no line ever came and the
// buffer grew without end).
#[tokio::test]
async fn max_line_of_usize_max_is_refused_at_add() {
    let (sup, task) = Supervisor::new();
    for max in [usize::MAX, LogSpec::MAX_LINE_LIMIT + 1] {
        let mut logs = LogSpec::new();
        logs.max_line(max);
        let mut program = ProgramSpec::new("huge", sh("echo hi"));
        program.log(logs);
        match sup.add(program).await {
            Err(Error::Spec(e @ SpecError::OutOfRange { setting: "LogSpec::max_line", .. })) => {
                assert_eq!(e.to_string(), format!("LogSpec::max_line is {max}: allowed 1..=1048576 (1 MiB)"));
            }
            other => panic!("max_line({max}): {other:?}"),
        }
    }
    // Both ends of the range work: lines of 1 byte, and of 1 MiB.
    let mut logs_rx = sup.logs().await.unwrap();
    let never = restart(|r| {
        r.policy(RestartPolicy::Never);
    });
    for (name, max, script) in [
        ("one", 1, "printf 'ab\\nc'"),
        ("mib", LogSpec::MAX_LINE_LIMIT, "head -c 1048577 /dev/zero | tr '\\0' x"),
    ] {
        let mut logs = LogSpec::new();
        logs.max_line(max);
        let mut program = ProgramSpec::new(name, sh(script));
        program.log(logs).restart(never.clone()).no_sink();
        sup.add(program).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 5 {
        let line = guard(20, "lines", logs_rx.recv()).await.unwrap();
        got.push((line.program.to_string(), line.line.bytes.len(), line.line.continued));
    }
    got.sort();
    let want =
        [("mib", 1, false), ("mib", 1 << 20, true), ("one", 1, false), ("one", 1, false), ("one", 1, true)];
    let want: Vec<(String, usize, bool)> = want.iter().map(|&(p, n, c)| (p.to_string(), n, c)).collect();
    assert_eq!(got, want);
    sup.shutdown().await.unwrap();
    assert!(task.await.unwrap().is_ok());
}

/// A delay past the clock is armed as such (the status says so) and the
/// program waits in `Backoff`; nothing is counted against the start limit.
#[tokio::test(start_paused = true)]
async fn a_restart_delay_past_the_clock_with_a_start_limit_is_a_backoff_not_a_panic() {
    let (sup, task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let spec = restart(|r| {
        r.backoff(Backoff::fixed(MAX)).start_limit(Some(StartLimit::systemd()));
    });
    sup.add(crasher("p", spec)).await.unwrap();
    let e = until(&mut events, State::Backoff).await;
    assert!(matches!(e.cause, Cause::Exited { .. }), "{e:?}");
    let status = sup.status("p").await.unwrap();
    assert_eq!((status.state, status.next_start_in), (State::Backoff, Some(MAX)));
    sup.shutdown().await.unwrap();
    assert!(task.await.unwrap().is_ok());
}
