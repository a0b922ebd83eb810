//! The [`logs`](crate::Supervisor::logs) channel: the lines of one read of
//! one pipe travel together in one broadcast slot, numbered, so that a
//! subscriber pays one channel operation per read rather than per line,
//! and is told exactly how many lines it missed when it lags.
//!
//! What a subscriber that never reads keeps alive is bounded in bytes, not
//! only in reads: a slot holds the read's bytes, in an allocation of their
//! own, and a fixed-size record (no record per line: the subscriber finds
//! the lines again in the bytes, by the splitter's rule). The sender
//! counts what the last `slots` sends hold and, past the budget, pushes
//! the oldest out with empty slots first.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::event::LogLine;
use crate::stream::{stream_item, Lagged, Subscription};
use procwire_core::lines::{Line, LineFramer, LineRules, Span};

/// The lines of one read of one pipe of one incarnation; with no line, a
/// filler that pushed an older slot out.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) program: Arc<str>,
    pub(crate) incarnation: u64,
    pub(crate) pid: u32,
    pub(crate) fd: i32,
    /// The number of the first line: lines are numbered from 0 across the
    /// supervisor, in the channel's order.
    seq: u64,
    /// The bytes of the read's lines, `\n`s included: a subscriber cuts
    /// its own `Bytes` from the chunk (the reference counts of a line's
    /// bytes then change on the subscriber's thread only, not on the
    /// reading task's as well).
    chunk: Bytes,
    /// How many lines the chunk holds.
    lines: usize,
    /// The maximum line length they were cut at.
    max: usize,
    /// Whether the last line is a piece of a longer one.
    last_continued: bool,
}

impl Batch {
    /// The line at `chunk[*at..]`; `*at` moves to the next one.
    ///
    /// The common line, ended by a `\n` within the maximum, is found here
    /// (as `span_at` would find it: the rules are `\n` alone, long lines in
    /// pieces) and copied; pieces and long lines take the cold path, so
    /// that this one stays small enough to inline into the caller's loop.
    #[inline]
    fn line(&self, at: &mut usize) -> LogLine {
        let start = *at;
        let rest = &self.chunk[start..];
        let window = &rest[..rest.len().min(self.max.saturating_add(1))];
        let line = match procwire_core::lines::find_newline(window) {
            Some(len) if len <= 64 => {
                *at = start + len + 1;
                Line::new(Bytes::copy_from_slice(&window[..len]), false)
            }
            _ => self.long_line(at),
        };
        LogLine {
            program: self.program.clone(),
            incarnation: self.incarnation,
            pid: self.pid,
            fd: self.fd,
            line,
        }
    }

    /// A line longer than 64 bytes, a piece, or the chunk's last line
    /// without its `\n`: found by the framer's rules; a short one copied
    /// (an allocation the subscriber alone frees), a long one sharing the
    /// chunk (a count the reading task shares too).
    #[cold]
    #[inline(never)]
    fn long_line(&self, at: &mut usize) -> Line {
        let span = LineRules::new(self.max).span_at(&self.chunk, *at, self.last_continued);
        *at = span.next;
        let bytes = if span.end - span.start <= 64 {
            Bytes::copy_from_slice(&self.chunk[span.start..span.end])
        } else {
            self.chunk.slice(span.start..span.end)
        };
        Line::new(bytes, span.continued)
    }
}

/// What a slot costs besides its read's bytes: the [`Batch`] in its `Arc`,
/// the chunk's shared count once a subscriber slices it, and the
/// allocator's headers and rounding.
pub(crate) const SLOT_COST: usize = 256;

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
        self.spans.iter().map(move |s| Line::new(chunk.slice(s.start..s.end), s.continued))
    }
}

/// The sending side, shared by every pipe's drain task.
#[derive(Debug)]
pub(crate) struct LogTx {
    tx: broadcast::Sender<Arc<Batch>>,
    ring: Mutex<Ring>,
    /// The most the channel's slots may hold, in bytes ([`SLOT_COST`]
    /// included).
    budget: usize,
    /// The slot sent to push an older one out.
    filler: Arc<Batch>,
}

/// The sender's view of the channel's slots, kept under one lock with the
/// line numbers (so that numbers grow in the channel's order, and the
/// costs follow the slots).
#[derive(Debug)]
struct Ring {
    /// The number of the next line.
    next: u64,
    /// The cost of each of the last `slots` sends, oldest first (0 for a
    /// filler): what the channel holds for its slowest subscriber. One
    /// that read a slot may have freed it already; this counts it still.
    costs: VecDeque<usize>,
    /// Their sum.
    held: usize,
    /// The channel's slots: each send takes the oldest once all are used.
    slots: usize,
}

