//! Output cut into lines: one framer, [`LineFramer`], for everything in
//! procwire that reads a child's output line by line (the protocol's
//! `Lines`, its line stream, the supervisor's logs), whose [`LineRules`]
//! cover each one's habits: `\n` or `\r\n`, and long lines in pieces or cut
//! short.
//!
//! Whatever the rules, a line never depends on how the output was split
//! into reads, bytes that are not UTF-8 are kept as they are (the framer
//! never decodes), an empty line is a line, the last line is given at the
//! end of output even without its `\n`, and output that ends with `\n`
//! gives no extra empty line.

use std::fmt;
use std::io;

use bytes::{Buf, BufMut, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt};

mod rules;
mod scan;

pub use rules::{LineRules, LongLines};
pub use scan::find_newline;

use scan::{count_newlines, last_newline, newlines};

use rules::Cut;

/// One line of output without its terminator, or one piece of a line
/// longer than the maximum.
///
/// ```
/// use procwire_core::lines::LineFramer;
///
/// let mut framer = LineFramer::new(16 * 1024);
/// framer.push(b"caf\xe9\r\n");
/// let line = framer.next_line().unwrap();
/// // The default rules keep every byte: `\r`, and bytes that are not UTF-8.
/// assert_eq!((&line.bytes[..], line.continued), (&b"caf\xe9\r"[..], false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Line {
    /// The line, or the piece, without its `\n` (or `\r\n`, by the rules).
    pub bytes: Bytes,
    /// `true` on a piece of a longer line: with [`LongLines::Split`], every
    /// piece but the last (the line goes on in the next one); with
    /// [`LongLines::Truncate`], the start of a line whose rest was dropped.
    pub continued: bool,
}

impl Line {
    /// A line or a piece, for code that builds its own (a test's, say).
    pub fn new(bytes: Bytes, continued: bool) -> Line {
        Line { bytes, continued }
    }
}

/// Where a line is in a chunk from [`LineFramer::take_lines`]:
/// `chunk[start..end]`, its terminator (if any) up to `next`.
///
/// ```
/// use procwire_core::lines::{LineFramer, LineRules};
///
/// let mut framer = LineFramer::with_rules(LineRules::new(80).with_crlf(true));
/// framer.push(b"one\r\ntwo\nthr");
/// let mut spans = Vec::new();
/// let chunk = framer.take_lines(&mut spans).unwrap();
/// assert_eq!(&chunk[..], b"one\r\ntwo\n"); // "thr" waits for its end
/// let at: Vec<_> = spans.iter().map(|s| (s.start, s.end, s.next)).collect();
/// assert_eq!(at, [(0, 3, 5), (5, 8, 9)]);
/// assert_eq!(&chunk[spans[1].start..spans[1].end], b"two");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Span {
    /// Where the line starts.
    pub start: usize,
    /// Where its content ends.
    pub end: usize,
    /// Where what follows it starts: after its `\n` (or `\r\n`); for a
    /// piece, `end`.
    pub next: usize,
    /// As [`Line::continued`].
    pub continued: bool,
}

/// How many lines a chunk from [`LineFramer::take_counted`] holds, and
/// whether the last is a piece: what [`LineRules::span_at`] needs, with the
/// chunk, to find them all again.
///
/// ```
/// use procwire_core::lines::LineFramer;
///
/// let mut framer = LineFramer::new(4);
/// framer.push(b"one\nlonger\nta");
/// let (chunk, counted) = framer.take_counted().unwrap();
/// assert_eq!(&chunk[..], b"one\nlonger\n");
/// assert_eq!((counted.lines, counted.last_continued), (3, false));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Counted {
    /// How many lines or pieces.
    pub lines: usize,
    /// Whether the last one is a piece ([`Span::continued`]).
    pub last_continued: bool,
}

