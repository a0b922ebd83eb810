//! How an incarnation ended, and how the policy reads it.

use std::collections::BTreeSet;

use procwire_core::{ExitStatus, Signal};

/// How an incarnation of a program ended, as the supervisor saw it.
///
/// ```
/// use procwire_core::{ExitStatus, Signal};
/// use procwire_supervisor::{Exit, ExitKind, ExitSet};
///
/// let success = ExitSet::default(); // {0}
/// assert_eq!(Exit::code(0).classify(&success), ExitKind::Clean);
/// assert_eq!(Exit::code(3).classify(&success), ExitKind::Failure);
/// assert_eq!(Exit::signal(Signal::TERM).classify(&success), ExitKind::Clean);
/// assert_eq!(Exit::signal(Signal::KILL).classify(&success), ExitKind::Signal);
/// assert_eq!(Exit::SpawnFailed.classify(&success), ExitKind::Failure);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// The child was reaped with this status.
    Status(ExitStatus),
    /// The program could not be spawned (the actor's event says why); it
    /// counts as an attempt, and as a failure.
    SpawnFailed,
    /// The program did not become ready within its start timeout and was
    /// stopped.
    StartTimeout,
    /// The program missed its watchdog and was stopped.
    Watchdog,
    /// The program failed its [`Liveness`](crate::Liveness) check and was
    /// stopped; read as a missed watchdog ([`ExitKind::Watchdog`]).
    Liveness,
}

impl Exit {
    /// An exit with code `code` (the low 8 bits, as `waitpid` keeps them).
    pub fn code(code: u8) -> Exit {
        Exit::Status(ExitStatus::from_raw(i32::from(code) << 8))
    }

    /// Killed by `signal`.
    pub fn signal(signal: Signal) -> Exit {
        Exit::Status(ExitStatus::from_raw(signal.as_raw()))
    }

    /// The exit's kind: clean when the status is in `success` or the child
    /// was killed by SIGHUP, SIGINT, SIGTERM or SIGPIPE; a failure for any
    /// other exit code or a failed spawn; a signal for any other signal; a
    /// timeout or a watchdog for a stop the supervisor made. As systemd
    /// reads an exit for `Restart=`.
    pub fn classify(&self, success: &ExitSet) -> ExitKind {
        match *self {
            Exit::Status(status) if success.contains(status) => ExitKind::Clean,
            Exit::Status(status) => match status.signal() {
                None => ExitKind::Failure,
                Some(sig) if CLEAN_SIGNALS.contains(&sig) => ExitKind::Clean,
                Some(_) => ExitKind::Signal,
            },
            Exit::SpawnFailed => ExitKind::Failure,
            Exit::StartTimeout => ExitKind::Timeout,
            Exit::Watchdog | Exit::Liveness => ExitKind::Watchdog,
        }
    }

    /// The status, when the child was reaped.
    pub fn status(&self) -> Option<ExitStatus> {
        match *self {
            Exit::Status(status) => Some(status),
            _ => None,
        }
    }
}

/// The signals whose death is clean for a long-running program, as in
/// systemd: SIGHUP, SIGINT, SIGTERM, SIGPIPE.
const CLEAN_SIGNALS: [i32; 4] = [1, 2, 15, 13];

/// The kind of an [`Exit`], which the [`RestartPolicy`](crate::RestartPolicy)
/// reads: the rows of its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitKind {
    /// An exit in the success set, or a death by SIGHUP, SIGINT, SIGTERM or
    /// SIGPIPE.
    Clean,
    /// Any other exit code, or a spawn that failed.
    Failure,
    /// Killed by any other signal (SIGKILL, SIGSEGV, SIGABRT ...).
    Signal,
    /// Not ready within the start timeout.
    Timeout,
    /// A missed watchdog, or a failed [`Liveness`](crate::Liveness) check.
    Watchdog,
}

/// A set of exit codes and signals: a program's success set (the exits
/// that count as clean) or its prevent set (the exits after which it is
/// never restarted). Built through
/// [`RestartSpec`](crate::RestartSpec)'s setters; the default is `{0}`,
/// the success set's default.
///
/// ```
/// use procwire_core::{ExitStatus, Signal};
/// use procwire_supervisor::RestartSpec;
///
/// let mut spec = RestartSpec::new();
/// spec.success_codes([0, 3]).prevent_signals([Signal::USR1]);
/// assert!(spec.get_success().contains(ExitStatus::from_raw(3 << 8)));
/// assert!(spec.get_prevent().contains(ExitStatus::from_raw(10)));
/// assert_eq!(spec.get_prevent().codes().count(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitSet {
    codes: BTreeSet<u8>,
    signals: BTreeSet<Signal>,
}

impl ExitSet {
    /// The empty set.
    pub fn empty() -> ExitSet {
        ExitSet { codes: BTreeSet::new(), signals: BTreeSet::new() }
    }

    /// Whether `status` is an exit with one of the codes, or a death by
    /// one of the signals.
    pub fn contains(&self, status: ExitStatus) -> bool {
        match (status.code(), status.signal()) {
            (Some(code), _) => u8::try_from(code).is_ok_and(|c| self.codes.contains(&c)),
            (None, Some(sig)) => self.signals.iter().any(|s| s.as_raw() == sig),
            (None, None) => false,
        }
    }

    /// The exit codes, in order.
    pub fn codes(&self) -> impl Iterator<Item = u8> + '_ {
        self.codes.iter().copied()
    }

    /// The signals, in order.
    pub fn signals(&self) -> impl Iterator<Item = Signal> + '_ {
        self.signals.iter().copied()
    }

    /// Whether the set holds nothing.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty() && self.signals.is_empty()
    }

    pub(crate) fn set_codes(&mut self, codes: impl IntoIterator<Item = u8>) {
        self.codes = codes.into_iter().collect();
    }

    pub(crate) fn set_signals(&mut self, signals: impl IntoIterator<Item = Signal>) {
        self.signals = signals.into_iter().collect();
    }
}

impl Default for ExitSet {
    /// `{0}`: exit code 0 and nothing else.
    fn default() -> ExitSet {
        let mut set = ExitSet::empty();
        set.codes.insert(0);
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_set_wins_over_signal_rules() {
        let mut success = ExitSet::default();
        success.set_codes([0, 75]);
        success.set_signals([Signal::USR1]);
        assert_eq!(Exit::code(75).classify(&success), ExitKind::Clean);
        assert_eq!(Exit::signal(Signal::USR1).classify(&success), ExitKind::Clean);
        for sig in [Signal::HUP, Signal::INT, Signal::TERM, Signal::PIPE] {
            assert_eq!(Exit::signal(sig).classify(&ExitSet::empty()), ExitKind::Clean, "{sig}");
        }
        assert_eq!(Exit::code(0).classify(&ExitSet::empty()), ExitKind::Failure);
        let segv_core = Exit::Status(ExitStatus::from_raw(11 | 0x80));
        assert_eq!(segv_core.classify(&success), ExitKind::Signal);
        assert_eq!(Exit::StartTimeout.classify(&success), ExitKind::Timeout);
        assert_eq!(Exit::Watchdog.classify(&success), ExitKind::Watchdog);
        assert_eq!(Exit::Watchdog.status(), None);
        assert_eq!(Exit::code(2).status().and_then(|s| s.code()), Some(2));
    }
}
