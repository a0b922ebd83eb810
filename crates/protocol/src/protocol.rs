//! The callback trait, and how a process ended.

use std::os::fd::RawFd;

use bytes::Bytes;
use procwire_core::ExitStatus;

use crate::transport::Transport;

/// How a process ended, passed to
/// [`process_ended`](ProcessProtocol::process_ended): the exit status, and
/// whether procwire had to close pipes a grandchild still held when the
/// drain deadline ran out ([`Options::drain_deadline`](crate::Options::drain_deadline)).
///
/// The fields are public to read; more may come, so outside this crate it
/// is built with [`new`](Self::new) and matched with `..`.
///
/// # Example
///
/// ```
/// use procwire_core::ExitStatus;
/// use procwire_protocol::EndReason;
///
/// // What `process_ended` gets for `exit 23`, all output read.
/// let reason = EndReason::new(ExitStatus::from_raw(23 << 8), false);
/// let EndReason { status, pipes_force_closed, .. } = reason;
/// assert_eq!(status.code(), Some(23));
/// assert!(!pipes_force_closed);
/// // Not done but terminated, with its exit code.
/// assert_eq!(reason.status.reason().unwrap_err().exit_code(), Some(23));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndReason {
    /// The exit status; [`ExitStatus::reason`] sorts it into done or
    /// terminated.
    pub status: ExitStatus,
    /// The drain deadline fired: output pipes still open then were closed
    /// by procwire, so output written to them afterwards was not read.
    pub pipes_force_closed: bool,
}

impl EndReason {
    /// How a process ended: its status, and whether procwire force-closed
    /// pipes at the drain deadline. For driving a protocol by hand (in its
    /// own tests, say); the driver builds the real ones.
    pub fn new(status: ExitStatus, pipes_force_closed: bool) -> Self {
        EndReason { status, pipes_force_closed }
    }
}

/// What happens to a child process, one callback per event, each given
/// the [`Transport`] so it can act (write, close a pipe, signal).
///
/// Every method has a default body, and the defaults dispatch by fd:
/// [`child_data_received`](Self::child_data_received) on fd 1
/// calls [`out_received`](Self::out_received), on fd 2
/// [`err_received`](Self::err_received); [`child_connection_lost`](Self::child_connection_lost)
/// on 0/1/2 calls [`in_connection_lost`](Self::in_connection_lost) /
/// [`out_connection_lost`](Self::out_connection_lost) /
/// [`err_connection_lost`](Self::err_connection_lost). Data nobody handles
/// is read and dropped, so the child never blocks on a full pipe.
///
/// Guaranteed order: [`connection_made`](Self::connection_made) first; no
/// `child_data_received(fd, ..)` after `child_connection_lost(fd)`;
/// [`process_exited`](Self::process_exited) once, when the child is
/// reaped; [`process_ended`](Self::process_ended) once and last, after the
/// reap and after every pipe is closed, so everything the child wrote has
/// been delivered.
///
/// Twisted's `ProcessProtocol`, with the same callbacks, defaults and
/// order.
///
/// # Example
///
/// ```no_run
/// use bytes::Bytes;
/// use procwire_protocol::{EndReason, ProcessProtocol, Transport};
///
/// /// Writes text to `wc`, keeps its counts.
/// struct Wc { text: &'static str, counts: Option<String> }
///
/// impl ProcessProtocol for Wc {
///     fn connection_made(&mut self, transport: &mut Transport) {
///         transport.write(self.text).unwrap();
///         transport.close_stdin();
///     }
///     fn out_received(&mut self, _transport: &mut Transport, data: Bytes) {
///         self.counts.get_or_insert_with(String::new).push_str(&String::from_utf8_lossy(&data));
///     }
/// }
/// ```
pub trait ProcessProtocol: Send {
    /// The child was started; a good place to write its input.
    fn connection_made(&mut self, transport: &mut Transport) {
        let _ = transport;
    }

