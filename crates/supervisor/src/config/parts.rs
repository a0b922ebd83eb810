//! The values of a configuration that stand for more than one setting: a
//! backoff, a readiness, a start limit, a liveness check, an intensity.

use std::fmt;
use std::time::Duration;

use procwire_core::{ChildFd, Command};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::duration;
use super::values::Named;
use crate::backoff::Backoff;
use crate::error::SpecError;
use crate::liveness::Liveness;
use crate::notify::NotifyAccess;
use crate::readiness::Readiness;
use crate::spec::StartLimit;

/// A program's `backoff`: a preset's name, or a table
/// `{ first, factor, max, stable, jitter }` for
/// [`Backoff::exponential`]. Available with the `config` feature.
///
/// | text | backoff |
/// |---|---|
/// | `"growing"` | [`Backoff::growing`], the default: 1 s doubling to 5 min, 1 s after a stable run |
/// | `"procmon"` | [`Backoff::procmon`]: 1 s doubling to 1 h |
/// | `"supervisord"` | [`Backoff::supervisord`]: 1, 2, 3 ... s |
/// | `"systemd"` | [`Backoff::systemd`]`(100 ms, 0, 100 ms)`: 100 ms, every time |
/// | `"pm2"` | [`Backoff::pm2`]`(100 ms)`: 100 ms, times 1.5, up to 15 s |
/// | `"none"` | [`Backoff::none`]: at once |
/// | `{ first = "100ms", max = "5s" }` | [`Backoff::exponential`], `factor` 2.0 unless given, then [`with_stable`](Backoff::with_stable) (`stable`, `"0s"` unless given) and [`with_jitter`](Backoff::with_jitter) (`jitter`, 0.0 unless given) |
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::{Backoff, BackoffConfig};
///
/// let (ms, zero) = (Duration::from_millis, Duration::ZERO);
/// let table = BackoffConfig::Exponential { first: ms(100), factor: 2.0, max: ms(5000), stable: zero, jitter: 0.0 };
/// assert_eq!(table.to_backoff()?, Backoff::exponential(ms(100), 2.0, ms(5000))?);
/// assert_eq!(BackoffConfig::Growing.to_backoff()?, Backoff::growing());
/// # Ok::<(), procwire_supervisor::SpecError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BackoffConfig {
    /// `"growing"`: [`Backoff::growing`].
    Growing,
    /// `"procmon"`: [`Backoff::procmon`].
    Procmon,
    /// `"supervisord"`: [`Backoff::supervisord`].
    Supervisord,
    /// `"systemd"`: [`Backoff::systemd`]`(100 ms, 0, 100 ms)`.
    Systemd,
    /// `"pm2"`: [`Backoff::pm2`] from 100 ms.
    Pm2,
    /// `"none"`: [`Backoff::none`].
    None,
    /// A table: [`Backoff::exponential`].
    Exponential {
        /// The delay after the first quick death.
        first: Duration,
        /// Each delay this many times the one before (2.0 unless given).
        factor: f64,
        /// The longest delay.
        max: Duration,
        /// The delay after a stable run (zero unless given).
        stable: Duration,
        /// Each delay shortened by a random fraction up to this (0.0 unless
        /// given).
        jitter: f64,
    },
}

const PRESETS: [(&str, BackoffConfig); 6] = [
    ("growing", BackoffConfig::Growing),
    ("procmon", BackoffConfig::Procmon),
    ("supervisord", BackoffConfig::Supervisord),
    ("systemd", BackoffConfig::Systemd),
    ("pm2", BackoffConfig::Pm2),
    ("none", BackoffConfig::None),
];

