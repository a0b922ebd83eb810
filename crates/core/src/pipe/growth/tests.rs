//! The growth policy against a mock kernel: when it looks at the pipe,
//! how far it grows it, and that a refusal is final.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use super::{next_capacity, Budget, Growth, BOUND};

const KIB: usize = 1024;

thread_local! {
    /// The mock pipe's capacity.
    static CAPACITY: Cell<usize> = const { Cell::new(64 * KIB) };
    /// Calls to the mock's `get` and `set`.
    static GETS: Cell<usize> = const { Cell::new(0) };
    static SETS: Cell<usize> = const { Cell::new(0) };
}

fn get(_: std::os::fd::BorrowedFd<'_>) -> io::Result<usize> {
    GETS.set(GETS.get() + 1);
    Ok(CAPACITY.get())
}

/// Grants any size, rounded up to a power of two like the kernel.
fn grant(_: std::os::fd::BorrowedFd<'_>, bytes: usize) -> io::Result<usize> {
    SETS.set(SETS.get() + 1);
    CAPACITY.set(bytes.next_power_of_two());
    Ok(CAPACITY.get())
}

/// Refuses like a user past `pipe-user-pages-soft`.
fn refuse(_: std::os::fd::BorrowedFd<'_>, _: usize) -> io::Result<usize> {
    SETS.set(SETS.get() + 1);
    Err(io::Error::from_raw_os_error(nix::libc::EPERM))
}

/// A mock pipe of `capacity` bytes, and a descriptor to name it by (the
/// mock never uses it).
fn mock(capacity: usize) -> OwnedFd {
    CAPACITY.set(capacity);
    GETS.set(0);
    SETS.set(0);
    nix::unistd::pipe().expect("pipe").0
}

#[test]
fn capacity_doubles_up_to_the_bound() {
    assert_eq!(next_capacity(64 * KIB), Some(128 * KIB));
    assert_eq!(next_capacity(512 * KIB), Some(BOUND));
    assert_eq!(next_capacity(768 * KIB), Some(BOUND));
    assert_eq!(next_capacity(BOUND), None);
    assert_eq!(next_capacity(4 * BOUND), None);
    assert_eq!(next_capacity(0), Some(4 * KIB));
}

#[test]
fn small_reads_never_look_at_the_pipe() {
    let fd = mock(64 * KIB);
    let mut growth = Growth::with_kernel(get, grant);
    for _ in 0..1000 {
        growth.read(fd.as_fd(), 100, 8 * KIB);
        growth.drained();
    }
    assert_eq!((GETS.get(), SETS.get()), (0, 0));
}

#[test]
fn reads_of_a_pipe_full_double_it_up_to_the_bound() {
    let fd = mock(64 * KIB);
    let mut growth = Growth::with_kernel(get, grant);
    // A 64 KiB buffer: each pipe-full takes capacity / 64 KiB full reads.
    let mut sizes = vec![];
    for _ in 0..100 {
        growth.read(fd.as_fd(), 64 * KIB, 64 * KIB);
        sizes.push(CAPACITY.get());
    }
    sizes.dedup();
    assert_eq!(sizes, [128 * KIB, 256 * KIB, 512 * KIB, BOUND]);
    assert!(growth.settled());
    assert_eq!((GETS.get(), SETS.get()), (1, 4), "one look, one call per doubling");
}

#[test]
fn a_pipe_emptied_before_it_was_full_keeps_its_size() {
    let fd = mock(128 * KIB);
    let mut growth = Growth::with_kernel(get, grant);
    for _ in 0..100 {
        // 64 + 32 KiB, then short: the pipe held less than its capacity.
        growth.read(fd.as_fd(), 64 * KIB, 64 * KIB);
        growth.read(fd.as_fd(), 32 * KIB, 64 * KIB);
        // 64 KiB, then EAGAIN.
        growth.read(fd.as_fd(), 64 * KIB, 64 * KIB);
        growth.drained();
    }
    assert_eq!(SETS.get(), 0);
    assert_eq!(growth.known(), Some(128 * KIB));
    // One read of a whole pipe-full into a larger buffer grows it.
    growth.read(fd.as_fd(), 128 * KIB, BOUND);
    assert_eq!(CAPACITY.get(), 256 * KIB);
}

#[test]
fn writes_that_find_the_pipe_full_double_it_up_to_the_bound() {
    let fd = mock(64 * KIB);
    let mut growth = Growth::with_kernel(get, grant);
    let grew: Vec<bool> = (0..6).map(|_| growth.full(fd.as_fd())).collect();
    assert_eq!(grew, [true, true, true, true, false, false]);
    assert_eq!((CAPACITY.get(), GETS.get(), SETS.get()), (BOUND, 1, 4));
}

#[test]
fn a_refusal_is_final() {
    let fd = mock(64 * KIB);
    let mut growth = Growth::with_kernel(get, refuse);
    assert!(!growth.full(fd.as_fd()));
    assert!(growth.settled());
    for _ in 0..10 {
        assert!(!growth.full(fd.as_fd()));
        growth.read(fd.as_fd(), 64 * KIB, 64 * KIB);
    }
    assert_eq!((CAPACITY.get(), GETS.get(), SETS.get()), (64 * KIB, 1, 1));
}

#[test]
fn a_pipe_at_the_bound_or_sized_by_the_user_is_left_alone() {
    let fd = mock(BOUND);
    let mut growth = Growth::with_kernel(get, grant);
    assert!(!growth.full(fd.as_fd()));
    assert_eq!((GETS.get(), SETS.get()), (1, 0));

    // `Growth::new(false)` calls the real kernel, if it calls at all.
    let (r, _w) = nix::unistd::pipe().expect("pipe");
    let before = crate::sys::io::pipe_capacity(r.as_fd()).expect("F_GETPIPE_SZ");
    let mut growth = Growth::new(false);
    for _ in 0..10 {
        assert!(!growth.full(r.as_fd()));
        growth.read(r.as_fd(), before, before);
    }
    assert_eq!(crate::sys::io::pipe_capacity(r.as_fd()).expect("F_GETPIPE_SZ"), before);
}

/// The pipes of a process grow within one budget: a pipe that finds it
/// spent keeps its size without asking the kernel, and a pipe dropped
/// gives back what it grew by.
#[test]
fn pipes_grow_within_the_process_budget() {
    static BUDGET: Budget = Budget::new(192 * KIB);
    let fd = mock(64 * KIB);
    let mut first = Growth::with_budget(get, grant, &BUDGET);
    assert!(first.full(fd.as_fd()) && first.full(fd.as_fd()), "64 KiB, then 128 KiB more");
    assert_eq!(CAPACITY.get(), 256 * KIB);

    CAPACITY.set(64 * KIB);
    let mut second = Growth::with_budget(get, grant, &BUDGET);
    assert!(!second.full(fd.as_fd()), "the budget is spent");
    assert!(second.settled());
    assert_eq!(SETS.get(), 2, "not asked");
    assert!(!first.full(fd.as_fd()), "nor can the first grow further");

    drop(first);
    let mut third = Growth::with_budget(get, grant, &BUDGET);
    assert!(third.full(fd.as_fd()), "the first pipe gave its growth back");
    assert_eq!(CAPACITY.get(), 128 * KIB);
}
