//! Line framing for any fd: Twisted's `LineReceiver` mixed into a process
//! protocol, as text ([`Lines`]) or as bytes ([`ByteLines`]).
//!
//! Both cut with procwire-core's [`LineFramer`], one per output fd, by one
//! set of rules: a line ends at `\n`, and a `\r` just before the `\n` is
//! part of the terminator; the maximum length counts the line without its
//! terminator, however the reads split it; a longer line is cut short
//! ([`LongLines::Truncate`]), reported, and the rest of it dropped.

use std::os::fd::RawFd;

use bytes::Bytes;
use procwire_core::lines::{LineFramer, LineRules, LongLines, Span};
use procwire_core::ExitStatus;

use crate::protocol::{EndReason, ProcessProtocol};
use crate::transport::Transport;

/// A [`ProcessProtocol`] that also takes whole lines as text: wrap it in
/// [`Lines`] and [`line_received`](Self::line_received) is called for each
/// line of each output fd, instead of `child_data_received`.
///
/// Where each line goes:
///
/// - valid UTF-8, at most the maximum length: [`line_received`](Self::line_received);
/// - not UTF-8: [`line_not_utf8`](Self::line_not_utf8), whose default
///   passes it on to `line_received` decoded lossily (each invalid
///   sequence becomes U+FFFD), so a protocol that only implements
///   `line_received` still sees it;
/// - longer than the maximum: [`line_length_exceeded`](Self::line_length_exceeded),
///   whose default does nothing: the line is dropped.
///
/// For the exact bytes of any program's output, use [`ByteLineProtocol`].
///
/// # Example
///
/// The names `ls` prints, one per line; a name that is not UTF-8 is
/// reported rather than decoded lossily, and an over-long line closes the
/// pipe, as Twisted's `lineLengthExceeded` does by default.
///
/// ```no_run
/// # async fn doc() -> Result<(), procwire_core::Error> {
/// use std::os::fd::RawFd;
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_process, Bytes, LineProtocol, Lines, Options, ProcessProtocol, Transport};
///
/// #[derive(Default)]
/// struct Names(Vec<String>);
/// impl ProcessProtocol for Names {}
/// impl LineProtocol for Names {
///     fn line_received(&mut self, _t: &mut Transport, fd: RawFd, line: String) {
///         if fd == 1 {
///             self.0.push(line);
///         }
///     }
///     fn line_not_utf8(&mut self, _t: &mut Transport, fd: RawFd, line: Bytes) {
///         eprintln!("fd {fd}: a name of {} bytes that is not UTF-8", line.len());
///     }
///     fn line_length_exceeded(&mut self, t: &mut Transport, fd: RawFd) {
///         t.close_child_fd(fd);
///     }
/// }
///
/// let ls = spawn_process(Lines::new(Names::default(), 4096), Command::new("ls").arg("-1"), Options::new())?;
/// for name in ls.await?.protocol.into_inner().0 {
///     println!("{name}");
/// }
/// # Ok(()) }
/// ```
pub trait LineProtocol: ProcessProtocol {
    /// One complete line from output `fd`, without its `\n` or `\r\n`. A
    /// last line without a newline is delivered, as it is, when the pipe
    /// closes, before `child_connection_lost`.
    fn line_received(&mut self, transport: &mut Transport, fd: RawFd, line: String);

    /// A line (at most the maximum length) that is not valid UTF-8, as the
    /// child wrote it, without its terminator. By default it goes to
    /// [`line_received`](Self::line_received), decoded with
    /// [`String::from_utf8_lossy`].
    fn line_not_utf8(&mut self, transport: &mut Transport, fd: RawFd, line: Bytes) {
        let line = String::from_utf8_lossy(&line).into_owned();
        self.line_received(transport, fd, line)
    }

    /// A line on `fd` is longer than the maximum (Twisted's
    /// `lineLengthExceeded`): called once, as soon as that is known; the
    /// line is dropped through its newline, and the lines after it are
    /// delivered as usual. By default nothing else happens (Twisted's
    /// default closes the connection: call
    /// [`close_child_fd(fd)`](Transport::close_child_fd) for that).
    fn line_length_exceeded(&mut self, transport: &mut Transport, fd: RawFd) {
        let _ = (transport, fd);
    }
}