impl BackoffConfig {
    /// The [`Backoff`] it stands for.
    ///
    /// # Errors
    ///
    /// The table's settings that [`Backoff::exponential`],
    /// [`with_jitter`](Backoff::with_jitter) refuse.
    pub fn to_backoff(&self) -> Result<Backoff, SpecError> {
        let systemd_sec = Duration::from_millis(100);
        Ok(match *self {
            BackoffConfig::Growing => Backoff::growing(),
            BackoffConfig::Procmon => Backoff::procmon(),
            BackoffConfig::Supervisord => Backoff::supervisord(),
            BackoffConfig::Systemd => Backoff::systemd(systemd_sec, 0, systemd_sec)?,
            BackoffConfig::Pm2 => Backoff::pm2(Duration::from_millis(100))?,
            BackoffConfig::None => Backoff::none(),
            BackoffConfig::Exponential { first, factor, max, stable, jitter } => {
                Backoff::exponential(first, factor, max)?.with_stable(stable).with_jitter(jitter)?
            }
        })
    }
}

/// The table form of a backoff.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExponentialTable {
    #[serde(with = "duration::plain")]
    first: Duration,
    #[serde(default = "two")]
    factor: f64,
    #[serde(with = "duration::plain")]
    max: Duration,
    #[serde(default, with = "duration::plain")]
    stable: Duration,
    #[serde(default)]
    jitter: f64,
}

fn two() -> f64 {
    2.0
}

impl Serialize for BackoffConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = match *self {
            BackoffConfig::Growing => "growing",
            BackoffConfig::Procmon => "procmon",
            BackoffConfig::Supervisord => "supervisord",
            BackoffConfig::Systemd => "systemd",
            BackoffConfig::Pm2 => "pm2",
            BackoffConfig::None => "none",
            BackoffConfig::Exponential { first, factor, max, stable, jitter } => {
                return ExponentialTable { first, factor, max, stable, jitter }.serialize(s);
            }
        };
        s.serialize_str(name)
    }
}

impl<'de> Deserialize<'de> for BackoffConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BackoffConfig, D::Error> {
        struct PresetOrTable;
        impl<'de> Visitor<'de> for PresetOrTable {
            type Value = BackoffConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a preset's name or a table { first, factor, max, stable, jitter }")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<BackoffConfig, E> {
                match PRESETS.iter().find(|(n, _)| *n == text) {
                    Some((_, preset)) => Ok(preset.clone()),
                    None => Err(E::custom(format!(
                        "{text:?} is not one of \"growing\", \"procmon\", \"supervisord\", \"systemd\", \
                         \"pm2\", \"none\" or a table {{ first, factor, max, stable, jitter }}"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BackoffConfig, A::Error> {
                let t = ExponentialTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let ExponentialTable { first, factor, max, stable, jitter } = t;
                Ok(BackoffConfig::Exponential { first, factor, max, stable, jitter })
            }
        }
        d.deserialize_any(PresetOrTable)
    }
}

/// A program's `ready`: how it tells it is ready, as text. Available
/// with the `config` feature.
///
/// | text | readiness |
/// |---|---|
/// | `"spawned"` | [`Readiness::Spawned`], the default |
/// | `"notify"`, `"notify:main"`, `"notify:group"`, `"notify:all"` | [`Readiness::Notify`] with [`NotifyAccess`] `Main` (the default), `Group`, `All` |
/// | `"notification-fd:N"` | [`Readiness::NotificationFd`]`(N)`, N of 3 or more |
/// | `"log-line:PREFIX"` | [`Readiness::LogLine`]: an output line that starts with the bytes of `PREFIX` |
///
/// ```
/// use procwire_supervisor::{NotifyAccess, ReadyConfig};
///
/// assert_eq!("notify:group".parse(), Ok(ReadyConfig::Notify(NotifyAccess::Group)));
/// assert_eq!("log-line:listening on".parse(), Ok(ReadyConfig::LogLine("listening on".into())));
/// assert_eq!(ReadyConfig::NotificationFd(3).to_string(), "notification-fd:3");
/// assert!("notification-fd:2".parse::<ReadyConfig>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadyConfig {
    /// `"spawned"`.
    Spawned,
    /// `"notify"` or `"notify:ACCESS"`.
    Notify(NotifyAccess),
    /// `"notification-fd:N"`.
    NotificationFd(i32),
    /// `"log-line:PREFIX"`.
    LogLine(String),
}

impl ReadyConfig {
    /// The [`Readiness`] it stands for.
    ///
    /// # Errors
    ///
    /// [`SpecError::NotificationFd`] for a notification fd below 3.
    pub fn to_readiness(&self) -> Result<Readiness, SpecError> {
        Ok(match self {
            ReadyConfig::Spawned => Readiness::Spawned,
            ReadyConfig::Notify(access) => Readiness::Notify { access: *access },
            ReadyConfig::NotificationFd(fd) if *fd < 3 => return Err(SpecError::NotificationFd(*fd)),
            ReadyConfig::NotificationFd(fd) => Readiness::NotificationFd(*fd),
            ReadyConfig::LogLine(prefix) => {
                let prefix = prefix.clone().into_bytes();
                Readiness::log_line(move |l| l.line.bytes.starts_with(&prefix))
            }
        })
    }
}

impl std::str::FromStr for ReadyConfig {
    type Err = String;

