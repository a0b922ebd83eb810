//! `posix_spawn(3)` with file actions: the whole child side of a spawn,
//! with no `fork()`. The portable engine: the only one on macOS and
//! FreeBSD, Linux's on kernels before 5.11 and under
//! `--cfg procwire_portable`.
//!
//! Everything the child needs is computed by the caller into a
//! [`SpawnRequest`] of plain arrays; this module only translates it into
//! `posix_spawn_file_actions_t` / `posix_spawnattr_t` and calls
//! `posix_spawn`. The C library runs the file actions in its own child
//! (glibc: a `clone(CLONE_VM | CLONE_VFORK)` child; FreeBSD:
//! `rfork(RFSPAWN)`; macOS: in the kernel, inside the `posix_spawn`
//! syscall), which calls only async-signal-safe functions (`dup2`,
//! `close`, `closefrom`, `chdir`, `sigaction`, `sigprocmask`, `setsid`,
//! `setpgid`, `execve`) and reports an exec failure back to us
//! synchronously as the return value.
//!
//! Every descriptor the plan does not place is closed in the child:
//! `posix_spawn_file_actions_addclosefrom_np` (glibc >= 2.34, FreeBSD >=
//! 13.1) runs the plan's "close everything above"; macOS has no such
//! action, so there the attribute `POSIX_SPAWN_CLOEXEC_DEFAULT` closes
//! everything no file action names, and an identity entry is an
//! `addinherit_np`. (The macOS-only lines are the ones under
//! `cfg(target_os = "macos")` below.)

use std::ffi::{c_char, c_int, CStr};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

use nix::libc;

use crate::plan::FdStep;

/// `POSIX_SPAWN_SETSID` (glibc >= 2.26, macOS >= 10.15); spelled out
/// because not every `libc` release exports it for every target. FreeBSD
/// has none: `platform::check` refuses a new session there.
#[cfg(target_os = "linux")]
const POSIX_SPAWN_SETSID: c_int = 0x80;
#[cfg(target_os = "macos")]
const POSIX_SPAWN_SETSID: c_int = 0x0400;

