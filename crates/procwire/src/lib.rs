//! procwire brings Twisted's process API (`reactor.spawnProcess`,
//! `childFDs`, `signalProcess`, `ProcessDone` / `ProcessTerminated`) to
//! tokio: spawn any program with any map of child descriptors, talk to it
//! over async pipes, and reap it through a pidfd, without ever forking.
//!
//! This is the facade users depend on; it re-exports
//! [procwire-core](procwire_core) ([`Command`], [`ChildFd`], [`Child`],
//! [`ChildReader`], [`ChildWriter`], [`PtyMaster`], [`ExitStatus`],
//! [`Error`]) and [procwire-protocol](procwire_protocol)
//! ([`ProcessProtocol`], [`Transport`], [`spawn_process`]) and
//! [procwire-utils](procwire_utils) ([`get_process_output`],
//! [`get_process_value`], [`get_process_output_and_value`], [`Run`]).
//! `docs/from-twisted.md` maps every Twisted name to its procwire name.
//!
//! # Which API do I want?
//!
//! | you want to | use |
//! |---|---|
//! | run a program to its end and collect its output | [`Run`] (timeout, input, output limit), or [`get_process_output`] for Twisted's defaults |
//! | ... and it must succeed: stdout as text, or an error with its stderr | [`Run::checked_string`] |
//! | write to and read from the child yourself, as with `tokio::process` | [`Command::spawn`], then the [`Child`]'s pipes |
//! | react to each event with a callback, as Twisted does | [`spawn_process`] with a [`ProcessProtocol`] (wrapped in [`Lines`] for lines) |
//! | the same events as a `Stream`, for `while let` | [`spawn_events`] |
//! | keep programs running: restarts with backoff, stop ladders, line logs, readiness, watchdogs, dependencies, strategies, cgroups | [`supervisor::Supervisor`] |
//!
//! None of them leaves a zombie, even when dropped halfway: the child is
//! reaped in the background (after a SIGKILL, for `Run` and `kill_on_drop`).
//!
//! ## Run and collect: `Run`, `get_process_output`
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), procwire::RunError> {
//! use std::time::Duration;
//!
//! let out = procwire::get_process_output("echo", ["hi"]).await?; // Twisted's getProcessOutput
//! assert_eq!(out, b"hi\n");
//! let mut tr = procwire::Run::new("tr");
//! tr.args(["a-z", "A-Z"]).input("shout\n").timeout(Duration::from_secs(10));
//! assert_eq!(tr.output().await?, b"SHOUT\n");
//! # Ok(()) }
//! ```
//!
//! ## It must succeed: `Run::checked_string`
//!
//! A non-zero exit is [`RunError::Failed`], whose message has the child's
//! stderr:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), procwire::RunError> {
//! use procwire::Run;
//!
//! let kernel = Run::new("uname").arg("-s").checked_string().await?;
//! assert_eq!(kernel.trim(), "Linux");
//! let err = Run::new("sh").args(["-c", "echo oops >&2; exit 3"]).checked_string().await.unwrap_err();
//! assert_eq!(err.to_string(), "`sh` failed (exit code 3): oops");
//! # Ok(()) }
//! ```
//!
//! ## Raw pipes: `Child`
//!
//! Pipes on fds 0, 1 and 2 by default (Twisted's `childFDs`; any other map
//! with [`Command::child_fd`]); each is an `AsyncWrite` or `AsyncRead`:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use procwire::Command;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let mut child = Command::new("rev").spawn()?;
//! let mut stdin = child.take_writer(0).unwrap();
//! stdin.write_all(b"procwire\n").await?;
//! stdin.shutdown().await?; // closes the pipe: rev sees end of file
//! let mut out = String::new();
//! child.take_reader(1).unwrap().read_to_string(&mut out).await?;
//! assert_eq!((out.as_str(), child.wait().await?.code()), ("eriwcorp\n", Some(0)));
//! # Ok(()) }
//! ```
//!
//! ## Callbacks: `spawn_process`
//!
//! Twisted's `ProcessProtocol`; every method has a default, so implement
//! only the events you need:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), procwire::Error> {
//! use procwire::{spawn_process, Bytes, Command, Options, ProcessProtocol, Transport};
//!
//! struct Collect(Vec<u8>);
//! impl ProcessProtocol for Collect {
//!     fn out_received(&mut self, _transport: &mut Transport, data: Bytes) {
//!         self.0.extend_from_slice(&data);
//!     }
//! }
//!
//! let ended = spawn_process(Collect(Vec::new()), Command::new("echo").arg("hi"), Options::new())?.await?;
//! assert_eq!((&ended.protocol.0[..], ended.reason.status.success()), (&b"hi\n"[..], true));
//! # Ok(()) }
//! ```
//!
//! ## A `Stream` of events: `spawn_events`
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), procwire::Error> {
//! use futures::StreamExt;
//! use procwire::{spawn_events, Command, Event, Options};
//!
//! let (mut events, _stdin) = spawn_events(Command::new("echo").arg("hi"), Options::new())?;
//! while let Some(event) = events.next().await {
//!     match event? {
//!         Event::Data { fd, data } => assert_eq!((fd, &data[..]), (1, &b"hi\n"[..])),
//!         Event::Ended(reason) => assert!(reason.status.success()),
//!         _ => {} // pipes closing, the exit
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The repository's `examples/` has a whole program for each need
//! (`run_with_timeout`, `stream_lines`, `pipeline`, `interactive`) and a
//! Rust twin of each listing of Twisted's "Using Processes" howto.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

pub use procwire_core::{
    Adopted, Cgroup, CgroupError, Child, ChildFd, ChildReader, ChildWriter, Command, Deadline, Error,
    ExitStatus, InputError, IntoSignal, ProcessDone, ProcessTerminated, PtyMaster, PtyReadHalf, PtySize,
    PtyWriteHalf, Result, Signal, SignalHandle, SpawnStep, StdioDefaults, StopLadder, StopPolicy, StopScope,
    Stopped, Subreaper,
};
pub use procwire_protocol::{
    run_process, spawn_events, spawn_process, ByteLineProtocol, ByteLines, Bytes, Control, Driver, EndReason,
    Ended, Event, LineProtocol, Lines, Options, ProcessEvents, ProcessHandle, ProcessProtocol, Transport,
};
pub use procwire_utils::{
    get_process_output, get_process_output_and_value, get_process_value, CommandExt, Output, Run, RunError,
};

/// Keeping programs running: Twisted's procmon with the restart policies,
/// backoff presets, start limits and stop ladders of supervisord, systemd
/// and pm2, systemd's and s6's readiness protocols, watchdogs,
/// dependencies and cgroup stops, and Erlang/OTP's strategies
/// ([procwire-supervisor](procwire_supervisor)).
pub mod supervisor {
    pub use procwire_supervisor::*;
}

/// The README's example is compiled and run as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
