//! The configuration reader of the `supervise` example: the text of a TOML
//! file in, the supervisor's settings and its programs out. A file of its
//! own so that the fuzz target `fuzz/fuzz_targets/supervise_config.rs` and
//! the property tests in `tests/supervise_config.rs` read configurations
//! exactly as the example does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use procwire::supervisor::{
    Backoff, Builder, ProgramSpec, Readiness, RestartPolicy, RestartSpec, Strategy, Supervisor,
};
use procwire::{Command, Signal, StopPolicy, StopScope};
use serde::Deserialize;

/// The configuration file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    supervisor: SupervisorConfig,
    /// Each table is read on its own, so that an error names its program.
    #[serde(default)]
    program: toml::Table,
}

/// `[supervisor]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SupervisorConfig {
    strategy: Option<StrategyName>,
    intensity: Option<Intensity>,
    #[serde(default)]
    notify_systemd: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum StrategyName {
    OneForOne,
    OneForAll,
    RestForOne,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Intensity {
    restarts: u32,
    period_ms: u64,
}

/// `[program.NAME]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgramConfig {
    command: Vec<String>,
    restart: Option<RestartName>,
    backoff: Option<toml::Value>,
    ready: Option<String>,
    start_timeout_ms: Option<u64>,
    watchdog_ms: Option<u64>,
    #[serde(default)]
    after: Vec<String>,
    #[serde(default)]
    requires: bool,
    stop_signal: Option<SignalName>,
    stop_grace_ms: Option<u64>,
    stop_scope: Option<ScopeName>,
    autostart: Option<bool>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
}

/// `stop_signal`: a string (`"TERM"`, `"SIGRTMIN+1"`, `"15"`) or a
/// number (`15`).
#[derive(Deserialize)]
#[serde(untagged)]
enum SignalName {
    Text(String),
    Number(i64),
}