impl Ring {
    fn push(&mut self, cost: usize) {
        self.costs.push_back(cost);
        self.held += cost;
        if self.costs.len() > self.slots {
            self.held -= self.costs.pop_front().expect("more than `slots`");
        }
    }

    /// Nobody listens: the channel holds nothing.
    fn clear(&mut self) {
        self.costs.clear();
        self.held = 0;
    }
}

impl LogTx {
    /// A channel keeping `reads` reads for slow subscribers, and at most
    /// `reads` times [`LineFramer::MAX_READ`] bytes.
    pub(crate) fn new(reads: usize) -> LogTx {
        let tx = broadcast::channel(reads).0;
        let ring = Ring { next: 0, costs: VecDeque::new(), held: 0, slots: reads.next_power_of_two() };
        let filler = Batch {
            program: Arc::from(""),
            incarnation: 0,
            pid: 0,
            fd: 0,
            seq: 0,
            chunk: Bytes::new(),
            lines: 0,
            max: 1,
            last_continued: false,
        };
        LogTx {
            tx,
            ring: Mutex::new(ring),
            budget: reads.saturating_mul(LineFramer::MAX_READ),
            filler: Arc::new(filler),
        }
    }

    /// Whether anyone subscribed: with nobody, lines need not be kept.
    pub(crate) fn listened(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Sends the lines of one read (in `chunk`, where `spans` say, cut at
    /// `max`); nothing when nobody listens. The oldest slots are pushed
    /// out first (a subscriber that far behind lags) until the channel
    /// holds at most its budget with this read in it, or this read alone.
    pub(crate) fn send(&self, batch: &BatchMeta, chunk: Bytes, spans: &[Span], max: usize) {
        let Some(last) = spans.last() else { return };
        self.send_counted(batch, chunk, (spans.len(), last.continued), max);
    }

    /// As [`send`](Self::send), for a chunk of `lines` lines, the last a
    /// piece if `last_continued` (what `LineFramer::take_counted` gives).
    pub(crate) fn send_counted(&self, batch: &BatchMeta, chunk: Bytes, counted: (usize, bool), max: usize) {
        let (lines, last_continued) = counted;
        if lines == 0 || !self.listened() {
            return;
        }
        let cost = chunk.len() + SLOT_COST;
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            // What stays once this read takes its slot (the oldest one,
            // when every slot is used).
            let stays = ring.held - if ring.costs.len() == ring.slots { ring.costs[0] } else { 0 };
            if stays == 0 || stays + cost <= self.budget {
                break;
            }
            if self.tx.send(self.filler.clone()).is_err() {
                ring.clear();
                break;
            }
            ring.push(0);
        }
        let seq = ring.next;
        ring.next += lines as u64;
        let BatchMeta { program, incarnation, pid, fd } = batch.clone();
        let batch = Batch { program, incarnation, pid, fd, seq, chunk, lines, max, last_continued };
        match self.tx.send(Arc::new(batch)) {
            Ok(_) => ring.push(cost),
            Err(_) => ring.clear(),
        }
    }

    /// A subscriber that sees every line sent from now on.
    pub(crate) fn subscribe(&self) -> Logs {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        Logs { batches: Subscription::new(self.tx.subscribe()), batch: None, at: 0, expected: ring.next }
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
/// [`Supervisor::LOG_CAPACITY`](crate::Supervisor::LOG_CAPACITY) reads,
/// and at most 64 MiB, for a subscriber that falls behind (see there for
/// what is counted). One that falls further loses the oldest and is told
/// exactly how many lines it missed:
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
    /// The batch being taken apart, and where its next line starts.
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
    #[inline]
    pub async fn recv(&mut self) -> Result<LogLine, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Self::recv).
    #[inline]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<LogLine, RecvError>> {
        match self.next_in_batch() {
            Some(line) => Poll::Ready(Ok(line)),
            None => self.poll_batch(cx),
        }
    }

    /// The next line of the batch being taken apart, if any is left: the
    /// per-line path, small enough to inline into the caller's loop (so
    /// that a line is built where the caller reads it, not moved through
    /// a return slot: measured, about a tenth of a subscriber's time).
    #[inline]
    fn next_in_batch(&mut self) -> Option<LogLine> {
        let batch = self.batch.as_ref()?;
        (self.at < batch.chunk.len()).then(|| batch.line(&mut self.at))
    }

