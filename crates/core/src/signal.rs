//! Naming a signal: by name with or without `SIG` (`"KILL"`, `"SIGTERM"`,
//! `"SIGRTMIN+1"`), by number (`9`), as procwire's own [`Signal`], or
//! (with the `nix` feature) as a `nix::sys::signal::Signal`.
//!
//! One parser, [`Signal`]'s `FromStr`, reads every string that names a
//! signal: [`IntoSignal`] for `&str` and `String` calls it, and so does
//! every configuration that names one (the supervisor's, the examples').

use std::fmt;
use std::str::FromStr;

use nix::libc;

use crate::error::Error;

mod sealed {
    pub trait Sealed {}
}

/// Anything that names a signal: a string, as [`Signal`]'s `FromStr` reads
/// it (`"KILL"`, `"sigterm"`, `"15"`, `"RTMIN+1"`), a number (`9`, `34`;
/// `0`, which only checks that the process exists, is accepted as a
/// number only), a [`Signal`], or, with the `nix` feature, a
/// `nix::sys::signal::Signal`.
///
/// Sealed: procwire decides how names are parsed, so the set of accepted
/// spellings stays the same everywhere a signal is taken.
///
/// # Example
///
/// ```
/// use procwire_core::{IntoSignal, Signal};
///
/// assert_eq!("KILL".into_signal().unwrap(), 9);
/// assert_eq!("SIGTERM".into_signal().unwrap(), 15);
/// assert_eq!("15".into_signal().unwrap(), 15);
/// assert_eq!("SIGRTMIN+1".into_signal().unwrap(), Signal::rtmin().as_raw() + 1);
/// assert_eq!(Signal::INT.into_signal().unwrap(), 2);
/// assert_eq!(1.into_signal().unwrap(), 1);
/// assert!("NOPE".into_signal().is_err());
/// assert!(" TERM".into_signal().is_err(), "no surrounding whitespace");
/// ```
pub trait IntoSignal: sealed::Sealed {
    /// The signal number, or [`Error::UnknownSignal`] /
    /// [`Error::InvalidSignal`].
    fn into_signal(self) -> Result<i32, Error>;
}

/// A Linux signal, 1 to 64, real-time signals included: procwire's own
/// type, so that no other crate's version is part of procwire's API (a
/// `nix::sys::signal::Signal` is accepted too with the `nix` feature).
///
/// # Names
///
/// `Display` and `FromStr` follow one rule, and every signal `Display`
/// prints parses back to itself:
///
/// - the 31 standard signals by name: `SIGHUP` ... `SIGSYS` (Display),
///   read with or without the `SIG` prefix, in any ASCII case (`"TERM"`,
///   `"sigterm"`, `"SigTerm"`);
/// - the real-time signals from [`rtmin`](Self::rtmin) to
///   [`rtmax`](Self::rtmax) (34 to 64 under glibc, which keeps 32 and 33
///   for itself) as `kill -l` names them: `SIGRTMIN`, `SIGRTMIN+n` for the
///   lower half, `SIGRTMAX-n` for the upper half, `SIGRTMAX` (Display);
///   read as `RTMIN`, `RTMIN+n`, `RTMAX`, `RTMAX-n`, with or without `SIG`,
///   in any case, for any `n` that stays within that range;
/// - a decimal number, `1` to `64` (Display uses it for 32 and 33, which
///   have no name).
///
/// Nothing else: no surrounding whitespace, no sign, no other aliases. A
/// string that names no signal is [`Error::UnknownSignal`]; a number, or
/// an `RTMIN+n` / `RTMAX-n`, outside the range is [`Error::InvalidSignal`].
///
/// ```
/// use procwire_core::Signal;
///
/// assert_eq!(Signal::TERM.as_raw(), 15);
/// assert_eq!("sigkill".parse::<Signal>().unwrap(), Signal::KILL);
/// assert_eq!("9".parse::<Signal>().unwrap(), Signal::KILL);
/// assert_eq!(Signal::HUP.to_string(), "SIGHUP");
/// let rt = "RTMIN+2".parse::<Signal>().unwrap();
/// assert_eq!(rt.as_raw(), Signal::rtmin().as_raw() + 2);
/// assert_eq!(rt.to_string(), "SIGRTMIN+2");
/// assert_eq!(Signal::rtmax().to_string(), "SIGRTMAX");
/// assert!(Signal::new(0).is_err() && Signal::new(65).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