/// Cuts one output stream into [`Line`]s: bytes in as they are read, lines
/// out, by its [`LineRules`].
///
/// Bytes go in three ways: [`push`](Self::push) copies them;
/// [`push_bytes`](Self::push_bytes) takes a read as [`Bytes`] and cuts its
/// whole lines from it without a copy; [`read_from`](Self::read_from)
/// reads straight into the framer's buffer. Lines come out one by one
/// ([`next_line`](Self::next_line)) or all at once as one chunk and their
/// [`Span`]s ([`take_lines`](Self::take_lines)), one chunk per read: one
/// reference count for the whole read, not one per line. After
/// [`finish`](Self::finish), the last line comes even without its `\n`.
///
/// Once the lines are taken it holds the start of a line not complete yet:
/// at most the maximum (one byte more with `\r\n` rules). A line from bytes
/// it copied ([`push`](Self::push), [`read_from`](Self::read_from)) has an
/// allocation of its own, the size of the line; one cut from
/// [`push_bytes`](Self::push_bytes)' read shares that read.
///
/// ```
/// use procwire_core::lines::LineFramer;
///
/// let mut framer = LineFramer::new(4);
/// framer.push(b"one\r\nlong");
/// framer.push(b"er\ntail");
/// framer.finish();
/// let pieces: Vec<_> =
///     std::iter::from_fn(|| framer.next_line()).map(|l| (l.bytes.to_vec(), l.continued)).collect();
/// assert_eq!(pieces, [
///     (b"one\r".to_vec(), false),
///     (b"long".to_vec(), true),
///     (b"er".to_vec(), false),
///     (b"tail".to_vec(), false),
/// ]);
/// ```
pub struct LineFramer {
    cutter: Cutter,
    /// The bytes not taken yet are `buf[start..]`, then `pending`.
    buf: Vec<u8>,
    start: usize,
    /// A read given to [`push_bytes`](Self::push_bytes), its lines cut
    /// from it in place. Only ever after a line's end: while it is not
    /// empty, `buf[start..]` is whole lines (or nothing).
    pending: Bytes,
    eof: bool,
    /// The most [`read_from`](Self::read_from) reads at once.
    read_size: usize,
}

/// The state of the cut between two calls.
#[derive(Debug, Clone, Copy)]
struct Cutter {
    rules: LineRules,
    /// The bytes from the current line's start known to hold no `\n`.
    scanned: usize,
    /// Truncating a line: dropping what is left of it, through its `\n`.
    dropping: bool,
}

impl Cutter {
    /// The next line or piece in `rest` (the bytes from a line's start):
    /// how many bytes before it were dropped (the rest of a truncated
    /// line), and the line relative to them; `None` when more bytes must
    /// come first. Inlined in every caller: it is the per-line cost.
    #[inline(always)]
    fn next(&mut self, rest: &[u8], eof: bool) -> (usize, Option<Cut>) {
        let mut dropped = 0;
        if self.dropping {
            match find_newline(rest) {
                Some(i) => dropped = i + 1,
                None => return (rest.len(), None),
            }
            self.dropping = false;
        }
        match self.rules.cut(&rest[dropped..], self.scanned, eof) {
            Ok(cut) => {
                // After a piece, the byte that follows it was looked at.
                self.scanned = usize::from(cut.continued);
                if cut.continued && self.rules.long_lines() == LongLines::Truncate {
                    (self.dropping, self.scanned) = (true, 0);
                }
                (dropped, Some(cut))
            }
            Err(scanned) => {
                self.scanned = scanned;
                (dropped, None)
            }
        }
    }

    /// Every line or piece in `bytes`, into `spans`; how many bytes were
    /// taken (the lines, their terminators, and what was dropped).
    #[inline]
    fn all(&mut self, bytes: &[u8], eof: bool, spans: &mut Vec<Span>) -> usize {
        let mut pos = 0;
        loop {
            pos = self.short_lines(bytes, pos, spans);
            let (dropped, cut) = self.next(&bytes[pos..], eof);
            pos += dropped;
            let Some(cut) = cut else { return pos };
            spans.push(Span {
                start: pos,
                end: pos + cut.end,
                next: pos + cut.next,
                continued: cut.continued,
            });
            pos += cut.next;
        }
    }
}

impl Cutter {
    /// The lines of `bytes[pos..]` that end in a `\n` at most the maximum
    /// length from their start, into `spans`, up to the first that does
    /// not; where that one starts. One pass over the read instead
    /// of a search a line: the common case, cut as [`next`](Self::next)
    /// would cut it. Nothing with crlf (a `\r` before the `\n` is looked
    /// at) or while dropping the rest of a truncated line.
    #[inline]
    fn short_lines(&mut self, bytes: &[u8], mut pos: usize, spans: &mut Vec<Span>) -> usize {
        if self.dropping || self.rules.crlf() {
            return pos;
        }
        let max = self.rules.max_length();
        let from = pos;
        for nl in newlines(&bytes[from..]).map(|i| from + i) {
            if nl - pos > max {
                break;
            }
            spans.push(Span { start: pos, end: nl, next: nl + 1, continued: false });
            // What was known of this line's start is of no use past it.
            (pos, self.scanned) = (nl + 1, 0);
        }
        pos
    }
}

