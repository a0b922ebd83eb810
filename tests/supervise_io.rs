//! procwire-supervisor's actor with real children: lines, lagging
//! consumers, shutdown and dropped handles leaving nothing behind, idle
//! cost. Margins are generous: the machine is shared. The measurements
//! (restarts and log capture against their references, idle cost against
//! plain children) are `benches/supervise.rs`.

use std::time::Duration;

use procwire::{Command, StopPolicy};
use procwire_supervisor::{
    Backoff, Cause, LogLine, ProgramSpec, RestartPolicy, RestartSpec, State, Supervisor,
};
use procwire_tests::{children, guard, in_own_process, open_fds, pw_child, until_dead, zombie_children};
use tokio::sync::broadcast::error::RecvError;

#[path = "supervise_common.rs"]
mod common;

use common::*;

#[tokio::test]
async fn lines_come_with_name_and_fd_long_ones_in_pieces() {
    let (sup, _task) = Supervisor::new();
    let mut logs = sup.logs().await.unwrap();
    let script = "head -c 102400 /dev/zero | tr '\\0' a; echo; echo after; echo oops >&2; printf tail";
    let mut program = ProgramSpec::new("talker", sh(script));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    program.restart(restart);
    sup.add(program).await.unwrap();
    let mut out: Vec<LogLine> = Vec::new();
    let mut err: Vec<LogLine> = Vec::new();
    while out.len() < 9 || err.is_empty() {
        let line = guard(20, "lines", logs.recv()).await.unwrap();
        assert_eq!(&*line.program, "talker");
        assert_eq!(line.incarnation, 1);
        match line.fd {
            1 => out.push(line),
            2 => err.push(line),
            fd => panic!("fd {fd}"),
        }
    }
    let pieces: Vec<(usize, bool)> =
        out[..7].iter().map(|l| (l.line.bytes.len(), l.line.continued)).collect();
    assert_eq!(
        pieces,
        [
            (16384, true),
            (16384, true),
            (16384, true),
            (16384, true),
            (16384, true),
            (16384, true),
            (4096, false)
        ]
    );
    assert_eq!(&out[7].line.bytes[..], b"after");
    assert_eq!(&out[8].line.bytes[..], b"tail");
    assert_eq!(&err[0].line.bytes[..], b"oops");
    // No invented empty line after the end.
    let more = tokio::time::timeout(ms(300), logs.recv()).await;
    assert!(more.is_err(), "{more:?}");
    sup.shutdown().await.unwrap();
}

#[test]
fn shutdown_leaves_no_child_no_zombie_no_fd() {
    in_own_process("shutdown_leaves_no_child_no_zombie_no_fd", || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let baseline = open_fds();
            let (sup, task) = Supervisor::new();
            for i in 0..3 {
                sup.add(ProgramSpec::new(format!("sleep{i}"), Command::new("sleep").arg("100").clone()))
                    .await
                    .unwrap();
            }
            sup.add(spec("crash", sh("exit 1"), Backoff::none())).await.unwrap();
            let mut stubborn = ProgramSpec::new(
                "stubborn",
                Command::new(pw_child!()).args(["trap:15", "sleep-ms:100000"]).clone(),
            );
            stubborn.stop(StopPolicy::new().with_grace(ms(200)));
            sup.add(stubborn).await.unwrap();
            tokio::time::sleep(ms(300)).await;
            let report = guard(20, "shutdown", sup.shutdown()).await.unwrap();
            assert!(report.stopped.len() >= 4, "{report:?}");
            assert_eq!(report.forced().collect::<Vec<_>>(), ["stubborn"]);
            assert!(zombie_children().is_empty(), "{:?}", zombie_children());
            assert!(children().is_empty(), "{:?}", children());
            assert_eq!(open_fds(), baseline);
            assert!(matches!(sup.start("sleep0").await, Err(procwire_supervisor::Error::ShutDown)));
            guard(5, "the task", task).await.unwrap().unwrap();
        });
    });
}

