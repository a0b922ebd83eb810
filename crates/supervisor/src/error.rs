//! Errors in a supervision spec.

use std::fmt;
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
