//! Output split into lines: long lines in pieces, never dropped, never an
//! invented empty line (procmon's bugs 1 and 2).

use std::collections::BTreeSet;
use std::io;

use bytes::{BufMut, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt};

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
/// assert!(LogSpec::new().max_line(LogSpec::MAX_LINE_LIMIT + 1).validate().is_err());
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

    /// The largest [`max_line`](Self::max_line) accepted, 1 MiB: a pipe's
    /// drain holds that much of a line before it cuts a piece.
    pub const MAX_LINE_LIMIT: usize = 1024 * 1024;

    /// Lines of fds 1 and 2, at most [`DEFAULT_MAX_LINE`](Self::DEFAULT_MAX_LINE) bytes.
    pub fn new() -> LogSpec {
        LogSpec { max_line: LogSpec::DEFAULT_MAX_LINE, fds: BTreeSet::from([1, 2]) }
    }

    /// The longest piece delivered; longer lines come in pieces. From 1 to
    /// [`MAX_LINE_LIMIT`](Self::MAX_LINE_LIMIT): [`validate`](Self::validate),
    /// and so [`add`](crate::Supervisor::add), refuses anything else.
    pub fn max_line(&mut self, max_line: usize) -> &mut LogSpec {
        self.max_line = max_line;
        self
    }

    /// The child fds whose output is logged (replaces the set; empty logs
    /// nothing). Each needs an output pipe in the program's command: one
    /// without logs nothing. A negative fd is refused
    /// ([`SpecError::NegativeFd`]).
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
    /// [`SpecError::ZeroLineLength`], [`SpecError::OutOfRange`] above
    /// [`MAX_LINE_LIMIT`](Self::MAX_LINE_LIMIT), [`SpecError::NegativeFd`].
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.max_line == 0 {
            return Err(SpecError::ZeroLineLength);
        }
        if self.max_line > LogSpec::MAX_LINE_LIMIT {
            return Err(SpecError::out_of_range("LogSpec::max_line", self.max_line, "1..=1048576 (1 MiB)"));
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
/// Once the lines are taken it holds the start of a line not complete
/// yet, at most the maximum; each [`Line`] it gives has an allocation of
/// its own, the size of the line.
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
    /// The bytes not taken yet are `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    max: usize,
    /// `buf[start..start + scanned]` holds no `\n`.
    scanned: usize,
    eof: bool,
    /// The most [`read_from`](Self::read_from) reads at once.
    read_size: usize,
}

/// The first read of a pipe: small while the program is quiet (a thousand
/// idle programs hold 8 KiB each), doubled up to [`MAX_READ`] while reads
/// fill it.
const FIRST_READ: usize = 4096;

/// The largest read of a pipe: a pipe's default size.
pub(crate) const MAX_READ: usize = 64 * 1024;

impl LineSplitter {
    /// A splitter whose pieces are at most `max_line` bytes.
    ///
    /// # Panics
    ///
    /// When `max_line` is 0 ([`LogSpec::validate`] rejects it).
    pub fn new(max_line: usize) -> LineSplitter {
        assert!(max_line > 0, "maximum line length is 0");
        LineSplitter {
            buf: Vec::new(),
            start: 0,
            max: max_line,
            scanned: 0,
            eof: false,
            read_size: FIRST_READ,
        }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(chunk);
    }

    /// Reads once from `reader`, straight into the buffer (at most
    /// [`MAX_READ`] bytes); `Ok(0)` at end of file.
    pub(crate) async fn read_from(&mut self, reader: &mut (impl AsyncRead + Unpin)) -> io::Result<usize> {
        self.compact();
        self.buf.reserve(self.read_size);
        let n = reader.read_buf(&mut (&mut self.buf).limit(self.read_size)).await?;
        if n == self.read_size && n < MAX_READ {
            self.read_size *= 2;
        }
        Ok(n)
    }

    /// Marks the end of the stream: once the complete lines are taken,
    /// [`next_line`](Self::next_line) gives the unterminated tail, if any.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// The next line or piece, or `None` until more bytes come (or, after
    /// [`finish`](Self::finish), at the end).
    pub fn next_line(&mut self) -> Option<Line> {
        let cut = self.cut_at(self.start)?;
        let bytes = Bytes::copy_from_slice(&self.buf[self.start..self.start + cut.end]);
        self.consume(cut.next);
        Some(Line { bytes, continued: cut.continued })
    }

