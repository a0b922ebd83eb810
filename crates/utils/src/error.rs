//! What a run produced, and how it can fail: every error after the spawn
//! carries the output collected so far and the child's exit status.

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use procwire_core::ExitStatus;

/// Everything a finished child left behind: its output on fd 1 and fd 2,
/// and how it ended (Twisted's `(out, err, code)` from
/// `getProcessOutputAndValue`, with the full status instead of the code).
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_utils::RunError> {
/// let out = procwire_utils::get_process_output_and_value("sh", ["-c", "echo out; echo err >&2; exit 3"]).await?;
/// assert_eq!((&out.stdout[..], &out.stderr[..], out.status.code()), (&b"out\n"[..], &b"err\n"[..], Some(3)));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// Everything the child wrote to fd 1 (with fd 2 merged in when
    /// [`errortoo`](crate::Run::errortoo) is set).
    pub stdout: Vec<u8>,
    /// Everything the child wrote to fd 2.
    pub stderr: Vec<u8>,
    /// How the child ended.
    pub status: ExitStatus,
    /// The child's pid while it ran (it has been reaped since, so the
    /// number may belong to another process now: for logs, not signals).
    pub pid: u32,
}

impl Output {
    /// An output, for code that builds one itself (tests, mocks).
    ///
    /// ```
    /// use procwire_core::ExitStatus;
    /// let out = procwire_utils::Output::new(b"hi\n".to_vec(), Vec::new(), ExitStatus::from_raw(0), 42);
    /// assert_eq!((out.pid, out.status.code()), (42, Some(0)));
    /// ```
    pub fn new(stdout: Vec<u8>, stderr: Vec<u8>, status: ExitStatus, pid: u32) -> Output {
        Output { stdout, stderr, status, pid }
    }
}

/// Why [`get_process_output`](crate::get_process_output) and its siblings
/// failed.
///
/// Every variant after a successful spawn means the child has been reaped
/// (or, for [`Io`](Self::Io), handed to procwire's reaper after a SIGKILL):
/// an error never leaves a process behind. The variants that concern a
/// finished child carry its [`Output`], so nothing the child wrote is lost.
///
/// `Display` names the program and shows the child's stderr, trimmed, the
/// way ripgrep's `CommandError` does, so `eprintln!("{err}")` is enough.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use procwire_utils::{get_process_output, RunError};
///
/// let err = get_process_output("ls", ["/no/such/dir"]).await.unwrap_err();
/// assert!(matches!(err, RunError::Stderr { .. }));
/// assert!(err.to_string().contains("/no/such/dir"), "{err}");
/// assert_eq!(err.output().unwrap().status.code(), Some(2));
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The child could not be started (program not found, bad working
    /// directory, bad input to the [`Command`](procwire_core::Command)...).
    #[error(transparent)]
    Spawn(#[from] procwire_core::Error),
    /// The child wrote to stderr and [`errortoo`](crate::Run::errortoo) was
    /// not set ([`get_process_output`](crate::get_process_output) only, as
    /// Twisted's `getProcessOutput`). Unlike Twisted, the child has been
    /// waited for, and its whole stderr is here.
    #[error("`{program}` wrote to stderr ({}){}", .output.status, StderrText(&.output.stderr))]
    Stderr {
        /// The program, as given.
        program: String,
        /// What it wrote, and how it ended.
        output: Output,
    },
    /// A signal killed the child (Twisted errbacks with `(out, err,
    /// signalNum)` here; its `getProcessValue` gives `None`).
    #[error("`{program}` was killed by {}{}", .output.status, StderrText(&.output.stderr))]
    Signal {
        /// The program, as given.
        program: String,
        /// The signal number (9 for SIGKILL).
        signal: i32,
        /// What the child wrote before it died.
        output: Output,
    },
    /// The child ran past [`Run::timeout`](crate::Run::timeout) and was
    /// stopped: SIGTERM, then SIGKILL after the grace period.
    #[error("`{program}` timed out after {after:?} ({}){}", Stopped(.output.status), StderrText(&.output.stderr))]
    Timeout {
        /// The program, as given.
        program: String,
        /// The timeout that expired.
        after: Duration,
        /// What the child wrote before it was stopped, and how it ended.
        output: Output,
    },
    /// The child wrote more than [`Run::max_output`](crate::Run::max_output)
    /// bytes to `fd` (Node's `maxBuffer`) and was stopped. The output is
    /// kept up to the limit.
    #[error(
        "`{program}` wrote more than {limit} bytes to fd {fd} (the output limit) ({}){}",
        Stopped(.output.status),
        StderrText(&.output.stderr)
    )]
    OutputLimit {
        /// The program, as given.
        program: String,
        /// The limit, in bytes.
        limit: usize,
        /// The child fd that went past it (1 or 2).
        fd: RawFd,
        /// The output up to the limit, and how the child ended.
        output: Output,
    },
    /// The child did not succeed: it exited with a code other than 0, or
    /// a signal killed it ([`Run::checked_output`](crate::Run::checked_output)
    /// and [`Run::checked_string`](crate::Run::checked_string), the checked
    /// mode; what it wrote to stderr is shown in the message).
    #[error("`{program}` failed ({}){}", .output.status, StderrText(&.output.stderr))]
    Failed {
        /// The program, as given.
        program: String,
        /// What it wrote, and how it ended.
        output: Output,
    },
    /// The child succeeded but its stdout is not UTF-8
    /// ([`Run::checked_string`](crate::Run::checked_string)); the bytes are
    /// in the output.
    #[error("the output of `{program}` is not UTF-8: {source}")]
    NotUtf8 {
        /// The program, as given.
        program: String,
        /// Where the bytes stop being UTF-8.
        #[source]
        source: std::str::Utf8Error,
        /// What it wrote, and how it ended.
        output: Output,
    },
    /// Reading the child's output or collecting its status failed. After a
    /// read error the child was stopped as for a timeout and reaped; if
    /// its status could not be collected, it was sent SIGKILL and left to
    /// procwire's reaper.
    #[error("collecting the output of `{program}` failed: {source}")]
    Io {
        /// The program, as given.
        program: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl RunError {
    /// The child's output, status and pid, for the errors that have them
    /// (every variant but [`Spawn`](Self::Spawn) and [`Io`](Self::Io)).
    pub fn output(&self) -> Option<&Output> {
        match self {
            RunError::Stderr { output, .. }
            | RunError::Signal { output, .. }
            | RunError::Timeout { output, .. }
            | RunError::OutputLimit { output, .. }
            | RunError::Failed { output, .. }
            | RunError::NotUtf8 { output, .. } => Some(output),
            RunError::Spawn(_) | RunError::Io { .. } => None,
        }
    }

    /// Takes the child's output and status out of the error; see
    /// [`output`](Self::output).
    pub fn into_output(self) -> Option<Output> {
        match self {
            RunError::Stderr { output, .. }
            | RunError::Signal { output, .. }
            | RunError::Timeout { output, .. }
            | RunError::OutputLimit { output, .. }
            | RunError::Failed { output, .. }
            | RunError::NotUtf8 { output, .. } => Some(output),
            RunError::Spawn(_) | RunError::Io { .. } => None,
        }
    }
}

/// The child's stderr for an error message: trimmed, on the same line when
/// it is one line, between rules when it is several; nothing when empty.
struct StderrText<'a>(&'a [u8]);

