//! `posix_spawn(3)` with glibc's file actions: the whole child side of a
//! spawn, with no `fork()`.
//!
//! Everything the child needs is computed by the caller into a
//! [`SpawnRequest`] of plain arrays; this module only translates it into
//! `posix_spawn_file_actions_t` / `posix_spawnattr_t` and calls
//! `posix_spawn`. glibc runs the file actions in a `clone(CLONE_VM |
//! CLONE_VFORK)` child, which calls only async-signal-safe functions
//! (`dup2`, `close`, `close_range`, `chdir`, `sigaction`, `sigprocmask`,
//! `setsid`, `setpgid`, `execve`) and reports an exec failure back to us
//! synchronously as the return value.

use std::ffi::{c_char, c_int, CStr};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

use nix::libc;

use crate::plan::FdStep;

/// `POSIX_SPAWN_SETSID` (glibc >= 2.26); spelled out because not every
/// `libc` release exports it for every target.
const POSIX_SPAWN_SETSID: c_int = 0x80;

extern "C" {
    /// glibc >= 2.29: `chdir` in the child before `execve`.
    fn posix_spawn_file_actions_addchdir_np(
        actions: *mut libc::posix_spawn_file_actions_t,
        path: *const c_char,
    ) -> c_int;
    /// glibc >= 2.34: `close_range(from, ~0U, 0)` in the child.
    fn posix_spawn_file_actions_addclosefrom_np(
        actions: *mut libc::posix_spawn_file_actions_t,
        from: c_int,
    ) -> c_int;
    /// The parent's environment, handed to the child when the command does
    /// not change it (as `std::process` does).
    static environ: *const *const c_char;
}

/// Everything `posix_spawn` needs, prepared by the caller.
pub(crate) struct SpawnRequest<'a> {
    /// The resolved program path (no PATH search happens here).
    pub(crate) path: &'a CStr,
    /// `argv`, terminated by a null pointer.
    pub(crate) argv: &'a [*const c_char],
    /// `envp`, terminated by a null pointer; `None` passes the parent's
    /// `environ` through.
    pub(crate) envp: Option<&'a [*const c_char]>,
    /// The fd plan, in order.
    pub(crate) fd_steps: &'a [FdStep],
    /// Directory to `chdir` into before `execve`.
    pub(crate) cwd: Option<&'a CStr>,
    /// Start a new session (`setsid`).
    pub(crate) setsid: bool,
    /// Join or create a process group (`setpgid(0, pgid)`).
    pub(crate) process_group: Option<libc::pid_t>,
    /// A terminal to open (and close again) after the fd plan: opened by a
    /// session leader without `O_NOCTTY`, it becomes the controlling
    /// terminal. The `RawFd` is a free number to open it on.
    pub(crate) controlling_tty: Option<(&'a CStr, RawFd)>,
    /// Keep the spawning thread's signal mask instead of emptying it.
    pub(crate) keep_signal_mask: bool,
}

/// Owns an initialised `posix_spawn_file_actions_t` and destroys it on drop.
struct FileActions(MaybeUninit<libc::posix_spawn_file_actions_t>);

impl FileActions {
    fn new() -> io::Result<Self> {
        let mut fa = FileActions(MaybeUninit::uninit());
        // SAFETY: `posix_spawn_file_actions_init` initialises the object the
        // pointer refers to; the storage is valid and writable.
        check(unsafe { libc::posix_spawn_file_actions_init(fa.0.as_mut_ptr()) })?;
        Ok(fa)
    }

    fn as_mut_ptr(&mut self) -> *mut libc::posix_spawn_file_actions_t {
        self.0.as_mut_ptr()
    }

    /// Records one step. glibc has no action for a bounded range, so a
    /// [`FdStep::CloseRange`] becomes one `addclose` per number: the plan
    /// keeps their total small for this engine ([`Ranges::Expanded`]).
    ///
    /// [`Ranges::Expanded`]: crate::plan::Ranges::Expanded
    fn push(&mut self, step: &FdStep) -> io::Result<()> {
        let fa = self.as_mut_ptr();
        // SAFETY: `fa` was initialised by `new`; the calls only record the
        // action (they copy their integer arguments).
        let rc = unsafe {
            match *step {
                FdStep::Dup2 { from, to } => libc::posix_spawn_file_actions_adddup2(fa, from, to),
                FdStep::CloseRange { from, to } => (from..=to)
                    .map(|fd| libc::posix_spawn_file_actions_addclose(fa, fd))
                    .find(|&rc| rc != 0)
                    .unwrap_or(0),
                // glibc refuses a start at or above the soft RLIMIT_NOFILE
                // (EBADF; the start is never negative): when the highest
                // child fd is the last number the limit allows, nothing is
                // left to close but descriptors opened before the limit was
                // lowered, which this engine cannot name.
                FdStep::CloseFrom(fd) => match posix_spawn_file_actions_addclosefrom_np(fa, fd) {
                    libc::EBADF if fd > 0 => 0,
                    rc => rc,
                },
            }
        };
        check(rc)
    }

    /// Opens `path` on `fd` read-write, then closes it again: the open is
    /// what makes a terminal the controlling one.
    fn open_and_close(&mut self, path: &CStr, fd: RawFd) -> io::Result<()> {
        // SAFETY: `self` is initialised; glibc copies the path string.
        check(unsafe {
            libc::posix_spawn_file_actions_addopen(self.as_mut_ptr(), fd, path.as_ptr(), libc::O_RDWR, 0)
        })?;
        // SAFETY: as above, an integer argument.
        check(unsafe { libc::posix_spawn_file_actions_addclose(self.as_mut_ptr(), fd) })
    }