impl Signal {
    /// SIGHUP (1): hangup; many daemons reload on it.
    pub const HUP: Signal = Signal(libc::SIGHUP);
    /// SIGINT (2): interrupt, Ctrl-C.
    pub const INT: Signal = Signal(libc::SIGINT);
    /// SIGQUIT (3): quit, with a core dump.
    pub const QUIT: Signal = Signal(libc::SIGQUIT);
    /// SIGABRT (6): abort.
    pub const ABRT: Signal = Signal(libc::SIGABRT);
    /// SIGKILL (9): cannot be caught or ignored.
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// SIGUSR1 (10 on Linux).
    pub const USR1: Signal = Signal(libc::SIGUSR1);
    /// SIGUSR2 (12 on Linux).
    pub const USR2: Signal = Signal(libc::SIGUSR2);
    /// SIGPIPE (13): write to a pipe nobody reads.
    pub const PIPE: Signal = Signal(libc::SIGPIPE);
    /// SIGALRM (14).
    pub const ALRM: Signal = Signal(libc::SIGALRM);
    /// SIGTERM (15): the polite request to stop.
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// SIGCHLD (17 on Linux).
    pub const CHLD: Signal = Signal(libc::SIGCHLD);
    /// SIGCONT (18 on Linux): continue a stopped process.
    pub const CONT: Signal = Signal(libc::SIGCONT);
    /// SIGSTOP (19 on Linux): stop; cannot be caught or ignored.
    pub const STOP: Signal = Signal(libc::SIGSTOP);
    /// SIGTSTP (20 on Linux): stop from the terminal, Ctrl-Z.
    pub const TSTP: Signal = Signal(libc::SIGTSTP);
    /// SIGWINCH (28): the terminal's window size changed.
    pub const WINCH: Signal = Signal(libc::SIGWINCH);

    /// Signal number `sig`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSignal`] outside `1..=64` (Linux; `1..=31` on
    /// macOS, `1..=128` on FreeBSD).
    pub fn new(sig: i32) -> Result<Signal, Error> {
        if (1..=MAX).contains(&sig) {
            Ok(Signal(sig))
        } else {
            Err(Error::InvalidSignal(sig))
        }
    }

    /// The signal's number.
    pub fn as_raw(self) -> i32 {
        self.0
    }

    /// The standard name (`"SIGTERM"`), `None` for real-time signals
    /// (whose names `Display` builds: `"SIGRTMIN+1"`).
    pub fn name(self) -> Option<&'static str> {
        signal_name(self.0)
    }

    /// The first real-time signal a program may use, as the C library
    /// says (`SIGRTMIN`: 34 under glibc, which keeps 32 and 33 for its
    /// threads; 65 on FreeBSD). `"RTMIN"` names it. macOS has no
    /// real-time signals.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    #[cfg_attr(docsrs, doc(cfg(any(target_os = "linux", target_os = "freebsd"))))]
    pub fn rtmin() -> Signal {
        Signal(realtime().expect("this platform has real-time signals").0)
    }

    /// The last real-time signal (`SIGRTMAX`: 64 on Linux, 126 on
    /// FreeBSD). `"RTMAX"` names it.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    #[cfg_attr(docsrs, doc(cfg(any(target_os = "linux", target_os = "freebsd"))))]
    pub fn rtmax() -> Signal {
        Signal(realtime().expect("this platform has real-time signals").1)
    }
}

