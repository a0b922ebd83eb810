//! One sd_notify datagram into a [`Notification`]: a pure function, read
//! the way systemd's `service_notify_message` reads it.

/// The largest datagram read: systemd's `NOTIFY_BUFFER_MAX` (`PIPE_BUF`,
/// 4096 bytes). A longer one is a [`Rejection::TooLarge`].
pub(crate) const MAX_DATAGRAM: usize = 4096;

/// One sd_notify message, as a program sent it to the supervisor
/// (`sd_notify(0, "READY=1\nSTATUS=listening")`).
///
/// A datagram is newline-separated `KEY=VALUE` assignments
/// ([sd_notify(3)](https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html));
/// each field below is the key it is named after, `None` or `false` when
/// the datagram did not carry it. The rules are systemd's:
///
/// - **Unknown keys are ignored** (`FDSTORE=1`, `NOTIFYACCESS=`,
///   `BUSERROR=`, `X_...`): the protocol is extensible and programs send
///   them freely.
/// - **A bad line is ignored, not the datagram**: a line without `=`, a
///   line that is not UTF-8, a known key with a value it does not take
///   (`READY=0`, `MAINPID=0`, `WATCHDOG=yes`). systemd logs these and
///   applies the rest; procwire lists them in [`ignored`](Self::ignored)
///   for the supervisor to report.
/// - **The first assignment of a value key wins** (`STATUS=`, `MAINPID=`,
///   `ERRNO=`, `WATCHDOG=`, `WATCHDOG_USEC=`, `EXTEND_TIMEOUT_USEC=`,
///   `MONOTONIC_USEC=`), even when its value is bad: systemd looks each
///   key up with `strv_find_startswith`, which returns the first line.
///   Later ones are listed as [`IgnoreReason::Duplicate`]. The flags
///   (`READY=1`, `RELOADING=1`, `STOPPING=1`, `BARRIER=1`) are set when
///   any line says so.
/// - Lines end at `\n` or `\r`; empty lines are skipped, so a trailing
///   newline (or none, as sd_notify(3) allows) makes no difference.
/// - Numbers are plain ASCII decimal: no sign, no spaces, no `0x`
///   (systemd's parsers take more; no client sends it).
///
/// What makes a whole datagram unreadable is a [`Rejection`].
///
/// # Examples
///
/// ```
/// use procwire_supervisor::{Notification, WatchdogPing};
///
/// let n = Notification::parse(b"READY=1\nSTATUS=listening on :80\nWATCHDOG=1\nX_MINE=7\n")?;
/// assert!(n.ready);
/// assert_eq!(n.status.as_deref(), Some("listening on :80"));
/// assert_eq!(n.watchdog, Some(WatchdogPing::Ping));
/// assert!(n.ignored.is_empty()); // X_MINE is unknown: ignored silently
///
/// let n = Notification::parse(b"READY=0\nMAINPID=4711")?;
/// assert!(!n.ready); // READY=0 is not a thing: listed in `ignored`
/// assert_eq!(n.main_pid, Some(4711));
/// assert_eq!(n.ignored.len(), 1);
/// # Ok::<(), procwire_supervisor::Rejection>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notification {
    /// `READY=1`: start-up (or a reload) is complete.
    pub ready: bool,
    /// `RELOADING=1`: the program began reloading its configuration; it
    /// sends `READY=1` when done.
    pub reloading: bool,
    /// `STOPPING=1`: the program began shutting down.
    pub stopping: bool,
    /// `STATUS=...`: a free-form one-line status. `Some("")` (`STATUS=`)
    /// clears the previous status, as in systemd.
    pub status: Option<String>,
    /// `ERRNO=...`: the errno the program failed with, 0 to 4095 (systemd
    /// also takes names such as `ENOENT`; procwire takes numbers only).
    pub errno: Option<i32>,
    /// `WATCHDOG=1` or `WATCHDOG=trigger`.
    pub watchdog: Option<WatchdogPing>,
    /// `WATCHDOG_USEC=...`: a new watchdog timeout, in microseconds; 0
    /// turns the watchdog off, as in systemd.
    pub watchdog_usec: Option<u64>,
    /// `EXTEND_TIMEOUT_USEC=...`: the program needs this many more
    /// microseconds for the current phase (start, run, stop).
    pub extend_timeout_usec: Option<u64>,
    /// `MAINPID=...`: the program's main process is now this pid (> 0).
    pub main_pid: Option<u32>,
    /// `MONOTONIC_USEC=...`: when the message was made, on
    /// `CLOCK_MONOTONIC`, in microseconds; sent with `RELOADING=1` so that
    /// a reload is known to have begun after the supervisor asked for it.
    pub monotonic_usec: Option<u64>,
    /// `BARRIER=1` (`sd_notify_barrier`): the sender passed a pipe's write
    /// end and waits for it to be closed, which the supervisor does on
    /// receipt, after every earlier datagram. Unlike systemd, which drops
    /// the other assignments of a barrier datagram as a protocol
    /// violation, procwire applies them.
    pub barrier: bool,
    /// The lines that were skipped, each with why (empty when everything
    /// was understood or unknown).
    pub ignored: Vec<IgnoredLine>,
}

