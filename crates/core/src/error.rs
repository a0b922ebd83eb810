//! Errors: what happened and to what.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

/// Everything that can go wrong in procwire-core.
///
/// Spawn failures name the program and the [`SpawnStep`]; bad input is an
/// [`InputError`] reported by [`Command::spawn`](crate::Command::spawn)
/// before anything is created, so nothing leaks.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use procwire_core::{Command, Error, SpawnStep};
///
/// let err = Command::new("/no/such/program").spawn().unwrap_err();
/// match &err {
///     Error::Spawn { step: SpawnStep::Exec, source, .. } => {
///         assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
///     }
///     other => panic!("unexpected {other}"),
/// }
/// assert!(err.to_string().contains("/no/such/program"));
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The child could not be started; `step` says where it failed.
    #[error("failed to spawn `{program}`: {step}: {source}")]
    Spawn {
        /// The program as given to [`Command::new`](crate::Command::new).
        program: String,
        /// The step that failed.
        step: SpawnStep,
        /// The OS error (its errno is `source.raw_os_error()`).
        #[source]
        source: io::Error,
    },
    /// The command was given something the OS cannot express.
    #[error(transparent)]
    InvalidInput(#[from] InputError),
    /// The process was already reaped: it cannot be signalled any more.
    /// procwire never signals a pid it has reaped, so a recycled pid can
    /// never be hit.
    #[error("process has exited already")]
    ProcessExitedAlready,
    /// A string that names no signal: see [`Signal`](crate::Signal#names)
    /// for what does (`"KILL"`, `"SIGTERM"`, `"15"`, `"RTMIN+1"`...).
    #[error("unknown signal name {0:?}")]
    UnknownSignal(String),
    /// A signal number outside `1..=64` (`0`, which probes, is taken only
    /// as a number), or an `RTMIN+n` / `RTMAX-n` outside the real-time
    /// range.
    #[error("invalid signal number {0}")]
    InvalidSignal(i32),
    /// [`Child::signal_cgroup`](crate::Child::signal_cgroup), or a stop in
    /// [`StopScope::Cgroup`](crate::StopScope::Cgroup), for a child that
    /// was not spawned into a cgroup ([`Command::cgroup`](crate::Command::cgroup)).
    #[error("the child was not spawned into a cgroup (Command::cgroup)")]
    NoCgroup,
    /// [`Child::signal_group`](crate::Child::signal_group) on a child that
    /// does not lead a process group of its own (its pgid, read when the
    /// signal is sent, is not its pid).
    #[error("the child does not lead a process group (spawn it with process_group(0) or setsid)")]
    NotGroupLeader,
    /// The pipe to the child's fd was closed by this side already.
    #[error("the pipe to child fd {fd} is closed")]
    PipeClosed {
        /// The child's fd number.
        fd: RawFd,
    },
    /// A write to a child fd that has no input pipe (not a
    /// [`ChildFd::WritePipe`](crate::ChildFd::WritePipe)), or whose pipe was
    /// closed already.
    #[error("child fd {fd} has no open input pipe")]
    NoInputPipe {
        /// The child's fd number.
        fd: RawFd,
    },
    /// procwire registers pipes and pidfds with tokio's reactor, so
    /// spawning needs a tokio runtime with IO enabled.
    #[error("spawning needs a tokio runtime with IO enabled (call it from within a runtime)")]
    NoRuntime,
    /// The command asks for something this platform cannot give (a
    /// cgroup, credentials or a parent-death signal off Linux, a new
    /// session on FreeBSD...): refused by [`Command::spawn`](crate::Command::spawn)
    /// before anything is created, never ignored. `docs/platforms.md`
    /// has the table of what each platform gives.
    #[error("{feature} is not supported on {platform}")]
    Unsupported {
        /// What was asked for, as the builder names it (`"Command::cgroup"`).
        feature: &'static str,
        /// The platform that lacks it (`"macOS"`, `"FreeBSD"`).
        platform: &'static str,
    },
    /// Any other OS error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// The [`io::ErrorKind`] this error has as an [`io::Error`] (see the
    /// `From<Error> for io::Error` conversion): the OS error's own kind
    /// for [`Spawn`](Self::Spawn) and [`Io`](Self::Io) (`NotFound`,
    /// `PermissionDenied`...), `InvalidInput` for what the caller asked
    /// wrongly (bad input, signals, a child reaped already, a group or
    /// cgroup it does not have, as tokio's `start_kill` on a reaped child),
    /// `BrokenPipe` for a closed pipe, `Other` without a runtime.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use procwire_core::Error;
    /// assert_eq!(Error::ProcessExitedAlready.io_error_kind(), ErrorKind::InvalidInput);
    /// assert_eq!(Error::PipeClosed { fd: 0 }.io_error_kind(), ErrorKind::BrokenPipe);
    /// ```
    pub fn io_error_kind(&self) -> io::ErrorKind {
        match self {
            Error::Spawn { source, .. } | Error::Io(source) => source.kind(),
            Error::InvalidInput(_)
            | Error::ProcessExitedAlready
            | Error::UnknownSignal(_)
            | Error::InvalidSignal(_)
            | Error::NoCgroup
            | Error::NotGroupLeader => io::ErrorKind::InvalidInput,
            Error::PipeClosed { .. } | Error::NoInputPipe { .. } => io::ErrorKind::BrokenPipe,
            Error::NoRuntime => io::ErrorKind::Other,
            Error::Unsupported { .. } => io::ErrorKind::Unsupported,
        }
    }
}

