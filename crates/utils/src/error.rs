//! What a run produced, and how it can fail: every error after the spawn
//! carries the output collected so far and the child's exit status.

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use procwire_core::ExitStatus;

/// Everything a finished child left behind: its output on fd 1 and fd 2,
/// how it ended, and the pid it had.
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
#[derive(Clone, PartialEq, Eq)]
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

/// Shows stdout and stderr as text when they are UTF-8, as std's
/// `Output` does, and as an escaped byte string (`b"ok\xff"`) when they
/// are not, never as a list of numbers.
///
/// ```
/// use procwire_core::ExitStatus;
/// let out = procwire_utils::Output::new(b"hi\n".to_vec(), b"\xff".to_vec(), ExitStatus::from_raw(0), 42);
/// assert_eq!(
///     format!("{out:?}"),
///     r#"Output { status: ExitStatus(exit code 0, raw=0x0), stdout: "hi\n", stderr: b"\xff", pid: 42 }"#
/// );
/// ```
impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("status", &self.status)
            .field("stdout", &TextOrBytes(&self.stdout))
            .field("stderr", &TextOrBytes(&self.stderr))
            .field("pid", &self.pid)
            .finish()
    }
}

/// Bytes in a `Debug`: a string when they are UTF-8, else `b"..."` with
/// the other bytes escaped.
struct TextOrBytes<'a>(&'a [u8]);

impl fmt::Debug for TextOrBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(text) => fmt::Debug::fmt(text, f),
            Err(_) => write!(f, "b\"{}\"", self.0.escape_ascii()),
        }
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
    /// not set ([`get_process_output`](crate::get_process_output) only). The
    /// child has been waited for, and its whole stderr is here.
    #[error("`{program}` wrote to stderr ({}){}", .output.status, StderrText(&.output.stderr))]
    Stderr {
        /// The program, as given.
        program: String,
        /// What it wrote, and how it ended.
        output: Output,
    },
    /// A signal killed the child; the output is what it wrote before.
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
    /// bytes to `fd` and was stopped. The output is kept up to the limit.
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

/// So that `?` takes a run's error in a function returning
/// [`io::Result`]. The [`io::Error`] keeps the [`RunError`] inside, so its
/// message is the same (with the child's stderr) and
/// [`io::Error::downcast`] gives the `RunError` back, output included. Its
/// kind: a spawn error's own ([`procwire_core::Error::io_error_kind`]:
/// `NotFound` for a missing program, `PermissionDenied`...), `TimedOut`
/// for [`Timeout`](RunError::Timeout), `InvalidData` for
/// [`NotUtf8`](RunError::NotUtf8), the OS error's for
/// [`Io`](RunError::Io), and `Other` for a child that failed (a non-zero
/// exit, a signal, stderr output, an output limit).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use procwire_utils::{Run, RunError};
///
/// async fn kernel() -> std::io::Result<String> {
///     Ok(Run::new("uname").arg("-s").checked_string().await?)
/// }
///
/// assert_eq!(kernel().await.unwrap(), "Linux\n");
/// async fn fails() -> std::io::Result<String> {
///     Ok(Run::new("sh").args(["-c", "echo oops >&2; exit 3"]).checked_string().await?)
/// }
/// let err = fails().await.unwrap_err();
/// assert_eq!((err.kind(), err.to_string()), (std::io::ErrorKind::Other, "`sh` failed (exit code 3): oops".to_owned()));
/// let err = err.downcast::<RunError>().unwrap();
/// assert_eq!(err.output().unwrap().status.code(), Some(3));
/// # }
/// ```
impl From<RunError> for io::Error {
    fn from(err: RunError) -> io::Error {
        let kind = match &err {
            RunError::Spawn(source) => source.io_error_kind(),
            RunError::Timeout { .. } => io::ErrorKind::TimedOut,
            RunError::NotUtf8 { .. } => io::ErrorKind::InvalidData,
            RunError::Io { source, .. } => source.kind(),
            RunError::Stderr { .. }
            | RunError::Signal { .. }
            | RunError::OutputLimit { .. }
            | RunError::Failed { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
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

    #[test]
    fn output_debug_shows_text() {
        let out = Output::new(b"hello\n".to_vec(), "café".into(), ExitStatus::from_raw(0), 7);
        let text = format!("{out:?}");
        assert!(text.contains(r#"stdout: "hello\n""#) && text.contains(r#"stderr: "café""#), "{text}");
        assert!(!text.contains("104, 101"), "bytes as numbers: {text}");
        let out = Output::new(b"ok\xff\n".to_vec(), Vec::new(), ExitStatus::from_raw(0), 7);
        assert!(format!("{out:?}").contains(r#"stdout: b"ok\xff\n", stderr: """#), "{out:?}");
        // Errors show their output the same way.
        let err = RunError::Failed { program: "x".into(), output: output(b"oops", 1 << 8) };
        assert!(format!("{err:?}").contains(r#"stderr: "oops""#), "{err:?}");
    }

    #[test]
    fn into_io_error_keeps_a_kind_the_message_and_the_run_error() {
        let not_found = procwire_core::Error::Spawn {
            program: "x".into(),
            step: procwire_core::SpawnStep::Exec,
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        let not_utf8 = String::from_utf8(vec![b'o', b'k', 0xff]).unwrap_err().utf8_error();
        for (err, kind) in [
            (RunError::Spawn(not_found), io::ErrorKind::NotFound),
            (
                RunError::Timeout {
                    program: "x".into(),
                    after: Duration::from_secs(1),
                    output: output(b"", 15),
                },
                io::ErrorKind::TimedOut,
            ),
            (
                RunError::NotUtf8 { program: "x".into(), source: not_utf8, output: output(b"", 0) },
                io::ErrorKind::InvalidData,
            ),
            (
                RunError::Io { program: "x".into(), source: io::Error::from(io::ErrorKind::BrokenPipe) },
                io::ErrorKind::BrokenPipe,
            ),
            (RunError::Failed { program: "x".into(), output: output(b"oops", 1 << 8) }, io::ErrorKind::Other),
            (RunError::Stderr { program: "x".into(), output: output(b"oops", 0) }, io::ErrorKind::Other),
            (
                RunError::Signal { program: "x".into(), signal: 9, output: output(b"", 9) },
                io::ErrorKind::Other,
            ),
            (
                RunError::OutputLimit { program: "x".into(), limit: 1, fd: 1, output: output(b"", 0) },
                io::ErrorKind::Other,
            ),
        ] {
            let text = err.to_string();
            let io = io::Error::from(err);
            assert_eq!((io.kind(), io.to_string()), (kind, text.clone()));
            assert_eq!(io.downcast::<RunError>().expect("the RunError inside").to_string(), text);
        }
    }
}
