//! What a program's restart policy is made of.

use std::time::Duration;

use procwire_core::Signal;

use crate::backoff::Backoff;
use crate::error::SpecError;
use crate::exit::{ExitKind, ExitSet};

/// Which exits are followed by an automatic restart.
///
/// | exit kind | `Never` | `Always` | `OnFailure` | `OnAbnormal` |
/// |---|---|---|---|---|
/// | [`Clean`](ExitKind::Clean) | | yes | | |
/// | [`Failure`](ExitKind::Failure) | | yes | yes | |
/// | [`Signal`](ExitKind::Signal) | | yes | yes | yes |
/// | [`Timeout`](ExitKind::Timeout) | | yes | yes | yes |
/// | [`Watchdog`](ExitKind::Watchdog) | | yes | yes | yes |
///
/// `OnWatchdog` restarts after a [`Watchdog`](ExitKind::Watchdog) exit
/// only.
///
/// The prevent set ([`RestartSpec::prevent_codes`]) overrides every column.
/// The values are systemd's `Restart=` ones.
///
/// ```
/// use procwire_supervisor::{ExitKind, RestartPolicy};
///
/// assert!(!RestartPolicy::OnFailure.restarts(ExitKind::Clean));
/// assert!(RestartPolicy::OnAbnormal.restarts(ExitKind::Signal));
/// assert!(!RestartPolicy::OnAbnormal.restarts(ExitKind::Failure));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RestartPolicy {
    /// Never restart.
    Never,
    /// Restart after any exit (the default).
    #[default]
    Always,
    /// Restart unless the exit was clean.
    OnFailure,
    /// Restart after a signal, a timeout or a watchdog, not after an exit
    /// code.
    OnAbnormal,
    /// Restart only after a missed watchdog.
    OnWatchdog,
}

impl RestartPolicy {
    /// Whether an exit of this kind is followed by a restart.
    pub fn restarts(self, kind: ExitKind) -> bool {
        match self {
            RestartPolicy::Never => false,
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => kind != ExitKind::Clean,
            RestartPolicy::OnAbnormal => !matches!(kind, ExitKind::Clean | ExitKind::Failure),
            RestartPolicy::OnWatchdog => kind == ExitKind::Watchdog,
        }
    }
}

/// At most `burst` starts within `interval`: once `burst` starts lie
/// within the interval, the next automatic restart would be one too many,
/// so the program goes to `Failed`. As systemd's `StartLimitBurst=` in
/// `StartLimitIntervalSec=`.
///
/// Counted: the automatic restarts, and the start that began the series,
/// so that 5 in 10 s with no delay spawns exactly 5 times. A manual start
/// (`start`, `restart`, or the retry after
/// [`retry_after`](Self::retry_after)) is never refused and begins a new
/// series: earlier starts no longer count, whoever made them.
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::StartLimit;
///
/// let limit = StartLimit::new(5, Duration::from_secs(10))?.with_retry_after(Duration::from_secs(60));
/// assert_eq!(limit, StartLimit::systemd().with_retry_after(Duration::from_secs(60)));
/// assert_eq!(limit.retry_after(), Some(Duration::from_secs(60)));
/// # Ok::<(), procwire_supervisor::SpecError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartLimit {
    burst: u32,
    interval: Duration,
    retry_after: Option<Duration>,
}

impl StartLimit {
    /// The largest `burst`: the supervisor remembers each start within the
    /// interval, up to `burst` of them (16 bytes each).
    pub const MAX_BURST: u32 = 10_000;

