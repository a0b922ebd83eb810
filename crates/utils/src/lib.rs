//! procwire-utils runs a program to completion and gives back its output
//! or its exit code, with every child reaped, whatever happens.
//!
//! - [`Run`] is the builder: a program ([`Run::new`]) or a prepared
//!   [`Command`](procwire_core::Command) (`Run::from`), with
//!   [`input`](Run::input) for stdin, a [`timeout`](Run::timeout) with a
//!   stop ladder (SIGTERM, a [`grace`](Run::grace) period, SIGKILL), an
//!   output limit ([`max_output`](Run::max_output)), and
//!   [`stop_group`](Run::stop_group) to stop the child's own children too.
//!   Await [`Run::output`] for an [`Output`] (stdout, stderr, status)
//!   however the child ended, or the checked mode
//!   ([`Run::checked_output`], [`Run::checked_string`]), where a child
//!   that fails is an error.
//! - [`get_process_output`] resolves to what the child wrote to stdout;
//!   stderr output is an error ([`RunError::Stderr`], which shows it)
//!   unless [`Run::errortoo`] merges it.
//! - [`get_process_value`] resolves to the exit code.
//! - [`get_process_output_and_value`] resolves to an [`Output`]: stdout,
//!   stderr and the exit status. The three are methods of [`Run`] too
//!   ([`Run::get_process_output`]...).
//!
//! Stdout and stderr are read side by side, so a child filling one pipe
//! never deadlocks against a parent waiting on the other; stdin is closed
//! (or `/dev/null`), so a child reading it cannot hang; every error comes
//! after the child was reaped, with what it wrote; a signal is never
//! mistaken for an exit code; dropping the future kills the child and
//! reaps it.
//!
//! The three functions are Twisted's `twisted.internet.utils`, and
//! [`Run::output`] is tokio's `output()`; `docs/from-twisted.md` and
//! `docs/from-tokio.md` say where they differ.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), procwire_utils::RunError> {
//! use std::time::Duration;
//! use procwire_utils::{get_process_output, get_process_value, Run, RunError};
//!
//! assert_eq!(get_process_output("echo", ["hello"]).await?, b"hello\n");
//! assert_eq!(get_process_value("false", [""; 0]).await?, 1);
//!
//! let err = Run::new("sleep").arg("100").timeout(Duration::from_millis(100)).get_process_value().await.unwrap_err();
//! assert!(matches!(err, RunError::Timeout { .. }), "{err}");
//! assert_eq!(err.output().unwrap().status.signal(), Some(15)); // SIGTERM was enough
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

pub use error::{Output, RunError};
pub use run::{get_process_output, get_process_output_and_value, get_process_value, CommandExt, Run};

mod collect;
mod error;
mod run;
