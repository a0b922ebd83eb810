//! [`Run`], the options of a run, and the three `get_process_*`
//! functions as one-line forwards to it.

use std::ffi::OsStr;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use procwire_core::{ChildFd, Command};

use crate::collect::{Cause, Collect, Finished, Limits, Sink, Source};
use crate::error::{Output, RunError};

/// The grace period between SIGTERM and SIGKILL when none is set.
const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// A program to run to completion, with its options: the builder behind
/// [`get_process_output`], [`get_process_value`] and
/// [`get_process_output_and_value`], for when the defaults are not enough.
///
/// Build it from a program ([`Run::new`]) or from a prepared
/// [`Command`] (`Run::from(command)`: environment, working directory,
/// credentials, a terminal...), set options, then await one of:
///
/// | method | resolves to | also an error when the child |
/// |---|---|---|
/// | [`output`](Self::output) | [`Output`]: stdout, stderr, status | never: read the status |
/// | [`checked_output`](Self::checked_output), [`checked_string`](Self::checked_string) | [`Output`], stdout as a `String` | exits non-zero or is killed |
/// | [`get_process_output`](Self::get_process_output) | stdout | writes to stderr, or is killed |
/// | [`get_process_value`](Self::get_process_value) | the exit code | is killed |
/// | [`get_process_output_and_value`](Self::get_process_output_and_value) | [`Output`] | is killed |
///
/// A spawn failure, a [`timeout`](Self::timeout) and an
/// [output limit](Self::max_output) are errors for every one of them.
/// A `Run` can be awaited
/// again; each call spawns a new child, from the `Run` as it is at that
/// call: the run's own settings (the fds below, `kill_on_drop`, the
/// process group of [`stop_group`](Self::stop_group)) are applied to a
/// copy of the command, never to the command itself, so nothing one run
/// sets is left for the next, or for [`command`](Self::command).
///
/// What the run does with the command: fd 0 is a pipe fed with
/// [`input`](Self::input) and then closed (`/dev/null` without input, so a
/// child reading its stdin sees end of file instead of hanging); fd 1 and
/// fd 2 are pipes read side by side (`/dev/null`
/// for [`get_process_value`](Self::get_process_value)); pipes the command maps on other fds are
/// closed at once; the child is killed if the run is dropped. On a
/// [terminal](procwire_core::Command::pty), everything the child writes
/// to it is the output on fd 1, and the input is written to it (a
/// terminal cannot be closed like a pipe).
///
/// A run's future may be polled on one tokio runtime and finished on
/// another, also after the first shut down: its pipes, its child and its
/// timers (the [`timeout`](Self::timeout) and the stop ladder's grace, each
/// a [`Deadline`](procwire_core::Deadline)) move to the runtime that
/// polls them, and the timeout still counts from the spawn.
///
/// [`output`](Self::output) is tokio's and std's `output()`; the
/// `get_process_*` methods are Twisted's `getProcessOutput`,
/// `getProcessValue` and `getProcessOutputAndValue`.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_utils::RunError> {
/// use std::time::Duration;
/// use procwire_core::Command;
/// use procwire_utils::Run;
///
/// let mut cmd = Command::new("tr");
/// cmd.args(["a-z", "A-Z"]).env("LC_ALL", "C");
/// let out = Run::from(cmd)
///     .input("hello\n")
///     .timeout(Duration::from_secs(10))
///     .max_output(1 << 20)
///     .output()
///     .await?;
/// assert_eq!((&out.stdout[..], out.status.success()), (&b"HELLO\n"[..], true));
/// # Ok(()) }
/// ```
pub struct Run {
    command: Command,
    input: Option<Bytes>,
    errortoo: bool,
    timeout: Option<Duration>,
    grace: Duration,
    max_output: Option<usize>,
    stop_group: bool,
}

/// Shows the input's length, never its bytes (a passphrase, a key).
impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("command", &self.command)
            .field("input", &self.input.as_ref().map(|i| format!("<{} bytes>", i.len())))
            .field("errortoo", &self.errortoo)
            .field("timeout", &self.timeout)
            .field("grace", &self.grace)
            .field("max_output", &self.max_output)
            .field("stop_group", &self.stop_group)
            .finish()
    }
}