    /// At most `burst` starts within `interval` (1 to
    /// [`MAX_BURST`](Self::MAX_BURST), within any positive interval,
    /// `Duration::MAX` for ever), and no retry once failed.
    ///
    /// # Errors
    ///
    /// [`SpecError::ZeroBurst`], [`SpecError::OutOfRange`] above
    /// [`MAX_BURST`](Self::MAX_BURST), [`SpecError::ZeroInterval`].
    pub fn new(burst: u32, interval: Duration) -> Result<StartLimit, SpecError> {
        if burst == 0 {
            return Err(SpecError::ZeroBurst);
        }
        if burst > StartLimit::MAX_BURST {
            return Err(SpecError::out_of_range("StartLimit burst", burst, "1..=10000"));
        }
        if interval.is_zero() {
            return Err(SpecError::ZeroInterval);
        }
        Ok(StartLimit { burst, interval, retry_after: None })
    }

    /// 5 starts within 10 s, systemd's default.
    pub fn systemd() -> StartLimit {
        StartLimit { burst: 5, interval: Duration::from_secs(10), retry_after: None }
    }

    /// Once `Failed`, start again by itself after `delay`, with a fresh
    /// history. Zero starts again at once; the longest wait is about 30 years (tokio's
    /// longest sleep).
    pub fn with_retry_after(mut self, delay: Duration) -> StartLimit {
        self.retry_after = Some(delay);
        self
    }

    /// The number of starts allowed within [`interval`](Self::interval).
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The window.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The delay after which a `Failed` program starts again, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// Everything the policy reads to decide what follows an exit: the
/// [`RestartPolicy`], the success and prevent sets, `min_uptime`, the
/// [`Backoff`], and the limits that end in `Failed`.
///
/// `&mut self` setters, as [`procwire_core::Command`]'s; the values with
/// rules of their own ([`Backoff`], [`StartLimit`]) are checked when they
/// are built, so a `RestartSpec` is always valid.
///
/// | setting | default | procmon | supervisord | systemd |
/// |---|---|---|---|---|
/// | [`policy`](Self::policy) | `Always` | always | `autorestart` | `Restart=` |
/// | [`success_codes`](Self::success_codes) | `{0}` | - | `exitcodes` | `SuccessExitStatus=` |
/// | [`prevent_codes`](Self::prevent_codes) | `{}` | - | - | `RestartPreventExitStatus=` |
/// | [`min_uptime`](Self::min_uptime) | 10 s | `threshold` | `startsecs` | - |
/// | [`backoff`](Self::backoff) | [`Backoff::growing`] | `min/maxRestartDelay` | BACKOFF | `RestartSec=`, `RestartSteps=` |
/// | [`start_limit`](Self::start_limit) | none | - | - | `StartLimitBurst=` |
/// | [`max_retries`](Self::max_retries) | none | - | `startretries` | - |
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::{Backoff, RestartPolicy, RestartSpec, StartLimit};
///
/// let mut spec = RestartSpec::new();
/// spec.policy(RestartPolicy::OnFailure)
///     .min_uptime(Duration::from_secs(2))
///     .backoff(Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_secs(30))?)
///     .start_limit(Some(StartLimit::systemd()));
/// assert_eq!(spec.get_policy(), RestartPolicy::OnFailure);
/// # Ok::<(), procwire_supervisor::SpecError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RestartSpec {
    policy: RestartPolicy,
    success: ExitSet,
    prevent: ExitSet,
    min_uptime: Duration,
    backoff: Backoff,
    start_limit: Option<StartLimit>,
    max_retries: Option<u32>,
}

impl Default for RestartSpec {
    fn default() -> RestartSpec {
        RestartSpec::new()
    }
}

impl RestartSpec {
    /// The defaults (the table above): restart always; a run shorter than
    /// 10 s is a quick death, and quick deaths in a row wait 1 s, 2 s, 4 s
    /// ... up to 5 minutes ([`Backoff::growing`]); a run of 10 s or more
    /// clears that history and is restarted after 1 s; never give up.
    /// So a program that keeps crashing is never restarted at a fixed
    /// pace, whether it dies at once or after a few seconds.
    ///
    /// Why 10 s: long enough that a program dying of its configuration or
    /// a busy port (within its first seconds) is counted as crashing,
    /// short enough that a service which ran properly and then crashed is
    /// back after 1 s.
    pub fn new() -> RestartSpec {
        RestartSpec {
            policy: RestartPolicy::Always,
            success: ExitSet::default(),
            prevent: ExitSet::empty(),
            min_uptime: Duration::from_secs(10),
            backoff: Backoff::growing(),
            start_limit: None,
            max_retries: None,
        }
    }