/// A [`ProcessProtocol`] that also takes whole lines as bytes: wrap it in
/// [`ByteLines`] and [`line_received`](Self::line_received) is called for
/// each line of each output fd, whatever its encoding.
///
/// # Example
///
/// `make`'s output: stdout lines counted, stderr lines kept as the exact
/// bytes the compiler wrote (copied, so each keeps only its own bytes).
///
/// ```no_run
/// # async fn doc() -> Result<(), procwire_core::Error> {
/// use std::os::fd::RawFd;
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_process, ByteLineProtocol, ByteLines, Bytes, Options, ProcessProtocol, Transport};
///
/// #[derive(Default)]
/// struct Build { progress: usize, errors: Vec<Bytes> }
/// impl ProcessProtocol for Build {}
/// impl ByteLineProtocol for Build {
///     fn line_received(&mut self, _t: &mut Transport, fd: RawFd, line: Bytes) {
///         match fd {
///             1 => self.progress += 1,
///             2 => self.errors.push(Bytes::copy_from_slice(&line)),
///             _ => {}
///         }
///     }
/// }
///
/// let make = spawn_process(ByteLines::new(Build::default(), 64 * 1024), &mut Command::new("make"), Options::new())?;
/// let ended = make.await?;
/// let build = ended.protocol.into_inner();
/// println!("{} lines of progress, {} of errors: {}", build.progress, build.errors.len(), ended.reason.status);
/// # Ok(()) }
/// ```
pub trait ByteLineProtocol: ProcessProtocol {
    /// One complete line from output `fd`, without its `\n` or `\r\n`. A
    /// last line without a newline is delivered, as it is, when the pipe
    /// closes, before `child_connection_lost`.
    ///
    /// The line is a slice of the read it came in (no copy): to keep many
    /// small lines without keeping their reads, copy them
    /// ([`Bytes::copy_from_slice`]).
    fn line_received(&mut self, transport: &mut Transport, fd: RawFd, line: Bytes);

    /// A line on `fd` is longer than the maximum; as
    /// [`LineProtocol::line_length_exceeded`].
    fn line_length_exceeded(&mut self, transport: &mut Transport, fd: RawFd) {
        let _ = (transport, fd);
    }
}

impl<P: LineProtocol + ?Sized> LineProtocol for &mut P {
    fn line_received(&mut self, t: &mut Transport, fd: RawFd, line: String) {
        (**self).line_received(t, fd, line)
    }
    fn line_not_utf8(&mut self, t: &mut Transport, fd: RawFd, line: Bytes) {
        (**self).line_not_utf8(t, fd, line)
    }
    fn line_length_exceeded(&mut self, t: &mut Transport, fd: RawFd) {
        (**self).line_length_exceeded(t, fd)
    }
}

impl<P: ByteLineProtocol + ?Sized> ByteLineProtocol for &mut P {
    fn line_received(&mut self, t: &mut Transport, fd: RawFd, line: Bytes) {
        (**self).line_received(t, fd, line)
    }
    fn line_length_exceeded(&mut self, t: &mut Transport, fd: RawFd) {
        (**self).line_length_exceeded(t, fd)
    }
}

/// Frames every output fd of a [`LineProtocol`] into text lines of at most
/// `max_length` bytes (Twisted's `LineReceiver` with `MAX_LENGTH`).
///
/// A line ends at `\n` or `\r\n`; `max_length` counts the line without
/// them. A line that is not UTF-8 goes to
/// [`line_not_utf8`](LineProtocol::line_not_utf8) (by default, lossily
/// decoded, to `line_received`); a line longer than `max_length` goes to
/// [`line_length_exceeded`](LineProtocol::line_length_exceeded) (by
/// default, nowhere) and is dropped through its newline, and nothing after
/// it is lost. At most `max_length + 1` bytes are held per fd.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_core::Error> {
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_process, LineProtocol, Lines, Options, ProcessProtocol, Transport};
///
/// #[derive(Default)]
/// struct Numbered(Vec<String>);
/// impl ProcessProtocol for Numbered {}
/// impl LineProtocol for Numbered {
///     fn line_received(&mut self, _t: &mut Transport, _fd: i32, line: String) {
///         self.0.push(line);
///     }
/// }
///
/// let mut seq = Command::new("seq");
/// seq.arg("3");
/// let ended = spawn_process(Lines::new(Numbered::default(), 1024), &mut seq, Options::new())?.await?;
/// assert_eq!(ended.protocol.into_inner().0, ["1", "2", "3"]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Lines<P> {
    inner: P,
    framer: Framer,
}

