//! The same events as a `Stream`, for `while let Some(event) = ...`.

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use procwire_core::{ChildWriter, Command, Error, ExitStatus, StdioDefaults};

use crate::driver::{Driver, Options};
use crate::protocol::{EndReason, ProcessProtocol};
use crate::queued::{Queue, Queued};
use crate::transport::Transport;

/// One thing that happened to a child, in the order
/// [`ProcessProtocol`] would have seen it; the items of [`ProcessEvents`].
///
/// More kinds may come: a `match` outside this crate needs a `_` arm.
///
/// # Example
///
/// ```
/// use procwire_core::ExitStatus;
/// use procwire_protocol::{Bytes, EndReason, Event};
///
/// fn describe(event: &Event) -> String {
///     match event {
///         Event::Data { fd, data } => format!("{} bytes on fd {fd}", data.len()),
///         Event::Closed { fd } => format!("fd {fd} closed"),
///         Event::Exited(status) => format!("exited: {status}"),
///         Event::Ended(reason) => format!("ended: {}", reason.status),
///         _ => "something newer".to_owned(),
///     }
/// }
///
/// let data = Event::Data { fd: 1, data: Bytes::from_static(b"hi\n") };
/// assert_eq!(describe(&data), "3 bytes on fd 1");
/// assert_eq!(describe(&Event::Closed { fd: 2 }), "fd 2 closed");
/// let ended = Event::Ended(EndReason::new(ExitStatus::from_raw(0), false));
/// assert_eq!(describe(&ended), "ended: exit code 0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Data from output pipe `fd` (`child_data_received`).
    Data {
        /// The child's fd.
        fd: RawFd,
        /// What the child wrote.
        data: Bytes,
    },
    /// Pipe `fd` is closed (`child_connection_lost`); no `Data` for it
    /// follows.
    Closed {
        /// The child's fd.
        fd: RawFd,
    },
    /// The child was reaped (`process_exited`).
    Exited(ExitStatus),
    /// The last event: reaped and every pipe closed (`process_ended`).
    Ended(EndReason),
}

/// Queues events instead of reacting to them.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    queue: VecDeque<Event>,
}

impl ProcessProtocol for Collector {
    fn child_data_received(&mut self, _t: &mut Transport, fd: RawFd, data: Bytes) {
        self.queue.push_back(Event::Data { fd, data });
    }
    fn child_connection_lost(&mut self, _t: &mut Transport, fd: RawFd) {
        self.queue.push_back(Event::Closed { fd });
    }
    fn process_exited(&mut self, _t: &mut Transport, status: ExitStatus) {
        self.queue.push_back(Event::Exited(status));
    }
    fn process_ended(&mut self, _t: &mut Transport, reason: EndReason) {
        self.queue.push_back(Event::Ended(reason));
    }
}

/// A child's events as a [`Stream`] of [`Event`]s, ending after
/// [`Event::Ended`]; from [`spawn_events`].
///
/// The child's output is read only while the stream is polled and its
/// queue is empty, so a slow consumer pushes back on the child. The input
/// pipes are handed out beside the stream, as plain [`ChildWriter`]s; on a
/// terminal, write through [`transport`](Self::transport).
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_core::Error> {
/// use futures::StreamExt;
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_events, Event, Options};
///
/// let (mut events, _writers) = spawn_events(Command::new("echo").arg("hi"), Options::new())?;
/// let mut out = Vec::new();
/// while let Some(event) = events.next().await {
///     match event? {
///         Event::Data { fd: 1, data } => out.extend_from_slice(&data),
///         Event::Ended(reason) => assert!(reason.status.success()),
///         _ => {}
///     }
/// }
/// assert_eq!(out, b"hi\n");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProcessEvents {
    queued: Queued<Collector>,
}

/// Spawns `command` and returns its events as a stream, with the parent's
/// ends of its input pipes (in child fd order).
///
/// # Errors
///
/// Spawn errors, as [`Command::spawn`].
pub fn spawn_events(
    command: &mut Command,
    options: Options,
) -> Result<(ProcessEvents, Vec<ChildWriter>), Error> {
    let mut child = command.spawn_with(StdioDefaults::Twisted)?;
    let writers = child.take_writers();
    let driver = Driver::new(Collector::default(), child, options);
    Ok((ProcessEvents { queued: Queued::new(driver) }, writers))
}

impl ProcessEvents {
    /// The transport, to signal the child, close pipes, pause reading, or
    /// write to a terminal; what it queues is flushed while the stream is
    /// polled. `None` once the stream has ended.
    pub fn transport(&mut self) -> Option<&mut Transport> {
        self.queued.transport()
    }
}

impl Stream for ProcessEvents {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.queued.poll_next(cx)
    }
}

impl Queue for Collector {
    type Item = Event;

    fn queue(&mut self) -> &mut VecDeque<Event> {
        &mut self.queue
    }
}