    /// Reads the text of the table above.
    fn from_str(text: &str) -> Result<ReadyConfig, String> {
        let access = |a: &str| NotifyAccess::parse(a).map(ReadyConfig::Notify);
        match text.split_once(':') {
            None if text == "spawned" => Ok(ReadyConfig::Spawned),
            None if text == "notify" => Ok(ReadyConfig::Notify(NotifyAccess::Main)),
            Some(("notify", a)) => access(a).map_err(|e| format!("notify access: {e}")),
            Some(("notification-fd", fd)) => match fd.parse::<i32>() {
                Ok(fd) if fd > 2 => Ok(ReadyConfig::NotificationFd(fd)),
                _ => Err(format!("{fd:?} is not a file descriptor of 3 or more")),
            },
            Some(("log-line", prefix)) => Ok(ReadyConfig::LogLine(prefix.to_owned())),
            _ => Err(format!(
                "{text:?} is not one of \"spawned\", \"notify\", \"notify:ACCESS\" (main, group, all), \
                 \"notification-fd:N\", \"log-line:PREFIX\""
            )),
        }
    }
}

/// The text [`FromStr`](std::str::FromStr) reads back.
impl fmt::Display for ReadyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadyConfig::Spawned => f.write_str("spawned"),
            ReadyConfig::Notify(NotifyAccess::Main) => f.write_str("notify"),
            ReadyConfig::Notify(access) => write!(f, "notify:{}", access.name().unwrap_or("main")),
            ReadyConfig::NotificationFd(fd) => write!(f, "notification-fd:{fd}"),
            ReadyConfig::LogLine(prefix) => write!(f, "log-line:{prefix}"),
        }
    }
}

impl Serialize for ReadyConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReadyConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ReadyConfig, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = ReadyConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"spawned\", \"notify\", \"notification-fd:N\" or \"log-line:PREFIX\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<ReadyConfig, E> {
                text.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Text)
    }
}

/// A program's `start_limit`: `{ burst, interval, retry_after }`, a
/// [`StartLimit`]. Available with the `config` feature.
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::{StartLimit, StartLimitConfig};
///
/// let limit = StartLimitConfig::new(5, Duration::from_secs(10));
/// assert_eq!(limit.to_start_limit()?, StartLimit::systemd());
/// # Ok::<(), procwire_supervisor::SpecError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StartLimitConfig {
    /// At most this many starts...
    pub burst: u32,
    /// ... within this interval.
    #[serde(with = "duration::plain")]
    pub interval: Duration,
    /// Once `Failed`, start again after this long (never unless given).
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Duration>,
}

impl StartLimitConfig {
    /// `burst` starts within `interval`, no retry.
    pub fn new(burst: u32, interval: Duration) -> StartLimitConfig {
        StartLimitConfig { burst, interval, retry_after: None }
    }

