//! Exit status: how a child ended, and whether that counts as done.

use std::fmt;

use crate::signal::Signal;

/// How a child ended, as collected when it was reaped.
///
/// [`reason`](ExitStatus::reason) sorts it in two: the child is *done*
/// when it exited with code 0 ([`ProcessDone`]), *terminated* otherwise,
/// by a non-zero code or a signal ([`ProcessTerminated`]).
///
/// # Example
///
/// ```
/// use procwire_core::ExitStatus;
///
/// let st = ExitStatus::from_raw(23 << 8);
/// assert_eq!(st.code(), Some(23));
/// assert_eq!(st.signal(), None);
/// assert_eq!(st.reason().unwrap_err().to_string(), "process ended with exit code 23");
///
/// let st = ExitStatus::from_raw(15);
/// assert_eq!((st.code(), st.signal()), (None, Some(15)));
/// assert_eq!(st.to_string(), "signal 15 (SIGTERM)");
/// assert_eq!(ExitStatus::from_raw(64).to_string(), "signal 64 (SIGRTMAX)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExitStatus(i32);

impl ExitStatus {
    /// Wraps a raw `waitpid(2)` status word.
    pub const fn from_raw(raw: i32) -> Self {
        ExitStatus(raw)
    }

    /// The raw `waitpid(2)` status word.
    pub const fn into_raw(self) -> i32 {
        self.0
    }

    /// Exited with code 0: [`reason`](Self::reason) is [`ProcessDone`].
    pub const fn success(&self) -> bool {
        self.0 == 0
    }

    /// The exit code, or `None` when the child was killed by a signal.
    pub const fn code(&self) -> Option<i32> {
        if self.0 & 0x7f == 0 {
            Some((self.0 >> 8) & 0xff)
        } else {
            None
        }
    }

    /// The signal that killed the child, or `None` when it exited.
    pub const fn signal(&self) -> Option<i32> {
        match self.0 & 0x7f {
            0 | 0x7f => None,
            sig => Some(sig),
        }
    }

    /// Whether the child dumped core when the signal killed it.
    pub const fn core_dumped(&self) -> bool {
        self.signal().is_some() && self.0 & 0x80 != 0
    }

