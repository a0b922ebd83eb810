//! The parent's ends of the child's pipes, as tokio `AsyncRead` /
//! `AsyncWrite` on a registration that follows the polling runtime.
//!
//! The parent's end is non-blocking (reads and writes wait in the reactor,
//! never in the kernel); an end given away with `into_owned_fd` is made
//! blocking again, because it is meant for another child, which expects
//! the blocking pipe every program gets from a shell.
//!
//! A pipe that either end finds full grows (see [`growth`]), unless the
//! user sized it with `Command::pipe_capacity`.

mod growth;

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::error::Error;
use crate::sys;
use crate::sys::registration::{Direction, Registration};

use growth::Growth;

/// Sets or clears `O_NONBLOCK` on `fd`'s open file description.
fn set_nonblocking(fd: &OwnedFd, on: bool) -> io::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    let wanted = if on { flags | OFlag::O_NONBLOCK } else { flags - OFlag::O_NONBLOCK };
    if wanted != flags {
        fcntl(fd, FcntlArg::F_SETFL(wanted))?;
    }
    Ok(())
}

/// Makes a pipe end given away blocking again. `F_GETFL` and `F_SETFL`
/// on a descriptor this process owns fail only with `EBADF`, which an
/// `OwnedFd` rules out, so there is no error to report.
fn into_blocking(fd: OwnedFd) -> OwnedFd {
    let _ = set_nonblocking(&fd, false);
    fd
}

/// The parent's end of a pipe the child writes: a
/// [`ChildFd::ReadPipe`](crate::ChildFd::ReadPipe), from
/// [`Child::take_reader`](crate::Child::take_reader).
///
/// Reading returns 0 (end of file) once the child, and every process it
/// shared the pipe with, has closed its end.
///
/// The pipe end is registered with the reactor of the runtime that polls
/// it: it may be read from another runtime than the one that spawned the
/// child, also after that one was dropped.
///
/// # Panics
///
/// Polled from another runtime built without IO enabled: registering
/// there panics, as for any tokio IO resource.
///
/// To connect the pipe to another child (a shell pipeline), convert it:
/// `ChildFd::from(reader)` gives the next child a blocking descriptor.
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use tokio::io::AsyncReadExt;
///
/// let mut child = procwire_core::Command::new("echo").arg("hi").spawn()?;
/// let mut out = String::new();
/// child.take_reader(1).unwrap().read_to_string(&mut out).await?;
/// assert_eq!(out, "hi\n");
/// child.wait().await?;
/// # Ok(()) }
/// ```
///
/// A pipeline, `seq 1 5 | wc -l`:
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use procwire_core::Command;
/// use tokio::io::AsyncReadExt;
///
/// let mut seq = Command::new("seq").args(["1", "5"]).spawn()?;
/// let mut wc = Command::new("wc").arg("-l").stdin(seq.take_reader(1).unwrap().into()).spawn()?;
/// let mut out = String::new();
/// wc.take_reader(1).unwrap().read_to_string(&mut out).await?;
/// assert_eq!(out.trim(), "5");
/// seq.wait().await?;
/// wc.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ChildReader {
    child_fd: RawFd,
    inner: Registration<OwnedFd>,
    growth: Growth,
}

impl ChildReader {
    /// `grow`: whether the pipe grows when found full (see [`growth`]).
    pub(crate) fn new(child_fd: RawFd, fd: OwnedFd, grow: bool) -> io::Result<Self> {
        ChildReader::with_growth(child_fd, fd, Growth::new(grow))
    }

    fn with_growth(child_fd: RawFd, fd: OwnedFd, growth: Growth) -> io::Result<Self> {
        set_nonblocking(&fd, true)?;
        Ok(ChildReader { child_fd, inner: Registration::new(fd, Interest::READABLE)?, growth })
    }

    /// The child's fd number this pipe is connected to.
    pub fn child_fd(&self) -> RawFd {
        self.child_fd
    }