#[tokio::test]
async fn dropping_every_handle_shuts_down_in_the_background() {
    let (sup, task) = Supervisor::new();
    let status =
        sup.add(ProgramSpec::new("orphan?", Command::new("sleep").arg("100").clone())).await.unwrap();
    let pid = status.pid.unwrap();
    let clone = sup.clone();
    drop(sup);
    drop(clone);
    guard(20, "the task", task).await.unwrap().unwrap();
    until_dead(pid, "the sleeper").await;
}

/// A runtime torn down without `shutdown()` drops the incarnation's task:
/// in group scope every member of the group is killed, not only the
/// leader.
#[test]
fn a_runtime_torn_down_leaves_no_member_of_a_group_alive() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let members = rt.block_on(async {
        let (sup, _task) = Supervisor::new();
        let mut program = ProgramSpec::new("group", sh("sleep 100 & sleep 100 & wait"));
        program.stop(StopPolicy::new().with_scope(procwire::StopScope::Group));
        let leader = sup.add(program).await.unwrap().pid.unwrap();
        guard(10, "three members", async {
            loop {
                let members = procwire_tests::group_members(leader);
                if members.len() == 3 {
                    break members;
                }
                tokio::time::sleep(ms(10)).await;
            }
        })
        .await
    });
    drop(rt);
    let check = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    check.block_on(async {
        for pid in members {
            until_dead(pid, "a member of the group").await;
        }
    });
}