    /// Every complete line or piece at once: one chunk of bytes, and where
    /// each line is in it (`spans`, cleared first; the `\n`s are in the
    /// chunk, not in the spans). `None` when there is none. The same lines
    /// as [`next_line`](Self::next_line).
    ///
    /// The chunk is an allocation of its own, exactly its size: whoever
    /// keeps it keeps what it holds and nothing more. After
    /// [`read_from`](Self::read_from) it is the buffer read into, cut to
    /// size (the start of a line not complete yet, if any, is moved out).
    pub(crate) fn take_lines(&mut self, spans: &mut Vec<Span>) -> Option<Bytes> {
        spans.clear();
        let from = self.start;
        let mut pos = from;
        while let Some(cut) = self.cut_at(pos) {
            spans.push(Span { start: pos - from, end: pos - from + cut.end, continued: cut.continued });
            pos += cut.next;
        }
        if pos == from {
            return None;
        }
        if from > 0 {
            let chunk = Bytes::copy_from_slice(&self.buf[from..pos]);
            self.consume(pos - from);
            return Some(chunk);
        }
        let rest = self.buf[pos..].to_vec();
        let mut chunk = std::mem::replace(&mut self.buf, rest);
        chunk.truncate(pos);
        chunk.shrink_to_fit();
        Some(Bytes::from(chunk))
    }

    /// The line or piece that starts at `buf[pos..]`, relative to `pos`, by
    /// the rules above; `self.scanned` counts the bytes from `pos` known to
    /// hold no `\n`, and is kept relative to the next line's start.
    fn cut_at(&mut self, pos: usize) -> Option<Cut> {
        let rest = &self.buf[pos..];
        match first_line(rest, self.max, self.scanned) {
            Ok(cut) => {
                // After a piece, the byte that follows it was looked at.
                self.scanned = usize::from(cut.continued);
                Some(cut)
            }
            Err(scanned) if self.eof && !rest.is_empty() => {
                debug_assert_eq!(scanned, rest.len());
                self.scanned = 0;
                Some(Cut { end: rest.len(), next: rest.len(), continued: false })
            }
            Err(scanned) => {
                self.scanned = scanned;
                None
            }
        }
    }

    /// Drops the first `n` bytes not taken yet.
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

    /// Bytes held back, waiting for the rest of their line.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    pub(crate) end: usize,
    pub(crate) next: usize,
    pub(crate) continued: bool,
}

/// The first line or piece of `rest`, whose first `scanned` bytes are
/// known to hold no `\n`: a `\n` at index `max` or before ends a line of
/// at most `max` bytes; without one in the first `max + 1` bytes, the
/// first `max` are a piece of a longer line. With fewer bytes than that
/// and no `\n`, it cannot be told yet: `Err` with the number of bytes
/// now known to hold no `\n` (all of them).
///
/// The rule of [`LineSplitter`], and the one a
/// [`Logs`](crate::Logs) subscriber uses to find the lines of a chunk
/// again: the cuts depend only on the bytes.
#[inline]
pub(crate) fn first_line(rest: &[u8], max: usize, scanned: usize) -> Result<Cut, usize> {
    let window = rest.len().min(max.saturating_add(1));
    if let Some(i) = newline(&rest[scanned..window]) {
        let end = scanned + i;
        return Ok(Cut { end, next: end + 1, continued: false });
    }
    if rest.len() > max {
        return Ok(Cut { end: max, next: max, continued: true });
    }
    Err(window)
}

/// The line or piece at `chunk[at..]`, in a chunk [`LineSplitter::take_lines`]
/// gave, found again from its bytes: the last one, when it has no `\n`
/// (a piece, or the tail at end of file), is `continued` as
/// `last_continued` says.
#[inline]
pub(crate) fn line_in_chunk(chunk: &[u8], at: usize, max: usize, last_continued: bool) -> Cut {
    let rest = &chunk[at..];
    first_line(rest, max, 0).unwrap_or(Cut { end: rest.len(), next: rest.len(), continued: last_continued })
}

/// The index of the first `\n` in `bytes`: eight bytes at a time (the
/// classic "has a zero byte" test on the word XORed with `\n`s, read
/// little-endian so that the lowest flag is the first byte: a borrow only
/// flags bytes after a real zero), the tail one at a time.
#[inline]
fn newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_le_bytes([b'\n'; 8]);
    let mut words = bytes.chunks_exact(8);
    for (i, word) in words.by_ref().enumerate() {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ NEWLINES;
        let flags = x.wrapping_sub(ONES) & !x & HIGHS;
        if flags != 0 {
            return Some(i * 8 + (flags.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == b'\n').map(|at| bytes.len() - tail.len() + at)
}

#[cfg(test)]
#[path = "lines/tests.rs"]
mod tests;
