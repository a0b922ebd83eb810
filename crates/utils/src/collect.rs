//! The future behind every run: one poll function that reaps the child,
//! feeds its stdin, drains fd 1 and fd 2 side by side and drives core's
//! stop ladder, so no pipe can fill up while another is being waited on.

use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use procwire_core::{
    Child, ChildReader, ChildWriter, Deadline, ExitStatus, PtyReadHalf, PtyWriteHalf, Signal, StopLadder,
    StopPolicy, StopScope,
};
use tokio::io::AsyncWrite;

/// Reads stop as soon as the buffer has fewer than this many spare bytes;
/// the buffer then grows (doubling, up to the limit).
const MIN_SPARE: usize = 1024;

/// Why the child was stopped before it ended on its own.
#[derive(Debug)]
pub(crate) enum Cause {
    Timeout,
    Limit { fd: RawFd },
    Io(io::Error),
}

/// The result of a run: what the child wrote, how it ended, and why it was
/// stopped if it was. `status` is `None` only when reaping itself failed.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) pid: u32,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) status: Option<ExitStatus>,
    pub(crate) cause: Option<Cause>,
}

/// Where the child's output comes from: a pipe, or its terminal.
#[derive(Debug)]
pub(crate) enum Source {
    Pipe(ChildReader),
    Pty(PtyReadHalf),
}

/// Where the child's input goes.
#[derive(Debug)]
pub(crate) enum Sink {
    Pipe(ChildWriter),
    Pty(PtyWriteHalf),
}

/// The limits and stop ladder of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) timeout: Option<Duration>,
    pub(crate) grace: Duration,
    /// Per stream (or for the merged stream), `usize::MAX` for none.
    pub(crate) max_output: usize,
    /// fd 2's bytes go to the stdout buffer, in arrival order.
    pub(crate) merge: bool,
    /// The child leads its own process group, and stops signal the group.
    pub(crate) group: bool,
}

/// Runs a spawned child to completion. Dropping it drops the [`Child`],
/// which was spawned with `kill_on_drop`, so the child is killed and handed
/// to procwire's reaper.
#[derive(Debug)]
pub(crate) struct Collect {
    child: Child,
    pid: u32,
    input: Option<(Sink, Bytes)>,
    /// fd 1 and fd 2, `None` once at end of file (or stopped reading).
    sources: [Option<Source>; 2],
    /// The terminal's read half once it is done reading: closing the
    /// master hangs the terminal up, and the child (which may live on
    /// after closing its side) would get SIGHUP, so it stays open until
    /// the child is reaped.
    terminal: Option<PtyReadHalf>,
    bufs: [Vec<u8>; 2],
    limits: Limits,
    status: Option<ExitStatus>,
    /// The timeout, until it fires or a stop begins: a [`Deadline`], so
    /// the run can be polled to its end on another runtime than the one
    /// it started on.
    timer: Option<Deadline>,
    /// Core's stop ladder, once a stop began.
    ladder: Option<StopLadder>,
    /// The ladder ended: the child is reaped.
    stopped: bool,
    cause: Option<Cause>,
}

impl Collect {
    pub(crate) fn new(
        child: Child,
        input: Option<(Sink, Bytes)>,
        sources: [Option<Source>; 2],
        limits: Limits,
    ) -> Collect {
        let timer = limits.timeout.map(Deadline::after);
        Collect {
            // Just spawned, so not reaped yet.
            pid: child.id().unwrap_or_default(),
            child,
            input,
            sources,
            terminal: None,
            bufs: [Vec::new(), Vec::new()],
            limits,
            status: None,
            timer,
            ladder: None,
            stopped: false,
            cause: None,
        }
    }

    /// Writes the input until the pipe is full or all is written, then
    /// closes it. A child that closes its stdin early (EPIPE) is not an
    /// error: it simply did not want the rest, as with Python's
    /// `communicate()`.
    fn poll_input(&mut self, cx: &mut Context<'_>) {
        let Some((sink, data)) = &mut self.input else { return };
        while !data.is_empty() {
            let written = match sink {
                Sink::Pipe(w) => Pin::new(w).poll_write(cx, data),
                Sink::Pty(w) => Pin::new(w).poll_write(cx, data),
            };
            match written {
                Poll::Ready(Ok(n)) if n > 0 => data.advance(n),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(_) => break,
                Poll::Pending => return,
            }
        }
        // Dropping the pipe end closes it: the child sees end of file. (A
        // terminal's write half only drops its share of the master.)
        self.input = None;
    }