    /// The [`StartLimit`] it stands for.
    ///
    /// # Errors
    ///
    /// What [`StartLimit::new`] refuses.
    pub fn to_start_limit(&self) -> Result<StartLimit, SpecError> {
        let limit = StartLimit::new(self.burst, self.interval)?;
        Ok(match self.retry_after {
            Some(delay) => limit.with_retry_after(delay),
            None => limit,
        })
    }
}

/// A program's `liveness`: a command run every `interval` once the
/// program is `Running`, alive while it exits with 0 (a [`Liveness`]
/// check: `{ exec = ["curl", "-fs", "http://127.0.0.1:8080/health"],
/// interval = "10s", timeout = "1s", failures = 3 }`, the defaults of
/// [`Liveness::new`] unless given). The command gets the supervisor's
/// environment and working directory and `/dev/null` on fds 0, 1 and 2;
/// a run past `timeout` is killed and counts as a failure, as does a
/// command that cannot be spawned. Available with the `config` feature.
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::{LivenessConfig, ProgramConfig};
///
/// let mut web = ProgramConfig::new(["./web"]);
/// let mut check = LivenessConfig::new(["curl", "-fs", "http://127.0.0.1:8080/health"]);
/// check.interval = Some(Duration::from_secs(5));
/// web.liveness = Some(check);
/// let spec = web.to_spec("web")?;
/// assert_eq!(spec.get_liveness().map(|l| l.get_interval()), Some(Duration::from_secs(5)));
/// # Ok::<(), procwire_supervisor::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LivenessConfig {
    /// The command's argv: the program, then its arguments.
    pub exec: Vec<String>,
    /// The wait before each run (10 s unless given).
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// How long one run may take (1 s unless given).
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// How many failed runs in a row stop the program (3 unless given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
}

impl LivenessConfig {
    /// A check running `exec` (the program, then its arguments), with
    /// the defaults.
    pub fn new<S: Into<String>>(exec: impl IntoIterator<Item = S>) -> LivenessConfig {
        LivenessConfig {
            exec: exec.into_iter().map(Into::into).collect(),
            interval: None,
            timeout: None,
            failures: None,
        }
    }

    /// The [`Liveness`] check, or the key (`exec`, `interval`, `timeout`,
    /// `failures`) and what is wrong with it.
    pub(crate) fn to_liveness(&self) -> Result<Liveness, (&'static str, String)> {
        let command = exec_command(&self.exec)?;
        let mut check = Liveness::new(move || {
            let mut command = command.clone();
            async move {
                match command.spawn() {
                    Ok(mut child) => child.wait().await.is_ok_and(|status| status.success()),
                    Err(_) => false,
                }
            }
        });
        let zero = |key, d: Option<Duration>| match d {
            Some(d) if d.is_zero() => Err((key, "0s: it must be longer".to_owned())),
            _ => Ok(()),
        };
        zero("interval", self.interval)?;
        zero("timeout", self.timeout)?;
        if let Some(interval) = self.interval {
            check = check.interval(interval);
        }
        if let Some(timeout) = self.timeout {
            check = check.timeout(timeout);
        }
        match self.failures {
            Some(0) => return Err(("failures", "0: at least one failure stops the program".to_owned())),
            Some(failures) => check = check.failures(failures),
            None => {}
        }
        Ok(check)
    }
}

/// The command of an `exec` key: the program, then its arguments, with
/// `/dev/null` on fds 0, 1 and 2, killed when its run is dropped (a
/// timeout); or the key and what is wrong with it.
fn exec_command(exec: &[String]) -> Result<Command, (&'static str, String)> {
    let Some((program, args)) = exec.split_first() else {
        return Err(("exec", "empty: it needs at least the program".to_owned()));
    };
    if exec.iter().any(|a| a.contains('\0')) {
        return Err(("exec", "an argument holds a NUL byte".to_owned()));
    }
    let mut command = Command::new(program);
    command.args(args).kill_on_drop(true);
    for fd in 0..3 {
        command.child_fd(fd, ChildFd::Null);
    }
    Ok(command)
}

