//! procwire runs programs from tokio: spawn any program with any map of
//! child descriptors, talk to it over async pipes, follow it through a
//! pidfd without ever forking, collect its output, or keep it running
//! under a supervisor. Its API is Twisted's process API
//! (`reactor.spawnProcess`, `childFDs`, `signalProcess`, `ProcessDone` /
//! `ProcessTerminated`) made async.
//!
//! This is the crate users depend on. At its root: spawning
//! ([`Command`], [`ChildFd`], [`Child`], [`ChildReader`], [`ChildWriter`],
//! [`PtyMaster`], [`ExitStatus`], [`Error`], from procwire-core), Twisted's
//! protocols ([`ProcessProtocol`], [`Transport`], [`spawn_process`],
//! [`spawn_events`], from procwire-protocol) and running to the end
//! ([`Run`], [`get_process_output`], [`get_process_value`],
//! [`get_process_output_and_value`], from procwire-utils). The
//! [`supervisor`] module is procwire-supervisor, with its overview;
//! [`prelude`] is the set of names to glob-import. `docs/from-tokio.md`
//! maps every `tokio::process` name and habit to procwire's,
//! `docs/from-twisted.md` every Twisted name,
//! `docs/from-std-and-others.md` std's, Python's, Node's and Go's, and
//! `docs/from-supervisors.md` those of procmon, supervisord, systemd, s6,
//! runit, pm2, Kubernetes, Erlang/OTP and tini.
//!
//! # Which API do I want?
//!
//! | you want to | use |
//! |---|---|
//! | run a program to its end and collect its output | [`Run::output`], as tokio's `output()` (plus a timeout, input, an output limit), or [`get_process_output`] for Twisted's semantics |
//! | ... and it must succeed: stdout as text, or an error with its stderr | [`Run::checked_string`] |
//! | write to and read from the child yourself, as with `tokio::process` | [`Command::spawn`], then the [`Child`]'s pipes |
//! | react to each event with a callback, as Twisted does | [`spawn_process`] with a [`ProcessProtocol`] (wrapped in [`Lines`] for lines) |
//! | the same events as a `Stream`, for `while let` | [`spawn_events`] |
//! | a child's stdout and stderr line by line, each line with its fd, then the exit status | [`spawn_lines`] (the framer alone: [`lines::LineFramer`]) |
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
//! let mut tr = procwire::Run::new("tr");
//! tr.args(["a-z", "A-Z"]).input("shout\n").timeout(Duration::from_secs(10));
//! let out = tr.output().await?; // tokio's output(): stdout, stderr, status
//! assert_eq!((&out.stdout[..], out.status.success()), (&b"SHOUT\n"[..], true));
//! let out = procwire::get_process_output("echo", ["hi"]).await?; // Twisted's getProcessOutput
//! assert_eq!(out, b"hi\n");
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
//! ## Lines as they come: `spawn_lines`
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), procwire::Error> {
//! use procwire::{spawn_lines, Command, LineEvent};
//!
//! let mut lines = spawn_lines(Command::new("printf").arg(r"one\ntwo\n"))?;
//! while let Some(event) = lines.next_line().await? {
//!     match event {
//!         LineEvent::Line(line) => println!("[fd {}] {line}", line.fd),
//!         LineEvent::Exited(status) => assert!(status.success()),
//!         _ => {} // a line over the maximum
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## `?` in a function returning `io::Result`
//!
//! procwire's errors convert into [`std::io::Error`] (with a fitting
//! [`ErrorKind`](std::io::ErrorKind), `NotFound` for a missing program,
//! `TimedOut` for a run's timeout; the procwire error inside, for
//! `downcast`), and [`ExitStatus`] into std's and back:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use procwire::{Command, Run};
//!
//! async fn kernel_and_status() -> std::io::Result<(String, std::process::ExitStatus)> {
//!     let kernel = Run::new("uname").arg("-s").checked_string().await?; // a RunError
//!     let mut child = Command::new("true").spawn()?; // a procwire::Error
//!     Ok((kernel, child.wait().await?.into()))
//! }
//! let (kernel, status) = kernel_and_status().await?;
//! assert_eq!((kernel.trim(), status.success()), ("Linux", true));
//! # Ok(()) }
//! ```
//!
//! ## Names: `use procwire::prelude::*`
//!
//! `use procwire::*` and `use procwire::supervisor::*` together make two
//! names ambiguous, `Error` and `Event` (each level has its own: rustc
//! warns and picks one), and the first also brings a `Result` that hides
//! std's. The [`prelude`] is a
//! set without them, for a glob import, covering the whole crate: name
//! the two by their path (`procwire::Error`,
//! `procwire::supervisor::Event`). See [`prelude`] for the list.
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
    run_process, spawn_events, spawn_lines, spawn_process, ByteLineProtocol, ByteLines, Bytes, Control,
    Driver, EndReason, Ended, Event, LineEvent, LineProtocol, Lines, Options, OutputLine, ProcessEvents,
    ProcessHandle, ProcessLines, ProcessProtocol, Transport,
};

