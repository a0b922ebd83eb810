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
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use procwire::Command;
//! use tokio::io::AsyncReadExt;
//!
//! let mut child = Command::new("echo").args(["hello", "procwire"]).spawn()?;
//! let mut out = String::new();
//! child.take_reader(1).unwrap().read_to_string(&mut out).await?;
//! let status = child.wait().await?;
//! assert_eq!((out.as_str(), status.code()), ("hello procwire\n", Some(0)));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

pub use procwire_core::{
    Child, ChildFd, ChildReader, ChildWriter, Command, Error, ExitStatus, InputError, IntoSignal,
    ProcessDone, ProcessTerminated, PtyMaster, PtyReadHalf, PtySize, PtyWriteHalf, Result, Signal,
    SignalHandle, SpawnStep,
};
pub use procwire_protocol::{
    run_process, spawn_events, spawn_process, ByteLineProtocol, ByteLines, Bytes, Control, Driver, EndReason,
    Ended, Event, LineProtocol, Lines, Options, ProcessEvents, ProcessHandle, ProcessProtocol, Transport,
};
pub use procwire_utils::{
    get_process_output, get_process_output_and_value, get_process_value, Output, Run, RunError,
};

/// The README's example is compiled and run as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