/// So that `?` takes a procwire error in a function returning
/// [`io::Result`]: the [`io::Error`] has the kind of
/// [`Error::io_error_kind`] and the procwire error inside it, so its
/// message is the same and [`io::Error::downcast`] (or
/// [`get_ref`](io::Error::get_ref)) gives the procwire error back.
/// [`Error::Io`] gives back the [`io::Error`] it holds, with its
/// `raw_os_error`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use procwire_core::{Command, Error, SpawnStep};
///
/// async fn exit_code(program: &str) -> std::io::Result<Option<i32>> {
///     let mut child = Command::new(program).spawn()?; // a procwire::Error
///     Ok(child.wait().await?.code()) // an io::Error
/// }
///
/// assert_eq!(exit_code("true").await.unwrap(), Some(0));
/// let err = exit_code("/no/such/program").await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// assert!(err.to_string().starts_with("failed to spawn `/no/such/program`: exec: "), "{err}");
/// let err = err.downcast::<Error>().unwrap();
/// assert!(matches!(err, Error::Spawn { step: SpawnStep::Exec, .. }));
/// # }
/// ```
impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Io(source) => source,
            err => io::Error::new(err.io_error_kind(), err),
        }
    }
}

/// The step of a spawn that failed, carried by [`Error::Spawn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpawnStep {
    /// Searching `PATH` for a program named without a `/`.
    PathSearch,
    /// Creating the pipes or opening `/dev/null` for the child's fds.
    Pipes,
    /// Changing into the working directory set by
    /// [`Command::current_dir`](crate::Command::current_dir).
    Chdir,
    /// Arranging the child's descriptors (`dup2`/`close`).
    FdSetup,
    /// `posix_spawn` itself (attributes, resources).
    Spawn,
    /// Creating the child with procwire's `clone` trampoline (its stack,
    /// `clone` itself: `EAGAIN` under `RLIMIT_NPROC`, `ENOMEM`).
    Clone,
    /// Starting procwire's spawner thread, which creates the children that
    /// have a [parent-death signal](crate::Command::parent_death_signal).
    SpawnerThread,
    /// `execve` of the program (not found, permission denied, bad format).
    Exec,
    /// Opening the pidfd that follows the child (or following it at all:
    /// the child is killed and reaped before the error is returned).
    Pidfd,
    /// Opening the pseudo-terminal.
    Pty,
    /// Resetting signal dispositions in the child.
    SignalReset,
    /// `setsid` in the child.
    Setsid,
    /// `setpgid` in the child.
    Setpgid,
    /// Making the terminal the child's controlling terminal (`TIOCSCTTY`).
    ControllingTerminal,
    /// `setgroups` in the child.
    Setgroups,
    /// `setgid` in the child.
    Setgid,
    /// `setuid` in the child.
    Setuid,
    /// `prctl(PR_SET_PDEATHSIG)` in the child.
    ParentDeathSignal,
    /// Setting the child's signal mask.
    SignalMask,
    /// Starting the child in its [cgroup](crate::Command::cgroup): opening
    /// and checking the directory in the parent (a path that is not a
    /// cgroup v2 directory has a [`CgroupError`](crate::CgroupError) as
    /// the error's inner error), `clone3(CLONE_INTO_CGROUP)`, or the write
    /// to `cgroup.procs` in the child (`EBUSY`: the cgroup has cgroups
    /// below it with controllers enabled; `EACCES`: not delegated to us).
    Cgroup,
}

impl fmt::Display for SpawnStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpawnStep::PathSearch => "searching PATH",
            SpawnStep::Pipes => "creating pipes",
            SpawnStep::Chdir => "chdir",
            SpawnStep::FdSetup => "setting up fds",
            SpawnStep::Spawn => "posix_spawn",
            SpawnStep::Clone => "clone",
            SpawnStep::SpawnerThread => "starting the procwire-spawner thread",
            SpawnStep::Exec => "exec",
            SpawnStep::Pidfd => "pidfd_open",
            SpawnStep::Pty => "opening the pty",
            SpawnStep::SignalReset => "resetting signal dispositions",
            SpawnStep::Setsid => "setsid",
            SpawnStep::Setpgid => "setpgid",
            SpawnStep::ControllingTerminal => "TIOCSCTTY",
            SpawnStep::Setgroups => "setgroups",
            SpawnStep::Setgid => "setgid",
            SpawnStep::Setuid => "setuid",
            SpawnStep::ParentDeathSignal => "prctl(PR_SET_PDEATHSIG)",
            SpawnStep::SignalMask => "sigprocmask",
            SpawnStep::Cgroup => "placing the child in its cgroup",
        })
    }
}

