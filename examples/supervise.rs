//! A small supervisord: runs the programs of a TOML file, each in a
//! `[program.NAME]` table, with its restart policy, backoff, readiness,
//! dependencies and stop ladder; prints every event and every output line;
//! stops everything cleanly on SIGTERM or SIGINT, dependents first.
//!
//! ```text
//! cargo run -p procwire-examples --example supervise -- [CONFIG]
//! ```
//!
//! CONFIG defaults to the sample beside this file, `supervise.toml`, whose
//! comments list every key. Exit status: 0 after a stop by signal, 1 when
//! the supervisor gave up (its restart intensity was exceeded), 2 for a bad
//! command line or configuration (the message names the program and key).
//!
//! The binary is also the sample's sd_notify program: `supervise
//! --notify-ready-after MS` sleeps MS milliseconds, sends `READY=1` and a
//! `STATUS=` to `$NOTIFY_SOCKET`, then waits for its stop signal. In a
//! `command`, `$SELF` stands for this binary's path.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use procwire::supervisor::{
    Backoff, Builder, Event, LogLine, Logs, ProgramSpec, Readiness, RestartPolicy, RestartSpec, Strategy,
    Subscription, Supervisor,
};
use procwire::{Command, Signal, StopPolicy, StopScope};
use serde::Deserialize;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::broadcast::error::RecvError;

const USAGE: &str = "usage: supervise [CONFIG]\n       supervise --notify-ready-after MS";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.as_slice() {
        [flag, ms] if flag == "--notify-ready-after" => return notify_ready_after(ms),
        [] => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/supervise.toml")),
        [path] if !path.starts_with('-') => PathBuf::from(path),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (builder, programs) = match load(&path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("supervise: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(supervise(&path, builder, programs))
}

/// Runs the programs until SIGTERM or SIGINT (0), or until the
/// supervisor gives up (1).
async fn supervise(path: &Path, builder: Builder, programs: Vec<ProgramSpec>) -> ExitCode {
    // Before any child exists, so that a signal never finds us undefended.
    let mut int = signal(SignalKind::interrupt()).expect("a SIGINT handler");
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    let (supervisor, mut task) = builder.build();
    let (Ok(events), Ok(logs)) = (supervisor.events().await, supervisor.logs().await) else {
        unreachable!("a new supervisor is not shut down");
    };
    let mut out = Printer { events, logs, events_open: true, logs_open: true };
    // Checked together (names, dependencies, cycles), started in an order
    // where each program comes after those it runs after.
    if let Err(e) = supervisor.add_all(programs).await {
        eprintln!("supervise: {}: {e}", path.display());
        return ExitCode::from(2);
    }

    let ended = out
        .print_until(async {
            tokio::select! {
                _ = int.recv() => Ok("SIGINT"),
                _ = term.recv() => Ok("SIGTERM"),
                result = &mut task => Err(result),
            }
        })
        .await;
    let (report, result) = match ended {
        Ok(signal) => {
            println!("[supervise] {signal}: stopping every program, dependents first");
            // Err only when the task ended by itself meanwhile: its
            // result says why.
            let report = out.print_until(supervisor.shutdown()).await.ok();
            (report, out.print_until(&mut task).await)
        }
        Err(result) => (None, result),
    };
    out.drain().await;
    if let Some(report) = report {
        for (name, stopped) in &report.stopped {
            println!("[supervise] {name} stopped: {stopped}");
        }
        let forced: Vec<&str> = report.forced().collect();
        if !forced.is_empty() {
            println!("[supervise] the grace ran out for: {}", forced.join(", "));
        }
    }
    match result {
        Ok(Ok(())) => {
            println!("[supervise] stopped");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("supervise: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("supervise: the supervisor's task failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the supervisor's events and its programs' lines as they come.
struct Printer {
    events: Subscription<Event>,
    logs: Logs,
    events_open: bool,
    logs_open: bool,
}

impl Printer {
    /// Prints until `until` resolves, and gives its output.
    async fn print_until<T>(&mut self, until: impl Future<Output = T>) -> T {
        tokio::pin!(until);
        loop {
            tokio::select! {
                out = &mut until => return out,
                event = self.events.recv(), if self.events_open => self.event(event),
                line = self.logs.recv(), if self.logs_open => self.line(line),
            }
        }
    }

    /// Once the supervisor's task has ended: prints what is left, until
    /// both channels are closed.
    async fn drain(&mut self) {
        while self.events_open || self.logs_open {
            tokio::select! {
                event = self.events.recv(), if self.events_open => self.event(event),
                line = self.logs.recv(), if self.logs_open => self.line(line),
            }
        }
    }

    fn event(&mut self, event: Result<Event, RecvError>) {
        match event {
            Ok(e) => println!("[event] {e}"),
            Err(RecvError::Lagged(n)) => println!("[supervise] missed {n} events"),
            Err(RecvError::Closed) => self.events_open = false,
        }
    }

    fn line(&mut self, line: Result<LogLine, RecvError>) {
        match line {
            Ok(l) => println!("[{}] {}", l.program, String::from_utf8_lossy(&l.line.bytes)),
            Err(RecvError::Lagged(n)) => println!("[supervise] missed {n} lines"),
            Err(RecvError::Closed) => self.logs_open = false,
        }
    }
}

/// The sample's "db": ready `ms` milliseconds after it starts, as told
/// through sd_notify, then running until a signal ends it.
fn notify_ready_after(ms: &str) -> ExitCode {
    let Ok(ms) = ms.parse::<u64>() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    println!("starting, ready in {ms} ms");
    std::thread::sleep(Duration::from_millis(ms));
    match procwire::supervisor::notify("READY=1\nSTATUS=accepting connections") {
        Ok(true) => println!("told the supervisor: READY=1"),
        Ok(false) => eprintln!("NOTIFY_SOCKET is not set: nobody to tell that we are ready"),
        Err(e) => {
            eprintln!("sd_notify: {e}");
            return ExitCode::FAILURE;
        }
    }
    // The default action of SIGTERM and SIGINT ends the process.
    loop {
        std::thread::park();
    }
}

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

/// The supervisor's settings and its programs, in the file's order.
fn load(path: &Path) -> Result<(Builder, Vec<ProgramSpec>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let config: Config = toml::from_str(&text).map_err(|e| e.to_string().trim_end().to_owned())?;
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
    let this = std::env::current_exe().map_err(|e| format!("the path of this binary, for $SELF: {e}"))?;
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
            spec(&name, program, &this).map_err(|(key, e)| format!("program {name:?}, key `{key}`: {e}"))?;
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
    // Each program leads a group of its own, as under supervisord: a ^C in
    // the terminal (SIGINT to the whole foreground group) reaches
    // supervise alone, which then stops the programs in order.
    command.args(argv).envs(&p.env).process_group(0);
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
