//! Supervisor benchmark: what keeping programs running costs over doing
//! the same work by hand, with procwire's supervisor and its references
//! measured in the same run, so that load on a shared machine cannot fake
//! a win.
//!
//! Workloads:
//! - restarts: one program that exits at once (`/bin/true`), restarted
//!   for windows of W milliseconds:
//!   - `supervisor`: a program under [`Supervisor`] with restart `Always`,
//!     zero delay, `min_uptime` 0, no start limit, no sink, the default
//!     stop (`StopScope::Tree`: a cgroup per incarnation where the
//!     supervisor's own cgroup is writable); restarts counted from its
//!     incarnation number (read with `status`) at the start and the end
//!     of the window;
//!   - `process`: the same with `StopScope::Process` (the program alone,
//!     procmon's reach);
//!   - `nocgroup`: the same default stop under a supervisor with no
//!     cgroup root (`Builder::cgroup_root(None)`): the process group and
//!     the sweep;
//!   - `core`: a loop of procwire `Command::spawn_with` + `wait`, with the
//!     same fds as the supervisor's children (`StdioDefaults::Twisted`:
//!     pipes on 0, 1 and 2);
//!   - `safe`: the `core` loop with what the supervisor's default spawn
//!     adds (the parent-death signal, a process group of its own, and one
//!     cgroup for the window's children, checked empty after each exit,
//!     where the supervisor's own cgroup is writable): `supervisor` /
//!     `safe` is what the supervisor's machinery costs, `safe` / `core`
//!     what its default settings cost;
//!   - `tokio`: the same loop with tokio::process, `Stdio::piped()` on 0, 1
//!     and 2.
//! - lines: one program writing L lines of 32 bytes on stdout
//!   (`yes 0123456789012345678901234567890 | head -n L`), each transfer
//!   timed from the spawn (or `add`) to the last line in the consumer's
//!   hands; every line is checked (fd 1, the payload, whole), and the count
//!   must be exactly L with nothing missed:
//!   - `logs`: the supervisor with one `logs()` subscriber read as a
//!     `Stream` (`StreamExt::next`), the program with no sink;
//!   - `sink`: the supervisor, nobody subscribed, the lines counted by the
//!     program's sink;
//!   - `pipe`: the same program spawned with procwire's `Command`, its
//!     stdout read with a `FramedRead` and tokio-util's `LinesCodec`.
//!
//!   With `PROCWIRE_BENCH_NUMBERED=1` the program is awk printing the line
//!   numbers (`%031d`), and each contender checks the order too (awk is a
//!   slower producer than `yes`, so the ratios move toward 1).
//! - idle: N programs `sleep 3600`, once all run, for S seconds: the CPU
//!   time (user + system) and voluntary context switches of the whole
//!   process per second, and its resident memory per program, for:
//!   - `supervisor`: N programs added to a [`Supervisor`];
//!   - `children`: N procwire children with the supervisor's fds
//!     (`StdioDefaults::Twisted`, stdin closed at once), each waited on and
//!     its stdout and stderr read to the end by a task of its own.
//!
//!   Each runs in a fresh copy of this bench (the same binary, re-run), so
//!   neither inherits the other's heap.
//!
//! Restarts and lines run on one 2-worker multi-thread runtime. Each runs
//! R rounds; within a round every contender takes turns (restarts: T
//! windows; lines: K transfers), one contender at a time, in an order that
//! rotates from round to round and reverses every other turn. Rates are medians over
//! rounds; a ratio is the median over rounds of the two contenders' rates
//! in the same round.
//!
//! Environment knobs: `PROCWIRE_BENCH_ROUNDS` (R, default 7),
//! `PROCWIRE_BENCH_WINDOW_MS` (W, default 250), `PROCWIRE_BENCH_WINDOWS` (T,
//! default 4), `PROCWIRE_BENCH_LINES` (L,
//! default 1,000,000), `PROCWIRE_BENCH_LINES_REPS` (K, default 3),
//! `PROCWIRE_BENCH_IDLE` (N, default 1,000), `PROCWIRE_BENCH_IDLE_SECS`
//! (S, default 10), `PROCWIRE_BENCH_NUMBERED`, and `PROCWIRE_BENCH_ONLY`
//! (comma-separated workload or contender names, e.g. `restarts`,
//! `logs`, `idle`, to profile one alone with `strace -c -f` or `perf`).
//!
//! Run with `cargo bench -p procwire-bench --bench supervise` (about 70 s).
#![forbid(unsafe_code)]

