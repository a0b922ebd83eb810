//! A driver whose protocol queues what happens, read as a `Stream`: the
//! engine of [`ProcessEvents`](crate::ProcessEvents) and
//! [`ProcessLines`](crate::ProcessLines).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use procwire_core::Error;

use crate::driver::Driver;
use crate::protocol::ProcessProtocol;
use crate::transport::Transport;

/// A protocol that queues what happens, for [`Queued`] to hand out.
pub(crate) trait Queue: ProcessProtocol {
    /// What it queues.
    type Item;

    /// Its queue.
    fn queue(&mut self) -> &mut VecDeque<Self::Item>;
}

/// A driver whose protocol queues items, read as a stream: the engine of
/// the event and line streams. The child's output is read only while it
/// is polled and its queue is empty, one read at a time, so a slow
/// consumer pushes back on the child, and takes each read's items while
/// they are still in the cache.
#[derive(Debug)]
pub(crate) struct Queued<P: Queue> {
    driver: Option<Driver<P>>,
    queue: VecDeque<P::Item>,
}

impl<P: Queue> Queued<P> {
    pub(crate) fn new(mut driver: Driver<P>) -> Self {
        driver.yield_after_read();
        Queued { driver: Some(driver), queue: VecDeque::new() }
    }

    /// The transport, until the stream has ended.
    pub(crate) fn transport(&mut self) -> Option<&mut Transport> {
        self.driver.as_mut().map(Driver::transport_mut)
    }

    /// The next item, once the queue has one; `None` after the last.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<P::Item, Error>>> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            let Some(driver) = self.driver.as_mut() else { return Poll::Ready(None) };
            match Pin::new(&mut *driver).poll(cx) {
                Poll::Ready(Ok(mut ended)) => {
                    self.queue = std::mem::take(ended.protocol.queue());
                    self.driver = None;
                }
                Poll::Ready(Err(e)) => {
                    self.driver = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Pending => {
                    // Swapped, not taken: both queues keep their capacity.
                    if let Some(protocol) = driver.protocol_mut() {
                        std::mem::swap(&mut self.queue, protocol.queue());
                    }
                    if self.queue.is_empty() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}
