//! A process driven on its own task: [`spawn_process`] and the
//! [`ProcessHandle`] it returns.
//!
//! Aborting must stop the callbacks at once, also on a multi-threaded
//! runtime where the task may be mid-poll on another worker (tokio drops a
//! cancelled task only when it next yields): the protocol runs behind a
//! gate that the handle shuts, so no callback starts after `abort`.

use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use procwire_core::{Command, Error, ExitStatus, IntoSignal};
use tokio::task::JoinHandle;

use crate::control::Control;
use crate::driver::{run_process, Ended, Options};
use crate::protocol::{EndReason, ProcessProtocol};
use crate::transport::Transport;

/// Spawns `command` and drives it for `protocol` on a tokio task: the
/// callbacks run whether or not the handle is awaited, and awaiting it
/// gives the protocol back once
/// [`process_ended`](ProcessProtocol::process_ended) has run. Dropping the
/// handle detaches the task, or aborts it if the command set
/// [`kill_on_drop`](Command::kill_on_drop) (see
/// [`ProcessHandle`](ProcessHandle#cancel-safety)). Twisted's
/// `reactor.spawnProcess`.
///
/// # Errors
///
/// Spawn errors, as [`Command::spawn`].
///
/// # Panics
///
/// Outside a tokio runtime, as [`tokio::spawn`].
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), procwire_core::Error> {
/// use bytes::Bytes;
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_process, Options, ProcessProtocol, Transport};
///
/// #[derive(Default)]
/// struct Collect(Vec<u8>);
/// impl ProcessProtocol for Collect {
///     fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
///         self.0.extend_from_slice(&data);
///     }
/// }
///
/// let handle = spawn_process(Collect::default(), Command::new("date").arg("-u"), Options::new())?;
/// let ended = handle.await?;
/// println!("{} -> {}", String::from_utf8_lossy(&ended.protocol.0), ended.reason.status);
/// # Ok(()) }
/// ```
pub fn spawn_process<P: ProcessProtocol + 'static>(
    protocol: P,
    command: &mut Command,
    options: Options,
) -> Result<ProcessHandle<P>, Error> {
    let kill_on_drop = command.get_kill_on_drop();
    let aborted = Arc::new(AtomicBool::new(false));
    let gated = Gated { inner: protocol, aborted: aborted.clone(), ended: false };
    let driver = run_process(gated, command, options)?;
    let pid = driver.pid();
    let control = driver.control();
    Ok(ProcessHandle { pid, control, aborted, kill_on_drop, task: tokio::spawn(driver) })
}

/// A process driven on its own task, from [`spawn_process`]; a future of
/// its [`Ended`].
///
/// # Cancel safety
///
/// What dropping the handle does follows the command's
/// [`kill_on_drop`](Command::kill_on_drop):
///
/// - `kill_on_drop(true)`: dropping the handle is [`abort`](Self::abort):
///   no callback runs after it, and the child is killed and reaped.
/// - otherwise (the default): the task runs on, detached: every callback
///   up to [`process_ended`](ProcessProtocol::process_ended) still runs,
///   and the protocol is dropped after it. Call [`abort`](Self::abort)
///   before dropping to stop it instead.
///
/// Awaiting `&mut handle` in a `select!` branch that loses, or under a
/// timeout that fires, drops nothing: the handle can be awaited again.
/// When the runtime shuts down, its tasks are dropped, and with them each
/// driver's [`Child`](procwire_core::Child), reaped in the background.
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), procwire_core::Error> {
/// use std::time::Duration;
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_process, Options, ProcessProtocol};
///
/// struct Quiet;
/// impl ProcessProtocol for Quiet {}
///
/// let mut sleep = Command::new("sleep");
/// sleep.arg("60").kill_on_drop(true);
/// let mut handle = spawn_process(Quiet, &mut sleep, Options::new())?;
/// println!("sleep is pid {:?}", handle.pid());
/// match tokio::time::timeout(Duration::from_secs(1), &mut handle).await {
///     Ok(ended) => println!("ended: {}", ended?.reason.status),
///     // Too slow: no more callbacks, and (kill_on_drop) the child is killed.
///     Err(_) => handle.abort(),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProcessHandle<P> {
    pid: Option<u32>,
    control: Control,
    /// Shut by `abort`: the gate in front of the protocol.
    aborted: Arc<AtomicBool>,
    kill_on_drop: bool,
    task: JoinHandle<Result<Ended<Gated<P>>, Error>>,
}

