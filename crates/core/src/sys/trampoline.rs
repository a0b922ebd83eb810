//! The `clone(CLONE_VM | CLONE_VFORK)` trampoline: procwire's spawn engine
//! wherever the kernel can mark descriptors close-on-exec in a range (see
//! [`preferred`]), and everywhere for the steps `posix_spawn` cannot
//! express (credentials, the parent-death signal), without `fork()`'s
//! page-table copy.
//!
//! The child shares the parent's memory and runs on its own small stack
//! until `execve`; the parent thread is suspended until then (that is what
//! `CLONE_VFORK` does). So the child side, [`child_main`]:
//! - allocates nothing and takes no lock: everything it reads was prepared
//!   by the parent in a [`Request`];
//! - calls only async-signal-safe functions, and raw syscalls where glibc's
//!   wrappers would touch process-wide state: `setuid`/`setgid`/`setgroups`
//!   through glibc would broadcast the change to the *parent's* threads
//!   (they share our memory), and glibc's `sigaction` refuses its reserved
//!   signals 32 and 33;
//! - runs with every signal blocked (the parent blocks them around `clone`)
//!   until it has reset every disposition to `SIG_DFL`, so no parent signal
//!   handler can ever run on the child's stack;
//! - reports a failure as (step, errno) in memory the parent reads after
//!   `clone` returns, then `_exit(127)`s.
//!
//! A child with a cgroup is started inside it by `clone3(CLONE_INTO_CGROUP)`
//! ([`super::clone3`]) where that works, and otherwise moves itself there
//! first thing, by writing `0` to the cgroup's `cgroup.procs`.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_long, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::libc;

use super::spawn::SpawnRequest;
use crate::plan::FdStep;
use child_steps::{cgroup_move, write_pid};

mod child_steps;
mod spawner;

pub(crate) use spawner::spawn_on_spawner_thread;

/// A step of the child side, reported with its errno when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum ChildStep {
    SignalReset = 1,
    Setsid,
    Setpgid,
    FdSetup,
    ControllingTty,
    Setgroups,
    Setgid,
    Setuid,
    ParentDeathSignal,
    Chdir,
    SignalMask,
    Exec,
    Cgroup,
}

impl ChildStep {
    fn from_i32(v: i32) -> Option<ChildStep> {
        use ChildStep::*;
        [
            SignalReset,
            Setsid,
            Setpgid,
            FdSetup,
            ControllingTty,
            Setgroups,
            Setgid,
            Setuid,
            ParentDeathSignal,
            Chdir,
            SignalMask,
            Exec,
            Cgroup,
        ]
        .into_iter()
        .find(|s| *s as i32 == v)
    }
}

/// Why a trampoline spawn failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// In the parent, before the child existed (mmap, clone).
    Parent(io::Error),
    /// Starting procwire's spawner thread (for a parent-death signal).
    Thread(io::Error),
    /// In the child, at `step`; the child has been reaped.
    Child(ChildStep, io::Error),
    /// `clone3` refused to start the child in its cgroup (`EBUSY`: not a
    /// leaf; `EACCES`: not delegated to us; `ENODEV`: removed...); no
    /// child exists.
    IntoCgroup(io::Error),
}

/// Everything the child needs, prepared by the parent: what `posix_spawn`
/// would do, plus the steps only the trampoline can.
pub(crate) struct Request<'a> {
    /// The common part. Its `controlling_tty` path is not opened here: the
    /// terminal is already the child's fd 0 after the fd plan, and
    /// `TIOCSCTTY` on it makes it the controlling terminal.
    pub(crate) spawn: &'a SpawnRequest<'a>,
    pub(crate) groups: Option<&'a [libc::gid_t]>,
    pub(crate) gid: Option<libc::gid_t>,
    pub(crate) uid: Option<libc::uid_t>,
    pub(crate) parent_death_signal: Option<c_int>,
    /// Ask the kernel for a pidfd with the child (`CLONE_PIDFD`).
    pub(crate) pidfd: bool,
    /// The cgroup v2 directory to start the child in, opened by the parent
    /// (`O_PATH` is enough).
    pub(crate) cgroup: Option<BorrowedFd<'a>>,
    /// Where the child writes its pid in decimal, NUL-terminated, in an
    /// environment entry of `envp`: room for [`PID_DIGITS`] digits and the
    /// NUL (`Command::env_pid`).
    pub(crate) pid_digits: Option<*mut c_char>,
}

