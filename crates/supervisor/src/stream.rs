//! A broadcast subscription that is also a `Stream`.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio_util::sync::ReusableBoxFuture;

/// What [`events`](crate::Supervisor::events) gives: every item sent from the
/// moment of the call, through [`recv`](Self::recv) (as a tokio
/// `broadcast::Receiver`) or as a [`Stream`].
///
/// A subscriber that falls more than the channel's capacity behind loses
/// the oldest items and is told how many: `recv` gives
/// `RecvError::Lagged(n)`, the stream an `Err(Lagged(n))` item; either
/// then goes on with the oldest item kept. The stream ends (and `recv`
/// gives `RecvError::Closed`) once the supervisor's task has ended and
/// every item was taken.
pub struct Subscription<T> {
    /// The receiver while no wait is in flight: items already in the
    /// channel are taken with `try_recv`, no future involved (a burst of
    /// lines costs one channel slot each, nothing more).
    rx: Option<broadcast::Receiver<T>>,
    /// The wait for the next item once the channel was empty; it holds the
    /// receiver until it completes.
    next: ReusableBoxFuture<'static, (Result<T, RecvError>, broadcast::Receiver<T>)>,
}

/// A [`Subscription`]'s stream fell behind and missed this many items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("fell behind: {0} items missed")]
pub struct Lagged(pub u64);

async fn next<T: Clone + Send + 'static>(
    mut rx: broadcast::Receiver<T>,
) -> (Result<T, RecvError>, broadcast::Receiver<T>) {
    let item = rx.recv().await;
    (item, rx)
}

impl<T: Clone + Send + 'static> Subscription<T> {
    pub(crate) fn new(rx: broadcast::Receiver<T>) -> Subscription<T> {
        Subscription { rx: Some(rx), next: ReusableBoxFuture::new(std::future::pending()) }
    }

    /// The next item, as `broadcast::Receiver::recv`.
    ///
    /// # Errors
    ///
    /// `RecvError::Lagged(n)` when `n` items were missed (the next call
    /// gives the oldest item kept); `RecvError::Closed` once the
    /// supervisor's task has ended and every item was taken.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an item is never lost by dropping the future.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        if let Some(rx) = &mut self.rx {
            match rx.try_recv() {
                Ok(item) => return Poll::Ready(Ok(item)),
                Err(TryRecvError::Lagged(n)) => return Poll::Ready(Err(RecvError::Lagged(n))),
                Err(TryRecvError::Closed) => return Poll::Ready(Err(RecvError::Closed)),
                Err(TryRecvError::Empty) => {
                    let rx = self.rx.take().expect("checked above");
                    self.next.set(next(rx));
                }
            }
        }
        // Not polled again once complete: `rx` is back, and the next wait
        // replaces it.
        let (item, rx) = ready!(self.next.poll(cx));
        self.rx = Some(rx);
        Poll::Ready(item)
    }
}

impl<T: Clone + Send + 'static> Stream for Subscription<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(stream_item(ready!(self.get_mut().poll_recv(cx))))
    }
}

/// A `recv` result as a stream item: a lag an `Err(Lagged)` item, the
/// end of the channel the end of the stream.
#[inline]
pub(crate) fn stream_item<T>(received: Result<T, RecvError>) -> Option<Result<T, Lagged>> {
    match received {
        Ok(item) => Some(Ok(item)),
        Err(RecvError::Lagged(n)) => Some(Err(Lagged(n))),
        Err(RecvError::Closed) => None,
    }
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Subscription(..)")
    }
}
