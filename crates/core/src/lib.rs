//! procwire-core spawns child processes onto tokio with any map of child
//! descriptors, follows them through a pidfd, and reports a typed exit
//! status.
//!
//! - [`Command`] is the builder, in `std::process::Command`'s shape;
//!   [`ChildFd`] says what each child fd is connected to: a pipe the
//!   parent reads (`"r"`), one it writes (`"w"`), one of the parent's fds,
//!   `/dev/null`, or a descriptor handed over. Any child fd number may be
//!   used, and every fd not in the map is closed in the child.
//! - [`Child`] is the running process: [`ChildReader`] / [`ChildWriter`]
//!   pipe ends (`AsyncRead` / `AsyncWrite` over tokio's `AsyncFd`),
//!   [`Child::wait`], and [`Child::signal`] with signal names, numbers or
//!   nix `Signal`s ([`IntoSignal`]).
//! - [`Child::stop`] stops it by a [`StopPolicy`]: a signal, a grace
//!   period, a final signal, for the child alone, its whole process
//!   group, or its whole cgroup ([`StopScope`]); [`StopLadder`] is the
//!   same ladder for hand-written futures, and [`Deadline`] a timer that
//!   follows the runtime that polls it, for theirs.
//! - [`Command::cgroup`] starts the child inside a cgroup v2 directory
//!   ([`Cgroup`]: create, list, signal, kill, await empty, remove), so
//!   nothing it starts can escape a stop, not even a `setsid`'d,
//!   double-forked daemon.
//! - [`ExitStatus`] is how the child ended; [`ExitStatus::reason`] sorts
//!   it into [`ProcessDone`] (exit code 0) or [`ProcessTerminated`]
//!   (anything else).
//! - [`lines::LineFramer`] cuts a child's output into lines, by
//!   [`lines::LineRules`] (`\n` or `\r\n`; long lines in pieces or cut
//!   short): the one framer under the protocol's `Lines`, its line stream
//!   and the supervisor's logs.
//! - [`Command::pty`] runs the child on a pseudo-terminal of a given
//!   [`PtySize`]; the parent's side is a
//!   [`PtyMaster`]. [`Command::uid`], [`gid`](Command::gid),
//!   [`groups`](Command::groups) and
//!   [`parent_death_signal`](Command::parent_death_signal) set what the
//!   child runs as and when it dies.
//! - [`Subreaper`] makes this process a child subreaper that reaps the
//!   orphans it adopts ([`Adopted`]), and never a child procwire spawned:
//!   what a container's PID 1 needs, provided every child of the process
//!   is spawned through procwire.
//!
//! Spawning never forks: the child is started by a
//! `clone(CLONE_VM | CLONE_VFORK)` trampoline (on kernels before 5.11,
//! with `posix_spawn` and its file actions unless credentials, a
//! parent-death signal or a cgroup need the trampoline), so spawn cost
//! does not grow with the parent's memory, and every failure (program not
//! found, bad working directory...) comes back from [`Command::spawn`] as
//! an [`Error`] naming the program and the step.
//! Children are reaped through a pidfd registered with tokio (a SIGCHLD
//! listener where the kernel lacks pidfds); a dropped [`Child`] never
//! leaves a zombie.
//!
//! On macOS and FreeBSD the engine is `posix_spawn` and the reaper the
//! SIGCHLD listener; what only Linux has (cgroups, credentials, the
//! parent-death signal, `env_pid`, pidfds; a new session on FreeBSD) is
//! refused there with [`Error::Unsupported`], or is absent, never ignored:
//! `docs/platforms.md` has the table.
//!
//! Spawn cost does grow, a little, with the number of descriptors the
//! parent holds: even with `CLONE_VM`, the kernel copies the descriptor
//! table into the child (measured here: 117 µs per spawn, 218 µs with
//! 15,000 extra descriptors open), as it does for `std::process` and every
//! other spawner. What procwire avoids is the child *closing* them one by
//! one while the parent waits: it marks them close-on-exec in one
//! `close_range` call instead.
//!
//! This is Twisted's `reactor.spawnProcess`, with its `childFDs` and
//! `usePTY`; `docs/from-twisted.md` and `docs/from-tokio.md` map the names.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use procwire_core::{ChildFd, Command};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! // {0: "w", 1: "r", 2: 2}: pipes on stdin and stdout, our own stderr
//! let mut child = Command::new("wc").arg("-l").child_fd(2, ChildFd::Parent(2)).spawn()?;
//! let mut stdin = child.take_writer(0).unwrap();
//! stdin.write_all(b"one\ntwo\nthree\n").await?;
//! stdin.shutdown().await?; // wc sees end of file
//! let mut out = String::new();
//! child.take_reader(1).unwrap().read_to_string(&mut out).await?;
//! assert_eq!(out.trim(), "3");
//! assert!(child.wait().await?.success());
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "freebsd")))]
compile_error!(
    "procwire supports Linux (kernel 5.4 or later for pidfds, 5.11 for the clone trampoline; \
     older kernels get the SIGCHLD and posix_spawn fallbacks), macOS (11 or later) and FreeBSD \
     (13 or later), through posix_spawn and a SIGCHLD reaper: other targets are not supported"
);

pub use cgroup::{Cgroup, CgroupError};
pub use child::{Child, SignalHandle};
pub use child_fd::ChildFd;
pub use command::{Command, StdioDefaults};
pub use deadline::Deadline;
pub use error::{Error, InputError, Result, SpawnStep};
pub use pidfd::PidFd;
pub use pipe::{ChildReader, ChildWriter};
pub use platform::Platform;
pub use pty::{PtyMaster, PtyReadHalf, PtySize, PtyWriteHalf};
pub use signal::{IntoSignal, Signal};
pub use status::{ExitStatus, ProcessDone, ProcessTerminated};
pub use stop::{StopLadder, StopPolicy, StopScope, Stopped};
pub use subreaper::{Adopted, Subreaper};

pub mod lines;

mod cgroup;
mod child;
mod child_fd;
mod command;
mod deadline;
mod error;
mod lookup;
mod pidfd;
mod pipe;
mod plan;
mod platform;
mod pty;
mod reap;
mod signal;
mod spawn;
mod status;
mod stop;
mod subreaper;
#[allow(unsafe_code)]
mod sys;