#[tokio::test]
async fn a_consumer_that_never_reads_lags_and_the_child_never_blocks() {
    let (sup, _task) = Supervisor::with_capacity(64, 16);
    let mut logs = sup.logs().await.unwrap();
    let mut events = sup.events().await.unwrap();
    let mut program = ProgramSpec::new("chatty", sh("seq 1 200000"));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    program.restart(restart);
    sup.add(program).await.unwrap();
    let exited = next(&mut events, "chatty", |e| e.to == State::Exited).await;
    assert!(matches!(exited.cause, Cause::Exited { status, .. } if status.code() == Some(0)));
    // As a Stream: told how many it missed, then the oldest line kept.
    use futures::StreamExt;
    match logs.next().await {
        Some(Err(procwire_supervisor::Lagged(n))) => assert!(n > 1000, "{n}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(logs.next().await, Some(Ok(_))));
    sup.shutdown().await.unwrap();
}

/// The sink and a stream subscriber reading as the lines come (at the
/// default capacity) both get every line, in order, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_lines_reach_the_sink_and_the_stream_in_order_exactly_once() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut logs = sup.logs().await.unwrap();
    let (seen, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let script = "awk 'BEGIN { for (i = 0; i < 1000000; i++) printf \"%031d\\n\", i }'";
    let mut program = ProgramSpec::new("million", sh(script));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    program.restart(restart);
    let (s, b) = (seen.clone(), bad.clone());
    program.sink(move |l| {
        let n = s.fetch_add(1, Ordering::Relaxed);
        if !is_line(l, n) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    });
    // The subscriber, on its own task, checks each line as it comes.
    let reader = tokio::spawn(async move {
        use futures::StreamExt;
        let (mut n, mut bad, mut lagged) = (0u64, 0u64, 0u64);
        while let Some(item) = logs.next().await {
            match item {
                Ok(l) if l.program.as_ref() == "million" => {
                    bad += u64::from(!is_line(&l, n));
                    n += 1;
                    if n == 1_000_000 {
                        break;
                    }
                }
                Ok(_) => {}
                Err(procwire_supervisor::Lagged(k)) => lagged += k,
            }
        }
        (n, bad, lagged)
    });
    sup.add(program).await.unwrap();
    next(&mut events, "million", |e| e.to == State::Exited).await;
    let stream = guard(60, "a million lines on the stream", reader).await.unwrap();
    assert_eq!(stream, (1_000_000, 0, 0), "lines, wrong ones, missed");
    guard(60, "a million lines in the sink", async {
        while seen.load(Ordering::Relaxed) < 1_000_000 {
            tokio::time::sleep(ms(20)).await;
        }
    })
    .await;
    tokio::time::sleep(ms(100)).await;
    assert_eq!((seen.load(Ordering::Relaxed), bad.load(Ordering::Relaxed)), (1_000_000, 0));
    sup.shutdown().await.unwrap();
}

/// Line `n` of the million: fd 1, 31 digits spelling `n`.
fn is_line(l: &procwire_supervisor::LogLine, n: u64) -> bool {
    l.fd == 1
        && l.line.bytes.len() == 31
        && std::str::from_utf8(&l.line.bytes).ok().and_then(|t| t.parse::<u64>().ok()) == Some(n)
}

#[test]
fn crash_loops_then_shutdown_leave_nothing_behind() {
    in_own_process("crash_loops_then_shutdown_leave_nothing_behind", || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let baseline = open_fds();
            let (sup, task) = Supervisor::new();
            let mut events = sup.events().await.unwrap();
            procwire_tests::raise_nofile();
            for i in 0..200 {
                sup.add(spec(&format!("loop{i}"), Command::new("true"), Backoff::none())).await.unwrap();
            }
            // Crash-looping with zero delay for 5 s.
            tokio::time::sleep(Duration::from_secs(5)).await;
            let report = guard(30, "shutdown", sup.shutdown()).await.unwrap();
            assert_eq!(report.forced().count(), 0);
            let (mut spawns, mut missed) = (0, 0);
            loop {
                // The task has ended: what was kept, then the end.
                match events.recv().await {
                    Ok(e) => spawns += u64::from(e.to == State::Running),
                    Err(RecvError::Lagged(n)) => missed += n,
                    Err(RecvError::Closed) => break,
                }
            }
            // Three events a restart (Starting, Running, Backoff): many restarts.
            assert!(spawns + missed / 3 > 400, "{spawns} seen, {missed} missed");
            let last = sup.statuses().await;
            assert!(matches!(last, Err(procwire_supervisor::Error::ShutDown)), "{last:?}");
            assert!(zombie_children().is_empty(), "{:?}", zombie_children());
            assert!(children().is_empty(), "{:?}", children());
            assert_eq!(open_fds(), baseline);
            guard(5, "the task", task).await.unwrap().unwrap();
        });
    });
}

#[test]
fn idle_programs_cost_no_cpu_and_little_memory() {
    in_own_process("idle_programs_cost_no_cpu_and_little_memory", || {
        procwire_tests::raise_nofile();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let (sup, _task) = Supervisor::new();
            // Warm up (the runtime, the reaper, the allocator), then count.
            sup.add(ProgramSpec::new("warm", Command::new("sleep").arg("1000").clone())).await.unwrap();
            let rss_before = rss();
            for i in 0..1000 {
                let program = ProgramSpec::new(format!("idle{i}"), Command::new("sleep").arg("1000").clone());
                assert_eq!(sup.add(program).await.unwrap().state, State::Running);
            }
            tokio::time::sleep(ms(500)).await;
            let per_program = rss().saturating_sub(rss_before) / 1000;
            println!("memory per idle program: {per_program} bytes");
            assert!(per_program < 32 * 1024, "{per_program} bytes per program");
            let before = cpu_time();
            std::thread::sleep(Duration::from_secs(10));
            let spent = cpu_time() - before;
            println!("cpu while idle: {spent:?}");
            assert!(spent < ms(10), "{spent:?} of CPU in 10 s with 1,000 idle programs");
            let report = guard(30, "shutdown", sup.shutdown()).await.unwrap();
            assert_eq!(report.stopped.len(), 1001);
        });
    });
}

/// This process's resident memory, from `/proc/self/statm`.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