    /// Once a batch is taken apart: the next one, and its first line.
    #[inline(never)]
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<Result<LogLine, RecvError>> {
        loop {
            if let Some(line) = self.next_in_batch() {
                return Poll::Ready(Ok(line));
            }
            self.batch = None;
            match ready!(self.batches.poll_recv(cx)) {
                // A filler.
                Ok(batch) if batch.lines == 0 => {}
                Ok(batch) => {
                    // The numbers say how many lines the skipped batches held.
                    let missed = batch.seq.saturating_sub(self.expected);
                    self.expected = batch.seq + batch.lines as u64;
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

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.next_in_batch() {
            Some(line) => Poll::Ready(Some(Ok(line))),
            None => Poll::Ready(stream_item(ready!(this.poll_batch(cx)))),
        }
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

    const MAX: usize = 16 * 1024;

    /// Lines `from..from + n`, as a chunk and its spans.
    fn lines(from: u32, n: u32) -> (Bytes, Vec<Span>) {
        let text: String = (from..from + n).map(|i| format!("{i}\n")).collect();
        cut(MAX, text.as_bytes(), true)
    }

    /// `input` through a framer of `max`, as a drain sends it (after
    /// end of file, with `eof`).
    fn cut(max: usize, input: &[u8], eof: bool) -> (Bytes, Vec<Span>) {
        let mut s = LineFramer::new(max);
        s.push(input);
        if eof {
            s.finish();
        }
        let mut spans = Vec::new();
        let chunk = s.take_lines(&mut spans).unwrap();
        (chunk, spans)
    }

    fn send(tx: &LogTx, (chunk, spans): (Bytes, Vec<Span>)) {
        tx.send(&meta(), chunk, &spans, MAX);
    }

    fn text(line: &LogLine) -> String {
        String::from_utf8(line.line.bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn batches_come_out_as_lines_in_order() {
        let tx = LogTx::new(4);
        let mut logs = tx.subscribe();
        send(&tx, lines(0, 3));
        tx.send(&meta(), Bytes::new(), &[], MAX);
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

    #[tokio::test]
    async fn a_subscriber_finds_the_splitters_lines_again() {
        let tx = LogTx::new(4);
        let mut logs = tx.subscribe();
        // Pieces, an empty line, and a tail at end of file as long as the
        // maximum: not a piece.
        let (chunk, spans) = cut(4, b"ab\n\ncdefgh\nijklmnop", true);
        tx.send(&meta(), chunk, &spans, 4);
        // A piece last (the rest of its line not read yet).
        let (chunk, spans) = cut(4, b"qrstuv", false);
        tx.send(&meta(), chunk, &spans, 4);
        drop(tx);
        let mut got = Vec::new();
        while let Ok(line) = logs.recv().await {
            got.push((text(&line), line.line.continued));
        }
        let want = [("ab", false), ("", false), ("cdef", true), ("gh", false), ("ijkl", true)];
        let mut want: Vec<(String, bool)> = want.iter().map(|&(t, c)| (t.into(), c)).collect();
        want.extend([("mnop".into(), false), ("qrst".into(), true)]);
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn an_unread_subscriber_keeps_at_most_the_budget_in_bytes() {
        // 4 reads: a budget of 256 KiB, room for two lines of 100 KiB.
        let tx = LogTx::new(4);
        let mut logs = tx.subscribe();
        for i in 0..10 {
            let mut input = vec![b'a' + i; 100 * 1024];
            input.push(b'\n');
            let (chunk, spans) = cut(1 << 20, &input, false);
            tx.send(&meta(), chunk, &spans, 1 << 20);
            let ring = tx.ring.lock().unwrap();
            assert!(ring.held <= tx.budget, "{} held after {i}", ring.held);
            assert_eq!(ring.held, (i.min(1) as usize + 1) * (100 * 1024 + 1 + SLOT_COST));
        }
        // The first 8 were pushed out, by bytes: 3 slots of 4 were free.
        assert_eq!(logs.recv().await.unwrap_err(), RecvError::Lagged(8));
        for i in 8..10 {
            let line = logs.recv().await.unwrap();
            assert_eq!((line.line.bytes.len(), line.line.bytes[0]), (100 * 1024, b'a' + i));
        }
        drop(tx);
        assert_eq!(logs.recv().await.unwrap_err(), RecvError::Closed);
    }

    #[test]
    fn a_slot_costs_what_it_is_said_to() {
        // The batch in its `Arc`, the chunk's shared count (three words),
        // and the headers of those and of the chunk: 16 bytes each.
        let cost = std::mem::size_of::<Batch>() + 2 * 8 + 3 * 8 + 3 * 16;
        assert!(cost <= SLOT_COST, "{cost}");
    }
}