/// The digits of the largest pid (`PID_MAX_LIMIT`, 2^22, has 7; a pid_t
/// has 10 at most).
pub(crate) const PID_DIGITS: usize = 10;

/// What the child reads and writes in the parent's memory.
struct Shared<'a> {
    req: &'a Request<'a>,
    envp: *const *const c_char,
    parent_pid: libc::pid_t,
    /// The spawning thread's mask, as the kernel's 64-bit set.
    old_mask: u64,
    /// The mask of the thread that called `Command::spawn`, when that is
    /// not the spawning thread (the spawner thread); else `old_mask`.
    caller_mask: Option<u64>,
    /// The CPUs the thread that called `Command::spawn` may run on, when
    /// the spawning thread is the spawner thread pinned near it (see
    /// [`spawn_on_spawner_thread`]); null otherwise, the child keeping the
    /// spawning thread's.
    caller_cpus: *const libc::cpu_set_t,
    /// The cgroup directory the child moves itself into (`cgroup.procs`),
    /// or -1: no cgroup, or it was started there by `clone3`.
    cgroup_fd: c_int,
    failed_step: AtomicI32,
    failed_errno: AtomicI32,
}

// The child resets dispositions with the raw syscall and this layout, which
// is the kernel's on x86_64 and aarch64 only: refuse other architectures at
// compile time rather than corrupt memory at run time.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!(
    "procwire's clone trampoline knows the kernel's `struct sigaction` on x86_64 and aarch64 only"
);

/// The kernel's `struct sigaction` (x86_64 and aarch64 share this layout).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// `close_range` flag: set close-on-exec instead of closing.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
/// Size of the kernel's signal set, for `rt_sigaction`/`rt_sigprocmask`.
const KSIGSET: usize = 8;
/// The child's stack: it runs a handful of non-recursive frames.
const STACK: usize = 64 * 1024;

/// Whether the trampoline is the better engine for every spawn: where
/// `close_range(CLOSE_RANGE_CLOEXEC)` works (Linux >= 5.11), the child
/// marks the parent's other descriptors close-on-exec instead of closing
/// them one by one, so `execve` closes them after the parent thread was
/// released. `posix_spawn`'s `addclosefrom_np` has no such flag: its child
/// closes each while the parent waits, a cost that grows with every
/// descriptor the parent holds (sockets, other children's pipes).
/// Probed once, on an empty range; never true under
/// `--cfg procwire_force_posix_spawn` nor `--cfg procwire_portable`.
pub(crate) fn preferred() -> bool {
    use std::sync::atomic::AtomicU8;
    const UNKNOWN: u8 = 0;
    const YES: u8 = 1;
    const NO: u8 = 2;
    static PROBED: AtomicU8 = AtomicU8::new(UNKNOWN);
    if cfg!(any(procwire_force_posix_spawn, procwire_portable)) {
        return false;
    }
    match PROBED.load(Ordering::Relaxed) {
        YES => true,
        NO => false,
        _ => {
            // SAFETY: the range [u32::MAX, u32::MAX] lies above any
            // descriptor a process can have (at most fs.nr_open < 2^30), so
            // this changes nothing; it fails with EINVAL where the flag is
            // unknown and ENOSYS where close_range is.
            let rc = unsafe { libc::syscall(libc::SYS_close_range, u32::MAX, u32::MAX, CLOSE_RANGE_CLOEXEC) };
            let works = rc == 0;
            PROBED.store(if works { YES } else { NO }, Ordering::Relaxed);
            works
        }
    }
}

pub(crate) use super::spawn::Spawned;

/// Spawns the child described by `req` through the trampoline.
pub(crate) fn spawn(req: &Request<'_>) -> Result<Spawned, Failure> {
    spawn_keeping(req, None, None)
}

