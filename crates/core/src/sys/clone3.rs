//! [`clone3(2)`](https://man7.org/linux/man-pages/man2/clone3.2.html) on a
//! stack of our own: how the trampoline starts a child straight inside a
//! cgroup (`CLONE_INTO_CGROUP`, Linux >= 5.7), which `clone` cannot say
//! (its flags are 32 bits wide; that one is bit 33).
//!
//! glibc has no public `clone3` wrapper, and `syscall(SYS_clone3, ..)`
//! cannot start a child on a new stack: the child would return from
//! `syscall` into a frame that is not on its stack. So the syscall and the
//! call of the child's function are one inline assembly block, which the
//! child never leaves: it calls the function on its new stack and exits.
//! It is written for x86_64 only, the architecture it is tested on;
//! elsewhere [`available`] is false and the trampoline child moves itself
//! into the cgroup by writing to `cgroup.procs` instead.

use std::ffi::{c_int, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU8, Ordering};

use nix::libc;

/// `CLONE_INTO_CGROUP` (`linux/sched.h`): start the child in the cgroup
/// whose directory `clone_args.cgroup` names.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The kernel's `struct clone_args` up to `cgroup` (`CLONE_ARGS_SIZE_VER2`,
/// 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;

/// Whether `clone3` with `CLONE_INTO_CGROUP` is known to work (`YES`),
/// known not to (`NO`), or not tried yet.
static INTO_CGROUP: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether the trampoline should try [`clone_into_cgroup`]: on x86_64,
/// unless a `clone3` already failed as unsupported here, and never under
/// `--cfg procwire_force_posix_spawn` (CI's old-kernel run, which then
/// exercises the `cgroup.procs` write).
pub(crate) fn available() -> bool {
    cfg!(target_arch = "x86_64")
        && !cfg!(any(procwire_force_posix_spawn, procwire_portable))
        && INTO_CGROUP.load(Ordering::Relaxed) != NO
}

/// Whether a child was started with `CLONE_INTO_CGROUP` in this process
/// (for tests: which path the default mode takes).
#[cfg(test)]
pub(crate) fn used() -> bool {
    INTO_CGROUP.load(Ordering::Relaxed) == YES
}

/// Whether `err`, from [`clone_into_cgroup`], says the kernel (or a
/// seccomp policy) does not know `clone3` or `CLONE_INTO_CGROUP`: `ENOSYS`
/// before 5.3 (and from container runtimes that filter it), `E2BIG` or
/// `EINVAL` (an unknown flag or struct size) before 5.7. Remembered: every
/// later spawn writes to `cgroup.procs` instead.
pub(crate) fn unsupported(err: &io::Error) -> bool {
    let unsupported = matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::E2BIG | libc::EINVAL));
    if unsupported {
        INTO_CGROUP.store(NO, Ordering::Relaxed);
    }
    unsupported
}

/// `clone3(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP [| CLONE_PIDFD])`:
/// starts a child inside the cgroup `cgroup` (a cgroup v2 directory,
/// opened `O_PATH` is enough) that runs `func(arg)` on the stack
/// `stack..stack + stack_size`, and returns its pid once it has exec'd or
/// exited (`CLONE_VFORK`). With `pidfd`, the kernel stores the child's
/// pidfd there. The child's exit signal is SIGCHLD.
///
/// # Safety
///
/// The contract of glibc's `clone(CLONE_VM | CLONE_VFORK)`: the child runs
/// in this process's memory, on this thread's TLS, while this thread is
/// suspended, so `func` must only do what is safe there (no allocation, no
/// locks, async-signal-safe calls) and must end in `execve` or `_exit`
/// (should it return, the child exits with its value). `stack` must be
/// writable memory of `stack_size` bytes, its top 16-byte aligned, used by
/// nothing else until this returns; `arg` and `pidfd` must stay valid as
/// long; and every signal should be blocked, so no handler runs on the
/// child's stack.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn clone_into_cgroup(
    cgroup: BorrowedFd<'_>,
    stack: *mut u8,
    stack_size: usize,
    pidfd: Option<&mut c_int>,
    func: extern "C" fn(*mut c_void) -> c_int,
    arg: *mut c_void,
) -> io::Result<libc::pid_t> {
    let mut flags = (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | CLONE_INTO_CGROUP;
    let pidfd_ptr = match pidfd {
        Some(slot) => {
            flags |= libc::CLONE_PIDFD as u64;
            slot as *mut c_int as u64
        }
        None => 0,
    };
    let args = CloneArgs {
        flags,
        pidfd: pidfd_ptr,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack as u64,
        stack_size: stack_size as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    let ret: i64;
    // SAFETY: the syscall reads `args` (alive on this frame) and, with
    // CLONE_PIDFD, writes one int through `args.pidfd`, which the caller
    // keeps valid. The parent leaves the block at `2:` with the result in
    // rax, having clobbered only rcx and r11 (the `syscall` instruction),
    // which are declared. The child starts at the instruction after
    // `syscall` with rax = 0, every other register as the parent's, and rsp
    // at the top of the new stack, which the caller gives 16-byte aligned:
    // so `call` enters `func` with the alignment the SysV ABI requires. The
    // child never leaves the block (it ends in `exit`, then `ud2`), so no
    // compiler-generated code ever runs on the wrong stack; and it touches
    // nothing of the parent's stack. rbp is cleared so backtraces stop.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, {arg}",
            "call {func}",
            "mov edi, eax",
            "mov eax, {exit}",
            "syscall",
            "ud2",
            "2:",
            func = in(reg) func,
            arg = in(reg) arg,
            exit = const libc::SYS_exit,
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") &args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            out("rcx") _,
            out("r11") _,
        );
    }
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    INTO_CGROUP.store(YES, Ordering::Relaxed);
    Ok(ret as libc::pid_t)
}

/// Elsewhere [`available`] is false and this is never called.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn clone_into_cgroup(
    _cgroup: BorrowedFd<'_>,
    _stack: *mut u8,
    _stack_size: usize,
    _pidfd: Option<&mut c_int>,
    _func: extern "C" fn(*mut c_void) -> c_int,
    _arg: *mut c_void,
) -> io::Result<libc::pid_t> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

#[cfg(test)]
mod tests {
    use super::CloneArgs;

    /// The kernel knows the struct by its size: 88 bytes carry `cgroup`.
    #[test]
    fn clone_args_is_version_2() {
        assert_eq!(std::mem::size_of::<CloneArgs>(), 88);
    }
}