#[path = "common/mod.rs"]
mod common;

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use nix::sys::resource::{getrlimit, getrusage, setrlimit, Resource, UsageWho};
use procwire::supervisor::{Backoff, LogLine, ProgramSpec, RestartPolicy, RestartSpec, State, Supervisor};
use procwire::{Cgroup, Command, Signal, StdioDefaults, StopScope};
use tokio::runtime::Runtime;
use tokio_util::codec::{FramedRead, LinesCodec};

use common::{env_usize, median};

/// The payload of every line: 31 characters (and `\n`, 32 bytes).
const PAYLOAD: &str = "0123456789012345678901234567890";
/// The re-run copy of the bench measures one idle contender when this
/// variable names it.
const IDLE_CHILD: &str = "PROCWIRE_BENCH_IDLE_CHILD";
/// A transfer that takes longer than this has stalled.
const STALL: Duration = Duration::from_secs(120);

fn main() {
    if let Ok(which) = std::env::var(IDLE_CHILD) {
        return idle_child(&which);
    }
    let rounds = env_usize("PROCWIRE_BENCH_ROUNDS", 7);
    let window = Duration::from_millis(env_usize("PROCWIRE_BENCH_WINDOW_MS", 250) as u64);
    let windows = env_usize("PROCWIRE_BENCH_WINDOWS", 4).max(1);
    let lines = env_usize("PROCWIRE_BENCH_LINES", 1_000_000);
    let reps = env_usize("PROCWIRE_BENCH_LINES_REPS", 3).max(1);
    let idle_n = env_usize("PROCWIRE_BENCH_IDLE", 1000);
    let idle_secs = env_usize("PROCWIRE_BENCH_IDLE_SECS", 10);
    let numbered = std::env::var_os("PROCWIRE_BENCH_NUMBERED").is_some_and(|v| v != "0");
    println!(
        "procwire supervise bench: restarts {rounds} rounds of {windows}x {window:?}; {reps}x {lines} lines \
         of 32 bytes ({}), {rounds} rounds; idle {idle_n} programs for {idle_secs} s; 2-worker runtime, \
         reaper={}",
        if numbered { "numbered, awk" } else { "yes | head" },
        if cfg!(any(procwire_force_sigchld, procwire_portable)) { "SIGCHLD (forced)" } else { "pidfd" },
    );
    raise_nofile();
    let rt =
        &tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (sup, _task) = rt.block_on(async { Supervisor::new() });
    let sup = &sup;
    // The default stop without a cgroup: the process group and the sweep.
    let (no_cgroup, _no_cgroup_task) = rt.block_on(async { Supervisor::builder().cgroup_root(None).build() });
    let no_cgroup = &no_cgroup;

    let mut rows = Vec::new();
    if wanted("restarts") {
        let series = measure(
            rounds,
            windows,
            vec![
                ("supervisor", Box::new(move |k| restarts_supervisor(rt, sup, k, window, None))),
                (
                    "process",
                    Box::new(move |k| restarts_supervisor(rt, sup, k, window, Some(StopScope::Process))),
                ),
                ("nocgroup", Box::new(move |k| restarts_supervisor(rt, no_cgroup, k, window, None))),
                ("core", Box::new(move |_| restarts_core(rt, window))),
                ("safe", Box::new(move |k| restarts_safe(rt, k, window))),
                ("tokio", Box::new(move |_| restarts_tokio(rt, window))),
            ],
        );
        rows.push(Row::new(
            "restarts of /bin/true, zero delay".into(),
            "/s",
            series,
            &[
                ("supervisor", "process"),
                ("nocgroup", "process"),
                ("process", "core"),
                ("supervisor", "core"),
                ("supervisor", "safe"),
                ("safe", "core"),
                ("supervisor", "tokio"),
                ("core", "tokio"),
            ],
        ));
    }
    if wanted("lines") {
        let producer = Producer { lines, numbered };
        let series = measure(
            rounds,
            reps,
            vec![
                ("logs", Box::new(move |k| lines_logs(rt, sup, k, producer))),
                ("sink", Box::new(move |k| lines_sink(rt, sup, k, producer))),
                ("pipe", Box::new(move |_| lines_pipe(rt, producer))),
            ],
        );
        rows.push(Row::new(
            format!("{lines} lines of 32 bytes"),
            " lines/s",
            series,
            &[("logs", "pipe"), ("sink", "pipe")],
        ));
    }
    rt.block_on(async { sup.shutdown().await.expect("shutdown") });
    rt.block_on(async { no_cgroup.shutdown().await.expect("shutdown") });

    let idle = if wanted("idle") {
        ["supervisor", "children"]
            .into_iter()
            .filter(|w| runs("idle", w))
            .map(|which| (which, idle_run(which, idle_n, idle_secs)))
            .collect()
    } else {
        Vec::new()
    };

    println!();
    print_table(&rows, &idle, idle_n);
}