    /// Gives back the pipe end, deregistered from tokio and made blocking
    /// (`O_NONBLOCK` cleared), ready to be handed to another child or to
    /// blocking code. A `ChildReader` buffers nothing, so no data is lost.
    pub fn into_owned_fd(self) -> OwnedFd {
        into_blocking(self.inner.into_inner())
    }
}

impl AsyncRead for ChildReader {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let ChildReader { inner, growth, .. } = self.get_mut();
        let room = buf.remaining();
        let read = |fd: BorrowedFd<'_>| {
            let read = sys::io::read_buf(fd, buf);
            match &read {
                Ok(n) => growth.read(fd, *n, room),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => growth.drained(),
                Err(_) => {}
            }
            read
        };
        inner.poll_io(cx, Direction::Read, read).map_ok(drop)
    }
}

impl AsFd for ChildReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get_ref().as_fd()
    }
}

impl AsRawFd for ChildReader {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.get_ref().as_raw_fd()
    }
}

/// The parent's end of a pipe the child reads: a
/// [`ChildFd::WritePipe`](crate::ChildFd::WritePipe), from
/// [`Child::take_writer`](crate::Child::take_writer).
///
/// [`shutdown`](https://docs.rs/tokio/1/tokio/io/trait.AsyncWriteExt.html#method.shutdown)
/// closes the pipe, so the child sees end of file. A write after that
/// fails with [`io::ErrorKind::BrokenPipe`] carrying [`Error::PipeClosed`].
/// [`poll_closed`](Self::poll_closed) /
/// [`closed`](Self::closed) tell when the child has closed its end.
///
/// Like [`ChildReader`], it may be used from another runtime than the one
/// that spawned the child (one with IO enabled: see its `# Panics`).
///
/// # Caveats
///
/// A write after the child closed its end fails with `EPIPE`
/// ([`io::ErrorKind::BrokenPipe`]) only because the process ignores
/// `SIGPIPE`, which Rust's runtime does by default and procwire relies on.
/// If the host process resets `SIGPIPE` to `SIG_DFL` (as some programs do
/// to die quietly in a shell pipeline), such a write kills the host.
///
/// `ChildWriter` does not implement `AsFd`: once closed it has no
/// descriptor, and `as_fd` cannot fail. [`fd`](Self::fd) borrows it while
/// it is open, and [`into_owned_fd`](Self::into_owned_fd) gives it away.
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use tokio::io::AsyncWriteExt;
///
/// let mut child = procwire_core::Command::new("wc").arg("-l").spawn()?;
/// let mut stdin = child.take_writer(0).unwrap();
/// stdin.write_all(b"one\ntwo\n").await?;
/// stdin.shutdown().await?; // wc sees EOF
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ChildWriter {
    child_fd: RawFd,
    inner: Option<Registration<OwnedFd>>,
    growth: Growth,
}

impl ChildWriter {
    /// `grow`: whether the pipe grows when found full (see [`growth`]).
    pub(crate) fn new(child_fd: RawFd, fd: OwnedFd, grow: bool) -> io::Result<Self> {
        ChildWriter::with_growth(child_fd, fd, Growth::new(grow))
    }

    fn with_growth(child_fd: RawFd, fd: OwnedFd, growth: Growth) -> io::Result<Self> {
        set_nonblocking(&fd, true)?;
        Ok(ChildWriter { child_fd, inner: Some(Registration::new(fd, Interest::WRITABLE)?), growth })
    }

    /// The child's fd number this pipe is connected to.
    pub fn child_fd(&self) -> RawFd {
        self.child_fd
    }

    /// Whether [`shutdown`](https://docs.rs/tokio/1/tokio/io/trait.AsyncWriteExt.html#method.shutdown) or
    /// [`close`](Self::close) closed the pipe already.
    pub fn is_closed(&self) -> bool {
        self.inner.is_none()
    }

    /// Closes the pipe now, so the child sees end of file; the same as
    /// `shutdown().await`, without the await.
    pub fn close(&mut self) {
        self.inner = None;
    }