impl From<Command> for Run {
    fn from(command: Command) -> Run {
        Run {
            command,
            input: None,
            errortoo: false,
            timeout: None,
            grace: DEFAULT_GRACE,
            max_output: None,
            stop_group: false,
        }
    }
}

/// A run of a copy of the command: `Run::from(Command::new("tr").args(..))`
/// works, and the command stays as it was, to be run again.
impl From<&mut Command> for Run {
    fn from(command: &mut Command) -> Run {
        Run::from(command.clone())
    }
}

/// A run of a copy of the command.
impl From<&Command> for Run {
    fn from(command: &Command) -> Run {
        Run::from(command.clone())
    }
}

/// `command.run()`: a [`Run`] of a copy of a [`Command`], so that one
/// chain goes from the command to its result, as
/// `tokio::process::Command::output()` does.
///
/// Sealed: it exists for procwire's own `Command`, which cannot have the
/// method itself (procwire-core does not depend on this crate).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_utils::RunError> {
/// use std::time::Duration;
/// use procwire_core::Command;
/// use procwire_utils::CommandExt;
///
/// let out = Command::new("tr").args(["a-z", "A-Z"]).run().input("hi\n").timeout(Duration::from_secs(10)).checked_string().await?;
/// assert_eq!(out, "HI\n");
/// # Ok(()) }
/// ```
pub trait CommandExt: sealed::Sealed {
    /// A [`Run`] of a copy of this command.
    fn run(&self) -> Run;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for procwire_core::Command {}
}

impl CommandExt for Command {
    fn run(&self) -> Run {
        Run::from(self)
    }
}

