//! Following a child until it is reaped: a pidfd in tokio's `AsyncFd`
//! where the kernel has pidfds, a SIGCHLD listener where it does not.
//!
//! The backend is chosen once per process (ENOSYS is probed once and
//! cached; off Linux there are none); building with `--cfg
//! procwire_force_sigchld` or `--cfg procwire_portable` forces the
//! fallback so the test suite exercises both.
//!
//! Either way the child can be waited for from any runtime: the pidfd's
//! registration and the SIGCHLD listener move to the runtime that polls
//! them when it is not the one they were made on.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use nix::libc;
use tokio::io::Interest;
use tokio::runtime::{Handle, Id};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::error::Error;
use crate::status::ExitStatus;
use crate::sys::process as sys;
use crate::sys::registration::{Direction, Registration};

mod orphan;
pub(crate) mod ours;

pub(crate) use orphan::retry_stranded;

/// Whether children are followed through pidfds (probed once).
pub(crate) fn pidfd_available() -> bool {
    if cfg!(any(procwire_force_sigchld, procwire_portable, not(target_os = "linux"))) {
        return false;
    }
    // 0 = not probed, 1 = available, 2 = missing.
    static PIDFD: AtomicU8 = AtomicU8::new(0);
    match PIDFD.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => match sys::pidfd_open(std::process::id() as libc::pid_t) {
            Ok(_fd) => {
                PIDFD.store(1, Ordering::Relaxed);
                true
            }
            // Missing, or refused by a seccomp policy: for good.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM | libc::EACCES)) => {
                PIDFD.store(2, Ordering::Relaxed);
                false
            }
            // Transient (EMFILE...): decide again next time.
            Err(_) => true,
        },
    }
}

/// Set up before `posix_spawn`, so the fallback cannot miss the SIGCHLD of
/// a child that exits at once.
pub(crate) enum Prepared {
    Pidfd,
    Signal(Sigchld),
}

impl Prepared {
    pub(crate) fn new() -> io::Result<Self> {
        if pidfd_available() {
            Ok(Prepared::Pidfd)
        } else {
            Ok(Prepared::Signal(Sigchld::new()?))
        }
    }
}

/// A SIGCHLD listener, and the runtime whose signal driver it was made on.
#[derive(Debug)]
pub(crate) struct Sigchld {
    signal: Signal,
    runtime: Id,
}

impl Sigchld {
    /// Listens on the current runtime.
    pub(crate) fn new() -> io::Result<Self> {
        let runtime = Handle::try_current().map_err(io::Error::other)?.id();
        Ok(Sigchld { signal: signal(SignalKind::child())?, runtime })
    }

    /// `Ready(Ok(()))` when a SIGCHLD may have come: one did, or the
    /// listener moved to the current runtime (it was made on another one,
    /// and would wait or failed), and a SIGCHLD may have come before the
    /// new listener existed. Either way the caller checks `waitpid` again.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let failed = match self.signal.poll_recv(cx) {
            Poll::Ready(Some(())) => return Poll::Ready(Ok(())),
            Poll::Ready(None) => true,
            Poll::Pending => false,
        };
        match Handle::try_current() {
            Ok(here) if here.id() != self.runtime => {
                *self = Sigchld::new()?;
                Poll::Ready(Ok(()))
            }
            _ if failed => Poll::Ready(Err(io::Error::other("tokio's signal driver shut down"))),
            _ => Poll::Pending,
        }
    }
}

/// What the SIGCHLD fallback shares with [`SignalHandle`]s: the pid, and
/// whether it was reaped, behind one lock so a signal can never race the
/// reap and hit a recycled pid.
#[derive(Debug)]
pub(crate) struct PidSlot {
    pid: libc::pid_t,
    reaped: Mutex<bool>,
}

impl PidSlot {
    /// The slot of unreaped child `pid`.
    pub(crate) fn new(pid: libc::pid_t) -> PidSlot {
        PidSlot { pid, reaped: Mutex::new(false) }
    }

    /// `waitpid(WNOHANG)` under the lock (and procwire's list's gate: see
    /// [`ours::reap`]).
    pub(crate) fn try_reap(&self) -> io::Result<Option<ExitStatus>> {
        let mut reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
        if *reaped {
            return Err(io::Error::from_raw_os_error(libc::ECHILD));
        }
        let status = ours::reap(self.pid, || sys::waitpid_nohang(self.pid))?;
        *reaped = status.is_some();
        Ok(status.map(ExitStatus::from_raw))
    }

