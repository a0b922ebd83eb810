//! Pipe throughput benchmark: bytes and lines through `cat`, with procwire
//! (a `ProcessProtocol`, and its raw pipes), tokio::process and a
//! blocking-threads floor measured in the same run, so that load on a shared
//! machine cannot fake a win.
//!
//! Workloads (every child is `cat`, stdin and stdout on pipes, stderr
//! inherited):
//! - bulk: stream S bytes (64 KiB writes) into `cat` and read them all back,
//!   counting them;
//!   - `protocol`: a [`ProcessProtocol`] under `spawn_process`, writing one
//!     refcounted 64 KiB `Bytes` again and again from `connection_made` and
//!     `resume_producing`, honouring `pause_producing`, counting in
//!     `out_received`; `protocol-1mib` and `protocol-64k` the same with
//!     `Command::pipe_capacity` set (1 MiB from the start; 64 KiB, fixed,
//!     which is procwire's default before pipes grew by themselves);
//!   - `pipes`: procwire's `Command::spawn`, `take_writer(0)` and
//!     `take_reader(1)`, a `write_all` loop and a read loop under
//!     `tokio::join!`;
//!   - `tokio`: tokio::process with piped stdin and stdout, the same join;
//!   - `floor`: std::process with piped stdio, one thread writing and one
//!     reading, 64 KiB buffers.
//! - lines: L lines of 32 bytes (31 characters and `\n`) echoed through
//!   `cat` and framed back into lines; the writer writes 1 MiB batches:
//!   - `protocol`: procwire's [`Lines`] under `spawn_process`, the 1 MiB
//!     batches written as refcounted slices of one `Bytes` (honouring
//!     `pause_producing`), the lines counted in `line_received` (a
//!     `String` each);
//!   - `stream`: procwire's line stream, `ProcessLines` over a child whose
//!     stdin is written beside it (`tokio::join!`), each line checked as
//!     UTF-8 (`to_str`, no copy);
//!   - `pipes`: procwire's raw pipes, the reader a `FramedRead` with
//!     tokio-util's `LinesCodec`;
//!   - `tokio`: tokio::process, the same `FramedRead`;
//!   - `floor`: std::process, a writer thread, `BufReader::lines` on another.
//!
//! The async contenders run on one current-thread runtime. Each workload
//! runs R rounds; within a round every contender makes one full transfer
//! (bulk) or K (lines: a million lines take about 0.1 s), taking turns
//! transfer by transfer in an order that rotates from round to round and
//! reverses every other turn. Rates are medians over rounds; a ratio is the
//! median over rounds of the two contenders' rates in the same round.
//!
//! Environment knobs: `PROCWIRE_BENCH_PIPE_MIB` (S in MiB, default 2048),
//! `PROCWIRE_BENCH_LINES` (L, default 1,000,000), `PROCWIRE_BENCH_LINES_REPS`
//! (K, default 5), `PROCWIRE_BENCH_ROUNDS` (R, default 3),
//! `PROCWIRE_BENCH_ONLY` (comma-separated contender names, e.g. `protocol`
//! or `floor`, to profile one alone with `strace -c -f`).
//!
//! Run with `cargo bench -p procwire-bench --bench pipe`.
#![forbid(unsafe_code)]

