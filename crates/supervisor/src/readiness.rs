//! When a program counts as ready: the move from `Starting` to `Running`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::event::LogLine;
use crate::notify::NotifyAccess;

/// A probe's future: `true` once the program is ready.
pub type ProbeFuture = Pin<Box<dyn Future<Output = bool> + Send>>;

/// How a program tells that it is ready ([`ProgramSpec::ready`](crate::ProgramSpec::ready)).
/// Until then it is `Starting`: its dependents wait
/// ([`ProgramSpec::after`](crate::ProgramSpec::after)), its start timeout
/// runs ([`ProgramSpec::start_timeout`](crate::ProgramSpec::start_timeout)),
/// its watchdog is not armed yet.
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::Readiness;
///
/// let spawned = Readiness::default(); // ready once spawned
/// let notify = Readiness::notify(); // sd_notify READY=1, from the main pid
/// let fd = Readiness::NotificationFd(3); // a newline on fd 3
/// let line = Readiness::log_line(|l| l.line.bytes.starts_with(b"listening"));
/// let probe = Readiness::probe(Duration::from_millis(100), || async {
///     std::path::Path::new("/run/app/ready").exists()
/// });
/// # let _ = (spawned, notify, fd, line, probe);
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Readiness {
    /// Ready as soon as it is spawned (the default).
    #[default]
    Spawned,
    /// Ready when it sends `READY=1` to the supervisor's notification
    /// socket, whose address it finds in `NOTIFY_SOCKET` (sd_notify).
    /// `access` says whose datagrams are believed. systemd's
    /// `Type=notify`.
    Notify {
        /// Whose datagrams count for this program.
        access: NotifyAccess,
    },
    /// The program gets a pipe on this fd (3 or
    /// above: [`SpecError::NotificationFd`](crate::SpecError::NotificationFd)
    /// otherwise; one past the process's fd limit fails each spawn) and is
    /// ready at the first newline it writes there; the supervisor then
    /// closes its end. End of file before a newline is no readiness (the
    /// start timeout applies). s6's `notification-fd`.
    NotificationFd(i32),
    /// Ready when one of its output lines (any logged fd) matches. A
    /// predicate that panics is not called again: the start timeout then
    /// applies.
    LogLine(LinePredicate),
    /// Ready when the probe's future gives `true`; it is called every
    /// `interval` (the first time after one interval) until then, each
    /// call awaited before the next interval starts. A zero interval is
    /// refused ([`SpecError::ZeroProbeInterval`](crate::SpecError::ZeroProbeInterval));
    /// tokio sleeps at most about 30 years, so a longer one (`Duration::MAX`)
    /// is that.
    Probe {
        /// The wait before each call.
        interval: Duration,
        /// The probe.
        probe: Probe,
    },
}

/// A [`Readiness::LogLine`] test.
#[derive(Clone)]
pub struct LinePredicate(pub(crate) Arc<dyn Fn(&LogLine) -> bool + Send + Sync>);

/// A [`Readiness::Probe`] function.
#[derive(Clone)]
pub struct Probe(pub(crate) Arc<dyn Fn() -> ProbeFuture + Send + Sync>);

impl Readiness {
    /// [`Readiness::Notify`] with [`NotifyAccess::Main`].
    pub fn notify() -> Readiness {
        Readiness::Notify { access: NotifyAccess::Main }
    }

    /// [`Readiness::LogLine`] with `predicate`.
    pub fn log_line(predicate: impl Fn(&LogLine) -> bool + Send + Sync + 'static) -> Readiness {
        Readiness::LogLine(LinePredicate(Arc::new(predicate)))
    }

    /// [`Readiness::Probe`]: `probe()` every `interval` until it gives `true`.
    pub fn probe<F, Fut>(interval: Duration, probe: F) -> Readiness
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        Readiness::Probe { interval, probe: Probe(Arc::new(move || Box::pin(probe()))) }
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Readiness::Spawned => f.write_str("Spawned"),
            Readiness::Notify { access } => f.debug_struct("Notify").field("access", access).finish(),
            Readiness::NotificationFd(fd) => f.debug_tuple("NotificationFd").field(fd).finish(),
            Readiness::LogLine(_) => f.write_str("LogLine(..)"),
            Readiness::Probe { interval, .. } => {
                f.debug_struct("Probe").field("interval", interval).finish_non_exhaustive()
            }
        }
    }
}

impl fmt::Debug for LinePredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinePredicate(..)")
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Probe(..)")
    }
}