/// Whether `PROCWIRE_BENCH_ONLY` (if set) names this workload or contender.
fn wanted(name: &str) -> bool {
    std::env::var("PROCWIRE_BENCH_ONLY")
        .map_or(true, |only| only.split(',').any(|w| w == name || workload_of(w) == Some(name)))
}

/// Whether a contender of `workload` (the idle one, run outside
/// [`measure`]) runs: `PROCWIRE_BENCH_ONLY` unset, naming it, or naming the
/// workload and none of its contenders.
fn runs(workload: &str, contender: &str) -> bool {
    std::env::var("PROCWIRE_BENCH_ONLY").map_or(true, |only| {
        let names: Vec<&str> = only.split(',').collect();
        let mine = ["supervisor", "children"];
        names.contains(&contender) || !names.iter().any(|w| mine.contains(w)) && names.contains(&workload)
    })
}

/// The workload a contender name belongs to, so that `ONLY=logs` runs the
/// lines workload (with `logs` alone).
fn workload_of(contender: &str) -> Option<&'static str> {
    match contender {
        "supervisor" | "process" | "nocgroup" | "core" | "safe" | "tokio" => Some("restarts"),
        "logs" | "sink" | "pipe" => Some("lines"),
        "children" => Some("idle"),
        _ => None,
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit: an idle program
/// holds a pidfd and two pipes, 3,000 descriptors for 1,000.
fn raise_nofile() {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    }
}

// ---- restarts ------------------------------------------------------------

/// Restarts of `/bin/true` under the supervisor for one window; the
/// program (`fast-k`) is added before and removed after it, with the
/// default stop or `scope`.
fn restarts_supervisor(
    rt: &Runtime,
    sup: &Supervisor,
    k: usize,
    window: Duration,
    scope: Option<StopScope>,
) -> Sample {
    let sup = sup.clone();
    on_worker(rt, async move {
        let name = format!("fast-{k}");
        let mut restart = RestartSpec::new();
        restart
            .policy(RestartPolicy::Always)
            .backoff(Backoff::none())
            .min_uptime(Duration::ZERO)
            .start_limit(None)
            .max_retries(None);
        let mut program = ProgramSpec::new(name.as_str(), Command::new("/bin/true"));
        program.restart(restart).no_sink();
        if let Some(scope) = scope {
            program.stop(ProgramSpec::DEFAULT_STOP.with_scope(scope));
        }
        if std::env::var_os("PROCWIRE_BENCH_NO_PDEATHSIG").is_some() {
            program.parent_death_signal(None);
        }
        sup.add(program).await.expect("add");
        // Past the first spawn, as the loops are past their first.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (first, t) = (sup.status(&name).await.expect("status").incarnation, Instant::now());
        tokio::time::sleep(window).await;
        let last = sup.status(&name).await.expect("status").incarnation;
        let secs = t.elapsed().as_secs_f64();
        sup.remove(&name).await.expect("remove");
        Sample { items: (last - first) as f64, secs, faults: Faults::default() }
    })
}

