//! A child outlives the runtime that spawned it: its pipes, its terminal
//! and its exit can be used from another runtime, whether the spawning one
//! was dropped or is alive but idle (not driven by anyone). In pidfd mode
//! and, built with `--cfg procwire_force_sigchld`, in the SIGCHLD fallback.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use procwire::{
    run_process, Bytes, ChildFd, Command, ExitStatus, Options, ProcessProtocol, PtySize, Run, RunError,
    StopLadder, StopPolicy, Transport,
};
use procwire_tests::{guard, Strays};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::{Builder, Runtime};

/// Guard against hangs only; every test waits on its events.
const LIMIT: u64 = 30;

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Spawns `sh -c SCRIPT` in `rt`, with stdout a pipe.
fn spawn_sh(rt: &Runtime, script: &str) -> procwire::Child {
    let _entered = rt.enter();
    Command::new("sh").args(["-c", script]).stdin(ChildFd::Null).stderr(ChildFd::Null).spawn().expect("spawn")
}

/// Reads the child's stdout to its end and reaps it.
async fn output_and_code(child: &mut procwire::Child) -> (String, Option<i32>) {
    let mut out = String::new();
    child.take_reader(1).expect("stdout").read_to_string(&mut out).await.expect("read stdout");
    (out, child.wait().await.expect("wait").code())
}

/// Issue 9, defect 12: after the spawning runtime was dropped, reading a
/// pipe failed ("being shutdown"), the output was lost, and dropping the
/// reader killed the child with SIGPIPE.
#[test]
fn pipes_and_wait_survive_the_spawning_runtime() {
    let a = current_thread();
    let mut child = spawn_sh(&a, "sleep 0.3; echo hi");
    drop(a);
    let b = current_thread();
    let (out, code) = b.block_on(guard(LIMIT, "read and wait from runtime B", output_and_code(&mut child)));
    assert_eq!((out.as_str(), code), ("hi\n", Some(0)));
}

/// Issue 9, defect 12: with the spawning current-thread runtime alive but
/// idle, waiting from another runtime hung (the pidfd's readiness was due
/// on the idle runtime's reactor).
#[test]
fn wait_from_another_runtime_while_the_spawner_idles() {
    let a = current_thread();
    let mut child = spawn_sh(&a, "sleep 0.3; echo hi");
    // The same thread, a second runtime: `a` is alive and not driven.
    let b = current_thread();
    let (out, code) = b.block_on(guard(LIMIT, "read and wait from runtime B", output_and_code(&mut child)));
    assert_eq!((out.as_str(), code), ("hi\n", Some(0)));

    // Another thread, `a` still idle; the child is back in `a` afterwards.
    let mut child = spawn_sh(&a, "sleep 0.3; echo there");
    let mut child = std::thread::spawn(move || {
        let c = current_thread();
        let (out, code) =
            c.block_on(guard(LIMIT, "read and wait from runtime C", output_and_code(&mut child)));
        assert_eq!((out.as_str(), code), ("there\n", Some(0)));
        child
    })
    .join()
    .expect("thread C");
    let status = a.block_on(guard(LIMIT, "wait again in runtime A", child.wait())).expect("wait");
    assert_eq!(status.code(), Some(0), "the status is kept");
}

/// A writer moves too: 1 MiB through `cat` (the pipe fills, so the writer
/// waits on the reactor) from runtime B after runtime A was dropped.
#[test]
fn writer_survives_the_spawning_runtime() {
    let a = current_thread();
    let mut child = {
        let _entered = a.enter();
        Command::new("cat").stderr(ChildFd::Null).spawn().expect("spawn cat")
    };
    drop(a);
    let b = current_thread();
    b.block_on(guard(LIMIT, "cat round trip from runtime B", async {
        let mut stdin = child.take_writer(0).expect("stdin");
        let mut stdout = child.take_reader(1).expect("stdout");
        let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();
        let write = async {
            stdin.write_all(&data).await.expect("write");
            stdin.shutdown().await.expect("shutdown");
        };
        let mut echoed = Vec::new();
        let ((), read) = tokio::join!(write, stdout.read_to_end(&mut echoed));
        read.expect("read");
        assert!(echoed == data, "cat echoed {} bytes, not {}", echoed.len(), data.len());
        assert!(child.wait().await.expect("wait").success());
    }));
}

/// The terminal moves too: its master after the spawning runtime was
/// dropped, and its two halves while it idles.
#[test]
fn pty_survives_the_spawning_runtime() {
    let a = current_thread();
    let mut child = {
        let _entered = a.enter();
        Command::new("sh").args(["-c", "sleep 0.3; echo hi"]).pty(PtySize::default()).spawn().expect("spawn")
    };
    drop(a);
    let b = current_thread();
    b.block_on(guard(LIMIT, "pty master from runtime B", async {
        let mut out = String::new();
        child.take_pty().expect("master").read_to_string(&mut out).await.expect("read the terminal");
        assert_eq!(out, "hi\r\n");
        assert!(child.wait().await.expect("wait").success());
    }));

    let a = current_thread();
    let mut child = {
        let _entered = a.enter();
        Command::new("sh").args(["-c", "read x; echo got $x"]).pty(PtySize::default()).spawn().expect("spawn")
    };
    b.block_on(guard(LIMIT, "pty halves from runtime B", async {
        let (mut read, mut write) = child.take_pty().expect("master").into_split();
        write.write_all(b"yes\n").await.expect("type into the terminal");
        let mut out = String::new();
        read.read_to_string(&mut out).await.expect("read the terminal");
        assert!(out.ends_with("got yes\r\n"), "{out:?}");
        assert!(child.wait().await.expect("wait").success());
    }));
    drop(a);
}

