//! A supervisor and its programs read from a file: TOML text (or any
//! serde format) in, a [`Builder`] and [`ProgramSpec`]s out, with one
//! error that names the program and the key. Each `[program.NAME]` table
//! is read on its own, so that a serde error inside it can name them.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::builder::Builder;
use crate::program::ProgramSpec;
use crate::settings::Strategy;
use crate::supervisor::Supervisor;

pub use duration::{format_duration, parse_duration};
pub use output::OutputConfig;
pub use parts::{
    BackoffConfig, IntensityConfig, LivenessConfig, ReadyConfig, ReadyProbeConfig, StartLimitConfig,
};
pub use program::ProgramConfig;

mod duration;
mod output;
mod parts;
mod program;
mod values;

#[cfg(test)]
mod model;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

/// A supervisor's whole configuration: its settings (`[supervisor]`)
/// and its programs (`[program.NAME]`, in the file's order). Available
/// with the `config` feature.
///
/// ```toml
/// [supervisor]
/// strategy = "one-for-one"                     # or "one-for-all", "rest-for-one"
/// intensity = { restarts = 5, period = "10s" } # Builder::intensity
/// notify_systemd = false                       # Builder::notify_systemd
/// event_capacity = 1024                        # Builder::capacity
/// log_capacity = 1024
///
/// [program.db]
/// command = ["postgres", "-D", "/var/lib/postgres"]
/// ready = "notify"
///
/// [program.web]
/// command = ["./web", "--port", "8080"]
/// after = ["db"]
/// stop_grace = "2s"
/// ```
///
/// [`ProgramConfig`] lists a program's keys. The programs keep the
/// file's order, which is the order [`programs`](Self::programs) gives
/// them in: the order [`Supervisor::add_all`] adds them, after each
/// program's `after` (which matters to [`Strategy::RestForOne`]).
///
/// Read with [`from_toml`](Self::from_toml) (or `parse`), or with any
/// serde format through `Deserialize`; written with `Serialize`.
///
/// ```
/// use procwire_supervisor::SupervisorConfig;
///
/// let text = r#"
///     [program.web]
///     command = ["sleep", "1000"]
///     stop_signal = "TERMM"
/// "#;
/// let err = SupervisorConfig::from_toml(text).unwrap_err();
/// assert_eq!(err.to_string(), r#"program "web", key "stop_signal": unknown signal name "TERMM""#);
/// assert_eq!((err.program.as_deref(), err.key.as_deref()), (Some("web"), Some("stop_signal")));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct SupervisorConfig {
    /// `[supervisor]`.
    pub supervisor: SupervisorSettings,
    /// `[program.NAME]`, each name with its table, in the file's order.
    pub programs: Vec<(String, ProgramConfig)>,
}

/// The `[supervisor]` table: the settings of a [`Builder`], each left as
/// [`Builder::new`] has it when its key is left out. Available with the
/// `config` feature.
///
/// ```
/// use procwire_supervisor::{Strategy, SupervisorConfig};
///
/// let config: SupervisorConfig = "[supervisor]\nstrategy = \"rest-for-one\"".parse()?;
/// assert_eq!(config.supervisor.strategy, Some(Strategy::RestForOne));
/// assert_eq!(config.supervisor.intensity, None); // no limit, as Builder::new
/// # Ok::<(), procwire_supervisor::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SupervisorSettings {
    /// [`Builder::strategy`]: `"one-for-one"`, `"one-for-all"` or
    /// `"rest-for-one"`.
    #[serde(default, with = "values::named", skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// [`Builder::intensity`]: `{ restarts = 5, period = "10s" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intensity: Option<IntensityConfig>,
    /// [`Builder::notify_systemd`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_systemd: Option<bool>,
    /// The events of [`Builder::capacity`], 1 to [`Builder::MAX_EVENTS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_capacity: Option<usize>,
    /// The reads of [`Builder::capacity`], 1 to [`Builder::MAX_READS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_capacity: Option<usize>,
}