#[tokio::test]
async fn a_panicking_sink_loses_no_line_of_the_channel() {
    let (sup, _task) = Supervisor::new();
    let mut logs = sup.logs().await.unwrap();
    let mut program = ProgramSpec::new("p", sh("echo one; echo two; echo three"));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    program.restart(restart).sink(|_| panic!("a bad sink"));
    sup.add(program).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        let line = guard(20, "lines", logs.recv()).await.unwrap();
        got.push(String::from_utf8_lossy(&line.line.bytes).into_owned());
    }
    assert_eq!(got, ["one", "two", "three"]);
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_terminals_output_is_logged_as_fd_1() {
    let (sup, _task) = Supervisor::new();
    let mut logs = sup.logs().await.unwrap();
    let mut command = sh("echo on the terminal");
    command.pty(procwire::PtySize::new(24, 80));
    let mut program = ProgramSpec::new("tty", command);
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    program.restart(restart);
    sup.add(program).await.unwrap();
    let line = guard(20, "a line", logs.recv()).await.unwrap();
    assert_eq!((line.fd, &line.line.bytes[..]), (1, &b"on the terminal\r"[..]));
    sup.shutdown().await.unwrap();
}

/// Records the supervisor's log events: (program field, message).
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

#[derive(Default)]
struct Fields(String, String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "program" => self.0 = format!("{value:?}"),
            "message" => self.1 = format!("{value:?}"),
            _ => {}
        }
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        meta.target() == "procwire_supervisor::log"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.lock().unwrap().push((fields.0, fields.1));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// Issue #11: with the `tracing` feature (on by default through the
// facade), a program's lines are `tracing` events with its name as a
// field, as procmon's LoggingProtocol logs `[name] line`.
#[test]
fn lines_are_tracing_events_with_the_program_name() {
    in_own_process("lines_are_tracing_events_with_the_program_name", || {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        tracing::subscriber::set_global_default(Capture(seen.clone())).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let (sup, _task) = Supervisor::new();
            let mut events = sup.events().await.unwrap();
            let mut program = ProgramSpec::new("greeter", sh("echo hello; echo world >&2"));
            let mut restart = RestartSpec::new();
            restart.policy(RestartPolicy::Never);
            program.restart(restart);
            sup.add(program).await.unwrap();
            next(&mut events, "greeter", |e| e.to == State::Exited).await;
            guard(10, "both lines logged", async {
                while seen.lock().unwrap().len() < 2 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
            sup.shutdown().await.unwrap();
        });
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        let want = [("greeter", "[greeter] hello"), ("greeter", "[greeter] world")];
        let want: Vec<(String, String)> = want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(seen, want);
    });
}

/// A batch sink sees each read's bytes whole: written one after the
/// other they are the program's output, unchanged (a 100 KiB line and an
/// unterminated tail included); its lines are the line sink's.
#[tokio::test]
async fn a_batch_sink_gets_the_output_unchanged_and_its_lines() {
    use std::sync::{Arc, Mutex};
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let raw = Arc::new(Mutex::new(Vec::new()));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let script = "seq 1 100000; head -c 102400 /dev/zero | tr '\\0' x; echo; printf tail";
    let mut program = ProgramSpec::new("batches", sh(script));
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    let (r, l) = (raw.clone(), lines.clone());
    program.restart(restart).batch_sink(move |b| {
        assert!(!b.is_empty() && b.len() == b.lines().len());
        assert_eq!((&**b.program(), b.fd()), ("batches", 1));
        r.lock().unwrap().extend_from_slice(b.raw());
        l.lock().unwrap().extend(b.lines().map(|line| (line.bytes.len(), line.continued)));
    });
    sup.add(program).await.unwrap();
    next(&mut events, "batches", |e| e.to == State::Exited).await;
    sup.shutdown().await.unwrap();
    let mut want: Vec<u8> = (1..=100_000).flat_map(|n| format!("{n}\n").into_bytes()).collect();
    want.extend(std::iter::repeat_n(b'x', 102_400));
    want.extend_from_slice(b"\ntail");
    assert!(*raw.lock().unwrap() == want, "the raw bytes are the output");
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 100_000 + 7 + 1);
    assert_eq!(
        lines[100_000..],
        [
            (16_384, true),
            (16_384, true),
            (16_384, true),
            (16_384, true),
            (16_384, true),
            (16_384, true),
            (4096, false),
            (4, false)
        ]
    );
}

