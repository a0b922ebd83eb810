//! The decision after an exit, as a pure function of (spec, history, exit,
//! now), as OTP's `supervisor.erl` and systemd's `service.c` keep it apart
//! from spawning and killing.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::exit::Exit;
use crate::spec::RestartSpec;

/// What follows an exit.
///
/// ```
/// use tokio::time::Instant;
/// use procwire_supervisor::{decide, Decision, Exit, ExitReason, History, RestartPolicy, RestartSpec, State};
///
/// let mut spec = RestartSpec::new();
/// spec.policy(RestartPolicy::OnFailure);
/// let d = decide(&spec, &mut History::new(), Exit::code(0), Instant::now());
/// assert_eq!(d, Decision::Exit { reason: ExitReason::Policy });
/// assert_eq!(d.state(), State::Exited);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Start again after `delay` (`Backoff`, then `Starting`).
    Restart {
        /// The wait before the next spawn (zero: at once).
        delay: Duration,
    },
    /// Stay down (`Exited`).
    Exit {
        /// Which rule said no.
        reason: ExitReason,
    },
    /// Give up (`Failed`).
    Fail {
        /// Which limit was reached.
        cause: FailCause,
        /// The start limit's [`retry_after`](crate::StartLimit::retry_after),
        /// whichever limit was reached: when set, the program starts again
        /// by itself after it, with a fresh history.
        retry_after: Option<Duration>,
    },
}

/// Why a program stays down after an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitReason {
    /// The restart policy does not restart this kind of exit.
    Policy,
    /// The exit is in the prevent set.
    Prevented,
}

/// Which limit made a program `Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailCause {
    /// Too many starts within the [`StartLimit`](crate::StartLimit)'s interval.
    StartLimit,
    /// Too many quick deaths in a row ([`max_retries`](crate::RestartSpec::max_retries)).
    Retries,
}

/// Who started an incarnation, for [`History::record_start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StartKind {
    /// A start asked for (`start`, `restart`, autostart) or the retry
    /// after `Failed`: it begins a new history.
    Manual,
    /// An automatic restart after [`Decision::Restart`].
    Automatic,
}

/// What the policy remembers of one program: the quick deaths in a row,
/// the current backoff delay, the starts within the start limit's window
/// and the last start.
///
/// The actor calls [`record_start`](Self::record_start) at each spawn
/// attempt (a failed spawn too) and [`decide`] at each exit.
///
/// ```
/// use tokio::time::Instant;
/// use procwire_supervisor::{decide, Decision, Exit, History, RestartSpec, StartKind};
///
/// let (spec, mut history, t) = (RestartSpec::procmon(), History::new(), Instant::now());
/// history.record_start(t, StartKind::Manual);
/// let d = decide(&spec, &mut history, Exit::code(1), t);
/// assert_eq!(d, Decision::Restart { delay: std::time::Duration::from_secs(1) });
/// assert_eq!(history.attempts(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct History {
    attempts: u32,
    delay: Option<Duration>,
    starts: VecDeque<Instant>,
    last_start: Option<Instant>,
    rng: u64,
}

impl Default for History {
    fn default() -> History {
        History::new()
    }
}

impl History {
    /// A program never started.
    pub fn new() -> History {
        History::with_seed(0x9e37_79b9_7f4a_7c15)
    }

    /// A history whose jitter draws come from `seed` (the same seed gives
    /// the same delays; any value works).
    pub fn with_seed(seed: u64) -> History {
        History { attempts: 0, delay: None, starts: VecDeque::new(), last_start: None, rng: seed | 1 }
    }

    /// Notes a spawn attempt at `at`. A [`Manual`](StartKind::Manual) one
    /// clears the history first.
    pub fn record_start(&mut self, at: Instant, kind: StartKind) {
        if kind == StartKind::Manual {
            self.attempts = 0;
            self.delay = None;
            self.starts.clear();
        }
        self.starts.push_back(at);
        self.last_start = Some(at);
    }

    /// Quick deaths in a row since the last stable run or manual start.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The last backoff delay used (before jitter), `None` after a reset.
    pub fn delay(&self) -> Option<Duration> {
        self.delay
    }

    /// When the last incarnation was started.
    pub fn last_start(&self) -> Option<Instant> {
        self.last_start
    }

    /// The starts the start limit may still count, oldest first.
    pub fn recent_starts(&self) -> impl Iterator<Item = Instant> + '_ {
        self.starts.iter().copied()
    }

    /// A uniform draw in `[0, 1)` (xorshift64*).
    fn unit(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What follows `exit`, at `now`, for a program with `spec` and `history`
/// (updated).
///
/// It reads, in this order:
///
/// 1. the exit's [kind](crate::ExitKind), from the success set;
/// 2. the prevent set: a match is [`Decision::Exit`] (`Prevented`);
/// 3. the [`RestartPolicy`](crate::RestartPolicy): no restart for this kind
///    is [`Decision::Exit`] (`Policy`);
/// 4. the uptime (`now` minus the last start): at least `min_uptime`
///    resets the backoff and the delay is [`Backoff::stable`](crate::Backoff::stable);
///    otherwise it is quick death `n` in a row, past
///    [`max_retries`](crate::RestartSpec::max_retries) a
///    [`Decision::Fail`] (`Retries`), else delay `n` of the backoff;
/// 5. the jitter, then the start limit: if `burst` starts already lie
///    within `interval` before the restart would happen,
///    [`Decision::Fail`] (`StartLimit`);
/// 6. otherwise [`Decision::Restart`] with the delay.
///
/// A stable run resets the backoff, not the start limit's count: a program
/// that crashes just after `min_uptime` every time still reaches its start
/// limit.
pub fn decide(spec: &RestartSpec, history: &mut History, exit: Exit, now: Instant) -> Decision {
    let kind = exit.classify(spec.get_success());
    if exit.status().is_some_and(|st| spec.get_prevent().contains(st)) {
        return Decision::Exit { reason: ExitReason::Prevented };
    }
    if !spec.get_policy().restarts(kind) {
        return Decision::Exit { reason: ExitReason::Policy };
    }

    let backoff = spec.get_backoff();
    let uptime = history.last_start.map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
    let base = if uptime >= spec.get_min_uptime() {
        history.attempts = 0;
        history.delay = None;
        backoff.stable()
    } else {
        let n = history.attempts.saturating_add(1);
        if spec.get_max_retries().is_some_and(|max| n > max) {
            return Decision::Fail { cause: FailCause::Retries, retry_after: retry_after(spec) };
        }
        let delay = backoff.delay(n, history.delay);
        history.attempts = n;
        history.delay = Some(delay);
        delay
    };
    let delay = if backoff.jitter() > 0.0 { backoff.jittered(base, history.unit()) } else { base };

    match spec.get_start_limit() {
        // A restart past what the clock can say: no start to count.
        Some(limit) => {
            if let Some(at) = now.checked_add(delay) {
                while history
                    .starts
                    .front()
                    .is_some_and(|&s| at.saturating_duration_since(s) >= limit.interval())
                {
                    history.starts.pop_front();
                }
                if history.starts.len() >= limit.burst() as usize {
                    return Decision::Fail { cause: FailCause::StartLimit, retry_after: limit.retry_after() };
                }
            }
        }
        None => history.starts.clear(),
    }
    Decision::Restart { delay }
}

fn retry_after(spec: &RestartSpec) -> Option<Duration> {
    spec.get_start_limit().and_then(|l| l.retry_after())
}

#[cfg(test)]
#[path = "policy/tests.rs"]
mod tests;
