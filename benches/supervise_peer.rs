//! `supervise-peer`: procwire's supervisor as a peer in the supervision
//! workloads of `benches/peers/supervision/` (the `procwire` adapter in
//! `peers.py`), behaving as the other peers do there: a config file names
//! the programs and the options, signals drive it.
//!
//! Usage: `supervise-peer CONFIG`. The config is one setting a line, fields
//! separated by tabs (an argument may hold spaces and quotes, never a tab);
//! `#` starts a comment line:
//!
//! ```text
//! rundir        DIR                  where `ready`, `spawns`, `stop_times` and the logs go
//! restart       fast                 restart always, zero delay, min_uptime 0, no start limit
//! kill_timeout  SECONDS              the stop ladder's grace between SIGTERM and SIGKILL
//! scope         process|group|tree   the stop's reach (StopScope::Process, ::Group, ::Tree);
//!                                    without it, the spec's default (ProgramSpec::DEFAULT_STOP)
//! group_kill                         the same as `scope group`
//! capture                            each program's stdout lines to DIR/NAME.out.log
//!                                    (stderr to DIR/NAME.err.log)
//! redirect                           each program's stdout appended to DIR/NAME.out.log
//!                                    by the program itself (ProgramSpec::output_file, as
//!                                    Horust's file redirect); not with `capture`
//! program       NAME  ARGV0  ARG...  one program (any number of these lines)
//! ```
//!
//! Without `restart fast`, the programs get procwire's defaults (procmon's:
//! restart always, 1 s doubling to an hour for quick deaths); without
//! `kill_timeout`, a 5 s grace; without `scope`, the stop a user gets who
//! sets nothing but the grace: [`ProgramSpec::DEFAULT_STOP`]'s reach,
//! [`StopScope::Tree`] (a cgroup per incarnation when this process's
//! cgroup is writable, else the process group); without `capture`, their
//! lines are read and dropped (with `redirect`, stderr's only).
//!
//! Signals: SIGUSR1 stops every program (all at once) and writes
//! `DIR/stop_times` once all are down; SIGUSR2 appends `"<spawns>
//! <monotonic seconds>"` to `DIR/spawns` (the spawn count is the sum of the
//! programs' incarnations), as the procmon host does; SIGTERM or SIGINT
//! shuts the supervisor down (every program stopped) and exits. `DIR/ready`
//! appears once every program has been spawned.
//!
//! Build with `cargo build --release -p procwire-bench --bin supervise-peer`.
#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use procwire::supervisor::{
    Backoff, FileMode, LogBatch, ProgramSpec, RestartPolicy, RestartSpec, StopScope, Supervisor,
};
use procwire::Command;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

/// What the config asks for.
#[derive(Debug, Default)]
struct Config {
    rundir: PathBuf,
    fast: bool,
    kill_timeout: Option<Duration>,
    scope: Option<StopScope>,
    capture: bool,
    redirect: bool,
    programs: Vec<(String, Vec<String>)>,
}

impl Config {
    fn parse(text: &str) -> Result<Config, String> {
        let mut config = Config::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            let bad = || format!("line {}: {line:?}", n + 1);
            match fields[..] {
                ["rundir", dir] => config.rundir = dir.into(),
                ["restart", "fast"] => config.fast = true,
                ["kill_timeout", secs] => {
                    let secs: f64 = secs.parse().map_err(|_| bad())?;
                    config.kill_timeout = Some(Duration::try_from_secs_f64(secs).map_err(|_| bad())?);
                }
                ["group_kill"] | ["scope", "group"] => config.scope = Some(StopScope::Group),
                ["scope", "process"] => config.scope = Some(StopScope::Process),
                ["scope", "tree"] => config.scope = Some(StopScope::Tree),
                ["capture"] => config.capture = true,
                ["redirect"] => config.redirect = true,
                ["program", name, ref argv @ ..] if !argv.is_empty() => {
                    config.programs.push((name.into(), argv.iter().map(|a| a.to_string()).collect()))
                }
                _ => return Err(bad()),
            }
        }
        if config.rundir.as_os_str().is_empty() {
            return Err("no rundir".into());
        }
        if config.capture && config.redirect {
            return Err("`capture` and `redirect` both: stdout goes to one or the other".into());
        }
        Ok(config)
    }

    fn program(&self, name: &str, argv: &[String]) -> std::io::Result<ProgramSpec> {
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        let mut program = ProgramSpec::new(name, command);
        if self.fast {
            let mut restart = RestartSpec::new();
            restart
                .policy(RestartPolicy::Always)
                .backoff(Backoff::none())
                .min_uptime(Duration::ZERO)
                .start_limit(None)
                .max_retries(None);
            program.restart(restart);
        }
        // The spec's own stop, not `StopPolicy::new()` (whose reach is the
        // program alone): the default a user keeps when they set the grace.
        let mut stop = *program.get_stop();
        if let Some(grace) = self.kill_timeout {
            stop = stop.with_grace(grace);
        }
        if let Some(scope) = self.scope {
            stop = stop.with_scope(scope);
        }
        program.stop(stop);
        if self.capture {
            let out = LogFile::open(&self.rundir.join(format!("{name}.out.log")))?;
            let err = LogFile::open(&self.rundir.join(format!("{name}.err.log")))?;
            // One call a read: its bytes, lines and `\n`s as the program
            // wrote them, appended whole.
            program.batch_sink(move |b: &LogBatch<'_>| match b.fd() {
                2 => err.push(b.raw()),
                _ => out.push(b.raw()),
            });
        } else {
            program.no_sink();
        }
        if self.redirect {
            // Opened by the supervisor at each spawn; the program writes it.
            program.output_file(1, self.rundir.join(format!("{name}.out.log")), FileMode::Append);
        }
        Ok(program)
    }
}

