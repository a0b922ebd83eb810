//! The soak run of issue 16: a supervisor with 50 programs that crash,
//! hang, flood their output, fork escapers and ignore TERM, driven by
//! tasks that `stop`, `start`, `restart`, `remove`, `add` and `signal`
//! them at random, for `SOAK_SECS` seconds (600 unless set). Once a
//! second it samples the supervisor's descriptors, resident memory and
//! threads, the zombies, the processes the programs left and their
//! cgroups; it fails when one grows (see [`metrics::TOLERANCES`]), when a
//! command fails in a way it should not or hangs, and when anything a
//! program started is still alive after `shutdown`.
//!
//! ```text
//! SOAK_SECS=20 nice cargo test --release -p procwire-tests --test soak -- --ignored --nocapture
//! ```
//!
//! `SOAK_SEED` replays a run's choices (the programs, and each task's
//! sequence of commands; not their interleaving). The figures of a full
//! run are in `docs/soak.md`.
//!
//! The test runs the supervisor in a copy of the test binary, so that
//! the figures are the supervisor's own process's. This process stays
//! above it as a child subreaper (`PR_SET_CHILD_SUBREAPER`): the escapers
//! whose program exited are adopted and reaped here, as a real init would
//! reap them (some containers' pid 1 never does, and their zombies would
//! pile up on the machine whatever the supervisor does).
//!
//! Linux only: a child subreaper (`PR_SET_CHILD_SUBREAPER`) and `/proc`.
#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal as NixSignal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use procwire::Signal;
use procwire_supervisor::{Cause, Error, Event, Logs, State, Subscription, Supervisor};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

mod metrics;
mod programs;
mod report;
mod rng;

use metrics::{Sample, Windows};
use programs::{Program, SinkCounts};
use rng::Rng;

const NAME: &str = "soak_fifty_misbehaving_programs";
/// Set in the copy of the test binary that runs the supervisor.
const INNER: &str = "PROCWIRE_SOAK_INNER";
const PROGRAMS: usize = 50;
/// Tasks sending commands at random.
const TASKS: u64 = 8;
/// A command that takes longer has hung. The longest legitimate one is a
/// stop in group scope: three rounds of a grace (at most 500 ms here) and
/// a second of settling.
const HANG: Duration = Duration::from_secs(60);

#[test]
#[ignore = "a 10-minute soak; SOAK_SECS=20 for a short one"]
fn soak_fifty_misbehaving_programs() {
    if std::env::var_os(INNER).is_some() {
        inner();
    } else {
        outer();
    }
}

fn env_u64(key: &str) -> Option<u64> {
    let value = std::env::var(key).ok()?;
    Some(value.parse().unwrap_or_else(|_| panic!("{key}={value:?} is not a number")))
}

/// Runs the copy, adopts and reaps the escapers, and cleans up whatever
/// the copy left (nothing, when it passes).
fn outer() {
    let secs = env_u64("SOAK_SECS").unwrap_or(600);
    let seed = env_u64("SOAK_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("a clock");
        now.as_nanos() as u64 ^ u64::from(std::process::id()) << 32
    });
    println!("soak: SOAK_SECS={secs} SOAK_SEED={seed}");
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    let exe = std::env::current_exe().expect("current_exe");
    // Reaped below by `waitpid(-1)`, with the escapers: not through `Child`.
    let child = std::process::Command::new(exe)
        .args([NAME, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .env("SOAK_SECS", secs.to_string())
        .env("SOAK_SEED", seed.to_string())
        .spawn()
        .expect("run the soak in a copy of the test binary");
    let inner = Pid::from_raw(child.id() as i32);
    drop(child);
    // Against a copy that hangs past its own guards: killed, and the test fails.
    let (done, limit) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        // Disconnected too: this thread's test panicked, the copy must not outlive it.
        if limit.recv_timeout(Duration::from_secs(secs + 900)).is_err() {
            eprintln!("soak: the copy still runs 900 s past its end, or the test gave up on it: killed");
            let _ = kill(inner, NixSignal::SIGKILL);
        }
    });
    let mut adopted = 0u64;
    let status = loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == inner => break format!("exit {code}"),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == inner => break format!("killed by {sig}"),
            Ok(_) => adopted += 1,
            Err(Errno::EINTR) => {}
            Err(e) => panic!("waitpid: {e}"),
        }
    };
    let _ = done.send(());
    watchdog.join().expect("the watchdog thread");
    // Whatever is still ours was adopted and outlived the copy: the copy
    // reports (and kills) what it finds after `shutdown`, so this is what
    // it missed, or all that was left if it failed.
    let left: Vec<u32> = procwire_tests::children();
    for &pid in &left {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        eprintln!(
            "soak: left after the copy ended: pid {pid} {}",
            String::from_utf8_lossy(&cmdline).replace('\0', " ")
        );
        let _ = kill(Pid::from_raw(pid as i32), NixSignal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid as i32), None);
    }
    nix::sys::prctl::set_child_subreaper(false).expect("PR_SET_CHILD_SUBREAPER off");
    println!(
        "soak: escapers adopted and reaped by the test's subreaper: {adopted}; left after the copy: {}",
        left.len()
    );
    assert_eq!(status, "exit 0", "the soak failed (its report is above; SOAK_SEED={seed})");
    assert!(left.is_empty(), "processes outlived the soak: {left:?}");
}

