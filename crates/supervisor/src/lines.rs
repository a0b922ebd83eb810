//! Output split into lines: long lines in pieces, never dropped, never an
//! invented empty line (procmon's bugs 1 and 2).

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};

use crate::error::SpecError;

/// Which child fds are logged as lines, and how long a line may be.
///
/// ```
/// use procwire_supervisor::LogSpec;
///
/// let mut logs = LogSpec::new();
/// assert_eq!(logs.get_max_line(), 16 * 1024);
/// logs.fds([1, 2, 3]).max_line(4096);
/// assert_eq!(logs.get_fds().collect::<Vec<_>>(), [1, 2, 3]);
/// assert!(logs.validate().is_ok());
/// assert!(LogSpec::new().max_line(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSpec {
    max_line: usize,
    fds: BTreeSet<i32>,
}

impl Default for LogSpec {
    fn default() -> LogSpec {
        LogSpec::new()
    }
}

impl LogSpec {
    /// The default maximum line length, 16 KiB: Twisted's
    /// `LineReceiver.MAX_LENGTH`, where procmon's logging breaks.
    pub const DEFAULT_MAX_LINE: usize = 16 * 1024;

    /// Lines of fds 1 and 2, at most [`DEFAULT_MAX_LINE`](Self::DEFAULT_MAX_LINE) bytes.
    pub fn new() -> LogSpec {
        LogSpec { max_line: LogSpec::DEFAULT_MAX_LINE, fds: BTreeSet::from([1, 2]) }
    }

    /// The longest piece delivered; longer lines come in pieces.
    pub fn max_line(&mut self, max_line: usize) -> &mut LogSpec {
        self.max_line = max_line;
        self
    }

    /// The child fds whose output is logged (replaces the set; empty logs
    /// nothing). Each needs an output pipe in the program's command.
    pub fn fds(&mut self, fds: impl IntoIterator<Item = i32>) -> &mut LogSpec {
        self.fds = fds.into_iter().collect();
        self
    }

    /// See [`max_line`](Self::max_line).
    pub fn get_max_line(&self) -> usize {
        self.max_line
    }

    /// See [`fds`](Self::fds); in order.
    pub fn get_fds(&self) -> impl Iterator<Item = i32> + '_ {
        self.fds.iter().copied()
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`SpecError::ZeroLineLength`], [`SpecError::NegativeFd`].
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.max_line == 0 {
            return Err(SpecError::ZeroLineLength);
        }
        match self.fds.first() {
            Some(&fd) if fd < 0 => Err(SpecError::NegativeFd(fd)),
            _ => Ok(()),
        }
    }
}

/// One line of output, or one piece of a line longer than the maximum.
///
/// `bytes` are the raw bytes without the `\n`; a `\r` before it is kept
/// (output is not assumed to be text, nor to use any line ending but
/// `\n`), and so is any byte that is not UTF-8.
///
/// ```
/// use procwire_supervisor::LineSplitter;
///
/// let mut s = LineSplitter::new(16 * 1024);
/// s.push(b"caf\xe9\r\n");
/// let line = s.next_line().unwrap();
/// assert_eq!((&line.bytes[..], line.continued), (&b"caf\xe9\r"[..], false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Line {
    /// The line, or the piece, without its `\n`.
    pub bytes: Bytes,
    /// `true` on every piece of a long line but the last: the line goes on
    /// in the next piece.
    pub continued: bool,
}

/// Splits one output stream into [`Line`]s: chunks of bytes in, as they
/// are read; lines out.
///
/// - A line longer than the maximum comes in pieces of the maximum,
///   marked [`continued`](Line::continued) but for the last; nothing is
///   dropped and the lines after it are intact.
/// - Output that ends without `\n` gives its tail once, after
///   [`finish`](Self::finish); output that ends with `\n` gives no extra
///   empty line.
/// - The pieces depend only on the bytes, never on how they were split
///   into chunks.
///
/// ```
/// use procwire_supervisor::LineSplitter;
///
/// let mut s = LineSplitter::new(4);
/// s.push(b"one\r\nlong");
/// s.push(b"er\ntail");
/// s.finish();
/// let pieces: Vec<_> = std::iter::from_fn(|| s.next_line()).map(|l| (l.bytes.to_vec(), l.continued)).collect();
/// assert_eq!(pieces, [
///     (b"one\r".to_vec(), false),
///     (b"long".to_vec(), true),
///     (b"er".to_vec(), false),
///     (b"tail".to_vec(), false),
/// ]);
/// ```
#[derive(Debug)]
pub struct LineSplitter {
    buf: BytesMut,
    max: usize,
    /// `buf[..scanned]` holds no `\n`.
    scanned: usize,
    eof: bool,
}

