//! The parent's ends of the child's pipes, as tokio `AsyncRead` /
//! `AsyncWrite` over `AsyncFd`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::error::Error;
use crate::sys;

/// Registers a pipe end with the reactor, switching it to non-blocking.
fn register(fd: OwnedFd, interest: Interest) -> io::Result<AsyncFd<OwnedFd>> {
    let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL)?;
    let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(flags))?;
    sys::io::register(fd, interest)
}

/// The parent's end of a pipe the child writes (Twisted's `"r"`).
///
/// Reading returns 0 (end of file) once the child, and every process it
/// shared the pipe with, has closed its end.
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
#[derive(Debug)]
pub struct ChildReader {
    child_fd: RawFd,
    inner: AsyncFd<OwnedFd>,
}

impl ChildReader {
    pub(crate) fn new(child_fd: RawFd, fd: OwnedFd) -> io::Result<Self> {
        Ok(ChildReader { child_fd, inner: register(fd, Interest::READABLE)? })
    }

    /// The child's fd number this pipe is connected to.
    pub fn child_fd(&self) -> RawFd {
        self.child_fd
    }

    /// Gives back the (non-blocking) pipe end, deregistered from tokio.
    pub fn into_owned_fd(self) -> OwnedFd {
        self.inner.into_inner()
    }
}

impl AsyncRead for ChildReader {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.inner.poll_read_ready(cx))?;
            match guard.try_io(|fd| sys::io::read_buf(fd.get_ref().as_fd(), buf)) {
                Ok(result) => return Poll::Ready(result.map(drop)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsFd for ChildReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get_ref().as_fd()
    }
}

/// The parent's end of a pipe the child reads (Twisted's `"w"`).
///
/// [`shutdown`](tokio::io::AsyncWriteExt::shutdown) closes the pipe, so the
/// child sees end of file (Twisted's `closeStdin` / `closeChildFD`). A write
/// after that fails with [`io::ErrorKind::BrokenPipe`] carrying
/// [`Error::PipeClosed`]; a write after the child closed its end fails with
/// `EPIPE` (procwire relies on Rust's default of ignoring `SIGPIPE`).
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
    inner: Option<AsyncFd<OwnedFd>>,
}

impl ChildWriter {
    pub(crate) fn new(child_fd: RawFd, fd: OwnedFd) -> io::Result<Self> {
        Ok(ChildWriter { child_fd, inner: Some(register(fd, Interest::WRITABLE)?) })
    }

    /// The child's fd number this pipe is connected to.
    pub fn child_fd(&self) -> RawFd {
        self.child_fd
    }

    /// Whether [`shutdown`](tokio::io::AsyncWriteExt::shutdown) or
    /// [`close`](Self::close) closed the pipe already.
    pub fn is_closed(&self) -> bool {
        self.inner.is_none()
    }

    /// Closes the pipe now, so the child sees end of file; the same as
    /// `shutdown().await`, without the await.
    pub fn close(&mut self) {
        self.inner = None;
    }

    fn poll_io<T>(
        &self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(BorrowedFd<'_>) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        let Some(inner) = &self.inner else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                Error::PipeClosed { fd: self.child_fd },
            )));
        };
        // TEMPORARY: replaced by the pipes helper's version at merge. An
        // optimistic first write, so that `poll_closed` clearing the cached
        // readiness cannot stall a later write to a pipe with room.
        match f(inner.get_ref().as_fd()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            result => return Poll::Ready(result),
        }
        loop {
            let mut guard = ready!(inner.poll_write_ready(cx))?;
            match guard.try_io(|fd| f(fd.get_ref().as_fd())) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for ChildWriter {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_io(cx, |fd| sys::io::write(fd, data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, |fd| sys::io::writev(fd, bufs))
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

impl ChildWriter {
    /// The raw fd of the pipe end, while it is open.
    pub fn as_raw_fd(&self) -> Option<RawFd> {
        self.inner.as_ref().map(|fd| fd.as_raw_fd())
    }
}

// TEMPORARY: replaced by the pipes helper's version at merge
impl ChildWriter {
    /// Ready once the child's (reading) end of the pipe is gone (`EPOLLERR`
    /// on this end), or this end was closed; `Pending` otherwise, with
    /// `cx`'s waker registered for that.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let Some(inner) = &self.inner else { return Poll::Ready(()) };
        loop {
            let mut guard = match inner.poll_write_ready(cx) {
                Poll::Ready(Ok(guard)) => guard,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            };
            if guard.ready().is_write_closed() {
                return Poll::Ready(());
            }
            // A pipe with room is "writable" in tokio's cache: ask the
            // kernel, and clear the cache so the next poll registers the waker.
            let mut fds = [PollFd::new(inner.get_ref().as_fd(), PollFlags::empty())];
            if poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
                && fds[0].revents().is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP))
            {
                return Poll::Ready(());
            }
            guard.clear_ready();
        }
    }
}