#[path = "common/mod.rs"]
mod common;

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use procwire::{
    Child, ChildFd, ExitStatus, LineEvent, LineProtocol, Lines, Options, ProcessLines, ProcessProtocol,
    Transport,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio_util::codec::{FramedRead, LinesCodec};

use common::{env_usize, median};

const CAT: &str = "/bin/cat";
/// Write and read size for the bulk workload.
const CHUNK: usize = 64 * 1024;
/// Length of one line, `\n` included.
const LINE: usize = 32;
/// Write batch for the lines workload.
const LINE_BATCH: usize = 1024 * 1024;
/// A transfer that takes longer than this has stalled.
const STALL: Duration = Duration::from_secs(120);

/// One contender of one workload: a name and a closure that makes one full
/// transfer and returns the seconds it took.
type Contender<'a> = (&'static str, Box<dyn FnMut() -> f64 + 'a>);

fn main() {
    let mib = env_usize("PROCWIRE_BENCH_PIPE_MIB", 2048);
    let lines = env_usize("PROCWIRE_BENCH_LINES", 1_000_000);
    let reps = env_usize("PROCWIRE_BENCH_LINES_REPS", 5).max(1);
    let rounds = env_usize("PROCWIRE_BENCH_ROUNDS", 3);
    let bytes = (mib * 1024 * 1024) as u64;
    println!(
        "procwire pipe bench: bulk {mib} MiB, {reps}x {lines} lines of {LINE} bytes, {rounds} rounds, \
         current-thread runtime, reaper={}",
        if cfg!(any(procwire_force_sigchld, procwire_portable)) { "SIGCHLD (forced)" } else { "pidfd" },
    );
    let rt = &tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    let bulk = measure(
        rounds,
        1,
        vec![
            ("protocol", Box::new(move || bulk_protocol(rt, bytes, None))),
            ("protocol-1mib", Box::new(move || bulk_protocol(rt, bytes, Some(1 << 20)))),
            ("protocol-64k", Box::new(move || bulk_protocol(rt, bytes, Some(64 << 10)))),
            ("pipes", Box::new(move || bulk_pipes(rt, bytes))),
            ("tokio", Box::new(move || bulk_tokio(rt, bytes))),
            ("floor", Box::new(move || bulk_floor(bytes))),
        ],
    );
    let text = &line_text(lines);
    let shared = &Bytes::copy_from_slice(text);
    let framed = measure(
        rounds,
        reps,
        vec![
            ("protocol", Box::new(move || lines_protocol(rt, shared, lines))),
            ("stream", Box::new(move || lines_stream(rt, text, lines))),
            ("pipes", Box::new(move || lines_pipes(rt, text, lines))),
            ("tokio", Box::new(move || lines_tokio(rt, text, lines))),
            ("floor", Box::new(move || lines_floor(text, lines))),
        ],
    );

    let rows = [
        Row::new(format!("bulk, {mib} MiB through cat"), "MiB/s", (1024 * 1024) as f64, bytes as f64, bulk),
        Row::new(
            format!("{lines} lines of {LINE} bytes, line-framed"),
            "lines/s",
            1.0,
            (lines * reps) as f64,
            framed,
        ),
    ];
    println!();
    print_table(&rows);
}

// ---- bulk ----------------------------------------------------------------

/// Streams `total` bytes into `cat` as refcounted slices of `source`, at
/// most `batch` bytes a write (Twisted's streaming producer, as in
/// `shared/peers/twisted_bench.py`), and counts what comes back: bytes in
/// `out_received`, or, wrapped in [`Lines`], lines in `line_received`.
#[derive(Debug)]
struct Cat {
    source: Bytes,
    batch: usize,
    total: u64,
    sent: u64,
    received: u64,
    lines: usize,
    paused: bool,
    /// The write-buffer high-water mark given to the driver.
    high: usize,
}

impl Cat {
    fn new(source: Bytes, batch: usize, total: u64, high: usize) -> Cat {
        Cat { source, batch, total, sent: 0, received: 0, lines: 0, paused: false, high }
    }

    /// Writes until paused, done, or past the high-water mark: the driver
    /// calls `pause_producing` after the callback has returned (Twisted
    /// calls it from inside `write`), so Twisted's `while not paused:
    /// write()` would queue the whole stream at once.
    fn produce(&mut self, t: &mut Transport) {
        while !self.paused && self.sent < self.total && t.buffered() <= self.high {
            let at = (self.sent % self.source.len() as u64) as usize;
            let n = (self.total - self.sent).min((self.source.len() - at).min(self.batch) as u64) as usize;
            t.write(self.source.slice(at..at + n)).expect("write to cat");
            self.sent += n as u64;
        }
        if self.sent == self.total {
            t.close_stdin();
        }
    }
}

impl ProcessProtocol for Cat {
    fn connection_made(&mut self, t: &mut Transport) {
        self.produce(t);
    }
    fn pause_producing(&mut self, _t: &mut Transport) {
        self.paused = true;
    }
    fn resume_producing(&mut self, t: &mut Transport) {
        self.paused = false;
        self.produce(t);
    }
    fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
        self.received += data.len() as u64;
    }
}

