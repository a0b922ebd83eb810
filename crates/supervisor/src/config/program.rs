//! One `[program.NAME]` table, and the [`ProgramSpec`] it stands for.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use procwire_core::{Command, Signal, StopScope};
use serde::{Deserialize, Serialize};

use super::output::OutputConfig;
use super::parts::{BackoffConfig, LivenessConfig, ReadyConfig, ReadyProbeConfig, StartLimitConfig};
use super::{duration, values, ConfigError};
use crate::error::SpecError;
use crate::lines::LogSpec;
use crate::program::ProgramSpec;
use crate::spec::{RestartPolicy, RestartSpec};

/// One program of a configuration (a `[program.NAME]` table): every key
/// but `command` may be left out, and a key left out is what
/// [`ProgramSpec::new`] gives. Available with the `config` feature.
///
/// The fields are public so that a program can change a configuration
/// before it becomes a spec (the `supervise` example replaces `$SELF` in
/// each `command`); [`to_spec`](Self::to_spec) checks them. Durations are
/// text, `"5s"` or `"300ms"` ([`parse_duration`](crate::parse_duration));
/// signals a name or a number, as procwire reads signals everywhere
/// (`"TERM"`, `"SIGRTMIN+1"`, `15`).
///
/// | key | setting |
/// |---|---|
/// | `command = ["prog", "arg"]` | the argv of [`Command::new`] and [`args`](Command::args) |
/// | `arg0 = "name"` | [`Command::arg0`]: the program's `argv[0]`, instead of its path |
/// | `env = { NAME = "value" }`, `env_clear = true` | [`Command::envs`], [`Command::env_clear`] (cleared first) |
/// | `env_remove = ["NAME"]` | [`Command::env_remove`]: variables of the supervisor's environment the program does not get (a name also in `env` is refused) |
/// | `cwd`, `uid`, `gid`, `groups = [N]` | [`Command::current_dir`], [`uid`](Command::uid), [`gid`](Command::gid), [`groups`](Command::groups) |
/// | `restart` | [`RestartSpec::policy`]: `"always"`, `"never"`, `"on-failure"`, `"on-abnormal"`, `"on-watchdog"` |
/// | `success_codes = [0, 3]`, `success_signals = ["USR1"]` | [`RestartSpec::success_codes`], [`success_signals`](RestartSpec::success_signals) |
/// | `prevent_codes`, `prevent_signals` | [`RestartSpec::prevent_codes`], [`prevent_signals`](RestartSpec::prevent_signals) |
/// | `min_uptime = "10s"` | [`RestartSpec::min_uptime`] |
/// | `backoff` | [`RestartSpec::backoff`]: a [`BackoffConfig`] |
/// | `start_limit = { burst, interval, retry_after }` | [`RestartSpec::start_limit`]: a [`StartLimitConfig`] |
/// | `max_retries = 3` | [`RestartSpec::max_retries`] |
/// | `ready` | [`ProgramSpec::ready`]: a [`ReadyConfig`] |
/// | `ready_probe = { exec, interval, timeout }` | [`ProgramSpec::ready`] with a [`Readiness::Probe`](crate::Readiness::Probe) that runs a command: a [`ReadyProbeConfig`]; instead of `ready` |
/// | `start_timeout`, `watchdog` | [`ProgramSpec::start_timeout`], [`ProgramSpec::watchdog`] |
/// | `liveness = { exec, interval, timeout, failures }` | [`ProgramSpec::liveness`]: a [`LivenessConfig`] |
/// | `after = ["db"]`, `requires = true` | [`ProgramSpec::after`], [`ProgramSpec::requires`] |
/// | `autostart = false` | [`ProgramSpec::autostart`] |
/// | `stop_signal`, `stop_grace`, `stop_final_signal` | [`StopPolicy::with_signal`](crate::StopPolicy::with_signal), [`with_grace`](crate::StopPolicy::with_grace), [`with_final_signal`](crate::StopPolicy::with_final_signal) |
/// | `stop_scope` | [`StopPolicy::with_scope`](crate::StopPolicy::with_scope): `"tree"` (the default), `"process"`, `"group"`, `"cgroup"` (with `cgroup`) |
/// | `cgroup = "/sys/fs/cgroup/app"` | [`ProgramSpec::cgroup`] |
/// | `own_process_group = false` | [`ProgramSpec::own_process_group`] |
/// | `parent_death_signal` | [`ProgramSpec::parent_death_signal`]: a signal, or `false` for none |
/// | `log_fds = [1, 2]`, `log_max_line = 16384` | [`LogSpec::fds`], [`LogSpec::max_line`] |
/// | `stdout`, `stderr` | where fd 1, fd 2 goes: `"log"` (the default), `"null"`, `"inherit"`, `"append:/abs/path"`, `"truncate:/abs/path"` ([`ProgramSpec::output_file`]): an [`OutputConfig`] |
///
/// The program's sink is the default one ([`ProgramSpec::sink`]): set
/// another on the spec.
///
/// ```
/// use procwire_supervisor::ProgramConfig;
///
/// let web: ProgramConfig = toml::from_str(r#"
///     command = ["python3", "-m", "http.server", "8080"]
///     stop_grace = "2s"
///     after = ["db"]
/// "#)?;
/// let spec = web.to_spec("web")?;
/// assert_eq!(spec.get_stop().grace, std::time::Duration::from_secs(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ProgramConfig {
    /// The program, then its arguments.
    pub command: Vec<String>,
    /// The program's `argv[0]`, instead of `command`'s first item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg0: Option<String>,
    /// Variables set for the program.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Start from an empty environment (before `env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_clear: Option<bool>,
    /// Variables taken out of the environment the program inherits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_remove: Vec<String>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// The user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// The group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// The supplementary groups, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<u32>>,
    /// Which exits are followed by a restart.
    #[serde(default, with = "values::named", skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartPolicy>,
    /// The exit codes that count as clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_codes: Option<Vec<u8>>,
    /// Signals that count as clean, besides HUP, INT, TERM and PIPE.
    #[serde(default, with = "values::signals", skip_serializing_if = "Option::is_none")]
    pub success_signals: Option<Vec<Signal>>,
    /// Exit codes after which it is never restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_codes: Option<Vec<u8>>,
    /// Signals after which it is never restarted.
    #[serde(default, with = "values::signals", skip_serializing_if = "Option::is_none")]
    pub prevent_signals: Option<Vec<Signal>>,
    /// A run at least this long is stable.
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub min_uptime: Option<Duration>,
    /// The delays before restarts after quick deaths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<BackoffConfig>,
    /// A limit on starts within an interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_limit: Option<StartLimitConfig>,
    /// At most this many automatic restarts in a row after quick deaths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// How it tells it is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<ReadyConfig>,
    /// How long it may take to be ready (`"0s"`: for ever).
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub start_timeout: Option<Duration>,
    /// The watchdog period ([`ProgramSpec::watchdog`](crate::ProgramSpec::watchdog); `"0s"`: none).
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub watchdog: Option<Duration>,
    /// A command that says it is ready, instead of `ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_probe: Option<ReadyProbeConfig>,
    /// A check run while it is `Running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<LivenessConfig>,
    /// The programs it starts after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// A restart of one of `after` restarts it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<bool>,
    /// Whether it starts when added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    /// The signal that asks it to stop.
    #[serde(default, with = "values::signal", skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<Signal>,
    /// The time between the stop signal and the final one.
    #[serde(default, with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub stop_grace: Option<Duration>,
    /// The signal sent when the grace runs out.
    #[serde(default, with = "values::signal", skip_serializing_if = "Option::is_none")]
    pub stop_final_signal: Option<Signal>,
    /// Whom the stop signals reach.
    #[serde(default, with = "values::named", skip_serializing_if = "Option::is_none")]
    pub stop_scope: Option<StopScope>,
    /// The cgroup v2 directory its incarnations' cgroups are made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<PathBuf>,
    /// Whether it leads a process group of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_process_group: Option<bool>,
    /// The signal it gets when the supervisor dies (`Some(None)`: none).
    #[serde(default, with = "values::signal_or_false", skip_serializing_if = "Option::is_none")]
    pub parent_death_signal: Option<Option<Signal>>,
    /// The fds whose lines are logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_fds: Option<Vec<i32>>,
    /// The longest line logged in one piece, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_line: Option<usize>,
    /// Where fd 1 goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<OutputConfig>,
    /// Where fd 2 goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<OutputConfig>,
}

