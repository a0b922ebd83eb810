//! How long to wait before each automatic restart of a program that keeps
//! dying young, with presets that reproduce the anchors' sequences exactly.

use std::time::Duration;

use crate::error::SpecError;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The delays before automatic restarts after runs shorter than
/// [`min_uptime`](crate::RestartSpec::min_uptime).
///
/// Delay `n` is the wait before the restart that follows the `n`-th quick
/// death in a row (`n` counts from 1). A run of at least `min_uptime`
/// resets the count: the restart after it waits the
/// [`stable`](Self::with_stable) delay (zero unless set), and the next
/// quick death waits [`first`](Self::first) again.
///
/// | constructor | delay `n` |
/// |---|---|
/// | [`exponential(first, factor, max)`](Self::exponential) | `min(first * factor^(n-1), max)`, each step from the one before |
/// | [`linear(step, max)`](Self::linear) | `min(n * step, max)` |
/// | [`growing()`](Self::growing) | the default: 1 s doubling to 300 s, and 1 s after a stable run |
/// | [`procmon()`](Self::procmon) | 1 s doubling to 3600 s |
/// | [`supervisord()`](Self::supervisord) | `n` seconds, no cap |
/// | [`systemd(sec, steps, max)`](Self::systemd) | `sec * (max / sec)^((n-1) / steps)` for `n <= steps`, then `max` |
/// | [`pm2(first)`](Self::pm2) | `floor(min(15 s, prev * 1.5))` in whole milliseconds |
/// | [`fixed(delay)`](Self::fixed), [`none()`](Self::none) | always `delay`, always zero |
///
/// An optional [jitter](Self::with_jitter) shortens each delay by a random
/// fraction, so that programs that die together do not restart together;
/// `max` stays a true maximum.
///
/// Any delay works, from zero (at once) to `Duration::MAX`: tokio sleeps
/// at most about 30 years, so that is the longest wait in `Backoff`, and
/// a restart past what the clock can say is not counted by a start limit.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::Backoff;
///
/// let secs = |b: Backoff, n| b.delays().take(n).map(|d| d.as_secs_f64()).collect::<Vec<_>>();
/// assert_eq!(secs(Backoff::procmon(), 4), [1.0, 2.0, 4.0, 8.0]);
/// assert_eq!(secs(Backoff::supervisord(), 3), [1.0, 2.0, 3.0]);
/// let systemd = Backoff::systemd(Duration::from_millis(100), 5, Duration::from_millis(3200))?;
/// assert_eq!(secs(systemd, 7), [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 3.2]);
/// let pm2 = Backoff::pm2(Duration::from_millis(100))?;
/// assert_eq!(secs(pm2, 4), [0.1, 0.15, 0.225, 0.337]);
/// # Ok::<(), procwire_supervisor::SpecError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    stable: Duration,
    jitter: f64,
    curve: Curve,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Curve {
    /// Each delay is the one before times `factor`, floored to a multiple
    /// of `grain`, capped at `max`.
    Geometric { factor: f64, grain: Duration },
    /// Delay `n` is `n * first`, capped at `max`.
    Linear,
    /// systemd's `RestartSteps`: a geometric interpolation from `first`
    /// to `max` in `steps` steps, rounded to microseconds as systemd's
    /// `usec_t` is.
    Steps { steps: u32 },
}

impl Backoff {
    /// Every restart at once.
    pub fn none() -> Backoff {
        Backoff::fixed(Duration::ZERO)
    }

    /// Every restart after `delay`.
    pub fn fixed(delay: Duration) -> Backoff {
        Backoff::new(delay, delay, Curve::Geometric { factor: 1.0, grain: Duration::from_nanos(1) })
    }

