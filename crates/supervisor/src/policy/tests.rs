//! The policy without processes: a program that always dies is simulated
//! by starting it at `t`, ending it at `t + run`, deciding, and starting
//! it again after the delay.

use std::time::Duration;

use procwire_core::Signal;
use tokio::time::Instant;

use super::*;
use crate::State;
use crate::{Backoff, RestartPolicy, StartLimit};

const MS: fn(u64) -> Duration = Duration::from_millis;
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// Spawn times (from the first) of a program whose every run lasts `run`
/// and ends with `exit`, up to `max` spawns, and the decision that ended
/// the series (the last `Restart` when `max` was reached).
fn series(spec: &RestartSpec, exit: Exit, run: Duration, max: usize) -> (Vec<Duration>, Decision) {
    let mut history = History::new();
    let t0 = Instant::now();
    let (mut t, mut kind, mut spawns) = (t0, StartKind::Manual, Vec::new());
    loop {
        history.record_start(t, kind);
        kind = StartKind::Automatic;
        spawns.push(t - t0);
        t += run;
        match decide(spec, &mut history, exit, t) {
            Decision::Restart { delay } if spawns.len() < max => t += delay,
            decision => return (spawns, decision),
        }
    }
}

fn always_dying(spec: &RestartSpec, max: usize) -> (Vec<Duration>, Decision) {
    series(spec, Exit::code(1), Duration::ZERO, max)
}

fn with_backoff(backoff: Backoff) -> RestartSpec {
    let mut spec = RestartSpec::new();
    spec.backoff(backoff);
    spec
}

#[test]
fn procmon_spawns_at_0_1_3_7_15_31_and_caps_at_3600() {
    let (spawns, _) = always_dying(&RestartSpec::procmon(), 16);
    assert_eq!(spawns[..6], [0, 1, 3, 7, 15, 31].map(SECS));
    let gaps: Vec<u64> = spawns.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
    assert_eq!(gaps[10..], [1024, 2048, 3600, 3600, 3600]);
}

#[test]
fn supervisord_spawns_at_0_1_3_6_then_fails() {
    let (spawns, end) = always_dying(&RestartSpec::supervisord(), 100);
    assert_eq!(spawns, [0, 1, 3, 6].map(SECS));
    assert_eq!(end, Decision::Fail { cause: FailCause::Retries, retry_after: None });
    assert_eq!(end.state(), State::Failed);
}

#[test]
fn systemd_steps_spawn_times() {
    let backoff = Backoff::systemd(MS(100), 5, MS(3200)).unwrap();
    let (spawns, _) = always_dying(&with_backoff(backoff), 8);
    // Delays 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 3.2 s.
    assert_eq!(spawns, [0, 100, 300, 700, 1500, 3100, 6300, 9500].map(MS));
}

#[test]
fn systemd_defaults_hit_the_start_limit_after_5_spawns() {
    let (spawns, end) = always_dying(&RestartSpec::systemd(), 100);
    assert_eq!(spawns, [0, 100, 200, 300, 400].map(MS));
    assert_eq!(end, Decision::Fail { cause: FailCause::StartLimit, retry_after: None });
}

#[test]
fn pm2_spawn_times() {
    let (spawns, _) = always_dying(&with_backoff(Backoff::pm2(MS(100)).unwrap()), 16);
    let delays = [100, 150, 225, 337, 505, 757, 1135, 1702, 2553, 3829, 5743, 8614, 12921, 15000, 15000];
    let mut at = 0;
    let want: Vec<Duration> = std::iter::once(0)
        .chain(delays.iter().map(|d| {
            at += d;
            at
        }))
        .map(MS)
        .collect();
    assert_eq!(spawns, want);
}

fn custom() -> RestartSpec {
    let mut spec = with_backoff(Backoff::exponential(MS(100), 2.0, MS(1600)).unwrap());
    spec.min_uptime(SECS(1));
    spec
}

#[test]
fn custom_backoff_spawn_times() {
    let (spawns, _) = always_dying(&custom(), 8);
    assert_eq!(spawns, [0, 100, 300, 700, 1500, 3100, 4700, 6300].map(MS));
}

#[test]
fn a_stable_run_resets_the_backoff() {
    let spec = custom();
    let (mut h, t0) = (History::new(), Instant::now());
    let step = |h: &mut History, start: Duration, run: Duration, kind| {
        h.record_start(t0 + start, kind);
        decide(&spec, h, Exit::code(1), t0 + start + run)
    };
    assert_eq!(step(&mut h, MS(0), MS(0), StartKind::Manual), Decision::Restart { delay: MS(100) });
    assert_eq!(step(&mut h, MS(100), MS(0), StartKind::Automatic), Decision::Restart { delay: MS(200) });
    assert_eq!(step(&mut h, MS(300), MS(400), StartKind::Automatic), Decision::Restart { delay: MS(400) });
    // A run of 1.2 s: the next restart at once, the one after waits 0.1 s.
    assert_eq!(step(&mut h, MS(1100), MS(1200), StartKind::Automatic), Decision::Restart { delay: MS(0) });
    assert_eq!(h.attempts(), 0);
    assert_eq!(step(&mut h, MS(2300), MS(0), StartKind::Automatic), Decision::Restart { delay: MS(100) });
    assert_eq!(step(&mut h, MS(2400), MS(0), StartKind::Automatic), Decision::Restart { delay: MS(200) });
}

fn limited(limit: StartLimit) -> RestartSpec {
    let mut spec = with_backoff(Backoff::none());
    spec.start_limit(Some(limit));
    spec
}

