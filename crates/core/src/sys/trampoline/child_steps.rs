//! Two steps of the trampoline child that are not about descriptors or
//! credentials: writing its pid into its environment (`Command::env_pid`)
//! and moving itself into a cgroup. Both run between `clone` and `execve`
//! in the child, which shares the parent's memory: async-signal-safe,
//! nothing allocated, nothing locked.

use std::ffi::{c_char, c_int, c_long};

use nix::libc;

use super::raw;
use super::PID_DIGITS;

/// Writes `pid` in decimal and a NUL at `at`.
///
/// # Safety
///
/// `at` points to [`PID_DIGITS`] + 1 writable bytes nobody else reads or
/// writes meanwhile. Async-signal-safe: stores only.
pub(super) unsafe fn write_pid(at: *mut c_char, pid: c_long) {
    let mut digits = [0u8; PID_DIGITS];
    let (mut n, mut len) = (pid.unsigned_abs(), 0);
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        (n, len) = (n / 10, len + 1);
        if n == 0 || len == PID_DIGITS {
            break;
        }
    }
    for i in 0..len {
        // SAFETY: i < len <= PID_DIGITS, within the caller's buffer.
        unsafe { *at.add(i) = digits[len - 1 - i] as c_char };
    }
    // SAFETY: len <= PID_DIGITS: the NUL's byte is the caller's too.
    unsafe { *at.add(len) = 0 };
}

/// Moves the calling process into the cgroup whose directory is open on
/// `dir`: `openat(dir, "cgroup.procs")`, `write("0")` (0 names the
/// writer), `close`.
///
/// # Safety
///
/// Only for the trampoline child. Async-signal-safe: raw syscalls only, on
/// integers and static strings.
pub(super) unsafe fn cgroup_move(dir: c_int) -> Result<(), i32> {
    // SAFETY: raw syscalls; the path and the byte are static.
    unsafe {
        let fd = raw(libc::syscall(
            libc::SYS_openat,
            dir,
            c"cgroup.procs".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        ))?;
        let written = raw(libc::syscall(libc::SYS_write, fd, b"0".as_ptr(), 1usize));
        libc::syscall(libc::SYS_close, fd);
        written.map(drop)
    }
}