impl SupervisorConfig {
    /// Reads TOML text.
    ///
    /// # Errors
    ///
    /// The first thing wrong: TOML syntax (the message has toml's line
    /// and column), a key nobody knows, a value of the wrong kind or out
    /// of its range, naming the program and the key where there is one.
    /// The settings a spec checks ([`ProgramConfig::to_spec`]) are checked
    /// by [`programs`](Self::programs), not here.
    pub fn from_toml(text: &str) -> Result<SupervisorConfig, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::message(e.to_string().trim_end().to_owned()))?;
        SupervisorConfig::from_table(table)
    }

    /// A [`Builder`] with the `[supervisor]` settings.
    ///
    /// # Errors
    ///
    /// A setting out of its range, naming its key (`supervisor.intensity`).
    pub fn builder(&self) -> Result<Builder, ConfigError> {
        let s = &self.supervisor;
        let err =
            |key: &str, message: String| ConfigError::new(None, Some(&format!("supervisor.{key}")), message);
        let mut builder = Builder::new();
        if let Some(strategy) = s.strategy {
            builder.strategy(strategy);
        }
        if let Some(IntensityConfig { restarts, period }) = s.intensity {
            builder.intensity(restarts, period).map_err(|e| err("intensity", e.to_string()))?;
        }
        if let Some(on) = s.notify_systemd {
            builder.notify_systemd(on);
        }
        let capacity = |key, value: Option<usize>, default, max| match value {
            Some(n) if n == 0 || n > max => Err(err(key, format!("{n}: allowed 1..={max}"))),
            value => Ok(value.unwrap_or(default)),
        };
        if s.event_capacity.is_some() || s.log_capacity.is_some() {
            let events = capacity(
                "event_capacity",
                s.event_capacity,
                Supervisor::EVENT_CAPACITY,
                Builder::MAX_EVENTS,
            )?;
            let reads =
                capacity("log_capacity", s.log_capacity, Supervisor::LOG_CAPACITY, Builder::MAX_READS)?;
            builder.capacity(events, reads);
        }
        Ok(builder)
    }

    /// Every program's spec ([`ProgramConfig::to_spec`]), in the file's
    /// order, for [`Supervisor::add_all`].
    ///
    /// # Errors
    ///
    /// The first program's error, and a program that runs `after` one
    /// the configuration does not have.
    pub fn programs(&self) -> Result<Vec<ProgramSpec>, ConfigError> {
        let mut specs = Vec::with_capacity(self.programs.len());
        for (name, program) in &self.programs {
            if let Some(missing) = program.after.iter().find(|a| !self.programs.iter().any(|(n, _)| n == *a))
            {
                let message = format!("{missing:?} is not a program of this configuration");
                return Err(ConfigError::new(Some(name), Some("after"), message));
            }
            specs.push(program.to_spec(name)?);
        }
        Ok(specs)
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&ProgramConfig> {
        self.programs.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// The configuration a TOML document (or any serde document read as
    /// one) holds.
    fn from_table(table: toml::Table) -> Result<SupervisorConfig, ConfigError> {
        let mut config = SupervisorConfig::default();
        for (key, value) in table {
            match key.as_str() {
                "supervisor" => {
                    config.supervisor = SupervisorSettings::deserialize(value)
                        .map_err(|e| ConfigError::from_toml(None, Some("supervisor"), e))?;
                }
                "program" => {
                    let toml::Value::Table(programs) = value else {
                        let message = format!("expected [program.NAME] tables, found {}", value.type_str());
                        return Err(ConfigError::new(None, Some("program"), message));
                    };
                    for (name, value) in programs {
                        if !value.is_table() {
                            let message =
                                format!("expected a [program.{name}] table, found {}", value.type_str());
                            return Err(ConfigError::new(Some(&name), None, message));
                        }
                        let program = ProgramConfig::deserialize(value)
                            .map_err(|e| ConfigError::from_toml(Some(&name), None, e))?;
                        config.programs.push((name, program));
                    }
                }
                _ => {
                    let message = "unknown key: the tables are [supervisor] and [program.NAME]".to_owned();
                    return Err(ConfigError::new(None, Some(&key), message));
                }
            }
        }
        Ok(config)
    }
}

/// [`SupervisorConfig::from_toml`].
impl FromStr for SupervisorConfig {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<SupervisorConfig, ConfigError> {
        SupervisorConfig::from_toml(text)
    }
}

/// Any serde format: the document is read as a TOML table first (so a
/// format's `null` is refused), then as [`from_toml`](SupervisorConfig::from_toml)
/// reads it; an error is the format's, with the [`ConfigError`]'s text.
impl<'de> Deserialize<'de> for SupervisorConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SupervisorConfig, D::Error> {
        let table = toml::Table::deserialize(d)?;
        SupervisorConfig::from_table(table).map_err(de::Error::custom)
    }
}

