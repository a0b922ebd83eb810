//! The paired-rounds harness shared by the `spawn` and `utils` benches:
//! contenders take turns slice by slice within each round, rates are
//! medians over rounds, and ratios are medians of same-round ratios, so
//! that load on a shared machine hits every contender alike. Included with
//! `#[path = "common/rounds.rs"] mod rounds;` beside `mod common;`.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

use crate::common::median;

/// One contender of one workload: a name and a closure that runs the given
/// number of items (children) and returns the seconds it took.
pub(crate) type Contender<'a> = (&'static str, Box<dyn FnMut(usize) -> f64 + 'a>);

/// `procwire-ct` -> `procwire`: the contender a variant belongs to.
pub(crate) fn base_name(name: &str) -> &str {
    name.split('-').next().unwrap_or(name)
}

/// One contender's rates (items per second), one per round.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) name: &'static str,
    pub(crate) rates: Vec<f64>,
}

impl Series {
    pub(crate) fn median(&self) -> f64 {
        median(self.rates.clone())
    }
}

/// Runs `rounds` rounds of `total` items for every contender. A round is
/// cut into slices of `slice` items, and the contenders take turns slice by
/// slice (A B C D, then D C B A, ...; the first one rotating from round to
/// round), so a burst of load from elsewhere hits all of them within the
/// same round. Returns each contender's rate per round.
pub(crate) fn measure(
    rounds: usize,
    total: usize,
    slice: usize,
    mut contenders: Vec<Contender<'_>>,
) -> Vec<Series> {
    let only = std::env::var("PROCWIRE_BENCH_ONLY").ok();
    let wanted =
        |name: &str| only.as_deref().is_none_or(|o| o.split(',').any(|w| w == name || w == base_name(name)));
    contenders.retain(|(name, _)| wanted(name));
    let mut series: Vec<Series> =
        contenders.iter().map(|(name, _)| Series { name, rates: Vec::with_capacity(rounds) }).collect();
    let n = contenders.len();
    let slices = total.div_ceil(slice);
    for round in 0..rounds {
        let mut secs = vec![0.0; n];
        for s in 0..slices {
            let count = slice.min(total - s * slice);
            for k in 0..n {
                // Rotated, and reversed every other slice, so that neither
                // position nor a steady drift favours anyone.
                let k = if s % 2 == 1 { n - 1 - k } else { k };
                let i = (round + k) % n;
                secs[i] += (contenders[i].1)(count);
            }
        }
        for (series, secs) in series.iter_mut().zip(secs) {
            series.rates.push(total as f64 / secs);
        }
    }
    series
}

/// One line of the final table.
#[derive(Debug)]
pub(crate) struct Row {
    workload: String,
    series: Vec<Series>,
}

impl Row {
    /// Prints the rounds and medians of one workload.
    pub(crate) fn new(workload: String, per_round: String, series: Vec<Series>) -> Row {
        println!("\n{workload} ({per_round}):");
        for s in &series {
            let rounds: Vec<String> = s.rates.iter().map(|r| format!("{r:.0}")).collect();
            println!("  {:<12} median {:>7.0}/s  rounds [{}]", s.name, s.median(), rounds.join(" "));
        }
        let row = Row { workload, series };
        for peer in ["raw", "tokio", "std"] {
            println!("  procwire/{peer:<6} {}", fmt_ratio(row.ratio(peer)));
        }
        row
    }

    fn get(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }

    fn median(&self, name: &str) -> Option<f64> {
        self.get(name).map(Series::median)
    }

    /// The median over rounds of procwire's rate divided by `peer`'s in the
    /// same round: the paired ratio, which cancels load that changes from
    /// round to round.
    fn ratio(&self, peer: &str) -> Option<f64> {
        let (pw, other) = (self.get("procwire")?, self.get(peer)?);
        Some(median(pw.rates.iter().zip(&other.rates).map(|(a, b)| a / b).collect()))
    }
}

fn fmt_rate(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{r:.0}/s"))
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{r:.2}x"))
}

pub(crate) fn print_table(rows: &[Row]) {
    println!(
        "| workload | procwire | tokio::process | std::process | raw posix_spawn \
         | procwire/raw | procwire/tokio | procwire/std |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            row.workload,
            fmt_rate(row.median("procwire")),
            fmt_rate(row.median("tokio")),
            fmt_rate(row.median("std")),
            fmt_rate(row.median("raw")),
            fmt_ratio(row.ratio("raw")),
            fmt_ratio(row.ratio("tokio")),
            fmt_ratio(row.ratio("std")),
        );
    }
    println!("\nrates: median over rounds; ratios: median over rounds of the same-round ratio.");
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (each child in flight
/// holds a pidfd in procwire and tokio, and its pipes) and returns the new
/// soft limit.
pub(crate) fn raise_nofile() -> u64 {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    }
    // (`rlim_t` is signed on FreeBSD.)
    #[allow(clippy::useless_conversion)]
    u64::try_from(hard.max(soft)).unwrap_or(u64::MAX)
}
