//! A child's output lines as a `Stream`, for `while let Some(..) = ...`:
//! no protocol to write, the rules of [`ByteLines`](crate::ByteLines).
//! The child's events (as [`ProcessEvents`](crate::ProcessEvents) queues
//! them) are cut into lines as they are taken, one read at a time: no
//! record per line is queued.

use std::fmt;
use std::future::poll_fn;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::str::Utf8Error;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use procwire_core::lines::{LineFramer, LineRules};
use procwire_core::{Child, Command, Error, ExitStatus, StdioDefaults};

use crate::driver::{Driver, Options};
use crate::events::{Collector, Event};
use crate::lines;
use crate::queued::Queued;
use crate::transport::Transport;

/// One line a child wrote: the fd it came from and its bytes, without the
/// `\n` or `\r\n`, exactly as written.
///
/// Text is one call away, and never an error that ends the stream:
/// [`text`](Self::text) and `Display` decode lossily (an invalid sequence
/// becomes U+FFFD, as [`String::from_utf8_lossy`]);
/// [`to_str`](Self::to_str) refuses a line that is not UTF-8.
///
/// ```
/// use procwire_protocol::{Bytes, OutputLine};
///
/// let line = OutputLine::new(2, Bytes::from_static(b"caf\xe9"));
/// assert_eq!((line.fd, &line.text()[..]), (2, "caf\u{fffd}"));
/// assert_eq!(line.to_string(), "caf\u{fffd}");
/// assert!(line.to_str().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputLine {
    /// The child's fd: 1 for stdout, 2 for stderr (1 for a terminal).
    pub fd: RawFd,
    /// The line, as the child wrote it, without its terminator.
    pub bytes: Bytes,
}

impl OutputLine {
    /// A line of `fd`, for code that builds its own (a test's, say).
    pub fn new(fd: RawFd, bytes: Bytes) -> OutputLine {
        OutputLine { fd, bytes }
    }

    /// The line as text, lossily: borrowed when it is UTF-8.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// The line as text.
    ///
    /// # Errors
    ///
    /// When it is not UTF-8.
    pub fn to_str(&self) -> Result<&str, Utf8Error> {
        std::str::from_utf8(&self.bytes)
    }
}

/// The line as [`text`](OutputLine::text) gives it, without allocating.
impl fmt::Display for OutputLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.bytes.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

/// What [`ProcessLines`] gives: the lines of every output fd, in the order
/// they were read, then the exit status, last.
///
/// More kinds may come: a `match` outside this crate needs a `_` arm.
///
/// ```
/// use procwire_core::ExitStatus;
/// use procwire_protocol::{Bytes, LineEvent, OutputLine};
///
/// fn describe(event: &LineEvent) -> String {
///     match event {
///         LineEvent::Line(line) => format!("fd {}: {line}", line.fd),
///         LineEvent::TooLong { fd } => format!("fd {fd}: a line too long"),
///         LineEvent::Exited(status) => format!("exited: {status}"),
///         _ => "something newer".to_owned(),
///     }
/// }
///
/// let line = LineEvent::Line(OutputLine::new(1, Bytes::from_static(b"hi")));
/// assert_eq!(describe(&line), "fd 1: hi");
/// assert_eq!(describe(&LineEvent::Exited(ExitStatus::from_raw(0))), "exited: exit code 0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineEvent {
    /// A line (the last one of an fd may have had no `\n`).
    Line(OutputLine),
    /// A line of `fd` was longer than the maximum: it is dropped, through
    /// its end, and the lines after it come as usual
    /// ([`ByteLineProtocol::line_length_exceeded`](crate::ByteLineProtocol::line_length_exceeded)).
    TooLong {
        /// The child's fd.
        fd: RawFd,
    },
    /// The child's exit status: the last item, once the child is reaped
    /// and every output pipe is closed, so every line came before it.
    Exited(ExitStatus),
}