// Issue 16, defect 5: a `logs()` subscriber that never reads pinned 20 to
// 40 times the documented bound (2.4 GiB behind `yes ''`, 1.6 GiB behind
// `yes`): a record per line, and each read's bytes keeping the whole
// buffer they were cut from. What it may keep is the bound of
// `Supervisor::LOG_CAPACITY` in bytes: 64 MiB, whatever the line lengths.
#[test]
fn an_unread_logs_subscriber_pins_no_more_than_the_documented_bound() {
    const NAME: &str = "an_unread_logs_subscriber_pins_no_more_than_the_documented_bound";
    in_own_process(NAME, || {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        // What the channel may keep, and room for what is not the
        // channel's: the drain's buffers (a read and its spans: 1.5 MiB
        // behind `yes ''`), the allocator's free lists.
        const BOUND: u64 = Supervisor::LOG_CAPACITY as u64 * 64 * 1024;
        const MARGIN: u64 = 16 << 20;
        // Each flood goes through the channel twice over.
        const FLOOD: u64 = 2 * BOUND;
        // One thread: glibc's allocator keeps an arena per thread, and
        // memory freed in one stays there for reuse (on two workers the
        // same run holds 64 MiB of live allocations, and up to 50 MiB more
        // in free lists).
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (sup, _task) = Supervisor::new();
            let mut events = sup.events().await.unwrap();
            // Runs `script` to its end, its output counted by a batch sink.
            let flood = |name: &'static str, script: String, bytes: u64| {
                let (sup, counted) = (sup.clone(), Arc::new(AtomicU64::new(0)));
                let mut program = ProgramSpec::new(name, sh(&script));
                let mut restart = RestartSpec::new();
                restart.policy(RestartPolicy::Never);
                let c = counted.clone();
                let done = Arc::new(tokio::sync::Notify::new());
                let d = done.clone();
                program.restart(restart).batch_sink(move |b| {
                    let n = b.raw().len() as u64;
                    if c.fetch_add(n, Ordering::Relaxed) + n == bytes {
                        d.notify_one();
                    }
                });
                async move {
                    sup.add(program).await.unwrap();
                    guard(300, name, done.notified()).await;
                    assert_eq!(counted.load(Ordering::Relaxed), bytes);
                }
            };
            // Warm up (the runtime, the reaper, the drains, the allocator)
            // with nobody subscribed, then count.
            flood("warm", format!("yes | head -c {}", 16 << 20), 16 << 20).await;
            next(&mut events, "warm", |e| e.to == State::Exited).await;
            let unread = sup.logs().await.unwrap();
            let before = rss();
            for (name, yes) in [("empty-lines", "yes ''"), ("y-lines", "yes")] {
                flood(name, format!("{yes} | head -c {FLOOD}"), FLOOD).await;
                next(&mut events, name, |e| e.to == State::Exited).await;
                let (held, peak) = (rss().saturating_sub(before), peak_rss().saturating_sub(before));
                println!("behind `{yes}`: {} MiB held, {} MiB at the peak", held >> 20, peak >> 20);
                assert!(held <= BOUND + MARGIN, "behind `{yes}`: {} MiB held", held >> 20);
                assert!(peak <= BOUND + MARGIN, "behind `{yes}`: {} MiB at the peak", peak >> 20);
            }
            drop(unread);
            sup.shutdown().await.unwrap();
        });
    });
}

/// This process's peak resident memory, `VmHWM` in `/proc/self/status`.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}