    /// Waits for the child's exit and reaps it, blocking; for a child
    /// sent SIGKILL, whose end is bounded. The wait leaves it a zombie, so
    /// the gate is held only for the reap.
    pub(crate) fn reap_blocking(&self) -> io::Result<Option<ExitStatus>> {
        sys::wait_exited_blocking(self.pid)?;
        self.try_reap()
    }

    fn kill(&self, sig: i32) -> Result<(), Error> {
        let reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
        if *reaped {
            return Err(Error::ProcessExitedAlready);
        }
        sys::kill(self.pid, sig).map_err(exited_already)
    }

    /// The exit status without reaping (`WNOWAIT`), under the lock.
    fn peek(&self) -> io::Result<Option<ExitStatus>> {
        let reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
        if *reaped {
            return Err(io::Error::from_raw_os_error(libc::ECHILD));
        }
        Ok(sys::peek_pid(self.pid)?.map(ExitStatus::from_raw))
    }

    /// Signals the process group the child leads, if it leads one now,
    /// under the lock (so the pid looked at is still the child's).
    fn kill_group(&self, sig: i32) -> Result<(), Error> {
        let reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
        if *reaped {
            return Err(Error::ProcessExitedAlready);
        }
        kill_led_group(self.pid, sig)
    }
}

/// The handle that can signal the process: the pidfd, or the locked pid.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// The pidfd, and the pid it was opened for.
    Pidfd(Arc<OwnedFd>, libc::pid_t),
    Pid(Arc<PidSlot>),
}

impl Target {
    /// Sends `sig`; [`Error::ProcessExitedAlready`] once reaped.
    pub(crate) fn send(&self, sig: i32) -> Result<(), Error> {
        match self {
            Target::Pidfd(fd, _) => sys::pidfd_send_signal(fd.as_fd(), sig).map_err(exited_already),
            Target::Pid(slot) => slot.kill(sig),
        }
    }

    /// Reaps the process if it has exited, without waiting.
    pub(crate) fn try_reap(&self) -> io::Result<Option<ExitStatus>> {
        match self {
            Target::Pidfd(fd, pid) => reap_pidfd(fd.as_fd(), *pid),
            Target::Pid(slot) => slot.try_reap(),
        }
    }

    /// Waits for the process to exit and reaps it, blocking the thread;
    /// for a process sent SIGKILL, whose end is bounded.
    pub(crate) fn reap_blocking(&self) -> io::Result<Option<ExitStatus>> {
        match self {
            Target::Pidfd(fd, pid) => {
                sys::wait_exited_pidfd_blocking(fd.as_fd())?;
                reap_pidfd(fd.as_fd(), *pid)
            }
            Target::Pid(slot) => slot.reap_blocking(),
        }
    }
}

/// Reaps the child behind `pidfd`, whose pid is `pid`, if it has exited
/// (see [`ours::reap`]).
fn reap_pidfd(pidfd: BorrowedFd<'_>, pid: libc::pid_t) -> io::Result<Option<ExitStatus>> {
    Ok(ours::reap(pid, || sys::waitid_pidfd(pidfd))?.map(ExitStatus::from_raw))
}

/// Sends `sig` to the process group whose id is `pid`, the pid of an
/// unreaped child, if the child leads that group now (its pgid is its pid:
/// spawned so, or made so by the child itself, `setsid(1)` say); else
/// [`Error::NotGroupLeader`] and nothing is sent.
///
/// Unreaped, the child keeps its pid, and so the id of any group it
/// created, from being reused: the signal cannot reach a stranger, even if
/// the child changes its group between the look and the signal (every
/// group with that id is one it created).
fn kill_led_group(pid: libc::pid_t, sig: i32) -> Result<(), Error> {
    if sys::process_group(pid).map_err(exited_already)? != pid {
        return Err(Error::NotGroupLeader);
    }
    sys::kill_group(pid, sig).map_err(exited_already)
}

fn exited_already(e: io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ESRCH) {
        Error::ProcessExitedAlready
    } else {
        Error::Io(e)
    }
}

/// Kills and reaps a child that cannot be followed (a spawn failed after
/// it was created), before the spawn returns its error: nothing is left
/// behind, and no background thread is needed (one may not start under the
/// same resource pressure). SIGKILL ends it in bounded time.
pub(crate) fn kill_and_reap(pid: libc::pid_t) {
    let _ = sys::kill(pid, libc::SIGKILL);
    let _ = PidSlot::new(pid).reap_blocking();
}

/// Hands a child that procwire did not spawn, one a
/// [`Subreaper`](crate::Subreaper) adopted, to the orphan reaper thread:
/// as [`Reaper::abandon`].
pub(crate) fn abandon_adopted(target: Target, killed: bool) {
    orphan::adopt(target, killed);
}