impl LineSplitter {
    /// A splitter whose pieces are at most `max_line` bytes.
    ///
    /// # Panics
    ///
    /// When `max_line` is 0 ([`LogSpec::validate`] rejects it).
    pub fn new(max_line: usize) -> LineSplitter {
        assert!(max_line > 0, "maximum line length is 0");
        LineSplitter { buf: BytesMut::new(), max: max_line, scanned: 0, eof: false }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Marks the end of the stream: once the complete lines are taken,
    /// [`next_line`](Self::next_line) gives the unterminated tail, if any.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// The next line or piece, or `None` until more bytes come (or, after
    /// [`finish`](Self::finish), at the end).
    pub fn next_line(&mut self) -> Option<Line> {
        let span = self.span_at(0)?;
        let mut line = self.buf.split_to(span.next);
        line.truncate(span.end);
        Some(Line { bytes: line.freeze(), continued: span.continued })
    }

    /// Every complete line or piece at once: one chunk of bytes, and where
    /// each line is in it (`spans`, cleared first; the `\n`s are in the
    /// chunk, not in the spans). `None` when there is none. The same lines
    /// as [`next_line`](Self::next_line), one buffer split a read instead
    /// of one a line.
    pub(crate) fn take_lines(&mut self, spans: &mut Vec<Span>) -> Option<Bytes> {
        spans.clear();
        let mut pos = 0;
        while let Some(span) = self.span_at(pos) {
            spans.push(Span { start: pos, end: pos + span.end, continued: span.continued });
            pos += span.next;
        }
        (pos > 0).then(|| self.buf.split_to(pos).freeze())
    }

    /// The line or piece that starts at `buf[pos..]`, relative to `pos`, by
    /// the rules above; `self.scanned` counts the bytes from `pos` known to
    /// hold no `\n`, and is kept relative to the next line's start.
    fn span_at(&mut self, pos: usize) -> Option<SpanAt> {
        // A `\n` at index `max` or before ends a line of at most `max`
        // bytes; without one in the first `max + 1` bytes, the first `max`
        // are a piece of a longer line. Fewer bytes: wait and see.
        let rest = &self.buf[pos..];
        let window = rest.len().min(self.max + 1);
        if let Some(i) = newline(&rest[self.scanned..window]) {
            let end = self.scanned + i;
            self.scanned = 0;
            return Some(SpanAt { end, next: end + 1, continued: false });
        }
        self.scanned = window;
        if rest.len() > self.max {
            self.scanned -= self.max;
            return Some(SpanAt { end: self.max, next: self.max, continued: true });
        }
        if self.eof && !rest.is_empty() {
            self.scanned = 0;
            return Some(SpanAt { end: rest.len(), next: rest.len(), continued: false });
        }
        None
    }

    /// Bytes held back, waiting for the rest of their line.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Where a line is in a chunk from [`LineSplitter::take_lines`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) continued: bool,
}

/// A line found at some position: its length, where the next one starts
/// (after the `\n`, if any), and whether it is a piece.
struct SpanAt {
    end: usize,
    next: usize,
    continued: bool,
}

/// The index of the first `\n` in `bytes`: eight bytes at a time (the
/// classic "has a zero byte" test on the word XORed with `\n`s), the
/// tail one at a time.
fn newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut words = bytes.chunks_exact(8);
    for (i, word) in words.by_ref().enumerate() {
        let x = u64::from_ne_bytes(word.try_into().expect("8 bytes")) ^ NEWLINES;
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            let at = word.iter().position(|&b| b == b'\n').expect("the word has one");
            return Some(i * 8 + at);
        }
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == b'\n').map(|at| bytes.len() - tail.len() + at)
}

#[cfg(test)]
#[path = "lines/tests.rs"]
mod tests;
