//! What goes wrong: a supervision spec that cannot work ([`SpecError`]),
//! and a command that fails ([`Error`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A supervision setting that cannot work, found when the value is built
/// (a [`Backoff`](crate::Backoff), a [`StartLimit`](crate::StartLimit)) or
/// when settings are checked ([`LogSpec::validate`](crate::LogSpec::validate)).
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::{Backoff, SpecError};
///
/// let err = Backoff::exponential(Duration::from_secs(1), 0.5, Duration::from_secs(10)).unwrap_err();
/// assert_eq!(err, SpecError::FactorBelowOne(0.5));
/// assert_eq!(err.to_string(), "backoff factor 0.5 is below 1: delays would shrink");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A backoff factor below 1 (or not a number): delays would shrink.
    #[error("backoff factor {0} is below 1: delays would shrink")]
    FactorBelowOne(f64),
    /// A backoff whose maximum is below its first delay.
    #[error("backoff maximum {max:?} is below its first delay {first:?}")]
    MaxBelowFirst {
        /// The first delay.
        first: Duration,
        /// The maximum.
        max: Duration,
    },
    /// A jitter fraction outside `0.0..=1.0`.
    #[error("backoff jitter {0} is outside 0..=1")]
    Jitter(f64),
    /// A start limit of zero starts: nothing could ever start.
    #[error("start limit burst is 0: no automatic restart could ever happen")]
    ZeroBurst,
    /// A start limit over a zero interval: it would never count anything.
    #[error("start limit interval is 0")]
    ZeroInterval,
    /// A maximum log line length of zero bytes.
    #[error("maximum log line length is 0")]
    ZeroLineLength,
    /// A notification fd that is negative or one of 0, 1 and 2.
    #[error("notification fd {0} must be 3 or above")]
    NotificationFd(i32),
    /// A readiness probe every zero seconds: it would never let go of the
    /// thread.
    #[error("readiness probe interval is 0")]
    ZeroProbeInterval,
    /// A [`Liveness`](crate::Liveness) check that cannot work: this
    /// setting is zero.
    #[error("liveness check: {0}")]
    Liveness(&'static str),
    /// A stop in [`StopScope::Cgroup`](procwire_core::StopScope::Cgroup)
    /// without a cgroup directory ([`ProgramSpec::cgroup`](crate::ProgramSpec::cgroup)).
    #[error("stop scope Cgroup needs a cgroup directory (ProgramSpec::cgroup)")]
    NoCgroup,
    /// A negative child fd in the log settings.
    #[error("log fd {0} is negative")]
    NegativeFd(i32),
    /// A size, count, duration or factor outside the range it can work
    /// in: the setting, the value given, and the values allowed.
    ///
    /// ```
    /// use procwire_supervisor::{LogSpec, SpecError};
    ///
    /// let err = LogSpec::new().max_line(usize::MAX).validate().unwrap_err();
    /// assert!(matches!(err, SpecError::OutOfRange { setting: "LogSpec::max_line", .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "LogSpec::max_line is 18446744073709551615: allowed 1..=1048576 (1 MiB)"
    /// );
    /// ```
    #[error("{setting} is {value}: allowed {allowed}")]
    OutOfRange {
        /// The setting, as its setter is named.
        setting: &'static str,
        /// The value given.
        value: String,
        /// The values allowed.
        allowed: &'static str,
    },
    /// A setting this platform cannot honour (sd_notify, a watchdog, a
    /// cgroup or a parent-death signal off Linux): refused at `add`,
    /// never ignored. `docs/platforms.md` has the table.
    #[error("{setting} is not supported on {platform}")]
    Unsupported {
        /// The setting, as its setter or variant is named.
        setting: &'static str,
        /// The platform (`"macOS"`, `"FreeBSD"`).
        platform: &'static str,
    },
}

impl SpecError {
    pub(crate) fn out_of_range(
        setting: &'static str,
        value: impl fmt::Debug,
        allowed: &'static str,
    ) -> SpecError {
        SpecError::OutOfRange { setting, value: format!("{value:?}"), allowed }
    }
}

/// What a command can fail with.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No program has this name.
    #[error("no program named {0:?}")]
    UnknownProgram(String),
    /// A program with this name exists already.
    #[error("a program named {0:?} exists already")]
    Duplicate(String),
    /// The supervisor is shutting down (or has shut down): nothing starts.
    #[error("the supervisor is shut down")]
    ShutDown,
    /// The program's settings cannot work.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A start that was asked for could not spawn the program; the
    /// program is in `Backoff` (or wherever its policy sent it) and is
    /// retried as any failed attempt.
    #[error("program {program:?}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why, with the spawn step.
        #[source]
        source: Arc<procwire_core::Error>,
    },
    /// The program has no live process to signal.
    #[error("program {0:?} is not running")]
    NotRunning(String),
    /// The signal could not be sent.
    #[error("program {program:?}: {source}")]
    Signal {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: Arc<procwire_core::Error>,
    },
    /// A program runs [`after`](crate::ProgramSpec::after) a program that
    /// does not exist.
    #[error("program {program:?} runs after {dependency:?}, which does not exist")]
    UnknownDependency {
        /// The program added.
        program: String,
        /// The name it gave.
        dependency: String,
    },
    /// Programs run after each other in a circle: none could ever start.
    #[error("programs run after each other in a circle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// `remove` of a program others run after.
    #[error("program {program:?} is needed by {by:?}: remove that first")]
    Required {
        /// The program.
        program: String,
        /// A program that runs after it.
        by: String,
    },
    /// A program's [`cgroup`](crate::ProgramSpec::cgroup) directory is not
    /// a cgroup v2 directory this process may write.
    #[error("program {program:?}: {source}")]
    Cgroup {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: Arc<procwire_core::CgroupError>,
    },
    /// The sd_notify socket for a program with
    /// [`Readiness::Notify`](crate::Readiness::Notify) could not be made.
    #[error("cannot make the sd_notify socket: {0}")]
    NotifySocket(#[source] Arc<std::io::Error>),
    /// [`Builder::subreaper`](crate::Builder::subreaper) could not make
    /// this process a subreaper (`/proc` not mounted, or not showing this
    /// process; no tokio signal driver): the task resolves to this at once
    /// and nothing starts.
    #[error("cannot reap adopted orphans: {0}")]
    Subreaper(#[source] Arc<std::io::Error>),
    /// The [`Builder::cgroup_root`](crate::Builder::cgroup_root) directory
    /// is not a cgroup v2 directory this process may write: the task
    /// resolves to this at once and nothing starts.
    #[error("cannot make the programs' cgroups: {0}")]
    CgroupRoot(#[source] Arc<procwire_core::CgroupError>),
    /// More automatic restarts than the supervisor's intensity allows: it
    /// stopped every program (what its task resolves to).
    #[error("{restarts} automatic restarts within {period:?}: over the intensity limit, everything stopped")]
    Intensity {
        /// The restarts counted, the last one included.
        restarts: u32,
        /// Within this period.
        period: std::time::Duration,
    },
}

impl Error {
    /// A signal that could not be sent to `program`'s live process: one
    /// that had exited already (reaped by its waiter a moment before the
    /// actor heard of it) is [`Error::NotRunning`], as the docs say;
    /// anything else is [`Error::Signal`].
    pub(crate) fn signal(program: &str, error: procwire_core::Error) -> Error {
        match error {
            procwire_core::Error::ProcessExitedAlready => Error::NotRunning(program.into()),
            error => Error::Signal { program: program.into(), source: Arc::new(error) },
        }
    }
}