/// `supervisor`, then `program` as a map of the programs in order.
impl Serialize for SupervisorConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Programs<'a>(&'a [(String, ProgramConfig)]);
        impl Serialize for Programs<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (name, program) in self.0 {
                    map.serialize_entry(name, program)?;
                }
                map.end()
            }
        }
        let mut out = s.serialize_struct("SupervisorConfig", 2)?;
        out.serialize_field("supervisor", &self.supervisor)?;
        out.serialize_field("program", &Programs(&self.programs))?;
        out.end()
    }
}

/// A configuration that cannot work: the program and the key, where the
/// error has them, and what is wrong. Available with the `config`
/// feature.
///
/// `key` is a dotted path within the program's table (`backoff.first`),
/// or from the top of the file when there is no program
/// (`supervisor.intensity`). Display: `program "web", key "stop_signal":
/// unknown signal name "TERMM"`; a TOML syntax error is toml's message,
/// with its line and column.
///
/// ```
/// use procwire_supervisor::SupervisorConfig;
///
/// let err = "[program.web]\ncommand = [\"web\"]\nbackoff = { first = \"1s\" }"
///     .parse::<SupervisorConfig>()
///     .unwrap_err();
/// assert_eq!(err.to_string(), "program \"web\", key \"backoff.max\": missing field `max`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The program, when the error is within a `[program.NAME]` table.
    pub program: Option<String>,
    /// The key, when the error is about one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    fn new(program: Option<&str>, key: Option<&str>, message: String) -> ConfigError {
        ConfigError { program: program.map(str::to_owned), key: key.map(str::to_owned), message }
    }

    /// An error about no program and no key.
    fn message(message: String) -> ConfigError {
        ConfigError { program: None, key: None, message }
    }

    /// A serde error from a TOML value, under the key `within` (if any):
    /// toml tells the path of the value it failed on at the end of its
    /// text (``in `backoff.first` ``), and serde names an unknown or
    /// missing field in its message.
    fn from_toml(program: Option<&str>, within: Option<&str>, e: toml::de::Error) -> ConfigError {
        let message = e.message().trim_end().to_owned();
        let text = e.to_string();
        let path = text
            .strip_prefix(e.message())
            .map(str::trim)
            .and_then(|rest| rest.strip_prefix("in `").and_then(|p| p.strip_suffix('`')).map(str::to_owned));
        let field = ["unknown field `", "missing field `"]
            .iter()
            .find_map(|prefix| message.strip_prefix(prefix)?.split_once('`').map(|(f, _)| f.to_owned()));
        let key = [within.map(str::to_owned), path, field].into_iter().flatten().collect::<Vec<_>>();
        let key = (!key.is_empty()).then(|| key.join("."));
        ConfigError { program: program.map(str::to_owned), key, message }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.program, &self.key) {
            (Some(program), Some(key)) => write!(f, "program {program:?}, key {key:?}: ")?,
            (Some(program), None) => write!(f, "program {program:?}: ")?,
            (None, Some(key)) => write!(f, "key {key:?}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