/// The calling thread's signal mask, as the kernel's 64-bit set.
fn thread_mask() -> io::Result<u64> {
    let mut mask: u64 = 0;
    // SAFETY: SIG_BLOCK with a null new set only reads the mask into a
    // valid 8-byte out-pointer.
    let rc = unsafe {
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, std::ptr::null::<u64>(), &mut mask, KSIGSET)
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(mask)
}

/// [`spawn`], with the mask to keep (for `keep_signal_mask`) read on
/// another thread than the one spawning.
fn spawn_keeping(
    req: &Request<'_>,
    caller_mask: Option<u64>,
    caller_cpus: Option<&libc::cpu_set_t>,
) -> Result<Spawned, Failure> {
    debug_assert!(req.spawn.argv.last().is_some_and(|p| p.is_null()));
    // This thread's stack from its last spawn, or a new one: the child is
    // done with it once `clone` returns (CLONE_VFORK), so one per thread
    // serves every spawn it makes, without an mmap, an mprotect, a munmap
    // and fresh page faults each time.
    // (`try_with`: a spawn from a thread-local destructor gets a fresh one.)
    let stack = match CACHED_STACK.try_with(Cell::take) {
        Ok(Some(stack)) => stack,
        _ => Stack::new().map_err(Failure::Parent)?,
    };
    let envp = req.spawn.envp.map_or_else(super::spawn::environ_ptr, <[_]>::as_ptr);
    let mut shared = Shared {
        req,
        envp,
        caller_mask,
        caller_cpus: caller_cpus.map_or(std::ptr::null(), |cpus| cpus as *const libc::cpu_set_t),
        // SAFETY: getpid has no preconditions.
        parent_pid: unsafe { libc::getpid() },
        old_mask: 0,
        cgroup_fd: -1,
        failed_step: AtomicI32::new(0),
        failed_errno: AtomicI32::new(0),
    };
    // Block everything, glibc's reserved signals included, so nothing runs
    // a parent handler in the child before it has reset dispositions.
    let all: u64 = !0;
    // SAFETY: valid pointers to 8-byte sets; only this thread's mask changes.
    let rc = unsafe {
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &all, &mut shared.old_mask, KSIGSET)
    };
    if rc < 0 {
        return Err(Failure::Parent(io::Error::last_os_error()));
    }
    // With CLONE_PIDFD the kernel creates the pidfd with the child, or
    // fails the clone (EMFILE): there is no moment when the child exists
    // and cannot be followed.
    let mut pidfd: c_int = -1;
    let mut cloned = None;
    if let Some(cgroup) = req.cgroup.filter(|_| super::clone3::available()) {
        // SAFETY: as for `clone` below: `child_main` only reads `shared`
        // and writes its atomics; the usable part of the stack is passed
        // (its top page-aligned), and it, `shared` and `pidfd` outlive the
        // child's use of them, CLONE_VFORK suspending this thread until the
        // child has exec'd or exited; every signal is blocked.
        let result = unsafe {
            super::clone3::clone_into_cgroup(
                cgroup,
                stack.usable(),
                STACK,
                req.pidfd.then_some(&mut pidfd),
                child_main,
                &shared as *const Shared<'_> as *mut c_void,
            )
        };
        match result {
            // Nothing was created: the child moves itself instead.
            Err(e) if super::clone3::unsupported(&e) => {}
            result => cloned = Some(result),
        }
    }
    let into_cgroup = cloned.is_some();
    let cloned = match cloned {
        Some(result) => result,
        None => {
            // Not started inside its cgroup (if it has one): the child
            // moves itself there.
            shared.cgroup_fd = req.cgroup.map_or(-1, |fd| fd.as_raw_fd());
            let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
            let flags = if req.pidfd { flags | libc::CLONE_PIDFD } else { flags };
            // SAFETY: `child_main` only reads `shared` and writes its
            // atomics; the stack is a fresh mapping of STACK bytes whose top
            // we pass (16-byte aligned, as mmap returns page-aligned
            // memory); CLONE_VFORK suspends this thread until the child has
            // exec'd or exited, so `shared` and the stack outlive the
            // child's use of them. With CLONE_PIDFD the kernel writes one
            // int, the pidfd, through the parent_tid pointer, which points
            // to `pidfd`.
            let pid = unsafe {
                libc::clone(
                    child_main,
                    stack.top(),
                    flags,
                    &shared as *const Shared<'_> as *mut c_void,
                    &mut pidfd as *mut c_int,
                )
            };
            if pid < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(pid)
            }
        }
    };
    // SAFETY: restores the mask saved above.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &shared.old_mask,
            std::ptr::null_mut::<u64>(),
            KSIGSET,
        )
    };
    // If the thread-local is gone, the closure is dropped and the stack
    // unmapped with it.
    let _ = CACHED_STACK.try_with(|cached| cached.set(Some(stack)));
    let pid = match cloned {
        Ok(pid) => pid,
        // What can fail in creating any process; anything else is about
        // the cgroup (clone3 checks it as a cgroup.procs write would).
        Err(e) if into_cgroup && !creation_error(&e) => return Err(Failure::IntoCgroup(e)),
        Err(e) => return Err(Failure::Parent(e)),
    };
    // SAFETY: with CLONE_PIDFD a successful clone stored a new descriptor
    // in `pidfd` that nothing else owns; without it `pidfd` stays -1.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    let step = shared.failed_step.load(Ordering::Acquire);
    if step != 0 {
        let errno = shared.failed_errno.load(Ordering::Acquire);
        // The child `_exit`ed: reap it so no zombie is left.
        let _ = super::process::waitpid_blocking(pid);
        let step = ChildStep::from_i32(step).unwrap_or(ChildStep::Exec);
        return Err(Failure::Child(step, io::Error::from_raw_os_error(errno)));
    }
    Ok(Spawned { pid, pidfd })
}