    /// `first`, then each delay `factor` times the one before, up to `max`.
    /// Any durations work (see above); `factor` is a finite number, at
    /// least 1.
    ///
    /// # Errors
    ///
    /// [`SpecError::FactorBelowOne`] when `factor < 1` (or NaN),
    /// [`SpecError::OutOfRange`] when it is infinite,
    /// [`SpecError::MaxBelowFirst`] when `max < first`.
    pub fn exponential(first: Duration, factor: f64, max: Duration) -> Result<Backoff, SpecError> {
        // NaN compares as nothing: rejected too.
        if factor.partial_cmp(&1.0).is_none_or(|o| o.is_lt()) {
            return Err(SpecError::FactorBelowOne(factor));
        }
        if factor.is_infinite() {
            return Err(SpecError::out_of_range(
                "Backoff::exponential factor",
                factor,
                "a finite number, at least 1",
            ));
        }
        check_max(first, max)?;
        Ok(Backoff::new(first, max, Curve::Geometric { factor, grain: Duration::from_nanos(1) }))
    }

    /// `n * step` before the `n`-th restart in a row, up to `max`.
    ///
    /// # Errors
    ///
    /// [`SpecError::MaxBelowFirst`] when `max < step`.
    pub fn linear(step: Duration, max: Duration) -> Result<Backoff, SpecError> {
        check_max(step, max)?;
        Ok(Backoff::new(step, max, Curve::Linear))
    }