    /// Drains fd 1 (`i == 0`) or fd 2 (`i == 1`) until it would block.
    fn poll_source(&mut self, i: usize, cx: &mut Context<'_>) {
        let fd = i as RawFd + 1;
        let buf = if self.limits.merge { 0 } else { i };
        while let Some(source) = &mut self.sources[i] {
            let buf = &mut self.bufs[buf];
            // One byte past the limit tells "exactly at the limit" from "past it".
            let room = self.limits.max_output.saturating_add(1).saturating_sub(buf.len());
            if buf.capacity() - buf.len() < MIN_SPARE {
                buf.reserve(buf.len().clamp(MIN_SPARE, 1 << 20).min(room));
            }
            let mut limited = (&mut *buf).limit(room);
            let read = match source {
                Source::Pipe(r) => tokio_util::io::poll_read_buf(Pin::new(r), cx, &mut limited),
                Source::Pty(r) => tokio_util::io::poll_read_buf(Pin::new(r), cx, &mut limited),
            };
            match read {
                Poll::Pending => return,
                Poll::Ready(Ok(0)) => self.close_source(i),
                Poll::Ready(Ok(_)) if buf.len() > self.limits.max_output => {
                    buf.truncate(self.limits.max_output);
                    // Closing our end of a pipe also makes the child's next
                    // write fail.
                    self.close_source(i);
                    self.begin_stop(Cause::Limit { fd });
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => {
                    self.close_source(i);
                    self.begin_stop(Cause::Io(e));
                }
            }
        }
    }

    /// Stops reading source `i`: a pipe is closed, a terminal kept open
    /// until the end of the run.
    fn close_source(&mut self, i: usize) {
        if let Some(Source::Pty(read)) = self.sources[i].take() {
            self.terminal = Some(read);
        }
    }

    /// Starts core's stop ladder (a [`StopPolicy`]: SIGTERM, the grace,
    /// SIGKILL; the group in group mode). The first cause wins; a child
    /// reaped already is not signalled.
    fn begin_stop(&mut self, cause: Cause) {
        self.cause.get_or_insert(cause);
        if self.ladder.is_some() {
            return;
        }
        let scope = if self.limits.group { StopScope::Group } else { StopScope::Process };
        let mut ladder = StopLadder::new(StopPolicy::new().with_grace(self.limits.grace).with_scope(scope));
        ladder.start(&self.child);
        self.ladder = Some(ladder);
        self.timer = None;
    }

    /// Watches the exit: the child's own (reaped, or in group mode seen
    /// with [`Child::poll_exited`] and left a zombie, so the group id stays
    /// its own until the end), or, once a stop began, the ladder's end.
    fn poll_exit(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.stopped {
            return Ok(());
        }
        if let Some(ladder) = &mut self.ladder {
            if let Poll::Ready(stopped) = ladder.poll(&mut self.child, cx) {
                self.status = Some(stopped?.status);
                self.stopped = true;
            }
        } else if self.status.is_none() {
            let exit = if self.limits.group { self.child.poll_exited(cx) } else { self.child.poll_wait(cx) };
            if let Poll::Ready(status) = exit {
                self.status = Some(status?);
            }
        }
        Ok(())
    }

    /// SIGKILL now, to the group in group mode, when the run must end
    /// without the ladder (the exit could not be watched).
    fn kill_now(&self) {
        let _ =
            if self.limits.group { self.child.signal_group(Signal::KILL) } else { self.child.start_kill() };
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>) {
        if let Some(timer) = &mut self.timer {
            if timer.poll_elapsed(cx).is_ready() {
                self.begin_stop(Cause::Timeout);
            }
        }
    }

    fn finish(&mut self) -> Finished {
        if self.limits.group {
            // The status is known; this only reaps the zombie.
            let _ = self.child.try_wait();
        }
        // Reaped: the terminal can be hung up without hitting the child.
        self.terminal = None;
        let [stdout, stderr] = std::mem::take(&mut self.bufs);
        Finished { pid: self.pid, stdout, stderr, status: self.status, cause: self.cause.take() }
    }
}

impl Future for Collect {
    type Output = Finished;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Finished> {
        let this = self.get_mut();
        loop {
            let stopping = this.ladder.is_some();
            // Reap first: once the child is known to have exited, draining
            // the pipes below until they would block collects everything
            // it wrote.
            if let Err(e) = this.poll_exit(cx) {
                this.cause.get_or_insert(Cause::Io(e));
                this.kill_now();
                return Poll::Ready(this.finish());
            }
            this.poll_input(cx);
            this.poll_source(0, cx);
            this.poll_source(1, cx);
            this.poll_timer(cx);
            // A stop that began in this pass: once more, so the ladder is
            // polled (its timers armed) and, if it ended at once, the pipes
            // are drained after the reap.
            if this.ladder.is_some() == stopping {
                break;
            }
        }
        // A stopped child's pipes may be held open by its own children:
        // once the ladder has reaped it (in group mode, once no member of
        // the group is left alive), what is buffered has been read, and
        // that is all.
        let drained = this.sources.iter().all(Option::is_none) || this.stopped;
        if this.status.is_some() && drained {
            this.input = None;
            return Poll::Ready(this.finish());
        }
        Poll::Pending
    }
}
