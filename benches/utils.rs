//! `get_process_output` benchmark (issue #5): procwire-utils against
//! tokio::process's `Command::output()`, std::process and a raw
//! `posix_spawn` floor (nix's safe wrapper, default attributes), measured in
//! the same run so that load on a shared machine cannot fake a win.
//!
//! Every child is `echo hi`, stdin on `/dev/null`, stdout and stderr on
//! pipes read to end of file; every result is checked to be `hi\n` on
//! stdout, nothing on stderr, exit code 0. Workloads:
//! - C children at once: procwire joins C `get_process_output("echo",
//!   ["hi"])` futures, tokio C `Command::new("echo").arg("hi").output()`
//!   futures, with `join_all` in one task of a 2-worker multi-thread
//!   runtime, with `join_all` on a current-thread runtime, and as one
//!   spawned task each on the multi-thread runtime; std spawns all C
//!   (`Stdio::null()` stdin, piped stdout and stderr), then takes each one's
//!   `wait_with_output()` in turn, on one thread; the floor `posix_spawn`s
//!   all C, then reads each one's stdout and stderr to end of file and reaps
//!   it, blocking, on one thread;
//! - sequential: one child at a time, N per round (the async contenders on
//!   the current-thread runtime, std's `output()`, the floor).
//!
//! procwire, tokio and std build a new command for every child and look
//! `echo` up in `PATH` (procwire in the parent, std and tokio with
//! `posix_spawnp`); the floor resolves it to an absolute path once, at
//! start, calls `posix_spawn` (not `posix_spawnp`), passes an environment
//! built once, and opens `/dev/null` once per batch.
//!
//! Each workload runs R rounds. Within a round the contenders take turns
//! slice by slice (slices of 50 sequential children; two batches of C for
//! the at-once workload), in an order that rotates and reverses, so load
//! from elsewhere hits all of them alike. Rates are medians over rounds;
//! ratios are medians over rounds of procwire's rate over the peer's rate
//! in the same round.
//!
//! Environment knobs: `PROCWIRE_BENCH_C` (children at once, default 2000;
//! 0 skips the workload), `PROCWIRE_BENCH_N` (sequential children per round,
//! default 1000; 0 skips it), `PROCWIRE_BENCH_ROUNDS` (R, default 7),
//! `PROCWIRE_BENCH_SLICE` (default 50), `PROCWIRE_BENCH_ONLY`
//! (comma-separated contender names, e.g. `procwire`, `tokio-ct` or `raw`,
//! to profile some alone with `strace -c -f`; a bare name selects its
//! `-ct` and `-tasks` variants too).
//!
//! Run with `cargo bench -p procwire-bench --bench utils`.
#![forbid(unsafe_code)]

#[path = "common/mod.rs"]
mod common;
#[path = "common/rounds.rs"]
mod rounds;

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use nix::spawn::{posix_spawn, PosixSpawnAttr, PosixSpawnFileActions};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use tokio::runtime::Runtime;

use common::env_usize;
use rounds::{base_name, measure, print_table, raise_nofile, Row, Series};

const ECHO: &str = "echo";
const HI: &[u8] = b"hi\n";

