//! What the soak prints: its programs at the start, and a summary at the
//! end (the figures `docs/soak.md` records).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use procwire_supervisor::ShutdownReport;

use crate::metrics::{After, Sample, Verdict, Windows, METRICS};
use crate::programs::{Program, SinkCounts};
use crate::{Counts, EventLog, Ops};

pub(crate) fn programs(programs: &[Program], tag: &str, cgroup: Option<&Path>) {
    println!("soak: {} programs, SOAK_TAG={tag}, cgroups under {cgroup:?}", programs.len());
    for p in programs {
        let spec = &p.spec;
        let stop = spec.get_stop();
        println!(
            "  {:<18} {:<12} {:<7} {:?} grace {:>3} ms, {}, ready {:?}: {}",
            spec.get_name(),
            format!("{:?}", p.kind),
            p.scope,
            spec.get_restart().get_policy(),
            stop.grace.as_millis(),
            stop.signal.name().unwrap_or("?"),
            spec.get_ready(),
            p.what
        );
    }
}

/// Everything the summary prints.
pub(crate) struct Summary<'a> {
    pub(crate) secs: u64,
    pub(crate) seed: u64,
    pub(crate) ran: Duration,
    pub(crate) windows: Windows,
    pub(crate) samples: &'a [Sample],
    pub(crate) verdicts: &'a [Verdict],
    pub(crate) ops: &'a Ops,
    pub(crate) counts: &'a Counts,
    pub(crate) sinks: &'a SinkCounts,
    pub(crate) events: &'a EventLog,
    pub(crate) shutdown: Option<&'a ShutdownReport>,
    pub(crate) shutdown_took: Duration,
    pub(crate) after: &'a After,
    pub(crate) failures: &'a [String],
}

pub(crate) fn summary(s: &Summary<'_>) {
    println!();
    println!("== soak summary");
    println!(
        "SOAK_SECS={} SOAK_SEED={}: ran {:.1} s, {} samples, warm-up {:.0} s, windows of {:.0} s",
        s.secs,
        s.seed,
        s.ran.as_secs_f64(),
        s.samples.len(),
        s.windows.warmup,
        s.windows.window
    );
    metrics_table(s);
    let mut latency: Vec<f64> = s.samples.iter().map(|x| x.statuses_ms).collect();
    latency.sort_by(f64::total_cmp);
    if let Some(&max) = latency.last() {
        let at = |q: f64| latency[((latency.len() - 1) as f64 * q).round() as usize];
        println!(
            "statuses() once a second: median {:.1} ms, p99 {:.1} ms, max {max:.1} ms",
            at(0.5),
            at(0.99)
        );
    }
    ops_table(s.ops);

    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let c = s.counts;
    println!();
    println!("events: {} received, {} missed (lagged)", load(&c.events), load(&c.events_lagged));
    println!("  by cause: {}", list(&s.events.causes));
    println!("  by state entered: {}", list(&s.events.states));
    println!(
        "lines: {} received ({:.1} MiB), {} missed in {} lags; sinks: {} lines, {} batches, {:.1} MiB",
        load(&c.lines),
        load(&c.line_bytes) as f64 / 1048576.0,
        load(&c.lines_lagged),
        load(&c.log_lags),
        load(&s.sinks.lines),
        load(&s.sinks.batches),
        load(&s.sinks.bytes) as f64 / 1048576.0
    );
    match s.shutdown {
        Some(report) => println!(
            "shutdown: {:.2} s, {} programs stopped, {} with the final signal",
            s.shutdown_took.as_secs_f64(),
            report.stopped.len(),
            report.forced().count()
        ),
        None => println!("shutdown: none"),
    }
    let a = s.after;
    println!(
        "after shutdown: fds {} (before the supervisor {}), rss {:.1} MiB (before {:.1}), threads {} (before {}), \
         zombie children {}, tagged processes {}, cgroups {}",
        a.fds,
        a.fds_before,
        a.rss_kib as f64 / 1024.0,
        a.rss_before_kib as f64 / 1024.0,
        a.threads,
        a.threads_before,
        a.zombies_own.len(),
        a.survivors.len(),
        a.cgroups.len()
    );
    for extra in &a.extra_fds {
        println!("  fd not open before: {extra}");
    }
    for t in &a.survivors {
        println!(
            "  survivor: pid {} (ppid {}, {}) of {} ({} scope): {}",
            t.pid, t.ppid, t.state, t.program, t.scope, t.cmdline
        );
    }
    if s.failures.is_empty() {
        println!("verdict: PASS");
    } else {
        println!("verdict: FAIL");
        for f in s.failures {
            println!("  - {f}");
        }
    }
}

fn metrics_table(s: &Summary<'_>) {
    println!();
    println!(
        "| {:<15} | {:>8} | {:>8} | {:>8} | {:>8} | {:>9} | {:>9} | {:>8} | {:>9} | verdict |",
        "metric", "start", "end", "min", "max", "first win", "last win", "limit", "slope/min"
    );
    println!(
        "|{:-<17}|{:->10}|{:->10}|{:->10}|{:->10}|{:->11}|{:->11}|{:->10}|{:->11}|---------|",
        "", "", "", "", "", "", "", "", ""
    );
    for (name, metric) in METRICS {
        let values: Vec<f64> = s.samples.iter().map(metric).collect();
        let (Some(start), Some(end)) = (values.first(), values.last()) else { continue };
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let verdict = s.verdicts.iter().find(|v| v.metric == name);
        let (first, last, limit, slope, word) = match verdict {
            Some(v) => (
                format!("{:.1}", v.first),
                format!("{:.1}", v.last),
                format!("{:.1}", v.limit),
                format!("{:+.2}", v.slope),
                match (v.judged, v.grew()) {
                    (false, _) => "short",
                    (true, true) => "GREW",
                    (true, false) => "ok",
                },
            ),
            None => ("".into(), "".into(), "".into(), "".into(), "(info)"),
        };
        println!(
            "| {name:<15} | {start:>8.1} | {end:>8.1} | {min:>8.1} | {max:>8.1} | {first:>9} | {last:>9} | {limit:>8} | {slope:>9} | {word:<7} |"
        );
    }
}

fn ops_table(ops: &Ops) {
    println!();
    println!("| {:<11} | {:>7} | {:<52} | {:>10} |", "command", "ok", "expected errors", "slowest");
    println!("|{:-<13}|{:->9}|{:-<54}|{:->12}|", "", "", "", "");
    let mut total = 0;
    let names: std::collections::BTreeSet<&str> = ops.outcomes.keys().map(|(op, _)| *op).collect();
    for op in names {
        let of = |kind: &str| ops.outcomes.get(&(op, kind)).copied().unwrap_or(0);
        let errors: Vec<String> = ops
            .outcomes
            .iter()
            .filter(|((o, kind), _)| *o == op && *kind != "ok")
            .map(|((_, kind), n)| format!("{kind} {n}"))
            .collect();
        total += ops.outcomes.iter().filter(|((o, _), _)| *o == op).map(|(_, n)| n).sum::<u64>();
        let slowest = ops.slowest.get(op).map_or(String::new(), |d| format!("{:.3} s", d.as_secs_f64()));
        println!("| {op:<11} | {:>7} | {:<52} | {slowest:>10} |", of("ok"), errors.join(", "));
    }
    println!(
        "{total} commands (restart_all counted once, and each of its restarts under restart), {} unexpected",
        ops.unexpected_count
    );
    for u in &ops.unexpected {
        println!("  unexpected: {u}");
    }
}

fn list(map: &std::collections::BTreeMap<String, u64>) -> String {
    map.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}
