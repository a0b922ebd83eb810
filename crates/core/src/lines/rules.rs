//! Where a line ends: the rule every user of [`LineFramer`](super::LineFramer)
//! shares, as a pure function of the bytes, so that a chunk of lines can be
//! cut again from its bytes alone.

use super::Span;

/// How a [`LineFramer`](super::LineFramer) cuts output into lines: the
/// longest line it gives, whether `\r\n` ends a line as `\n` does, and what
/// becomes of a longer line.
///
/// The maximum counts a line's content, never its terminator. What the
/// framer holds between reads is bounded by it: at most the maximum once
/// the lines are taken (one byte more with [`with_crlf`](Self::with_crlf),
/// for a `\r` whose `\n` has not come yet).
///
/// ```
/// use procwire_core::lines::{LineRules, LongLines};
///
/// // The supervisor's logs: every byte kept, long lines in pieces.
/// let logs = LineRules::new(16 * 1024);
/// assert_eq!((logs.crlf(), logs.long_lines()), (false, LongLines::Split));
/// // The protocol's `Lines`: `\r\n` ends a line; a longer one is cut short.
/// let text = LineRules::new(64 * 1024).with_crlf(true).with_long_lines(LongLines::Truncate);
/// assert_eq!(text.max_length(), 64 * 1024);
/// // A piece holds at least a byte: 0 is taken as 1 for split lines.
/// assert_eq!(LineRules::new(0).max_length(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LineRules {
    max: usize,
    crlf: bool,
    long: LongLines,
}

/// What a [`LineFramer`](super::LineFramer) does with a line longer than
/// the maximum.
///
/// More may come: a `match` outside this crate needs a `_` arm.
///
/// ```
/// use procwire_core::lines::{LineFramer, LineRules, LongLines};
///
/// let lines = |long| {
///     let mut framer = LineFramer::with_rules(LineRules::new(4).with_long_lines(long));
///     framer.push(b"abcdefghij\nok\n");
///     std::iter::from_fn(|| framer.next_line()).map(|l| (l.bytes.to_vec(), l.continued)).collect::<Vec<_>>()
/// };
/// assert_eq!(lines(LongLines::Split), [
///     (b"abcd".to_vec(), true),
///     (b"efgh".to_vec(), true),
///     (b"ij".to_vec(), false),
///     (b"ok".to_vec(), false),
/// ]);
/// assert_eq!(lines(LongLines::Truncate), [(b"abcd".to_vec(), true), (b"ok".to_vec(), false)]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LongLines {
    /// Gives it in pieces of the maximum, each marked
    /// [`continued`](super::Line::continued) but the last: nothing is lost,
    /// and the pieces and their `\n`s give the output back (procmon's
    /// logs, without its bugs).
    #[default]
    Split,
    /// Gives its first maximum bytes, marked `continued`, as soon as the
    /// line is known to be longer, and drops the rest through its end
    /// (Twisted's `LineReceiver`, which reports `lineLengthExceeded` and
    /// goes on with the next line).
    Truncate,
}

impl LineRules {
    /// Lines of at most `max_length` bytes, ended by `\n` alone (a `\r`
    /// before it is content), longer ones split into pieces.
    pub const fn new(max_length: usize) -> LineRules {
        LineRules { max: max_length, crlf: false, long: LongLines::Split }
    }

    /// With `true`, a `\r` just before a `\n` is part of the terminator:
    /// it is not in the line, and not counted. A `\r` anywhere else is
    /// content, and so is one that ends the output.
    pub const fn with_crlf(mut self, crlf: bool) -> LineRules {
        self.crlf = crlf;
        self
    }

    /// What becomes of a line longer than the maximum.
    pub const fn with_long_lines(mut self, long: LongLines) -> LineRules {
        self.long = long;
        self
    }

    /// The longest line, or piece, given. For [`LongLines::Split`], at
    /// least 1 (a piece holds a byte); for [`LongLines::Truncate`], 0 lets
    /// only empty lines through whole.
    pub const fn max_length(&self) -> usize {
        match self.long {
            LongLines::Split if self.max == 0 => 1,
            _ => self.max,
        }
    }

