//! Naming signals the way Twisted users do (`"KILL"`, `"TERM"`), the way C
//! users do (`"SIGKILL"`, `9`), with procwire's own [`Signal`], and (with
//! the `nix` feature) the way nix users do (`nix::sys::signal::Signal`).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

mod sealed {
    pub trait Sealed {}
}

/// Anything that names a signal: a name with or without the `SIG` prefix in
/// any case (`"KILL"`, `"sigterm"`), a number (`9`, or a real-time signal
/// such as `34`; `0` only checks that the process exists), a [`Signal`],
/// or, with the `nix` feature, a `nix::sys::signal::Signal`.
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
/// assert_eq!(Signal::INT.into_signal().unwrap(), 2);
/// assert_eq!(1.into_signal().unwrap(), 1);
/// assert!("NOPE".into_signal().is_err());
/// ```
pub trait IntoSignal: sealed::Sealed {
    /// The signal number, or [`Error::UnknownSignal`] /
    /// [`Error::InvalidSignal`].
    fn into_signal(self) -> Result<i32, Error>;
}

/// A Linux signal, 1 to 64: procwire's own type, so that no other crate's
/// version is part of procwire's API (a `nix::sys::signal::Signal` is
/// accepted too with the `nix` feature).
///
/// ```
/// use procwire_core::Signal;
///
/// assert_eq!(Signal::TERM.as_raw(), 15);
/// assert_eq!("sigkill".parse::<Signal>().unwrap(), Signal::KILL);
/// assert_eq!(Signal::new(34).unwrap().to_string(), "signal 34");
/// assert_eq!(Signal::HUP.to_string(), "SIGHUP");
/// assert!(Signal::new(0).is_err() && Signal::new(65).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

impl Signal {
    /// SIGHUP (1): hangup; many daemons reload on it.
    pub const HUP: Signal = Signal(1);
    /// SIGINT (2): interrupt, Ctrl-C.
    pub const INT: Signal = Signal(2);
    /// SIGQUIT (3): quit, with a core dump.
    pub const QUIT: Signal = Signal(3);
    /// SIGABRT (6): abort.
    pub const ABRT: Signal = Signal(6);
    /// SIGKILL (9): cannot be caught or ignored.
    pub const KILL: Signal = Signal(9);
    /// SIGUSR1 (10).
    pub const USR1: Signal = Signal(10);
    /// SIGUSR2 (12).
    pub const USR2: Signal = Signal(12);
    /// SIGPIPE (13): write to a pipe nobody reads.
    pub const PIPE: Signal = Signal(13);
    /// SIGALRM (14).
    pub const ALRM: Signal = Signal(14);
    /// SIGTERM (15): the polite request to stop.
    pub const TERM: Signal = Signal(15);
    /// SIGCHLD (17).
    pub const CHLD: Signal = Signal(17);
    /// SIGCONT (18): continue a stopped process.
    pub const CONT: Signal = Signal(18);
    /// SIGSTOP (19): stop; cannot be caught or ignored.
    pub const STOP: Signal = Signal(19);
    /// SIGTSTP (20): stop from the terminal, Ctrl-Z.
    pub const TSTP: Signal = Signal(20);
    /// SIGWINCH (28): the terminal's window size changed.
    pub const WINCH: Signal = Signal(28);

    /// Signal number `sig`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSignal`] outside `1..=64`.
    pub fn new(sig: i32) -> Result<Signal, Error> {
        if (1..=64).contains(&sig) {
            Ok(Signal(sig))
        } else {
            Err(Error::InvalidSignal(sig))
        }
    }

    /// The signal's number.
    pub fn as_raw(self) -> i32 {
        self.0
    }

    /// The standard name (`"SIGTERM"`), `None` for real-time signals.
    pub fn name(self) -> Option<&'static str> {
        signal_name(self.0)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}

impl FromStr for Signal {
    type Err = Error;

    /// A name as [`IntoSignal`] takes it (`"TERM"`, `"SIGTERM"`, any case)
    /// or a number.
    fn from_str(s: &str) -> Result<Signal, Error> {
        match s.trim().parse::<i32>() {
            Ok(n) => Signal::new(n),
            Err(_) => parse_name(s).map(Signal).ok_or_else(|| Error::UnknownSignal(s.to_owned())),
        }
    }
}

impl sealed::Sealed for Signal {}
impl IntoSignal for Signal {
    fn into_signal(self) -> Result<i32, Error> {
        Ok(self.0)
    }
}

impl sealed::Sealed for &str {}
impl IntoSignal for &str {
    fn into_signal(self) -> Result<i32, Error> {
        parse_name(self).ok_or_else(|| Error::UnknownSignal(self.to_owned()))
    }
}

impl sealed::Sealed for String {}
impl IntoSignal for String {
    fn into_signal(self) -> Result<i32, Error> {
        parse_name(&self).ok_or(Error::UnknownSignal(self))
    }
}

impl sealed::Sealed for &String {}
impl IntoSignal for &String {
    fn into_signal(self) -> Result<i32, Error> {
        self.as_str().into_signal()
    }
}

impl sealed::Sealed for i32 {}
impl IntoSignal for i32 {
    fn into_signal(self) -> Result<i32, Error> {
        // Linux has signals 1..=64 (31 standard, 33 real-time); 0 probes.
        if (0..=64).contains(&self) {
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

fn parse_name(name: &str) -> Option<i32> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    nix::sys::signal::Signal::from_str(&full).ok().map(|s| s as i32)
}

/// The standard name of signal `sig` (`"SIGTERM"`), if it has one.
pub(crate) fn signal_name(sig: i32) -> Option<&'static str> {
    nix::sys::signal::Signal::try_from(sig).ok().map(nix::sys::signal::Signal::as_str)
}

#[cfg(test)]
mod tests {
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
}
