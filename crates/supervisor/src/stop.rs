//! How a program is stopped.

use std::time::Duration;

use procwire_core::Signal;

/// What the stop ladder signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum StopScope {
    /// The program's own process only (procmon, Horust).
    #[default]
    Process,
    /// The program's process group: it is spawned as a group leader, and
    /// members that outlive it are swept before the next incarnation
    /// (supervisord's `stopasgroup` / `killasgroup`, s6's killpg flag).
    Group,
}

/// The stop ladder: `signal`, then `final_signal` if the program is still
/// alive after `grace`, on the process or its group.
///
/// | setting | default | procmon | supervisord | systemd | pm2 |
/// |---|---|---|---|---|---|
/// | [`signal`](Self::signal) | SIGTERM | SIGTERM | `stopsignal` | `KillSignal=` | SIGINT |
/// | [`grace`](Self::grace) | 5 s | `killTime` 5 s | `stopwaitsecs` 10 s | `TimeoutStopSec=` 90 s | 1.6 s |
/// | [`final_signal`](Self::final_signal) | SIGKILL | SIGKILL | SIGKILL | `FinalKillSignal=` | SIGKILL |
/// | [`scope`](Self::scope) | process | process | `stopasgroup` | `KillMode=` | tree |
///
/// ```
/// use std::time::Duration;
/// use procwire_core::Signal;
/// use procwire_supervisor::{StopPolicy, StopScope};
///
/// let mut stop = StopPolicy::new();
/// stop.signal(Signal::INT).grace(Duration::from_millis(1600)).scope(StopScope::Group);
/// assert_eq!(stop.get_final_signal(), Signal::KILL);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopPolicy {
    signal: Signal,
    grace: Duration,
    final_signal: Signal,
    scope: StopScope,
}

impl Default for StopPolicy {
    fn default() -> StopPolicy {
        StopPolicy::new()
    }
}

impl StopPolicy {
    /// SIGTERM, 5 s, SIGKILL, on the process: procmon's ladder, and
    /// procwire-utils' timeout default.
    pub fn new() -> StopPolicy {
        StopPolicy {
            signal: Signal::TERM,
            grace: Duration::from_secs(5),
            final_signal: Signal::KILL,
            scope: StopScope::Process,
        }
    }

    /// The first signal (procmon sends SIGTERM and cannot be told
    /// otherwise, bug 7).
    pub fn signal(&mut self, signal: Signal) -> &mut StopPolicy {
        self.signal = signal;
        self
    }

    /// How long the program has to exit after the first signal. Zero sends
    /// the final signal at once.
    pub fn grace(&mut self, grace: Duration) -> &mut StopPolicy {
        self.grace = grace;
        self
    }

    /// The signal sent when the grace period is over.
    pub fn final_signal(&mut self, signal: Signal) -> &mut StopPolicy {
        self.final_signal = signal;
        self
    }

    /// The process, or its whole process group.
    pub fn scope(&mut self, scope: StopScope) -> &mut StopPolicy {
        self.scope = scope;
        self
    }

    /// See [`signal`](Self::signal).
    pub fn get_signal(&self) -> Signal {
        self.signal
    }

    /// See [`grace`](Self::grace).
    pub fn get_grace(&self) -> Duration {
        self.grace
    }

    /// See [`final_signal`](Self::final_signal).
    pub fn get_final_signal(&self) -> Signal {
        self.final_signal
    }

    /// See [`scope`](Self::scope).
    pub fn get_scope(&self) -> StopScope {
        self.scope
    }
}
