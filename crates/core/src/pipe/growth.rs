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
//!
//! The kernel lets pipes grow until the user's budget is nearly spent, and
//! past it every new pipe of that user starts at two pages. So the pipes of
//! one process grow by at most half that budget in all ([`Budget`]): a
//! process streaming through many children at once leaves the rest for
//! everything else the user runs.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

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

/// Bytes the pipes of a process may grow by, in all.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Bytes the grown pipes hold beyond what they had before growing.
    held: AtomicUsize,
    limit: usize,
}

impl Budget {
    pub(crate) const fn new(limit: usize) -> Budget {
        Budget { held: AtomicUsize::new(0), limit }
    }

    /// Takes `bytes` from the budget, if that many are left.
    fn take(&self, bytes: usize) -> bool {
        let fits = |held: usize| held.checked_add(bytes).filter(|&total| total <= self.limit);
        self.held.fetch_update(Ordering::Relaxed, Ordering::Relaxed, fits).is_ok()
    }

    /// Counts `bytes` held beyond what was taken, past the limit if need be.
    fn add(&self, bytes: usize) {
        self.held.fetch_add(bytes, Ordering::Relaxed);
    }

    fn give(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// This process's budget: half of `/proc/sys/fs/pipe-user-pages-soft`
/// (16,384 pages by default, so 32 MiB), counted in 4 KiB pages (fewer
/// bytes than the kernel allows where pages are larger); no bound when the
/// soft limit is 0 (off).
static PROCESS: LazyLock<Budget> = LazyLock::new(|| {
    let pages = std::fs::read_to_string("/proc/sys/fs/pipe-user-pages-soft")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .unwrap_or(16_384);
    let limit = if pages == 0 { usize::MAX } else { pages.saturating_mul(PAGE) / 2 };
    Budget::new(limit)
});

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
    /// Bytes this pipe holds beyond its capacity before growing, taken
    /// from `budget` and given back on drop.
    grown: usize,
    budget: &'static Budget,
    get: GetCapacity,
    set: SetCapacity,
}

impl Drop for Growth {
    fn drop(&mut self) {
        self.budget.give(self.grown);
    }
}

impl Growth {
    /// A pipe that grows when found full, or (`grow` false: the user sized
    /// it) one that keeps its size.
    pub(crate) fn new(grow: bool) -> Growth {
        let state = if grow { State::Unknown } else { State::Settled };
        let (get, set) = (sys::io::pipe_capacity, sys::io::set_pipe_capacity);
        Growth { state, streak: 0, grown: 0, budget: &PROCESS, get, set }
    }

    /// A growing pipe whose kernel calls are `get` and `set`, with a large
    /// budget of its own.
    #[cfg(test)]
    pub(crate) fn with_kernel(get: GetCapacity, set: SetCapacity) -> Growth {
        Growth::with_budget(get, set, Box::leak(Box::new(Budget::new(usize::MAX))))
    }

    /// A growing pipe whose kernel calls are `get` and `set`, growing
    /// within `budget`.
    #[cfg(test)]
    pub(crate) fn with_budget(get: GetCapacity, set: SetCapacity, budget: &'static Budget) -> Growth {
        Growth { state: State::Unknown, streak: 0, grown: 0, budget, get, set }
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

    /// Doubles the capacity (up to the bound), within the budget; any
    /// refusal settles it.
    fn grow(&mut self, fd: BorrowedFd<'_>) -> bool {
        let State::At(cap) = self.state else { return false };
        let Some(want) = next_capacity(cap) else {
            self.state = State::Settled;
            return false;
        };
        if !self.budget.take(want - cap) {
            self.state = State::Settled;
            return false;
        }
        match (self.set)(fd, want) {
            Ok(got) if got > cap => {
                // The kernel rounds up to a power of two of pages, which
                // `want` is already; should it give more, count that too.
                self.budget.add(got.saturating_sub(want));
                self.grown += got - cap;
                self.state = if got >= BOUND { State::Settled } else { State::At(got) };
                true
            }
            _ => {
                self.budget.give(want - cap);
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