/// Frames every output fd of a [`ByteLineProtocol`] into lines of at most
/// `max_length` bytes, whatever their encoding: [`Lines`] without the
/// UTF-8 check, for the output of arbitrary programs.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), procwire_core::Error> {
/// use procwire_core::Command;
/// use procwire_protocol::{spawn_process, ByteLineProtocol, ByteLines, Bytes, Options, ProcessProtocol, Transport};
///
/// #[derive(Default)]
/// struct Raw(Vec<Bytes>);
/// impl ProcessProtocol for Raw {}
/// impl ByteLineProtocol for Raw {
///     fn line_received(&mut self, _t: &mut Transport, _fd: i32, line: Bytes) {
///         self.0.push(line);
///     }
/// }
///
/// let mut printf = Command::new("printf");
/// printf.arg(r"a\n\377b\r\nc");
/// let ended = spawn_process(ByteLines::new(Raw::default(), 1024), &mut printf, Options::new())?.await?;
/// assert_eq!(ended.protocol.into_inner().0, [&b"a"[..], b"\xffb", b"c"]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ByteLines<P> {
    inner: P,
    framer: Framer,
}

/// The wrappers' methods: they differ only in how a frame is delivered.
macro_rules! wrapper {
    ($ty:ident, $bound:ident, $deliver:ident) => {
        impl<P: $bound> $ty<P> {
            /// Frames `inner`'s output into lines of at most `max_length`
            /// bytes, not counting the `\n` or `\r\n`.
            pub fn new(inner: P, max_length: usize) -> Self {
                $ty { inner, framer: Framer::new(max_length) }
            }

            /// The wrapped protocol.
            pub fn inner(&self) -> &P {
                &self.inner
            }

            /// The wrapped protocol, mutably.
            pub fn inner_mut(&mut self) -> &mut P {
                &mut self.inner
            }

            /// Unwraps the protocol (a line not ended yet is dropped).
            pub fn into_inner(self) -> P {
                self.inner
            }
        }

        impl<P: $bound> ProcessProtocol for $ty<P> {
            fn connection_made(&mut self, t: &mut Transport) {
                self.inner.connection_made(t)
            }
            fn child_data_received(&mut self, t: &mut Transport, fd: RawFd, data: Bytes) {
                let inner = &mut self.inner;
                self.framer.feed(fd, data, |chunk, span| $deliver(inner, t, fd, chunk, span));
            }
            fn child_connection_lost(&mut self, t: &mut Transport, fd: RawFd) {
                let inner = &mut self.inner;
                self.framer.finish(fd, |chunk, span| $deliver(inner, t, fd, chunk, span));
                self.inner.child_connection_lost(t, fd)
            }
            fn process_exited(&mut self, t: &mut Transport, status: ExitStatus) {
                self.inner.process_exited(t, status)
            }
            fn process_ended(&mut self, t: &mut Transport, reason: EndReason) {
                self.inner.process_ended(t, reason)
            }
            fn pause_producing(&mut self, t: &mut Transport) {
                self.inner.pause_producing(t)
            }
            fn resume_producing(&mut self, t: &mut Transport) {
                self.inner.resume_producing(t)
            }
        }
    };
}

wrapper!(Lines, LineProtocol, deliver_text);
wrapper!(ByteLines, ByteLineProtocol, deliver_bytes);

fn deliver_text<P: LineProtocol>(p: &mut P, t: &mut Transport, fd: RawFd, chunk: &Bytes, span: &Span) {
    if span.continued {
        return p.line_length_exceeded(t, fd);
    }
    // Decoded from the chunk: no `Bytes` of its own unless it is not UTF-8.
    match std::str::from_utf8(&chunk[span.start..span.end]) {
        Ok(text) => p.line_received(t, fd, text.to_owned()),
        Err(_) => p.line_not_utf8(t, fd, chunk.slice(span.start..span.end)),
    }
}

fn deliver_bytes<P: ByteLineProtocol>(p: &mut P, t: &mut Transport, fd: RawFd, chunk: &Bytes, span: &Span) {
    if span.continued {
        return p.line_length_exceeded(t, fd);
    }
    p.line_received(t, fd, chunk.slice(span.start..span.end))
}

/// The rules of [`Lines`], [`ByteLines`] and the line stream: `\r\n` ends
/// a line as `\n` does; a line longer than `max_length` is cut short
/// (`continued`: too long) and the rest of it dropped.
pub(crate) fn rules(max_length: usize) -> LineRules {
    LineRules::new(max_length).with_crlf(true).with_long_lines(LongLines::Truncate)
}

/// A [`LineFramer`] per output fd with a line begun, by the wrappers'
/// rules.
#[derive(Debug)]
struct Framer {
    rules: LineRules,
    fds: Vec<(RawFd, LineFramer)>,
    /// Where the lines of a chunk are, reused from read to read.
    spans: Vec<Span>,
}