extern "C" {
    /// glibc >= 2.29, macOS >= 10.15, FreeBSD >= 13.1: `chdir` in the
    /// child before `execve`.
    fn posix_spawn_file_actions_addchdir_np(
        actions: *mut libc::posix_spawn_file_actions_t,
        path: *const c_char,
    ) -> c_int;
    /// glibc >= 2.34, FreeBSD >= 13.1: close every descriptor from `from`
    /// up in the child.
    #[cfg(not(target_os = "macos"))]
    fn posix_spawn_file_actions_addclosefrom_np(
        actions: *mut libc::posix_spawn_file_actions_t,
        from: c_int,
    ) -> c_int;
    /// macOS: keep `fd` open across the exec (clearing its close-on-exec
    /// flag) under `POSIX_SPAWN_CLOEXEC_DEFAULT`.
    #[cfg(target_os = "macos")]
    fn posix_spawn_file_actions_addinherit_np(
        actions: *mut libc::posix_spawn_file_actions_t,
        fd: c_int,
    ) -> c_int;
    /// The parent's environment, handed to the child when the command does
    /// not change it (as `std::process` does).
    #[cfg(not(target_os = "macos"))]
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

    /// Records one step. No C library has an action for a bounded range,
    /// so a [`FdStep::CloseRange`] becomes one `addclose` per number: the
    /// plan keeps their total small for this engine ([`Ranges::Expanded`]).
    ///
    /// [`Ranges::Expanded`]: crate::plan::Ranges::Expanded
    #[cfg(not(target_os = "macos"))]
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

    /// Records one action of [`for_cloexec_default`] (macOS).
    #[cfg(target_os = "macos")]
    fn push_named(&mut self, action: Named) -> io::Result<()> {
        let fa = self.as_mut_ptr();
        // SAFETY: `fa` was initialised by `new`; the calls only record the
        // action (they copy their integer arguments).
        check(unsafe {
            match action {
                Named::Dup2 { from, to } => libc::posix_spawn_file_actions_adddup2(fa, from, to),
                Named::Inherit(fd) => posix_spawn_file_actions_addinherit_np(fa, fd),
                Named::Close(fd) => libc::posix_spawn_file_actions_addclose(fa, fd),
            }
        })
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
        let mut flags = libc::POSIX_SPAWN_SETSIGDEF as c_int;
        #[cfg(target_os = "macos")]
        {
            flags |= libc::POSIX_SPAWN_CLOEXEC_DEFAULT;
        }
        if !req.keep_signal_mask {
            flags |= libc::POSIX_SPAWN_SETSIGMASK as c_int;
        }
        if req.setsid {
            #[cfg(not(target_os = "freebsd"))]
            {
                flags |= POSIX_SPAWN_SETSID;
            }
            // Refused before (`platform::check`); never ignored here.
            #[cfg(target_os = "freebsd")]
            return Err(io::ErrorKind::Unsupported.into());
        }
        if req.process_group.is_some() {
            flags |= libc::POSIX_SPAWN_SETPGROUP as c_int;
        }
        // SAFETY: the sigsets are initialised by sigfillset/sigemptyset
        // before they are read; `a` is initialised above; the C library
        // copies the sets into the attribute object.
        unsafe {
            libc::sigfillset(all.as_mut_ptr());
            // glibc's sigfillset leaves out its two reserved real-time
            // signals (SIGCANCEL = 32, SIGSETXID = 33) and sigaddset refuses
            // them, so posix_spawn would leave them ignored in the child.
            // Set their bits directly (bit n-1 is signal n; the set starts
            // with an array of unsigned longs): glibc's child side resets
            // whatever the set holds. glibc's sigset_t is an array of 16
            // unsigned longs, so its first 8 bytes are a valid, aligned u64.
            #[cfg(target_os = "linux")]
            {
                *all.as_mut_ptr().cast::<u64>() |= (1 << 31) | (1 << 32);
            }
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

/// A child just started: its pid, and its pidfd when the engine made one
/// (the clone trampoline, `CLONE_PIDFD`).
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pid: libc::pid_t,
    pub(crate) pidfd: Option<std::os::fd::OwnedFd>,
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
    #[cfg(not(target_os = "macos"))]
    for step in req.fd_steps {
        actions.push(step)?;
    }
    #[cfg(target_os = "macos")]
    for action in for_cloexec_default(req.fd_steps) {
        actions.push_named(action)?;
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
    #[cfg(not(target_os = "macos"))]
    return unsafe { environ };
    // SAFETY: as above; in a macOS library `environ` is reached through
    // `_NSGetEnviron` (Apple's crt1 defines the symbol for executables only).
    #[cfg(target_os = "macos")]
    return unsafe { *libc::_NSGetEnviron() }.cast_const().cast();
}

/// A file action for an engine that closes at exec every descriptor no
/// file action named (macOS's `POSIX_SPAWN_CLOEXEC_DEFAULT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
pub(crate) enum Named {
    /// `adddup2`: the copy is inherited.
    Dup2 { from: RawFd, to: RawFd },
    /// `addinherit_np`: keep this one, close-on-exec cleared (`dup2(fd,
    /// fd)` would leave the flag set there).
    Inherit(RawFd),
    /// `addclose`.
    Close(RawFd),
}

/// The fd plan for an engine that closes whatever no action named: moves
/// stay moves (an identity one an inherit), and a close, of a range or of
/// everything above, closes only the numbers the plan itself placed
/// before it (a cycle's temporary, a staged copy), which would otherwise
/// count as named; every other number is closed by the engine. A pure
/// function, so Linux's tests check what only macOS runs.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
pub(crate) fn for_cloexec_default(steps: &[FdStep]) -> Vec<Named> {
    let mut placed = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(steps.len());
    fn close(placed: &mut std::collections::BTreeSet<RawFd>, out: &mut Vec<Named>, gone: Vec<RawFd>) {
        for fd in gone {
            placed.remove(&fd);
            out.push(Named::Close(fd));
        }
    }
    for step in steps {
        match *step {
            FdStep::Dup2 { from, to } => {
                out.push(if from == to { Named::Inherit(from) } else { Named::Dup2 { from, to } });
                placed.insert(to);
            }
            FdStep::CloseRange { from, to } => {
                let gone = placed.range(from..=to).copied().collect();
                close(&mut placed, &mut out, gone);
            }
            FdStep::CloseFrom(from) => {
                let gone = placed.range(from..).copied().collect();
                close(&mut placed, &mut out, gone);
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::{for_cloexec_default, Named};
    use crate::plan::FdStep;

    /// `{0:1, 1:0}` parks one end in a temporary above the map, which the
    /// plan's "close everything above" closes: under
    /// `POSIX_SPAWN_CLOEXEC_DEFAULT` that close must be explicit, since
    /// the temporary was named by a `dup2`; nothing else is closed.
    #[test]
    fn a_cycles_temporary_is_closed_and_nothing_else() {
        let steps = [
            FdStep::Dup2 { from: 0, to: 2 },
            FdStep::Dup2 { from: 1, to: 0 },
            FdStep::Dup2 { from: 2, to: 1 },
            FdStep::CloseFrom(2),
        ];
        assert_eq!(
            for_cloexec_default(&steps),
            [
                Named::Dup2 { from: 0, to: 2 },
                Named::Dup2 { from: 1, to: 0 },
                Named::Dup2 { from: 2, to: 1 },
                Named::Close(2),
            ]
        );
    }

    #[test]
    fn an_identity_entry_is_inherited_and_holes_are_left_to_the_engine() {
        let steps = [
            FdStep::Dup2 { from: 0, to: 0 },
            FdStep::Dup2 { from: 9, to: 7 },
            FdStep::CloseRange { from: 1, to: 6 },
            FdStep::CloseFrom(8),
        ];
        assert_eq!(for_cloexec_default(&steps), [Named::Inherit(0), Named::Dup2 { from: 9, to: 7 }]);
    }

    #[test]
    fn a_number_placed_twice_is_closed_once() {
        let steps = [
            FdStep::Dup2 { from: 10, to: 5 },
            FdStep::Dup2 { from: 11, to: 5 },
            FdStep::CloseRange { from: 3, to: 6 },
            FdStep::Dup2 { from: 12, to: 5 },
        ];
        assert_eq!(
            for_cloexec_default(&steps),
            [
                Named::Dup2 { from: 10, to: 5 },
                Named::Dup2 { from: 11, to: 5 },
                Named::Close(5),
                Named::Dup2 { from: 12, to: 5 },
            ]
        );
    }
}