impl LineProtocol for Cat {
    fn line_received(&mut self, _t: &mut Transport, _fd: i32, line: String) {
        assert_eq!(line.len(), LINE - 1, "line length");
        self.lines += 1;
    }
}

/// `capacity`: `Command::pipe_capacity`, or the kernel's default 64 KiB.
fn bulk_protocol(rt: &Runtime, total: u64, capacity: Option<usize>) -> f64 {
    let (low, high) = (64 * 1024, 256 * 1024);
    let protocol = Cat::new(Bytes::from(vec![b'x'; CHUNK]), CHUNK, total, high);
    rt.block_on(async {
        let mut cmd = procwire::Command::new(CAT);
        cmd.stderr(ChildFd::Parent(2)).kill_on_drop(true);
        if let Some(bytes) = capacity {
            #[cfg(target_os = "linux")]
            cmd.pipe_capacity(bytes);
            #[cfg(not(target_os = "linux"))]
            panic!("pipe_capacity({bytes}) is Linux's");
        }
        let t = Instant::now();
        let handle =
            procwire::spawn_process(protocol, &mut cmd, Options::new().write_buffer_limits(low, high))
                .expect("spawn cat");
        let ended = stall_guard("protocol", handle).await.expect("drive cat");
        let secs = t.elapsed().as_secs_f64();
        assert!(ended.reason.status.success(), "cat: {}", ended.reason.status);
        assert_eq!(ended.protocol.received, total, "protocol: bytes back");
        secs
    })
}

fn bulk_pipes(rt: &Runtime, total: u64) -> f64 {
    rt.block_on(async {
        let mut cmd = procwire::Command::new(CAT);
        cmd.stderr(ChildFd::Parent(2)).kill_on_drop(true);
        let t = Instant::now();
        let mut child = cmd.spawn().expect("spawn cat");
        let stdin = child.take_writer(0).expect("stdin pipe");
        let stdout = child.take_reader(1).expect("stdout pipe");
        let received =
            stall_guard("pipes", async { tokio::join!(write_bulk(stdin, total), count(stdout)).1 }).await;
        let status = child.wait().await.expect("wait cat");
        let secs = t.elapsed().as_secs_f64();
        assert!(status.success(), "cat: {status}");
        assert_eq!(received, total, "pipes: bytes back");
        secs
    })
}

fn bulk_tokio(rt: &Runtime, total: u64) -> f64 {
    rt.block_on(async {
        let mut cmd = tokio::process::Command::new(CAT);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).kill_on_drop(true);
        let t = Instant::now();
        let mut child = cmd.spawn().expect("spawn cat");
        let stdin = child.stdin.take().expect("stdin pipe");
        let stdout = child.stdout.take().expect("stdout pipe");
        let received =
            stall_guard("tokio", async { tokio::join!(write_bulk(stdin, total), count(stdout)).1 }).await;
        let status = child.wait().await.expect("wait cat");
        let secs = t.elapsed().as_secs_f64();
        assert!(status.success(), "cat: {status}");
        assert_eq!(received, total, "tokio: bytes back");
        secs
    })
}

fn bulk_floor(total: u64) -> f64 {
    let t = Instant::now();
    let mut child = std::process::Command::new(CAT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let mut stdin = child.stdin.take().expect("stdin pipe");
    let mut stdout = child.stdout.take().expect("stdout pipe");
    let received = std::thread::scope(|s| {
        s.spawn(move || {
            let chunk = vec![b'x'; CHUNK];
            let mut left = total;
            while left > 0 {
                let n = left.min(CHUNK as u64) as usize;
                stdin.write_all(&chunk[..n]).expect("write to cat");
                left -= n as u64;
            }
        });
        let reader = s.spawn(move || {
            let mut buf = vec![0; CHUNK];
            let mut got = 0u64;
            loop {
                match stdout.read(&mut buf).expect("read from cat") {
                    0 => return got,
                    n => got += n as u64,
                }
            }
        });
        reader.join().expect("reader thread")
    });
    let status = child.wait().expect("wait cat");
    let secs = t.elapsed().as_secs_f64();
    assert!(status.success(), "cat: {status}");
    assert_eq!(received, total, "floor: bytes back");
    secs
}

/// Writes `total` bytes in 64 KiB `write_all`s, then closes the pipe.
async fn write_bulk(mut w: impl AsyncWrite + Unpin, total: u64) {
    let chunk = vec![b'x'; CHUNK];
    let mut left = total;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        w.write_all(&chunk[..n]).await.expect("write to cat");
        left -= n as u64;
    }
    w.shutdown().await.expect("close stdin");
}