impl Signal {
    /// Whether it is one of the real-time signals (none on macOS).
    pub(crate) fn is_realtime(self) -> bool {
        realtime().is_some_and(|(min, max)| (min..=max).contains(&self.0))
    }
}

/// The highest signal number: 64 on Linux, 31 on macOS, 128 on FreeBSD.
#[cfg(target_os = "linux")]
const MAX: i32 = 64;
#[cfg(target_os = "macos")]
const MAX: i32 = 31;
#[cfg(target_os = "freebsd")]
const MAX: i32 = 128;

/// The real-time signals, (`SIGRTMIN`, `SIGRTMAX`), where there are any.
fn realtime() -> Option<(i32, i32)> {
    #[cfg(target_os = "linux")]
    return Some((libc::SIGRTMIN(), libc::SIGRTMAX()));
    // <sys/signal.h>: 65 and 126.
    #[cfg(target_os = "freebsd")]
    return Some((65, 126));
    #[cfg(target_os = "macos")]
    return None;
}

/// The name of [Names](Signal#names): `SIGTERM`, `SIGRTMIN+1`,
/// `SIGRTMAX-2`, or the number for 32 and 33.
impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.name() {
            return f.write_str(name);
        }
        let Some((min, max)) = realtime() else { return write!(f, "{}", self.0) };
        match self.0 {
            n if n == min => f.write_str("SIGRTMIN"),
            n if n == max => f.write_str("SIGRTMAX"),
            n if (min..=max).contains(&n) && n - min <= max - n => write!(f, "SIGRTMIN+{}", n - min),
            n if (min..=max).contains(&n) => write!(f, "SIGRTMAX-{}", max - n),
            n => write!(f, "{n}"),
        }
    }
}

impl FromStr for Signal {
    type Err = Error;

    /// Reads a signal as [Names](Signal#names) says: `"TERM"`,
    /// `"SIGTERM"`, `"sigterm"`, `"15"`, `"RTMIN+1"`, `"SIGRTMAX-2"`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownSignal`] for a string that names no signal;
    /// [`Error::InvalidSignal`] for a number, or an `RTMIN+n` / `RTMAX-n`,
    /// outside the range.
    fn from_str(s: &str) -> Result<Signal, Error> {
        let unknown = || Error::UnknownSignal(s.to_owned());
        if let Some(n) = decimal(s) {
            return Signal::new(n.ok_or_else(unknown)?);
        }
        let upper = s.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        let (min, max) = realtime().unwrap_or((0, -1));
        let realtime = match name.strip_prefix("RTMIN") {
            Some(rest) => Some((min, rest, '+')),
            None => name.strip_prefix("RTMAX").map(|rest| (max, rest, '-')),
        };
        let Some((base, rest, sign)) = realtime else {
            let standard = nix::sys::signal::Signal::from_str(&format!("SIG{name}"));
            return standard.map(|sig| Signal(sig as i32)).map_err(|_| unknown());
        };
        let offset = match rest {
            "" => 0,
            _ => rest.strip_prefix(sign).and_then(decimal).flatten().ok_or_else(unknown)?,
        };
        let n = if sign == '+' { base.checked_add(offset) } else { base.checked_sub(offset) };
        let n = n.ok_or_else(unknown)?;
        if (min..=max).contains(&n) {
            Ok(Signal(n))
        } else {
            Err(Error::InvalidSignal(n))
        }
    }
}

/// `Some(value)` for a string of ASCII digits (`Some(None)` when it does
/// not fit an `i32`), `None` for anything else (the empty string, a sign,
/// whitespace).
fn decimal(s: &str) -> Option<Option<i32>> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())
}

impl sealed::Sealed for Signal {}
impl IntoSignal for Signal {
    fn into_signal(self) -> Result<i32, Error> {
        Ok(self.0)
    }
}