impl<P> ProcessHandle<P> {
    /// The child's pid as spawned (it may have been reaped since).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Sends a signal; [`Error::ProcessExitedAlready`] once reaped.
    ///
    /// # Errors
    ///
    /// As [`Transport::signal_process`].
    pub fn signal_process(&self, sig: impl IntoSignal) -> Result<(), Error> {
        self.control.signal_process(sig)
    }

    /// A handle to write, close and pause from outside the callbacks.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Stops driving the process: no callback starts after `abort`
    /// returns; one running at that moment on another worker thread
    /// finishes. The task is cancelled and drops the
    /// [`Child`](procwire_core::Child): if the command set
    /// [`kill_on_drop`](Command::kill_on_drop), the child is sent SIGKILL;
    /// either way it is reaped in the background whenever it exits, never
    /// left a zombie (see [`Child`](procwire_core::Child#dropping)). Our
    /// ends of its pipes are closed, so a child left running gets `EPIPE`
    /// (or `SIGPIPE`) when it writes to them. Writes through a
    /// [`Control`] fail from now on; [`signal_process`](Self::signal_process)
    /// works while the child lives.
    ///
    /// Awaiting the handle afterwards gives the [`Ended`] if
    /// [`process_ended`](ProcessProtocol::process_ended) ran before the
    /// abort, else an [`Error::Io`]. Aborting twice, or after the end, does
    /// nothing more.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        self.control.writable.set([]);
        self.task.abort();
    }
}

impl<P> Drop for ProcessHandle<P> {
    fn drop(&mut self) {
        if self.kill_on_drop {
            self.abort();
        }
    }
}

impl<P> Future for ProcessHandle<P> {
    type Output = Result<Ended<P>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let joined = std::task::ready!(Pin::new(&mut self.task).poll(cx));
        Poll::Ready(match joined {
            Ok(Ok(ended)) if ended.protocol.ended => Ok(Ended::new(ended.protocol.inner, ended.reason)),
            // Aborted in the very poll that would have ended it.
            Ok(Ok(_)) => Err(aborted()),
            Ok(Err(e)) => Err(e),
            // A callback panicked: let the panic reach the awaiting task.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(aborted()),
        })
    }
}

fn aborted() -> Error {
    Error::Io(io::Error::other(
        "the process driver was aborted (ProcessHandle::abort, or the runtime shut down)",
    ))
}

/// The protocol behind the gate [`ProcessHandle::abort`] shuts: each
/// callback is passed on only while it is open, each to the same method
/// (so the inner protocol's own dispatch applies, as for `&mut P`).
#[derive(Debug)]
struct Gated<P> {
    inner: P,
    aborted: Arc<AtomicBool>,
    /// `process_ended` was passed on: the result is the protocol's.
    ended: bool,
}

impl<P> Gated<P> {
    fn open(&self) -> bool {
        !self.aborted.load(Ordering::SeqCst)
    }
}

impl<P: ProcessProtocol> ProcessProtocol for Gated<P> {
    fn connection_made(&mut self, t: &mut Transport) {
        if self.open() {
            self.inner.connection_made(t)
        }
    }
    fn child_data_received(&mut self, t: &mut Transport, fd: RawFd, data: Bytes) {
        if self.open() {
            self.inner.child_data_received(t, fd, data)
        }
    }
    fn out_received(&mut self, t: &mut Transport, data: Bytes) {
        if self.open() {
            self.inner.out_received(t, data)
        }
    }
    fn err_received(&mut self, t: &mut Transport, data: Bytes) {
        if self.open() {
            self.inner.err_received(t, data)
        }
    }
    fn child_connection_lost(&mut self, t: &mut Transport, fd: RawFd) {
        if self.open() {
            self.inner.child_connection_lost(t, fd)
        }
    }
    fn in_connection_lost(&mut self, t: &mut Transport) {
        if self.open() {
            self.inner.in_connection_lost(t)
        }
    }
    fn out_connection_lost(&mut self, t: &mut Transport) {
        if self.open() {
            self.inner.out_connection_lost(t)
        }
    }
    fn err_connection_lost(&mut self, t: &mut Transport) {
        if self.open() {
            self.inner.err_connection_lost(t)
        }
    }
    fn process_exited(&mut self, t: &mut Transport, status: ExitStatus) {
        if self.open() {
            self.inner.process_exited(t, status)
        }
    }
    fn process_ended(&mut self, t: &mut Transport, reason: EndReason) {
        if self.open() {
            self.inner.process_ended(t, reason);
            self.ended = true;
        }
    }
    fn pause_producing(&mut self, t: &mut Transport) {
        if self.open() {
            self.inner.pause_producing(t)
        }
    }
    fn resume_producing(&mut self, t: &mut Transport) {
        if self.open() {
            self.inner.resume_producing(t)
        }
    }
}