/// Reads to end of file in 64 KiB reads; returns the byte count.
async fn count(mut r: impl AsyncRead + Unpin) -> u64 {
    let mut buf = vec![0; CHUNK];
    let mut got = 0u64;
    loop {
        match r.read(&mut buf).await.expect("read from cat") {
            0 => return got,
            n => got += n as u64,
        }
    }
}

// ---- lines ---------------------------------------------------------------

/// `n` lines of 31 characters and `\n`, each holding its number.
fn line_text(n: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(n * LINE);
    for i in 0..n {
        writeln!(text, "line {i:>10} {:.<15}", "").expect("format line");
    }
    debug_assert_eq!(text.len(), n * LINE);
    text
}

fn lines_protocol(rt: &Runtime, text: &Bytes, n: usize) -> f64 {
    // 1 MiB writes, as the other contenders'; the driver's default marks.
    let protocol = Cat::new(text.clone(), LINE_BATCH, text.len() as u64, 256 * 1024);
    rt.block_on(async {
        let mut cmd = procwire::Command::new(CAT);
        cmd.stderr(ChildFd::Parent(2)).kill_on_drop(true);
        let t = Instant::now();
        let lines = Lines::new(protocol, 4 * LINE);
        let handle = procwire::spawn_process(lines, &mut cmd, Options::new()).expect("spawn cat");
        let ended = stall_guard("protocol", handle).await.expect("drive cat");
        let secs = t.elapsed().as_secs_f64();
        assert!(ended.reason.status.success(), "cat: {}", ended.reason.status);
        assert_eq!(ended.protocol.into_inner().lines, n, "protocol: lines back");
        secs
    })
}

/// Spawns `cat` with procwire and writes `text` into it while `read`,
/// given the child, frames its output; `read` returns the lines it
/// counted and `cat`'s status.
fn lines_procwire<F>(rt: &Runtime, what: &str, text: &[u8], n: usize, read: impl FnOnce(Child) -> F) -> f64
where
    F: Future<Output = (usize, ExitStatus)>,
{
    rt.block_on(async {
        let mut cmd = procwire::Command::new(CAT);
        cmd.stderr(ChildFd::Parent(2)).kill_on_drop(true);
        let t = Instant::now();
        let mut child = cmd.spawn().expect("spawn cat");
        let stdin = child.take_writer(0).expect("stdin pipe");
        let (got, status) =
            stall_guard(what, async { tokio::join!(write_lines(stdin, text), read(child)).1 }).await;
        let secs = t.elapsed().as_secs_f64();
        assert!(status.success(), "cat: {status}");
        assert_eq!(got, n, "{what}: lines back");
        secs
    })
}

fn lines_stream(rt: &Runtime, text: &[u8], n: usize) -> f64 {
    lines_procwire(rt, "stream", text, n, |child| async move {
        let mut lines = ProcessLines::new(child).max_length(4 * LINE);
        let (mut got, mut status) = (0, None);
        while let Some(event) = lines.next_line().await.expect("read from cat") {
            match event {
                LineEvent::Line(line) => {
                    assert_eq!(line.to_str().expect("UTF-8").len(), LINE - 1, "line length");
                    got += 1;
                }
                LineEvent::Exited(exit) => status = Some(exit),
                other => panic!("stream: {other:?}"),
            }
        }
        (got, status.expect("the status last"))
    })
}

fn lines_pipes(rt: &Runtime, text: &[u8], n: usize) -> f64 {
    lines_procwire(rt, "pipes", text, n, |mut child| async move {
        let got = frame(child.take_reader(1).expect("stdout pipe")).await;
        (got, child.wait().await.expect("wait cat"))
    })
}