#[test]
fn start_limit_5_in_10s_spawns_exactly_5_then_fails() {
    let spec = limited(StartLimit::new(5, SECS(10)).unwrap());
    let (spawns, end) = always_dying(&spec, 100);
    assert_eq!(spawns, [0; 5].map(SECS));
    assert_eq!(end, Decision::Fail { cause: FailCause::StartLimit, retry_after: None });

    // retry_after is handed on; a manual start begins a new series.
    let spec = limited(StartLimit::new(5, SECS(10)).unwrap().with_retry_after(SECS(30)));
    let (_, end) = always_dying(&spec, 100);
    assert_eq!(end, Decision::Fail { cause: FailCause::StartLimit, retry_after: Some(SECS(30)) });
    let (mut h, t) = (History::new(), Instant::now());
    for _ in 0..20 {
        h.record_start(t, StartKind::Manual); // restarts by hand are never counted against
        assert_eq!(decide(&spec, &mut h, Exit::code(1), t), Decision::Restart { delay: MS(0) });
    }
}

#[test]
fn start_limit_catches_a_loop_just_over_min_uptime() {
    // procmon's bug 6: runs of 1.1 s restart at once, forever. Here the
    // start limit still counts them.
    let spec = limited(StartLimit::systemd());
    let (spawns, end) = series(&spec, Exit::code(1), MS(1100), 100);
    assert_eq!(spawns, [0, 1100, 2200, 3300, 4400].map(MS));
    assert!(matches!(end, Decision::Fail { cause: FailCause::StartLimit, .. }));
    // Old starts leave the window: runs of 2.5 s never reach 5 in 10 s.
    let (spawns, end) = series(&spec, Exit::code(1), MS(2500), 50);
    assert_eq!((spawns.len(), end), (50, Decision::Restart { delay: MS(0) }));
}

#[test]
fn on_failure_does_not_restart_exit_0() {
    let mut spec = RestartSpec::new();
    spec.policy(RestartPolicy::OnFailure);
    let (spawns, end) = always_dying_with(&spec, Exit::code(0));
    assert_eq!((spawns, end), (1, Decision::Exit { reason: ExitReason::Policy }));
    assert_eq!(end.state(), State::Exited);
    assert_eq!(always_dying_with(&spec, Exit::code(1)).0, 10);
    assert_eq!(always_dying_with(&spec, Exit::signal(Signal::KILL)).0, 10);
    assert_eq!(always_dying_with(&spec, Exit::signal(Signal::TERM)).0, 1); // clean, as in systemd
    assert_eq!(always_dying_with(&spec, Exit::SpawnFailed).0, 10);
}

fn always_dying_with(spec: &RestartSpec, exit: Exit) -> (usize, Decision) {
    let (spawns, end) = series(spec, exit, Duration::ZERO, 10);
    (spawns.len(), end)
}

#[test]
fn success_and_prevent_sets_are_honoured() {
    let mut spec = RestartSpec::new();
    spec.policy(RestartPolicy::OnFailure).success_codes([0, 3]).success_signals([Signal::USR2]);
    assert_eq!(always_dying_with(&spec, Exit::code(3)).0, 1);
    assert_eq!(always_dying_with(&spec, Exit::signal(Signal::USR2)).0, 1);
    assert_eq!(always_dying_with(&spec, Exit::code(4)).0, 10);

    let mut spec = RestartSpec::new();
    spec.prevent_codes([7]).prevent_signals([Signal::USR1]);
    let prevented = (1, Decision::Exit { reason: ExitReason::Prevented });
    assert_eq!(always_dying_with(&spec, Exit::code(7)), prevented);
    assert_eq!(always_dying_with(&spec, Exit::signal(Signal::USR1)), prevented);
    assert_eq!(always_dying_with(&spec, Exit::code(8)).0, 10);
    assert_eq!(always_dying_with(&spec, Exit::code(0)).0, 10); // Always restarts a clean exit
}

#[test]
fn never_goes_to_exited() {
    let mut spec = RestartSpec::new();
    spec.policy(RestartPolicy::Never);
    for exit in [Exit::code(0), Exit::code(1), Exit::signal(Signal::new(11).unwrap()), Exit::SpawnFailed] {
        let (n, end) = always_dying_with(&spec, exit);
        assert_eq!((n, end.state()), (1, State::Exited), "{exit:?}");
    }
}

#[test]
fn a_failed_spawn_counts_as_an_attempt() {
    let (spawns, _) = series(&RestartSpec::procmon(), Exit::SpawnFailed, Duration::ZERO, 4);
    assert_eq!(spawns, [0, 1, 3, 7].map(SECS));
}

#[test]
fn jitter_shortens_within_its_fraction_and_is_seeded() {
    let spec = with_backoff(Backoff::fixed(SECS(10)).with_jitter(0.25).unwrap());
    let delays = |seed| {
        let (mut h, t) = (History::with_seed(seed), Instant::now());
        (0..50)
            .map(|_| {
                h.record_start(t, StartKind::Automatic);
                match decide(&spec, &mut h, Exit::code(1), t) {
                    Decision::Restart { delay } => delay,
                    d => panic!("{d:?}"),
                }
            })
            .collect::<Vec<_>>()
    };
    let a = delays(1);
    assert!(a.iter().all(|d| (MS(7500)..=SECS(10)).contains(d)), "{a:?}");
    assert!(a.iter().any(|d| *d < MS(9000)) && a.iter().any(|d| *d > MS(9000)), "{a:?}");
    assert_eq!(a, delays(1));
    assert_ne!(a, delays(2));
}
