//! What the soak measures once a second, and how it decides that
//! something grows.
//!
//! Everything is read from `/proc`: this process's (the supervisor's)
//! descriptors, resident memory and threads; its zombie children (exited
//! incarnations it has not reaped yet) and those of its parent (the
//! test's subreaper, which adopts the escapers); every zombie on the
//! machine; the live processes that carry the run's tag; the cgroups
//! under the soak's parent cgroup.

use std::path::{Path, PathBuf};

use procwire_tests::{open_fds, processes};

/// One second of the soak.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sample {
    /// Seconds since the programs were added.
    pub(crate) t: f64,
    pub(crate) fds: u64,
    pub(crate) rss_kib: u64,
    pub(crate) threads: u64,
    /// Zombie children of the supervisor's process.
    pub(crate) zombies_own: u64,
    /// Zombie children of the subreaper above it (escapers it has not
    /// reaped yet).
    pub(crate) zombies_reaper: u64,
    /// Zombies anywhere on the machine.
    pub(crate) zombies_machine: u64,
    /// Live processes with the run's tag.
    pub(crate) tagged: u64,
    /// Cgroups under the soak's parent cgroup.
    pub(crate) cgroups: u64,
    /// Programs with a live incarnation (`Starting`, `Running`, `Stopping`).
    pub(crate) live: u64,
    /// How long `statuses()` took, in milliseconds: the actor's latency.
    pub(crate) statuses_ms: f64,
}

/// How a metric is read from a sample.
pub(crate) type Metric = fn(&Sample) -> f64;

/// The metrics, by name, as the table and the verdicts read them.
pub(crate) const METRICS: [(&str, Metric); 10] = [
    ("fds", |s| s.fds as f64),
    ("rss_mib", |s| s.rss_kib as f64 / 1024.0),
    ("threads", |s| s.threads as f64),
    ("zombies_own", |s| s.zombies_own as f64),
    ("zombies_reaper", |s| s.zombies_reaper as f64),
    ("zombies_machine", |s| s.zombies_machine as f64),
    ("tagged_procs", |s| s.tagged as f64),
    ("cgroups", |s| s.cgroups as f64),
    ("live_programs", |s| s.live as f64),
    ("statuses_ms", |s| s.statuses_ms),
];

/// This process's `VmRSS` (KiB) and `Threads`, from `/proc/self/status`.
pub(crate) fn rss_and_threads() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("Threads:"))
}

/// A process that carries the run's tag.
#[derive(Debug, Clone)]
pub(crate) struct Tagged {
    pub(crate) pid: u32,
    pub(crate) ppid: u32,
    pub(crate) state: char,
    pub(crate) program: String,
    pub(crate) scope: String,
    pub(crate) cmdline: String,
}

/// The live processes (not zombies) whose environment has `SOAK_TAG=tag`.
pub(crate) fn tagged(tag: &str) -> Vec<Tagged> {
    let needle = format!("SOAK_TAG={tag}");
    let me = std::process::id();
    processes()
        .into_iter()
        .filter(|p| p.pid != me && !p.is_dead())
        .filter_map(|p| {
            // A zombie's environment reads empty; one that exits meanwhile is gone.
            let env = std::fs::read(format!("/proc/{}/environ", p.pid)).ok()?;
            let vars: Vec<&[u8]> = env.split(|&b| b == 0).collect();
            if !vars.contains(&needle.as_bytes()) {
                return None;
            }
            let var = |key: &str| {
                vars.iter()
                    .find_map(|v| v.strip_prefix(format!("{key}=").as_bytes()))
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default()
            };
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", p.pid)).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim_end().to_owned();
            Some(Tagged {
                pid: p.pid,
                ppid: p.ppid,
                state: p.state,
                program: var("SOAK_PROGRAM"),
                scope: var("SOAK_SCOPE"),
                cmdline,
            })
        })
        .collect()
}

/// The cgroups below `dir`, at any depth.
pub(crate) fn cgroups_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(cgroups_below(&entry.path()));
                out.push(entry.path());
            }
        }
    }
    out
}