    /// The default ([`RestartSpec::new`](crate::RestartSpec::new)): 1 s
    /// after the first quick death, doubling, capped at 5 minutes, and 1 s
    /// after a stable run. A
    /// program that always dies quickly is spawned at 0, 1, 3, 7, 15 ...
    /// s; the delays reach 256 s, then stay at 300 s.
    pub fn growing() -> Backoff {
        Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(300),
            Curve::Geometric { factor: 2.0, grain: Duration::from_nanos(1) },
        )
        .with_stable(Duration::from_secs(1))
    }

    /// 1 s, doubling, capped at 3600 s; zero after a stable run. A program
    /// that always dies at once is spawned at 0, 1, 3, 7, 15, 31 s ...; the
    /// delays reach 2048 s, then stay at 3600 s. Twisted procmon's
    /// `minRestartDelay` and `maxRestartDelay`.
    pub fn procmon() -> Backoff {
        Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(3600),
            Curve::Geometric { factor: 2.0, grain: Duration::from_nanos(1) },
        )
    }

    /// `n` seconds before the `n`-th restart in a row, without a cap: a
    /// program that always dies at once is spawned at 0, 1, 3, 6 s ...
    /// [`RestartSpec::supervisord`](crate::RestartSpec::supervisord) adds
    /// the limit that makes it `Failed` there
    /// ([`max_retries(Some(3))`](crate::RestartSpec::max_retries)).
    /// supervisord's BACKOFF delays.
    pub fn supervisord() -> Backoff {
        Backoff::new(Duration::from_secs(1), Duration::MAX, Curve::Linear)
    }

    /// Delay `n` is `restart_sec * (max / restart_sec)^((n-1) / steps)`
    /// while `n <= steps`, then `max`; with `steps == 0` every delay is
    /// `restart_sec`. Delays are truncated to whole microseconds. The
    /// [stable](Self::with_stable) delay is `restart_sec` too, so every
    /// restart waits at least that.
    ///
    /// `systemd(100 ms, 5, 3.2 s)`: 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 3.2 s ...
    ///
    /// systemd's `RestartSec=`, `RestartSteps=` and `RestartMaxDelaySec=`,
    /// to the microsecond.
    ///
    /// # Errors
    ///
    /// [`SpecError::MaxBelowFirst`] when `max < restart_sec`.
    pub fn systemd(restart_sec: Duration, steps: u32, max: Duration) -> Result<Backoff, SpecError> {
        check_max(restart_sec, max)?;
        Ok(Backoff::new(restart_sec, max, Curve::Steps { steps }).with_stable(restart_sec))
    }

    /// `first`, then each delay 1.5 times the one before, floored to
    /// whole milliseconds, capped at 15 s: `floor(min(15000, prev * 1.5))`
    /// ms. `pm2(100 ms)`: 100, 150, 225, 337, 505, 757, 1135, 1702, 2553,
    /// 3829, 5743, 8614, 12921, 15000 ms ... pm2's
    /// `exp_backoff_restart_delay`.
    ///
    /// # Errors
    ///
    /// [`SpecError::MaxBelowFirst`] when `first` is over the 15 s cap.
    pub fn pm2(first: Duration) -> Result<Backoff, SpecError> {
        let max = Duration::from_secs(15);
        check_max(first, max)?;
        Ok(Backoff::new(first, max, Curve::Geometric { factor: 1.5, grain: Duration::from_millis(1) }))
    }

    /// Shortens each delay by a random fraction of it, up to `fraction`
    /// (`0.0..=1.0`): the delay is scaled by a factor drawn uniformly from
    /// `[1 - fraction, 1]`. The sequence itself ([`delays`](Self::delays))
    /// is unchanged; only the wait is.
    ///
    /// # Errors
    ///
    /// [`SpecError::Jitter`] outside `0.0..=1.0`.
    pub fn with_jitter(mut self, fraction: f64) -> Result<Backoff, SpecError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(SpecError::Jitter(fraction));
        }
        self.jitter = fraction;
        Ok(self)
    }

    /// The delay of the restart that follows a run of at least
    /// `min_uptime` (zero unless set; [`systemd`](Self::systemd) sets it
    /// to `restart_sec`, [`growing`](Self::growing) to 1 s).
    pub fn with_stable(mut self, delay: Duration) -> Backoff {
        self.stable = delay;
        self
    }

    /// The delay after the first quick death.
    pub fn first(&self) -> Duration {
        self.first
    }

    /// The longest delay ([`Duration::MAX`] for [`supervisord`](Self::supervisord),
    /// which has no cap).
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The ratio between one delay and the next before the cap, `None` for
    /// [`linear`](Self::linear) delays (for [`systemd`](Self::systemd),
    /// `(max / restart_sec)^(1 / steps)`).
    pub fn factor(&self) -> Option<f64> {
        match self.curve {
            Curve::Geometric { factor, .. } => Some(factor),
            Curve::Linear => None,
            Curve::Steps { steps } if steps == 0 || self.first.is_zero() => Some(1.0),
            Curve::Steps { steps } => {
                Some((self.max.as_secs_f64() / self.first.as_secs_f64()).powf(1.0 / f64::from(steps)))
            }
        }
    }

    /// The jitter fraction (0 when none).
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The delay after a run of at least `min_uptime`.
    pub fn stable(&self) -> Duration {
        self.stable
    }

    /// The delays before restarts 1, 2, 3 ... in a row, without jitter.
    pub fn delays(&self) -> impl Iterator<Item = Duration> + '_ {
        let mut prev = None;
        (1..=u32::MAX).map(move |n| {
            let d = self.delay(n, prev);
            prev = Some(d);
            d
        })
    }

    fn new(first: Duration, max: Duration, curve: Curve) -> Backoff {
        Backoff { first, max, stable: Duration::ZERO, jitter: 0.0, curve }
    }

    /// Delay `n` (from 1), given delay `n - 1` (`None` for the first).
    pub(crate) fn delay(&self, n: u32, prev: Option<Duration>) -> Duration {
        match self.curve {
            Curve::Geometric { factor, grain } => match prev {
                None => self.first,
                Some(prev) => {
                    let next = prev.as_nanos() as f64 * factor;
                    if next >= self.max.as_nanos() as f64 {
                        self.max
                    } else {
                        // `as` truncates: the floor of a positive number;
                        // never below `first` (pm2's whole milliseconds
                        // would floor a first delay under 1 ms to 0).
                        let next = next as u128;
                        from_nanos(next - next % grain.as_nanos().max(1)).max(self.first).min(self.max)
                    }
                }
            },
            Curve::Linear => self.first.saturating_mul(n).min(self.max),
            Curve::Steps { steps } => {
                if n <= 1 || steps == 0 || self.first.is_zero() || self.first >= self.max {
                    self.first
                } else if n > steps {
                    self.max
                } else {
                    let (first, max) = (self.first.as_nanos() as f64, self.max.as_nanos() as f64);
                    let exact = first * (max / first).powf(f64::from(n - 1) / f64::from(steps));
                    let micros = exact / 1_000.0;
                    // systemd truncates its `long double` to `usec_t`. Where
                    // the f64 lands within rounding noise of a whole
                    // microsecond (32^0.6 = 7.999...), the long double is
                    // on it too: take it, or 0.8 s would come out 0.799999.
                    let nearest = micros.round();
                    let micros =
                        if (micros - nearest).abs() <= micros * 1e-12 { nearest } else { micros.floor() };
                    from_nanos(micros as u128 * 1_000).clamp(self.first, self.max)
                }
            }
        }
    }

    /// `delay` shortened by the jitter, `unit` being uniform in `[0, 1)`.
    pub(crate) fn jittered(&self, delay: Duration, unit: f64) -> Duration {
        if self.jitter == 0.0 {
            return delay;
        }
        let cut = (delay.as_nanos() as f64 * self.jitter * unit) as u128;
        from_nanos(delay.as_nanos().saturating_sub(cut))
    }
}