fn restarts_core(rt: &Runtime, window: Duration) -> Sample {
    on_worker(rt, async move {
        let (t, mut n) = (Instant::now(), 0u64);
        while t.elapsed() < window {
            let mut child = Command::new("/bin/true").spawn_with(StdioDefaults::Twisted).expect("spawn true");
            assert!(child.wait().await.expect("wait true").success());
            n += 1;
        }
        Sample { items: n as f64, secs: t.elapsed().as_secs_f64(), faults: Faults::default() }
    })
}

/// The `core` loop with what the supervisor's default spawn adds: the
/// parent-death signal, a process group of its own, and (where the
/// supervisor's cgroup root, its own cgroup, is writable) one cgroup for
/// every child of the window, checked empty after each exit, as the
/// supervisor checks a cgroup it keeps for the next incarnation.
fn restarts_safe(rt: &Runtime, k: usize, window: Duration) -> Sample {
    on_worker(rt, async move {
        let root = Cgroup::current().filter(|own| Cgroup::check_writable(own).is_ok());
        let cgroup = root
            .and_then(|root| Cgroup::create(&root, &format!("bench-safe-{k}.{}", std::process::id())).ok());
        let (t, mut n) = (Instant::now(), 0u64);
        while t.elapsed() < window {
            let mut cmd = Command::new("/bin/true");
            cmd.parent_death_signal(Signal::KILL).process_group(0).kill_on_drop(true);
            if let Some(cgroup) = &cgroup {
                cmd.cgroup(cgroup.path());
            }
            let mut child = cmd.spawn_with(StdioDefaults::Twisted).expect("spawn true");
            assert!(child.wait().await.expect("wait true").success());
            if let Some(cgroup) = &cgroup {
                assert!(!cgroup.is_populated().expect("cgroup.events"), "the cgroup is empty");
            }
            n += 1;
        }
        let sample = Sample { items: n as f64, secs: t.elapsed().as_secs_f64(), faults: Faults::default() };
        if let Some(cgroup) = cgroup {
            cgroup.remove().expect("remove the window's cgroup");
        }
        sample
    })
}

fn restarts_tokio(rt: &Runtime, window: Duration) -> Sample {
    on_worker(rt, async move {
        let (t, mut n) = (Instant::now(), 0u64);
        while t.elapsed() < window {
            let mut child = tokio::process::Command::new("/bin/true")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn true");
            assert!(child.wait().await.expect("wait true").success());
            n += 1;
        }
        Sample { items: n as f64, secs: t.elapsed().as_secs_f64(), faults: Faults::default() }
    })
}

// ---- lines ---------------------------------------------------------------

/// The program that writes the lines, and what each line must be.
#[derive(Debug, Clone, Copy)]
struct Producer {
    lines: usize,
    /// awk printing `%031d` of the line number, instead of `yes | head`.
    numbered: bool,
}

impl Producer {
    fn command(&self) -> Command {
        let script = if self.numbered {
            format!("awk 'BEGIN {{ for (i = 0; i < {}; i++) printf \"%031d\\n\", i }}'", self.lines)
        } else {
            format!("yes {PAYLOAD} | head -n {}", self.lines)
        };
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", &script]);
        cmd
    }

    /// Whether `line` is a whole line and the `n`th (from 0).
    fn check(&self, n: u64, line: &[u8]) -> bool {
        if self.numbered {
            line.len() == PAYLOAD.len()
                && std::str::from_utf8(line).ok().and_then(|t| t.parse::<u64>().ok()) == Some(n)
        } else {
            line == PAYLOAD.as_bytes()
        }
    }
}

/// Counts and checks lines in arrival order; the first bad one is kept.
#[derive(Debug, Default)]
struct Tally {
    good: u64,
    bad: u64,
    missed: u64,
    first_bad: Option<String>,
}

impl Tally {
    fn line(&mut self, producer: &Producer, line: &[u8], whole: bool) {
        if whole && producer.check(self.good + self.bad + self.missed, line) {
            self.good += 1;
        } else {
            self.bad += 1;
            self.first_bad.get_or_insert_with(|| String::from_utf8_lossy(line).into_owned());
        }
    }

