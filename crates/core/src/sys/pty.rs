//! Pseudo-terminal ioctls.

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
