//! Non-blocking reads and writes on raw pipe descriptors.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::fcntl::OFlag;
use nix::libc;
use tokio::io::ReadBuf;

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
    #[cfg(target_os = "linux")]
    let max = libc::UIO_MAXIOV;
    #[cfg(not(target_os = "linux"))]
    let max = libc::IOV_MAX;
    let cnt = bufs.len().min(max as usize) as libc::c_int;
    // SAFETY: `IoSlice` is ABI-compatible with `iovec` on Unix (std
    // guarantees it); the slices are valid for reads during the call.
    let n = unsafe { libc::writev(fd.as_raw_fd(), iov, cnt) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// The file status flags (`O_NONBLOCK`, `O_APPEND`, the access mode...)
/// of this process's descriptor `fd`, or `None` if it is not open.
///
/// Wraps [`fcntl(F_GETFL)`](https://man7.org/linux/man-pages/man2/fcntl.2.html),
/// for a descriptor named by number (a `ChildFd::Parent`).
pub(crate) fn status_flags(fd: RawFd) -> Option<OFlag> {
    if fd < 0 {
        return None;
    }
    // SAFETY: F_GETFL only reads the file status flags; an fd that is not
    // open yields EBADF and no other effect.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    (flags != -1).then(|| OFlag::from_bits_retain(flags))
}

/// The capacity of the pipe `fd` is an end of, in bytes.
///
/// Wraps [`fcntl(F_GETPIPE_SZ)`](https://man7.org/linux/man-pages/man2/fcntl.2.html)
/// (nix's safe form); `Unsupported` where the call does not exist.
pub(crate) fn pipe_capacity(fd: BorrowedFd<'_>) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let bytes = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETPIPE_SZ)?;
        Ok(usize::try_from(bytes).unwrap_or(0))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = fd;
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Asks for the pipe `fd` is an end of to hold `bytes`; returns the
/// capacity the kernel gave (rounded up to a power of two of pages).
///
/// Wraps [`fcntl(F_SETPIPE_SZ)`](https://man7.org/linux/man-pages/man2/fcntl.2.html)
/// (nix's safe form). Fails with `EPERM` past `/proc/sys/fs/pipe-max-size`
/// or the user's `pipe-user-pages-soft` budget (for a process without
/// `CAP_SYS_RESOURCE`), `EBUSY` when shrinking below what the pipe holds;
/// `Unsupported` where the call does not exist.
pub(crate) fn set_pipe_capacity(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let bytes = i32::try_from(bytes).unwrap_or(i32::MAX);
        let got = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(bytes))?;
        Ok(usize::try_from(got).unwrap_or(0))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (fd, bytes);
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// A pipe whose ends are both close-on-exec: (read end, write end).
///
/// Wraps [`pipe2(2)`](https://man7.org/linux/man-pages/man2/pipe.2.html)
/// with `O_CLOEXEC` on Linux and FreeBSD, so no other thread's spawn can
/// inherit an end. macOS has no `pipe2`: there it is `pipe` then
/// `FD_CLOEXEC` on each end, and a spawn made meanwhile by another thread
/// *outside* procwire (a `fork`, `std::process`) may inherit the ends;
/// procwire's own spawns cannot, since on macOS they pass
/// `POSIX_SPAWN_CLOEXEC_DEFAULT` and so inherit only what their plan names.
pub(crate) fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(not(target_os = "macos"))]
    {
        Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
    }
    #[cfg(target_os = "macos")]
    {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        let (r, w) = nix::unistd::pipe()?;
        fcntl(&r, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        fcntl(&w, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        Ok((r, w))
    }
}