    fn seen(&self) -> u64 {
        self.good + self.bad + self.missed
    }

    /// The sample: the good lines are the items; a line missed (`Lagged`),
    /// split, altered or invented is counted as a fault, reported beside the
    /// rate (a lossy consumer's rate is not comparable) and printed now.
    fn sample(self, who: &str, producer: &Producer, secs: f64) -> Sample {
        let lost = producer.lines as u64 - self.good.min(producer.lines as u64);
        if lost > 0 || self.bad > 0 {
            eprintln!(
                "  {who}: {} good lines of {}, {} bad (first {:?}), {} missed (Lagged)",
                self.good, producer.lines, self.bad, self.first_bad, self.missed,
            );
        }
        Sample {
            items: self.good as f64,
            secs,
            faults: Faults { missed: self.missed, bad: self.bad, lossy: u64::from(lost > 0 || self.bad > 0) },
        }
    }
}

/// The program `name` under the supervisor: run once, no restart.
fn once(name: &str, producer: &Producer) -> ProgramSpec {
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    let mut program = ProgramSpec::new(name, producer.command());
    program.restart(restart);
    program
}

fn lines_logs(rt: &Runtime, sup: &Supervisor, k: usize, producer: Producer) -> Sample {
    let sup = sup.clone();
    on_worker(rt, async move {
        let producer = &producer;
        let name = format!("logs-{k}");
        // Subscribed for this transfer only, so that other contenders'
        // lines do not pile up in it.
        let mut logs = sup.logs().await.expect("logs");
        let mut program = once(&name, producer);
        program.no_sink();
        let t = Instant::now();
        sup.add(program).await.expect("add");
        let mut tally = Tally::default();
        stall_guard("logs", async {
            while tally.seen() < producer.lines as u64 {
                match logs.next().await {
                    Some(Ok(l)) if *l.program == *name => {
                        tally.line(producer, &l.line.bytes, l.fd == 1 && !l.line.continued)
                    }
                    Some(Ok(_)) => {}
                    Some(Err(lagged)) => tally.missed += lagged.0,
                    None => panic!("logs: the stream ended"),
                }
            }
        })
        .await;
        let secs = t.elapsed().as_secs_f64();
        drop(logs);
        sup.remove(&name).await.expect("remove");
        tally.sample("logs", producer, secs)
    })
}

fn lines_sink(rt: &Runtime, sup: &Supervisor, k: usize, producer: Producer) -> Sample {
    let sup = sup.clone();
    on_worker(rt, async move {
        let producer = &producer;
        let name = format!("sink-{k}");
        let mut program = once(&name, producer);
        // The sink runs on the task that reads the pipe, one call a line:
        // one atomic add a line, the lock only for a bad line, so that the
        // bookkeeping costs about what the pipe reader's local count does.
        let (seen, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let first_bad = Arc::new(std::sync::Mutex::new(None));
        let done = Arc::new(tokio::sync::Notify::new());
        let (s2, b2, f2, d2) = (seen.clone(), bad.clone(), first_bad.clone(), done.clone());
        let (check, want) = (*producer, producer.lines as u64);
        program.sink(move |l: &LogLine| {
            let n = s2.fetch_add(1, Ordering::Relaxed);
            if !(l.fd == 1 && !l.line.continued && check.check(n, &l.line.bytes)) {
                b2.fetch_add(1, Ordering::Relaxed);
                f2.lock()
                    .expect("first bad")
                    .get_or_insert_with(|| String::from_utf8_lossy(&l.line.bytes).into_owned());
            }
            if n + 1 == want {
                d2.notify_one();
            }
        });
        let t = Instant::now();
        sup.add(program).await.expect("add");
        stall_guard("sink", done.notified()).await;
        let secs = t.elapsed().as_secs_f64();
        sup.remove(&name).await.expect("remove");
        let bad = bad.load(Ordering::Relaxed);
        let first_bad = first_bad.lock().expect("first bad").take();
        let tally = Tally { good: seen.load(Ordering::Relaxed) - bad, bad, missed: 0, first_bad };
        tally.sample("sink", producer, secs)
    })
}

fn lines_pipe(rt: &Runtime, producer: Producer) -> Sample {
    on_worker(rt, async move {
        let producer = &producer;
        let t = Instant::now();
        let mut child = producer.command().spawn().expect("spawn the producer");
        let stdout = child.take_reader(1).expect("stdout pipe");
        let mut lines =
            FramedRead::with_capacity(stdout, LinesCodec::new_with_max_length(16 * 1024), 64 * 1024);
        let mut tally = Tally::default();
        stall_guard("pipe", async {
            while let Some(line) = lines.next().await {
                tally.line(producer, line.expect("read a line").as_bytes(), true);
            }
        })
        .await;
        let secs = t.elapsed().as_secs_f64();
        assert!(child.wait().await.expect("wait").success());
        tally.sample("pipe", producer, secs)
    })
}

/// Runs one turn as a task on the runtime's workers, where the
/// supervisor's own tasks run, so that no contender pays for waking the
/// thread blocked in `block_on` (or gains from it).
fn on_worker<T: Send + 'static>(
    rt: &Runtime,
    turn: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    rt.block_on(rt.spawn(turn)).unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Awaits `fut`, panicking if it takes longer than [`STALL`].
async fn stall_guard<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STALL, fut).await.unwrap_or_else(|_| panic!("{what}: transfer stalled"))
}

