//! The soak's programs: ten kinds of misbehaviour, five programs of each,
//! with their delays, exit codes, line lengths and policies drawn from
//! the seed.
//!
//! Every process a program starts carries `SOAK_TAG` (one value per run),
//! `SOAK_PROGRAM` and `SOAK_SCOPE` in its environment, inherited by
//! whatever it forks, so that the processes left at the end can be found
//! in `/proc` and traced back to their program. The programs in process
//! scope are one process each (`exec`, or `pw-child` itself): anything of
//! theirs alive after a stop is the supervisor's doing, not an escaper.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use procwire::{Command, Signal, StopPolicy, StopScope};
use procwire_supervisor::{Backoff, LogSpec, ProgramSpec, Readiness, RestartPolicy, RestartSpec, StartLimit};

use crate::rng::Rng;

/// What a program does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Exits with a code after a short run, or at once.
    Crash,
    /// Dies of a signal it raises (ABRT, SEGV), or cannot be spawned at all.
    Abort,
    /// Sleeps until stopped.
    Hang,
    /// Ignores TERM (and HUP, INT): every stop ends with the final signal.
    IgnoreTerm,
    /// Floods fds 1 and 2 with lines (`yes`, `od`), in bursts or without end.
    FloodLines,
    /// Floods with bytes that are not text: long lines cut into pieces.
    FloodBinary,
    /// Forks sleepers that stay in its process group, some ignoring TERM.
    EscapeGroup,
    /// Forks sleepers that leave its group and session (`setsid`).
    EscapeCgroup,
    /// s6 readiness on fd 3: ready, late, or never (the start timeout).
    NotifyFd,
    /// sd_notify readiness and a watchdog that is pinged too late or triggered.
    SdNotify,
}

const KINDS: [Kind; 10] = [
    Kind::Crash,
    Kind::Abort,
    Kind::Hang,
    Kind::IgnoreTerm,
    Kind::FloodLines,
    Kind::FloodBinary,
    Kind::EscapeGroup,
    Kind::EscapeCgroup,
    Kind::NotifyFd,
    Kind::SdNotify,
];

/// One program of the soak.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub(crate) spec: ProgramSpec,
    pub(crate) kind: Kind,
    /// `process`, `group` or `cgroup`.
    pub(crate) scope: &'static str,
    /// Its command cannot be spawned: `Error::Spawn` is what `start` and
    /// `restart` of it answer.
    pub(crate) spawn_fails: bool,
    /// What it runs, for the table printed at the start.
    pub(crate) what: String,
}

