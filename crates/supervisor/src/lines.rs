//! Output split into lines: long lines in pieces, never dropped, never an
//! invented empty line. The splitter is
//! procwire-core's [`LineFramer`](procwire_core::lines::LineFramer) under its default rules (`\n` alone ends
//! a line, every byte kept, long lines in pieces); what is the
//! supervisor's own is which fds are logged and the maximum.

use std::collections::BTreeSet;

use crate::error::SpecError;

pub use procwire_core::lines::Line;
/// The line splitter of the supervisor's logs: procwire-core's
/// [`LineFramer`](procwire_core::lines::LineFramer), under its name here.
pub use procwire_core::lines::LineFramer as LineSplitter;

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
    /// The default maximum line length, 16 KiB; a longer line is logged in
    /// pieces. Twisted's `LineReceiver.MAX_LENGTH`.
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

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 16, defect 6: `max_line(usize::MAX)` passed validation, then
    // `max + 1` overflowed in the drain task (a panic in debug builds, no
    // line ever in release builds, and a buffer growing without end).
    #[test]
    fn max_line_of_usize_max_is_refused_by_validate() {
        for max in [usize::MAX, LogSpec::MAX_LINE_LIMIT + 1] {
            let err = LogSpec::new().max_line(max).validate().unwrap_err();
            assert_eq!(
                err,
                SpecError::OutOfRange {
                    setting: "LogSpec::max_line",
                    value: max.to_string(),
                    allowed: "1..=1048576 (1 MiB)"
                }
            );
        }
        assert_eq!(LogSpec::new().max_line(0).validate(), Err(SpecError::ZeroLineLength));
        for max in [1, LogSpec::MAX_LINE_LIMIT] {
            assert_eq!(LogSpec::new().max_line(max).validate(), Ok(()));
        }
    }
}