// ---- idle ----------------------------------------------------------------

/// What one idle contender cost, measured in a fresh process.
#[derive(Debug, Clone, Copy)]
struct Idle {
    /// CPU (user + system) of the whole process per second of the window.
    cpu_us_per_s: f64,
    /// Voluntary context switches of the whole process per second (each a
    /// thread going to sleep after it woke up).
    switches_per_s: f64,
    /// Resident memory added per program.
    rss_per_program: f64,
    /// Seconds until all were running.
    startup_s: f64,
}

/// Re-runs this binary to measure `which` alone, and reads its figures.
fn idle_run(which: &str, n: usize, secs: usize) -> Idle {
    let exe = std::env::current_exe().expect("current exe");
    let out = std::process::Command::new(exe)
        .env(IDLE_CHILD, which)
        .env("PROCWIRE_BENCH_IDLE", n.to_string())
        .env("PROCWIRE_BENCH_IDLE_SECS", secs.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("run the idle copy");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "idle {which}: {}\n{text}", out.status);
    let field = |key: &str| -> f64 {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("idle {which}: no {key} in {text:?}"))
    };
    let idle = Idle {
        cpu_us_per_s: field("cpu_us_per_s"),
        switches_per_s: field("switches_per_s"),
        rss_per_program: field("rss_per_program"),
        startup_s: field("startup_s"),
    };
    println!(
        "\nidle, {n} x sleep 3600, {secs} s: {which:<10} {:.1} us CPU/s, {:.1} wake-ups/s, {:.1} KiB/program, \
         all up in {:.2} s",
        idle.cpu_us_per_s,
        idle.switches_per_s,
        idle.rss_per_program / 1024.0,
        idle.startup_s,
    );
    idle
}