/// A log file written in batches: the sink appends each read to a buffer
/// (on the task that reads the pipe, so it must not block), and a writer
/// task writes out whatever has gathered whenever it is woken, so a burst
/// of lines costs one `write` per batch and the last line is on disk as
/// soon as the writer runs.
#[derive(Clone)]
struct LogFile {
    buffer: Arc<Mutex<Vec<u8>>>,
    wake: Arc<Notify>,
}

impl LogFile {
    fn open(path: &Path) -> std::io::Result<LogFile> {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        let log = LogFile { buffer: Arc::default(), wake: Arc::default() };
        let (buffer, wake) = (log.buffer.clone(), log.wake.clone());
        tokio::spawn(async move {
            let mut batch = Vec::new();
            loop {
                wake.notified().await;
                std::mem::swap(&mut *buffer.lock().expect("log buffer"), &mut batch);
                // A plain blocking write: page-cache speed, and this task is
                // the file's only writer.
                file.write_all(&batch).expect("write a log file");
                batch.clear();
            }
        });
        Ok(log)
    }

    /// Appends the bytes of one read's lines.
    fn push(&self, raw: &[u8]) {
        let mut buffer = self.buffer.lock().expect("log buffer");
        let was_empty = buffer.is_empty();
        buffer.extend_from_slice(raw);
        drop(buffer);
        if was_empty {
            self.wake.notify_one();
        }
    }
}

#[tokio::main]
async fn main() {
    let path = std::env::args().nth(1).expect("usage: supervise-peer CONFIG");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let config = Config::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (mut usr1, mut usr2) = (
        signal(SignalKind::user_defined1()).expect("SIGUSR1"),
        signal(SignalKind::user_defined2()).expect("SIGUSR2"),
    );
    let (mut term, mut int) =
        (signal(SignalKind::terminate()).expect("SIGTERM"), signal(SignalKind::interrupt()).expect("SIGINT"));
    let epoch = Instant::now();

    let (sup, task) = Supervisor::new();
    for (name, argv) in &config.programs {
        let program = config.program(name, argv).unwrap_or_else(|e| panic!("{name}: log files: {e}"));
        let status = sup.add(program).await.unwrap_or_else(|e| panic!("add {name}: {e}"));
        if status.pid.is_none() {
            eprintln!("{name}: not running after add: {status:?}");
        }
    }
    File::create(config.rundir.join("ready")).expect("write ready");
    eprintln!("supervise-peer: {} programs up", config.programs.len());

    let names: Vec<&str> = config.programs.iter().map(|(n, _)| n.as_str()).collect();
    loop {
        tokio::select! {
            _ = usr1.recv() => {
                let t = Instant::now();
                let stops = futures::future::join_all(names.iter().map(|n| sup.stop(n))).await;
                let failed = stops.iter().filter(|s| s.is_err()).count();
                let line = format!("{:.6} {:.6} {failed}\n", t.duration_since(epoch).as_secs_f64(), t.elapsed().as_secs_f64());
                std::fs::write(config.rundir.join("stop_times"), line).expect("write stop_times");
            }
            _ = usr2.recv() => {
                let spawns: u64 = sup.statuses().await.expect("statuses").iter().map(|s| s.incarnation).sum();
                let mut f = OpenOptions::new().create(true).append(true).open(config.rundir.join("spawns")).expect("spawns");
                writeln!(f, "{spawns} {:.6}", epoch.elapsed().as_secs_f64()).expect("write spawns");
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    let report = sup.shutdown().await.expect("shutdown");
    eprintln!(
        "supervise-peer: shut down, {} stopped, {} forced",
        report.stopped.len(),
        report.forced().count()
    );
    drop(sup);
    let _ = task.await;
}