impl Framer {
    fn new(max_length: usize) -> Framer {
        Framer { rules: rules(max_length), fds: Vec::new(), spans: Vec::new() }
    }

    /// Frames `data`, the next bytes of `fd`; `out` gets each line, in
    /// order, as a chunk and where the line is in it (a `continued` one:
    /// too long).
    fn feed(&mut self, fd: RawFd, data: Bytes, mut out: impl FnMut(&Bytes, &Span)) {
        let i = match self.fds.iter().position(|(f, _)| *f == fd) {
            Some(i) => i,
            None => {
                self.fds.push((fd, LineFramer::with_rules(self.rules)));
                self.fds.len() - 1
            }
        };
        let framer = &mut self.fds[i].1;
        framer.push_bytes(data);
        while let Some(chunk) = framer.take_lines(&mut self.spans) {
            for span in &self.spans {
                out(&chunk, span);
            }
        }
    }

    /// `fd` reached its end: what is left of its line is one, as it is.
    fn finish(&mut self, fd: RawFd, mut out: impl FnMut(&Bytes, &Span)) {
        let Some(i) = self.fds.iter().position(|(f, _)| *f == fd) else { return };
        let (_, mut framer) = self.fds.swap_remove(i);
        framer.finish();
        while let Some(chunk) = framer.take_lines(&mut self.spans) {
            for span in &self.spans {
                out(&chunk, span);
            }
        }
    }
}

/// The framer as the fuzz target drives it (see `crate::__fuzz`).
#[cfg(fuzzing)]
pub(crate) mod fuzz {
    use super::*;

    /// [`Lines`]' framer on its own: bytes of any fd in, frames out.
    #[derive(Debug)]
    pub struct Framer(super::Framer);

    impl Framer {
        /// Lines of at most `max_length` bytes.
        pub fn new(max_length: usize) -> Framer {
            Framer(super::Framer::new(max_length))
        }

        /// The next bytes of `fd`; `out` gets each line, `None` for one
        /// too long.
        pub fn feed(&mut self, fd: RawFd, data: Bytes, mut out: impl FnMut(Option<Bytes>)) {
            self.0.feed(fd, data, |chunk, span| out(line(chunk, span)))
        }

        /// The end of `fd`.
        pub fn finish(&mut self, fd: RawFd, mut out: impl FnMut(Option<Bytes>)) {
            self.0.finish(fd, |chunk, span| out(line(chunk, span)))
        }

        /// The bytes held for `fd`'s line begun.
        pub fn held(&self, fd: RawFd) -> usize {
            self.0.fds.iter().find(|(f, _)| *f == fd).map_or(0, |(_, f)| f.buffered())
        }

        /// The fds with a line begun.
        pub fn open_fds(&self) -> usize {
            self.0.fds.len()
        }
    }