    /// Sorts the status in two: `Ok(ProcessDone)` for exit code 0,
    /// `Err(ProcessTerminated)` for any other code or a signal. Twisted's
    /// `reason.value`.
    pub fn reason(&self) -> Result<ProcessDone, ProcessTerminated> {
        if self.success() {
            Ok(ProcessDone { status: *self })
        } else {
            Err(ProcessTerminated { status: *self })
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(code) = self.code() {
            return write!(f, "exit code {code}");
        }
        let sig = self.signal().unwrap_or(0);
        write!(f, "signal {sig}")?;
        // Named signals, real-time ones included (`SIGRTMIN+1`); 32 and
        // 33 have no name.
        if let Some(sig) = Signal::new(sig).ok().filter(|s| s.name().is_some() || s.is_realtime()) {
            write!(f, " ({sig})")?;
        }
        if self.core_dumped() {
            f.write_str(" (core dumped)")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExitStatus({self}, raw={:#x})", self.0)
    }
}

/// A status from `std::process` or `tokio::process`: both hold the raw
/// `waitpid(2)` word, as this one does, so nothing is lost either way.
///
/// ```
/// use procwire_core::ExitStatus;
/// let std_status = std::process::Command::new("sh").args(["-c", "exit 3"]).status().unwrap();
/// assert_eq!(ExitStatus::from(std_status).code(), Some(3));
/// ```
impl From<std::process::ExitStatus> for ExitStatus {
    fn from(st: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus(st.into_raw())
    }
}

/// The same status as std's, for code that takes a
/// `std::process::ExitStatus` (what `tokio::process` gives too): the raw
/// `waitpid(2)` word is carried over, so the code, the signal and the
/// core-dump flag are the same, and converting back gives an equal status.
///
/// ```
/// use procwire_core::ExitStatus;
/// let killed = std::process::ExitStatus::from(ExitStatus::from_raw(9));
/// assert_eq!((killed.code(), std::os::unix::process::ExitStatusExt::signal(&killed)), (None, Some(9)));
/// ```
impl From<ExitStatus> for std::process::ExitStatus {
    fn from(st: ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        std::process::ExitStatus::from_raw(st.0)
    }
}

/// The child exited with code 0: Twisted's `ProcessDone`.
///
/// ```
/// use procwire_core::ExitStatus;
/// let done = ExitStatus::from_raw(0).reason().unwrap();
/// assert_eq!(done.to_string(), "process finished with exit code 0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("process finished with exit code 0")]
pub struct ProcessDone {
    status: ExitStatus,
}

impl ProcessDone {
    /// The status (always exit code 0).
    pub fn status(&self) -> ExitStatus {
        self.status
    }
}

/// The child exited with a non-zero code or was killed by a signal:
/// Twisted's `ProcessTerminated`, with its `exitCode` / `signal` fields.
///
/// ```
/// use procwire_core::ExitStatus;
/// let t = ExitStatus::from_raw(9).reason().unwrap_err();
/// assert_eq!((t.exit_code(), t.signal()), (None, Some(9)));
/// assert_eq!(t.to_string(), "process ended by signal 9 (SIGKILL)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct ProcessTerminated {
    status: ExitStatus,
}

impl ProcessTerminated {
    /// The exit code (Twisted's `exitCode`), `None` when signalled.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal (Twisted's `signal`), `None` when it exited.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// The full status.
    pub fn status(&self) -> ExitStatus {
        self.status
    }
}

impl fmt::Display for ProcessTerminated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status.code() {
            Some(code) => write!(f, "process ended with exit code {code}"),
            None => write!(f, "process ended by {}", self.status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_std() {
        use std::os::unix::process::ExitStatusExt;
        for raw in [0, 1 << 8, 23 << 8, 255 << 8, 1, 9, 15, 11 | 0x80, 6 | 0x80] {
            let ours = ExitStatus::from_raw(raw);
            let std = std::process::ExitStatus::from_raw(raw);
            assert_eq!(ours.code(), std.code(), "{raw:#x}");
            assert_eq!(ours.signal(), std.signal(), "{raw:#x}");
            assert_eq!(ours.core_dumped(), std.core_dumped(), "{raw:#x}");
            assert_eq!(ours.success(), std.success(), "{raw:#x}");
            assert_eq!(ExitStatus::from(std), ours);
        }
    }

    #[test]
    fn converts_to_and_from_std_exactly() {
        use std::os::unix::process::ExitStatusExt;
        // Exit codes, signals with and without a core dump, and the
        // stopped and continued words waitpid can report.
        for raw in [0, 1 << 8, 23 << 8, 255 << 8, 1, 9, 15, 64, 11 | 0x80, 6 | 0x80, 0x137f, 0xffff] {
            let ours = ExitStatus::from_raw(raw);
            let std = std::process::ExitStatus::from(ours);
            assert_eq!(std.into_raw(), raw, "{raw:#x}");
            assert_eq!(
                (std.code(), std.signal(), std.core_dumped()),
                (ours.code(), ours.signal(), ours.core_dumped())
            );
            assert_eq!(ExitStatus::from(std), ours, "{raw:#x}: the round trip");
            assert_eq!(std::process::ExitStatus::from(ExitStatus::from(std)), std, "{raw:#x}: the other way");
        }
    }

    #[test]
    fn twisted_display() {
        assert_eq!(
            ExitStatus::from_raw(1 << 8).reason().unwrap_err().to_string(),
            "process ended with exit code 1"
        );
        assert_eq!(
            ExitStatus::from_raw(15).reason().unwrap_err().to_string(),
            "process ended by signal 15 (SIGTERM)"
        );
        assert_eq!(ExitStatus::from_raw(11 | 0x80).to_string(), "signal 11 (SIGSEGV) (core dumped)");
    }
}