    fn chdir(&mut self, dir: &CStr) -> io::Result<()> {
        // SAFETY: `self` is initialised; glibc copies the path string.
        check(unsafe { posix_spawn_file_actions_addchdir_np(self.as_mut_ptr(), dir.as_ptr()) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed exactly once here.
        unsafe { libc::posix_spawn_file_actions_destroy(self.as_mut_ptr()) };
    }
}

/// Owns an initialised `posix_spawnattr_t` and destroys it on drop.
struct Attr(MaybeUninit<libc::posix_spawnattr_t>);

impl Attr {
    fn new(req: &SpawnRequest<'_>) -> io::Result<Self> {
        let mut attr = Attr(MaybeUninit::uninit());
        let a = attr.0.as_mut_ptr();
        // SAFETY: `posix_spawnattr_init` initialises the storage `a` points to.
        check(unsafe { libc::posix_spawnattr_init(a) })?;
        // Every signal at its default disposition in the child (Twisted's
        // `_resetSignalDisposition`): a SIG_IGN in the parent must not leak
        // into the child. The mask is emptied too.
        let mut all = MaybeUninit::<libc::sigset_t>::uninit();
        let mut none = MaybeUninit::<libc::sigset_t>::uninit();
        let mut flags = libc::POSIX_SPAWN_SETSIGDEF;
        if !req.keep_signal_mask {
            flags |= libc::POSIX_SPAWN_SETSIGMASK;
        }
        if req.setsid {
            flags |= POSIX_SPAWN_SETSID;
        }
        if req.process_group.is_some() {
            flags |= libc::POSIX_SPAWN_SETPGROUP;
        }
        // SAFETY: the sigsets are initialised by sigfillset/sigemptyset
        // before they are read; glibc's sigset_t is an array of 16 unsigned
        // longs, so its first 8 bytes are a valid, aligned u64; `a` is
        // initialised above; glibc copies the sets into the attribute object.
        unsafe {
            libc::sigfillset(all.as_mut_ptr());
            // glibc's sigfillset leaves out its two reserved real-time
            // signals (SIGCANCEL = 32, SIGSETXID = 33) and sigaddset refuses
            // them, so posix_spawn would leave them ignored in the child.
            // Set their bits directly (bit n-1 is signal n; the set starts
            // with an array of unsigned longs): glibc's child side resets
            // whatever the set holds.
            *all.as_mut_ptr().cast::<u64>() |= (1 << 31) | (1 << 32);
            libc::sigemptyset(none.as_mut_ptr());
            check(libc::posix_spawnattr_setsigdefault(a, all.as_ptr()))?;
            check(libc::posix_spawnattr_setsigmask(a, none.as_ptr()))?;
            if let Some(pgid) = req.process_group {
                check(libc::posix_spawnattr_setpgroup(a, pgid))?;
            }
            check(libc::posix_spawnattr_setflags(a, flags as libc::c_short))?;
        }
        Ok(attr)
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed exactly once here.
        unsafe { libc::posix_spawnattr_destroy(self.0.as_mut_ptr()) };
    }
}

/// Spawns the child described by `req` and returns its pid.
///
/// Wraps [`posix_spawn(3)`](https://man7.org/linux/man-pages/man3/posix_spawn.3.html).
/// A failure in the child (a file action, `chdir` or `execve`) comes back
/// as the returned error, synchronously.
pub(crate) fn spawn(req: &SpawnRequest<'_>) -> io::Result<libc::pid_t> {
    assert_null_terminated(req.argv);
    if let Some(envp) = req.envp {
        assert_null_terminated(envp);
    }
    let mut actions = FileActions::new()?;
    if let Some(dir) = req.cwd {
        actions.chdir(dir)?;
    }
    for step in req.fd_steps {
        actions.push(step)?;
    }
    if let Some((tty, fd)) = req.controlling_tty {
        actions.open_and_close(tty, fd)?;
    }
    let attr = Attr::new(req)?;
    let mut pid: libc::pid_t = 0;
    let envp = req.envp.map_or_else(environ_ptr, <[_]>::as_ptr);
    // SAFETY: `path` is a valid C string; `argv` and `envp` are arrays of
    // valid C strings terminated by null (checked above, or glibc's own
    // `environ`), all alive for the duration of the call; `actions` and
    // `attr` are initialised. `posix_spawn` does not retain any pointer.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            req.path.as_ptr(),
            actions.as_mut_ptr(),
            attr.0.as_ptr(),
            req.argv.as_ptr() as *const *mut c_char,
            envp as *const *mut c_char,
        )
    };
    check(rc)?;
    Ok(pid)
}

fn assert_null_terminated(v: &[*const c_char]) {
    debug_assert!(v.last().is_some_and(|p| p.is_null()), "argv/envp must end with a null pointer");
}

/// The parent's `environ`, to hand to a child whose environment is
/// unchanged.
pub(crate) fn environ_ptr() -> *const *const c_char {
    // SAFETY: reads the pointer value only, as std does; the docs of
    // `Command` say not to mutate the environment concurrently (which is
    // `unsafe` in Rust anyway).
    unsafe { environ }
}

/// The `posix_spawn*` functions return an errno value instead of setting
/// `errno`.
fn check(rc: c_int) -> io::Result<()> {
    match rc {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Whether `fd` is open in this process, and if so whether it is
/// close-on-exec (`fcntl(F_GETFD)`): `None` when not open.
pub(crate) fn fd_cloexec(fd: RawFd) -> Option<bool> {
    if fd < 0 {
        return None;
    }
    // SAFETY: F_GETFD only reads the descriptor flags; an invalid fd yields
    // EBADF and no other effect.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (flags != -1).then_some(flags & libc::FD_CLOEXEC != 0)
}
