//! The driver: one future that reads the child's pipes, flushes its input,
//! reaps it, and calls the protocol in its guaranteed order.

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use procwire_core::{
    Child, ChildReader, ChildWriter, Command, Deadline, Error, ExitStatus, PtyReadHalf, PtyWriteHalf,
    StdioDefaults,
};
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use tokio_util::io::poll_read_buf;

use crate::control::{Control, Request, Writable};
use crate::protocol::{EndReason, ProcessProtocol};
use crate::transport::{InputQueue, Transport};

/// Tuning for a driven process.
///
/// ```
/// use std::time::Duration;
/// let options = procwire_protocol::Options::new()
///     .drain_deadline(Duration::from_secs(5))
///     .write_buffer_limits(64 * 1024, 1024 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    drain_deadline: Option<Duration>,
    low_water: usize,
    high_water: usize,
    read_chunk: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { drain_deadline: None, low_water: 64 * 1024, high_water: 256 * 1024, read_chunk: 64 * 1024 }
    }
}

impl Options {
    /// The defaults: no drain deadline (every output pipe is waited for,
    /// however long, as Twisted does), write-buffer marks of 64 KiB (low)
    /// and 256 KiB (high), 64 KiB reads.
    pub fn new() -> Self {
        Options::default()
    }

    /// After the child is reaped, wait at most `deadline` for its output
    /// pipes to close: a grandchild that inherited them can otherwise hold
    /// [`process_ended`](ProcessProtocol::process_ended) forever. When it
    /// fires, the pipes are closed (with
    /// [`child_connection_lost`](ProcessProtocol::child_connection_lost)
    /// for each) and [`EndReason::pipes_force_closed`] is set. As Go's
    /// `WaitDelay`.
    pub fn drain_deadline(mut self, deadline: Duration) -> Self {
        self.drain_deadline = Some(deadline);
        self
    }

    /// The write-buffer marks: above `high` bytes queued,
    /// [`pause_producing`](ProcessProtocol::pause_producing) is called and
    /// [`Transport::write_buffer_full`] is true; back at or below `low`,
    /// [`resume_producing`](ProcessProtocol::resume_producing).
    pub fn write_buffer_limits(mut self, low: usize, high: usize) -> Self {
        self.low_water = low.min(high);
        self.high_water = high;
        self
    }
}

/// How the process ended, with the protocol handed back: what
/// [`spawn_process`](crate::spawn_process) and [`run_process`] resolve to,
/// once [`process_ended`](ProcessProtocol::process_ended) has run.
///
/// The fields are public to read (and to move the protocol out of); more
/// may come, so outside this crate it is built with [`new`](Self::new) and
/// matched with `..`.
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), procwire_core::Error> {
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_process, Ended, Options, ProcessProtocol};
///
/// struct Quiet;
/// impl ProcessProtocol for Quiet {}
///
/// let Ended { protocol: Quiet, reason, .. } =
///     spawn_process(Quiet, &mut Command::new("true"), Options::new())?.await?;
/// assert!(reason.status.success());
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Ended<P> {
    /// The protocol, with whatever state it gathered.
    pub protocol: P,
    /// The exit status and whether pipes were force-closed.
    pub reason: EndReason,
}

impl<P> Ended<P> {
    /// The protocol and how its process ended, as the driver hands them
    /// back; for code that wraps a driver and maps its result.
    pub fn new(protocol: P, reason: EndReason) -> Self {
        Ended { protocol, reason }
    }
}

/// The parent's end of an output: a pipe or the terminal.
#[derive(Debug)]
enum Reader {
    Pipe(ChildReader),
    Pty(PtyReadHalf),
}

/// The parent's end of an input: a pipe or the terminal.
#[derive(Debug)]
enum Writer {
    Pipe(ChildWriter),
    Pty(PtyWriteHalf),
}

impl Reader {
    /// Reads into the spare capacity of `buf` (no zeroing); 0 is EOF.
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        match self {
            Reader::Pipe(r) => poll_read_buf(Pin::new(r), cx, buf),
            Reader::Pty(r) => poll_read_buf(Pin::new(r), cx, buf),
        }
    }
}