/// What the programs' sinks saw (the programs that have one).
#[derive(Debug, Default)]
pub(crate) struct SinkCounts {
    pub(crate) lines: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

/// `n` programs, the kinds in turn. `cgroup` is the parent of the
/// incarnations' cgroups, `None` where cgroup v2 cannot be written: the
/// `EscapeCgroup` programs then fork escapers that stay in their group
/// (a `setsid` one in group scope would be a survivor by design).
pub(crate) fn programs(
    n: usize,
    rng: &mut Rng,
    tag: &str,
    cgroup: Option<&Path>,
    sinks: &Arc<SinkCounts>,
) -> Vec<Program> {
    (0..n).map(|i| program(i, KINDS[i % KINDS.len()], rng, tag, cgroup, sinks)).collect()
}

fn program(
    i: usize,
    kind: Kind,
    rng: &mut Rng,
    tag: &str,
    cgroup: Option<&Path>,
    sinks: &Arc<SinkCounts>,
) -> Program {
    let name = format!("p{i:02}-{}", format!("{kind:?}").to_lowercase());
    let pw = procwire_tests::pw_child!();
    let secs = |rng: &mut Rng, lo: u64, hi: u64| format!("{:.2}", rng.range(lo, hi) as f64 / 1000.0);
    let mut ready = Readiness::Spawned;
    let mut start_timeout = None;
    let mut watchdog = None;
    let mut spawn_fails = false;
    let (argv, mut scope): (Vec<String>, StopScope) = match kind {
        Kind::Crash => {
            let code = rng.range(0, 3);
            let argv = match rng.range(0, 2) {
                0 => vec![pw.into(), format!("sleep-ms:{}", rng.range(50, 1500)), format!("exit:{code}")],
                1 => vec![pw.into(), format!("exit:{code}")],
                _ => vec![pw.into(), "write:1:dying\\n".into(), format!("exit:{}", rng.range(1, 3))],
            };
            (argv, StopScope::Process)
        }
        Kind::Abort => {
            if rng.percent(20) {
                spawn_fails = true;
                (vec!["/nonexistent/procwire-soak".into()], StopScope::Process)
            } else {
                let sig = rng.pick(&[6, 11, 15]);
                (
                    vec![pw.into(), format!("sleep-ms:{}", rng.range(50, 1500)), format!("kill:{sig}")],
                    StopScope::Process,
                )
            }
        }
        Kind::Hang => match rng.range(0, 1) {
            0 => (vec![pw.into(), "sleep-ms:1000000".into()], StopScope::Process),
            _ => (vec!["sleep".into(), "1000".into()], StopScope::Process),
        },
        Kind::IgnoreTerm => match rng.range(0, 1) {
            0 => (
                vec![
                    pw.into(),
                    "trap:15".into(),
                    "trap:1".into(),
                    "trap:2".into(),
                    "sleep-ms:1000000".into(),
                ],
                StopScope::Process,
            ),
            _ => (sh("trap '' TERM HUP INT; exec sleep 1000"), StopScope::Process),
        },
        Kind::FloodLines => {
            let word = "y".repeat(rng.range(1, 200) as usize);
            let lines = rng.range(1 << 20, 16 << 20) / (word.len() as u64 + 1);
            let pause = secs(rng, 500, 3000);
            let script = match rng.range(0, 3) {
                0 => format!("yes {word} | head -n {lines}; sleep {pause}"),
                1 => format!("yes {word} | head -n {lines} >&2; sleep {pause}"),
                2 => format!(
                    "head -c {} /dev/urandom | od -v -An -tx1; sleep {pause}",
                    rng.range(1 << 18, 4 << 20)
                ),
                _ => format!("exec yes {word}"),
            };
            (sh(&script), StopScope::Group)
        }
        Kind::FloodBinary => {
            let argv = vec![
                pw.into(),
                format!("fill:1:{}", rng.range(1 << 16, 8 << 20)),
                format!("fill:2:{}", rng.range(0, 1 << 20)),
                format!("sleep-ms:{}", rng.range(200, 3000)),
            ];
            (argv, StopScope::Process)
        }
        Kind::EscapeGroup => {
            let script = match rng.range(0, 2) {
                0 => format!(
                    "sleep 1000 & (trap '' TERM; exec sleep 1000) & sleep {}; exit {}",
                    secs(rng, 50, 1500),
                    rng.range(0, 2)
                ),
                1 => "sleep 1000 & sleep 1000 & wait".into(),
                _ => format!("trap '' TERM; sleep 1000 & sleep {}; exec sleep 1000", secs(rng, 50, 500)),
            };
            (sh(&script), StopScope::Group)
        }
        Kind::EscapeCgroup => {
            let pause = secs(rng, 50, 1500);
            match cgroup {
                Some(_) => {
                    let script = format!(
                        "setsid sleep 1000 & (setsid sh -c \"trap '' TERM; exec sleep 1000\" &); sleep {pause}; exit 1"
                    );
                    (sh(&script), StopScope::Cgroup)
                }
                None => (sh(&format!("sleep 1000 & sleep {pause}; exit 1")), StopScope::Group),
            }
        }
        Kind::NotifyFd => {
            ready = Readiness::NotificationFd(3);
            start_timeout = Some(ms(rng.range(500, 1500)));
            let late = format!("sleep-ms:{}", rng.range(50, 2000));
            let argv = match rng.range(0, 2) {
                0 => vec![
                    pw.into(),
                    late,
                    "write:3:\\n".into(),
                    format!("sleep-ms:{}", rng.range(100, 3000)),
                    format!("exit:{}", rng.range(0, 2)),
                ],
                1 => vec![pw.into(), late, "write:3:\\n".into(), "sleep-ms:1000000".into()],
                _ => vec![pw.into(), "sleep-ms:1000000".into()],
            };
            (argv, StopScope::Process)
        }
        Kind::SdNotify => {
            ready = Readiness::notify();
            start_timeout = Some(ms(rng.range(500, 2000)));
            watchdog = Some(ms(rng.range(300, 1500)));
            let late = format!("sleep-ms:{}", rng.range(50, 1000));
            let argv = match rng.range(0, 2) {
                0 => vec![
                    pw.into(),
                    late,
                    "notify:READY=1".into(),
                    "notify:STATUS=soaking".into(),
                    format!("sleep-ms:{}", rng.range(100, 1500)),
                    "notify:WATCHDOG=1".into(),
                    format!("sleep-ms:{}", rng.range(100, 1500)),
                    format!("exit:{}", rng.range(0, 2)),
                ],
                1 => vec![
                    pw.into(),
                    late,
                    "notify:READY=1".into(),
                    "notify:WATCHDOG=trigger".into(),
                    "sleep-ms:1000000".into(),
                ],
                _ => vec![pw.into(), "sleep-ms:1000000".into()],
            };
            (argv, StopScope::Process)
        }
    };
    // Some one-process programs run in a cgroup of their own too.
    let in_cgroup =
        cgroup.is_some() && (scope == StopScope::Cgroup || (scope == StopScope::Process && rng.percent(20)));
    if in_cgroup && scope == StopScope::Process {
        scope = StopScope::Cgroup;
    }
    let scope_name = match scope {
        StopScope::Process => "process",
        StopScope::Group => "group",
        _ => "cgroup",
    };

    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]).env("SOAK_TAG", tag).env("SOAK_PROGRAM", &name).env("SOAK_SCOPE", scope_name);
    let mut spec = ProgramSpec::new(name, command);
    spec.restart(restart(rng))
        .stop(
            StopPolicy::new()
                .with_signal(*rng.pick(&[Signal::TERM, Signal::TERM, Signal::TERM, Signal::INT, Signal::HUP]))
                .with_grace(ms(rng.range(50, 500)))
                .with_scope(scope),
        )
        .log(LogSpec::new().max_line(*rng.pick(&[64, 100, 1024, 16 * 1024])).clone())
        .ready(ready);
    if let Some(timeout) = start_timeout {
        spec.start_timeout(timeout);
    }
    if let Some(period) = watchdog {
        spec.watchdog(period);
    }
    if let (true, Some(parent)) = (in_cgroup, cgroup) {
        spec.cgroup(parent);
    }
    match rng.range(0, 2) {
        0 => spec.no_sink(),
        1 => {
            let sinks = sinks.clone();
            spec.sink(move |line| {
                sinks.lines.fetch_add(1, Ordering::Relaxed);
                sinks.bytes.fetch_add(line.line.bytes.len() as u64, Ordering::Relaxed);
            })
        }
        _ => {
            let sinks = sinks.clone();
            spec.batch_sink(move |batch| {
                sinks.batches.fetch_add(1, Ordering::Relaxed);
                sinks.lines.fetch_add(batch.len() as u64, Ordering::Relaxed);
                sinks.bytes.fetch_add(batch.raw().len() as u64, Ordering::Relaxed);
            })
        }
    };
    Program { spec, kind, scope: scope_name, spawn_fails, what: argv.join(" ") }
}

/// Short delays, so that things churn: restarts within a second, a
/// start limit now and then (`Failed`, then a retry), some programs
/// that stay down once they exit.
fn restart(rng: &mut Rng) -> RestartSpec {
    let mut restart = RestartSpec::new();
    let policy =
        [RestartPolicy::Always, RestartPolicy::OnFailure, RestartPolicy::Never][rng.weighted(&[70, 20, 10])];
    let first = ms(rng.range(10, 100));
    let backoff = Backoff::exponential(first, 2.0, ms(rng.range(200, 1500))).expect("a valid backoff");
    restart.policy(policy).min_uptime(ms(rng.range(200, 1000))).backoff(backoff);
    if rng.percent(20) {
        let limit =
            StartLimit::new(rng.range(3, 8) as u32, ms(rng.range(2000, 5000))).expect("a valid limit");
        restart.start_limit(Some(limit.with_retry_after(ms(rng.range(500, 3000)))));
    }
    restart
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