    fn line(chunk: &Bytes, span: &Span) -> Option<Bytes> {
        (!span.continued).then(|| chunk.slice(span.start..span.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a wrapped protocol was given, per callback.
    #[derive(Debug, PartialEq, Eq)]
    enum Got {
        Text(RawFd, String),
        Raw(RawFd, Vec<u8>),
        NotUtf8(RawFd, Vec<u8>),
        TooLong(RawFd),
        Lost(RawFd),
    }

    /// Implements `line_received` only, and records everything.
    #[derive(Debug, Default)]
    struct Rec(Vec<Got>);

    impl ProcessProtocol for Rec {
        fn child_connection_lost(&mut self, _t: &mut Transport, fd: RawFd) {
            self.0.push(Got::Lost(fd));
        }
    }

    impl LineProtocol for Rec {
        fn line_received(&mut self, _t: &mut Transport, fd: RawFd, line: String) {
            self.0.push(Got::Text(fd, line));
        }
    }

    impl ByteLineProtocol for Rec {
        fn line_received(&mut self, _t: &mut Transport, fd: RawFd, line: Bytes) {
            self.0.push(Got::Raw(fd, line.to_vec()));
        }
        fn line_length_exceeded(&mut self, _t: &mut Transport, fd: RawFd) {
            self.0.push(Got::TooLong(fd));
        }
    }

    /// Overrides every line callback.
    #[derive(Debug, Default)]
    struct Picky(Vec<Got>);

    impl ProcessProtocol for Picky {}

    impl LineProtocol for Picky {
        fn line_received(&mut self, _t: &mut Transport, fd: RawFd, line: String) {
            self.0.push(Got::Text(fd, line));
        }
        fn line_not_utf8(&mut self, _t: &mut Transport, fd: RawFd, line: Bytes) {
            self.0.push(Got::NotUtf8(fd, line.to_vec()));
        }
        fn line_length_exceeded(&mut self, _t: &mut Transport, fd: RawFd) {
            self.0.push(Got::TooLong(fd));
        }
    }

    /// Feeds `reads` to `p` as fd 1's reads, then its end of file.
    fn drive<P: ProcessProtocol>(mut p: P, reads: &[&[u8]]) -> P {
        let mut t = Transport::detached();
        for read in reads {
            p.child_data_received(&mut t, 1, Bytes::copy_from_slice(read));
        }
        p.child_connection_lost(&mut t, 1);
        p
    }

    fn text(lines: &[&str]) -> Vec<Got> {
        let mut got: Vec<Got> = lines.iter().map(|l| Got::Text(1, (*l).to_owned())).collect();
        got.push(Got::Lost(1));
        got
    }

    fn raw(lines: &[&[u8]]) -> Vec<Got> {
        let mut got: Vec<Got> = lines.iter().map(|l| Got::Raw(1, l.to_vec())).collect();
        got.push(Got::Lost(1));
        got
    }

    // Issue 9, defect 4: `printf 'a\n\377b\nc\n'` gave ["a", "c"] to a
    // protocol with only `line_received`.
    #[test]
    fn lines_non_utf8_line_is_not_lost_silently() {
        let input: &[&[u8]] = &[b"a\n\xffb\nc\n"];
        let got = drive(Lines::new(Rec::default(), 80), input).into_inner().0;
        assert_eq!(got, text(&["a", "\u{fffd}b", "c"]));
        let got = drive(Lines::new(Picky::default(), 80), input).into_inner().0;
        assert_eq!(got[1], Got::NotUtf8(1, b"\xffb".to_vec()), "{got:?}");
        let got = drive(ByteLines::new(Rec::default(), 80), input).into_inner().0;
        assert_eq!(got, raw(&[b"a", b"\xffb", b"c"]));
    }

    /// Twisted's `lineLengthExceeded`: a line over the maximum is reported
    /// once, as soon as it is known, and dropped through its newline; the
    /// rest of the same read, and the reads after, are delivered. (How
    /// lines are cut, `\r\n` and all, is the framer's:
    /// `procwire_core::lines`' tests.)
    #[test]
    fn lines_too_long_line_costs_only_itself() {
        let reads: &[&[u8]] = &[b"ok\nxxxx", b"xxxx", b"xxxx", b"x\nnext\nla", b"st"];
        let got = drive(Lines::new(Picky::default(), 4), reads).into_inner().0;
        let want = [
            Got::Text(1, "ok".into()),
            Got::TooLong(1),
            Got::Text(1, "next".into()),
            Got::Text(1, "last".into()),
        ];
        assert_eq!(got, want);
        // Reported before its end arrived: at the read that passed the maximum.
        let got = drive(Lines::new(Picky::default(), 4), &[b"xxxxx"]).into_inner().0;
        assert_eq!(got, [Got::TooLong(1)]);
        // The same through `ByteLines`; the maximum counts the line without `\r\n`.
        let got = drive(ByteLines::new(Rec::default(), 4), &[b"abcd\r\nabcde\r\nok"]).into_inner().0;
        assert_eq!(
            got,
            [Got::Raw(1, b"abcd".to_vec()), Got::TooLong(1), Got::Raw(1, b"ok".to_vec()), Got::Lost(1)]
        );
    }

    /// Each fd has its own line; a last line without a newline comes
    /// before its fd's lost callback.
    #[test]
    fn lines_per_fd_and_last_line_before_lost() {
        let mut t = Transport::detached();
        let mut p = Lines::new(Rec::default(), 80);
        p.child_data_received(&mut t, 1, Bytes::from_static(b"out "));
        p.child_data_received(&mut t, 2, Bytes::from_static(b"err\nerr tail"));
        p.child_data_received(&mut t, 1, Bytes::from_static(b"line\n"));
        p.child_connection_lost(&mut t, 2);
        p.child_connection_lost(&mut t, 1);
        let want = [
            Got::Text(2, "err".into()),
            Got::Text(1, "out line".into()),
            Got::Text(2, "err tail".into()),
            Got::Lost(2),
            Got::Lost(1),
        ];
        assert_eq!(p.into_inner().0, want);
    }
}

#[cfg(test)]
#[path = "lines/props.rs"]
mod props;
