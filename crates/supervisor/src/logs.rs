//! The [`logs`](crate::Supervisor::logs) channel: the lines of one read of
//! one pipe travel together in one broadcast slot, numbered, so that a
//! subscriber pays one channel operation per read rather than per line,
//! and is told exactly how many lines it missed when it lags.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::event::LogLine;
use crate::lines::{Line, Span};
use crate::stream::{stream_item, Lagged, Subscription};

/// The lines of one read of one pipe of one incarnation.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) program: Arc<str>,
    pub(crate) incarnation: u64,
    pub(crate) pid: u32,
    pub(crate) fd: i32,
    /// The number of the first line: lines are numbered from 0 across the
    /// supervisor, in the channel's order.
    seq: u64,
    /// The bytes of the read's lines, and where each line is: a subscriber
    /// cuts its own `Bytes` from the chunk (the reference counts of a
    /// line's bytes then change on the subscriber's thread only, not on
    /// the reading task's as well).
    chunk: Bytes,
    spans: Vec<Span>,
}

impl Batch {
    fn line(&self, i: usize) -> LogLine {
        let span = self.spans[i];
        LogLine {
            program: self.program.clone(),
            incarnation: self.incarnation,
            pid: self.pid,
            fd: self.fd,
            line: Line { bytes: self.bytes(span), continued: span.continued },
        }
    }

    /// A short line is copied (an allocation the subscriber alone frees);
    /// a long one shares the chunk (a count the reading task shares too).
    fn bytes(&self, span: Span) -> Bytes {
        if span.end - span.start <= 64 {
            Bytes::copy_from_slice(&self.chunk[span.start..span.end])
        } else {
            self.chunk.slice(span.start..span.end)
        }
    }
}

/// The lines of one read of one pipe, for a
/// [`batch_sink`](crate::ProgramSpec::batch_sink): the bytes read (the
/// lines with their `\n`s; a piece of a long line has none) and the lines
/// in them, as [`LogLine`]s would give them.
#[derive(Debug, Clone, Copy)]
pub struct LogBatch<'a> {
    pub(crate) meta: &'a BatchMeta,
    pub(crate) chunk: &'a Bytes,
    pub(crate) spans: &'a [Span],
}

impl<'a> LogBatch<'a> {
    /// The program's name.
    pub fn program(&self) -> &'a Arc<str> {
        &self.meta.program
    }

    /// The incarnation that wrote the lines.
    pub fn incarnation(&self) -> u64 {
        self.meta.incarnation
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.meta.pid
    }

    /// The child fd the lines came from.
    pub fn fd(&self) -> i32 {
        self.meta.fd
    }

    /// The bytes of the lines as read, `\n`s included: written whole, they
    /// are the program's output, unchanged.
    pub fn raw(&self) -> &'a [u8] {
        self.chunk
    }

    /// How many lines (or pieces).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is none (never, in a sink call).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The lines, as [`Line`]s sharing the batch's bytes.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = Line> + 'a {
        let chunk = self.chunk;
        self.spans.iter().map(move |s| Line { bytes: chunk.slice(s.start..s.end), continued: s.continued })
    }
}

/// The sending side, shared by every pipe's drain task.
#[derive(Debug)]
pub(crate) struct LogTx {
    tx: broadcast::Sender<Arc<Batch>>,
    /// The number of the next line. Taken and sent under this lock, so
    /// that numbers grow in the channel's order.
    next: Mutex<u64>,
}

impl LogTx {
    /// A channel keeping `reads` batches for slow subscribers.
    pub(crate) fn new(reads: usize) -> LogTx {
        LogTx { tx: broadcast::channel(reads).0, next: Mutex::new(0) }
    }

