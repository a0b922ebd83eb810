//! Growing a pipe that is found full, so bulk transfers make fewer
//! hand-offs between the child and the parent.
//!
//! A pipe starts at the kernel's default (64 KiB) and is doubled, up to
//! [`BOUND`], each time one of its parent's ends finds it full: a write
//! that hits `EAGAIN`, or reads that take a whole pipe-full before the
//! pipe is empty again. Small and idle pipes never get there and cost
//! nothing; a pipe the kernel refuses to grow (the user's
//! `pipe-user-pages-soft` budget is spent) keeps its size and is not asked
//! again.

use std::io;
use std::os::fd::BorrowedFd;

use crate::sys;

/// The largest capacity a pipe grows to by itself: 1 MiB, the default
/// `/proc/sys/fs/pipe-max-size`, where the pipe benchmark stops gaining.
pub(crate) const BOUND: usize = 1 << 20;

/// No pipe holds less than a page: reads that took less than this cannot
/// have emptied a full pipe, and need no look at its capacity.
const PAGE: usize = 4096;

/// The capacity to ask for after a pipe of `current` bytes was found
/// full: double, up to [`BOUND`]; `None` at the bound.
fn next_capacity(current: usize) -> Option<usize> {
    (current < BOUND).then(|| current.saturating_mul(2).clamp(PAGE, BOUND))
}

/// What is known of the pipe's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not looked at yet (nothing suggested it might be full).
    Unknown,
    /// This many bytes, below [`BOUND`]: it may grow.
    At(usize),
    /// Never grown again: at the bound, sized by the user
    /// (`Command::pipe_capacity`), or refused by the kernel.
    Settled,
}

/// The two `fcntl`s, as function pointers so that unit tests can make the
/// kernel refuse.
type GetCapacity = fn(BorrowedFd<'_>) -> io::Result<usize>;
type SetCapacity = fn(BorrowedFd<'_>, usize) -> io::Result<usize>;

/// One pipe end's growth: its state, and for a reading end the bytes read
/// since the pipe was last found empty.
#[derive(Debug)]
pub(crate) struct Growth {
    state: State,
    /// Bytes read since a read last found the pipe empty (a short read or
    /// `EAGAIN`).
    streak: usize,
    get: GetCapacity,
    set: SetCapacity,
}

impl Growth {
    /// A pipe that grows when found full, or (`grow` false: the user sized
    /// it) one that keeps its size.
    pub(crate) fn new(grow: bool) -> Growth {
        let state = if grow { State::Unknown } else { State::Settled };
        Growth { state, streak: 0, get: sys::io::pipe_capacity, set: sys::io::set_pipe_capacity }
    }

    /// A growing pipe whose kernel calls are `get` and `set`.
    #[cfg(test)]
    pub(crate) fn with_kernel(get: GetCapacity, set: SetCapacity) -> Growth {
        Growth { state: State::Unknown, streak: 0, get, set }
    }

    /// A read on `fd` took `n` bytes into a buffer with room for `room`.
    /// Reads that take the pipe's capacity before one comes back short
    /// found it full: grow it.
    pub(crate) fn read(&mut self, fd: BorrowedFd<'_>, n: usize, room: usize) {
        if self.state == State::Settled {
            return;
        }
        self.streak = self.streak.saturating_add(n);
        if self.streak >= PAGE && self.capacity(fd).is_some_and(|cap| self.streak >= cap) {
            self.grow(fd);
            self.streak = 0;
        }
        if n < room {
            self.streak = 0;
        }
    }

    /// A read on the pipe found it empty (`EAGAIN`).
    pub(crate) fn drained(&mut self) {
        self.streak = 0;
    }

    /// A write on `fd` found the pipe full (`EAGAIN`): grow it. True if it
    /// grew, so a write now finds room.
    pub(crate) fn full(&mut self, fd: BorrowedFd<'_>) -> bool {
        self.capacity(fd).is_some() && self.grow(fd)
    }

    /// The pipe's capacity while it may grow; looked up once.
    fn capacity(&mut self, fd: BorrowedFd<'_>) -> Option<usize> {
        if self.state == State::Unknown {
            self.state = match (self.get)(fd) {
                Ok(cap) if cap < BOUND => State::At(cap),
                _ => State::Settled,
            };
        }
        match self.state {
            State::At(cap) => Some(cap),
            _ => None,
        }
    }

    /// Doubles the capacity (up to the bound); any refusal settles it.
    fn grow(&mut self, fd: BorrowedFd<'_>) -> bool {
        let State::At(cap) = self.state else { return false };
        let Some(want) = next_capacity(cap) else {
            self.state = State::Settled;
            return false;
        };
        match (self.set)(fd, want) {
            Ok(got) if got > cap => {
                self.state = if got >= BOUND { State::Settled } else { State::At(got) };
                true
            }
            _ => {
                self.state = State::Settled;
                false
            }
        }
    }

    /// The capacity this end knows of, for tests.
    #[cfg(test)]
    fn known(&self) -> Option<usize> {
        match self.state {
            State::At(cap) => Some(cap),
            _ => None,
        }
    }

    #[cfg(test)]
    fn settled(&self) -> bool {
        self.state == State::Settled
    }
}

#[cfg(test)]
mod tests;