impl Cutter {
    /// As [`all`](Self::all), counting the lines instead of listing them:
    /// how many bytes were taken, how many lines or pieces, whether the
    /// last is a piece.
    #[inline]
    fn count(&mut self, bytes: &[u8], eof: bool) -> (usize, Counted) {
        let (mut pos, mut counted) = (0, Counted { lines: 0, last_continued: false });
        loop {
            let (to, lines) = self.count_short_lines(bytes, pos);
            if lines > 0 {
                (pos, counted.lines, counted.last_continued) = (to, counted.lines + lines, false);
            }
            let (dropped, cut) = self.next(&bytes[pos..], eof);
            pos += dropped;
            let Some(cut) = cut else { return (pos, counted) };
            (pos, counted.lines, counted.last_continued) = (pos + cut.next, counted.lines + 1, cut.continued);
        }
    }

    /// As [`short_lines`](Self::short_lines), counting them: where they
    /// stop, and how many. When each block of half the maximum, up to the
    /// last `\n`, holds a `\n`, no line before it is longer than the
    /// maximum (one would cover a whole block): then a SIMD count gives
    /// them all, about ten times faster than finding them one by one.
    #[inline]
    fn count_short_lines(&mut self, bytes: &[u8], pos: usize) -> (usize, usize) {
        if self.dropping || self.rules.crlf() {
            return (pos, 0);
        }
        let rest = &bytes[pos..];
        let max = self.rules.max_length();
        let block = max.saturating_add(1) / 2;
        // Smaller blocks cost a search each.
        if block >= 64 {
            if let Some(last) = last_newline(rest) {
                let through = &rest[..=last];
                if through.chunks_exact(block).all(|b| find_newline(b).is_some()) {
                    self.scanned = 0;
                    return (pos + last + 1, count_newlines(through));
                }
            }
        }
        let (mut at, mut lines) = (pos, 0);
        for nl in newlines(rest).map(|i| pos + i) {
            if nl - at > max {
                break;
            }
            (at, lines, self.scanned) = (nl + 1, lines + 1, 0);
        }
        (at, lines)
    }
}

/// The first read of [`LineFramer::read_from`]: small while the output is
/// quiet (a thousand idle programs hold 8 KiB each), doubled up to
/// [`LineFramer::MAX_READ`] while reads fill it.
const FIRST_READ: usize = 4096;

impl LineFramer {
    /// The largest read of [`read_from`](Self::read_from): a pipe's
    /// default size.
    pub const MAX_READ: usize = 64 * 1024;

    /// A framer of lines of at most `max_length` bytes, by
    /// [`LineRules::new`]: ended by `\n` alone, longer ones in pieces.
    pub fn new(max_length: usize) -> LineFramer {
        LineFramer::with_rules(LineRules::new(max_length))
    }

    /// A framer that cuts by `rules`.
    pub fn with_rules(rules: LineRules) -> LineFramer {
        LineFramer {
            cutter: Cutter { rules, scanned: 0, dropping: false },
            buf: Vec::new(),
            start: 0,
            pending: Bytes::new(),
            eof: false,
            read_size: FIRST_READ,
        }
    }

    /// The rules it cuts by.
    pub fn rules(&self) -> LineRules {
        self.cutter.rules
    }