    /// Whether anyone subscribed: with nobody, lines need not be kept.
    pub(crate) fn listened(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Sends the lines of one read (in `chunk`, where `spans` say);
    /// nothing when nobody listens.
    pub(crate) fn send(&self, batch: &BatchMeta, chunk: Bytes, spans: Vec<Span>) {
        if spans.is_empty() || !self.listened() {
            return;
        }
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = *next;
        *next += spans.len() as u64;
        let BatchMeta { program, incarnation, pid, fd } = batch.clone();
        let _ = self.tx.send(Arc::new(Batch { program, incarnation, pid, fd, seq, chunk, spans }));
    }

    /// A subscriber that sees every line sent from now on.
    pub(crate) fn subscribe(&self) -> Logs {
        let next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        Logs { batches: Subscription::new(self.tx.subscribe()), batch: None, at: 0, expected: *next }
    }
}

/// Who wrote a batch.
#[derive(Debug, Clone)]
pub(crate) struct BatchMeta {
    pub(crate) program: Arc<str>,
    pub(crate) incarnation: u64,
    pub(crate) pid: u32,
    pub(crate) fd: i32,
}

/// What [`logs`](crate::Supervisor::logs) gives: every [`LogLine`] from
/// the moment of the call, through [`recv`](Self::recv) or as a
/// [`Stream`].
///
/// The lines of one read of a pipe are kept together: the channel holds
/// [`Supervisor::LOG_CAPACITY`](crate::Supervisor::LOG_CAPACITY) reads
/// (up to 64 KiB each) for a subscriber that falls behind. One that falls
/// further loses the oldest and is told exactly how many lines it missed:
/// `recv` gives `RecvError::Lagged(n)`, the stream an `Err(Lagged(n))`
/// item; either then goes on with the oldest line kept. The stream ends
/// (and `recv` gives `RecvError::Closed`) once the supervisor's task has
/// ended and every line was taken.
///
/// ```no_run
/// use procwire_supervisor::Supervisor;
/// use tokio::sync::broadcast::error::RecvError;
///
/// # async fn f(sup: Supervisor) -> Result<(), procwire_supervisor::Error> {
/// let mut logs = sup.logs().await?;
/// loop {
///     match logs.recv().await {
///         Ok(line) => println!("[{}] {}", line.program, String::from_utf8_lossy(&line.line.bytes)),
///         Err(RecvError::Lagged(n)) => eprintln!("missed {n} lines"),
///         Err(RecvError::Closed) => break,
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct Logs {
    batches: Subscription<Arc<Batch>>,
    /// The batch being taken apart, and the index of its next line.
    batch: Option<Arc<Batch>>,
    at: usize,
    /// The number of the next line this subscriber should see.
    expected: u64,
}

impl Logs {
    /// The next line, as `broadcast::Receiver::recv`.
    ///
    /// # Errors
    ///
    /// `RecvError::Lagged(n)` when `n` lines were missed (the next call
    /// gives the oldest line kept); `RecvError::Closed` once the
    /// supervisor's task has ended and every line was taken.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a line is never lost by dropping the future.
    pub async fn recv(&mut self) -> Result<LogLine, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<LogLine, RecvError>> {
        loop {
            if let Some(batch) = &self.batch {
                if self.at < batch.spans.len() {
                    self.at += 1;
                    return Poll::Ready(Ok(batch.line(self.at - 1)));
                }
                self.batch = None;
            }
            match ready!(self.batches.poll_recv(cx)) {
                Ok(batch) => {
                    // The numbers say how many lines the skipped batches held.
                    let missed = batch.seq.saturating_sub(self.expected);
                    self.expected = batch.seq + batch.spans.len() as u64;
                    (self.batch, self.at) = (Some(batch), 0);
                    if missed > 0 {
                        return Poll::Ready(Err(RecvError::Lagged(missed)));
                    }
                }
                // Counted in lines at the next batch.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Poll::Ready(Err(RecvError::Closed)),
            }
        }
    }
}

impl Stream for Logs {
    type Item = Result<LogLine, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(stream_item(ready!(self.get_mut().poll_recv(cx))))
    }
}

impl fmt::Debug for Logs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logs").field("expected", &self.expected).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> BatchMeta {
        BatchMeta { program: "p".into(), incarnation: 1, pid: 7, fd: 1 }
    }

    /// Lines `from..from + n`, as a chunk and its spans.
    fn lines(from: u32, n: u32) -> (Bytes, Vec<Span>) {
        let (mut chunk, mut spans) = (Vec::new(), Vec::new());
        for i in from..from + n {
            let start = chunk.len();
            chunk.extend_from_slice(i.to_string().as_bytes());
            spans.push(Span { start, end: chunk.len(), continued: false });
            chunk.push(b'\n');
        }
        (chunk.into(), spans)
    }

    fn send(tx: &LogTx, (chunk, spans): (Bytes, Vec<Span>)) {
        tx.send(&meta(), chunk, spans);
    }

    fn text(line: &LogLine) -> String {
        String::from_utf8(line.line.bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn batches_come_out_as_lines_in_order() {
        let tx = LogTx::new(4);
        let mut logs = tx.subscribe();
        send(&tx, lines(0, 3));
        tx.send(&meta(), Bytes::new(), Vec::new());
        send(&tx, lines(3, 2));
        drop(tx);
        let mut got = Vec::new();
        while let Ok(line) = logs.recv().await {
            assert_eq!((&*line.program, line.pid, line.fd), ("p", 7, 1));
            got.push(text(&line));
        }
        assert_eq!(got, ["0", "1", "2", "3", "4"]);
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_the_lines_it_missed() {
        let tx = LogTx::new(2);
        let mut logs = tx.subscribe();
        // Batches of 3, 5, 7 and 11 lines: the first two are pushed out.
        let mut from = 0;
        for n in [3, 5, 7, 11] {
            send(&tx, lines(from, n));
            from += n;
        }
        assert_eq!(logs.recv().await.unwrap_err(), RecvError::Lagged(8));
        assert_eq!(text(&logs.recv().await.unwrap()), "8");
    }

    #[tokio::test]
    async fn a_late_subscriber_sees_no_lag_for_what_came_before_it() {
        let tx = LogTx::new(2);
        let _early = tx.subscribe();
        send(&tx, lines(0, 5));
        let mut late = tx.subscribe();
        send(&tx, lines(5, 1));
        assert_eq!(text(&late.recv().await.unwrap()), "5");
    }
}