fn main() {
    let c = env_usize("PROCWIRE_BENCH_C", 2000);
    let n = env_usize("PROCWIRE_BENCH_N", 1000);
    let rounds = env_usize("PROCWIRE_BENCH_ROUNDS", 7);
    let slice = env_usize("PROCWIRE_BENCH_SLICE", 50).clamp(1, n.max(1));
    let nofile = raise_nofile();
    let raw = &Raw::new();
    println!(
        "procwire utils bench: `echo hi` with output collected; C={c} at once, N={n} sequential \
         (in slices of {slice}), {rounds} rounds, RLIMIT_NOFILE={nofile}, reaper={}, \
         floor execs {:?}, PATH has {} entries",
        if cfg!(any(procwire_force_sigchld, procwire_portable)) { "SIGCHLD (forced)" } else { "pidfd" },
        raw.program,
        std::env::var_os("PATH").map_or(0, |p| p.as_bytes().split(|&b| b == b':').count()),
    );
    let ct = &tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mt =
        &tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");

    let mut rows = Vec::new();
    if c > 0 {
        // Two batches of C per round (A B C .. then .. C B A), so that each
        // contender's round straddles the others'.
        let at_once = measure(
            rounds,
            2 * c,
            c,
            vec![
                ("procwire", Box::new(|k| many_procwire(mt, k, Mode::InTask))),
                ("tokio", Box::new(|k| many_tokio(mt, k, Mode::InTask))),
                ("procwire-ct", Box::new(|k| many_procwire(ct, k, Mode::BlockOn))),
                ("tokio-ct", Box::new(|k| many_tokio(ct, k, Mode::BlockOn))),
                ("procwire-tasks", Box::new(|k| many_procwire(mt, k, Mode::TaskEach))),
                ("tokio-tasks", Box::new(|k| many_tokio(mt, k, Mode::TaskEach))),
                ("std", Box::new(many_std)),
                ("raw", Box::new(|k| many_raw(raw, k))),
            ],
        );
        let pick = |suffix: &str| -> Vec<Series> {
            let names = [format!("procwire{suffix}"), format!("tokio{suffix}"), "std".into(), "raw".into()];
            names
                .iter()
                .filter_map(|want| at_once.iter().find(|s| s.name == want))
                .map(|s| Series { name: base_name(s.name), rates: s.rates.clone() })
                .collect()
        };
        let per_round = format!("2 batches of {c} per round");
        rows.push(Row::new(
            format!("{c} at once, multi_thread (2 workers), join_all"),
            per_round.clone(),
            pick(""),
        ));
        rows.push(Row::new(format!("{c} at once, current_thread, join_all"), per_round.clone(), pick("-ct")));
        rows.push(Row::new(
            format!("{c} at once, multi_thread (2 workers), a task each"),
            per_round,
            pick("-tasks"),
        ));
    }

    if n > 0 {
        let series = measure(
            rounds,
            n,
            slice,
            vec![
                ("procwire", Box::new(|k| seq_procwire(ct, k))),
                ("tokio", Box::new(|k| seq_tokio(ct, k))),
                ("std", Box::new(seq_std)),
                ("raw", Box::new(|k| seq_raw(raw, k))),
            ],
        );
        rows.push(Row::new("sequential, one at a time".into(), format!("{n} per round"), series));
    }

    println!();
    print_table(&rows);
}

/// How the async contenders of the at-once workload are driven.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `join_all` inside one task spawned on the runtime.
    InTask,
    /// `join_all` in `block_on` (the current-thread runtime).
    BlockOn,
    /// One spawned task per child, awaited in order from `block_on`.
    TaskEach,
}

/// Runs C copies of `one` at once in the given mode; returns the seconds
/// from the first spawn to the last result, and the results.
fn many<F>(rt: &Runtime, c: usize, mode: Mode, one: fn() -> F) -> (f64, Vec<F::Output>)
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    match mode {
        Mode::InTask | Mode::BlockOn => {
            let round = async move {
                let t = Instant::now();
                let outs = futures::future::join_all((0..c).map(|_| one())).await;
                (t.elapsed().as_secs_f64(), outs)
            };
            if let Mode::InTask = mode {
                rt.block_on(rt.spawn(round)).expect("task")
            } else {
                rt.block_on(round)
            }
        }
        Mode::TaskEach => rt.block_on(async move {
            let t = Instant::now();
            let tasks: Vec<_> = (0..c).map(|_| tokio::spawn(one())).collect();
            let mut outs = Vec::with_capacity(c);
            for task in tasks {
                outs.push(task.await.expect("task"));
            }
            (t.elapsed().as_secs_f64(), outs)
        }),
    }
}

// ---- procwire -------------------------------------------------------------

fn procwire_one() -> impl std::future::Future<Output = Result<Vec<u8>, procwire::RunError>> + Send + 'static {
    procwire::get_process_output(ECHO, ["hi"])
}

fn check_procwire(out: Result<Vec<u8>, procwire::RunError>) {
    assert_eq!(out.expect("procwire get_process_output"), HI);
}

fn many_procwire(rt: &Runtime, c: usize, mode: Mode) -> f64 {
    let (secs, outs) = many(rt, c, mode, procwire_one);
    outs.into_iter().for_each(check_procwire);
    secs
}

fn seq_procwire(rt: &Runtime, n: usize) -> f64 {
    rt.block_on(async {
        let t = Instant::now();
        for _ in 0..n {
            check_procwire(procwire_one().await);
        }
        t.elapsed().as_secs_f64()
    })
}

// ---- tokio::process and std::process ---------------------------------------

/// `output()` makes stdin `/dev/null` and pipes stdout and stderr.
async fn tokio_one() -> std::io::Result<std::process::Output> {
    tokio::process::Command::new(ECHO).arg("hi").output().await
}

fn check_output(out: std::io::Result<std::process::Output>, who: &str) {
    let out = out.unwrap_or_else(|e| panic!("{who} output: {e}"));
    assert!(out.status.success(), "{who}: {:?}", out.status);
    assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (HI, &b""[..]), "{who}");
}