    /// Data from one of the child's output pipes (a `ChildFd::ReadPipe`);
    /// on a terminal, everything arrives on fd 1.
    fn child_data_received(&mut self, transport: &mut Transport, fd: RawFd, data: Bytes) {
        match fd {
            1 => self.out_received(transport, data),
            2 => self.err_received(transport, data),
            _ => {}
        }
    }

    /// Data from the child's stdout.
    fn out_received(&mut self, transport: &mut Transport, data: Bytes) {
        let _ = (transport, data);
    }

    /// Data from the child's stderr.
    fn err_received(&mut self, transport: &mut Transport, data: Bytes) {
        let _ = (transport, data);
    }

    /// One of the child's pipes is closed: the child closed it (or exited),
    /// or this side did ([`Transport::close_child_fd`]).
    fn child_connection_lost(&mut self, transport: &mut Transport, fd: RawFd) {
        match fd {
            0 => self.in_connection_lost(transport),
            1 => self.out_connection_lost(transport),
            2 => self.err_connection_lost(transport),
            _ => {}
        }
    }

    /// The child's stdin pipe is closed.
    fn in_connection_lost(&mut self, transport: &mut Transport) {
        let _ = transport;
    }

    /// The child's stdout pipe is closed.
    fn out_connection_lost(&mut self, transport: &mut Transport) {
        let _ = transport;
    }

    /// The child's stderr pipe is closed.
    fn err_connection_lost(&mut self, transport: &mut Transport) {
        let _ = transport;
    }

    /// The child was reaped (some of its output may still be in flight).
    fn process_exited(&mut self, transport: &mut Transport, status: ExitStatus) {
        let _ = (transport, status);
    }

    /// The last callback: the child was reaped and every pipe is closed.
    fn process_ended(&mut self, transport: &mut Transport, reason: EndReason) {
        let _ = (transport, reason);
    }

    /// The transport's write buffer passed its high-water mark: stop
    /// writing until [`resume_producing`](Self::resume_producing).
    /// Twisted's `pauseProducing` on a registered producer.
    fn pause_producing(&mut self, transport: &mut Transport) {
        let _ = transport;
    }

    /// The write buffer drained below its low-water mark: writing may go on.
    fn resume_producing(&mut self, transport: &mut Transport) {
        let _ = transport;
    }
}

impl<P: ProcessProtocol + ?Sized> ProcessProtocol for &mut P {
    fn connection_made(&mut self, t: &mut Transport) {
        (**self).connection_made(t)
    }
    fn child_data_received(&mut self, t: &mut Transport, fd: RawFd, data: Bytes) {
        (**self).child_data_received(t, fd, data)
    }
    fn out_received(&mut self, t: &mut Transport, data: Bytes) {
        (**self).out_received(t, data)
    }
    fn err_received(&mut self, t: &mut Transport, data: Bytes) {
        (**self).err_received(t, data)
    }
    fn child_connection_lost(&mut self, t: &mut Transport, fd: RawFd) {
        (**self).child_connection_lost(t, fd)
    }
    fn in_connection_lost(&mut self, t: &mut Transport) {
        (**self).in_connection_lost(t)
    }
    fn out_connection_lost(&mut self, t: &mut Transport) {
        (**self).out_connection_lost(t)
    }
    fn err_connection_lost(&mut self, t: &mut Transport) {
        (**self).err_connection_lost(t)
    }
    fn process_exited(&mut self, t: &mut Transport, status: ExitStatus) {
        (**self).process_exited(t, status)
    }
    fn process_ended(&mut self, t: &mut Transport, reason: EndReason) {
        (**self).process_ended(t, reason)
    }
    fn pause_producing(&mut self, t: &mut Transport) {
        (**self).pause_producing(t)
    }
    fn resume_producing(&mut self, t: &mut Transport) {
        (**self).resume_producing(t)
    }
}
