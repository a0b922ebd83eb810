//! What each platform gives a command: the one place that decides which
//! options a platform refuses, so that a "no" in `docs/platforms.md` is an
//! [`Error::Unsupported`] from `spawn`, never an option silently ignored.
//!
//! The decision is a pure function of the options asked for and the
//! platform, so Linux's tests check every platform's refusals.

use crate::error::Error;

/// The platforms procwire builds for (`docs/platforms.md` says what each
/// gives).
///
/// ```
/// use procwire_core::Platform;
///
/// if Platform::CURRENT == Platform::Linux {
///     println!("cgroups, credentials and pidfds are here");
/// }
/// assert!(["Linux", "macOS", "FreeBSD"].contains(&Platform::CURRENT.name()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Platform {
    /// Linux: everything.
    Linux,
    /// macOS (10.15 or later).
    Macos,
    /// FreeBSD (13.1 or later).
    FreeBsd,
}

impl Platform {
    /// The platform this build runs on.
    pub const CURRENT: Platform = if cfg!(target_os = "linux") {
        Platform::Linux
    } else if cfg!(target_os = "macos") {
        Platform::Macos
    } else {
        Platform::FreeBsd
    };

    /// Its name, as error messages give it: `"Linux"`, `"macOS"`,
    /// `"FreeBSD"`.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Linux => "Linux",
            Platform::Macos => "macOS",
            Platform::FreeBsd => "FreeBSD",
        }
    }
}

/// The short name inside this crate.
pub(crate) use Platform as Os;

/// A command option that not every platform can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feature {
    /// `Command::cgroup`: cgroup v2 is Linux's.
    Cgroup,
    /// `Command::uid`, `gid`, `groups`: `posix_spawn` cannot change
    /// credentials, only the clone trampoline can (Linux).
    Credentials,
    /// `Command::parent_death_signal`: `PR_SET_PDEATHSIG`, set in the
    /// trampoline's child (Linux).
    ParentDeathSignal,
    /// `Command::env_pid`: the child writes its own pid into its
    /// environment before `execve` (the trampoline, Linux).
    EnvPid,
    /// `Command::setsid`, and a PTY (which needs a session to be the
    /// controlling terminal of): `POSIX_SPAWN_SETSID`, which glibc and
    /// macOS have and FreeBSD does not.
    Setsid,
    /// `Subreaper`: `PR_SET_CHILD_SUBREAPER` (Linux; FreeBSD's
    /// `PROC_REAP_ACQUIRE` is not used yet).
    Subreaper,
}

impl Feature {
    /// The option's name, as the builder spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Feature::Cgroup => "Command::cgroup",
            Feature::Credentials => "Command::uid, gid and groups",
            Feature::ParentDeathSignal => "Command::parent_death_signal",
            Feature::EnvPid => "Command::env_pid",
            Feature::Setsid => "Command::setsid (and a PTY, whose child leads a session)",
            Feature::Subreaper => "Subreaper (a child subreaper)",
        }
    }

    /// Whether `os` gives it.
    pub(crate) fn supported_on(self, os: Os) -> bool {
        matches!((self, os), (_, Os::Linux) | (Feature::Setsid, Os::Macos))
    }
}

/// [`Error::Unsupported`] for the first of `asked` that `os` does not give.
pub(crate) fn check(asked: impl IntoIterator<Item = Feature>, os: Os) -> Result<(), Error> {
    match asked.into_iter().find(|f| !f.supported_on(os)) {
        Some(feature) => Err(Error::Unsupported { feature: feature.name(), platform: os.name() }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Feature; 6] = [
        Feature::Cgroup,
        Feature::Credentials,
        Feature::ParentDeathSignal,
        Feature::EnvPid,
        Feature::Setsid,
        Feature::Subreaper,
    ];

    #[test]
    fn linux_gives_everything() {
        assert!(check(ALL, Os::Linux).is_ok());
    }

    #[test]
    fn macos_refuses_all_but_setsid_by_name() {
        for feature in ALL {
            let result = check([feature], Os::Macos);
            if feature == Feature::Setsid {
                assert!(result.is_ok());
                continue;
            }
            let err = result.unwrap_err();
            assert!(matches!(err, Error::Unsupported { platform: "macOS", .. }), "{err:?}");
            assert_eq!(err.io_error_kind(), std::io::ErrorKind::Unsupported);
            assert!(err.to_string().contains(feature.name()), "{err}");
        }
    }

    #[test]
    fn freebsd_refuses_every_one() {
        for feature in ALL {
            let err = check([feature], Os::FreeBsd).unwrap_err();
            assert_eq!(err.to_string(), format!("{} is not supported on FreeBSD", feature.name()));
        }
    }

    #[test]
    fn the_first_refused_one_is_reported() {
        let err = check([Feature::Setsid, Feature::EnvPid, Feature::Cgroup], Os::Macos).unwrap_err();
        assert!(matches!(err, Error::Unsupported { feature: "Command::env_pid", .. }));
    }

    #[test]
    fn this_build_knows_its_platform() {
        let expected = if cfg!(target_os = "linux") {
            "Linux"
        } else if cfg!(target_os = "macos") {
            "macOS"
        } else {
            "FreeBSD"
        };
        assert_eq!(Os::CURRENT.name(), expected);
    }
}
