//! Whether a running program is still alive in the sense that matters: a
//! check that keeps running after it is ready, for programs that do not
//! speak the watchdog protocol.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::incarnation::Report;
use crate::readiness::Probe;

/// A liveness check ([`ProgramSpec::liveness`](crate::ProgramSpec::liveness)):
/// once the program is `Running`, `probe()` is called every `interval`
/// (the first time one interval after it became ready), each call given
/// `timeout`; a call that gives `false`, runs out of time or panics is a
/// failure, one that gives `true` resets the count. After `failures`
/// failures in a row the supervisor stops the program through its stop
/// ladder ([`Cause::LivenessFailed`](crate::Cause::LivenessFailed)) and
/// the restart policy reads the exit as a missed watchdog
/// ([`Exit::Liveness`](crate::Exit::Liveness)). The defaults: every
/// 10 s, 1 s each, 3 in a row. As Kubernetes' `livenessProbe`, with its
/// defaults.
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::Liveness;
///
/// let check = Liveness::new(|| async {
///     tokio::net::TcpStream::connect("127.0.0.1:8080").await.is_ok()
/// })
/// .interval(Duration::from_secs(5))
/// .failures(2);
/// assert_eq!(check.get_timeout(), Duration::from_secs(1));
/// ```
#[derive(Clone, Debug)]
pub struct Liveness {
    interval: Duration,
    timeout: Duration,
    failures: u32,
    probe: Probe,
}

impl Liveness {
    /// A check that calls `probe` every 10 s, each call given 1 s; 3
    /// failures in a row stop the program.
    pub fn new<F, Fut>(probe: F) -> Liveness
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        Liveness {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            failures: 3,
            probe: Probe(Arc::new(move || Box::pin(probe()))),
        }
    }

    /// The wait before each call (not zero: refused at `add` with
    /// [`SpecError::Liveness`](crate::SpecError::Liveness)).
    pub fn interval(mut self, interval: Duration) -> Liveness {
        self.interval = interval;
        self
    }

    /// How long one call may take (not zero).
    pub fn timeout(mut self, timeout: Duration) -> Liveness {
        self.timeout = timeout;
        self
    }

    /// How many failures in a row stop the program (at least one).
    pub fn failures(mut self, failures: u32) -> Liveness {
        self.failures = failures;
        self
    }

    /// See [`interval`](Self::interval).
    pub fn get_interval(&self) -> Duration {
        self.interval
    }

    /// See [`timeout`](Self::timeout).
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// See [`failures`](Self::failures).
    pub fn get_failures(&self) -> u32 {
        self.failures
    }

    /// Which setting cannot work, if any.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.interval.is_zero() {
            return Err("interval is 0");
        }
        if self.timeout.is_zero() {
            return Err("timeout is 0");
        }
        if self.failures == 0 {
            return Err("failures is 0");
        }
        Ok(())
    }

    /// Runs the check for one incarnation until it fails `failures` times
    /// in a row, then tells the actor and ends.
    pub(crate) async fn run(
        self,
        program: Arc<str>,
        incarnation: u64,
        reports: mpsc::UnboundedSender<Report>,
    ) {
        let mut failed = 0;
        loop {
            tokio::time::sleep(self.interval).await;
            let mut probe = (self.probe.0)();
            // A probe that panics has failed (and is not polled again).
            let call = std::future::poll_fn(|cx| {
                match std::panic::catch_unwind(AssertUnwindSafe(|| probe.as_mut().poll(cx))) {
                    Ok(polled) => polled,
                    Err(_) => Poll::Ready(false),
                }
            });
            let alive = matches!(tokio::time::timeout(self.timeout, call).await, Ok(true));
            failed = if alive { 0 } else { failed + 1 };
            if failed >= self.failures {
                let _ = reports.send(Report::LivenessFailed { program, incarnation, failures: failed });
                return;
            }
        }
    }
}