impl Writer {
    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self {
            Writer::Pipe(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            Writer::Pty(w) => Pin::new(w).poll_write_vectored(cx, bufs),
        }
    }
}

/// Drives one child for a [`ProcessProtocol`]: the future behind
/// [`spawn_process`](crate::spawn_process), for running it in place with
/// [`run_process`] (then the protocol need not be `'static`, and `&mut P`
/// works). The callbacks run only while it is polled.
///
/// # Cancel safety
///
/// Dropping it drops the [`Child`]: the child is reaped in the background
/// (and killed first if the command set
/// [`kill_on_drop`](Command::kill_on_drop)); no callback runs after that.
/// So a `Driver` in a `select!` branch that loses, or under a
/// [`tokio::time::timeout`] that fires, ends its process's handling there.
///
/// # Example
///
/// The protocol borrowed, not moved: it is read after the driver is done.
///
/// ```no_run
/// # async fn doc() -> Result<(), procwire_core::Error> {
/// use std::time::Duration;
/// use procwire_core::Command;
/// use procwire_protocol::{run_process, Bytes, Options, ProcessProtocol, Transport};
///
/// #[derive(Default)]
/// struct Count(usize);
/// impl ProcessProtocol for Count {
///     fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
///         self.0 += data.len();
///     }
/// }
///
/// let mut count = Count::default();
/// let mut yes = Command::new("yes");
/// yes.kill_on_drop(true);
/// let driver = run_process(&mut count, &mut yes, Options::new())?;
/// // `yes` never ends: after a second, dropping the driver kills it.
/// let _ = tokio::time::timeout(Duration::from_secs(1), driver).await;
/// println!("{} bytes of y", count.0);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Driver<P> {
    protocol: Option<P>,
    child: Child,
    transport: Transport,
    outputs: Vec<(RawFd, Reader)>,
    /// Parallel to `transport.inputs`.
    writers: Vec<Option<Writer>>,
    status: Option<ExitStatus>,
    options: Options,
    /// The drain deadline, once armed: a [`Deadline`], so the driver can
    /// finish on another runtime than the one that armed it.
    drain: Option<Deadline>,
    forced: bool,
    started: bool,
    producer_paused: bool,
    buf: BytesMut,
    /// Requests from [`Control`]s, and the sender they clone.
    requests: mpsc::UnboundedReceiver<Request>,
    control: Control,
    /// What `control.buffered` counts of the transport's queues: the
    /// driver adds or takes the difference as they change.
    published: usize,
    /// Return after each round that read something (the queued streams:
    /// their consumer takes what one read gave before the next is made).
    yield_after_read: bool,
}

// The driver never pins its fields: `P` is only ever used by `&mut`.
impl<P> Unpin for Driver<P> {}

impl<P: ProcessProtocol> Driver<P> {
    /// Wraps a spawned child; takes all of its pipes (and its terminal).
    /// A child from [`Command::spawn`] shares the parent's stderr unless
    /// the command maps fd 2; [`run_process`] and
    /// [`spawn_process`](crate::spawn_process) spawn with pipes on all
    /// three, `{0: "w", 1: "r", 2: "r"}` ([`StdioDefaults::Twisted`]).
    pub fn new(protocol: P, mut child: Child, options: Options) -> Self {
        let mut outputs: Vec<(RawFd, Reader)> =
            child.take_readers().into_iter().map(|r| (r.child_fd(), Reader::Pipe(r))).collect();
        let mut inputs = Vec::new();
        let mut writers = Vec::new();
        for w in child.take_writers() {
            inputs.push(InputQueue::new(w.child_fd()));
            writers.push(Some(Writer::Pipe(w)));
        }
        let pty = child.take_pty();
        let is_pty = pty.is_some();
        if let Some(master) = pty {
            let (r, w) = master.into_split();
            outputs.insert(0, (1, Reader::Pty(r)));
            inputs.insert(0, InputQueue::new(0));
            writers.insert(0, Some(Writer::Pty(w)));
        }
        // `read` goes through them in fd order.
        outputs.sort_by_key(|(fd, _)| *fd);
        let writable = Writable::default();
        writable.set(inputs.iter().map(|i: &InputQueue| i.fd));
        let (tx, requests) = mpsc::unbounded_channel();
        let control = Control {
            tx,
            writable: writable.clone(),
            signal: child.signal_handle(),
            pty: is_pty,
            buffered: Default::default(),
            high_water: options.high_water,
        };
        let transport = Transport {
            writable,
            high_water: options.high_water,
            pid: child.id(),
            signal: child.signal_handle(),
            inputs,
            close_outputs: Vec::new(),
            reading_paused: false,
            pty: is_pty,
            lose_pty: false,
        };
        Driver {
            protocol: Some(protocol),
            child,
            transport,
            outputs,
            writers,
            status: None,
            buf: BytesMut::with_capacity(options.read_chunk),
            options,
            drain: None,
            forced: false,
            started: false,
            producer_paused: false,
            requests,
            control,
            published: 0,
            yield_after_read: false,
        }
    }