/// The copy: the supervisor, its programs, the tasks, the samples.
fn inner() {
    let secs = env_u64("SOAK_SECS").expect("SOAK_SECS from the outer test");
    let seed = env_u64("SOAK_SEED").expect("SOAK_SEED from the outer test");
    // The programs abort and segfault on purpose: no core files.
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0).expect("RLIMIT_CORE");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let failures = rt.block_on(soak(secs, seed));
    drop(rt);
    assert!(failures.is_empty(), "the soak failed (SOAK_SEED={seed}):\n  {}", failures.join("\n  "));
}

/// What the tasks share.
struct Shared {
    sup: Supervisor,
    programs: Vec<Program>,
    /// Which programs a task removed last (a hint for `add`; racy, and
    /// the supervisor's answer is what counts).
    removed: Mutex<Vec<bool>>,
    ops: Mutex<Ops>,
    running: AtomicBool,
    counts: Counts,
}

/// The commands sent, by kind and outcome.
#[derive(Default)]
struct Ops {
    /// `(command, "ok" or the error's kind)` -> how many.
    outcomes: BTreeMap<(&'static str, &'static str), u64>,
    /// The longest each command took.
    slowest: BTreeMap<&'static str, Duration>,
    /// Errors that should not have happened (the first 20).
    unexpected: Vec<String>,
    unexpected_count: u64,
}

/// What the consumers of `events()` and `logs()` saw.
#[derive(Default)]
struct Counts {
    events: AtomicU64,
    events_lagged: AtomicU64,
    lines: AtomicU64,
    line_bytes: AtomicU64,
    lines_lagged: AtomicU64,
    log_lags: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Stop,
    Start,
    Restart,
    Remove,
    Add,
    Signal,
    RestartAll,
    Status,
    Watch,
}

const OPS: [(Op, u64); 9] = [
    (Op::Stop, 15),
    (Op::Start, 15),
    (Op::Restart, 15),
    (Op::Remove, 8),
    (Op::Add, 8),
    (Op::Signal, 25),
    (Op::RestartAll, 1),
    (Op::Status, 8),
    (Op::Watch, 5),
];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Stop => "stop",
            Op::Start => "start",
            Op::Restart => "restart",
            Op::Remove => "remove",
            Op::Add => "add",
            Op::Signal => "signal",
            Op::RestartAll => "restart_all",
            Op::Status => "status",
            Op::Watch => "watch",
        }
    }
}

/// The signals the tasks send: none that dumps core.
const SIGNALS: [Signal; 9] = [
    Signal::TERM,
    Signal::HUP,
    Signal::INT,
    Signal::USR1,
    Signal::USR2,
    Signal::KILL,
    Signal::STOP,
    Signal::CONT,
    Signal::CONT,
];

/// An error a command may give in the soak: the program was removed by
/// another task, exists already, has no live process, or cannot be
/// spawned (the programs made to fail so). `Err` with the error's text
/// for any other.
fn classify(shared: &Shared, op: Op, e: &Error) -> Result<&'static str, String> {
    let spawn_fails = |name: &str| shared.programs.iter().any(|p| p.spawn_fails && p.spec.get_name() == name);
    match e {
        Error::UnknownProgram(_) if op != Op::Add => Ok("unknown program"),
        Error::Duplicate(_) if op == Op::Add => Ok("duplicate"),
        Error::NotRunning(_) if op == Op::Signal => Ok("not running"),
        Error::Spawn { program, .. } if spawn_fails(program) => Ok("spawn (meant to fail)"),
        other => Err(format!("{}: {other}", op.name())),
    }
}

