//! A program's `stdout` and `stderr`: where that output goes, as text.

use std::fmt;
use std::path::PathBuf;

use procwire_core::ChildFd;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::output::FileMode;
use crate::program::ProgramSpec;

/// A program's `stdout` or `stderr` key: where fd 1 or fd 2 goes, as
/// text, the way systemd's `StandardOutput=` writes it. Available with
/// the `config` feature.
///
/// | text | the fd |
/// |---|---|
/// | `"log"` | a pipe the supervisor reads, each line to the sink and [`logs`](crate::Supervisor::logs) (the default, [`LogSpec`](crate::LogSpec)) |
/// | `"null"` | `/dev/null` ([`ChildFd::Null`]) |
/// | `"inherit"` | the supervisor's own fd 1 or 2 ([`ChildFd::Parent`]) |
/// | `"append:/abs/path"` | the file, opened at each spawn: [`ProgramSpec::output_file`] with [`FileMode::Append`] |
/// | `"truncate:/abs/path"` | the same, emptied at each spawn: [`FileMode::Truncate`] |
///
/// The path must be absolute.
///
/// ```
/// use procwire_supervisor::OutputConfig;
///
/// let out: OutputConfig = "append:/var/log/web.log".parse()?;
/// assert_eq!(out, OutputConfig::Append("/var/log/web.log".into()));
/// assert_eq!(out.to_string(), "append:/var/log/web.log");
/// assert!("append:web.log".parse::<OutputConfig>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputConfig {
    /// `"log"`.
    Log,
    /// `"null"`.
    Null,
    /// `"inherit"`.
    Inherit,
    /// `"append:PATH"`.
    Append(PathBuf),
    /// `"truncate:PATH"`.
    Truncate(PathBuf),
}

impl OutputConfig {
    /// Sets it up for the program's fd `fd` in `spec`, or says what is
    /// wrong with it (a path that is not absolute, or holds a NUL byte).
    pub(crate) fn apply(&self, fd: i32, spec: &mut ProgramSpec) -> Result<(), String> {
        match self {
            OutputConfig::Log => {}
            OutputConfig::Null => drop(spec.command.child_fd(fd, ChildFd::Null)),
            OutputConfig::Inherit => drop(spec.command.child_fd(fd, ChildFd::Parent(fd))),
            OutputConfig::Append(path) | OutputConfig::Truncate(path) => {
                check_path(path)?;
                let mode = if matches!(self, OutputConfig::Append(_)) {
                    FileMode::Append
                } else {
                    FileMode::Truncate
                };
                spec.output_file(fd, path, mode);
            }
        }
        Ok(())
    }
}

/// A file's path must be absolute, with no NUL byte.
fn check_path(path: &std::path::Path) -> Result<(), String> {
    if !path.is_absolute() {
        return Err(format!("{path:?} is not an absolute path"));
    }
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(format!("{path:?} holds a NUL byte"));
    }
    Ok(())
}

impl std::str::FromStr for OutputConfig {
    type Err = String;

    /// Reads the text of the table above.
    fn from_str(text: &str) -> Result<OutputConfig, String> {
        let file = |path: &str| {
            let path = PathBuf::from(path);
            check_path(&path).map(|()| path)
        };
        match text.split_once(':') {
            None if text == "log" => Ok(OutputConfig::Log),
            None if text == "null" => Ok(OutputConfig::Null),
            None if text == "inherit" => Ok(OutputConfig::Inherit),
            Some(("append", path)) => file(path).map(OutputConfig::Append),
            Some(("truncate", path)) => file(path).map(OutputConfig::Truncate),
            _ => Err(format!(
                "{text:?} is not one of \"log\", \"null\", \"inherit\", \"append:/PATH\", \"truncate:/PATH\""
            )),
        }
    }
}

/// The text [`FromStr`](std::str::FromStr) reads back.
impl fmt::Display for OutputConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputConfig::Log => f.write_str("log"),
            OutputConfig::Null => f.write_str("null"),
            OutputConfig::Inherit => f.write_str("inherit"),
            OutputConfig::Append(path) => write!(f, "append:{}", path.display()),
            OutputConfig::Truncate(path) => write!(f, "truncate:{}", path.display()),
        }
    }
}

impl Serialize for OutputConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OutputConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OutputConfig, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = OutputConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"log\", \"null\", \"inherit\", \"append:/PATH\" or \"truncate:/PATH\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<OutputConfig, E> {
                text.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Text)
    }
}