/// The re-run copy: start N sleepers the `which` way, then measure.
fn idle_child(which: &str) {
    raise_nofile();
    let n = env_usize("PROCWIRE_BENCH_IDLE", 1000);
    let secs = env_usize("PROCWIRE_BENCH_IDLE_SECS", 10) as u64;
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let sleeper = || {
        let mut cmd = Command::new("/bin/sleep");
        cmd.arg("3600").kill_on_drop(true);
        cmd
    };
    rt.block_on(async {
        let (sup, _task) = Supervisor::new();
        // Warm up the runtime, the reaper and the allocator, then count.
        let mut warm = ProgramSpec::new("warm", sleeper());
        warm.no_sink();
        sup.add(warm).await.expect("add");
        let mut kids = Vec::new();
        let (rss_before, t) = (rss(), Instant::now());
        match which {
            "supervisor" => {
                for i in 0..n {
                    let program = ProgramSpec::new(format!("idle{i}"), sleeper());
                    assert_eq!(sup.add(program).await.expect("add").state, State::Running);
                }
            }
            "children" => {
                for _ in 0..n {
                    let mut child = sleeper().spawn_with(StdioDefaults::Twisted).expect("spawn sleep");
                    // Closed at once, as the supervisor closes its children's.
                    drop(child.take_writer(0));
                    let (out, err) =
                        (child.take_reader(1).expect("stdout"), child.take_reader(2).expect("stderr"));
                    kids.push(child.signal_handle().expect("a live child"));
                    tokio::spawn(async move {
                        let (_, _, status) = tokio::join!(drain(out), drain(err), child.wait());
                        status.expect("wait sleep")
                    });
                }
            }
            other => panic!("no idle contender {other:?}"),
        }
        let startup = t.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let per_program = rss().saturating_sub(rss_before) as f64 / n as f64;
        // The window, with this thread asleep in the kernel, not in tokio.
        let (before, t) = (usage(), Instant::now());
        std::thread::sleep(Duration::from_secs(secs));
        let (after, window) = (usage(), t.elapsed().as_secs_f64());
        println!(
            "cpu_us_per_s={} switches_per_s={} rss_per_program={per_program} startup_s={startup}",
            (after.0 - before.0) / window,
            (after.1 - before.1 - 1.0) / window,
        );
        for kid in kids {
            kid.signal(Signal::KILL).expect("kill sleep");
        }
        sup.shutdown().await.expect("shutdown");
    });
}

async fn drain(mut r: impl tokio::io::AsyncRead + Unpin) {
    tokio::io::copy(&mut r, &mut tokio::io::sink()).await.expect("drain a pipe");
}

/// This process's (CPU microseconds, voluntary context switches) so far,
/// all threads, from `getrusage(RUSAGE_SELF)`.
fn usage() -> (f64, f64) {
    let u = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let us = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e6 + t.tv_usec() as f64;
    (us(u.user_time()) + us(u.system_time()), u.voluntary_context_switches() as f64)
}

/// This process's resident memory in bytes, from `/proc/self/statm`.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("statm rss");
    pages * 4096
}

// ---- harness -------------------------------------------------------------

/// What one turn of a contender did: items (restarts, good lines), seconds,
/// and what went wrong.
#[derive(Debug, Clone, Copy)]
struct Sample {
    items: f64,
    secs: f64,
    faults: Faults,
}

/// Lines missed (`Lagged`) and bad (split, altered, invented), and the
/// transfers that had any, summed over a contender's turns.
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    missed: u64,
    bad: u64,
    lossy: u64,
}

impl Faults {
    fn add(&mut self, other: Faults) {
        self.missed += other.missed;
        self.bad += other.bad;
        self.lossy += other.lossy;
    }
}

/// One contender of one workload: a name and a closure that takes one turn
/// (given a number unique to the turn, for program names).
type Contender<'a> = (&'static str, Box<dyn FnMut(usize) -> Sample + 'a>);

/// One contender's rates, one per round, and its faults over all turns.
#[derive(Debug, Clone)]
struct Series {
    name: &'static str,
    rates: Vec<f64>,
    faults: Faults,
    turns: usize,
}

/// Runs `rounds` rounds; in each, every contender takes `reps` turns, the
/// contenders taking turns one by one (A B C, then C B A, ...; the first one
/// rotating from round to round), so that neither position nor a steady
/// drift favours anyone. Returns each contender's rate per round.
fn measure(rounds: usize, reps: usize, mut contenders: Vec<Contender<'_>>) -> Vec<Series> {
    let only = std::env::var("PROCWIRE_BENCH_ONLY").ok();
    let named = |o: &str, name: &str| o.split(',').any(|w| w == name);
    if let Some(o) = only.as_deref().filter(|o| contenders.iter().any(|(name, _)| named(o, name))) {
        contenders.retain(|(name, _)| named(o, name));
    }
    let mut series: Vec<Series> = contenders
        .iter()
        .map(|(name, _)| Series {
            name,
            rates: Vec::with_capacity(rounds),
            faults: Faults::default(),
            turns: 0,
        })
        .collect();
    let n = contenders.len();
    let mut turn = 0;
    for round in 0..rounds {
        let mut sums = vec![(0.0, 0.0); n];
        for rep in 0..reps {
            for k in 0..n {
                let k = if (round * reps + rep) % 2 == 1 { n - 1 - k } else { k };
                let i = (round + k) % n;
                let s = (contenders[i].1)(turn);
                turn += 1;
                sums[i].0 += s.items;
                sums[i].1 += s.secs;
                series[i].faults.add(s.faults);
                series[i].turns += 1;
            }
        }
        for (series, (items, secs)) in series.iter_mut().zip(sums) {
            series.rates.push(items / secs);
        }
    }
    series
}