/// A sample of everything but the supervisor's view (`live`, `statuses_ms`).
pub(crate) fn sample(t: f64, tag: &str, cgroup: Option<&Path>) -> Sample {
    let (rss_kib, threads) = rss_and_threads();
    let (me, parent) = (std::process::id(), std::os::unix::process::parent_id());
    let procs = processes();
    let zombies = |ppid: Option<u32>| {
        procs.iter().filter(|p| p.state == 'Z' && ppid.is_none_or(|pp| p.ppid == pp)).count() as u64
    };
    Sample {
        t,
        fds: open_fds().len() as u64,
        rss_kib,
        threads,
        zombies_own: zombies(Some(me)),
        zombies_reaper: zombies(Some(parent)),
        zombies_machine: zombies(None),
        tagged: tagged(tag).len() as u64,
        cgroups: cgroup.map_or(0, |c| cgroups_below(c).len() as u64),
        live: 0,
        statuses_ms: 0.0,
    }
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Least-squares slope of `metric` over `samples`, per minute.
pub(crate) fn slope_per_min(samples: &[Sample], metric: Metric) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mt, mv) =
        (samples.iter().map(|s| s.t).sum::<f64>() / n, samples.iter().map(metric).sum::<f64>() / n);
    let cov: f64 = samples.iter().map(|s| (s.t - mt) * (metric(s) - mv)).sum();
    let var: f64 = samples.iter().map(|s| (s.t - mt).powi(2)).sum();
    if var == 0.0 {
        0.0
    } else {
        cov / var * 60.0
    }
}

/// How much a metric may grow between the first and the last window
/// after the warm-up: `last <= first * factor + slack`, medians of each,
/// judged only with windows of at least `min_window` seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tolerance {
    pub(crate) metric: &'static str,
    pub(crate) factor: f64,
    pub(crate) slack: f64,
    pub(crate) min_window: f64,
}

/// The metrics that fail the soak when they grow, and by how much they
/// may. The descriptors and the tagged processes follow how many
/// programs are live (up to 5 fds and 3 processes each), which the
/// random commands move, hence the factor; a leak of one descriptor, one
/// process or a few KiB per incarnation, over the thousands of
/// incarnations of a run, is far above it. Resident memory gets room for
/// the allocator's arenas and the log channel's buffers, which fill and
/// empty with the floods; it climbs for the first minute or so (the
/// buffers, the arenas, a lag of the log consumer now and then), so it is
/// judged on windows of 30 s or more, not in a 20-second run. The threads are tokio's two workers, procwire's
/// reaper and the test's own: a thread per anything would show. Zombies
/// are transient: an exit not reaped yet, and in group and cgroup scope a
/// main process left unreaped while what outlived it is swept (up to a
/// grace and a second): a few at any time, never a pile.
pub(crate) const TOLERANCES: [Tolerance; 7] = [
    Tolerance { metric: "fds", factor: 1.5, slack: 32.0, min_window: 0.0 },
    Tolerance { metric: "rss_mib", factor: 1.5, slack: 32.0, min_window: 30.0 },
    Tolerance { metric: "threads", factor: 1.0, slack: 4.0, min_window: 0.0 },
    Tolerance { metric: "zombies_own", factor: 1.5, slack: 5.0, min_window: 0.0 },
    Tolerance { metric: "zombies_reaper", factor: 1.5, slack: 5.0, min_window: 0.0 },
    Tolerance { metric: "tagged_procs", factor: 1.5, slack: 20.0, min_window: 0.0 },
    Tolerance { metric: "cgroups", factor: 1.5, slack: 10.0, min_window: 0.0 },
];

/// The windows the verdicts compare: after `warmup` seconds, the first
/// `window` seconds and the last `window` seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows {
    pub(crate) warmup: f64,
    pub(crate) window: f64,
}

impl Windows {
    /// 30 s of warm-up and windows of a minute for the 10-minute run;
    /// shorter for short runs (a quarter, and a third of what is left).
    pub(crate) fn for_secs(secs: u64) -> Windows {
        let warmup = (secs as f64 / 4.0).min(30.0);
        Windows { warmup, window: ((secs as f64 - warmup) / 3.0).min(60.0) }
    }
}