/// The value of `WATCHDOG=`.
///
/// ```
/// use procwire_supervisor::{Notification, WatchdogPing};
///
/// assert_eq!(Notification::parse(b"WATCHDOG=trigger")?.watchdog, Some(WatchdogPing::Trigger));
/// # Ok::<(), procwire_supervisor::Rejection>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchdogPing {
    /// `WATCHDOG=1`: the keep-alive ping; re-arms the watchdog timer.
    Ping,
    /// `WATCHDOG=trigger`: the program found itself broken; act as if the
    /// watchdog timer had run out.
    Trigger,
}

/// A line of a datagram that [`Notification::parse`] skipped.
///
/// ```
/// use procwire_supervisor::{IgnoreReason, Notification};
///
/// let n = Notification::parse(b"READY=1\nhello\nSTATUS=a\nSTATUS=b")?;
/// assert_eq!(n.status.as_deref(), Some("a"));
/// assert_eq!(n.ignored[0].line, "hello");
/// assert_eq!(n.ignored[0].reason, IgnoreReason::NoEquals);
/// assert_eq!(n.ignored[1].reason, IgnoreReason::Duplicate);
/// # Ok::<(), procwire_supervisor::Rejection>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IgnoredLine {
    /// The line (invalid UTF-8 replaced by U+FFFD).
    pub line: String,
    /// Why it was skipped.
    pub reason: IgnoreReason,
}

/// Why a line was skipped; see [`IgnoredLine`].
///
/// ```
/// use procwire_supervisor::{IgnoreReason, Notification};
///
/// let n = Notification::parse(b"MAINPID=0\nSTATUS=caf\xe9")?;
/// let reasons: Vec<_> = n.ignored.iter().map(|i| i.reason).collect();
/// assert_eq!(reasons, [IgnoreReason::InvalidValue, IgnoreReason::NotUtf8]);
/// # Ok::<(), procwire_supervisor::Rejection>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IgnoreReason {
    /// The line has no `=`.
    NoEquals,
    /// The line is not UTF-8.
    NotUtf8,
    /// A known key with a value it does not take (`READY=0`, `MAINPID=-1`,
    /// `WATCHDOG_USEC=-1`, `ERRNO=5000`).
    InvalidValue,
    /// A value key already assigned earlier in the datagram (the first
    /// one wins).
    Duplicate,
}

/// Why a whole datagram was not read.
///
/// ```
/// use procwire_supervisor::{Notification, Rejection};
///
/// assert_eq!(Notification::parse(b"\n\n"), Err(Rejection::Empty));
/// assert_eq!(Notification::parse(b"READY=1\0MAINPID=1"), Err(Rejection::EmbeddedNul { at: 7 }));
/// let big = vec![b'x'; 5000];
/// assert_eq!(Notification::parse(&big), Err(Rejection::TooLarge { len: 5000 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Longer than 4096 bytes, systemd's limit (`NOTIFY_BUFFER_MAX`).
    #[error("notification of {len} bytes is over the 4096-byte limit")]
    TooLarge {
        /// The datagram's length.
        len: usize,
    },
    /// No `SCM_CREDENTIALS`, or credentials without a pid (a sender in a
    /// pid namespace the supervisor cannot see): the sender is unknown.
    #[error("notification without sender credentials")]
    NoCredentials,
    /// The ancillary data did not fit: more descriptors than a datagram
    /// can carry, or control messages the supervisor did not ask for.
    #[error("notification with truncated ancillary data")]
    ControlTruncated,
    /// A NUL byte before the end (one trailing NUL is allowed, as in
    /// systemd).
    #[error("notification with a NUL byte at offset {at}")]
    EmbeddedNul {
        /// Its offset in the datagram.
        at: usize,
    },
    /// No line at all: zero bytes, or only newlines.
    #[error("empty notification")]
    Empty,
}

/// The value keys, each read once (the first assignment wins).
#[derive(Clone, Copy)]
enum ValueKey {
    Status,
    Errno,
    Watchdog,
    WatchdogUsec,
    ExtendTimeoutUsec,
    MainPid,
    MonotonicUsec,
}