/// One workload's rates per round, per contender, and the ratios it reports.
#[derive(Debug)]
struct Row {
    workload: String,
    unit: &'static str,
    series: Vec<Series>,
    ratios: &'static [(&'static str, &'static str)],
}

impl Row {
    /// Prints the rounds, medians, faults and ratios of one workload.
    fn new(
        workload: String,
        unit: &'static str,
        series: Vec<Series>,
        ratios: &'static [(&'static str, &'static str)],
    ) -> Row {
        println!("\n{workload}:");
        for s in &series {
            let rounds: Vec<String> = s.rates.iter().map(|r| thousands(*r)).collect();
            println!(
                "  {:<10} median {:>10}{unit}  rounds [{}]{}",
                s.name,
                thousands(median(s.rates.clone())),
                rounds.join(" "),
                fmt_faults(s)
            );
        }
        let row = Row { workload, unit, series, ratios };
        for (a, b) in ratios {
            if let Some(r) = row.ratio(a, b) {
                println!("  {a}/{b:<10} {r:.2}x");
            }
        }
        row
    }

    fn rates(&self, name: &str) -> Option<&Vec<f64>> {
        self.series.iter().find(|s| s.name == name).map(|s| &s.rates)
    }

    /// The median over rounds of `a`'s rate over `b`'s in the same round.
    fn ratio(&self, a: &str, b: &str) -> Option<f64> {
        let (a, b) = (self.rates(a)?, self.rates(b)?);
        Some(median(a.iter().zip(b).map(|(a, b)| a / b).collect()))
    }
}

/// `""`, or what went wrong: `; LOSSY 3 of 15 transfers: 1,234 missed, 0 bad`.
fn fmt_faults(s: &Series) -> String {
    let f = s.faults;
    if f.lossy == 0 {
        return String::new();
    }
    format!(
        "; LOSSY {} of {} transfers: {} lines missed (Lagged), {} bad",
        f.lossy,
        s.turns,
        thousands(f.missed as f64),
        thousands(f.bad as f64)
    )
}

fn print_table(rows: &[Row], idle: &[(&str, Idle)], n: usize) {
    println!("| workload | contender | median | ratios |");
    println!("|---|---|---:|---|");
    for row in rows {
        for s in &row.series {
            let ratios: Vec<String> = row
                .ratios
                .iter()
                .filter(|(a, _)| *a == s.name)
                .filter_map(|(a, b)| Some(format!("{:.2}x {b}", row.ratio(a, b)?)))
                .collect();
            println!(
                "| {} | {} | {}{}{} | {} |",
                row.workload,
                s.name,
                thousands(median(s.rates.clone())),
                row.unit,
                fmt_faults(s),
                ratios.join(", ")
            );
        }
    }
    let get = |w: &str| idle.iter().find(|(n, _)| *n == w).map(|(_, i)| *i);
    for (which, i) in idle {
        let vs = match (get("supervisor"), get("children")) {
            (Some(s), Some(c)) if *which == "supervisor" => {
                format!("memory {:.2}x children", s.rss_per_program / c.rss_per_program)
            }
            _ => String::new(),
        };
        println!(
            "| idle, {n} x sleep 3600 | {which} | {:.1} us CPU/s, {:.1} wake-ups/s, {:.1} KiB/program | {vs} |",
            i.cpu_us_per_s,
            i.switches_per_s,
            i.rss_per_program / 1024.0
        );
    }
    println!("\nrates: median over rounds; ratios: median over rounds of the same-round ratio.");
}

/// `r` rounded, with thousands separators.
fn thousands(r: f64) -> String {
    let digits = format!("{:.0}", r);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && c != '-' {
            out.push(',');
        }
        out.push(c);
    }
    out
}
