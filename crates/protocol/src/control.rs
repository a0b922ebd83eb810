//! Acting on a driven process from outside its callbacks: another task, a
//! timer, a network peer.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use procwire_core::{Error, IntoSignal, SignalHandle};
use tokio::sync::mpsc;

/// What a [`Control`] asks the driver to do, in order.
#[derive(Debug)]
pub(crate) enum Request {
    Write(RawFd, Bytes),
    Close(RawFd),
    LoseConnection,
    PauseReading,
    ResumeReading,
}

/// The input fds still open for writing, shared between the driver (which
/// updates it) and its controls (which check writes against it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Writable(Arc<Mutex<Vec<RawFd>>>);

impl Writable {
    pub(crate) fn set(&self, fds: impl IntoIterator<Item = RawFd>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = fds.into_iter().collect();
    }

    pub(crate) fn remove(&self, fd: RawFd) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).retain(|&f| f != fd);
    }

    fn contains(&self, fd: RawFd) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).contains(&fd)
    }
}

/// A cloneable handle that acts on a driven process from anywhere (another
/// task, a timer, a network peer): the same writes, closes and flow
/// control as [`Transport`](crate::Transport), carried out by the driver
/// in the order they were made, between its callbacks. From
/// [`ProcessHandle::control`](crate::ProcessHandle::control) or
/// [`Driver::control`](crate::Driver::control).
///
/// Writes go through an unbounded queue. [`buffered`](Self::buffered) and
/// [`write_buffer_full`](Self::write_buffer_full) count them with what the
/// transport has queued, so a writer can stop at the high-water mark; but
/// nothing wakes a control when the buffer drains: a producer that must
/// wait for room belongs in the protocol, writing from
/// [`resume_producing`](crate::ProcessProtocol::resume_producing).
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), procwire_core::Error> {
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_process, Options, ProcessProtocol};
///
/// struct Quiet;
/// impl ProcessProtocol for Quiet {}
///
/// let handle = spawn_process(Quiet, &mut Command::new("cat"), Options::new())?;
/// let control = handle.control();
/// tokio::spawn(async move {
///     control.write("typed later\n").unwrap();
///     control.close_stdin();
/// });
/// handle.await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Control {
    pub(crate) tx: mpsc::UnboundedSender<Request>,
    pub(crate) writable: Writable,
    pub(crate) signal: Option<SignalHandle>,
    /// The child is on a terminal: fds 0, 1 and 2 cannot be closed apart.
    pub(crate) pty: bool,
    /// Bytes sent by controls and not yet taken by the driver, plus what
    /// the transport's queues held at the driver's last poll.
    pub(crate) buffered: Arc<AtomicUsize>,
    pub(crate) high_water: usize,
}

impl Control {
    /// Queues `data` for the child's stdin.
    ///
    /// As with [`Transport::write`](crate::Transport::write), a host that
    /// resets `SIGPIPE` to its default is killed when the child closed its
    /// stdin while data for it was queued (see the
    /// [caveats](crate::Transport#caveats)).
    ///
    /// # Errors
    ///
    /// As [`write_to_child`](Self::write_to_child).
    pub fn write(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.write_to_child(0, data)
    }

    /// Queues `data` for child fd `fd`.
    ///
    /// # Errors
    ///
    /// [`Error::NoInputPipe`] when `fd` has no input pipe open for writing
    /// (never had one, was closed or asked to close, or the process ended
    /// or its driver was dropped): the same fds the transport refuses. Only
    /// a write that races the pipe's loss (the child closes its end, or
    /// exits, before the driver gets to the write) is `Ok` and then
    /// dropped, as a write is once the child has gone.
    pub fn write_to_child(&self, fd: RawFd, data: impl Into<Bytes>) -> Result<(), Error> {
        if !self.writable.contains(fd) {
            return Err(Error::NoInputPipe { fd });
        }
        let data = data.into();
        let len = data.len();
        // Counted before it is sent, so the driver never takes it off first.
        self.buffered.fetch_add(len, Ordering::Relaxed);
        if self.tx.send(Request::Write(fd, data)).is_err() {
            self.buffered.fetch_sub(len, Ordering::Relaxed);
            return Err(Error::NoInputPipe { fd });
        }
        Ok(())
    }

    /// Bytes written (through any control or the transport) and not yet
    /// taken by the child's pipes: the controls' writes at once, the
    /// transport's as of the driver's last poll. 0 once the driver is gone.
    pub fn buffered(&self) -> usize {
        if self.tx.is_closed() {
            return 0;
        }
        self.buffered.load(Ordering::Relaxed)
    }

    /// Whether [`buffered`](Self::buffered) is above the high-water mark
    /// ([`Options::write_buffer_limits`](crate::Options::write_buffer_limits)),
    /// as [`Transport::write_buffer_full`](crate::Transport::write_buffer_full).
    pub fn write_buffer_full(&self) -> bool {
        self.buffered() > self.high_water
    }

    /// Closes the child's stdin once what was queued is written.
    pub fn close_stdin(&self) {
        self.close_child_fd(0);
    }

    /// Closes one of the child's pipes; see
    /// [`Transport::close_child_fd`](crate::Transport::close_child_fd).
    pub fn close_child_fd(&self, fd: RawFd) {
        // As the transport: a terminal's fds are not closed one by one.
        if !(self.pty && (0..=2).contains(&fd)) {
            self.writable.remove(fd);
        }
        self.send(Request::Close(fd));
    }

    /// Closes stdin, stdout and stderr (or the terminal).
    pub fn lose_connection(&self) {
        self.writable.remove(0);
        self.send(Request::LoseConnection);
    }

    /// Stops reading the child's output.
    pub fn pause_producing(&self) {
        self.send(Request::PauseReading);
    }

    /// Reads the child's output again.
    pub fn resume_producing(&self) {
        self.send(Request::ResumeReading);
    }

    /// Sends a signal; [`Error::ProcessExitedAlready`] once reaped.
    ///
    /// # Errors
    ///
    /// As [`Transport::signal_process`](crate::Transport::signal_process).
    pub fn signal_process(&self, sig: impl IntoSignal) -> Result<(), Error> {
        match &self.signal {
            Some(handle) => handle.signal(sig),
            None => Err(Error::ProcessExitedAlready),
        }
    }

    fn send(&self, request: Request) {
        // The driver is gone once the process ended: nothing left to act on.
        let _ = self.tx.send(request);
    }
}
