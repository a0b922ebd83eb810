//! Process lifecycle syscalls: pidfd, `waitid`, `waitpid`, signals.
//!
//! All of them take typed descriptors; raw pids appear only for the
//! SIGCHLD fallback, where no pidfd exists.

use std::io;
use std::mem::MaybeUninit;

use nix::libc;

/// A raw wait status, as `waitpid(2)` reports it (`WIFEXITED` & co. apply).
pub(crate) type RawStatus = i32;

pub(crate) use pidfd::{peek_pidfd, pidfd_open, pidfd_send_signal, wait_exited_pidfd_blocking, waitid_pidfd};

/// The pidfd calls (Linux >= 5.4).
#[cfg(target_os = "linux")]
mod pidfd {
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

    use nix::libc;

    use super::{waitid, waitid_flags, RawStatus};

    /// `P_PIDFD` for `waitid(2)` (Linux >= 5.4).
    const P_PIDFD: libc::idtype_t = 3;

    /// Opens a pidfd for `pid` (close-on-exec, as the kernel always makes it).
    ///
    /// Wraps [`pidfd_open(2)`](https://man7.org/linux/man-pages/man2/pidfd_open.2.html).
    pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
        // SAFETY: a plain syscall with integer arguments.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: on success the kernel returned a new descriptor that nothing
        // else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    /// Sends `sig` to the process `pidfd` refers to. `ESRCH` once it was reaped.
    ///
    /// Wraps [`pidfd_send_signal(2)`](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html).
    pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
        // SAFETY: integer arguments plus a null `siginfo_t`, which the syscall
        // documents as "behave like kill(2)".
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Collects the exit of the process behind `pidfd` if it has exited
    /// (`WNOHANG`); `Ok(None)` while it is still running.
    ///
    /// Wraps [`waitid(2)`](https://man7.org/linux/man-pages/man2/waitid.2.html)
    /// with `P_PIDFD`.
    pub(crate) fn waitid_pidfd(pidfd: BorrowedFd<'_>) -> io::Result<Option<RawStatus>> {
        waitid(P_PIDFD, pidfd.as_raw_fd() as libc::id_t, 0)
    }

    /// The exit status of the process behind `pidfd` if it has exited,
    /// *without* reaping it (`WNOWAIT`): it stays a zombie, so its pid and
    /// process group id cannot be reused until it is reaped.
    pub(crate) fn peek_pidfd(pidfd: BorrowedFd<'_>) -> io::Result<Option<RawStatus>> {
        waitid(P_PIDFD, pidfd.as_raw_fd() as libc::id_t, libc::WNOWAIT)
    }

    /// Waits for the process behind `pidfd` to exit, blocking the calling
    /// thread, and leaves it a zombie (`WNOWAIT`) for a reap that follows;
    /// only for a process sent SIGKILL, whose end is bounded.
    pub(crate) fn wait_exited_pidfd_blocking(pidfd: BorrowedFd<'_>) -> io::Result<Option<RawStatus>> {
        waitid_flags(P_PIDFD, pidfd.as_raw_fd() as libc::id_t, libc::WEXITED | libc::WNOWAIT)
    }
}

/// Off Linux no pidfd exists: [`pidfd_open`] fails as on a kernel without
/// them (`ENOSYS`), so no other of these is ever given one.
#[cfg(not(target_os = "linux"))]
mod pidfd {
    use std::io;
    use std::os::fd::{BorrowedFd, OwnedFd};

    use nix::libc;

    use super::RawStatus;

    fn missing() -> io::Error {
        io::Error::from_raw_os_error(libc::ENOSYS)
    }

    pub(crate) fn pidfd_open(_: libc::pid_t) -> io::Result<OwnedFd> {
        Err(missing())
    }

    pub(crate) fn pidfd_send_signal(_: BorrowedFd<'_>, _: i32) -> io::Result<()> {
        Err(missing())
    }

    pub(crate) fn waitid_pidfd(_: BorrowedFd<'_>) -> io::Result<Option<RawStatus>> {
        Err(missing())
    }

    pub(crate) fn peek_pidfd(_: BorrowedFd<'_>) -> io::Result<Option<RawStatus>> {
        Err(missing())
    }

    pub(crate) fn wait_exited_pidfd_blocking(_: BorrowedFd<'_>) -> io::Result<Option<RawStatus>> {
        Err(missing())
    }
}

/// [`wait_exited_pidfd_blocking`] for child `pid` (`P_PID`).
pub(crate) fn wait_exited_blocking(pid: libc::pid_t) -> io::Result<Option<RawStatus>> {
    waitid_flags(libc::P_PID, pid as libc::id_t, libc::WEXITED | libc::WNOWAIT)
}