/// A program's `ready_probe`: a command run every `interval` until it
/// exits with 0, which makes the program ready (a [`Readiness::Probe`],
/// Kubernetes' `readinessProbe` with `exec`): `{ exec = ["pg_isready",
/// "-q"], interval = "1s", timeout = "1s" }`, 1 s each unless given. The
/// command gets the supervisor's environment and working directory and
/// `/dev/null` on fds 0, 1 and 2; a run past `timeout` is killed and
/// counts as not ready, as does a command that cannot be spawned. The
/// program's `start_timeout` bounds the whole wait. It stands in for
/// `ready`: a program gives one or the other. Available with the
/// `config` feature.
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::{ProgramConfig, ReadyProbeConfig};
///
/// let mut db = ProgramConfig::new(["postgres", "-D", "/var/lib/postgres"]);
/// let mut probe = ReadyProbeConfig::new(["pg_isready", "-q"]);
/// probe.interval = Some(Duration::from_millis(500));
/// db.ready_probe = Some(probe);
/// let spec = db.to_spec("db")?;
/// assert!(format!("{:?}", spec.get_ready()).starts_with("Probe"));
/// # Ok::<(), procwire_supervisor::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ReadyProbeConfig {
    /// The command's argv: the program, then its arguments.
    pub exec: Vec<String>,
    /// The wait before each run (1 s unless given).
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// How long one run may take (1 s unless given).
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

impl ReadyProbeConfig {
    /// The wait before each run, and the most one run may take, unless
    /// given: 1 s each.
    pub const DEFAULT: Duration = Duration::from_secs(1);

    /// A probe running `exec` (the program, then its arguments), with the
    /// defaults.
    pub fn new<S: Into<String>>(exec: impl IntoIterator<Item = S>) -> ReadyProbeConfig {
        ReadyProbeConfig { exec: exec.into_iter().map(Into::into).collect(), interval: None, timeout: None }
    }

    /// The [`Readiness::Probe`], or the key (`exec`, `interval`,
    /// `timeout`) and what is wrong with it.
    pub(crate) fn to_readiness(&self) -> Result<Readiness, (&'static str, String)> {
        let command = exec_command(&self.exec)?;
        let nonzero = |key, d: Option<Duration>| match d {
            Some(d) if d.is_zero() => Err((key, "0s: it must be longer".to_owned())),
            d => Ok(d.unwrap_or(ReadyProbeConfig::DEFAULT)),
        };
        let interval = nonzero("interval", self.interval)?;
        let timeout = nonzero("timeout", self.timeout)?;
        Ok(Readiness::probe(interval, move || {
            let mut command = command.clone();
            async move {
                // Past the timeout the child is dropped: killed
                // (`kill_on_drop`) and reaped in the background.
                let run = async { command.spawn().ok()?.wait().await.ok() };
                matches!(tokio::time::timeout(timeout, run).await, Ok(Some(status)) if status.success())
            }
        }))
    }
}

/// The supervisor's `intensity`: `{ restarts, period }`, for
/// [`Builder::intensity`](crate::Builder::intensity). Available with the
/// `config` feature.
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::{IntensityConfig, SupervisorConfig};
///
/// let mut config = SupervisorConfig::default();
/// config.supervisor.intensity = Some(IntensityConfig::new(3, Duration::from_secs(5)));
/// let builder = config.builder()?; // as Builder::intensity(3, 5 s)
/// # let _ = builder;
/// # Ok::<(), procwire_supervisor::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IntensityConfig {
    /// More automatic restarts than this...
    pub restarts: u32,
    /// ... within this period stop everything.
    #[serde(with = "duration::plain")]
    pub period: Duration,
}

impl IntensityConfig {
    /// `restarts` within `period`.
    pub fn new(restarts: u32, period: Duration) -> IntensityConfig {
        IntensityConfig { restarts, period }
    }
}