/// Bad input to a [`Command`](crate::Command), reported by `spawn()` before
/// any descriptor or process is created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A NUL byte in the program, an argument, an environment entry, the
    /// working directory or the cgroup: C strings cannot carry it.
    #[error("{what} contains a NUL byte: {value:?}")]
    NulByte {
        /// Which input: `"program"`, `"argument"`, `"environment key"`,
        /// `"environment value"`, `"working directory"`, `"cgroup"`.
        what: &'static str,
        /// The offending value, lossily decoded.
        value: String,
    },
    /// An environment key that is empty or contains `=`.
    #[error("environment key {0:?} is empty or contains '='")]
    EnvKey(String),
    /// A negative child fd number.
    #[error("child fd {0} is negative")]
    NegativeChildFd(RawFd),
    /// The same child fd given twice to
    /// [`Command::child_fds`](crate::Command::child_fds).
    #[error("child fd {0} is mapped twice")]
    DuplicateChildFd(RawFd),
    /// [`process_group`](crate::Command::process_group) with a group other
    /// than 0 on a command that starts a new session
    /// ([`setsid`](crate::Command::setsid) or a [pty](crate::Command::pty)):
    /// a session leader leads its own group and cannot join another.
    #[error("process_group({0}) cannot be combined with a new session (setsid or pty)")]
    ProcessGroupInNewSession(i32),
    /// A signal given to the command (e.g. to
    /// [`parent_death_signal`](crate::Command::parent_death_signal)) that is
    /// not a signal.
    #[error("bad signal for the command: {0}")]
    InvalidSignal(String),
    /// A child fd at or above the soft `RLIMIT_NOFILE`: no process under
    /// that limit can have a descriptor with that number (`dup2` to it
    /// fails), so the child could not be given it.
    #[error(
        "child fd {child_fd} is too large: a child can only have fds below {limit} (the soft RLIMIT_NOFILE)"
    )]
    ChildFdTooLarge {
        /// The child's fd number.
        child_fd: RawFd,
        /// The soft `RLIMIT_NOFILE` (capped at `i32::MAX`): every child fd
        /// must be below it.
        limit: u64,
    },
    /// [`ChildFd::Parent`](crate::ChildFd::Parent) names a parent fd that
    /// is not open.
    #[error("child fd {child_fd} maps parent fd {parent_fd}, which is not open")]
    ParentFdNotOpen {
        /// The child's fd number.
        child_fd: RawFd,
        /// The parent's fd number that is not open.
        parent_fd: RawFd,
    },
}

/// `Result` with procwire-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn spawn_error(errno: i32) -> Error {
        Error::Spawn {
            program: "prog".into(),
            step: SpawnStep::Exec,
            source: io::Error::from_raw_os_error(errno),
        }
    }

    #[test]
    fn into_io_error_keeps_the_kind_the_message_and_the_error() {
        for (err, kind) in [
            (spawn_error(2), io::ErrorKind::NotFound),
            (spawn_error(13), io::ErrorKind::PermissionDenied),
            (Error::ProcessExitedAlready, io::ErrorKind::InvalidInput),
            (Error::UnknownSignal("NOPE".into()), io::ErrorKind::InvalidInput),
            (Error::InvalidInput(InputError::EnvKey("A=B".into())), io::ErrorKind::InvalidInput),
            (Error::NoInputPipe { fd: 3 }, io::ErrorKind::BrokenPipe),
            (Error::NoRuntime, io::ErrorKind::Other),
        ] {
            let text = err.to_string();
            let io = io::Error::from(err);
            assert_eq!((io.kind(), io.to_string()), (kind, text.clone()));
            let back = io.downcast::<Error>().expect("the procwire error inside");
            assert_eq!(back.to_string(), text);
        }
        let back = io::Error::from(spawn_error(13)).downcast::<Error>().unwrap();
        let Error::Spawn { step, source, .. } = back else { panic!("{back:?}") };
        assert_eq!((step, source.raw_os_error()), (SpawnStep::Exec, Some(13)));
    }

    #[test]
    fn an_io_error_comes_back_as_it_was() {
        let io = io::Error::from(Error::Io(io::Error::from_raw_os_error(32)));
        assert_eq!((io.kind(), io.raw_os_error()), (io::ErrorKind::BrokenPipe, Some(32)));
        assert!(io.get_ref().is_none(), "not wrapped again");
    }
}
