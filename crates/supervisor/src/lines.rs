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
        // A `\n` at index `max` or before ends a line of at most `max`
        // bytes; without one in the first `max + 1` bytes, the first `max`
        // are a piece of a longer line. Fewer bytes: wait and see.
        let window = self.buf.len().min(self.max + 1);
        if let Some(i) = self.buf[self.scanned..window].iter().position(|&b| b == b'\n') {
            let mut line = self.buf.split_to(self.scanned + i + 1);
            line.truncate(self.scanned + i);
            self.scanned = 0;
            return Some(Line { bytes: line.freeze(), continued: false });
        }
        self.scanned = window;
        if self.buf.len() > self.max {
            self.scanned -= self.max;
            return Some(Line { bytes: self.buf.split_to(self.max).freeze(), continued: true });
        }
        if self.eof && !self.buf.is_empty() {
            self.scanned = 0;
            return Some(Line { bytes: self.buf.split().freeze(), continued: false });
        }
        None
    }

    /// Bytes held back, waiting for the rest of their line.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
#[path = "lines/tests.rs"]
mod tests;
