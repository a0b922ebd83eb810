//! Pseudo-terminal ioctls.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::libc;

/// Sets the window size of the terminal behind `fd` (master or slave); the
/// foreground process group gets SIGWINCH.
///
/// Wraps [`ioctl_tty(2)`](https://man7.org/linux/man-pages/man2/ioctl_tty.2.html)
/// `TIOCSWINSZ`.
pub(crate) fn set_window_size(
    fd: BorrowedFd<'_>,
    rows: u16,
    cols: u16,
    xpixel: u16,
    ypixel: u16,
) -> io::Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: xpixel, ws_ypixel: ypixel };
    // SAFETY: TIOCSWINSZ reads one `winsize` from the valid pointer.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the window size of the terminal behind `fd`: (rows, cols,
/// xpixel, ypixel).
///
/// Wraps [`ioctl_tty(2)`](https://man7.org/linux/man-pages/man2/ioctl_tty.2.html)
/// `TIOCGWINSZ`.
pub(crate) fn window_size(fd: BorrowedFd<'_>) -> io::Result<(u16, u16, u16, u16)> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one `winsize` to the valid pointer.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel))
}

/// The path of the slave side of the pseudo-terminal whose master is `fd`.
///
/// Wraps [`ptsname_r(3)`](https://man7.org/linux/man-pages/man3/ptsname_r.3.html)
/// on Linux and FreeBSD. macOS: the `TIOCPTYGNAME` ioctl, which is what its
/// `ptsname` runs, into a buffer of our own (`ptsname`'s static one is not
/// thread-safe, and `ptsname_r` is macOS 13.4 and later only).
pub(crate) fn slave_name(fd: BorrowedFd<'_>) -> io::Result<CString> {
    let mut buf = [0u8; 128];
    #[cfg(not(target_os = "macos"))]
    // SAFETY: `buf` is writable for its whole length, which is passed.
    let rc = unsafe { libc::ptsname_r(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    #[cfg(not(target_os = "macos"))]
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    // `_IOC(IOC_OUT, 't', 83, 128)`: 128 bytes written, NUL-terminated.
    #[cfg(target_os = "macos")]
    const TIOCPTYGNAME: libc::c_ulong = 0x4080_7453;
    #[cfg(target_os = "macos")]
    // SAFETY: TIOCPTYGNAME writes at most 128 bytes into `buf`, which has
    // exactly 128.
    if unsafe { libc::ioctl(fd.as_raw_fd(), TIOCPTYGNAME, buf.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let len = buf.iter().position(|&b| b == 0).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))?;
    Ok(CString::new(&buf[..len]).expect("no NUL before `len`"))
}