    /// See [`with_crlf`](Self::with_crlf).
    pub const fn crlf(&self) -> bool {
        self.crlf
    }

    /// See [`with_long_lines`](Self::with_long_lines).
    pub const fn long_lines(&self) -> LongLines {
        self.long
    }

    /// The line or piece at `chunk[at..]`, in a chunk that
    /// [`take_lines`](super::LineFramer::take_lines) gave under these rules,
    /// found again from its bytes alone; `last_continued` is the last
    /// span's [`continued`](Span::continued) (the one thing the bytes
    /// cannot tell: whether a last line without `\n` is a piece). Its
    /// [`next`](Span::next) is where the following one starts.
    ///
    /// For [`LongLines::Split`] only: a truncating framer's chunks also
    /// hold the bytes it dropped.
    ///
    /// ```
    /// use procwire_core::lines::{LineFramer, LineRules};
    ///
    /// let rules = LineRules::new(4);
    /// let mut framer = LineFramer::with_rules(rules);
    /// framer.push(b"ab\nlonger\nta");
    /// let mut spans = Vec::new();
    /// let chunk = framer.take_lines(&mut spans).unwrap();
    /// let (mut at, mut again) = (0, Vec::new());
    /// while at < chunk.len() {
    ///     let span = rules.span_at(&chunk, at, spans.last().unwrap().continued);
    ///     at = span.next;
    ///     again.push(span);
    /// }
    /// assert_eq!(again, spans);
    /// ```
    #[inline]
    pub fn span_at(&self, chunk: &[u8], at: usize, last_continued: bool) -> Span {
        let rest = chunk.get(at..).unwrap_or_default();
        // The chunk's end is an end of output: what the rule would hold
        // back waiting for more is a piece, or the chunk's last line.
        let cut = match self.cut(rest, 0, false) {
            Ok(cut) => cut,
            Err(_) => match self.cut(rest, 0, true) {
                Ok(cut) if cut.continued => cut,
                _ => Cut { end: rest.len(), next: rest.len(), continued: last_continued },
            },
        };
        Span { start: at, end: at + cut.end, next: at + cut.next, continued: cut.continued }
    }

    /// The first line or piece of `rest`, whose first `scanned` bytes are
    /// known to hold no `\n`:
    ///
    /// - a `\n` at index `max` or before ends a line (without a `\r` just
    ///   before it, with crlf);
    /// - with crlf, a `\r` at index `max` then a `\n` end a line of exactly
    ///   `max`;
    /// - otherwise, with more than `max` bytes, the first `max` are a piece;
    /// - at the end of output (`eof`), what is left is a line as it is.
    ///
    /// With too few bytes to tell, `Err` with the number of bytes now known
    /// to hold no `\n`.
    #[inline]
    pub(crate) fn cut(&self, rest: &[u8], scanned: usize, eof: bool) -> Result<Cut, usize> {
        let max = self.max_length();
        let window = rest.len().min(max.saturating_add(1));
        if let Some(i) = super::find_newline(&rest[scanned.min(window)..window]) {
            let nl = scanned + i;
            let end = nl - usize::from(self.crlf && nl > 0 && rest[nl - 1] == b'\r');
            return Ok(Cut { end, next: nl + 1, continued: false });
        }
        if rest.len() > max {
            if self.crlf && rest[max] == b'\r' {
                match rest.get(max + 1) {
                    Some(b'\n') => return Ok(Cut { end: max, next: max + 2, continued: false }),
                    None if !eof => return Err(window),
                    _ => {}
                }
            }
            return Ok(Cut { end: max, next: max, continued: true });
        }
        if eof && !rest.is_empty() {
            return Ok(Cut { end: rest.len(), next: rest.len(), continued: false });
        }
        Err(window)
    }
}

/// A line found at the start of some bytes: its length, where the next one
/// starts (after the terminator, if any), and whether it is a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    pub(crate) end: usize,
    pub(crate) next: usize,
    pub(crate) continued: bool,
}