impl sealed::Sealed for &str {}
/// As [`Signal`]'s `FromStr`.
impl IntoSignal for &str {
    fn into_signal(self) -> Result<i32, Error> {
        self.parse::<Signal>().map(Signal::as_raw)
    }
}

impl sealed::Sealed for String {}
/// As [`Signal`]'s `FromStr`.
impl IntoSignal for String {
    fn into_signal(self) -> Result<i32, Error> {
        self.as_str().into_signal()
    }
}

impl sealed::Sealed for &String {}
/// As [`Signal`]'s `FromStr`.
impl IntoSignal for &String {
    fn into_signal(self) -> Result<i32, Error> {
        self.as_str().into_signal()
    }
}

impl sealed::Sealed for i32 {}
impl IntoSignal for i32 {
    fn into_signal(self) -> Result<i32, Error> {
        // Linux has signals 1..=64 (31 standard, 33 real-time); 0 probes.
        if (0..=MAX).contains(&self) {
            Ok(self)
        } else {
            Err(Error::InvalidSignal(self))
        }
    }
}

#[cfg(feature = "nix")]
impl sealed::Sealed for nix::sys::signal::Signal {}
/// With the `nix` feature, which makes nix's major version part of
/// procwire's API: off by default.
#[cfg(feature = "nix")]
impl IntoSignal for nix::sys::signal::Signal {
    fn into_signal(self) -> Result<i32, Error> {
        Ok(self as i32)
    }
}

/// The standard name of signal `sig` (`"SIGTERM"`), if it has one.
pub(crate) fn signal_name(sig: i32) -> Option<&'static str> {
    nix::sys::signal::Signal::try_from(sig).ok().map(nix::sys::signal::Signal::as_str)
}