    /// Restart always; a run under 1 s is a quick death, quick deaths wait
    /// 1 s doubling to an hour ([`Backoff::procmon`]), a longer run
    /// restarts at once; never give up. Twisted procmon's restarts,
    /// exactly.
    pub fn procmon() -> RestartSpec {
        RestartSpec {
            policy: RestartPolicy::Always,
            success: ExitSet::default(),
            prevent: ExitSet::empty(),
            min_uptime: Duration::from_secs(1),
            backoff: Backoff::procmon(),
            start_limit: None,
            max_retries: None,
        }
    }

    /// Restart unless the exit was clean
    /// ([`OnFailure`](RestartPolicy::OnFailure), with exit code 0 clean);
    /// a run under 1 s is a quick death, quick deaths wait 1, 2, 3 ... s
    /// ([`Backoff::supervisord`]), and the fourth in a row is `Failed`
    /// ([`max_retries(Some(3))`](Self::max_retries)): a program that
    /// always dies at once is spawned at 0, 1, 3, 6 s, then fails. A
    /// clean exit is never restarted, however soon it comes; set
    /// [`RestartPolicy::Always`] to retry those too. supervisord's
    /// defaults.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procwire_supervisor::RestartSpec;
    ///
    /// assert_eq!(RestartSpec::supervisord().get_min_uptime(), Duration::from_secs(1)); // startsecs=1
    /// ```
    pub fn supervisord() -> RestartSpec {
        let mut spec = RestartSpec::new();
        spec.policy(RestartPolicy::OnFailure)
            .min_uptime(Duration::from_secs(1))
            .backoff(Backoff::supervisord())
            .max_retries(Some(3));
        spec
    }

    /// Restart unless the exit was clean
    /// ([`OnFailure`](RestartPolicy::OnFailure)), 100 ms after every
    /// exit, at most 5 starts within 10 s ([`StartLimit::systemd`]):
    /// systemd's defaults for a service with `Restart=on-failure`. For
    /// delays that grow, set [`Backoff::systemd`].
    pub fn systemd() -> RestartSpec {
        let restart_sec = Duration::from_millis(100);
        let mut spec = RestartSpec::new();
        spec.policy(RestartPolicy::OnFailure)
            .backoff(Backoff::fixed(restart_sec).with_stable(restart_sec))
            .start_limit(Some(StartLimit::systemd()));
        spec
    }

    /// Which exits are followed by a restart.
    pub fn policy(&mut self, policy: RestartPolicy) -> &mut RestartSpec {
        self.policy = policy;
        self
    }

    /// The exit codes that count as clean (`{0}` unless set; replaces the
    /// codes, keeps the signals).
    pub fn success_codes(&mut self, codes: impl IntoIterator<Item = u8>) -> &mut RestartSpec {
        self.success.set_codes(codes);
        self
    }

    /// Signals that count as clean besides SIGHUP, SIGINT, SIGTERM and
    /// SIGPIPE, which always do (none unless set).
    pub fn success_signals(&mut self, signals: impl IntoIterator<Item = Signal>) -> &mut RestartSpec {
        self.success.set_signals(signals);
        self
    }

    /// Exit codes after which the program is never restarted, whatever the
    /// policy says (none unless set).
    pub fn prevent_codes(&mut self, codes: impl IntoIterator<Item = u8>) -> &mut RestartSpec {
        self.prevent.set_codes(codes);
        self
    }