/// One metric's verdict.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub(crate) metric: &'static str,
    pub(crate) first: f64,
    pub(crate) last: f64,
    pub(crate) limit: f64,
    pub(crate) slope: f64,
    /// Whether the windows were long enough to judge this metric.
    pub(crate) judged: bool,
}

impl Verdict {
    pub(crate) fn grew(&self) -> bool {
        self.judged && self.last > self.limit
    }
}

pub(crate) fn verdicts(samples: &[Sample], windows: Windows) -> Vec<Verdict> {
    let after: Vec<Sample> = samples.iter().copied().filter(|s| s.t >= windows.warmup).collect();
    let end = after.last().map_or(0.0, |s| s.t);
    let first: Vec<&Sample> = after.iter().filter(|s| s.t < windows.warmup + windows.window).collect();
    let last: Vec<&Sample> = after.iter().filter(|s| s.t > end - windows.window).collect();
    TOLERANCES
        .iter()
        .map(|tol| {
            let metric = METRICS.iter().find(|(name, _)| *name == tol.metric).expect("a known metric").1;
            let first = median(&mut first.iter().map(|s| metric(s)).collect::<Vec<_>>());
            let last = median(&mut last.iter().map(|s| metric(s)).collect::<Vec<_>>());
            let limit = first * tol.factor + tol.slack;
            let slope = slope_per_min(&after, metric);
            Verdict {
                metric: tol.metric,
                first,
                last,
                limit,
                slope,
                judged: windows.window >= tol.min_window,
            }
        })
        .collect()
}

/// What is left once `shutdown` has resolved.
pub(crate) struct After {
    /// Descriptors now, and before the supervisor was made.
    pub(crate) fds: usize,
    pub(crate) fds_before: usize,
    /// The descriptors open now that were not before, with what they are.
    pub(crate) extra_fds: Vec<String>,
    pub(crate) rss_kib: u64,
    pub(crate) rss_before_kib: u64,
    pub(crate) threads: u64,
    pub(crate) threads_before: u64,
    /// Unreaped children of the supervisor's process.
    pub(crate) zombies_own: Vec<u32>,
    /// Live processes with the run's tag (killed once reported).
    pub(crate) survivors: Vec<Tagged>,
    /// Cgroups still under the soak's parent cgroup.
    pub(crate) cgroups: Vec<PathBuf>,
}

impl After {
    pub(crate) fn measure(
        tag: &str,
        cgroup: Option<&Path>,
        fds_before: &[i32],
        (rss, threads): (u64, u64),
    ) -> After {
        let fds = open_fds();
        let what =
            |fd: &i32| std::fs::read_link(format!("/proc/self/fd/{fd}")).map(|l| l.display().to_string());
        let extra_fds = fds
            .iter()
            .filter(|fd| !fds_before.contains(fd))
            .map(|fd| format!("{fd} -> {}", what(fd).unwrap_or_else(|e| e.to_string())))
            .collect();
        let (rss_kib, threads_now) = rss_and_threads();
        After {
            fds: fds.len(),
            fds_before: fds_before.len(),
            extra_fds,
            rss_kib,
            rss_before_kib: rss,
            threads: threads_now,
            threads_before: threads,
            zombies_own: procwire_tests::zombie_children(),
            survivors: tagged(tag),
            cgroups: cgroup.map(cgroups_below).unwrap_or_default(),
        }
    }

    pub(crate) fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if self.fds > self.fds_before {
            failures.push(format!(
                "{} descriptors after shutdown, {} before the supervisor: {:?}",
                self.fds, self.fds_before, self.extra_fds
            ));
        }
        if !self.zombies_own.is_empty() {
            failures.push(format!("unreaped children after shutdown: {:?}", self.zombies_own));
        }
        for scope in ["process", "group", "cgroup"] {
            let left: Vec<_> = self.survivors.iter().filter(|s| s.scope == scope).collect();
            if !left.is_empty() {
                failures.push(format!(
                    "{} processes of {scope}-scope programs survived shutdown: {left:?}",
                    left.len()
                ));
            }
        }
        if !self.cgroups.is_empty() {
            failures.push(format!("cgroups left after shutdown: {:?}", self.cgroups));
        }
        failures
    }
}