    /// The pipe end, while it is open; `None` once closed.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.inner.as_ref().map(|reg| reg.get_ref().as_fd())
    }

    /// Gives back the pipe end, deregistered from tokio and made blocking
    /// (`O_NONBLOCK` cleared), ready to be handed to another child or to
    /// blocking code; `None` once closed. A `ChildWriter` buffers nothing.
    pub fn into_owned_fd(self) -> Option<OwnedFd> {
        self.inner.map(|reg| into_blocking(reg.into_inner()))
    }

    /// Polls for the child closing its end of the pipe: `Ready` once the
    /// reading end is closed in every process (the child, and any process
    /// it shared the pipe with), `Pending` until then, with `cx`'s waker
    /// woken when it happens. Writing stays possible meanwhile: polling
    /// this never makes a later write wait.
    ///
    /// Also `Ready` when this side closed the pipe already, and when the
    /// pipe can no longer be watched (the runtime that registered it shut
    /// down and no runtime is current): a caller waiting on it never hangs,
    /// and its next write reports the error.
    ///
    /// As with tokio's `poll_write_ready`, only the task that polled last
    /// (this or a write that had to wait) is woken.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(reg) = &mut self.inner else { return Poll::Ready(()) };
        // A pipe with room is "writable" until its next write fills it, so
        // the readiness seen here may be stale: check for the closed reader
        // (EPOLLERR), else clear it and wait for the next edge. The kernel
        // signals one when the last reader closes. Writes do not depend on
        // that readiness (they try the syscall first), so clearing it is
        // safe.
        let polled = reg.poll_with(cx, Direction::Write, |guard, fd| {
            if guard.ready().is_write_closed() || reader_gone(fd) {
                return Some(Ok(()));
            }
            guard.clear_ready();
            None
        });
        polled.map(drop)
    }

    /// Waits for the child to close its end of the pipe; see
    /// [`poll_closed`](Self::poll_closed).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches the pipe.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// // `head -c 1` exits, closing its stdin, once it has read a byte.
    /// let mut child = procwire_core::Command::new("head").args(["-c", "1"]).spawn()?;
    /// let mut stdin = child.take_writer(0).unwrap();
    /// tokio::io::AsyncWriteExt::write_all(&mut stdin, b"xy").await?;
    /// stdin.closed().await; // head is done with its input
    /// child.wait().await?;
    /// # Ok(()) }
    /// ```
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// One write syscall (`io`), first without waiting for readiness: a
    /// pipe with room takes it whatever tokio's cached readiness says (which
    /// `poll_closed` may have cleared). `EAGAIN` grows the pipe if it may,
    /// and the write is tried again at once; else it waits for the reactor.
    fn poll_io(
        &mut self,
        cx: &mut Context<'_>,
        mut io: impl FnMut(BorrowedFd<'_>) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let ChildWriter { child_fd, inner, growth } = self;
        let Some(reg) = inner else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                Error::PipeClosed { fd: *child_fd },
            )));
        };
        // A write counts against the task's budget, as tokio's own do, so
        // a child that reads as fast as we write cannot starve other tasks.
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        let fd = reg.get_ref().as_fd();
        let mut result = io(fd);
        if result.as_ref().is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock) && growth.full(fd) {
            result = io(fd);
        }
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => drop(coop),
            result => {
                coop.made_progress();
                return Poll::Ready(result);
            }
        }
        reg.poll_io(cx, Direction::Write, io)
    }
}

/// Whether the pipe's reading end is closed everywhere: `poll(2)` reports
/// `POLLERR` on a write end without readers. It does not wait.
fn reader_gone(fd: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
        && fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLERR))
}

impl AsyncWrite for ChildWriter {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_io(cx, |fd| sys::io::write(fd, data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_io(cx, |fd| sys::io::writev(fd, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().close();
        Poll::Ready(Ok(()))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests;