    /// Adds bytes read from the stream (copied).
    pub fn push(&mut self, bytes: &[u8]) {
        self.unpend();
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Adds a read, whose whole lines are then cut from it without a copy:
    /// only the end of a line begun before it, and the start of one it
    /// leaves unfinished, are copied.
    pub fn push_bytes(&mut self, bytes: Bytes) {
        if !self.pending.is_empty() {
            // Lines of the last read are still there: behind them.
            self.push(&bytes);
        } else if self.start == self.buf.len() {
            self.pending = bytes;
        } else {
            // The line begun is finished in the buffer, through its `\n`.
            let through = find_newline(&bytes).map_or(bytes.len(), |i| i + 1);
            self.push(&bytes[..through]);
            self.pending = bytes.slice(through..);
        }
    }

    /// Reads once from `reader`, straight into the framer's buffer (4 KiB
    /// at first, doubled while reads fill it, up to
    /// [`MAX_READ`](Self::MAX_READ)); `Ok(0)` at end of file, which the
    /// caller then says with [`finish`](Self::finish).
    ///
    /// # Errors
    ///
    /// The reader's.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is read unless the future completes.
    pub async fn read_from<R: AsyncRead + Unpin + ?Sized>(&mut self, reader: &mut R) -> io::Result<usize> {
        self.unpend();
        self.compact();
        self.buf.reserve(self.read_size);
        let n = reader.read_buf(&mut (&mut self.buf).limit(self.read_size)).await?;
        if n == self.read_size && n < LineFramer::MAX_READ {
            self.read_size *= 2;
        }
        Ok(n)
    }

    /// Marks the end of the stream: once the complete lines are taken, the
    /// unterminated last one, if any, comes too.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// The next line or piece, or `None` until more bytes come (or, after
    /// [`finish`](Self::finish), at the end).
    #[inline]
    pub fn next_line(&mut self) -> Option<Line> {
        if self.start < self.buf.len() {
            let rest = &self.buf[self.start..];
            let (dropped, cut) = self.cutter.next(rest, self.eof && self.pending.is_empty());
            let line = cut.map(|cut| {
                let bytes = Bytes::copy_from_slice(&rest[dropped..dropped + cut.end]);
                Line { bytes, continued: cut.continued }
            });
            self.consume(dropped + cut.map_or(0, |cut| cut.next));
            if line.is_some() || self.start < self.buf.len() {
                return line;
            }
        }
        if self.pending.is_empty() {
            return None;
        }
        let (dropped, cut) = self.cutter.next(&self.pending, self.eof);
        let Some(cut) = cut else {
            self.pending.advance(dropped);
            self.unpend();
            return None;
        };
        let bytes = self.pending.slice(dropped..dropped + cut.end);
        self.pending.advance(dropped + cut.next);
        Some(Line { bytes, continued: cut.continued })
    }

    /// Every complete line or piece at once: one chunk of bytes, and where
    /// each line is in it (`spans`, cleared first). `None` when there is
    /// none. The same lines as [`next_line`](Self::next_line).
    ///
    /// The chunk is the lines with their terminators, as read (with
    /// [`LongLines::Truncate`], the bytes dropped between them too). After
    /// [`read_from`](Self::read_from) or [`push`](Self::push) it is an
    /// allocation of its own, exactly its size (the buffer read into, cut
    /// to size, the start of a line not complete yet moved out): whoever
    /// keeps it keeps what it holds and nothing more. After
    /// [`push_bytes`](Self::push_bytes) it is a slice of the read, and a
    /// line begun before the read makes a chunk of its own first: call
    /// again until `None`.
    pub fn take_lines(&mut self, spans: &mut Vec<Span>) -> Option<Bytes> {
        spans.clear();
        if self.start < self.buf.len() {
            let from = self.start;
            let eof = self.eof && self.pending.is_empty();
            let pos = self.cutter.all(&self.buf[from..], eof, spans);
            if !spans.is_empty() {
                return Some(self.split_buf(pos));
            }
            self.consume(pos);
            if self.start < self.buf.len() {
                return None;
            }
        }
        if self.pending.is_empty() {
            return None;
        }
        let pos = self.cutter.all(&self.pending, self.eof, spans);
        let chunk = self.pending.split_to(pos);
        self.unpend();
        (!spans.is_empty()).then_some(chunk)
    }

    /// As [`take_lines`](Self::take_lines), with the number of lines
    /// instead of where each is: for a consumer that finds them again with
    /// [`LineRules::span_at`] (so under [`LongLines::Split`] only). Cheaper:
    /// most reads are counted in one SIMD pass, with no list built.
    pub fn take_counted(&mut self) -> Option<(Bytes, Counted)> {
        if self.start < self.buf.len() {
            let from = self.start;
            let eof = self.eof && self.pending.is_empty();
            let (pos, counted) = self.cutter.count(&self.buf[from..], eof);
            if counted.lines > 0 {
                return Some((self.split_buf(pos), counted));
            }
            self.consume(pos);
            if self.start < self.buf.len() {
                return None;
            }
        }
        if self.pending.is_empty() {
            return None;
        }
        let (pos, counted) = self.cutter.count(&self.pending, self.eof);
        let chunk = self.pending.split_to(pos);
        self.unpend();
        (counted.lines > 0).then_some((chunk, counted))
    }

    /// Bytes held back, waiting for the rest of their line (or for
    /// [`next_line`](Self::next_line)).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start + self.pending.len()
    }

    /// The first `n` bytes not taken yet, out of the buffer, as an
    /// allocation of their own.
    fn split_buf(&mut self, n: usize) -> Bytes {
        if self.start > 0 {
            let chunk = Bytes::copy_from_slice(&self.buf[self.start..self.start + n]);
            self.consume(n);
            return chunk;
        }
        let rest = self.buf[n..].to_vec();
        let mut chunk = std::mem::replace(&mut self.buf, rest);
        chunk.truncate(n);
        chunk.shrink_to_fit();
        Bytes::from(chunk)
    }

    /// Drops the first `n` bytes not taken yet from the buffer.
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Moves the bytes not taken yet to the front of the buffer.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Moves what is left of the read pushed as `Bytes` into the buffer.
    fn unpend(&mut self) {
        if !self.pending.is_empty() {
            self.compact();
            self.buf.extend_from_slice(&self.pending);
        }
        self.pending = Bytes::new();
    }
}

impl fmt::Debug for LineFramer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineFramer")
            .field("rules", &self.cutter.rules)
            .field("buffered", &self.buffered())
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