    /// A handle to write, close and pause from outside the callbacks.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Carries out what [`Control`]s asked, in order.
    fn apply_requests(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Poll::Ready(Some(request)) = self.requests.poll_recv(cx) {
            progress = true;
            let t = &mut self.transport;
            match request {
                Request::Write(fd, data) => {
                    // Counted by the control already: now in the queue.
                    let len = data.len();
                    match t.write_to_child(fd, data) {
                        Ok(()) => self.published += len,
                        // A write that raced its pipe's closing is dropped.
                        Err(_) => drop(self.control.buffered.fetch_sub(len, Ordering::Relaxed)),
                    }
                }
                Request::Close(fd) => t.close_child_fd(fd),
                Request::LoseConnection => t.lose_connection(),
                Request::PauseReading => t.pause_producing(),
                Request::ResumeReading => t.resume_producing(),
            }
        }
        progress
    }

    /// Brings the count [`Control::buffered`] reads up to date with the
    /// transport's queues: what callbacks wrote, what the pipes took, what
    /// a lost pipe dropped.
    fn publish(&mut self) {
        let now = self.transport.buffered();
        // The count is the controls' writes in flight plus `published`, so
        // it never goes below zero.
        if now > self.published {
            self.control.buffered.fetch_add(now - self.published, Ordering::Relaxed);
        } else {
            self.control.buffered.fetch_sub(self.published - now, Ordering::Relaxed);
        }
        self.published = now;
    }

    /// The child's pid, `None` once reaped.
    pub fn pid(&self) -> Option<u32> {
        self.transport.pid
    }

    /// The transport, as the callbacks see it.
    pub(crate) fn transport_mut(&mut self) -> &mut Transport {
        &mut self.transport
    }

    /// Makes each poll return once a read has been delivered (the queued
    /// streams), instead of reading on while the pipes have data.
    pub(crate) fn yield_after_read(&mut self) {
        self.yield_after_read = true;
    }

    /// The protocol, between polls.
    pub(crate) fn protocol_mut(&mut self) -> Option<&mut P> {
        self.protocol.as_mut()
    }

    /// Closes output `fd` (at our end) and reports it lost.
    fn lose_output(&mut self, protocol: &mut P, fd: RawFd) -> bool {
        let Some(i) = self.outputs.iter().position(|(f, _)| *f == fd) else { return false };
        self.outputs.remove(i);
        protocol.child_connection_lost(&mut self.transport, fd);
        true
    }

    /// Closes input number `i` and reports it lost.
    fn lose_input(&mut self, protocol: &mut P, i: usize) {
        let input = &mut self.transport.inputs[i];
        input.closed = true;
        input.queue.clear();
        input.queued = 0;
        let fd = input.fd;
        self.transport.writable.remove(fd);
        self.writers[i] = None;
        protocol.child_connection_lost(&mut self.transport, fd);
    }