/// Spawns `command` and returns its output as a stream of lines: the
/// everyday case of [`Lines`](crate::Lines), without a protocol to write.
///
/// Fds 0, 1 and 2 that the command leaves unset are
/// [`StdioDefaults::Output`]: stdout and stderr on pipes, stdin
/// `/dev/null`. Every output pipe the command has is read (a terminal
/// too); an input pipe it asks for is written through
/// [`transport`](ProcessLines::transport).
///
/// # Errors
///
/// Spawn errors, as [`Command::spawn`].
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_core::Error> {
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_lines, LineEvent};
///
/// let mut lines = spawn_lines(Command::new("sh").args(["-c", "echo out; echo err >&2"]))?;
/// let mut got = Vec::new();
/// while let Some(event) = lines.next_line().await? {
///     match event {
///         LineEvent::Line(line) => got.push((line.fd, line.to_string())),
///         LineEvent::Exited(status) => assert!(status.success()),
///         _ => {}
///     }
/// }
/// got.sort(); // two pipes: which is read first is the scheduler's
/// assert_eq!(got, [(1, "out".to_owned()), (2, "err".to_owned())]);
/// # Ok(()) }
/// ```
pub fn spawn_lines(command: &mut Command) -> Result<ProcessLines, Error> {
    Ok(ProcessLines::new(command.spawn_with(StdioDefaults::Output)?))
}

/// A child's output as a [`Stream`] of [`LineEvent`]s: each line of each
/// output fd with the fd it came from, merged in the order they were
/// read, then [`LineEvent::Exited`]; from [`spawn_lines`], or from a
/// [`Child`] with [`new`](Self::new).
///
/// The lines follow [`ByteLines`](crate::ByteLines)' rules: a line ends at `\n`, a `\r` just
/// before it is part of the terminator, the last line of an fd comes even
/// without its `\n`, bytes that are not UTF-8 are kept (see
/// [`OutputLine`]), and a line longer than the maximum (64 KiB unless
/// [`max_length`](Self::max_length) says otherwise) is dropped and
/// reported as [`LineEvent::TooLong`]. Each fd's lines are in its own
/// order; how two fds interleave depends on when their reads happen, as
/// with any two pipes. The child's output is read only while the stream
/// is polled, so a slow consumer pushes back on the child.
///
/// What it costs: the protocol driver (as [`spawn_process`](crate::spawn_process),
/// without a task) and a [`LineFramer`] per output fd, which cuts each
/// read's lines as they are taken; a line is a slice of the read it came
/// in, not a copy (copy one to keep it without its read).
///
/// # Cancel safety
///
/// Dropping the stream drops the [`Child`]: the child is reaped in the
/// background, never left a zombie (and killed first if the command set
/// [`kill_on_drop`](Command::kill_on_drop)); its pipes close, so a child
/// still writing gets `SIGPIPE`.
///
/// # Caveats
///
/// As with tokio's `lines()`, a grandchild that inherited an output pipe
/// keeps the stream open until it closes it;
/// [`ProcessLines::with_options`] with an [`Options::drain_deadline`]
/// bounds that wait.
///
/// # Example
///
/// A child spawned by hand, its stdin written first:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use procwire_core::{Command, StdioDefaults};
/// use procwire_protocol::{LineEvent, ProcessLines};
/// use tokio::io::AsyncWriteExt;
///
/// let mut child = Command::new("sort").spawn_with(StdioDefaults::Twisted)?;
/// let mut stdin = child.take_writer(0).unwrap();
/// stdin.write_all(b"b\na\n").await?;
/// drop(stdin);
/// let mut lines = ProcessLines::new(child).max_length(1024);
/// let mut sorted = Vec::new();
/// while let Some(event) = lines.next_line().await? {
///     if let LineEvent::Line(line) = event {
///         sorted.push(line.to_string());
///     }
/// }
/// assert_eq!(sorted, ["a", "b"]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProcessLines {
    /// The child's events: its reads are cut into lines as they are taken.
    events: Queued<Collector>,
    rules: LineRules,
    /// A framer per output fd with a line begun.
    fds: Vec<(RawFd, LineFramer)>,
    /// The framer with lines to give, and whether its fd has ended (then it
    /// goes once it has given them).
    giving: Option<(usize, bool)>,
}

impl ProcessLines {
    /// The maximum line length unless [`max_length`](Self::max_length)
    /// says otherwise: 64 KiB, a pipe's size.
    pub const DEFAULT_MAX_LENGTH: usize = 64 * 1024;

    /// The lines of a spawned child: of every output pipe it has (and its
    /// terminal); its input pipes are written through
    /// [`transport`](Self::transport), or taken before
    /// ([`Child::take_writer`]) and written directly.
    pub fn new(child: Child) -> ProcessLines {
        ProcessLines::with_options(child, Options::new())
    }

