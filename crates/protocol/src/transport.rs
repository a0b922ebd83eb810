//! The transport handed to every callback: what it can do to its process.

use std::collections::VecDeque;
use std::os::fd::RawFd;

use bytes::Bytes;
use procwire_core::{Error, IntoSignal, SignalHandle};

/// One input pipe's queue, as the transport sees it.
#[derive(Debug)]
pub(crate) struct InputQueue {
    pub(crate) fd: RawFd,
    pub(crate) queue: VecDeque<Bytes>,
    pub(crate) queued: usize,
    /// Close once the queue is flushed (`close_child_fd`).
    pub(crate) closing: bool,
    /// The pipe is gone: writes are refused.
    pub(crate) closed: bool,
}

/// What a callback can do to its process: write to its input pipes, close
/// any of its pipes, signal it.
///
/// Writes are queued and flushed by the driver as the pipes take them, so
/// they never block; see [`ProcessProtocol::pause_producing`](crate::ProcessProtocol::pause_producing)
/// for pushing back on a producer that writes faster than the child reads.
///
/// On a terminal ([`Command::pty`](procwire_core::Command::pty)), fds 0, 1
/// and 2 are one channel: [`write`](Self::write) types into the
/// terminal, all its output arrives on fd 1, and
/// [`close_stdin`](Self::close_stdin),
/// [`close_stdout`](Self::close_stdout) and
/// [`close_stderr`](Self::close_stderr) do nothing (a terminal cannot be
/// half-closed: write `b"\x04"` for end of input in canonical mode);
/// [`lose_connection`](Self::lose_connection) closes the terminal, which
/// hangs the child up (SIGHUP). Pipes on fds 3 and up work exactly as
/// without a terminal.
///
/// Twisted's `IProcessTransport`, with its method names.
///
/// # Example
///
/// A producer: 1 MiB for `wc -c`, written while the buffer has room and
/// again at each [`resume_producing`](crate::ProcessProtocol::resume_producing), so at
/// most the high-water mark and one chunk are ever queued.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_core::Error> {
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_process, Bytes, Options, ProcessProtocol, Transport};
///
/// struct Upload { left: usize, count: String }
///
/// impl Upload {
///     fn produce(&mut self, t: &mut Transport) {
///         while self.left > 0 && !t.write_buffer_full() {
///             let n = self.left.min(64 * 1024);
///             t.write(vec![b'x'; n]).expect("stdin is open until close_stdin");
///             self.left -= n;
///         }
///         if self.left == 0 {
///             t.close_stdin();
///         }
///     }
/// }
///
/// impl ProcessProtocol for Upload {
///     fn connection_made(&mut self, t: &mut Transport) {
///         self.produce(t);
///     }
///     fn resume_producing(&mut self, t: &mut Transport) {
///         self.produce(t);
///     }
///     fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
///         self.count.push_str(&String::from_utf8_lossy(&data));
///     }
/// }
///
/// let upload = Upload { left: 1 << 20, count: String::new() };
/// let ended = spawn_process(upload, Command::new("wc").arg("-c"), Options::new())?.await?;
/// assert_eq!(ended.protocol.count.trim(), "1048576");
/// # Ok(()) }
/// ```
///
/// # Caveats
///
/// A write to a pipe whose reader is gone fails with `EPIPE` only because
/// Rust programs ignore `SIGPIPE` (the standard library sets it so before
/// `main`): a host that resets `SIGPIPE` to its default is killed by such a
/// write instead, e.g. when a child closes its stdin while data for it is
/// queued.
#[derive(Debug)]
pub struct Transport {
    /// Input fds open for writing, as [`Control`](crate::Control)s see them.
    pub(crate) writable: crate::control::Writable,
    /// [`Options::write_buffer_limits`](crate::Options::write_buffer_limits)' high mark.
    pub(crate) high_water: usize,
    pub(crate) pid: Option<u32>,
    pub(crate) signal: Option<SignalHandle>,
    pub(crate) inputs: Vec<InputQueue>,
    /// Output fds this side asked to close.
    pub(crate) close_outputs: Vec<RawFd>,
    pub(crate) reading_paused: bool,
    pub(crate) pty: bool,
    pub(crate) lose_pty: bool,
}

impl Transport {
    /// The child's pid, `None` once reaped.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Queues `data` for the child's stdin.
    ///
    /// Once the child closes its end (or exits), what is still queued is
    /// dropped and [`child_connection_lost`](crate::ProcessProtocol::child_connection_lost)
    /// reports the fd; a host that does not ignore `SIGPIPE` is killed by
    /// that write instead (see the [caveats](Transport#caveats)).
    ///
    /// # Errors
    ///
    /// [`Error::NoInputPipe`] when fd 0 is not an input pipe or was closed.
    pub fn write(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.write_to_child(0, data)
    }

