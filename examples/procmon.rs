//! The twin of `twistd procmon`: keeps one program running, restarting it
//! with doubling delays when it dies quickly, logs each of its lines under
//! its name, and stops it cleanly on SIGINT or SIGTERM (exit 0, no child
//! left).
//!
//! ```text
//! cargo run --example procmon -- [--threshold S] [--killtime S] \
//!     [--minrestartdelay S] [--maxrestartdelay S] PROGRAM [ARGS...]
//! ```
//!
//! The options are procmon's, in seconds (fractions allowed), with its
//! defaults: 1, 5, 1 and 3600.

use std::path::Path;
use std::time::Duration;

use procwire::{Command, StopPolicy};
use procwire_supervisor::{Backoff, Cause, Decision, Event, ProgramSpec, RestartSpec, Supervisor};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::broadcast::error::RecvError;

const USAGE: &str = "usage: procmon [--threshold S] [--killtime S] [--minrestartdelay S] [--maxrestartdelay S] PROGRAM [ARGS...]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut threshold, mut killtime, mut min, mut max) = (1.0, 5.0, 1.0, 3600.0);
    let program = loop {
        let arg = args.next().ok_or(USAGE)?;
        let slot = match arg.as_str() {
            "--threshold" => &mut threshold,
            "--killtime" => &mut killtime,
            "--minrestartdelay" => &mut min,
            "--maxrestartdelay" => &mut max,
            _ => break arg,
        };
        *slot = args.next().ok_or(USAGE)?.parse::<f64>()?;
    };
    let mut command = Command::new(&program);
    command.args(args);

    let mut restart = RestartSpec::procmon();
    restart.min_uptime(secs(threshold)).backoff(Backoff::exponential(secs(min), 2.0, secs(max))?);
    let name = Path::new(&program).file_name().map_or(program.clone(), |n| n.to_string_lossy().into_owned());
    let mut spec = ProgramSpec::new(name, command);
    // procmon signals the process alone (`StopPolicy::new()`'s scope), not
    // what it started, as the supervisor's default stop would.
    spec.restart(restart).stop(StopPolicy::new().with_grace(secs(killtime)));
    // procmon's LoggingProtocol: `[name] line`.
    spec.sink(|l| println!("[{}] {}", l.program, String::from_utf8_lossy(&l.line.bytes)));

    let (supervisor, task) = Supervisor::new();
    let mut events = supervisor.events().await?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    supervisor.add(spec).await?;
    loop {
        tokio::select! {
            _ = int.recv() => break,
            _ = term.recv() => break,
            event = events.recv() => match event {
                Ok(event) => report(&event),
                Err(RecvError::Lagged(n)) => println!("(missed {n} events)"),
                Err(RecvError::Closed) => break,
            },
        }
    }
    let stopped = supervisor.shutdown().await?;
    for name in stopped.forced() {
        println!("[{name}] did not stop within the kill time: killed");
    }
    println!("stopped");
    task.await??;
    Ok(())
}

/// The events procmon logs: starts, exits and the delay before the next.
fn report(event: &Event) {
    let name = &event.program;
    match &event.cause {
        Cause::Ready => println!("[{name}] started, pid {}", event.pid.unwrap_or(0)),
        Cause::Exited { status, decision } => println!("[{name}] {status}; {}", next(decision)),
        Cause::SpawnFailed { error, decision } => println!("[{name}] {error}; {}", next(decision)),
        _ => {}
    }
}

fn next(decision: &Decision) -> String {
    match decision {
        Decision::Restart { delay } => format!("restarting in {delay:?}"),
        other => format!("staying down ({other:?})"),
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}
