//! A descriptor registered with the reactor of whichever tokio runtime
//! polls it.
//!
//! tokio binds an `AsyncFd` to the runtime that created it. Polled from
//! another runtime, it waits on a reactor that nobody may be driving (a
//! current-thread runtime that is alive but idle: a hang), or fails once
//! that runtime has shut down. [`Registration`] remembers the runtime it is
//! registered with and, when a poll would wait or fails while another
//! runtime is current, moves the descriptor to the current runtime's
//! reactor and polls again. A poll that finds the descriptor ready costs
//! nothing more than `AsyncFd`'s own.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::Interest;
use tokio::runtime::{Handle, Id};

/// The readiness guard [`Registration::poll_with`] hands to its callback.
pub(crate) type ReadyGuard<'a> = AsyncFdReadyGuard<'a, RawFd>;

/// Which readiness a poll waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// Descriptor owners whose descriptor stays open, and keeps its number, for
/// as long as the value lives: `OwnedFd`, or an `Arc` of one.
pub(crate) trait OwnedFdLike: AsFd {}
impl OwnedFdLike for OwnedFd {}
impl OwnedFdLike for Arc<OwnedFd> {}

/// A descriptor and its registration with a tokio reactor, which follows
/// the runtime that polls it.
#[derive(Debug)]
pub(crate) struct Registration<T: OwnedFdLike> {
    /// The registration and the runtime it belongs to; `None` until the
    /// first runtime is seen, or after a move to another runtime failed.
    /// Declared before `fd`, so it is dropped (deregistered) before the
    /// descriptor can close.
    reactor: Option<(AsyncFd<RawFd>, Id)>,
    fd: T,
    interest: Interest,
}

impl<T: OwnedFdLike> Registration<T> {
    /// Registers `fd` with the current runtime's reactor; outside a
    /// runtime, the first poll from within one registers it.
    ///
    /// # Errors
    ///
    /// The reactor refused the descriptor (`epoll_ctl`); `fd` is closed.
    ///
    /// # Panics
    ///
    /// In a runtime built without IO enabled.
    pub(crate) fn new(fd: T, interest: Interest) -> io::Result<Self> {
        let mut reg = Registration { reactor: None, fd, interest };
        if let Ok(handle) = Handle::try_current() {
            reg.register(handle.id())?;
        }
        Ok(reg)
    }

    /// Like [`new`](Self::new), but infallible: if the reactor refuses
    /// `fd` now, the first poll tries again.
    ///
    /// # Panics
    ///
    /// In a runtime built without IO enabled.
    pub(crate) fn lazy(fd: T, interest: Interest) -> Self {
        let mut reg = Registration { reactor: None, fd, interest };
        if let Ok(handle) = Handle::try_current() {
            let _ = reg.register(handle.id());
        }
        reg
    }

    /// The descriptor.
    pub(crate) fn get_ref(&self) -> &T {
        &self.fd
    }

    /// Deregisters and gives the descriptor back.
    pub(crate) fn into_inner(self) -> T {
        let Registration { reactor, fd, .. } = self;
        drop(reactor);
        fd
    }

    /// Registers with the reactor of the current runtime, whose id is
    /// `runtime`, leaving the previous one first.
    fn register(&mut self, runtime: Id) -> io::Result<()> {
        self.reactor = None;
        let raw = self.fd.as_fd().as_raw_fd();
        // SAFETY: `AsyncFd::register_with_interest` needs `raw` to stay open
        // and name the same file while it is registered. `self.fd` owns it
        // (an `OwnedFd`, or an `Arc` of one: sealed by `OwnedFdLike`, and
        // nobody closes an `OwnedFd` but its drop), and `self.fd` is dropped
        // or given away only after `self.reactor`: by field order on drop,
        // and explicitly in `into_inner`.
        let afd = unsafe { AsyncFd::register_with_interest(raw, self.interest) }.map_err(io::Error::from)?;
        self.reactor = Some((afd, runtime));
        Ok(())
    }

    /// Waits for readiness in `dir`, then lets `act` use the descriptor.
    /// `act` returns `Some(result)` to finish, or `None` after clearing the
    /// guard's readiness (it found none): the poll then waits for the next
    /// edge.
    ///
    /// A poll that would wait, or that fails (the registering runtime shut
    /// down), while another runtime is current moves the registration to
    /// that runtime first, so the waker is registered with a reactor that
    /// the polling task's runtime drives. Outside any runtime the old
    /// registration is kept: it works for as long as its runtime is driven.
    ///
    /// # Errors
    ///
    /// What `act` returns; the reactor's error (the runtime shut down) when
    /// no other runtime is current; an error when the descriptor was never
    /// registered and no runtime is current.
    ///
    /// # Panics
    ///
    /// When the registration moves to a runtime built without IO enabled.
    pub(crate) fn poll_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut act: impl FnMut(&mut ReadyGuard<'_>, BorrowedFd<'_>) -> Option<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        loop {
            // Waiting (`None`), failed (`Some(error)`), or not registered.
            let stuck = match &self.reactor {
                Some((afd, _)) => {
                    let polled = match dir {
                        Direction::Read => afd.poll_read_ready(cx),
                        Direction::Write => afd.poll_write_ready(cx),
                    };
                    match polled {
                        Poll::Ready(Ok(mut guard)) => match act(&mut guard, self.fd.as_fd()) {
                            Some(result) => return Poll::Ready(result),
                            None => continue,
                        },
                        Poll::Ready(Err(e)) => Some(e),
                        Poll::Pending => None,
                    }
                }
                None => None,
            };
            let here = Handle::try_current().ok().map(|h| h.id());
            match (here, &self.reactor) {
                (Some(here), Some((_, there))) if here != *there => {}
                (Some(_), None) => {}
                (None, None) => return Poll::Ready(Err(no_runtime())),
                _ => return stuck.map_or(Poll::Pending, |e| Poll::Ready(Err(e))),
            }
            if let Some(here) = here {
                if let Err(e) = self.register(here) {
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    /// [`poll_with`](Self::poll_with) for one non-blocking syscall: `io`
    /// failing with `EAGAIN` clears the readiness and waits again.
    pub(crate) fn poll_io<R>(
        &mut self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut io: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_with(cx, dir, |guard, fd| match io(fd) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                guard.clear_ready();
                None
            }
            result => Some(result),
        })
    }
}

fn no_runtime() -> io::Error {
    io::Error::other("polled outside a tokio runtime, and not registered with any runtime's reactor yet")
}