    /// Writes what is queued; closes inputs asked to close once flushed.
    fn flush(&mut self, cx: &mut Context<'_>, protocol: &mut P) -> bool {
        let mut progress = false;
        // Checked before writing too (Twisted checks in `write` itself): a
        // callback that queued past the mark is told even if this very flush
        // then drains it, so the resume below always follows a pause.
        if !self.producer_paused && self.transport.buffered() > self.options.high_water {
            self.producer_paused = true;
            protocol.pause_producing(&mut self.transport);
            progress = true;
        }
        for i in 0..self.writers.len() {
            let input = &mut self.transport.inputs[i];
            if input.closed {
                continue;
            }
            let mut lost = false;
            if let Some(writer) = self.writers[i].as_mut() {
                while !input.queue.is_empty() {
                    let mut slices = [IoSlice::new(&[]); 64];
                    let n =
                        input.queue.iter().zip(slices.iter_mut()).map(|(b, s)| *s = IoSlice::new(b)).count();
                    match writer.poll_write_vectored(cx, &slices[..n]) {
                        Poll::Ready(Ok(written)) => {
                            advance(&mut input.queue, written);
                            input.queued -= written;
                            progress = true;
                        }
                        // The child closed its end (EPIPE) or the pipe broke.
                        Poll::Ready(Err(_)) => {
                            lost = true;
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
                // The child may close its end while we have nothing to
                // write (Twisted's ProcessWriter notices at once too).
                if let Writer::Pipe(pipe) = writer {
                    lost |= pipe.poll_closed(cx).is_ready();
                }
            }
            if lost || (input.closing && input.queue.is_empty()) {
                self.lose_input(protocol, i);
                progress = true;
            }
        }
        let queued = self.transport.buffered();
        if !self.producer_paused && queued > self.options.high_water {
            self.producer_paused = true;
            protocol.pause_producing(&mut self.transport);
            progress = true;
        } else if self.producer_paused && queued <= self.options.low_water {
            self.producer_paused = false;
            protocol.resume_producing(&mut self.transport);
            progress = true;
        }
        progress
    }

    /// Carries out the output closes the callbacks asked for
    /// (`close_child_fd` on an output, `lose_connection` on a terminal),
    /// including those asked by the lost callbacks this makes.
    fn apply_closes(&mut self, protocol: &mut P) -> bool {
        let mut progress = false;
        loop {
            if std::mem::take(&mut self.transport.lose_pty) {
                self.lose_output(protocol, 1);
                if let Some(i) = self.transport.inputs.iter().position(|i| i.fd == 0 && !i.closed) {
                    self.lose_input(protocol, i);
                }
                progress = true;
            } else if self.transport.close_outputs.is_empty() {
                return progress;
            }
            for fd in std::mem::take(&mut self.transport.close_outputs) {
                progress |= self.lose_output(protocol, fd);
            }
        }
    }

    /// Reads what each output pipe has, in fd order; reports EOF as lost.
    ///
    /// Each callback may close an output or pause reading: both are applied
    /// before the next read, of any fd, so no data is delivered on an fd
    /// after its close returned, nor any after `pause_producing`.
    fn read(&mut self, cx: &mut Context<'_>, protocol: &mut P) -> bool {
        let mut progress = false;
        // The outputs are in fd order; `next` is the lowest fd not read yet.
        let mut next = RawFd::MIN;
        loop {
            progress |= self.apply_closes(protocol);
            if self.transport.reading_paused {
                return progress;
            }
            let Some(i) = self.outputs.iter().position(|(fd, _)| *fd >= next) else { return progress };
            self.buf.reserve(self.options.read_chunk);
            let (fd, reader) = &mut self.outputs[i];
            let fd = *fd;
            next = fd.saturating_add(1);
            match reader.poll_read_buf(cx, &mut self.buf) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    let data = self.buf.split().freeze();
                    protocol.child_data_received(&mut self.transport, fd, data);
                    progress = true;
                }
                Poll::Ready(_) => {
                    self.outputs.remove(i);
                    protocol.child_connection_lost(&mut self.transport, fd);
                    progress = true;
                }
                Poll::Pending => {}
            }
        }
    }
}

/// Drops the first `n` bytes of a queue of buffers (and any empty buffer
/// then at its front, so a flush always makes progress).
fn advance(queue: &mut std::collections::VecDeque<bytes::Bytes>, mut n: usize) {
    while let Some(front) = queue.front_mut() {
        if front.len() <= n {
            n -= front.len();
            queue.pop_front();
        } else {
            front.advance(n);
            return;
        }
    }
}

impl<P: ProcessProtocol> Future for Driver<P> {
    type Output = Result<Ended<P>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(mut protocol) = this.protocol.take() else {
            return Poll::Ready(Err(Error::Io(io::Error::other("process driver polled after it ended"))));
        };
        let result = this.step(cx, &mut protocol);
        this.publish();
        match result {
            Poll::Ready(Ok(reason)) => Poll::Ready(Ok(Ended::new(protocol, reason))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                this.protocol = Some(protocol);
                Poll::Pending
            }
        }
    }
}

