//! The states of a supervised program and every transition between them.
//! The transition table is on [`State`], so that it is in the rendered
//! documentation; a unit test checks it against [`State::next`].

use crate::policy::Decision;

/// Where a supervised program is, and every transition between states.
///
/// [`State::next`] is this table, and a unit test reads the table below
/// from this file and checks both against each other, both ways: a row
/// missing from the code or a transition missing from the table fails it.
/// An input not listed for a state changes nothing (`None`): starting a
/// running program, stopping a stopped one, any command while `Stopping`
/// (the actor remembers what to do once stopped), anything once `Removed`.
///
/// | from | input | to |
/// |---|---|---|
/// | Stopped | Start | Starting |
/// | Stopped | Restart | Starting |
/// | Stopped | Remove | Removed |
/// | Stopped | Blocked | Waiting |
/// | Waiting | Unblocked | Starting |
/// | Waiting | Stop | Stopped |
/// | Waiting | Remove | Removed |
/// | Starting | Ready | Running |
/// | Starting | Exited(Restart) | Backoff |
/// | Starting | Exited(Exit) | Exited |
/// | Starting | Exited(Fail) | Failed |
/// | Starting | StartTimeout | Stopping |
/// | Starting | Stop | Stopping |
/// | Starting | Restart | Stopping |
/// | Starting | Remove | Stopping |
/// | Running | Exited(Restart) | Backoff |
/// | Running | Exited(Exit) | Exited |
/// | Running | Exited(Fail) | Failed |
/// | Running | WatchdogMissed | Stopping |
/// | Running | Stop | Stopping |
/// | Running | Restart | Stopping |
/// | Running | Remove | Stopping |
/// | Stopping | Stopped(Stay) | Stopped |
/// | Stopping | Stopped(Start) | Starting |
/// | Stopping | Stopped(Remove) | Removed |
/// | Stopping | Exited(Restart) | Backoff |
/// | Stopping | Exited(Exit) | Exited |
/// | Stopping | Exited(Fail) | Failed |
/// | Backoff | Timer | Starting |
/// | Backoff | Blocked | Waiting |
/// | Backoff | Start | Starting |
/// | Backoff | Restart | Starting |
/// | Backoff | Stop | Stopped |
/// | Backoff | Remove | Removed |
/// | Exited | Start | Starting |
/// | Exited | Blocked | Waiting |
/// | Exited | Restart | Starting |
/// | Exited | Stop | Stopped |
/// | Exited | Remove | Removed |
/// | Failed | Timer | Starting |
/// | Failed | Blocked | Waiting |
/// | Failed | Start | Starting |
/// | Failed | Restart | Starting |
/// | Failed | Stop | Stopped |
/// | Failed | Remove | Removed |
///
/// Notes on the rows:
///
/// - A spawn error is `Starting` + `Exited(..)` with
///   [`Exit::SpawnFailed`](crate::Exit::SpawnFailed): it counts as an
///   attempt and usually leads to `Backoff`.
/// - `Stopping` + `Exited(..)` ends a stop that no command asked for (a
///   start timeout, a missed watchdog): the exit is decided as any other.
///   A stop a command asked for ends with `Stopped(..)` instead, and never
///   restarts by itself.
/// - `Backoff` + `Stop` / `Remove` cancel the timer: no spawn follows;
///   `Failed` + `Timer` is the start limit's `retry_after`.
/// - `restart` on a stopped, exited, failed or backing-off program starts
///   it at once, as a manual start.
/// - `Blocked` is any start (a command, a timer, a strategy) of a program
///   whose dependencies ([`after`](crate::ProgramSpec::after)) are not all
///   `Running`: it waits, and `Unblocked` starts it once they are.
///
/// # Example
///
/// ```
/// use procwire_supervisor::{AfterStop, Input, State};
///
/// assert_eq!(State::Running.next(Input::Stop), Some(State::Stopping));
/// assert_eq!(State::Stopping.next(Input::Stopped(AfterStop::Stay)), Some(State::Stopped));
/// assert_eq!(State::Stopped.next(Input::Stop), None); // already stopped
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Not running, and will not start by itself.
    Stopped,
    /// Asked to start, waiting for the programs it runs
    /// [`after`](crate::ProgramSpec::after) to be `Running`.
    Waiting,
    /// Spawned (or being spawned), not ready yet.
    Starting,
    /// Ready (at once, for a program without a readiness protocol).
    Running,
    /// The stop ladder is running.
    Stopping,
    /// Waiting for the delay before an automatic restart.
    Backoff,
    /// Ended, and the policy says it stays down.
    Exited,
    /// Gave up after a limit; starts again only when asked, or after the
    /// start limit's `retry_after`.
    Failed,
    /// Gone from the supervisor.
    Removed,
}

/// What happened to a program, for [`State::next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// `start` (or autostart).
    Start,
    /// `stop`.
    Stop,
    /// `restart`: stop, then start at once, not counted as a failure.
    Restart,
    /// `remove`.
    Remove,
    /// The program is ready.
    Ready,
    /// The start timeout passed before it was ready.
    StartTimeout,
    /// A watchdog ping did not come in time.
    WatchdogMissed,
    /// The incarnation ended (or its spawn failed) and the policy decided.
    Exited(Decision),
    /// A stop that was asked for is complete (every process reaped).
    Stopped(AfterStop),
    /// The backoff delay or the `retry_after` delay passed.
    Timer,
    /// A start, while a dependency is not `Running`.
    Blocked,
    /// Every dependency is `Running` now.
    Unblocked,
}

