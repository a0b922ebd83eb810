//! A point in time to wait for, from whichever tokio runtime polls it.
//!
//! tokio's `Sleep` belongs to the timer of the runtime it was made on:
//! polled after that runtime shut down it panics, and polled from another
//! runtime while that one idles it never fires. [`Deadline`] keeps the
//! instant and makes its `Sleep` on the timer of the runtime that polls
//! it, again when that runtime changes, as the pipes and pidfds do with
//! their registrations (`sys/registration.rs`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::runtime::{Handle, Id};
use tokio::time::{Instant, Sleep};

/// A deadline that any tokio runtime can wait for: a `tokio::time::Sleep`
/// that follows the runtime polling it.
///
/// It holds an [`Instant`] and, once polled, a `Sleep` on the timer of the
/// runtime that polled it. A poll from another runtime (the first one shut
/// down, or idle) makes a new `Sleep` there for the same instant, so the
/// deadline neither panics nor waits on a timer nobody drives. A poll from
/// the same runtime costs one `Handle::try_current` more than the `Sleep`
/// itself, and allocates nothing. procwire's stop ladder and the runs of
/// procwire-utils wait with it, so they can finish on another runtime
/// than the one they started on.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use procwire_core::Deadline;
///
/// let deadline = Deadline::after(Duration::from_millis(10));
/// let at = deadline.instant().unwrap();
/// deadline.await;
/// assert!(tokio::time::Instant::now() >= at);
/// assert!(Deadline::after(Duration::MAX).instant().is_none(), "past the clock's end: never");
/// # }
/// ```
#[derive(Debug)]
pub struct Deadline {
    /// `None`: never.
    at: Option<Instant>,
    /// The sleep, and the runtime whose timer it is on.
    sleep: Option<(Pin<Box<Sleep>>, Id)>,
}

impl Deadline {
    /// The deadline `duration` from now (tokio's clock). A duration that
    /// takes it past the clock's end means never.
    pub fn after(duration: Duration) -> Deadline {
        Deadline { at: Instant::now().checked_add(duration), sleep: None }
    }

    /// The deadline at `at`.
    pub fn at(at: Instant) -> Deadline {
        Deadline { at: Some(at), sleep: None }
    }

    /// When it passes; `None` for never.
    pub fn instant(&self) -> Option<Instant> {
        self.at
    }

    /// `Ready` once the deadline has passed; registers `cx` to be woken
    /// then, on the timer of the current runtime. Never `Ready` for a
    /// deadline that is never.
    ///
    /// # Panics
    ///
    /// A first poll, or a poll from another runtime, outside a tokio
    /// runtime or in one without the time driver, as `tokio::time::sleep`
    /// does.
    pub fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(at) = self.at else { return Poll::Pending };
        let here = Handle::try_current().ok().map(|h| h.id());
        let moved = match (&self.sleep, here) {
            (None, _) => true,
            (Some((_, there)), Some(here)) => *there != here,
            // Outside any runtime: the sleep it has, as tokio would.
            (Some(_), None) => false,
        };
        if moved {
            // Outside a runtime this panics with tokio's own message.
            let runtime = here.unwrap_or_else(|| Handle::current().id());
            self.sleep = Some((Box::pin(tokio::time::sleep_until(at)), runtime));
        }
        match &mut self.sleep {
            Some((sleep, _)) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

/// Resolves once the deadline has passed; see
/// [`poll_elapsed`](Deadline::poll_elapsed).
impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_elapsed(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
    }

    #[test]
    fn a_deadline_polled_on_a_runtime_that_shut_down_fires_on_the_next() {
        let a = runtime();
        let mut deadline = {
            let _entered = a.enter();
            Deadline::after(Duration::from_millis(50))
        };
        let pending = a.block_on(std::future::poll_fn(|cx| Poll::Ready(deadline.poll_elapsed(cx))));
        assert!(pending.is_pending());
        drop(a);
        let b = runtime();
        b.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), &mut deadline).await.expect("the deadline fired");
        });
        assert!(Instant::now() >= deadline.instant().unwrap());
    }

    #[test]
    fn never_stays_pending() {
        runtime().block_on(async {
            let mut never = Deadline::after(Duration::MAX);
            assert!(tokio::time::timeout(Duration::from_millis(20), &mut never).await.is_err());
        });
    }
}