// The tests name Linux's numbers and real-time signals.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names() {
        for (name, num) in
            [("HUP", 1), ("INT", 2), ("KILL", 9), ("TERM", 15), ("SIGUSR1", 10), ("sigchld", 17)]
        {
            assert_eq!(name.into_signal().unwrap(), num, "{name}");
        }
        assert!(matches!("BOGUS".into_signal(), Err(Error::UnknownSignal(n)) if n == "BOGUS"));
        assert!(matches!("".into_signal(), Err(Error::UnknownSignal(_))));
        assert!(matches!((-1).into_signal(), Err(Error::InvalidSignal(-1))));
        assert!(matches!(65.into_signal(), Err(Error::InvalidSignal(65))));
        assert_eq!(signal_name(15), Some("SIGTERM"));
    }

    /// Issue 21, item 5: `Signal::from_str` took numbers and `IntoSignal`
    /// for `&str` did not, `IntoSignal` trimmed and `from_str` half did,
    /// and no string named a real-time signal. Every string now goes
    /// through one parser, the same whichever way it comes in.
    #[test]
    fn signal_names_parse_one_way_everywhere() {
        let (min, max) = (Signal::rtmin().as_raw(), Signal::rtmax().as_raw());
        let cases: &[(&str, Result<i32, &str>)] = &[
            ("15", Ok(15)),
            ("9", Ok(9)),
            ("64", Ok(64)),
            ("32", Ok(32)),
            ("TERM", Ok(15)),
            ("SIGTERM", Ok(15)),
            ("sigTerm", Ok(15)),
            ("RTMIN", Ok(min)),
            ("SIGRTMIN", Ok(min)),
            ("RTMIN+1", Ok(min + 1)),
            ("sigrtmin+2", Ok(min + 2)),
            ("RTMAX", Ok(max)),
            ("SIGRTMAX-1", Ok(max - 1)),
            (" TERM", Err("unknown")),
            ("TERM ", Err("unknown")),
            (" 15", Err("unknown")),
            ("+15", Err("unknown")),
            ("-9", Err("unknown")),
            ("SIG", Err("unknown")),
            ("RTMIN-1", Err("unknown")),
            ("RTMAX+1", Err("unknown")),
            ("RTMIN+", Err("unknown")),
            ("RTMINUS", Err("unknown")),
            ("99999999999", Err("unknown")),
            ("0", Err("invalid")),
            ("65", Err("invalid")),
            ("RTMIN+100", Err("invalid")),
            ("RTMAX-100", Err("invalid")),
        ];
        for (text, expected) in cases {
            let parsed = text.parse::<Signal>().map(Signal::as_raw);
            let through_str = text.into_signal();
            let through_string = text.to_string().into_signal();
            for got in [&parsed, &through_str, &through_string] {
                match (got, expected) {
                    (Ok(n), Ok(want)) => assert_eq!(n, want, "{text:?}"),
                    (Err(Error::UnknownSignal(s)), Err("unknown")) => assert_eq!(s, text),
                    (Err(Error::InvalidSignal(_)), Err("invalid")) => {}
                    (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert!(matches!("RTMIN+100".parse::<Signal>(), Err(Error::InvalidSignal(n)) if n == min + 100));
        // `0` probes; as a number only.
        assert_eq!(0.into_signal().unwrap(), 0);
    }

    #[test]
    fn real_time_signals_display_as_kill_l_names_them() {
        let (min, max) = (Signal::rtmin().as_raw(), Signal::rtmax().as_raw());
        let show = |n: i32| Signal::new(n).unwrap().to_string();
        assert_eq!(show(min), "SIGRTMIN");
        assert_eq!(show(min + 1), "SIGRTMIN+1");
        assert_eq!(show(max - 1), "SIGRTMAX-1");
        assert_eq!(show(max), "SIGRTMAX");
        if (min, max) == (34, 64) {
            // glibc: as bash's `kill -l` prints them.
            assert_eq!((show(49), show(50)), ("SIGRTMIN+15".into(), "SIGRTMAX-14".into()));
            assert_eq!((show(32), show(33)), ("32".into(), "33".into()));
        }
    }

    /// A spelling of `sig`'s name: its Display, with or without `SIG`, in
    /// a case chosen by `mask` (bit i: letter i in lower case).
    fn spelling(sig: Signal, prefix: bool, mask: u64) -> String {
        let shown = sig.to_string();
        let name = if prefix { shown.as_str() } else { shown.strip_prefix("SIG").unwrap_or(&shown) };
        name.chars()
            .enumerate()
            .map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_lowercase() } else { c })
            .collect()
    }

    proptest! {
        /// Every valid signal prints a name that parses back to it, in
        /// any case, with or without `SIG`, and so does its number.
        #[test]
        fn every_signal_round_trips_through_display_and_parse(
            n in 1..=64i32,
            prefix: bool,
            mask: u64,
        ) {
            let sig = Signal::new(n).unwrap();
            prop_assert_eq!(sig.to_string().parse::<Signal>().unwrap(), sig);
            prop_assert_eq!(spelling(sig, prefix, mask).parse::<Signal>().unwrap(), sig);
            prop_assert_eq!(n.to_string().parse::<Signal>().unwrap(), sig);
            prop_assert_eq!(spelling(sig, prefix, mask).as_str().into_signal().unwrap(), n);
        }

        /// Whatever the string, the parser answers without panicking, and
        /// whatever it accepts prints back to a name of the same signal.
        #[test]
        fn any_string_parses_or_fails_cleanly(text in "(?i)(sig)?(rtm(in|ax)|term|kill)?[-+]?[0-9]{0,3}|\\PC{0,12}") {
            if let Ok(sig) = text.parse::<Signal>() {
                prop_assert_eq!(sig.to_string().parse::<Signal>().unwrap(), sig);
                prop_assert_eq!(text.as_str().into_signal().unwrap(), sig.as_raw());
            } else {
                prop_assert!(text.as_str().into_signal().is_err());
            }
        }
    }
}