impl fmt::Display for StderrText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(self.0);
        let text = text.trim();
        if text.is_empty() {
            Ok(())
        } else if !text.contains('\n') {
            write!(f, ": {text}")
        } else {
            let rule = "-".repeat(79);
            write!(f, "\n{rule}\n{text}\n{rule}")
        }
    }
}

/// How a stopped child ended, for the timeout and limit messages.
struct Stopped(ExitStatus);

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.signal() {
            Some(_) => write!(f, "stopped by {}", self.0),
            None => write!(f, "it ended with {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(stderr: &[u8], raw: i32) -> Output {
        Output::new(b"out".to_vec(), stderr.to_vec(), ExitStatus::from_raw(raw), 7)
    }

    #[test]
    fn stderr_is_trimmed_into_the_message() {
        let err = RunError::Stderr {
            program: "grep".into(),
            output: output(b"  grep: x: No such file\n\n", 2 << 8),
        };
        assert_eq!(err.to_string(), "`grep` wrote to stderr (exit code 2): grep: x: No such file");
        let err = RunError::Stderr { program: "cc".into(), output: output(b"a\nb\n", 1 << 8) };
        let rule = "-".repeat(79);
        assert_eq!(err.to_string(), format!("`cc` wrote to stderr (exit code 1)\n{rule}\na\nb\n{rule}"));
    }

    #[test]
    fn stops_say_how_the_child_ended() {
        let err = RunError::Timeout {
            program: "sleep".into(),
            after: Duration::from_millis(200),
            output: output(b"", 15),
        };
        assert_eq!(err.to_string(), "`sleep` timed out after 200ms (stopped by signal 15 (SIGTERM))");
        let err = RunError::OutputLimit { program: "yes".into(), limit: 10, fd: 1, output: output(b"", 0) };
        assert_eq!(
            err.to_string(),
            "`yes` wrote more than 10 bytes to fd 1 (the output limit) (it ended with exit code 0)"
        );
        let err = RunError::Signal { program: "x".into(), signal: 9, output: output(b"boom", 9) };
        assert_eq!(err.to_string(), "`x` was killed by signal 9 (SIGKILL): boom");
        assert_eq!(err.into_output().unwrap().stdout, b"out");
        let err = RunError::Failed { program: "git".into(), output: output(b"fatal: bad ref\n", 128 << 8) };
        assert_eq!(err.to_string(), "`git` failed (exit code 128): fatal: bad ref");
    }
}