/// [`peek_pidfd`] for child `pid`, for the SIGCHLD fallback (`P_PID`).
pub(crate) fn peek_pid(pid: libc::pid_t) -> io::Result<Option<RawStatus>> {
    waitid(libc::P_PID, pid as libc::id_t, libc::WNOWAIT)
}

/// `waitid(idtype, id, WEXITED | WNOHANG | extra)`, retried on EINTR.
fn waitid(idtype: libc::idtype_t, id: libc::id_t, extra: libc::c_int) -> io::Result<Option<RawStatus>> {
    waitid_flags(idtype, id, libc::WEXITED | libc::WNOHANG | extra)
}

/// `waitid(idtype, id, flags)`, retried on EINTR.
fn waitid_flags(idtype: libc::idtype_t, id: libc::id_t, flags: libc::c_int) -> io::Result<Option<RawStatus>> {
    let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
    loop {
        // SAFETY: `info` is writable storage for one siginfo_t; `id` names a
        // pidfd borrowed by the caller or one of our children.
        let rc = unsafe { libc::waitid(idtype, id, info.as_mut_ptr(), flags) };
        if rc == 0 {
            break;
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
    // SAFETY: zero-initialised and then filled by the kernel; reading the
    // SIGCHLD fields of a `waitid` result is what they exist for.
    let (pid, code, status) = unsafe {
        let info = info.assume_init_ref();
        (info.si_pid(), info.si_code, info.si_status())
    };
    if pid == 0 {
        return Ok(None);
    }
    Ok(Some(raw_from_siginfo(code, status)))
}

/// Rebuilds the `waitpid`-style status word from `waitid`'s (code, status).
fn raw_from_siginfo(code: i32, status: i32) -> RawStatus {
    match code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_DUMPED => (status & 0x7f) | 0x80,
        _ => status & 0x7f,
    }
}

/// Collects the exit of child `pid` if it has exited (`WNOHANG`).
///
/// Wraps [`waitpid(2)`](https://man7.org/linux/man-pages/man2/waitpid.2.html);
/// used only by the SIGCHLD fallback.
pub(crate) fn waitpid_nohang(pid: libc::pid_t) -> io::Result<Option<RawStatus>> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; `pid` names one child.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        match rc {
            0 => return Ok(None),
            r if r == pid => return Ok(Some(status)),
            _ => {
                let err = io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::EINTR) {
                    return Err(err);
                }
            }
        }
    }
}

/// Blocks until child `pid` exits and reaps it; only for a child known to
/// have exited already, before it was listed as procwire's (a failed
/// trampoline spawn: see `reap::ours`).
#[cfg(target_os = "linux")]
pub(crate) fn waitpid_blocking(pid: libc::pid_t) -> io::Result<RawStatus> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; `pid` names one child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Ok(status);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

/// Sends `sig` to `pid` with [`kill(2)`](https://man7.org/linux/man-pages/man2/kill.2.html);
/// only where no pidfd can be had: for the SIGCHLD fallback while the pid
/// is known unreaped, and for a cgroup member just seen in `cgroup.procs`.
pub(crate) fn kill(pid: libc::pid_t, sig: i32) -> io::Result<()> {
    // SAFETY: a plain syscall with integer arguments (which process it
    // reaches is the caller's concern, above).
    if unsafe { libc::kill(pid, sig) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The process group of process `pid`; for an unreaped child (alive or a
/// zombie: Linux answers for both), the group it is in now, which it may
/// have changed itself since it was spawned (`setsid`, `setpgid`).
///
/// Wraps [`getpgid(2)`](https://man7.org/linux/man-pages/man2/getpgid.2.html).
pub(crate) fn process_group(pid: libc::pid_t) -> io::Result<libc::pid_t> {
    let pgid = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid)))?;
    Ok(pgid.as_raw())
}

/// Sends `sig` to process group `pgid` (`kill(-pgid, sig)`).
///
/// The caller guarantees the group's leader, whose pid is `pgid`, is an
/// unreaped child: a pid (alive or zombie) keeps its number, and the group
/// id with it, from being reused, so the signal cannot reach a stranger.
pub(crate) fn kill_group(pgid: libc::pid_t, sig: i32) -> io::Result<()> {
    if pgid <= 1 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: a plain syscall with integer arguments; see above.
    if unsafe { libc::kill(-pgid, sig) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siginfo_to_raw_status() {
        assert_eq!(raw_from_siginfo(libc::CLD_EXITED, 23), 23 << 8);
        assert_eq!(raw_from_siginfo(libc::CLD_KILLED, 15), 15);
        assert_eq!(raw_from_siginfo(libc::CLD_DUMPED, 11), 11 | 0x80);
    }
}