fn record(shared: &Shared, op: Op, result: Result<(), Error>, took: Duration) {
    let mut ops = shared.ops.lock().expect("ops");
    let slowest = ops.slowest.entry(op.name()).or_default();
    *slowest = (*slowest).max(took);
    let outcome = match &result {
        Ok(()) => Ok("ok"),
        Err(e) => classify(shared, op, e),
    };
    match outcome {
        Ok(kind) => *ops.outcomes.entry((op.name(), kind)).or_default() += 1,
        Err(text) => {
            *ops.outcomes.entry((op.name(), "UNEXPECTED")).or_default() += 1;
            ops.unexpected_count += 1;
            if ops.unexpected.len() < 20 {
                ops.unexpected.push(text);
            }
        }
    }
}

/// One task: a random command every 0 to 100 ms, until the end.
async fn task(shared: Arc<Shared>, mut rng: Rng) {
    let weights: Vec<u64> = OPS.iter().map(|&(_, w)| w).collect();
    while shared.running.load(Ordering::Relaxed) {
        // Pacing, not a wait for anything.
        tokio::time::sleep(Duration::from_millis(rng.range(0, 100))).await;
        let op = OPS[rng.weighted(&weights)].0;
        let removed: Vec<usize> = {
            let removed = shared.removed.lock().expect("removed");
            (0..removed.len()).filter(|&i| removed[i]).collect()
        };
        let i = match op {
            Op::Add if !removed.is_empty() => *rng.pick(&removed),
            _ => rng.range(0, shared.programs.len() as u64 - 1) as usize,
        };
        let program = &shared.programs[i];
        let name = program.spec.get_name();
        let sup = &shared.sup;
        let started = Instant::now();
        let command = async {
            match op {
                Op::Stop => sup.stop(name).await.map(drop),
                Op::Start => sup.start(name).await.map(drop),
                Op::Restart => sup.restart(name).await.map(drop),
                Op::Remove => {
                    sup.remove(name).await.map(|_| shared.removed.lock().expect("removed")[i] = true)
                }
                Op::Add => sup
                    .add(program.spec.clone())
                    .await
                    .map(|_| shared.removed.lock().expect("removed")[i] = false),
                Op::Signal => sup.signal(name, *rng.pick(&SIGNALS)).await,
                Op::RestartAll => {
                    for result in sup.restart_all().await? {
                        record(&shared, Op::Restart, result.map(drop), Duration::ZERO);
                    }
                    Ok(())
                }
                Op::Status => sup.status(name).await.map(drop),
                Op::Watch => sup.watch(name).await.map(|rx| {
                    let _ = rx.borrow().state;
                }),
            }
        };
        match tokio::time::timeout(HANG, command).await {
            Ok(result) => record(&shared, op, result, started.elapsed()),
            Err(_) => {
                let mut ops = shared.ops.lock().expect("ops");
                ops.unexpected_count += 1;
                ops.unexpected.push(format!("{} {name}: no answer within {HANG:?} (hung)", op.name()));
                *ops.outcomes.entry((op.name(), "HUNG")).or_default() += 1;
            }
        }
    }
}

/// What the events told, beyond the counts.
#[derive(Debug, Default)]
struct EventLog {
    /// By cause (`Start`, `Exited`, `Stopped`...).
    causes: BTreeMap<String, u64>,
    /// By state entered.
    states: BTreeMap<String, u64>,
    /// An event whose `from` is not the `to` of the program's event
    /// before it (with nothing missed between): the first few.
    out_of_order: Vec<String>,
    out_of_order_count: u64,
    /// `SpawnFailed` of a program meant to spawn, `WaitFailed` of any.
    unexpected: Vec<String>,
}