    /// Signals after which the program is never restarted (none unless
    /// set).
    pub fn prevent_signals(&mut self, signals: impl IntoIterator<Item = Signal>) -> &mut RestartSpec {
        self.prevent.set_signals(signals);
        self
    }

    /// A run at least this long is stable: it resets the backoff, and the
    /// restart after it waits only [`Backoff::stable`] (10 s unless set;
    /// a shorter run is a quick death). Zero makes
    /// every run stable, so the backoff is never used; `Duration::MAX`
    /// makes none stable.
    pub fn min_uptime(&mut self, min_uptime: Duration) -> &mut RestartSpec {
        self.min_uptime = min_uptime;
        self
    }

    /// The delays before restarts after quick deaths.
    pub fn backoff(&mut self, backoff: Backoff) -> &mut RestartSpec {
        self.backoff = backoff;
        self
    }

    /// A limit on starts within an interval, after which the program is
    /// `Failed` (none unless set).
    pub fn start_limit(&mut self, limit: Option<StartLimit>) -> &mut RestartSpec {
        self.start_limit = limit;
        self
    }

    /// At most this many automatic restarts in a row after runs shorter
    /// than `min_uptime`; the next quick death is `Failed` (none unless
    /// set). A stable run resets the count.
    /// `Some(0)`: the first quick death is `Failed`; `Some(u32::MAX)`
    /// never is (the count stops there).
    pub fn max_retries(&mut self, retries: Option<u32>) -> &mut RestartSpec {
        self.max_retries = retries;
        self
    }

    /// See [`policy`](Self::policy).
    pub fn get_policy(&self) -> RestartPolicy {
        self.policy
    }

    /// The success set.
    pub fn get_success(&self) -> &ExitSet {
        &self.success
    }

    /// The prevent set.
    pub fn get_prevent(&self) -> &ExitSet {
        &self.prevent
    }

    /// See [`min_uptime`](Self::min_uptime).
    pub fn get_min_uptime(&self) -> Duration {
        self.min_uptime
    }

    /// See [`backoff`](Self::backoff).
    pub fn get_backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// See [`start_limit`](Self::start_limit).
    pub fn get_start_limit(&self) -> Option<StartLimit> {
        self.start_limit
    }

    /// See [`max_retries`](Self::max_retries).
    pub fn get_max_retries(&self) -> Option<u32> {
        self.max_retries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_limit_rejects_zero_and_a_burst_it_cannot_remember() {
        assert_eq!(StartLimit::new(0, Duration::from_secs(1)), Err(SpecError::ZeroBurst));
        assert_eq!(StartLimit::new(1, Duration::ZERO), Err(SpecError::ZeroInterval));
        for burst in [StartLimit::MAX_BURST + 1, u32::MAX] {
            assert_eq!(
                StartLimit::new(burst, Duration::MAX),
                Err(SpecError::OutOfRange {
                    setting: "StartLimit burst",
                    value: burst.to_string(),
                    allowed: "1..=10000"
                })
            );
        }
        for (burst, interval) in [(1, Duration::from_nanos(1)), (StartLimit::MAX_BURST, Duration::MAX)] {
            assert_eq!(
                StartLimit::new(burst, interval).map(|l| (l.burst(), l.interval())),
                Ok((burst, interval))
            );
        }
    }

    #[test]
    fn restart_table() {
        use ExitKind::*;
        let kinds = [Clean, Failure, Signal, Timeout, Watchdog];
        let row = |p: RestartPolicy| kinds.map(|k| p.restarts(k));
        assert_eq!(row(RestartPolicy::Never), [false; 5]);
        assert_eq!(row(RestartPolicy::Always), [true; 5]);
        assert_eq!(row(RestartPolicy::OnFailure), [false, true, true, true, true]);
        assert_eq!(row(RestartPolicy::OnAbnormal), [false, false, true, true, true]);
        assert_eq!(row(RestartPolicy::OnWatchdog), [false, false, false, false, true]);
    }
}