impl Run {
    /// A run of `program` (searched in `PATH` when it has no `/`), with
    /// no arguments and the parent's environment.
    pub fn new(program: impl AsRef<OsStr>) -> Run {
        Run::from(Command::new(program))
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Run {
        self.command.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Sets an environment variable for the child ([`Command::env`]).
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Run {
        self.command.env(key, value);
        self
    }

    /// Sets several environment variables ([`Command::envs`]).
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Run
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.command.envs(vars);
        self
    }

    /// Removes a variable from the child's environment
    /// ([`Command::env_remove`]).
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Run {
        self.command.env_remove(key);
        self
    }

    /// Starts the child from an empty environment ([`Command::env_clear`]).
    pub fn env_clear(&mut self) -> &mut Run {
        self.command.env_clear();
        self
    }

    /// Runs the child in `dir` ([`Command::current_dir`]).
    pub fn current_dir(&mut self, dir: impl AsRef<std::path::Path>) -> &mut Run {
        self.command.current_dir(dir);
        self
    }

    /// Changes the command with `f`, keeping the chain on the `Run`:
    /// `run.with_command(|c| c.uid(1000).gid(1000)).timeout(..)`.
    pub fn with_command(&mut self, f: impl FnOnce(&mut Command)) -> &mut Run {
        f(&mut self.command);
        self
    }

    /// The command, to set anything else
    /// ([`pty`](Command::pty), [`uid`](Command::uid)...); see
    /// [`with_command`](Self::with_command) to stay in a chain.
    pub fn command(&mut self) -> &mut Command {
        &mut self.command
    }

    /// Bytes to write to the child's stdin, which is closed once they are
    /// written. A child that stops reading early is not an error.
    ///
    /// # Caveats
    ///
    /// procwire relies on Rust's default of ignoring `SIGPIPE`: a host
    /// that resets it to its default disposition is killed by the write to
    /// a child that closed its stdin early.
    pub fn input(&mut self, input: impl Into<Bytes>) -> &mut Run {
        self.input = Some(input.into());
        self
    }

    /// Merges what the child writes to stderr into its stdout, in the order
    /// it arrives. For [`get_process_output`](Self::get_process_output),
    /// stderr output is then no longer an error ([`RunError::Stderr`]);
    /// [`output`](Self::output) and the checked mode merge too;
    /// [`get_process_output_and_value`](Self::get_process_output_and_value)
    /// keeps the two apart. Twisted's `errortoo`.
    pub fn errortoo(&mut self, errortoo: bool) -> &mut Run {
        self.errortoo = errortoo;
        self
    }

    /// Stops the child once it has run this long: SIGTERM, then SIGKILL
    /// after the [`grace`](Self::grace) period, then [`RunError::Timeout`]
    /// with what it wrote. The timeout
    /// also bounds the wait for pipes that the child's own children keep
    /// open after it exited.
    ///
    /// # Panics
    ///
    /// Awaiting a run with a timeout, or one stopped at its
    /// [`max_output`](Self::max_output), panics outside a tokio runtime
    /// with the time driver enabled (`enable_time`, `enable_all`), as
    /// `tokio::time::sleep` does.
    pub fn timeout(&mut self, timeout: Duration) -> &mut Run {
        self.timeout = Some(timeout);
        self
    }

    /// How long a child has between SIGTERM and SIGKILL when it is stopped
    /// for its timeout or output limit; 5 s unless set. Zero sends SIGKILL
    /// at once.
    /// The stop is procwire-core's [`StopLadder`](procwire_core::StopLadder)
    /// with this as its [`StopPolicy`](procwire_core::StopPolicy)'s grace.
    pub fn grace(&mut self, grace: Duration) -> &mut Run {
        self.grace = grace;
        self
    }

    /// The most bytes kept from fd 1 and from fd 2, each (from both
    /// together under [`errortoo`](Self::errortoo)). Past it the child's
    /// pipe is closed, the child is stopped as for a timeout, and the run
    /// fails with [`RunError::OutputLimit`] holding the output up to the
    /// limit. Unlimited unless set. As Node's `maxBuffer`.
    pub fn max_output(&mut self, bytes: usize) -> &mut Run {
        self.max_output = Some(bytes);
        self
    }

    /// Stops the child's own children too: the child leads a new process
    /// group ([`Command::process_group(0)`](Command::process_group), unless
    /// the command starts a session), and the stop ladder of a
    /// [`timeout`](Self::timeout) or [`max_output`](Self::max_output), and
    /// dropping the run, signal the whole group: a shell script's
    /// `sleep`, a build tool's compilers. Without it only the child is
    /// signalled, and a descendant holding the output pipe runs on after
    /// the timeout.
    ///
    /// Safe against pid reuse: the child is reaped only at the end of the
    /// run, so until then its group id cannot belong to anyone else.
    /// Descendants that leave the group (`setsid`, daemons) are not
    /// reached; those still running when a run ends normally are left
    /// alone.
    pub fn stop_group(&mut self, stop_group: bool) -> &mut Run {
        self.stop_group = stop_group;
        self
    }

    /// Runs the child and resolves to its stdout, its stderr and its exit
    /// status: a child that exits non-zero, is killed by a signal or
    /// writes to stderr is not an error; judge `output.status` yourself,
    /// or use [`checked_output`](Self::checked_output) for "it must
    /// succeed". As `tokio::process::Command::output()`.
    ///
    /// Stdin is not the parent's: it is the [`input`](Self::input), or
    /// `/dev/null`. The [`timeout`](Self::timeout),
    /// [`max_output`](Self::max_output) and [`errortoo`](Self::errortoo)
    /// (stderr merged into stdout) apply.
    ///
    /// # Errors
    ///
    /// Only when the run itself fails: [`RunError::Spawn`],
    /// [`RunError::Timeout`], [`RunError::OutputLimit`], [`RunError::Io`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills the child (SIGKILL; its whole group with
    /// [`stop_group`](Self::stop_group)) and hands it to procwire's
    /// reaper: no zombie remains.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), procwire_utils::RunError> {
    /// use procwire_utils::Run;
    ///
    /// let out = Run::new("sh").args(["-c", "echo ok; echo warning >&2; exit 3"]).output().await?;
    /// assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"ok\n"[..], &b"warning\n"[..]));
    /// assert_eq!(out.status.code(), Some(3));
    /// # Ok(()) }
    /// ```
    pub async fn output(&mut self) -> Result<Output, RunError> {
        match self.finish(true, self.errortoo).await {
            Err(RunError::Signal { output, .. }) => Ok(output),
            result => result,
        }
    }

    /// Runs the child and resolves to what it wrote to stdout: output on
    /// stderr is the failure, and the exit code is not looked at.
    /// [`get_process_output_and_value`](Self::get_process_output_and_value)
    /// has the code; [`output`](Self::output) has everything, and fails
    /// for neither stderr output nor a signal. Twisted's
    /// `getProcessOutput`.
    ///
    /// # Errors
    ///
    /// [`RunError::Stderr`] if the child wrote anything to stderr and
    /// [`errortoo`](Self::errortoo) is not set, once the child has ended;
    /// [`RunError::Signal`] if a signal killed it, as the output may be cut
    /// short; and the errors every run has: [`RunError::Spawn`],
    /// [`RunError::Timeout`], [`RunError::OutputLimit`], [`RunError::Io`].
    ///
    /// # Cancel safety
    ///
    /// As [`output`](Self::output).
    pub async fn get_process_output(&mut self) -> Result<Vec<u8>, RunError> {
        let output = self.finish(true, self.errortoo).await?;
        if !self.errortoo && !output.stderr.is_empty() {
            return Err(RunError::Stderr { program: self.program(), output });
        }
        Ok(output.stdout)
    }

    /// Runs the child with its output thrown away and resolves to its exit
    /// code. Twisted's `getProcessValue`.
    ///
    /// # Errors
    ///
    /// [`RunError::Signal`] if a signal killed the child, so that a code
    /// cannot be confused with a signal number. Then
    /// [`RunError::Spawn`], [`RunError::Timeout`], [`RunError::Io`].
    ///
    /// # Cancel safety
    ///
    /// As [`output`](Self::output).
    pub async fn get_process_value(&mut self) -> Result<i32, RunError> {
        let output = self.finish(false, false).await?;
        Ok(output.status.code().unwrap_or_default())
    }

    /// Runs the child and resolves to its stdout, its stderr and its exit
    /// status. A non-zero exit code is not an error; the status says it.
    /// It differs from [`output`](Self::output) in two ways: death by a
    /// signal is an error, and [`errortoo`](Self::errortoo) does not
    /// apply. Twisted's `getProcessOutputAndValue`.
    ///
    /// # Errors
    ///
    /// [`RunError::Signal`] with stdout, stderr and the signal if a signal
    /// killed the child; [`RunError::Spawn`],
    /// [`RunError::Timeout`], [`RunError::OutputLimit`], [`RunError::Io`].
    ///
    /// # Cancel safety
    ///
    /// As [`output`](Self::output).
    pub async fn get_process_output_and_value(&mut self) -> Result<Output, RunError> {
        self.finish(true, false).await
    }

    /// Runs the child and resolves to its stdout, stderr, status and pid
    /// if it succeeded: the checked mode, what a service calling `git`,
    /// `ffmpeg` or a compiler usually wants. An exit code other than 0, or
    /// death by a signal, is [`RunError::Failed`] carrying everything the
    /// child wrote; output on stderr alone is not an error (many programs
    /// write progress or warnings there).
    ///
    /// Which to pick: this for "run it, it must work";
    /// [`output`](Self::output) to judge the status yourself;
    /// [`get_process_output`](Self::get_process_output) when stderr output
    /// is the failure and the exit code does not matter.
    ///
    /// # Errors
    ///
    /// [`RunError::Failed`]; and the errors every run has:
    /// [`RunError::Spawn`], [`RunError::Timeout`], [`RunError::OutputLimit`],
    /// [`RunError::Io`].
    ///
    /// # Cancel safety
    ///
    /// As [`output`](Self::output).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use procwire_utils::{Run, RunError};
    ///
    /// let err = Run::new("sh").args(["-c", "echo oops >&2; exit 3"]).checked_output().await.unwrap_err();
    /// assert!(matches!(&err, RunError::Failed { .. }));
    /// assert_eq!(err.to_string(), "`sh` failed (exit code 3): oops");
    /// let out = Run::new("sh").args(["-c", "echo warn >&2; echo ok"]).checked_output().await.unwrap();
    /// assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"ok\n"[..], &b"warn\n"[..]));
    /// # }
    /// ```
    pub async fn checked_output(&mut self) -> Result<Output, RunError> {
        let output = match self.finish(true, self.errortoo).await {
            Ok(output) => output,
            Err(RunError::Signal { program, output, .. }) => {
                return Err(RunError::Failed { program, output })
            }
            Err(e) => return Err(e),
        };
        if !output.status.success() {
            return Err(RunError::Failed { program: self.program(), output });
        }
        Ok(output)
    }

    /// [`checked_output`](Self::checked_output)'s stdout as a `String`.
    ///
    /// # Errors
    ///
    /// As [`checked_output`](Self::checked_output), plus
    /// [`RunError::NotUtf8`] (with the bytes) when stdout is not UTF-8.
    ///
    /// # Cancel safety
    ///
    /// As [`output`](Self::output).
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), procwire_utils::RunError> {
    /// use std::time::Duration;
    /// let head = procwire_utils::Run::new("echo").arg("abc123").timeout(Duration::from_secs(10)).checked_string().await?;
    /// assert_eq!(head.trim_end(), "abc123");
    /// # Ok(()) }
    /// ```
    pub async fn checked_string(&mut self) -> Result<String, RunError> {
        let mut output = self.checked_output().await?;
        match String::from_utf8(std::mem::take(&mut output.stdout)) {
            Ok(text) => Ok(text),
            Err(e) => {
                let source = e.utf8_error();
                output.stdout = e.into_bytes();
                Err(RunError::NotUtf8 { program: self.program(), source, output })
            }
        }
    }

    fn program(&self) -> String {
        self.command.get_program().to_string_lossy().into_owned()
    }

    /// Spawns the child with fds 0, 1 and 2 set for the run, and starts
    /// collecting; `merge` puts fd 2's bytes into the stdout buffer.
    ///
    /// The run's own settings go on a copy of the command (about 0.6 µs
    /// for a few arguments, against hundreds for the spawn), so the
    /// command stays as the caller left it, and the next run spawns what
    /// the `Run` says then, not what this one set.
    fn start(&self, capture: bool, merge: bool) -> Result<Collect, RunError> {
        let pipe_or_null = |pipe: bool, dir: ChildFd| if pipe { dir } else { ChildFd::Null };
        let mut cmd = self.command.clone();
        if self.stop_group {
            cmd.process_group(0);
        }
        cmd.kill_on_drop(true)
            .stdin(pipe_or_null(self.input.is_some(), ChildFd::WritePipe))
            .stdout(pipe_or_null(capture, ChildFd::ReadPipe))
            .stderr(pipe_or_null(capture, ChildFd::ReadPipe));
        let mut child = cmd.spawn()?;
        let (sources, sink) = match child.take_pty() {
            Some(pty) => {
                let (read, write) = pty.into_split();
                ([Some(Source::Pty(read)), None], Some(Sink::Pty(write)))
            }
            None => (
                [child.take_reader(1).map(Source::Pipe), child.take_reader(2).map(Source::Pipe)],
                child.take_writer(0).map(Sink::Pipe),
            ),
        };
        // Pipes on other fds: closed now, so the child sees end of file or
        // EPIPE instead of waiting on a pipe nobody serves.
        drop((child.take_readers(), child.take_writers()));
        let input = sink.zip(self.input.clone());
        let limits = Limits {
            timeout: self.timeout,
            grace: self.grace,
            max_output: self.max_output.unwrap_or(usize::MAX),
            merge,
            group: self.stop_group,
        };
        Ok(Collect::new(child, input, sources, limits))
    }

    /// Runs the child to the end; an `Ok` output is from a child that
    /// exited with a code, by itself.
    async fn finish(&mut self, capture: bool, merge: bool) -> Result<Output, RunError> {
        let Finished { pid, stdout, stderr, status, cause } = self.start(capture, merge)?.await;
        let output = |status| Output { stdout, stderr, status, pid };
        Err(match (status, cause) {
            (_, Some(Cause::Io(source))) => RunError::Io { program: self.program(), source },
            (None, _) => {
                let source = std::io::Error::other("the child's exit status was lost");
                RunError::Io { program: self.program(), source }
            }
            (Some(status), Some(Cause::Timeout)) => RunError::Timeout {
                program: self.program(),
                after: self.timeout.unwrap_or_default(),
                output: output(status),
            },
            (Some(status), Some(Cause::Limit { fd })) => RunError::OutputLimit {
                program: self.program(),
                limit: self.max_output.unwrap_or(usize::MAX),
                fd,
                output: output(status),
            },
            (Some(status), None) => match status.signal() {
                Some(signal) => RunError::Signal { program: self.program(), signal, output: output(status) },
                None => return Ok(output(status)),
            },
        })
    }
}

/// Runs `program` with `args` and resolves to its stdout.
///
/// Output on stderr is an error ([`RunError::Stderr`], carrying the stderr
/// text and shown in its message) unless
/// [`Run::errortoo`] merges it; the child is always waited for, never left
/// a zombie. Stdin is `/dev/null`. For input, a timeout, an output limit,
/// or a prepared [`Command`], use [`Run`]: this is
/// `Run::new(program).args(args).get_process_output()`. Without
/// arguments, `Run::new(program).get_process_output()` reads better than
/// an empty array (which needs a type: `[""; 0]`).
///
/// The future owns everything it needs (`'static`, `Send`), so it can be
/// spawned as a task.
///
/// Twisted's `utils.getProcessOutput(executable, args)`.
///
/// # Errors
///
/// See [`Run::get_process_output`].
///
/// # Cancel safety
///
/// Dropping the future kills the child and hands it to procwire's reaper.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_utils::RunError> {
/// let out = procwire_utils::get_process_output("echo", ["hi"]).await?;
/// assert_eq!(out, b"hi\n");
/// # Ok(()) }
/// ```
pub fn get_process_output<I, S>(
    program: impl AsRef<OsStr>,
    args: I,
) -> impl Future<Output = Result<Vec<u8>, RunError>> + Send + 'static
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut run = Run::new(program);
    run.args(args);
    async move { run.get_process_output().await }
}

