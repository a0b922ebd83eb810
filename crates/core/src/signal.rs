//! Naming signals the way Twisted users do (`"KILL"`, `"TERM"`), the way C
//! users do (`"SIGKILL"`, `9`) and the way nix users do (`Signal::SIGKILL`).

use std::str::FromStr;

use nix::sys::signal::Signal;

use crate::error::Error;

mod sealed {
    pub trait Sealed {}
}

/// Anything that names a signal: a name with or without the `SIG` prefix in
/// any case (`"KILL"`, `"sigterm"`), a number (`9`, or a real-time signal
/// such as `34`; `0` only checks that the process exists), or a nix
/// [`Signal`].
///
/// Sealed: procwire decides how names are parsed, so the set of accepted
/// spellings stays the same everywhere a signal is taken.
///
/// # Example
///
/// ```
/// use procwire_core::IntoSignal;
/// use nix::sys::signal::Signal;
///
/// assert_eq!("KILL".into_signal().unwrap(), 9);
/// assert_eq!("SIGTERM".into_signal().unwrap(), 15);
/// assert_eq!(Signal::SIGINT.into_signal().unwrap(), 2);
/// assert_eq!(1.into_signal().unwrap(), 1);
/// assert!("NOPE".into_signal().is_err());
/// ```
pub trait IntoSignal: sealed::Sealed {
    /// The signal number, or [`Error::UnknownSignal`] /
    /// [`Error::InvalidSignal`].
    fn into_signal(self) -> Result<i32, Error>;
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

impl sealed::Sealed for Signal {}
impl IntoSignal for Signal {
    fn into_signal(self) -> Result<i32, Error> {
        Ok(self as i32)
    }
}

fn parse_name(name: &str) -> Option<i32> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    Signal::from_str(&full).ok().map(|s| s as i32)
}

/// The standard name of signal `sig` (`"SIGTERM"`), if it has one.
pub(crate) fn signal_name(sig: i32) -> Option<&'static str> {
    Signal::try_from(sig).ok().map(Signal::as_str)
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