/// Output cut into lines: procwire-core's one line framer, under
/// [`Lines`], [`spawn_lines`] and the supervisor's logs
/// ([procwire_core::lines]).
pub mod lines {
    pub use procwire_core::lines::*;
}
pub use procwire_utils::{
    get_process_output, get_process_output_and_value, get_process_value, CommandExt, Output, Run, RunError,
};

pub mod prelude {
    //! The names to glob-import: `use procwire::prelude::*;`.
    //!
    //! The everyday types, functions and traits of every layer, none of which
    //! collide: procwire-core's [`Command`], [`Child`], [`ChildFd`],
    //! [`ExitStatus`], [`Signal`], [`StopPolicy`], [`StopScope`]; the protocol
    //! layer's [`spawn_process`], [`spawn_events`], [`spawn_lines`],
    //! [`LineEvent`], [`ProcessProtocol`], [`LineProtocol`], [`Lines`],
    //! [`Transport`], [`EndReason`], [`Options`], [`Bytes`]; the utilities'
    //! [`Run`], [`CommandExt`], [`Output`], [`RunError`] and Twisted's three
    //! functions; the supervisor's
    //! [`Supervisor`], [`ProgramSpec`], [`RestartSpec`], [`RestartPolicy`],
    //! [`Backoff`], [`Readiness`].
    //!
    //! Left out, and written with their path: `Error` and `Event`, which exist
    //! at both levels ([`procwire::Error`](crate::Error) and
    //! [`procwire::Event`](crate::Event) for a spawned process,
    //! [`procwire::supervisor::Error`](crate::supervisor::Error) and
    //! [`procwire::supervisor::Event`](crate::supervisor::Event) for the
    //! supervisor), and `Result`, which would hide std's. The prelude may be
    //! combined with `use procwire::*` or `use procwire::supervisor::*` (the
    //! same item reached twice is not ambiguous), but those two together make
    //! `Error` and `Event` ambiguous, and today's rustc only warns
    //! (`ambiguous_glob_imports`, to become an error) and picks one:
    //!
    //! ```compile_fail
    //! #![deny(ambiguous_glob_imports)]
    //! use procwire::*;
    //! use procwire::supervisor::*;
    //!
    //! fn on_event(_: &Event) {} // `Event` is ambiguous
    //! ```
    //!
    //! # Example
    //!
    //! ```
    //! use procwire::prelude::*;
    //!
    //! struct Count(usize);
    //! impl ProcessProtocol for Count {
    //!     fn out_received(&mut self, _: &mut Transport, data: Bytes) {
    //!         self.0 += data.len();
    //!     }
    //!     fn process_ended(&mut self, _: &mut Transport, reason: EndReason) {
    //!         assert!(reason.status.success());
    //!     }
    //! }
    //!
    //! #[tokio::main(flavor = "current_thread")]
    //! async fn main() -> Result<(), Box<dyn std::error::Error>> {
    //!     let out: Output = Run::new("echo").arg("hi").output().await?;
    //!     let status: ExitStatus = out.status;
    //!     assert_eq!((&out.stdout[..], status.code()), (&b"hi\n"[..], Some(0)));
    //!     assert_eq!(Command::new("echo").arg("hi").run().checked_string().await?, "hi\n");
    //!     assert_eq!(get_process_value("true", [""; 0]).await?, 0);
    //!
    //!     let ended = spawn_process(Count(0), Command::new("echo").arg("hi"), Options::new())?.await?;
    //!     assert_eq!(ended.protocol.0, 3);
    //!
    //!     let mut restart = RestartSpec::new();
    //!     restart.policy(RestartPolicy::Never).backoff(Backoff::procmon());
    //!     let mut sleep = Command::new("sleep");
    //!     sleep.arg("60");
    //!     let mut sleeper = ProgramSpec::new("sleeper", sleep);
    //!     sleeper.restart(restart).stop(StopPolicy::new().with_scope(StopScope::Process));
    //!     let (supervisor, _task) = Supervisor::new();
    //!     let mut events = supervisor.events().await?;
    //!     supervisor.add(sleeper).await?;
    //!     let event: procwire::supervisor::Event = events.recv().await?; // named by its path
    //!     println!("{event}");
    //!     supervisor.shutdown().await?;
    //!     Ok(())
    //! }
    //! ```

    pub use procwire_core::{Child, ChildFd, Command, ExitStatus, Signal, StopPolicy, StopScope};
    pub use procwire_protocol::{
        spawn_events, spawn_lines, spawn_process, Bytes, EndReason, LineEvent, LineProtocol, Lines, Options,
        ProcessProtocol, Transport,
    };
    pub use procwire_supervisor::{Backoff, ProgramSpec, Readiness, RestartPolicy, RestartSpec, Supervisor};
    pub use procwire_utils::{
        get_process_output, get_process_output_and_value, get_process_value, CommandExt, Output, Run,
        RunError,
    };
}

#[doc(inline)]
pub use procwire_supervisor as supervisor;

/// The README's example is compiled and run as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