impl<P: ProcessProtocol> Driver<P> {
    /// One poll: run until nothing moves, or the budget is spent.
    fn step(&mut self, cx: &mut Context<'_>, protocol: &mut P) -> Poll<Result<EndReason, Error>> {
        if !self.started {
            self.started = true;
            protocol.connection_made(&mut self.transport);
        }
        for _ in 0..64 {
            let mut progress = self.apply_requests(cx);
            progress |= self.apply_closes(protocol);
            progress |= self.flush(cx, protocol);
            let read = self.read(cx, protocol);
            if read && self.yield_after_read {
                // Woken at once: the task comes back for the rest as soon
                // as its consumer has taken what this read gave.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            progress |= read;
            if self.status.is_none() {
                if let Poll::Ready(status) = self.child.poll_wait(cx) {
                    let status = status?;
                    self.status = Some(status);
                    self.transport.pid = None;
                    protocol.process_exited(&mut self.transport, status);
                    if let Some(deadline) = self.options.drain_deadline {
                        self.drain = Some(Deadline::after(deadline));
                    }
                    progress = true;
                }
            }
            if let Some(status) = self.status {
                if let Some(drain) = self.drain.as_mut() {
                    if !self.outputs.is_empty() && drain.poll_elapsed(cx).is_ready() {
                        self.drain = None;
                        self.forced = true;
                        while let Some(&(fd, _)) = self.outputs.first() {
                            self.lose_output(protocol, fd);
                        }
                        progress = true;
                    }
                }
                if self.outputs.is_empty() {
                    // The child is gone and so is its output: whatever input
                    // pipe is still open can only be closed now.
                    while let Some(i) = self.transport.inputs.iter().position(|i| !i.closed) {
                        self.lose_input(protocol, i);
                    }
                    let reason = EndReason::new(status, self.forced);
                    protocol.process_ended(&mut self.transport, reason);
                    return Poll::Ready(Ok(reason));
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Busy child: yield to the runtime, then carry on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl InputQueue {
    fn new(fd: RawFd) -> Self {
        InputQueue { fd, queue: Default::default(), queued: 0, closing: false, closed: false }
    }
}

/// Spawns `command` and drives it for `protocol` in place: the returned
/// future runs the callbacks when polled and resolves to the protocol and
/// how the process ended. Unlike [`spawn_process`](crate::spawn_process),
/// nothing runs unless the [`Driver`] is polled, and the protocol may
/// borrow (`&mut P`, or a protocol holding references).
///
/// # Errors
///
/// Spawn errors, as [`Command::spawn`].
///
/// # Example
///
/// Two children driven side by side on the current task, no `spawn`:
///
/// ```no_run
/// # async fn doc() -> Result<(), procwire_core::Error> {
/// use procwire_core::Command;
/// use procwire_protocol::{run_process, Bytes, Options, ProcessProtocol, Transport};
///
/// struct Append<'a>(&'a mut Vec<u8>);
/// impl ProcessProtocol for Append<'_> {
///     fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
///         self.0.extend_from_slice(&data);
///     }
/// }
///
/// let (mut a, mut b) = (Vec::new(), Vec::new());
/// let one = run_process(Append(&mut a), Command::new("echo").arg("one"), Options::new())?;
/// let two = run_process(Append(&mut b), Command::new("echo").arg("two"), Options::new())?;
/// let (one, two) = tokio::join!(one, two);
/// assert!(one?.reason.status.success() && two?.reason.status.success());
/// assert_eq!((&a[..], &b[..]), (&b"one\n"[..], &b"two\n"[..]));
/// # Ok(()) }
/// ```
pub fn run_process<P: ProcessProtocol>(
    protocol: P,
    command: &mut Command,
    options: Options,
) -> Result<Driver<P>, Error> {
    let child = command.spawn_with(StdioDefaults::Twisted)?;
    Ok(Driver::new(protocol, child, options))
}
