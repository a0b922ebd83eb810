//! [`PidFd`]: a process this one did not spawn, held so that its pid
//! names nobody else while it is held.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::task::{Context, Poll};

use nix::libc;
use tokio::io::Interest;

use crate::reap::pidfd_available;
use crate::sys::process as sys;
use crate::sys::registration::{Direction, Registration};

/// A process held through a pidfd: what it is stays fixed however its pid
/// is reused, and its end can be awaited without polling. For processes
/// this one did not spawn (a [`Child`](crate::Child) follows its own);
/// holding one costs a descriptor and nothing else.
///
/// A pidfd is taken *after* its pid is known: the caller must make sure
/// the pid named the process it meant at that moment (for instance by
/// checking the process's start time, or that it is its own unreaped
/// child's child), as
/// [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html)
/// warns.
///
/// ```no_run
/// # async fn doc() -> std::io::Result<()> {
/// use procwire_core::PidFd;
///
/// let mut init = PidFd::open(1)?;
/// assert!(!init.has_exited()?);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PidFd {
    pid: u32,
    fd: Registration<OwnedFd>,
}

impl PidFd {
    /// Holds the process `pid` through a new pidfd (close-on-exec).
    ///
    /// # Errors
    ///
    /// `ESRCH` (`ErrorKind::NotFound`) when no process has that pid;
    /// [`ErrorKind::Unsupported`](io::ErrorKind::Unsupported) on a kernel
    /// without pidfds (before 5.3, or refused by a seccomp filter), and
    /// on macOS and FreeBSD, which have none; when built with `--cfg
    /// procwire_force_sigchld` or `--cfg procwire_portable`, which stand for such
    /// a kernel; `EMFILE` and the like.
    pub fn open(pid: u32) -> io::Result<PidFd> {
        if !pidfd_available() {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "this kernel has no pidfds"));
        }
        let raw = libc::pid_t::try_from(pid)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        let fd = sys::pidfd_open(raw)?;
        Ok(PidFd { pid, fd: Registration::lazy(fd, Interest::READABLE) })
    }

    /// The pid the process had when it was opened.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process has exited (zombies included), without waiting.
    ///
    /// # Errors
    ///
    /// [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)'s.
    pub fn has_exited(&self) -> io::Result<bool> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(self.fd.get_ref().as_fd(), PollFlags::POLLIN)];
        Ok(poll(&mut fds, PollTimeout::ZERO)? > 0)
    }

    /// Resolves once the process has exited (a pidfd turns readable then),
    /// on whichever runtime polls it.
    ///
    /// # Errors
    ///
    /// The reactor's (the runtime shut down with no other one current).
    pub fn poll_exited(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.fd.poll_with(cx, Direction::Read, |_, _| Some(Ok(())))
    }

    /// [`poll_exited`](Self::poll_exited) as a future.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn exited(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_exited(cx)).await
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.get_ref().as_fd()
    }
}