/// What a stop asked for leads to once complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AfterStop {
    /// Stay stopped (`stop`).
    Stay,
    /// Start again at once (`restart`).
    Start,
    /// Leave the supervisor (`remove`).
    Remove,
}

impl Decision {
    /// The state this decision leads to: `Backoff`, `Exited` or `Failed`.
    /// (Here, beside the states, so that the policy needs none of them.)
    pub fn state(&self) -> State {
        match self {
            Decision::Restart { .. } => State::Backoff,
            Decision::Exit { .. } => State::Exited,
            Decision::Fail { .. } => State::Failed,
        }
    }
}

impl State {
    /// The state after `input`, or `None` when `input` changes nothing
    /// here; the table in the module documentation.
    pub fn next(self, input: Input) -> Option<State> {
        use Input as I;
        use State as S;
        Some(match (self, input) {
            (S::Starting | S::Running | S::Stopping, I::Exited(decision)) => decision.state(),
            (S::Starting, I::Ready) => S::Running,
            (S::Starting, I::StartTimeout) | (S::Running, I::WatchdogMissed) => S::Stopping,
            (S::Starting | S::Running, I::Stop | I::Restart | I::Remove) => S::Stopping,
            (S::Stopping, I::Stopped(AfterStop::Stay)) => S::Stopped,
            (S::Stopping, I::Stopped(AfterStop::Start)) => S::Starting,
            (S::Stopping, I::Stopped(AfterStop::Remove)) => S::Removed,
            (S::Backoff | S::Failed, I::Timer) => S::Starting,
            (S::Stopped | S::Backoff | S::Exited | S::Failed, I::Start | I::Restart) => S::Starting,
            (S::Backoff | S::Exited | S::Failed, I::Stop) => S::Stopped,
            (S::Stopped | S::Backoff | S::Exited | S::Failed | S::Waiting, I::Remove) => S::Removed,
            (S::Stopped | S::Backoff | S::Exited | S::Failed, I::Blocked) => S::Waiting,
            (S::Waiting, I::Unblocked) => S::Starting,
            (S::Waiting, I::Stop) => S::Stopped,
            _ => return None,
        })
    }

    /// Whether a process of this program may be alive (`Starting`,
    /// `Running`, `Stopping`).
    pub fn is_live(self) -> bool {
        matches!(self, State::Starting | State::Running | State::Stopping)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use super::*;
    use crate::policy::{ExitReason, FailCause};

    const STATES: [State; 9] = [
        State::Stopped,
        State::Waiting,
        State::Starting,
        State::Running,
        State::Stopping,
        State::Backoff,
        State::Exited,
        State::Failed,
        State::Removed,
    ];

    fn inputs() -> Vec<(&'static str, Input)> {
        let restart = Decision::Restart { delay: Duration::from_millis(5) };
        let exit = Decision::Exit { reason: ExitReason::Policy };
        let fail = Decision::Fail { cause: FailCause::StartLimit, retry_after: None };
        vec![
            ("Start", Input::Start),
            ("Stop", Input::Stop),
            ("Restart", Input::Restart),
            ("Remove", Input::Remove),
            ("Ready", Input::Ready),
            ("StartTimeout", Input::StartTimeout),
            ("WatchdogMissed", Input::WatchdogMissed),
            ("Exited(Restart)", Input::Exited(restart)),
            ("Exited(Exit)", Input::Exited(exit)),
            ("Exited(Fail)", Input::Exited(fail)),
            ("Stopped(Stay)", Input::Stopped(AfterStop::Stay)),
            ("Stopped(Start)", Input::Stopped(AfterStop::Start)),
            ("Stopped(Remove)", Input::Stopped(AfterStop::Remove)),
            ("Timer", Input::Timer),
            ("Blocked", Input::Blocked),
            ("Unblocked", Input::Unblocked),
        ]
    }

    /// The documented rows, from `State`'s documentation in this file.
    fn table() -> BTreeSet<(String, String, String)> {
        include_str!("state.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("/// | "))
            .map(|row| row.trim_end_matches(" |").split(" | ").map(str::to_owned).collect::<Vec<_>>())
            .filter(|cells| cells.len() == 3 && cells[0] != "from" && !cells[0].starts_with("---"))
            .map(|c| (c[0].clone(), c[1].clone(), c[2].clone()))
            .collect()
    }

    #[test]
    fn code_matches_the_documented_table() {
        let documented = table();
        assert_eq!(documented.len(), 45);
        let mut code = BTreeSet::new();
        for from in STATES {
            for (name, input) in inputs() {
                if let Some(to) = from.next(input) {
                    code.insert((format!("{from:?}"), name.to_owned(), format!("{to:?}")));
                }
            }
        }
        let missing: Vec<_> = documented.difference(&code).collect();
        let undocumented: Vec<_> = code.difference(&documented).collect();
        assert!(missing.is_empty() && undocumented.is_empty(), "{missing:?} {undocumented:?}");
    }

    #[test]
    fn removed_is_final_and_live_states() {
        for (_, input) in inputs() {
            assert_eq!(State::Removed.next(input), None);
        }
        let live: Vec<State> = STATES.into_iter().filter(|s| s.is_live()).collect();
        assert_eq!(live, [State::Starting, State::Running, State::Stopping]);
    }
}