impl SignalName {
    /// procwire's one signal parser reads both: a number as its decimal
    /// text, so it meets the same rule (and the same errors).
    fn parse(&self) -> Result<Signal, procwire::Error> {
        match self {
            SignalName::Text(text) => text.parse(),
            SignalName::Number(n) => n.to_string().parse(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RestartName {
    Always,
    Never,
    OnFailure,
    OnAbnormal,
    OnWatchdog,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ScopeName {
    Process,
    Group,
}

/// `backoff = { first_ms, factor, max_ms }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackoffTable {
    first_ms: u64,
    factor: f64,
    max_ms: u64,
}

/// The supervisor's settings and its programs, in the file's order, from
/// the text of a configuration file; `this` is the path `$SELF` stands for.
///
/// # Errors
///
/// The first thing wrong, naming the program and key when there is one.
pub(crate) fn parse(text: &str, this: &Path) -> Result<(Builder, Vec<ProgramSpec>), String> {
    let config: Config = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
    let mut builder = Supervisor::builder();
    let sup = config.supervisor;
    builder.notify_systemd(sup.notify_systemd);
    if let Some(strategy) = sup.strategy {
        builder.strategy(match strategy {
            StrategyName::OneForOne => Strategy::OneForOne,
            StrategyName::OneForAll => Strategy::OneForAll,
            StrategyName::RestForOne => Strategy::RestForOne,
        });
    }
    if let Some(Intensity { restarts, period_ms }) = sup.intensity {
        builder.intensity(restarts, ms(period_ms)).map_err(|e| format!("[supervisor] intensity: {e}"))?;
    }
    let mut programs = Vec::new();
    for (name, table) in config.program {
        let toml::Value::Table(table) = table else {
            return Err(format!("program {name:?}: expected a [program.{name}] table"));
        };
        let program = ProgramConfig::deserialize(table).map_err(|e| match key_error(&e) {
            (Some(key), e) => format!("program {name:?}, key {key}: {e}"),
            (None, e) => format!("program {name:?}: {e}"),
        })?;
        let spec =
            spec(&name, program, this).map_err(|(key, e)| format!("program {name:?}, key `{key}`: {e}"))?;
        programs.push(spec);
    }
    Ok((builder, programs))
}

/// A serde error as (the key it names, if any, the message): toml ends
/// the text of a bad value's error with "\nin `key`".
fn key_error(e: &toml::de::Error) -> (Option<String>, String) {
    let text = e.to_string();
    match text.trim_end().rsplit_once("\nin ") {
        Some((message, key)) => (Some(key.to_owned()), message.to_owned()),
        None => (None, text.trim_end().to_owned()),
    }
}

/// One program's spec; an error names the key.
fn spec(name: &str, p: ProgramConfig, this: &Path) -> Result<ProgramSpec, (&'static str, String)> {
    let this = this.to_string_lossy();
    let mut argv = p.command.iter().map(|arg| arg.replace("$SELF", &this));
    let program = argv.next().ok_or(("command", "empty: it needs at least the program".to_owned()))?;
    let mut command = Command::new(program);
    // Each program leads a group of its own (the supervisor's default): a
    // ^C in the terminal (SIGINT to the whole foreground group) reaches
    // supervise alone, which then stops the programs in order.
    command.args(argv).envs(&p.env);
    if let Some(cwd) = &p.cwd {
        command.current_dir(cwd);
    }

    let mut restart = RestartSpec::new();
    if let Some(policy) = p.restart {
        restart.policy(match policy {
            RestartName::Always => RestartPolicy::Always,
            RestartName::Never => RestartPolicy::Never,
            RestartName::OnFailure => RestartPolicy::OnFailure,
            RestartName::OnAbnormal => RestartPolicy::OnAbnormal,
            RestartName::OnWatchdog => RestartPolicy::OnWatchdog,
        });
    }
    if let Some(backoff) = p.backoff {
        restart.backoff(self::backoff(backoff).map_err(|e| ("backoff", e))?);
    }

    let mut stop = StopPolicy::new();
    if let Some(sig) = p.stop_signal {
        stop = stop.with_signal(sig.parse().map_err(|e| ("stop_signal", e.to_string()))?);
    }
    if let Some(grace) = p.stop_grace_ms {
        stop = stop.with_grace(ms(grace));
    }
    if let Some(scope) = p.stop_scope {
        stop = stop.with_scope(match scope {
            ScopeName::Process => StopScope::Process,
            ScopeName::Group => StopScope::Group,
        });
    }

    let mut spec = ProgramSpec::new(name, command);
    // Lines are printed from the logs channel, with the events.
    spec.restart(restart).stop(stop).after(p.after).requires(p.requires).no_sink();
    if let Some(ready) = p.ready {
        spec.ready(readiness(&ready).map_err(|e| ("ready", e))?);
    }
    if let Some(timeout) = p.start_timeout_ms {
        spec.start_timeout(ms(timeout));
    }
    if let Some(period) = p.watchdog_ms {
        spec.watchdog(ms(period));
    }
    if let Some(autostart) = p.autostart {
        spec.autostart(autostart);
    }
    Ok(spec)
}

/// `"spawned"`, `"notify"`, `"notification-fd:N"` or `"log-line:PREFIX"`.
fn readiness(ready: &str) -> Result<Readiness, String> {
    match ready.split_once(':') {
        None if ready == "spawned" => Ok(Readiness::Spawned),
        None if ready == "notify" => Ok(Readiness::notify()),
        Some(("notification-fd", fd)) => match fd.parse::<i32>() {
            Ok(fd) if fd > 2 => Ok(Readiness::NotificationFd(fd)),
            _ => Err(format!("{fd:?} is not a file descriptor above 2")),
        },
        Some(("log-line", prefix)) => {
            let prefix = prefix.as_bytes().to_vec();
            Ok(Readiness::log_line(move |l| l.line.bytes.starts_with(&prefix)))
        }
        _ => Err(format!(
            "{ready:?} is not one of \"spawned\", \"notify\", \"notification-fd:N\", \"log-line:PREFIX\""
        )),
    }
}

/// A preset's name, or `{ first_ms, factor, max_ms }`.
fn backoff(value: toml::Value) -> Result<Backoff, String> {
    let backoff = match value {
        toml::Value::String(preset) => match preset.as_str() {
            "procmon" => Ok(Backoff::procmon()),
            "supervisord" => Ok(Backoff::supervisord()),
            // systemd's defaults: RestartSec=100ms, no RestartSteps.
            "systemd" => Backoff::systemd(ms(100), 0, ms(100)),
            // pm2's exp_backoff_restart_delay as its docs suggest it: 100 ms.
            "pm2" => Backoff::pm2(ms(100)),
            "none" => Ok(Backoff::none()),
            _ => {
                return Err(format!(
                    "{preset:?} is not one of \"procmon\", \"supervisord\", \"systemd\", \"pm2\", \"none\" \
                     or a table {{ first_ms, factor, max_ms }}"
                ))
            }
        },
        toml::Value::Table(table) => {
            let BackoffTable { first_ms, factor, max_ms } =
                BackoffTable::deserialize(table).map_err(|e| match key_error(&e) {
                    (Some(key), e) => format!("{key}: {e}"),
                    (None, e) => e,
                })?;
            Backoff::exponential(ms(first_ms), factor, ms(max_ms))
        }
        other => return Err(format!("expected a preset's name or a table, found {}", other.type_str())),
    };
    backoff.map_err(|e| e.to_string())
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}
