//! A small supervisord: runs the programs of a TOML file, each in a
//! `[program.NAME]` table, with its restart policy, backoff, readiness,
//! dependencies and stop ladder; prints every event and every output line;
//! stops everything cleanly on SIGTERM or SIGINT, dependents first;
//! reloads its file on SIGHUP, as `supervisorctl update` does (new
//! programs added, gone ones removed, changed ones updated: restarted only
//! when what they run changed).
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
//! It is a correct container entrypoint: run as PID 1 (a container's, or
//! `unshare --pid --fork --mount-proc supervise CONFIG`'s), it reaps every
//! orphan the programs leave behind (double-forked daemons, background
//! jobs of a shell that exited), so no zombie accumulates, and on SIGTERM
//! it stops the programs in order, then the orphans still running
//! (SIGTERM, 5 s, SIGKILL), and exits 0 (`Builder::subreaper`; it spawns
//! every child through procwire, as that mode asks). A PID 1 gets only the
//! signals it handles: SIGTERM and SIGINT are handled before any child
//! exists.
//!
//! The binary is also the sample's sd_notify program: `supervise
//! --notify-ready-after MS` sleeps MS milliseconds, sends `READY=1` and a
//! `STATUS=` to `$NOTIFY_SOCKET`, then waits for its stop signal. In a
//! `command`, `$SELF` stands for this binary's path.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use procwire::supervisor::{
    Builder, Event, LogLine, Logs, ProgramSpec, Subscription, Supervisor, SupervisorConfig,
    SupervisorSettings,
};
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
    let (builder, programs, settings) = match load(&path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("supervise: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(supervise(&path, builder, programs, settings))
}

/// Runs the programs until SIGTERM or SIGINT (0), or until the
/// supervisor gives up (1); applies the file again on SIGHUP. `settings`:
/// what the supervisor was built with, to tell on reload that a change
/// there needs a new start of supervise.
async fn supervise(
    path: &Path,
    mut builder: Builder,
    programs: Vec<ProgramSpec>,
    settings: SupervisorSettings,
) -> ExitCode {
    // Before any child exists, so that a signal never finds us undefended.
    let mut int = signal(SignalKind::interrupt()).expect("a SIGINT handler");
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    let mut hup = signal(SignalKind::hangup()).expect("a SIGHUP handler");
    // As a container's PID 1 (or anywhere): orphans reaped, and stopped.
    let (supervisor, mut task) = builder.subreaper(true).build();
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

    let ended = loop {
        let wake = out
            .print_until(async {
                tokio::select! {
                    _ = int.recv() => Wake::Stop("SIGINT"),
                    _ = term.recv() => Wake::Stop("SIGTERM"),
                    _ = hup.recv() => Wake::Reload,
                    result = &mut task => Wake::Ended(result),
                }
            })
            .await;
        match wake {
            Wake::Reload => out.print_until(reload(&supervisor, path, &settings)).await,
            Wake::Stop(signal) => break Ok(signal),
            Wake::Ended(result) => break Err(result),
        }
    };
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

/// What woke the main loop.
enum Wake {
    Stop(&'static str),
    Reload,
    Ended(Result<Result<(), procwire::supervisor::Error>, tokio::task::JoinError>),
}

/// SIGHUP: the file read again and applied. A file that cannot be read or
/// is refused changes nothing: the programs run on as they were.
async fn reload(supervisor: &Supervisor, path: &Path, settings: &SupervisorSettings) {
    println!("[supervise] SIGHUP: reading {} again", path.display());
    let (programs, now) = match load(path) {
        Ok((_, programs, now)) => (programs, now),
        Err(e) => {
            eprintln!("supervise: {}: {e}; nothing changed", path.display());
            return;
        }
    };
    if now != *settings {
        println!("[supervise] [supervisor] settings change only when supervise starts again");
    }
    match supervisor.apply(programs).await {
        Ok(report) => {
            let names =
                |names: Vec<&str>| if names.is_empty() { "none".to_string() } else { names.join(", ") };
            let added = names(report.added.iter().map(|s| &*s.name).collect());
            let removed = names(report.removed.iter().map(|(n, _)| &**n).collect());
            let restarted = names(report.restarted.iter().map(|(n, _)| &**n).collect());
            let kept = names(report.kept.iter().map(|n| &**n).collect());
            println!(
                "[supervise] reloaded: added {added}; removed {removed}; restarted {restarted}; kept {kept}"
            );
            for (name, result) in &report.restarted {
                if let Err(e) = result {
                    eprintln!("supervise: {name}: {e}");
                }
            }
        }
        Err(e) => eprintln!("supervise: {}: {e}; nothing changed", path.display()),
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

/// The supervisor's builder, its programs in the file's order and the
/// `[supervisor]` settings, read by the library; `$SELF` in a command is this binary's path.
fn load(path: &Path) -> Result<(Builder, Vec<ProgramSpec>, SupervisorSettings), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let this = std::env::current_exe().map_err(|e| format!("the path of this binary, for $SELF: {e}"))?;
    let mut config = SupervisorConfig::from_toml(&text).map_err(|e| e.to_string())?;
    for (_, program) in &mut config.programs {
        for arg in &mut program.command {
            *arg = arg.replace("$SELF", &this.to_string_lossy());
        }
    }
    let builder = config.builder().map_err(|e| e.to_string())?;
    let mut programs = config.programs().map_err(|e| e.to_string())?;
    for spec in &mut programs {
        // Lines are printed from the logs channel, with the events.
        spec.no_sink();
    }
    Ok((builder, programs, config.supervisor))
}