fn many_tokio(rt: &Runtime, c: usize, mode: Mode) -> f64 {
    let (secs, outs) = many(rt, c, mode, tokio_one);
    outs.into_iter().for_each(|out| check_output(out, "tokio"));
    secs
}

fn seq_tokio(rt: &Runtime, n: usize) -> f64 {
    rt.block_on(async {
        let t = Instant::now();
        for _ in 0..n {
            check_output(tokio_one().await, "tokio");
        }
        t.elapsed().as_secs_f64()
    })
}

/// What `output()` sets, for std's spawn-all-then-collect.
fn std_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(ECHO);
    cmd.arg("hi").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn many_std(c: usize) -> f64 {
    let t = Instant::now();
    let children: Vec<std::process::Child> =
        (0..c).map(|_| std_command().spawn().expect("std spawn")).collect();
    let outs: Vec<_> = children.into_iter().map(std::process::Child::wait_with_output).collect();
    let secs = t.elapsed().as_secs_f64();
    outs.into_iter().for_each(|out| check_output(out, "std"));
    secs
}

fn seq_std(n: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        check_output(std::process::Command::new(ECHO).arg("hi").output(), "std");
    }
    t.elapsed().as_secs_f64()
}

// ---- the raw floor ---------------------------------------------------------

/// What the floor builds once: `echo`'s absolute path, argv and the
/// parent's environment (procwire, tokio and std pass `environ` through
/// without copying it).
#[derive(Debug)]
struct Raw {
    program: CString,
    argv: [CString; 2],
    env: Vec<CString>,
}

/// A child of the floor in flight: its pid and the parent's ends of its
/// stdout and stderr pipes.
#[derive(Debug)]
struct RawChild {
    pid: Pid,
    stdout: File,
    stderr: File,
}

impl Raw {
    fn new() -> Raw {
        let program = which(ECHO).unwrap_or_else(|| panic!("{ECHO} not found in PATH"));
        let program = CString::new(program.into_os_string().into_vec()).expect("no NUL in PATH");
        let env = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        Raw { program, argv: [c"echo".into(), c"hi".into()], env }
    }

    /// `posix_spawn` with default attributes: `null` on fd 0, a new pipe
    /// on fd 1 and on fd 2 (the child's ends are `dup2`ed, which clears
    /// close-on-exec on the copies, and closed in the parent at once).
    fn spawn(&self, null: &OwnedFd) -> RawChild {
        let (out_r, out_w) = common::pipe_cloexec();
        let (err_r, err_w) = common::pipe_cloexec();
        let mut fa = PosixSpawnFileActions::init().expect("file actions");
        fa.add_dup2(null.as_raw_fd(), 0).expect("dup2");
        fa.add_dup2(out_w.as_raw_fd(), 1).expect("dup2");
        fa.add_dup2(err_w.as_raw_fd(), 2).expect("dup2");
        let attr = PosixSpawnAttr::init().expect("spawn attr");
        let pid =
            posix_spawn(self.program.as_c_str(), &fa, &attr, &self.argv, &self.env).expect("posix_spawn");
        drop((out_w, err_w));
        RawChild { pid, stdout: File::from(out_r), stderr: File::from(err_r) }
    }
}

impl RawChild {
    /// Reads stdout, then stderr, to end of file, reaps, and checks.
    fn finish(mut self) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        self.stdout.read_to_end(&mut out).expect("read stdout");
        self.stderr.read_to_end(&mut err).expect("read stderr");
        assert_eq!(waitpid(self.pid, None).expect("waitpid"), WaitStatus::Exited(self.pid, 0));
        assert_eq!((out.as_slice(), err.as_slice()), (HI, &b""[..]), "raw");
    }
}

fn open_null() -> OwnedFd {
    OwnedFd::from(File::open("/dev/null").expect("open /dev/null"))
}

fn many_raw(raw: &Raw, c: usize) -> f64 {
    let t = Instant::now();
    let null = open_null();
    let children: Vec<RawChild> = (0..c).map(|_| raw.spawn(&null)).collect();
    children.into_iter().for_each(RawChild::finish);
    t.elapsed().as_secs_f64()
}

fn seq_raw(raw: &Raw, n: usize) -> f64 {
    let t = Instant::now();
    let null = open_null();
    for _ in 0..n {
        raw.spawn(&null).finish();
    }
    t.elapsed().as_secs_f64()
}

/// The first regular, executable `name` in `PATH`, as `execvp` finds it.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    path.as_bytes()
        .split(|&b| b == b':')
        .map(|dir| PathBuf::from(OsStr::from_bytes(if dir.is_empty() { b"." } else { dir })).join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}
