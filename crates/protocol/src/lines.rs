//! Line framing for any fd: Twisted's `LineReceiver` mixed into a process
//! protocol, on tokio-util's `LinesCodec`.

use std::os::fd::RawFd;

use bytes::{Bytes, BytesMut};
use procwire_core::ExitStatus;
use tokio_util::codec::{Decoder, LinesCodec, LinesCodecError};

use crate::protocol::{EndReason, ProcessProtocol};
use crate::transport::Transport;

/// A [`ProcessProtocol`] that also takes whole lines: wrap it in
/// [`Lines`] and [`line_received`](Self::line_received) is called for each
/// line of each output fd (without its `\n` or `\r\n`: tokio-util's
/// codec strips both), instead of
/// `child_data_received`.
pub trait LineProtocol: ProcessProtocol {
    /// One complete line from output `fd`. A last line without a newline is
    /// delivered when the pipe closes, before `child_connection_lost`.
    fn line_received(&mut self, transport: &mut Transport, fd: RawFd, line: String);

    /// A line on `fd` passed the maximum length (or was not UTF-8); it is
    /// dropped up to the next newline. By default nothing else happens.
    fn line_rejected(&mut self, transport: &mut Transport, fd: RawFd) {
        let _ = (transport, fd);
    }
}

/// Frames every output fd of a [`LineProtocol`] into lines of at most
/// `max_length` bytes (Twisted's `LineReceiver` with `MAX_LENGTH`).
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_core::Error> {
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_process, LineProtocol, Lines, Options, ProcessProtocol, Transport};
///
/// #[derive(Default)]
/// struct Numbered(Vec<String>);
/// impl ProcessProtocol for Numbered {}
/// impl LineProtocol for Numbered {
///     fn line_received(&mut self, _t: &mut Transport, _fd: i32, line: String) {
///         self.0.push(line);
///     }
/// }
///
/// let mut seq = Command::new("seq");
/// seq.arg("3");
/// let ended = spawn_process(Lines::new(Numbered::default(), 1024), &mut seq, Options::new())?.await?;
/// assert_eq!(ended.protocol.into_inner().0, ["1", "2", "3"]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Lines<P> {
    inner: P,
    max_length: usize,
    /// Per output fd: its decoder and undecoded bytes.
    fds: Vec<(RawFd, LinesCodec, BytesMut)>,
}

impl<P: LineProtocol> Lines<P> {
    /// Frames `inner`'s output into lines of at most `max_length` bytes.
    pub fn new(inner: P, max_length: usize) -> Self {
        Lines { inner, max_length, fds: Vec::new() }
    }

    /// The wrapped protocol.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The wrapped protocol, mutably.
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// Unwraps the protocol.
    pub fn into_inner(self) -> P {
        self.inner
    }

    fn state(&mut self, fd: RawFd) -> &mut (RawFd, LinesCodec, BytesMut) {
        let i = match self.fds.iter().position(|(f, _, _)| *f == fd) {
            Some(i) => i,
            None => {
                self.fds.push((fd, LinesCodec::new_with_max_length(self.max_length), BytesMut::new()));
                self.fds.len() - 1
            }
        };
        &mut self.fds[i]
    }

    fn decode(&mut self, t: &mut Transport, fd: RawFd, eof: bool) {
        loop {
            let (_, codec, buf) = self.state(fd);
            let line = if eof { codec.decode_eof(buf) } else { codec.decode(buf) };
            match line {
                Ok(Some(line)) => self.inner.line_received(t, fd, line),
                Ok(None) => return,
                Err(LinesCodecError::MaxLineLengthExceeded | LinesCodecError::Io(_)) => {
                    self.inner.line_rejected(t, fd)
                }
            }
        }
    }
}

impl<P: LineProtocol> ProcessProtocol for Lines<P> {
    fn connection_made(&mut self, t: &mut Transport) {
        self.inner.connection_made(t)
    }
    fn child_data_received(&mut self, t: &mut Transport, fd: RawFd, data: Bytes) {
        self.state(fd).2.extend_from_slice(&data);
        self.decode(t, fd, false);
    }
    fn child_connection_lost(&mut self, t: &mut Transport, fd: RawFd) {
        if self.fds.iter().any(|(f, _, _)| *f == fd) {
            self.decode(t, fd, true);
            self.fds.retain(|(f, _, _)| *f != fd);
        }
        self.inner.child_connection_lost(t, fd)
    }
    fn process_exited(&mut self, t: &mut Transport, status: ExitStatus) {
        self.inner.process_exited(t, status)
    }
    fn process_ended(&mut self, t: &mut Transport, reason: EndReason) {
        self.inner.process_ended(t, reason)
    }
    fn pause_producing(&mut self, t: &mut Transport) {
        self.inner.pause_producing(t)
    }
    fn resume_producing(&mut self, t: &mut Transport) {
        self.inner.resume_producing(t)
    }
}
