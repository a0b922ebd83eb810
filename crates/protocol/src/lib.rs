//! procwire-protocol drives a child process through callbacks, one per
//! event (data on any child fd, a child fd closed, the process reaped,
//! everything ended), in a guaranteed order, with flow control both ways.
//!
//! - [`ProcessProtocol`] is the callback trait (`connection_made`,
//!   `child_data_received`, `out_received`, `err_received`,
//!   `child_connection_lost`, `process_exited`, `process_ended`...); every
//!   method has a default, and the defaults dispatch by fd (fd 1's data to
//!   `out_received`, fd 2's to `err_received`).
//! - [`Transport`] is what each callback gets to act with: `write`,
//!   `write_to_child`, `close_stdin`, `close_child_fd`, `lose_connection`,
//!   `signal_process`, and flow control (`buffered`, `write_buffer_full`).
//! - [`spawn_process`] spawns a [`Command`](procwire_core::Command) and
//!   drives it on a task; its [`ProcessHandle`] resolves to the protocol and
//!   the [`EndReason`] once `process_ended` has run, and can
//!   [`abort`](ProcessHandle::abort) it. [`run_process`] gives the
//!   [`Driver`] future to run in place.
//! - [`Lines`] and [`ByteLines`] frame every output fd into lines, as
//!   text or as bytes, with procwire-core's one line framer
//!   ([`procwire_core::lines`]).
//! - [`spawn_events`] gives the callbacks as a `Stream` of [`Event`]s, and
//!   [`spawn_lines`] a child's output lines as a `Stream` of
//!   [`LineEvent`]s (each line with its fd, then the exit status), for
//!   the everyday case without a protocol to write.
//!
//! [`Options::drain_deadline`] bounds how long a grandchild holding an
//! output pipe can delay `process_ended`; a write to an fd without an
//! input pipe is an error, not silent loss.
//!
//! This is Twisted's `ProcessProtocol`, `IProcessTransport` and
//! `LineReceiver`, with their callbacks and order; `docs/from-twisted.md`
//! maps every name.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), procwire_core::Error> {
//! use bytes::Bytes;
//! use procwire_core::Command;
//! use procwire_protocol::{spawn_process, Options, ProcessProtocol, Transport};
//!
//! /// Writes text to `wc`, collects its counts.
//! #[derive(Default)]
//! struct Wc(String);
//!
//! impl ProcessProtocol for Wc {
//!     fn connection_made(&mut self, transport: &mut Transport) {
//!         transport.write("one line of text for wc to count\n").unwrap();
//!         transport.close_stdin();
//!     }
//!     fn out_received(&mut self, _transport: &mut Transport, data: Bytes) {
//!         self.0.push_str(&String::from_utf8_lossy(&data));
//!     }
//! }
//!
//! let ended = spawn_process(Wc::default(), &mut Command::new("wc"), Options::new())?.await?;
//! let counts: Vec<&str> = ended.protocol.0.split_whitespace().collect();
//! assert_eq!(counts, ["1", "8", "33"]);
//! assert!(ended.reason.status.success());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

/// The buffer type the callbacks receive, re-exported so protocols need
/// no direct `bytes` dependency.
pub use bytes::Bytes;
pub use control::Control;
pub use driver::{run_process, Driver, Ended, Options};
pub use events::{spawn_events, Event, ProcessEvents};
pub use handle::{spawn_process, ProcessHandle};
pub use line_stream::{spawn_lines, LineEvent, OutputLine, ProcessLines};
pub use lines::{ByteLineProtocol, ByteLines, LineProtocol, Lines};
pub use protocol::{EndReason, ProcessProtocol};
pub use transport::Transport;

mod control;
mod driver;
mod events;
mod handle;
mod line_stream;
mod lines;
mod protocol;
mod queued;
mod transport;

/// Crate-private entry points for the fuzz targets in `fuzz/`, compiled
/// only there (`cargo fuzz` builds with `--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::lines::fuzz::Framer;
}