/// Reads every event until the channel closes.
async fn consume_events(mut events: Subscription<Event>, shared: Arc<Shared>) -> EventLog {
    let mut log = EventLog::default();
    let mut last: HashMap<Arc<str>, State> = HashMap::new();
    let meant_to_fail: HashSet<&str> =
        shared.programs.iter().filter(|p| p.spawn_fails).map(|p| p.spec.get_name()).collect();
    loop {
        let e = match events.recv().await {
            Ok(e) => e,
            Err(RecvError::Lagged(n)) => {
                shared.counts.events_lagged.fetch_add(n, Ordering::Relaxed);
                // What came between is unknown: start the order check anew.
                last.clear();
                continue;
            }
            Err(RecvError::Closed) => return log,
        };
        shared.counts.events.fetch_add(1, Ordering::Relaxed);
        let cause = format!("{:?}", e.cause);
        let cause = cause.split(['(', ' ', '{']).next().unwrap_or_default().to_owned();
        *log.causes.entry(cause).or_default() += 1;
        *log.states.entry(format!("{:?}", e.to)).or_default() += 1;
        match &e.cause {
            Cause::SpawnFailed { error, .. } if !meant_to_fail.contains(&*e.program) => {
                log.unexpected.push(format!("{}: spawn failed: {error}", e.program));
            }
            Cause::WaitFailed { error, .. } => {
                log.unexpected.push(format!("{}: wait failed: {error}", e.program))
            }
            _ => {}
        }
        let before = last.insert(e.program.clone(), e.to);
        if let (Some(before), false) = (before, matches!(e.cause, Cause::Added)) {
            if before != e.from {
                log.out_of_order_count += 1;
                if log.out_of_order.len() < 10 {
                    log.out_of_order.push(format!(
                        "{} #{}: {:?} -> {:?} ({:?}) after an event into {before:?}",
                        e.program, e.incarnation, e.from, e.to, e.cause
                    ));
                }
            }
        }
    }
}