    /// [`new`](Self::new), driven with `options`: an
    /// [`Options::drain_deadline`] ends the stream that long after the
    /// child's exit even if a grandchild still holds an output pipe (the
    /// pipes are closed then, and what the grandchild writes later is
    /// lost); the flow-control marks and the read size.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use procwire_core::{Command, StdioDefaults};
    /// use procwire_protocol::{LineEvent, Options, ProcessLines};
    ///
    /// // The shell's background `sleep` keeps stdout open for 10 s.
    /// let child = Command::new("sh").args(["-c", "sleep 10 & echo started"]).spawn_with(StdioDefaults::Twisted)?;
    /// let options = Options::new().drain_deadline(Duration::from_millis(100));
    /// let mut lines = ProcessLines::with_options(child, options);
    /// let mut last = None;
    /// while let Some(event) = lines.next_line().await? {
    ///     last = Some(event); // "started", then the exit status, within 100 ms of the exit
    /// }
    /// assert!(matches!(last, Some(LineEvent::Exited(status)) if status.success()));
    /// # Ok(()) }
    /// ```
    pub fn with_options(child: Child, options: Options) -> ProcessLines {
        ProcessLines {
            events: Queued::new(Driver::new(Collector::default(), child, options)),
            rules: lines::rules(ProcessLines::DEFAULT_MAX_LENGTH),
            fds: Vec::new(),
            giving: None,
        }
    }

    /// Lines of at most `max_length` bytes, not counting the `\n` or
    /// `\r\n`; longer ones are [`LineEvent::TooLong`]. For the lines begun
    /// from now on: set it before the first poll.
    pub fn max_length(mut self, max_length: usize) -> ProcessLines {
        self.rules = lines::rules(max_length);
        self
    }

    /// The next line, or, last, the exit status; `Ok(None)` after it. As
    /// tokio's `Lines::next_line`, for `while let Some(..) = lines.next_line().await?`;
    /// the same items as the [`Stream`].
    ///
    /// # Errors
    ///
    /// A failure to wait for the child (the stream ends after it).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a line is never lost by dropping the future.
    pub async fn next_line(&mut self) -> Result<Option<LineEvent>, Error> {
        poll_fn(|cx| self.poll_line(cx)).await.transpose()
    }

    /// The transport, to signal the child, write to an input pipe the
    /// command asked for, close pipes or pause reading; what it queues is
    /// flushed while the stream is polled. `None` once the stream has
    /// ended.
    pub fn transport(&mut self) -> Option<&mut Transport> {
        self.events.transport()
    }

    /// The next line of the framer giving lines, or of the next read;
    /// `Exited` at the end.
    #[inline]
    fn poll_line(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<LineEvent, Error>>> {
        loop {
            if let Some((i, ended)) = self.giving {
                let (fd, framer) = &mut self.fds[i];
                if let Some(line) = framer.next_line() {
                    let fd = *fd;
                    return Poll::Ready(Some(Ok(if line.continued {
                        LineEvent::TooLong { fd }
                    } else {
                        LineEvent::Line(OutputLine { fd, bytes: line.bytes })
                    })));
                }
                if ended {
                    self.fds.swap_remove(i);
                }
                self.giving = None;
            }
            match ready!(self.events.poll_next(cx)) {
                Some(Ok(Event::Data { fd, data })) => {
                    let i = match self.fds.iter().position(|(f, _)| *f == fd) {
                        Some(i) => i,
                        None => {
                            self.fds.push((fd, LineFramer::with_rules(self.rules)));
                            self.fds.len() - 1
                        }
                    };
                    self.fds[i].1.push_bytes(data);
                    self.giving = Some((i, false));
                }
                Some(Ok(Event::Closed { fd })) => {
                    if let Some(i) = self.fds.iter().position(|(f, _)| *f == fd) {
                        self.fds[i].1.finish();
                        self.giving = Some((i, true));
                    }
                }
                Some(Ok(Event::Ended(reason))) => {
                    return Poll::Ready(Some(Ok(LineEvent::Exited(reason.status))))
                }
                // The reap: the status comes with `Ended`, after the last line.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl From<Child> for ProcessLines {
    fn from(child: Child) -> ProcessLines {
        ProcessLines::new(child)
    }
}

impl Stream for ProcessLines {
    type Item = Result<LineEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_line(cx)
    }
}
