//! Every setting at its extremes (issue 16, defect 6): 0, 1 and the
//! largest value of each size, count and duration; NaN, the infinities and
//! the largest finite value of each float. Each is refused where it is
//! built or at `add`, with a typed error that names the setting, or has a
//! meaning that cannot panic, hang or grow without bound: the program
//! then runs as that meaning says, and the supervisor shuts down cleanly.
//! Timers run on tokio's paused clock, which jumps to each one as soon as
//! nothing else is to be done.

use std::time::Duration;

use procwire::{Command, StopPolicy};
use procwire_supervisor::{
    Backoff, Builder, Cause, Error, LogSpec, ProgramSpec, Readiness, RestartPolicy, RestartSpec, SpecError,
    StartLimit, State, Supervisor,
};
use procwire_tests::guard;
use tokio::sync::broadcast::error::RecvError;

#[path = "supervise_common.rs"]
mod common;

use common::*;

const MAX: Duration = Duration::MAX;
const NS: Duration = Duration::from_nanos(1);

fn sleeper(name: &str) -> ProgramSpec {
    let mut spec = ProgramSpec::new(name, Command::new("sleep").arg("100").clone());
    spec.no_sink();
    spec
}

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

fn out_of_range(setting: &'static str) -> impl Fn(&SpecError) -> bool {
    move |e| matches!(e, SpecError::OutOfRange { setting: s, .. } if *s == setting)
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

/// What `add` should come to.
enum Want {
    /// Refused with an error this accepts.
    Refused(Box<dyn Fn(&SpecError) -> bool>),
    /// Taken, and the program reaches this state.
    Reaches(State),
}

/// Each program on a supervisor of its own (a panic in its task ends its
/// events: the wait fails instead of hanging), shut down after, its task
/// resolving to `Ok`.
async fn check(cases: Vec<(&str, ProgramSpec, Want)>) {
    for (what, spec, want) in cases {
        let (sup, task) = Supervisor::new();
        let mut events = sup.events().await.unwrap();
        let name = spec.get_name().to_owned();
        match (sup.add(spec).await, want) {
            (Err(Error::Spec(e)), Want::Refused(ok)) => {
                assert!(ok(&e), "{what}: refused with {e:?}");
                assert!(!e.to_string().is_empty());
            }
            (Ok(_), Want::Reaches(state)) => {
                let e = until(&mut events, state).await;
                assert_eq!(&*e.program, name, "{what}");
                let status = sup.status(&name).await.unwrap_or_else(|e| panic!("{what}: {e}"));
                if state == State::Backoff {
                    assert!(status.next_start_in.is_some() || status.state != State::Backoff, "{what}");
                }
            }
            (got, _) => panic!("{what}: {got:?}"),
        }
        sup.shutdown().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(task.await.unwrap_or_else(|e| panic!("{what}: {e}")).is_ok(), "{what}");
    }
}

#[tokio::test(start_paused = true)]
async fn every_program_setting_at_its_extremes_is_refused_or_behaves() {
    let mut cases: Vec<(&str, ProgramSpec, Want)> = Vec::new();
    let refused = |f: Box<dyn Fn(&SpecError) -> bool>| Want::Refused(f);

    // LogSpec: max_line 1..=1 MiB; fds not negative (one without a pipe
    // logs nothing).
    for (max, want) in [
        (0, refused(Box::new(|e| *e == SpecError::ZeroLineLength))),
        (1, Want::Reaches(State::Running)),
        (LogSpec::MAX_LINE_LIMIT, Want::Reaches(State::Running)),
        (LogSpec::MAX_LINE_LIMIT + 1, refused(Box::new(out_of_range("LogSpec::max_line")))),
        (usize::MAX, refused(Box::new(out_of_range("LogSpec::max_line")))),
    ] {
        let mut spec = sleeper("p");
        spec.log(LogSpec::new().max_line(max).clone());
        cases.push(("max_line", spec, want));
    }
    for fds in [vec![i32::MIN], vec![-1, 1]] {
        let mut spec = sleeper("p");
        spec.log(LogSpec::new().fds(fds).clone());
        cases.push(("negative log fd", spec, refused(Box::new(|e| matches!(e, SpecError::NegativeFd(_))))));
    }
    for fds in [vec![], vec![0], vec![i32::MAX]] {
        let mut spec = sleeper("p");
        spec.log(LogSpec::new().fds(fds).clone());
        cases.push(("log fds", spec, Want::Reaches(State::Running)));
    }

    // Readiness: a notification fd 3 or above (past the fd limit: a spawn
    // error, then the backoff); a probe interval above 0.
    for fd in [i32::MIN, -1, 0, 2] {
        let mut spec = sleeper("p");
        spec.ready(Readiness::NotificationFd(fd));
        cases.push((
            "notification fd",
            spec,
            refused(Box::new(move |e| *e == SpecError::NotificationFd(fd))),
        ));
    }
    for (fd, want) in [(3, State::Starting), (i32::MAX, State::Backoff)] {
        let mut spec = sleeper("p");
        spec.ready(Readiness::NotificationFd(fd));
        cases.push(("notification fd", spec, Want::Reaches(want)));
    }
    for (interval, want) in [
        (Duration::ZERO, refused(Box::new(|e| *e == SpecError::ZeroProbeInterval))),
        (NS, Want::Reaches(State::Running)),
        // Its first call would come after the default start timeout (90 s),
        // which stops it first.
        (MAX, Want::Reaches(State::Stopping)),
    ] {
        let mut spec = sleeper("p");
        spec.ready(Readiness::probe(interval, || async { true }));
        cases.push(("probe interval", spec, want));
    }

    // The start timeout (0 and past the clock: none), the watchdog (the
    // same), the stop grace (any).
    for (timeout, want) in [(Duration::ZERO, State::Starting), (NS, State::Stopping), (MAX, State::Starting)]
    {
        let mut spec = sleeper("p");
        spec.ready(Readiness::notify()).start_timeout(timeout);
        cases.push(("start timeout", spec, Want::Reaches(want)));
    }
    for (period, want) in [(Duration::ZERO, State::Running), (NS, State::Stopping), (MAX, State::Running)] {
        let mut spec = sleeper("p");
        spec.watchdog(period);
        cases.push(("watchdog", spec, Want::Reaches(want)));
    }
    for grace in [Duration::ZERO, NS, MAX] {
        let mut spec = sleeper("p");
        spec.stop(StopPolicy::new().with_grace(grace));
        cases.push(("stop grace", spec, Want::Reaches(State::Running)));
    }

    // RestartSpec, with a program that always dies at once. Delays past
    // what the clock can say (`Duration::MAX`), with a start limit too:
    // that restart never comes, so it is not counted (it panicked in
    // `decide`, adding the delay to an `Instant`).
    let limit = StartLimit::systemd();
    let restarts: Vec<(&str, RestartSpec, State)> = vec![
        (
            "min_uptime 0",
            restart(|r| {
                r.min_uptime(Duration::ZERO);
            }),
            State::Backoff,
        ),
        (
            "min_uptime MAX",
            restart(|r| {
                r.min_uptime(MAX);
            }),
            State::Backoff,
        ),
        (
            "max_retries 0",
            restart(|r| {
                r.max_retries(Some(0));
            }),
            State::Failed,
        ),
        (
            "max_retries MAX",
            restart(|r| {
                r.max_retries(Some(u32::MAX));
            }),
            State::Backoff,
        ),
        (
            "backoff none",
            restart(|r| {
                r.backoff(Backoff::none());
            }),
            State::Backoff,
        ),
        (
            "backoff MAX, start limit",
            restart(|r| {
                r.backoff(Backoff::fixed(MAX)).start_limit(Some(limit));
            }),
            State::Backoff,
        ),
        (
            "stable MAX, start limit",
            restart(|r| {
                r.min_uptime(Duration::ZERO)
                    .backoff(Backoff::none().with_stable(MAX))
                    .start_limit(Some(limit));
            }),
            State::Backoff,
        ),
        (
            "jitter 1 of MAX, start limit",
            restart(|r| {
                r.backoff(Backoff::fixed(MAX).with_jitter(1.0).unwrap()).start_limit(Some(limit));
            }),
            State::Backoff,
        ),
        (
            "exponential MAX",
            restart(|r| {
                r.backoff(Backoff::exponential(MAX, f64::MAX, MAX).unwrap());
            }),
            State::Backoff,
        ),
        (
            "exponential 1 ns x f64::MAX",
            restart(|r| {
                r.backoff(Backoff::exponential(NS, f64::MAX, MAX).unwrap());
            }),
            State::Backoff,
        ),
        (
            "linear MAX",
            restart(|r| {
                r.backoff(Backoff::linear(MAX, MAX).unwrap());
            }),
            State::Backoff,
        ),
        (
            "systemd MAX steps",
            restart(|r| {
                r.backoff(Backoff::systemd(NS, u32::MAX, MAX).unwrap());
            }),
            State::Backoff,
        ),
        (
            "pm2 0",
            restart(|r| {
                r.backoff(Backoff::pm2(Duration::ZERO).unwrap());
            }),
            State::Backoff,
        ),
        (
            "start limit 1 in MAX",
            restart(|r| {
                r.start_limit(Some(StartLimit::new(1, MAX).unwrap()));
            }),
            State::Failed,
        ),
        (
            "start limit MAX_BURST in 1 ns",
            restart(|r| {
                r.start_limit(Some(StartLimit::new(StartLimit::MAX_BURST, NS).unwrap()));
            }),
            State::Backoff,
        ),
        (
            "retry after 0",
            restart(|r| {
                r.start_limit(Some(StartLimit::new(1, MAX).unwrap().with_retry_after(Duration::ZERO)));
            }),
            State::Failed,
        ),
        (
            "retry after MAX",
            restart(|r| {
                r.start_limit(Some(StartLimit::new(1, MAX).unwrap().with_retry_after(MAX)));
            }),
            State::Failed,
        ),
    ];
    for (what, spec, state) in restarts {
        cases.push((what, crasher("p", spec), Want::Reaches(state)));
    }
    check(cases).await;
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

/// The values with rules of their own, checked when built: each extreme
/// is refused with a typed error, or taken.
#[test]
fn every_built_value_at_its_extremes_is_refused_or_taken() {
    let (s, m) = (Duration::from_secs(1), Duration::from_secs(2));
    for factor in [f64::NAN, f64::NEG_INFINITY, -1.0, 0.0, 0.999] {
        assert!(matches!(Backoff::exponential(s, factor, m), Err(SpecError::FactorBelowOne(_))), "{factor}");
    }
    let err = Backoff::exponential(s, f64::INFINITY, m).unwrap_err();
    assert!(out_of_range("Backoff::exponential factor")(&err), "{err:?}");
    for factor in [1.0, f64::MAX] {
        assert!(Backoff::exponential(Duration::ZERO, factor, MAX).is_ok());
    }
    for fraction in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -f64::MIN_POSITIVE, 1.0 + f64::EPSILON] {
        assert!(matches!(Backoff::none().with_jitter(fraction), Err(SpecError::Jitter(_))), "{fraction}");
    }
    for fraction in [0.0, f64::MIN_POSITIVE, 1.0] {
        assert!(Backoff::fixed(MAX).with_jitter(fraction).is_ok());
    }
    assert!(Backoff::pm2(Duration::from_secs(15) + NS).is_err());
    assert!(Backoff::pm2(Duration::from_secs(15)).is_ok());
    for (a, b) in [(MAX, Duration::ZERO), (NS, Duration::ZERO)] {
        assert!(matches!(Backoff::linear(a, b), Err(SpecError::MaxBelowFirst { .. })));
        assert!(matches!(Backoff::systemd(a, 0, b), Err(SpecError::MaxBelowFirst { .. })));
    }

    assert_eq!(StartLimit::new(0, s), Err(SpecError::ZeroBurst));
    assert_eq!(StartLimit::new(1, Duration::ZERO), Err(SpecError::ZeroInterval));
    for burst in [StartLimit::MAX_BURST + 1, u32::MAX] {
        assert!(out_of_range("StartLimit burst")(&StartLimit::new(burst, MAX).unwrap_err()));
    }
    for (burst, interval) in [(1, NS), (StartLimit::MAX_BURST, MAX)] {
        assert!(StartLimit::new(burst, interval).is_ok());
    }

    let mut builder = Builder::new();
    for restarts in [Builder::MAX_INTENSITY + 1, u32::MAX] {
        let err = builder.intensity(restarts, s).unwrap_err();
        assert!(out_of_range("Builder::intensity restarts")(&err), "{err:?}");
    }
    let err = builder.intensity(0, Duration::ZERO).unwrap_err();
    assert!(out_of_range("Builder::intensity period")(&err), "{err:?}");
    for (restarts, period) in [(0, NS), (Builder::MAX_INTENSITY, MAX)] {
        assert!(builder.intensity(restarts, period).is_ok());
    }
}

/// Capacities are taken within 1 and their maximum (building a channel of
/// `usize::MAX` slots panicked in `build`).
#[tokio::test]
async fn capacities_at_their_extremes_give_a_working_supervisor() {
    for (events, reads) in [(0, 0), (usize::MAX, usize::MAX), (Builder::MAX_EVENTS, Builder::MAX_READS)] {
        let (sup, task) = Supervisor::builder().capacity(events, reads).build();
        let mut events = sup.events().await.unwrap();
        let mut logs = sup.logs().await.unwrap();
        let mut program = ProgramSpec::new("p", sh("echo hi"));
        program
            .restart(restart(|r| {
                r.policy(RestartPolicy::Never);
            }))
            .no_sink();
        sup.add(program).await.unwrap();
        let line = guard(20, "a line", logs.recv()).await.unwrap();
        assert_eq!(&line.line.bytes[..], b"hi");
        // The exit, told after a lag when one event is all that is kept.
        loop {
            match guard(20, "the exit", events.recv()).await {
                Ok(e) if e.to == State::Exited => break,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => panic!("events closed"),
            }
        }
        sup.shutdown().await.unwrap();
        assert!(task.await.unwrap().is_ok());
    }
}

/// An intensity of 0 within 1 ns: the first automatic restart stops
/// everything.
#[tokio::test(start_paused = true)]
async fn an_intensity_of_0_in_1_ns_stops_at_the_first_restart() {
    let (sup, task) = Supervisor::builder().intensity(0, NS).unwrap().build();
    sup.add(crasher(
        "p",
        restart(|r| {
            r.backoff(Backoff::none());
        }),
    ))
    .await
    .unwrap();
    match task.await.unwrap() {
        Err(Error::Intensity { restarts: 1, period }) => assert_eq!(period, NS),
        other => panic!("{other:?}"),
    }
}

/// A watchdog period that systemd's `usec_t` cannot hold is its infinity:
/// the program is not told of it (`WATCHDOG_USEC` was the decimal of
/// `u128` microseconds, which `sd_watchdog_enabled` refuses).
#[tokio::test]
async fn a_watchdog_past_usec_t_is_not_passed_on() {
    let (sup, _task) = Supervisor::new();
    let mut logs = sup.logs().await.unwrap();
    let told = Duration::from_micros(u64::MAX - 1);
    for (name, period) in [("max", MAX), ("infinity", Duration::from_micros(u64::MAX)), ("told", told)] {
        let mut program = ProgramSpec::new(name, sh("echo \"[$WATCHDOG_USEC]\"; exec sleep 100"));
        program.watchdog(period).no_sink();
        sup.add(program).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        let line = guard(20, "a line", logs.recv()).await.unwrap();
        got.push((line.program.to_string(), String::from_utf8_lossy(&line.line.bytes).into_owned()));
    }
    got.sort();
    let want = [("infinity", "[]"), ("max", "[]"), ("told", "[18446744073709551614]")];
    assert_eq!(got, want.map(|(p, l)| (p.to_string(), l.to_string())));
    sup.shutdown().await.unwrap();
}