/// Reads every line until the channel closes.
async fn consume_logs(mut logs: Logs, shared: Arc<Shared>) {
    let counts = &shared.counts;
    loop {
        match logs.recv().await {
            Ok(line) => {
                counts.lines.fetch_add(1, Ordering::Relaxed);
                counts.line_bytes.fetch_add(line.line.bytes.len() as u64, Ordering::Relaxed);
            }
            Err(RecvError::Lagged(n)) => {
                counts.lines_lagged.fetch_add(n, Ordering::Relaxed);
                counts.log_lags.fetch_add(1, Ordering::Relaxed);
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// A sample a second until the end; a line of progress every ten.
async fn sampler(
    shared: Arc<Shared>,
    t0: Instant,
    tag: String,
    cgroup: Option<std::path::PathBuf>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while shared.running.load(Ordering::Relaxed) {
        tick.tick().await;
        let mut s = metrics::sample(t0.elapsed().as_secs_f64(), &tag, cgroup.as_deref());
        let asked = Instant::now();
        let Ok(Ok(statuses)) = tokio::time::timeout(HANG, shared.sup.statuses()).await else {
            let mut ops = shared.ops.lock().expect("ops");
            ops.unexpected_count += 1;
            ops.unexpected.push(format!("statuses(): no answer within {HANG:?}, or an error"));
            break;
        };
        s.statuses_ms = asked.elapsed().as_secs_f64() * 1000.0;
        s.live = statuses.iter().filter(|st| st.state.is_live()).count() as u64;
        if samples.len() % 10 == 0 {
            let ops = shared.ops.lock().expect("ops");
            let done: u64 = ops.outcomes.values().sum();
            println!(
                "[{:4.0}s] fds {:4} rss {:6.1} MiB threads {:2} zombies {}/{}/{} tagged {:3} cgroups {:2} live {:2} \
                 | ops {done:6} unexpected {} | events {:7} lines {:9} lagged {} | statuses {:.1} ms",
                s.t,
                s.fds,
                s.rss_kib as f64 / 1024.0,
                s.threads,
                s.zombies_own,
                s.zombies_reaper,
                s.zombies_machine,
                s.tagged,
                s.cgroups,
                s.live,
                ops.unexpected_count,
                shared.counts.events.load(Ordering::Relaxed),
                shared.counts.lines.load(Ordering::Relaxed),
                shared.counts.lines_lagged.load(Ordering::Relaxed),
                s.statuses_ms,
            );
        }
        samples.push(s);
    }
    samples
}

/// The whole run; the failures it found.
async fn soak(secs: u64, seed: u64) -> Vec<String> {
    let mut failures = Vec::new();
    let mut rng = Rng::new(seed, 0);
    let tag = format!("{:016x}", rng.next_u64());
    // procwire's process-wide reaper thread and its pipe, before the baseline.
    procwire_tests::start_orphan_reaper().await;
    let scratch = procwire_tests::ScratchCgroup::new("soak");
    let cgroup = scratch.as_ref().map(|s| s.path().to_owned());
    let sinks = Arc::new(SinkCounts::default());
    let programs = programs::programs(PROGRAMS, &mut rng, &tag, cgroup.as_deref(), &sinks);
    report::programs(&programs, &tag, cgroup.as_deref());
    let fds_before = procwire_tests::open_fds();
    let (rss_before, threads_before) = metrics::rss_and_threads();

    let (sup, mut sup_task) = Supervisor::new();
    let shared = Arc::new(Shared {
        sup: sup.clone(),
        removed: Mutex::new(vec![false; programs.len()]),
        programs,
        ops: Mutex::new(Ops::default()),
        running: AtomicBool::new(true),
        counts: Counts::default(),
    });
    let events = tokio::spawn(consume_events(sup.events().await.expect("events()"), shared.clone()));
    let logs = tokio::spawn(consume_logs(sup.logs().await.expect("logs()"), shared.clone()));
    for p in &shared.programs {
        match tokio::time::timeout(HANG, sup.add(p.spec.clone())).await {
            Ok(Ok(_)) => {}
            other => failures.push(format!("add {}: {other:?}", p.spec.get_name())),
        }
    }
    let t0 = Instant::now();
    let sampling = tokio::spawn(sampler(shared.clone(), t0, tag.clone(), cgroup.clone()));
    let tasks: Vec<_> = (1..=TASKS).map(|i| tokio::spawn(task(shared.clone(), Rng::new(seed, i)))).collect();
    let ended_early = tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(secs)) => None,
        ended = &mut sup_task => Some(ended),
    };
    shared.running.store(false, Ordering::Relaxed);
    let ran = t0.elapsed();
    if let Some(ended) = &ended_early {
        failures.push(format!("the supervisor's task ended by itself after {ran:?}: {ended:?}"));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        match tokio::time::timeout(2 * HANG, t).await {
            Ok(Ok(())) => {}
            other => failures.push(format!("task {i} did not end well: {other:?}")),
        }
    }
    let samples = match tokio::time::timeout(2 * HANG, sampling).await {
        Ok(Ok(samples)) => samples,
        other => {
            failures.push(format!("the sampler did not end well: {other:?}"));
            Vec::new()
        }
    };

    // The end: everything stopped, reaped, closed and removed.
    let asked = Instant::now();
    let shutdown = match ended_early {
        Some(_) => None,
        None => match tokio::time::timeout(2 * HANG, sup.shutdown()).await {
            Ok(Ok(report)) => Some(report),
            other => {
                failures.push(format!("shutdown: {other:?}"));
                None
            }
        },
    };
    let shutdown_took = asked.elapsed();
    if ended_early.is_none() {
        match tokio::time::timeout(HANG, sup_task).await {
            Ok(Ok(Ok(()))) => {}
            other => failures.push(format!("the supervisor's task after shutdown: {other:?}")),
        }
    }
    drop(sup);
    let event_log = match tokio::time::timeout(HANG, events).await {
        Ok(Ok(log)) => log,
        other => {
            failures.push(format!("the events consumer did not end: {other:?}"));
            EventLog::default()
        }
    };
    if !matches!(tokio::time::timeout(HANG, logs).await, Ok(Ok(()))) {
        failures.push("the logs consumer did not end".into());
    }
    let after = metrics::After::measure(&tag, cgroup.as_deref(), &fds_before, (rss_before, threads_before));
    failures.extend(after.failures());
    for s in &after.survivors {
        let _ = kill(Pid::from_raw(s.pid as i32), NixSignal::SIGKILL);
    }

    let windows = Windows::for_secs(secs);
    let verdicts = metrics::verdicts(&samples, windows);
    for v in verdicts.iter().filter(|v| v.grew()) {
        failures.push(format!(
            "{} grew: median {:.1} in the last window, {:.1} in the first, limit {:.1}",
            v.metric, v.last, v.first, v.limit
        ));
    }
    let ops = shared.ops.lock().expect("ops");
    if ops.unexpected_count > 0 {
        failures.push(format!("{} unexpected command errors: {:?}", ops.unexpected_count, ops.unexpected));
    }
    if !event_log.unexpected.is_empty() {
        failures.push(format!("unexpected events: {:?}", event_log.unexpected));
    }
    if event_log.out_of_order_count > 0 {
        failures.push(format!(
            "{} events out of order: {:?}",
            event_log.out_of_order_count, event_log.out_of_order
        ));
    }
    report::summary(&report::Summary {
        secs,
        seed,
        ran,
        windows,
        samples: &samples,
        verdicts: &verdicts,
        ops: &ops,
        counts: &shared.counts,
        sinks: &sinks,
        events: &event_log,
        shutdown: shutdown.as_ref(),
        shutdown_took,
        after: &after,
        failures: &failures,
    });
    drop(ops);
    drop(scratch);
    failures
}
