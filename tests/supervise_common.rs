//! Helpers shared by `supervise.rs` and `supervise_io.rs`.
#![allow(dead_code)]

use std::time::Duration;

use procwire::Command;
use procwire_supervisor::{Backoff, Cause, Event, ProgramSpec, RestartSpec, State, Subscription, Trigger};
use procwire_tests::guard;
use tokio::sync::broadcast::error::RecvError;

pub(crate) fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

pub(crate) fn spec(name: &str, command: Command, backoff: Backoff) -> ProgramSpec {
    let mut restart = RestartSpec::new();
    restart.backoff(backoff);
    let mut spec = ProgramSpec::new(name, command);
    spec.restart(restart);
    spec
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The next event of `program` that `pred` accepts (others skipped).
pub(crate) async fn next(
    rx: &mut Subscription<Event>,
    program: &str,
    pred: impl Fn(&Event) -> bool,
) -> Event {
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
pub(crate) async fn none_within(
    rx: &mut Subscription<Event>,
    program: &str,
    within: Duration,
    pred: impl Fn(&Event) -> bool,
) {
    let found = tokio::time::timeout(within, next(rx, program, pred)).await;
    assert!(found.is_err(), "unexpected event: {:?}", found.unwrap());
}

pub(crate) fn starting(e: &Event) -> bool {
    e.to == State::Starting
}

pub(crate) trait TriggerOf {
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

/// The next event into `to`, with no timer of its own (under paused time
/// a guard's timer would let the clock jump while a child dies).
pub(crate) async fn until(rx: &mut Subscription<Event>, to: State) -> Event {
    loop {
        let e = rx.recv().await.unwrap();
        if e.to == to {
            return e;
        }
    }
}

/// This process's CPU time (user + system), from `getrusage`.
pub(crate) fn cpu_time() -> Duration {
    use nix::sys::resource::{getrusage, UsageWho};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let (u, s) = (usage.user_time(), usage.system_time());
    // (`suseconds_t` is an i32 on macOS.)
    #[allow(clippy::useless_conversion)]
    let micros = (u.tv_sec() + s.tv_sec()) * 1_000_000 + i64::from(u.tv_usec()) + i64::from(s.tv_usec());
    Duration::from_micros(micros as u64)
}