/// Polls `fut` once on `rt`, which must leave it pending: its timers and
/// registrations are then on `rt`'s drivers.
fn poll_once_on<F: Future + Unpin>(rt: &Runtime, fut: &mut F) {
    rt.block_on(poll_fn(|cx| {
        assert!(Pin::new(&mut *fut).poll(cx).is_pending(), "still running after one poll");
        Poll::Ready(())
    }));
}

/// Issue 21, item 6: a `Run` with a timeout, polled on one runtime and
/// finished on another after the first shut down, panicked inside
/// tokio's timer (its `Sleep` was the first runtime's). The timeout is a
/// `Deadline` now, and still ends the run on time.
#[test]
fn a_run_with_a_timeout_survives_a_move_to_another_runtime() {
    let mut run = Run::new("sleep");
    run.arg("300").timeout(Duration::from_secs(1));
    let started = Instant::now();
    let mut fut = Box::pin(run.output());
    let a = current_thread();
    poll_once_on(&a, &mut fut);
    drop(a);
    let b = current_thread();
    let result = b.block_on(guard(LIMIT, "the run, finished on runtime B", fut));
    let took = started.elapsed();
    println!("timed out after {took:?}");
    match result {
        Err(RunError::Timeout { output, .. }) => assert_eq!(output.status.signal(), Some(15)),
        other => panic!("expected the timeout, got {other:?}"),
    }
    assert!(took >= Duration::from_secs(1), "the timeout is honoured: {took:?}");
    assert!(took < Duration::from_secs(10), "and not much later: {took:?}");
}

/// Issue 21, item 6's sibling: a stop ladder started on one runtime (its
/// grace a `Sleep` there) panicked when polled to its end on another.
#[test]
fn a_stop_ladder_started_on_one_runtime_ends_on_another() {
    let a = current_thread();
    let mut child = {
        let _entered = a.enter();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "trap '' TERM; echo ignoring; exec sleep 300"])
            .stdin(ChildFd::Null)
            .kill_on_drop(true);
        cmd.spawn().expect("spawn")
    };
    let mut out = child.take_reader(1).expect("stdout");
    let mut line = [0u8; 9];
    a.block_on(guard(LIMIT, "the shell ignores TERM", out.read_exact(&mut line))).expect("read");
    assert_eq!(&line, b"ignoring\n");
    let policy = StopPolicy::new().with_grace(Duration::from_millis(500));
    let mut ladder = StopLadder::new(policy);
    let started = Instant::now();
    a.block_on(poll_fn(|cx| {
        assert!(ladder.poll(&mut child, cx).is_pending(), "TERM is ignored: the grace runs");
        Poll::Ready(())
    }));
    drop(a);
    let b = current_thread();
    let stopped = b
        .block_on(guard(
            LIMIT,
            "the ladder, finished on runtime B",
            poll_fn(|cx| ladder.poll(&mut child, cx)),
        ))
        .expect("stopped");
    let took = started.elapsed();
    assert_eq!((stopped.status.signal(), stopped.final_signal_sent), (Some(9), true));
    assert!(took >= Duration::from_millis(500), "after the grace: {took:?}");
}

/// What a driven process reported: its exit, and its stdout.
#[derive(Default, Clone)]
struct Recorder {
    exited: Arc<AtomicBool>,
    out: Arc<Mutex<Vec<u8>>>,
}

impl ProcessProtocol for Recorder {
    fn out_received(&mut self, _: &mut Transport, data: Bytes) {
        self.out.lock().unwrap().extend_from_slice(&data);
    }
    fn process_exited(&mut self, _: &mut Transport, _: ExitStatus) {
        self.exited.store(true, Ordering::SeqCst);
    }
}

/// Issue 21, item 6's sibling: the protocol driver's drain deadline,
/// armed at the reap on one runtime, panicked when the driver was
/// finished on another.
#[test]
fn a_drain_deadline_armed_on_one_runtime_fires_on_another() {
    let a = current_thread();
    let recorder = Recorder::default();
    // The shell exits at once; its sleep keeps stdout open.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 300 & echo $!"]).stdin(ChildFd::Null).stderr(ChildFd::Null);
    let options = Options::new().drain_deadline(Duration::from_millis(500));
    let mut driver = {
        let _entered = a.enter();
        run_process(recorder.clone(), &mut cmd, options).expect("spawn")
    };
    let reaped_with_pid =
        || recorder.exited.load(Ordering::SeqCst) && recorder.out.lock().unwrap().ends_with(b"\n");
    a.block_on(guard(
        LIMIT,
        "the reap and the sleep's pid, on runtime A",
        poll_fn(|cx| {
            assert!(Pin::new(&mut driver).poll(cx).is_pending(), "the sleep holds stdout");
            if reaped_with_pid() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }),
    ));
    let sleep =
        String::from_utf8_lossy(&recorder.out.lock().unwrap()).trim().parse().expect("the sleep's pid");
    let _sleep = Strays(vec![sleep]);
    drop(a);
    let b = current_thread();
    let started = Instant::now();
    let ended = b.block_on(guard(LIMIT, "the driver, finished on runtime B", driver)).expect("ended");
    assert!(ended.reason.pipes_force_closed, "{:?}", ended.reason);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}