/// Errors of `clone` itself, whatever the cgroup: `EAGAIN`
/// (`RLIMIT_NPROC`, `pids.max`, threads-max), `ENOMEM`, and, with
/// `CLONE_PIDFD`, a full descriptor table (`EMFILE`, `ENFILE`).
fn creation_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::ENOMEM | libc::EMFILE | libc::ENFILE))
}

thread_local! {
    /// The trampoline stack of this thread's last spawn, kept for the next.
    static CACHED_STACK: Cell<Option<Stack>> = const { Cell::new(None) };
}

/// An mmap'd stack with a guard page below it.
struct Stack {
    base: *mut c_void,
    len: usize,
}

impl Stack {
    fn new() -> io::Result<Stack> {
        let guard = 4096;
        let len = STACK + guard;
        // SAFETY: an anonymous private mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base, len };
        // SAFETY: the range lies inside the mapping made above.
        let rc = unsafe {
            libc::mprotect(base.cast::<u8>().add(guard).cast(), STACK, libc::PROT_READ | libc::PROT_WRITE)
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The bottom of the usable part, above the guard page: STACK bytes.
    fn usable(&self) -> *mut u8 {
        // SAFETY: inside the mapping: `len` is STACK plus the guard.
        unsafe { self.base.cast::<u8>().add(self.len - STACK) }
    }

    fn top(&self) -> *mut c_void {
        // SAFETY: one past the end of the mapping, which is where a
        // downward-growing stack starts.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, no longer used.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// A raw syscall's result: `Err(errno)` on failure.
///
/// Async-signal-safe: glibc's `syscall()` is a plain trap. It sets `errno`,
/// which lives in the parent thread's TLS (the child shares it); the parent
/// is suspended and reads `errno` only after its own calls.
fn raw(rc: c_long) -> Result<c_long, i32> {
    if rc < 0 {
        // SAFETY: `__errno_location` returns this thread's errno slot.
        Err(unsafe { *libc::__errno_location() })
    } else {
        Ok(rc)
    }
}

/// The child side. Runs on the trampoline's stack, in the parent's memory.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Shared` the parent passed to clone; it stays
    // alive while the parent is suspended by CLONE_VFORK.
    let shared = unsafe { &*(arg as *const Shared<'_>) };
    let fail = |step: ChildStep, errno: i32| -> c_int {
        shared.failed_errno.store(errno, Ordering::Release);
        shared.failed_step.store(step as i32, Ordering::Release);
        // SAFETY: _exit is async-signal-safe and never returns.
        unsafe { libc::_exit(127) }
    };
    match run_child(shared) {
        Ok(never) => match never {},
        Err((step, errno)) => fail(step, errno),
    }
}

/// The child's steps, in order; returns only on failure.
fn run_child(shared: &Shared<'_>) -> Result<std::convert::Infallible, (ChildStep, i32)> {
    let req = shared.req;
    let base = req.spawn;
    // SAFETY: this runs only in the trampoline child. Every call below is
    // a raw syscall or an async-signal-safe libc function (`syscall`,
    // `execve`), on integers or on pointers into memory the parent prepared
    // and keeps alive while it is suspended; nothing allocates or locks.
    unsafe {
        // Every disposition to SIG_DFL: an ignored signal must not stay
        // ignored in the program, and no parent handler may run here.
        let dfl = KernelSigaction { handler: libc::SIG_DFL, flags: 0, restorer: 0, mask: 0 };
        for sig in 1..=64 {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            // async-signal-safe: raw rt_sigaction (glibc's sigaction would
            // refuse 32 and 33).
            let rc = libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                KSIGSET,
            );
            raw(rc).map_err(|e| (ChildStep::SignalReset, e))?;
        }
        // Into the cgroup first: before the fd plan (which may reuse the
        // directory's descriptor number) and the credential changes (which
        // may take away the right to write there), so everything the child
        // does from here on is accounted to the cgroup.
        if shared.cgroup_fd >= 0 {
            cgroup_move(shared.cgroup_fd).map_err(|e| (ChildStep::Cgroup, e))?;
        }
        if base.setsid {
            // async-signal-safe: raw setsid.
            raw(libc::syscall(libc::SYS_setsid)).map_err(|e| (ChildStep::Setsid, e))?;
        }
        if let Some(pgid) = base.process_group {
            // async-signal-safe: raw setpgid.
            raw(libc::syscall(libc::SYS_setpgid, 0, pgid)).map_err(|e| (ChildStep::Setpgid, e))?;
        }
        for step in base.fd_steps {
            // async-signal-safe: raw dup3/fcntl/close_range/close only.
            fd_step(step).map_err(|e| (ChildStep::FdSetup, e))?;
        }
        if base.controlling_tty.is_some() {
            // async-signal-safe: raw ioctl(TIOCSCTTY) on fd 0, the terminal.
            raw(libc::syscall(libc::SYS_ioctl, 0, libc::TIOCSCTTY, 0))
                .map_err(|e| (ChildStep::ControllingTty, e))?;
        }
        if let Some(groups) = req.groups {
            // async-signal-safe: raw setgroups, which changes this process
            // only (glibc's wrapper would signal the parent's threads).
            raw(libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()))
                .map_err(|e| (ChildStep::Setgroups, e))?;
        }
        if let Some(gid) = req.gid {
            // async-signal-safe: raw setgid (this process only, as above).
            raw(libc::syscall(libc::SYS_setgid, gid)).map_err(|e| (ChildStep::Setgid, e))?;
        }
        if let Some(uid) = req.uid {
            // async-signal-safe: raw setuid (this process only, as above).
            raw(libc::syscall(libc::SYS_setuid, uid)).map_err(|e| (ChildStep::Setuid, e))?;
        }
        // After the credential changes, which clear it.
        if let Some(sig) = req.parent_death_signal {
            // async-signal-safe: raw prctl, getppid, getpid, kill.
            raw(libc::syscall(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, sig, 0, 0, 0))
                .map_err(|e| (ChildStep::ParentDeathSignal, e))?;
            // The parent may have died before the prctl: then the signal
            // will never come, so deliver it now.
            if libc::syscall(libc::SYS_getppid) as libc::pid_t != shared.parent_pid {
                let me = libc::syscall(libc::SYS_getpid);
                libc::syscall(libc::SYS_kill, me, sig);
            }
        }
        if let Some(digits) = req.pid_digits {
            // async-signal-safe: raw getpid, then stores into the buffer
            // the parent prepared (it is suspended until exec).
            write_pid(digits, libc::syscall(libc::SYS_getpid));
        }
        if let Some(dir) = base.cwd {
            // async-signal-safe: raw chdir.
            raw(libc::syscall(libc::SYS_chdir, dir.as_ptr())).map_err(|e| (ChildStep::Chdir, e))?;
        }
        if !shared.caller_cpus.is_null() {
            // async-signal-safe: raw sched_setaffinity on this process, from
            // the set the parent keeps alive while it is suspended. The
            // program runs where its caller's thread may run, not only on
            // the CPU the spawner thread was pinned to. A failure (the
            // cpuset changed meanwhile) leaves it where it is: no reason to
            // fail a spawn that `fork` would not have failed.
            libc::syscall(
                libc::SYS_sched_setaffinity,
                0,
                std::mem::size_of::<libc::cpu_set_t>(),
                shared.caller_cpus,
            );
        }
        // async-signal-safe: raw rt_sigprocmask, last, once every
        // disposition is SIG_DFL (glibc's wrapper hides 32 and 33).
        let mask: u64 = if base.keep_signal_mask { shared.caller_mask.unwrap_or(shared.old_mask) } else { 0 };
        raw(libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &mask,
            std::ptr::null_mut::<u64>(),
            KSIGSET,
        ))
        .map_err(|e| (ChildStep::SignalMask, e))?;
        // async-signal-safe: execve (POSIX lists it); only returns on error.
        libc::execve(base.path.as_ptr(), base.argv.as_ptr(), shared.envp);
        Err((ChildStep::Exec, *libc::__errno_location()))
    }
}

/// One step of the fd plan, with raw syscalls.
///
/// # Safety
///
/// Only for the trampoline child: it changes the descriptor table.
unsafe fn fd_step(step: &FdStep) -> Result<(), i32> {
    // SAFETY: raw syscalls on integers; the caller is the trampoline child.
    unsafe {
        match *step {
            FdStep::Dup2 { from, to } if from == to => {
                raw(libc::syscall(libc::SYS_fcntl, from, libc::F_SETFD, 0)).map(drop)
            }
            FdStep::Dup2 { from, to } => raw(libc::syscall(libc::SYS_dup3, from, to, 0)).map(drop),
            // async-signal-safe: raw close_range, or raw close per number
            // on kernels before 5.9; a number that is not open is no error.
            FdStep::CloseRange { from, to } => {
                match raw(libc::syscall(libc::SYS_close_range, from as libc::c_uint, to as libc::c_uint, 0)) {
                    Ok(_) => Ok(()),
                    Err(libc::ENOSYS) => {
                        for n in from..=to {
                            libc::syscall(libc::SYS_close, n);
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            // Mark rather than close (Linux >= 5.11): `execve` closes them
            // after this thread's parent has been released, instead of
            // the parent waiting while the child closes each one.
            FdStep::CloseFrom(fd) => match raw(libc::syscall(
                libc::SYS_close_range,
                fd,
                u32::MAX,
                CLOSE_RANGE_CLOEXEC,
            ))
            .or_else(|e| {
                if e == libc::EINVAL {
                    raw(libc::syscall(libc::SYS_close_range, fd, u32::MAX, 0))
                } else {
                    Err(e)
                }
            }) {
                Ok(_) => Ok(()),
                // Kernels before 5.9: close one by one up to the limit.
                Err(libc::ENOSYS) => {
                    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                    let max =
                        match raw(libc::syscall(libc::SYS_prlimit64, 0, libc::RLIMIT_NOFILE, 0, &mut lim)) {
                            Ok(_) => lim.rlim_cur.min(1 << 20) as c_int,
                            Err(_) => 65536,
                        };
                    for n in fd..max {
                        libc::syscall(libc::SYS_close, n);
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::preferred;

    /// The engine is the trampoline exactly where the kernel marks ranges
    /// close-on-exec (5.11 and later), unless the posix_spawn fallback is
    /// forced, as the second CI run does.
    #[test]
    fn engine_follows_the_kernel_and_the_cfg() {
        if cfg!(any(procwire_force_posix_spawn, procwire_portable)) {
            assert!(!preferred());
            return;
        }
        let release = nix::sys::utsname::uname().expect("uname").release().to_string_lossy().into_owned();
        let mut parts = release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
        let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        assert_eq!(preferred(), version >= (5, 11), "kernel {release}");
    }
}