impl ProgramConfig {
    /// A program running `command` (the program, then its arguments),
    /// every other key left out.
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>) -> ProgramConfig {
        ProgramConfig { command: command.into_iter().map(Into::into).collect(), ..ProgramConfig::default() }
    }

    /// The program `name` as these settings describe it.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the program and the key, for settings the
    /// supervisor would refuse at [`add`](crate::Supervisor::add) or
    /// could never spawn: an empty `command`, a NUL byte in it, in `arg0`,
    /// `env` or `cwd`, an `env` or `env_remove` name that is empty or holds
    /// `=`, a name both in `env` and `env_remove`, a backoff, start limit,
    /// notification fd, liveness or log setting out of range, a
    /// `stop_scope` of `"cgroup"` without `cgroup`, a `stdout` or `stderr`
    /// file whose path is not absolute. (Whether the files exist, and the
    /// dependencies, are checked at `add`.)
    pub fn to_spec(&self, name: &str) -> Result<ProgramSpec, ConfigError> {
        self.spec(name).map_err(|(key, message)| ConfigError::new(Some(name), Some(&key), message))
    }

    fn spec(&self, name: &str) -> Result<ProgramSpec, (String, String)> {
        let key = |key: &'static str| move |e: SpecError| (key.to_owned(), e.to_string());
        let mut spec = ProgramSpec::new(name, self.command()?);

        let mut restart = RestartSpec::new();
        if let Some(policy) = self.restart {
            restart.policy(policy);
        }
        if let Some(codes) = &self.success_codes {
            restart.success_codes(codes.iter().copied());
        }
        if let Some(signals) = &self.success_signals {
            restart.success_signals(signals.iter().copied());
        }
        if let Some(codes) = &self.prevent_codes {
            restart.prevent_codes(codes.iter().copied());
        }
        if let Some(signals) = &self.prevent_signals {
            restart.prevent_signals(signals.iter().copied());
        }
        if let Some(min_uptime) = self.min_uptime {
            restart.min_uptime(min_uptime);
        }
        if let Some(backoff) = &self.backoff {
            restart.backoff(backoff.to_backoff().map_err(key("backoff"))?);
        }
        if let Some(limit) = &self.start_limit {
            restart.start_limit(Some(limit.to_start_limit().map_err(key("start_limit"))?));
        }
        if self.max_retries.is_some() {
            restart.max_retries(self.max_retries);
        }
        spec.restart(restart);

        if let Some(ready) = &self.ready {
            spec.ready(ready.to_readiness().map_err(key("ready"))?);
        }
        if let Some(probe) = &self.ready_probe {
            if self.ready.is_some() {
                let both = "`ready` is given too: a program is made ready by one or the other";
                return Err(("ready_probe".to_owned(), both.to_owned()));
            }
            spec.ready(probe.to_readiness().map_err(|(k, e)| (format!("ready_probe.{k}"), e))?);
        }
        if let Some(timeout) = self.start_timeout {
            spec.start_timeout(timeout);
        }
        if let Some(period) = self.watchdog {
            spec.watchdog(period);
        }
        if let Some(liveness) = &self.liveness {
            let check = liveness.to_liveness().map_err(|(k, e)| (format!("liveness.{k}"), e))?;
            spec.liveness(check);
        }
        spec.after(self.after.iter().map(String::as_str));
        if let Some(requires) = self.requires {
            spec.requires(requires);
        }
        if let Some(autostart) = self.autostart {
            spec.autostart(autostart);
        }

        let mut stop = ProgramSpec::DEFAULT_STOP;
        if let Some(signal) = self.stop_signal {
            stop = stop.with_signal(signal);
        }
        if let Some(grace) = self.stop_grace {
            stop = stop.with_grace(grace);
        }
        if let Some(signal) = self.stop_final_signal {
            stop = stop.with_final_signal(signal);
        }
        if let Some(scope) = self.stop_scope {
            if scope == StopScope::Cgroup && self.cgroup.is_none() {
                return Err(("stop_scope".to_owned(), "\"cgroup\" needs a `cgroup` directory".to_owned()));
            }
            stop = stop.with_scope(scope);
        }
        spec.stop(stop);
        if let Some(dir) = &self.cgroup {
            spec.cgroup(dir);
        }
        if let Some(own) = self.own_process_group {
            spec.own_process_group(own);
        }
        if let Some(signal) = self.parent_death_signal {
            spec.parent_death_signal(signal);
        }

        let mut log = LogSpec::new();
        if let Some(fds) = &self.log_fds {
            log.fds(fds.iter().copied());
            log.validate().map_err(key("log_fds"))?;
        }
        if let Some(max_line) = self.log_max_line {
            log.max_line(max_line);
            log.validate().map_err(key("log_max_line"))?;
        }
        spec.log(log);
        for (fd, key, output) in [(1, "stdout", &self.stdout), (2, "stderr", &self.stderr)] {
            if let Some(output) = output {
                output.apply(fd, &mut spec).map_err(|e| (key.to_owned(), e))?;
            }
        }
        Ok(spec)
    }

    /// The command, or what is wrong with its key.
    fn command(&self) -> Result<Command, (String, String)> {
        let err = |key: &str, message: String| (key.to_owned(), message);
        let Some((program, args)) = self.command.split_first() else {
            return Err(err("command", "empty: it needs at least the program".to_owned()));
        };
        if let Some(arg) = self.command.iter().find(|a| a.contains('\0')) {
            return Err(err("command", format!("{arg:?} holds a NUL byte")));
        }
        let mut command = Command::new(program);
        command.args(args);
        if let Some(arg0) = &self.arg0 {
            if arg0.contains('\0') {
                return Err(err("arg0", format!("{arg0:?} holds a NUL byte")));
            }
            command.arg0(arg0);
        }
        if self.env_clear == Some(true) {
            command.env_clear();
        }
        for name in &self.env_remove {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(err(
                    "env_remove",
                    format!("{name:?} is not a variable's name (empty, or holds = or NUL)"),
                ));
            }
            if self.env.contains_key(name) {
                return Err(err("env_remove", format!("{name:?} is set in `env` too")));
            }
            command.env_remove(name);
        }
        for (name, value) in &self.env {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(err(
                    "env",
                    format!("{name:?} is not a variable's name (empty, or holds = or NUL)"),
                ));
            }
            if value.contains('\0') {
                return Err(err(&format!("env.{name}"), format!("{value:?} holds a NUL byte")));
            }
            command.env(name, value);
        }
        if let Some(cwd) = &self.cwd {
            if cwd.as_os_str().as_encoded_bytes().contains(&0) {
                return Err(err("cwd", format!("{cwd:?} holds a NUL byte")));
            }
            command.current_dir(cwd);
        }
        if let Some(uid) = self.uid {
            command.uid(uid);
        }
        if let Some(gid) = self.gid {
            command.gid(gid);
        }
        if let Some(groups) = &self.groups {
            command.groups(groups);
        }
        Ok(command)
    }
}
