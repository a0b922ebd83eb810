//! What `add` refuses off Linux: the settings a platform cannot honour,
//! each a [`SpecError::Unsupported`] naming the setting and the platform,
//! never a setting silently ignored (`docs/platforms.md` has the table).
//!
//! A pure function of the spec and the platform, so Linux's tests check
//! every platform's refusals.

use crate::error::SpecError;
use crate::program::ProgramSpec;
use crate::readiness::Readiness;

/// The platform, as core names it.
pub(crate) use procwire_core::Platform as Os;

/// The first setting of `spec` that `os` cannot honour:
///
/// - `Readiness::Notify`: sd_notify is believed only from a sender the
///   kernel names (Linux's `SCM_CREDENTIALS`); macOS names none on a
///   datagram, and FreeBSD's `SCM_CREDS` is not wired in yet;
/// - `ProgramSpec::watchdog`: its pings come by sd_notify, and its
///   `WATCHDOG_PID` is `Command::env_pid` (Linux);
/// - `ProgramSpec::cgroup`: cgroup v2 is Linux's;
/// - `ProgramSpec::parent_death_signal`: `PR_SET_PDEATHSIG` (Linux; off
///   Linux the default is none, so only an explicit one is refused).
pub(crate) fn check(spec: &ProgramSpec, os: Os) -> Result<(), SpecError> {
    if os == Os::Linux {
        return Ok(());
    }
    let refused = [
        (matches!(spec.ready, Readiness::Notify { .. }), "Readiness::Notify (sd_notify)"),
        (spec.watchdog.is_some(), "ProgramSpec::watchdog"),
        (spec.cgroup.is_some(), "ProgramSpec::cgroup"),
        (spec.parent_death.is_some(), "ProgramSpec::parent_death_signal"),
    ];
    match refused.into_iter().find(|(asked, _)| *asked) {
        Some((_, setting)) => Err(SpecError::Unsupported { setting, platform: os.name() }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use procwire_core::{Command, Signal};

    use super::*;
    use crate::notify::NotifyAccess;

    fn spec() -> ProgramSpec {
        let mut spec = ProgramSpec::new("p", Command::new("true"));
        spec.parent_death_signal(None);
        spec
    }

    fn refusal(spec: &ProgramSpec, os: Os) -> Option<&'static str> {
        match check(spec, os) {
            Ok(()) => None,
            Err(SpecError::Unsupported { setting, platform }) => {
                assert_eq!(platform, os.name());
                Some(setting)
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_plain_program_runs_everywhere() {
        for os in [Os::Linux, Os::Macos, Os::FreeBsd] {
            assert_eq!(refusal(&spec(), os), None);
        }
    }

    #[test]
    fn each_linux_only_setting_is_refused_by_name_elsewhere() {
        let mut notify = spec();
        notify.ready(Readiness::Notify { access: NotifyAccess::Main });
        let mut watchdog = spec();
        watchdog.watchdog(Duration::from_secs(1));
        let mut cgroup = spec();
        cgroup.cgroup("/sys/fs/cgroup/x");
        let mut parent_death = spec();
        parent_death.parent_death_signal(Some(Signal::KILL));
        let cases = [
            (notify, "Readiness::Notify (sd_notify)"),
            (watchdog, "ProgramSpec::watchdog"),
            (cgroup, "ProgramSpec::cgroup"),
            (parent_death, "ProgramSpec::parent_death_signal"),
        ];
        for (spec, name) in cases {
            assert_eq!(refusal(&spec, Os::Linux), None);
            assert_eq!(refusal(&spec, Os::Macos), Some(name));
            assert_eq!(refusal(&spec, Os::FreeBsd), Some(name));
            let err = check(&spec, Os::Macos).unwrap_err();
            assert_eq!(err.to_string(), format!("{name} is not supported on macOS"));
        }
    }

    #[test]
    fn the_parent_death_signal_is_on_by_default_only_on_linux() {
        let spec = ProgramSpec::new("p", Command::new("true"));
        assert_eq!(spec.get_parent_death_signal().is_some(), Os::CURRENT == Os::Linux);
        assert_eq!(refusal(&spec, Os::CURRENT), None);
    }
}