fn lines_tokio(rt: &Runtime, text: &[u8], n: usize) -> f64 {
    rt.block_on(async {
        let mut cmd = tokio::process::Command::new(CAT);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).kill_on_drop(true);
        let t = Instant::now();
        let mut child = cmd.spawn().expect("spawn cat");
        let stdin = child.stdin.take().expect("stdin pipe");
        let stdout = child.stdout.take().expect("stdout pipe");
        let got =
            stall_guard("tokio", async { tokio::join!(write_lines(stdin, text), frame(stdout)).1 }).await;
        let status = child.wait().await.expect("wait cat");
        let secs = t.elapsed().as_secs_f64();
        assert!(status.success(), "cat: {status}");
        assert_eq!(got, n, "tokio: lines back");
        secs
    })
}

fn lines_floor(text: &[u8], n: usize) -> f64 {
    let t = Instant::now();
    let mut child = std::process::Command::new(CAT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let mut stdin = child.stdin.take().expect("stdin pipe");
    let stdout = child.stdout.take().expect("stdout pipe");
    let got = std::thread::scope(|s| {
        s.spawn(move || {
            for batch in text.chunks(LINE_BATCH) {
                stdin.write_all(batch).expect("write to cat");
            }
        });
        let reader = s.spawn(move || {
            let mut got = 0;
            for line in BufReader::with_capacity(CHUNK, stdout).lines() {
                assert_eq!(line.expect("read from cat").len(), LINE - 1, "line length");
                got += 1;
            }
            got
        });
        reader.join().expect("reader thread")
    });
    let status = child.wait().expect("wait cat");
    let secs = t.elapsed().as_secs_f64();
    assert!(status.success(), "cat: {status}");
    assert_eq!(got, n, "floor: lines back");
    secs
}

/// Writes `text` in 1 MiB batches, then closes the pipe.
async fn write_lines(mut w: impl AsyncWrite + Unpin, text: &[u8]) {
    for batch in text.chunks(LINE_BATCH) {
        w.write_all(batch).await.expect("write to cat");
    }
    w.shutdown().await.expect("close stdin");
}

/// Frames `r` into lines with `LinesCodec` (64 KiB read buffer) and counts
/// them, checking each one's length.
async fn frame(r: impl AsyncRead + Unpin) -> usize {
    let mut lines = FramedRead::with_capacity(r, LinesCodec::new_with_max_length(4 * LINE), CHUNK);
    let mut got = 0;
    while let Some(line) = lines.next().await {
        assert_eq!(line.expect("read from cat").len(), LINE - 1, "line length");
        got += 1;
    }
    got
}

/// Awaits `fut`, panicking if it takes longer than [`STALL`].
async fn stall_guard<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STALL, fut).await.unwrap_or_else(|_| panic!("{what}: transfer stalled"))
}

// ---- harness -------------------------------------------------------------

/// One contender's seconds per transfer, one per round.
#[derive(Debug, Clone)]
struct Series {
    name: &'static str,
    secs: Vec<f64>,
}

/// Runs `rounds` rounds; in each, every contender makes `reps` transfers,
/// the contenders taking turns transfer by transfer (A B C, then C B A, ...;
/// the first one rotating from round to round), so that neither position
/// nor a steady drift favours anyone. Returns each contender's seconds per
/// round (all its transfers in that round).
fn measure(rounds: usize, reps: usize, mut contenders: Vec<Contender<'_>>) -> Vec<Series> {
    let only = std::env::var("PROCWIRE_BENCH_ONLY").ok();
    contenders.retain(|(name, _)| only.as_deref().is_none_or(|o| o.split(',').any(|w| w == *name)));
    let mut series: Vec<Series> =
        contenders.iter().map(|(name, _)| Series { name, secs: Vec::with_capacity(rounds) }).collect();
    let n = contenders.len();
    for round in 0..rounds {
        let mut secs = vec![0.0; n];
        for rep in 0..reps {
            for k in 0..n {
                let k = if (round * reps + rep) % 2 == 1 { n - 1 - k } else { k };
                let i = (round + k) % n;
                secs[i] += (contenders[i].1)();
            }
        }
        for (series, secs) in series.iter_mut().zip(secs) {
            series.secs.push(secs);
        }
    }
    series
}