impl Notification {
    /// Reads one datagram: `bytes` as the sender sent it.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] when the datagram as a whole cannot be read: over
    /// 4096 bytes, a NUL byte before its end, or no line at all. Bad lines
    /// are not errors; they are listed in [`ignored`](Self::ignored).
    ///
    /// ```
    /// use procwire_supervisor::Notification;
    ///
    /// let n = Notification::parse(b"RELOADING=1\nMONOTONIC_USEC=123456789\n")?;
    /// assert!(n.reloading && !n.ready);
    /// assert_eq!(n.monotonic_usec, Some(123_456_789));
    /// # Ok::<(), procwire_supervisor::Rejection>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Notification, Rejection> {
        if bytes.len() > MAX_DATAGRAM {
            return Err(Rejection::TooLarge { len: bytes.len() });
        }
        let body = bytes.strip_suffix(b"\0").unwrap_or(bytes);
        if let Some(at) = body.iter().position(|&b| b == 0) {
            return Err(Rejection::EmbeddedNul { at });
        }
        let mut n = Notification::default();
        let mut seen = 0u8;
        let mut lines = 0usize;
        for raw in body.split(|&b| b == b'\n' || b == b'\r').filter(|l| !l.is_empty()) {
            lines += 1;
            let ignore = |reason| IgnoredLine { line: String::from_utf8_lossy(raw).into_owned(), reason };
            let Ok(line) = std::str::from_utf8(raw) else {
                n.ignored.push(ignore(IgnoreReason::NotUtf8));
                continue;
            };
            let Some((key, value)) = line.split_once('=') else {
                n.ignored.push(ignore(IgnoreReason::NoEquals));
                continue;
            };
            let ok = match key {
                "READY" => flag(&mut n.ready, value),
                "RELOADING" => flag(&mut n.reloading, value),
                "STOPPING" => flag(&mut n.stopping, value),
                "BARRIER" => flag(&mut n.barrier, value),
                _ => match value_key(key) {
                    None => true, // unknown: ignored, as systemd does
                    Some(k) if seen & (1 << k as u8) != 0 => {
                        n.ignored.push(ignore(IgnoreReason::Duplicate));
                        continue;
                    }
                    Some(k) => {
                        seen |= 1 << k as u8;
                        n.set(k, value)
                    }
                },
            };
            if !ok {
                n.ignored.push(ignore(IgnoreReason::InvalidValue));
            }
        }
        if lines == 0 {
            return Err(Rejection::Empty);
        }
        Ok(n)
    }

    /// Sets the field of `key` from `value`; false if the value is bad.
    fn set(&mut self, key: ValueKey, value: &str) -> bool {
        fn some<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
            *slot = value;
            slot.is_some()
        }
        match key {
            ValueKey::Status => some(&mut self.status, Some(value.to_owned())),
            ValueKey::Errno => some(&mut self.errno, decimal(value).filter(|e| *e <= 4095).map(|e| e as i32)),
            ValueKey::Watchdog => some(
                &mut self.watchdog,
                match value {
                    "1" => Some(WatchdogPing::Ping),
                    "trigger" => Some(WatchdogPing::Trigger),
                    _ => None,
                },
            ),
            ValueKey::WatchdogUsec => some(&mut self.watchdog_usec, decimal(value)),
            ValueKey::ExtendTimeoutUsec => some(&mut self.extend_timeout_usec, decimal(value)),
            ValueKey::MainPid => some(
                &mut self.main_pid,
                decimal(value).filter(|p| (1..=i32::MAX as u64).contains(p)).map(|p| p as u32),
            ),
            ValueKey::MonotonicUsec => some(&mut self.monotonic_usec, decimal(value)),
        }
    }
}

fn value_key(key: &str) -> Option<ValueKey> {
    Some(match key {
        "STATUS" => ValueKey::Status,
        "ERRNO" => ValueKey::Errno,
        "WATCHDOG" => ValueKey::Watchdog,
        "WATCHDOG_USEC" => ValueKey::WatchdogUsec,
        "EXTEND_TIMEOUT_USEC" => ValueKey::ExtendTimeoutUsec,
        "MAINPID" => ValueKey::MainPid,
        "MONOTONIC_USEC" => ValueKey::MonotonicUsec,
        _ => return None,
    })
}

/// `KEY=1` sets the flag; any other value is bad (and leaves it as it is,
/// so `READY=1\nREADY=0` is ready, as in systemd).
fn flag(slot: &mut bool, value: &str) -> bool {
    *slot |= value == "1";
    value == "1"
}

/// Plain ASCII decimal that fits a `u64`.
fn decimal(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