    /// Queues several buffers for the child's stdin, written with vectored
    /// writes.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    pub fn write_sequence<I, B>(&mut self, seq: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        let input = self.input(0)?;
        for data in seq {
            let data = data.into();
            if !data.is_empty() {
                input.queued += data.len();
                input.queue.push_back(data);
            }
        }
        Ok(())
    }

    /// Queues `data` for child fd `fd`.
    ///
    /// # Errors
    ///
    /// [`Error::NoInputPipe`] when `fd` is not an input pipe (a
    /// `ChildFd::WritePipe`) or was closed: a clear error, never silent
    /// loss.
    pub fn write_to_child(&mut self, fd: RawFd, data: impl Into<Bytes>) -> Result<(), Error> {
        let input = self.input(fd)?;
        let data = data.into();
        if !data.is_empty() {
            input.queued += data.len();
            input.queue.push_back(data);
        }
        Ok(())
    }

    fn input(&mut self, fd: RawFd) -> Result<&mut InputQueue, Error> {
        // A terminal is input fd 0; its fds 1 and 2 are not inputs.
        self.inputs
            .iter_mut()
            .find(|i| i.fd == fd && !i.closed && !i.closing)
            .ok_or(Error::NoInputPipe { fd })
    }

    /// Closes the child's stdin once what was written is flushed, so the
    /// child sees end of file.
    pub fn close_stdin(&mut self) {
        self.close_child_fd(0);
    }

    /// Closes our end of the child's stdout; the child gets EPIPE / SIGPIPE
    /// if it writes there again.
    pub fn close_stdout(&mut self) {
        self.close_child_fd(1);
    }

    /// Closes our end of the child's stderr.
    pub fn close_stderr(&mut self) {
        self.close_child_fd(2);
    }

    /// Closes one of the child's pipes: an input pipe after its queued data
    /// is flushed, an output pipe at once.
    /// [`child_connection_lost`](crate::ProcessProtocol::child_connection_lost)
    /// follows. Unknown or already closed fds are ignored, and so are fds
    /// 0, 1 and 2 on a terminal.
    pub fn close_child_fd(&mut self, fd: RawFd) {
        if self.pty && (0..=2).contains(&fd) {
            return;
        }
        if let Some(input) = self.inputs.iter_mut().find(|i| i.fd == fd) {
            input.closing = true;
            self.writable.remove(fd);
        } else if !self.close_outputs.contains(&fd) {
            self.close_outputs.push(fd);
        }
    }

    /// Closes stdin, stdout and stderr; on a terminal, closes the terminal.
    pub fn lose_connection(&mut self) {
        if self.pty {
            self.lose_pty = true;
            return;
        }
        self.close_stdin();
        self.close_stderr();
        self.close_stdout();
    }

    /// Sends a signal: a name such as `"KILL"`, a number, or a nix
    /// `Signal`.
    ///
    /// # Errors
    ///
    /// [`Error::ProcessExitedAlready`] once the child was reaped; a bad
    /// name or number as [`Error::UnknownSignal`] / [`Error::InvalidSignal`].
    pub fn signal_process(&self, sig: impl IntoSignal) -> Result<(), Error> {
        match (&self.signal, self.pid) {
            (Some(handle), Some(_)) => handle.signal(sig),
            _ => {
                sig.into_signal()?;
                Err(Error::ProcessExitedAlready)
            }
        }
    }

    /// Stops reading the child's output: the child blocks once its pipes
    /// are full, so a slow consumer pushes back instead of buffering
    /// without bound.
    pub fn pause_producing(&mut self) {
        self.reading_paused = true;
    }

    /// Reads the child's output again.
    pub fn resume_producing(&mut self) {
        self.reading_paused = false;
    }

    /// Bytes queued for the child and not yet written, over all its input
    /// pipes.
    pub fn buffered(&self) -> usize {
        self.inputs.iter().map(|i| i.queued).sum()
    }

    /// Whether [`buffered`](Self::buffered) is above the high-water mark
    /// ([`Options::write_buffer_limits`](crate::Options::write_buffer_limits),
    /// 256 KiB by default): the test a producer loop makes between writes.
    ///
    /// The driver calls
    /// [`pause_producing`](crate::ProcessProtocol::pause_producing) only
    /// between callbacks, never from inside [`write`](Self::write), so a
    /// loop that writes in one callback asks this instead:
    /// `while !t.write_buffer_full() { t.write(..) }` queues at most one
    /// write beyond the mark, and the driver then calls `pause_producing`,
    /// and `resume_producing` once the child has read down to the low mark.
    pub fn write_buffer_full(&self) -> bool {
        self.buffered() > self.high_water
    }
}

#[cfg(test)]
impl Transport {
    /// A transport with no process behind it, for driving protocols by hand.
    pub(crate) fn detached() -> Transport {
        Transport {
            writable: Default::default(),
            high_water: usize::MAX,
            pid: None,
            signal: None,
            inputs: Vec::new(),
            close_outputs: Vec::new(),
            reading_paused: false,
            pty: false,
            lose_pty: false,
        }
    }
}
