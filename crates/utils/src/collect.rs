//! The future behind every run: one poll function that reaps the child,
//! feeds its stdin, drains fd 1 and fd 2 side by side and runs the stop
//! ladder, so no pipe can fill up while another is being waited on.

use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use procwire_core::{Child, ChildReader, ChildWriter, ExitStatus, PtyReadHalf, PtyWriteHalf};
use tokio::io::AsyncWrite;
use tokio::time::{Instant, Sleep};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Not asked to stop.
    No,
    /// SIGTERM sent; SIGKILL when the timer fires.
    Terminating,
    /// SIGKILL sent (or the child had exited already): only the reap is
    /// awaited.
    Killed,
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
    /// The timeout, then the grace period; allocated only when needed.
    timer: Option<Pin<Box<Sleep>>>,
    /// See [`Collect::poll_group`].
    recheck: Option<Pin<Box<Sleep>>>,
    stop: Stop,
    cause: Option<Cause>,
}

impl Collect {
    pub(crate) fn new(
        child: Child,
        input: Option<(Sink, Bytes)>,
        sources: [Option<Source>; 2],
        limits: Limits,
    ) -> Collect {
        let timer = limits.timeout.map(|t| Box::pin(tokio::time::sleep(t)));
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
            recheck: None,
            stop: Stop::No,
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

    /// Signals the child, or its whole group; whether anyone was there to
    /// get it. In group mode the child is not reaped before the end (see
    /// [`Child::poll_exited`]), so the group id is still its own.
    fn send(&self, sig: i32) -> bool {
        if self.limits.group {
            self.child.signal_group(sig).is_ok()
        } else {
            self.status.is_none() && self.child.signal(sig).is_ok()
        }
    }

    /// The first rung of the ladder: SIGTERM now and SIGKILL after the
    /// grace period (at once when the grace is zero). The first cause
    /// wins; a child reaped already is not signalled.
    fn begin_stop(&mut self, cause: Cause) {
        self.cause.get_or_insert(cause);
        if self.stop != Stop::No {
            return;
        }
        if self.limits.grace.is_zero() || !self.send(libc_sig::SIGTERM) || self.group_gone() {
            return self.kill();
        }
        self.stop = Stop::Terminating;
        // Any grace is accepted: one too long for the clock means never.
        let deadline = Instant::now().checked_add(self.limits.grace).unwrap_or_else(far_future);
        match &mut self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    /// In group mode, once the leader has exited: whether nothing the
    /// ladder can reach is left (its zombie still counts as a member for
    /// `kill`, so a signal "reaches" the group even when the only process
    /// holding the pipes left it with `setsid`).
    fn group_gone(&self) -> bool {
        self.limits.group && self.status.is_some() && !group_has_live_member(self.pid)
    }

    fn kill(&mut self) {
        self.send(libc_sig::SIGKILL);
        self.stop = Stop::Killed;
        self.timer = None;
    }

    /// While a group is being stopped after its leader exited, looks again
    /// every [`GROUP_RECHECK`] for a member still alive: one that dies
    /// without closing a pipe wakes nothing else.
    fn poll_group(&mut self, cx: &mut Context<'_>) {
        if self.stop != Stop::Terminating || !self.limits.group || self.status.is_none() {
            return;
        }
        loop {
            if self.group_gone() {
                self.stop = Stop::Killed;
                self.timer = None;
                self.recheck = None;
                return;
            }
            let recheck = self.recheck.get_or_insert_with(|| Box::pin(tokio::time::sleep(GROUP_RECHECK)));
            if recheck.as_mut().poll(cx).is_pending() {
                return;
            }
            recheck.as_mut().reset(Instant::now() + GROUP_RECHECK);
        }
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>) {
        while let Some(timer) = &mut self.timer {
            if timer.as_mut().poll(cx).is_pending() {
                return;
            }
            match self.stop {
                Stop::No => self.begin_stop(Cause::Timeout),
                Stop::Terminating | Stop::Killed => self.kill(),
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

impl Drop for Collect {
    /// A run dropped before its end: the child gets SIGKILL from the
    /// `Child`'s `kill_on_drop`; in group mode its whole group gets it
    /// first, while the child is still unreaped.
    fn drop(&mut self) {
        if self.limits.group {
            let _ = self.child.signal_group(libc_sig::SIGKILL);
        }
    }
}

/// How often a group being stopped is looked at again once its leader
/// has exited.
const GROUP_RECHECK: Duration = Duration::from_millis(25);

/// Whether a process other than a zombie is in process group `pgid`,
/// from `/proc/*/stat` (`pid (comm) state ppid pgrp ...`). An unreadable
/// `/proc` answers yes, so the ladder runs its full course.
fn group_has_live_member(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else { return true };
    dir.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { return false };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
        let Some((_, rest)) = stat.rsplit_once(')') else { return false };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|p| p.parse::<u32>().ok());
        pgrp == Some(pgid) && !matches!(state, Some("Z" | "X"))
    })
}

/// An instant no run reaches (as tokio's own `sleep(Duration::MAX)` picks).
fn far_future() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(86400 * 365 * 30)).unwrap_or(now)
}

/// Signal numbers, without a libc dependency in this crate.
mod libc_sig {
    pub(super) const SIGTERM: i32 = 15;
    pub(super) const SIGKILL: i32 = 9;
}

impl Future for Collect {
    type Output = Finished;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Finished> {
        let this = self.get_mut();
        // Reap first: once the child is known to have exited, draining the
        // pipes below until they would block collects everything it wrote.
        if this.status.is_none() {
            let exit = if this.limits.group { this.child.poll_exited(cx) } else { this.child.poll_wait(cx) };
            match exit {
                Poll::Ready(Ok(status)) => this.status = Some(status),
                Poll::Ready(Err(e)) => {
                    this.cause.get_or_insert(Cause::Io(e));
                    this.kill();
                    return Poll::Ready(this.finish());
                }
                Poll::Pending => {}
            }
        }
        this.poll_input(cx);
        this.poll_source(0, cx);
        this.poll_source(1, cx);
        this.poll_timer(cx);
        this.poll_group(cx);
        // A stopped child's pipes may be held open by its own children:
        // once it is reaped, what is buffered has been read, and that is all.
        // (When stopping its group, once the group had its SIGKILL.)
        let stopped = if this.limits.group { this.stop == Stop::Killed } else { this.stop != Stop::No };
        let drained = this.sources.iter().all(Option::is_none) || stopped;
        if this.status.is_some() && drained {
            this.input = None;
            return Poll::Ready(this.finish());
        }
        Poll::Pending
    }
}