/// Runs `program` with `args`, its output thrown away, and resolves to its
/// exit code.
///
/// A child killed by a signal fails with [`RunError::Signal`], which has
/// the signal number. This is
/// `Run::new(program).args(args).get_process_value()`. Twisted's
/// `utils.getProcessValue(executable, args)`.
///
/// # Errors
///
/// See [`Run::get_process_value`].
///
/// # Cancel safety
///
/// Dropping the future kills the child and hands it to procwire's reaper.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_utils::RunError> {
/// assert_eq!(procwire_utils::get_process_value("sh", ["-c", "exit 23"]).await?, 23);
/// # Ok(()) }
/// ```
pub fn get_process_value<I, S>(
    program: impl AsRef<OsStr>,
    args: I,
) -> impl Future<Output = Result<i32, RunError>> + Send + 'static
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut run = Run::new(program);
    run.args(args);
    async move { run.get_process_value().await }
}

/// Runs `program` with `args` and resolves to its stdout, stderr and exit
/// status.
///
/// Death by a signal fails with [`RunError::Signal`], carrying stdout,
/// stderr and the signal. This is
/// `Run::new(program).args(args).get_process_output_and_value()`.
/// Twisted's `utils.getProcessOutputAndValue(executable, args)`.
///
/// # Errors
///
/// See [`Run::get_process_output_and_value`].
///
/// # Cancel safety
///
/// Dropping the future kills the child and hands it to procwire's reaper.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_utils::RunError> {
/// let out = procwire_utils::get_process_output_and_value("sh", ["-c", "echo no >&2; exit 1"]).await?;
/// assert_eq!((out.stderr, out.status.code()), (b"no\n".to_vec(), Some(1)));
/// # Ok(()) }
/// ```
pub fn get_process_output_and_value<I, S>(
    program: impl AsRef<OsStr>,
    args: I,
) -> impl Future<Output = Result<Output, RunError>> + Send + 'static
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut run = Run::new(program);
    run.args(args);
    async move { run.get_process_output_and_value().await }
}
