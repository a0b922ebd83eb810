//! Non-blocking reads and writes on raw pipe descriptors.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::libc;
use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, ReadBuf};

/// Reads into the unfilled part of `buf` without zeroing it first.
///
/// Wraps [`read(2)`](https://man7.org/linux/man-pages/man2/read.2.html).
/// Returns the number of bytes read (0 at end of file).
pub(crate) fn read_buf(fd: BorrowedFd<'_>, buf: &mut ReadBuf<'_>) -> io::Result<usize> {
    // SAFETY: we only write initialised bytes into `unfilled` (the kernel
    // does) and then mark exactly that many as initialised.
    let unfilled = unsafe { buf.unfilled_mut() };
    // SAFETY: the pointer and length describe writable memory owned by
    // `buf` for the duration of the call.
    let n = unsafe { libc::read(fd.as_raw_fd(), unfilled.as_mut_ptr().cast(), unfilled.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: `read` initialised the first `n` bytes of `unfilled`.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Ok(n)
}

/// Writes as much of `data` as the pipe takes now.
///
/// Wraps [`write(2)`](https://man7.org/linux/man-pages/man2/write.2.html).
pub(crate) fn write(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    nix::unistd::write(fd, data).map_err(io::Error::from)
}

/// Writes as much of `bufs` as the pipe takes now, in one syscall.
///
/// Wraps [`writev(2)`](https://man7.org/linux/man-pages/man2/writev.2.html).
pub(crate) fn writev(fd: BorrowedFd<'_>, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    let iov = bufs.as_ptr().cast::<libc::iovec>();
    let cnt = bufs.len().min(libc::UIO_MAXIOV as usize) as libc::c_int;
    // SAFETY: `IoSlice` is ABI-compatible with `iovec` on Unix (std
    // guarantees it); the slices are valid for reads during the call.
    let n = unsafe { libc::writev(fd.as_raw_fd(), iov, cnt) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Registers `fd` with the current tokio reactor.
///
/// Wraps tokio's `AsyncFd::register_with_interest`, which is `unsafe`
/// because it needs the descriptor to stay open and unchanged while
/// registered. Taking an `OwnedFd` (or an `Arc` of one) guarantees that.
///
/// # Panics
///
/// Outside a tokio runtime; callers check for one first.
pub(crate) fn register<T: OwnedFdLike>(fd: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    // SAFETY: `T` is an `OwnedFd` or `Arc<OwnedFd>` (sealed by
    // `OwnedFdLike`): the descriptor is open, owned by the value, stays open
    // until the `AsyncFd` is dropped or `into_inner`ed, and `as_raw_fd`
    // always returns the same number. procwire never uses `get_mut` to
    // replace it.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(io::Error::from)
}

/// Descriptor owners whose `as_raw_fd` is stable for their whole life.
pub(crate) trait OwnedFdLike: AsRawFd {}
impl OwnedFdLike for std::os::fd::OwnedFd {}
impl OwnedFdLike for std::sync::Arc<std::os::fd::OwnedFd> {}