/// Follows one unreaped child.
#[derive(Debug)]
pub(crate) enum Reaper {
    /// The pidfd, registered with the reactor: it turns readable at exit;
    /// and the pid.
    Pidfd(Registration<Arc<OwnedFd>>, libc::pid_t),
    /// The SIGCHLD fallback: the pid, and a listener created before spawn.
    Signal(Arc<PidSlot>, Sigchld),
}

impl Reaper {
    /// Starts following `pid`, just spawned; `pidfd` is its pidfd if the
    /// spawn made one.
    pub(crate) fn new(pid: libc::pid_t, prepared: Prepared, pidfd: Option<OwnedFd>) -> io::Result<Self> {
        match prepared {
            Prepared::Pidfd => {
                let fd = match pidfd {
                    Some(fd) => Arc::new(fd),
                    None => Arc::new(sys::pidfd_open(pid)?),
                };
                Ok(Reaper::Pidfd(Registration::new(fd, Interest::READABLE)?, pid))
            }
            Prepared::Signal(sig) => Ok(Reaper::Signal(Arc::new(PidSlot::new(pid)), sig)),
        }
    }

    /// What signals the child.
    pub(crate) fn target(&self) -> Target {
        match self {
            Reaper::Pidfd(reg, pid) => Target::Pidfd(reg.get_ref().clone(), *pid),
            Reaper::Signal(slot, _) => Target::Pid(slot.clone()),
        }
    }

    /// Sends `sig` to the child.
    pub(crate) fn send(&self, sig: i32) -> Result<(), Error> {
        match self {
            Reaper::Pidfd(reg, _) => {
                sys::pidfd_send_signal(reg.get_ref().as_fd(), sig).map_err(exited_already)
            }
            Reaper::Signal(slot, _) => slot.kill(sig),
        }
    }

    /// Sends `sig` to the process group led by the child, whose pid is
    /// `pid`, if the child leads its group at this moment (see
    /// [`kill_led_group`]), else [`Error::NotGroupLeader`]. The caller has
    /// not reaped it, so the group id cannot have been reused.
    pub(crate) fn send_group(&self, pid: libc::pid_t, sig: i32) -> Result<(), Error> {
        match self {
            Reaper::Pidfd(..) => kill_led_group(pid, sig),
            Reaper::Signal(slot, _) => slot.kill_group(sig),
        }
    }

    /// Collects the exit status if the child has exited.
    pub(crate) fn try_reap(&self) -> io::Result<Option<ExitStatus>> {
        match self {
            Reaper::Pidfd(reg, pid) => reap_pidfd(reg.get_ref().as_fd(), *pid),
            Reaper::Signal(slot, _) => slot.try_reap(),
        }
    }

    /// Waits for the exit and collects it.
    pub(crate) fn poll_reap(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        self.poll_exit(cx, true)
    }

    /// Waits for the exit; reaps the child if `reap`, else leaves it a
    /// zombie (`WNOWAIT`) and only reports its status.
    pub(crate) fn poll_exit(&mut self, cx: &mut Context<'_>, reap: bool) -> Poll<io::Result<ExitStatus>> {
        match self {
            Reaper::Pidfd(reg, pid) => reg.poll_with(cx, Direction::Read, |guard, fd| {
                let exit = if reap {
                    reap_pidfd(fd, *pid)
                } else {
                    sys::peek_pidfd(fd).map(|s| s.map(ExitStatus::from_raw))
                };
                match exit {
                    Ok(Some(status)) => Some(Ok(status)),
                    Ok(None) => {
                        guard.clear_ready();
                        None
                    }
                    Err(e) => Some(Err(e)),
                }
            }),
            Reaper::Signal(slot, sig) => loop {
                let status = if reap { slot.try_reap()? } else { slot.peek()? };
                if let Some(status) = status {
                    return Poll::Ready(Ok(status));
                }
                std::task::ready!(sig.poll_recv(cx))?;
            },
        }
    }

    /// Hands a child that is still running to the orphan reaper, which
    /// collects it whenever it exits, runtime or not; `killed` says it was
    /// sent SIGKILL (see [`orphan::adopt`]).
    pub(crate) fn abandon(self, killed: bool) {
        if let Ok(Some(_)) = self.try_reap() {
            return;
        }
        let target = match self {
            // Deregister from the reactor; the orphan thread polls the fd.
            Reaper::Pidfd(reg, pid) => Target::Pidfd(reg.into_inner(), pid),
            Reaper::Signal(slot, _) => Target::Pid(slot),
        };
        orphan::adopt(target, killed);
    }
}