fn check_max(first: Duration, max: Duration) -> Result<(), SpecError> {
    if max < first {
        Err(SpecError::MaxBelowFirst { first, max })
    } else {
        Ok(())
    }
}

fn from_nanos(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % NANOS_PER_SEC) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(b: &Backoff, n: usize) -> Vec<u128> {
        b.delays().take(n).map(|d| d.as_millis()).collect()
    }

    #[test]
    fn procmon_caps_at_3600_after_2048() {
        let d: Vec<u64> = Backoff::procmon().delays().take(14).map(|d| d.as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]);
    }

    #[test]
    fn pm2_floors_each_step_to_whole_milliseconds() {
        let b = Backoff::pm2(Duration::from_millis(100)).unwrap();
        let want = [100, 150, 225, 337, 505, 757, 1135, 1702, 2553, 3829, 5743, 8614, 12921, 15000, 15000];
        assert_eq!(ms(&b, want.len()), want);
    }

    #[test]
    fn systemd_steps_then_max_and_degenerate_forms() {
        let b = Backoff::systemd(Duration::from_millis(100), 5, Duration::from_millis(3200)).unwrap();
        assert_eq!(ms(&b, 8), [100, 200, 400, 800, 1600, 3200, 3200, 3200]);
        assert_eq!(b.stable(), Duration::from_millis(100));
        assert!((b.factor().unwrap() - 2.0).abs() < 1e-12);
        // Non-round ratios land on whole microseconds.
        let b = Backoff::systemd(Duration::from_secs(1), 3, Duration::from_secs(10)).unwrap();
        let us: Vec<u128> = b.delays().take(4).map(|d| d.as_micros()).collect();
        assert_eq!(us, [1_000_000, 2_154_434, 4_641_588, 10_000_000]);
        // No steps: RestartSec every time, as systemd does.
        let b = Backoff::systemd(Duration::from_millis(100), 0, Duration::from_secs(1)).unwrap();
        assert_eq!(ms(&b, 3), [100, 100, 100]);
    }

    #[test]
    fn linear_exponential_fixed() {
        let b = Backoff::linear(Duration::from_secs(1), Duration::from_secs(3)).unwrap();
        assert_eq!(ms(&b, 4), [1000, 2000, 3000, 3000]);
        let b = Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_millis(1600)).unwrap();
        assert_eq!(ms(&b, 7), [100, 200, 400, 800, 1600, 1600, 1600]);
        assert_eq!(ms(&Backoff::fixed(Duration::from_millis(7)), 3), [7, 7, 7]);
        assert_eq!(ms(&Backoff::none(), 2), [0, 0]);
        assert_eq!(ms(&Backoff::supervisord(), 3), [1000, 2000, 3000]);
    }

    #[test]
    fn bad_input_is_typed() {
        let (s, m) = (Duration::from_secs(1), Duration::from_secs(2));
        assert_eq!(Backoff::exponential(s, 0.9, m), Err(SpecError::FactorBelowOne(0.9)));
        assert!(matches!(Backoff::exponential(s, f64::NAN, m), Err(SpecError::FactorBelowOne(_))));
        assert_eq!(Backoff::exponential(m, 2.0, s), Err(SpecError::MaxBelowFirst { first: m, max: s }));
        assert_eq!(Backoff::linear(m, s), Err(SpecError::MaxBelowFirst { first: m, max: s }));
        assert!(Backoff::systemd(m, 3, s).is_err());
        assert!(Backoff::pm2(Duration::from_secs(16)).is_err());
        assert_eq!(Backoff::none().with_jitter(1.5), Err(SpecError::Jitter(1.5)));
        assert!(Backoff::none().with_jitter(f64::NAN).is_err());
        for fraction in [f64::INFINITY, f64::NEG_INFINITY, -0.1] {
            assert_eq!(Backoff::none().with_jitter(fraction), Err(SpecError::Jitter(fraction)));
        }
        assert!(matches!(
            Backoff::exponential(s, f64::INFINITY, m),
            Err(SpecError::OutOfRange { setting: "Backoff::exponential factor", .. })
        ));
        assert!(matches!(Backoff::exponential(s, f64::NEG_INFINITY, m), Err(SpecError::FactorBelowOne(_))));
    }

    /// Every constructor at 0, 1 ns and `Duration::MAX`, and the largest
    /// finite factor: each delay is computed without a panic, within
    /// `first..=max` (zero for a zero first delay), and never shrinks.
    #[test]
    fn extreme_durations_and_factors_give_delays_in_range() {
        let ds = [Duration::ZERO, Duration::from_nanos(1), Duration::from_secs(1), Duration::MAX];
        let mut all = vec![Backoff::procmon(), Backoff::supervisord()];
        for &first in &ds {
            for &max in ds.iter().filter(|&&m| m >= first) {
                for factor in [1.0, 1.5, f64::MAX] {
                    all.push(Backoff::exponential(first, factor, max).unwrap());
                }
                all.push(Backoff::linear(first, max).unwrap());
                for steps in [0, 1, u32::MAX] {
                    all.push(Backoff::systemd(first, steps, max).unwrap());
                }
            }
            all.push(Backoff::fixed(first).with_stable(first).with_jitter(1.0).unwrap());
            if first <= Duration::from_secs(15) {
                all.push(Backoff::pm2(first).unwrap());
            }
        }
        for b in &all {
            let delays: Vec<Duration> = b.delays().take(80).collect();
            assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{b:?}: {delays:?}");
            assert!(delays.iter().all(|&d| d >= b.first().min(b.max()) && d <= b.max()), "{b:?}");
            let last = b.delay(u32::MAX, delays.last().copied());
            assert!(last <= b.max(), "{b:?}");
            assert!(b.jittered(last, 0.999_999) <= last);
            let _ = b.factor();
        }
    }

    #[test]
    fn jitter_only_shortens() {
        let b = Backoff::fixed(Duration::from_secs(10)).with_jitter(0.25).unwrap();
        assert_eq!(b.jittered(Duration::from_secs(10), 0.0), Duration::from_secs(10));
        assert_eq!(b.jittered(Duration::from_secs(10), 0.5), Duration::from_millis(8750));
        assert!(b.jittered(Duration::from_secs(10), 0.999_999) >= Duration::from_millis(7500));
        let uncapped = Backoff::supervisord().with_jitter(0.5).unwrap();
        assert!(uncapped.jittered(Duration::MAX, 0.999) < Duration::MAX); // no overflow
    }
}