/// One line of the final table: rates in `unit` (items of `scale`).
#[derive(Debug)]
struct Row {
    workload: String,
    unit: &'static str,
    /// Rates per round, per contender.
    series: Vec<(&'static str, Vec<f64>)>,
}

impl Row {
    /// Turns each transfer of `amount` units of `scale` into rates, and
    /// prints the rounds and medians.
    fn new(workload: String, unit: &'static str, scale: f64, amount: f64, series: Vec<Series>) -> Row {
        let series: Vec<(&'static str, Vec<f64>)> = series
            .into_iter()
            .map(|s| (s.name, s.secs.iter().map(|t| amount / scale / t).collect()))
            .collect();
        println!("\n{workload}:");
        for (name, rates) in &series {
            let rounds: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
            println!(
                "  {name:<9} median {:>10.0} {unit}  rounds [{}]",
                median(rates.clone()),
                rounds.join(" ")
            );
        }
        let row = Row { workload, unit, series };
        for (a, b) in RATIOS {
            if let Some(r) = row.ratio(a, b) {
                println!("  {a}/{b:<9} {r:.2}x");
            }
        }
        row
    }

    fn rates(&self, name: &str) -> Option<&Vec<f64>> {
        self.series.iter().find(|(n, _)| *n == name).map(|(_, r)| r)
    }

    fn median(&self, name: &str) -> Option<f64> {
        self.rates(name).map(|r| median(r.clone()))
    }

    /// The median over rounds of `a`'s rate over `b`'s in the same round.
    fn ratio(&self, a: &str, b: &str) -> Option<f64> {
        let (a, b) = (self.rates(a)?, self.rates(b)?);
        Some(median(a.iter().zip(b).map(|(a, b)| a / b).collect()))
    }
}

/// The ratios reported, as (numerator, denominator) contender names.
const RATIOS: [(&str, &str); 6] = [
    ("protocol", "floor"),
    ("protocol", "tokio"),
    ("protocol", "pipes"),
    ("pipes", "floor"),
    ("pipes", "tokio"),
    ("tokio", "floor"),
];

/// A contender printed below the table: its name, what it is, and the
/// contenders it is compared with (name, words).
type Extra = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

fn print_table(rows: &[Row]) {
    println!(
        "| workload | procwire protocol | procwire pipes | tokio::process | blocking threads \
         | protocol/floor | protocol/tokio | protocol/pipes | pipes/floor | pipes/tokio | tokio/floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let rate =
            |name| row.median(name).map_or_else(|| "-".into(), |r| format!("{} {}", thousands(r), row.unit));
        let ratio = |(a, b)| row.ratio(a, b).map_or_else(|| "-".into(), |r| format!("{r:.2}x"));
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.workload,
            rate("protocol"),
            rate("pipes"),
            rate("tokio"),
            rate("floor"),
            RATIOS.map(ratio).join(" | "),
        );
    }
    // The contenders outside the table, against the ones it has.
    let extras: [Extra; 3] = [
        (
            "stream",
            "procwire spawn_lines stream",
            &[("floor", "the floor"), ("pipes", "procwire pipes + LinesCodec"), ("tokio", "tokio")],
        ),
        (
            "protocol-1mib",
            "procwire protocol with pipe_capacity(1 MiB)",
            &[("floor", "the floor"), ("tokio", "tokio")],
        ),
        (
            "protocol-64k",
            "procwire protocol with pipe_capacity(64 KiB), fixed pipes as before issue 20",
            &[("floor", "the floor"), ("tokio", "tokio"), ("protocol", "the protocol with growing pipes")],
        ),
    ];
    for row in rows {
        for (name, label, against) in extras {
            let Some(rate) = row.median(name) else { continue };
            let ratios: Vec<String> = against
                .iter()
                .map(|(b, words)| {
                    row.ratio(name, b).map_or_else(|| format!("- {words}"), |r| format!("{r:.2}x {words}"))
                })
                .collect();
            println!("\n{}: {label}: {} {}, {}", row.workload, thousands(rate), row.unit, ratios.join(", "));
        }
    }
    println!("\nrates: median over rounds; ratios: median over rounds of the same-round ratio.");
}

/// `r` rounded, with thousands separators.
fn thousands(r: f64) -> String {
    let digits = format!("{:.0}", r);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
