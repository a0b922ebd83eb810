//! The protocol layer (`ProcessProtocol` driven by `spawn_process` and
//! `run_process`): Twisted's test_process cases (staged pipes, echo,
//! linger), the drain deadline against a grandchild holding stdout, an
//! order checker over 1,000 random children, flow control both ways
//! (`write_buffer_full` for producer loops), transport errors, a protocol
//! on a terminal, and what aborting or dropping a `ProcessHandle` does.

use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use procwire::{
    run_process, spawn_process, ChildFd, Command, EndReason, Error, ExitStatus, Options, ProcessHandle,
    ProcessProtocol, PtySize, Transport,
};
use procwire_tests::{guard, process_exists, pw_child, until_dead, zombie_children};
use tokio::sync::{mpsc, oneshot};

/// Serialises the tests that move a lot of data: the flow-control test
/// measures the resident memory of the whole process.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// process_tester.py's stages as pw-child steps.
const STAGES: &str =
    "read:0:4:abcd write:1:abcd close:1 read:0:4:1234 write:2:1234 close:2 read:0:4:abcd exit:23";

// Mirrors Twisted test_process: ProcessTestCase.test_process (TestProcessProtocol, process_tester.py).
#[tokio::test]
async fn staged_pipes_close_in_order_and_exit_23() {
    let mut handle = spawn_process(staged(), &mut pw(STAGES.split(' ')), Options::new()).expect("spawn");
    let ended = guard(10, "staged child", &mut handle).await.expect("driver");
    check_staged(&ended.protocol.log, ended.reason);
    assert!(matches!(handle.signal_process("INT"), Err(Error::ProcessExitedAlready)));
}

// Mirrors Twisted test_process: ProcessTestCase.test_manyProcesses (25 at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_five_staged_children_at_once() {
    let mut handles: Vec<ProcessHandle<Rec>> = (0..25)
        .map(|_| spawn_process(staged(), &mut pw(STAGES.split(' ')), Options::new()).expect("spawn"))
        .collect();
    for handle in &mut handles {
        let ended = guard(20, "one of 25 staged children", &mut *handle).await.expect("driver");
        check_staged(&ended.protocol.log, ended.reason);
        assert!(matches!(handle.signal_process("INT"), Err(Error::ProcessExitedAlready)));
    }
}

// Mirrors Twisted test_process: ProcessTestCase.test_echo (EchoProtocol).
#[tokio::test]
async fn echo_ten_writes_byte_by_byte_then_close_stdin() {
    const ALL: usize = 70_070;
    let echo = Rec::new(|log, t, ev| match ev {
        Ev::Made => {
            let s = Bytes::from(b"1234567".repeat(1001));
            for _ in 0..8 {
                t.write(s.clone()).expect("write");
            }
            t.write_sequence([s.clone(), s]).expect("write_sequence");
        }
        Ev::Data(1) => {
            let got = log.out(1);
            if !got.iter().eq(b"1234567".iter().cycle().take(got.len())) || got.len() >= ALL {
                t.close_stdin();
            }
        }
        _ => {}
    });
    let started = Instant::now();
    let handle = spawn_process(echo, &mut pw(["echo-bytes:0:1"]), Options::new()).expect("spawn");
    let ended = guard(30, "byte-by-byte echo", handle).await.expect("driver");
    let got = ended.protocol.log.out(1);
    assert!(got == b"1234567".repeat(ALL / 7), "echo differs ({} bytes back)", got.len());
    assert_eq!(ended.reason.status.code(), Some(0), "{:?}", ended.reason);
    assert!(!ended.reason.pipes_force_closed);
    println!("echo of 70,070 bytes byte by byte: {:?}", started.elapsed());
}

// Mirrors Twisted test_process: ProcessTestCase.test_linger (process_linger.py).
#[tokio::test]
async fn linger_pipes_close_two_seconds_before_exit() {
    let started = Instant::now();
    let mut command = pw(["write:1:here is some text\\ngoodbye\\n", "close:1", "close:2", "sleep-ms:2000"]);
    command.child_fds([(1, ChildFd::ReadPipe), (2, ChildFd::Parent(2))]);
    let handle = spawn_process(Rec::default(), &mut command, Options::new()).expect("spawn");
    let ended = guard(10, "lingering child", handle).await.expect("driver");
    let log = ended.protocol.log;
    assert_eq!(log.out(1), b"here is some text\ngoodbye\n");
    assert_eq!(log.events, [Ev::Made, Ev::Data(1), Ev::Lost(1), Ev::Exited, Ev::Ended]);
    assert_eq!(ended.reason.status.code(), Some(0));
    let after = log.ended_at.expect("ended") - started;
    assert!(after >= Duration::from_millis(1900), "process_ended after only {after:?}");
}

// Twisted #10635: a grandchild holding stdout holds process_ended; the drain deadline bounds it.
#[tokio::test]
async fn grandchild_holding_stdout_delays_process_ended_without_a_deadline() {
    let started = Instant::now();
    let (tx, exited) = oneshot::channel();
    let mut rec = Rec::default();
    rec.log.on_exit = Some(tx);
    let mut handle =
        spawn_process(rec, &mut pw(["write:1:hi", "grandchild:3", "exit:0"]), Options::new()).expect("spawn");
    guard(10, "process_exited", exited).await.expect("exited sent");
    // A negative check needs a window: one second without process_ended.
    let early = tokio::time::timeout(Duration::from_secs(1), &mut handle).await;
    assert!(early.is_err(), "process_ended came while the grandchild still held stdout");
    // The pipes reach EOF only when `sleep 3` exits: this also waits for the grandchild.
    let ended = guard(15, "grandchild exit", handle).await.expect("driver");
    assert!(started.elapsed() >= Duration::from_millis(2500), "ended after {:?}", started.elapsed());
    assert!(!ended.reason.pipes_force_closed);
    assert_eq!(ended.reason.status.code(), Some(0));
    assert_eq!(ended.protocol.log.out(1), b"hi");
    assert_lost_between_exit_and_end(&ended.protocol.log.events);
}

#[tokio::test]
async fn drain_deadline_force_closes_pipes_a_grandchild_holds() {
    // Our own pipe on child fd 3, inherited by `sleep`: its EOF says the grandchild is gone.
    let (witness, witness_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe");
    let started = Instant::now();
    let mut command = pw(["write:1:hi", "grandchild:5", "exit:0"]);
    command.child_fd(3, ChildFd::Fd(witness_w));
    let options = Options::new().drain_deadline(Duration::from_millis(300));
    let handle = spawn_process(Rec::default(), &mut command, options).expect("spawn");
    drop(command); // it holds our write end of the witness pipe
    let ended = guard(10, "forced end", handle).await.expect("driver");
    let log = &ended.protocol.log;
    let gap = log.ended_at.expect("ended") - log.exited_at.expect("exited");
    assert!(ended.reason.pipes_force_closed, "{:?}", ended.reason);
    assert_eq!(ended.reason.status.code(), Some(0));
    // At the deadline, not at the grandchild's exit 5 s later (the upper
    // bound leaves room for a loaded machine).
    assert!(
        (Duration::from_millis(300)..Duration::from_millis(4000)).contains(&gap),
        "ended {gap:?} after exit"
    );
    assert_eq!(log.out(1), b"hi");
    assert_lost_between_exit_and_end(&log.events);
    // Wait for the grandchild, and check that it really outlived process_ended.
    guard(10, "grandchild exit", tokio::task::spawn_blocking(move || read_to_end(witness)))
        .await
        .expect("join");
    let gone = started.elapsed();
    assert!(gone >= Duration::from_millis(4500), "grandchild gone after {gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_checker_over_a_thousand_random_children() {
    let _heavy = HEAVY.lock().await;
    let started = Instant::now();
    let seed = 0x0005_eed0_0de5_u64;
    let failures: Vec<String> = futures::stream::iter(0..1000u64)
        .map(|i| checked_child(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .buffer_unordered(50)
        .filter_map(|r| async move { r.err() })
        .collect()
        .await;
    let first: Vec<&str> = failures.iter().take(10).map(String::as_str).collect();
    assert!(failures.is_empty(), "{} of 1000 failed (seed {seed:#x}):\n{}", failures.len(), first.join("\n"));
    println!("1,000 checked children: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_through_cat_with_flow_control_keeps_memory_bounded() {
    const TOTAL: u64 = 1 << 30;
    let _heavy = HEAVY.lock().await;
    let started = Instant::now();
    let progress = Arc::new(AtomicU64::new(0));
    let rss_start = rss_kib();
    let protocol =
        Streamer { left: TOTAL, rss_max: rss_start, progress: progress.clone(), ..Streamer::default() };
    let options = Options::new().write_buffer_limits(64 * 1024, HIGH);
    let handle = spawn_process(protocol, &mut cat(), options).expect("spawn cat");
    let ended = watch(handle, &progress, "1 GiB through cat").await;
    let s = ended.protocol;
    assert_eq!(s.received, TOTAL, "bytes back from cat");
    assert!(ended.reason.status.success(), "{:?}", ended.reason);
    assert!(s.pauses > 0 && s.resumes > 0, "flow control never engaged ({} / {})", s.pauses, s.resumes);
    let growth = s.rss_max - rss_start;
    assert!(growth < 64 * 1024, "resident memory grew by {growth} KiB");
    println!("1 GiB through cat: {:?}, {} pauses, RSS +{growth} KiB", started.elapsed(), s.pauses);
}

#[tokio::test]
async fn paused_reading_pushes_back_on_the_child() {
    let (tx, paused) = oneshot::channel();
    let protocol = ReadPause { on_pause: Some(tx), ..ReadPause::default() };
    let handle = spawn_process(protocol, &mut pw(["fill:1:8388608"]), Options::new()).expect("spawn");
    let paused_at = guard(10, "reading paused", paused).await.expect("paused");
    // A negative check needs a window: unread, the child would write its 8 MiB in far less.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Nothing but process_exited can resume reading now: end the blocked child.
    let signalled = handle.signal_process("TERM");
    assert!(signalled.is_ok(), "{signalled:?}: the child is gone, so nothing held back its 8 MiB");
    let ended = guard(10, "killed writer", handle).await.expect("driver");
    let p = ended.protocol;
    assert_eq!(ended.reason.status.signal(), Some(15), "{:?}", ended.reason);
    assert_eq!(p.data_while_paused, 0, "data delivered while reading was paused");
    // What the child wrote after the pause fits in the pipe: procwire did not read on.
    assert!(p.received - paused_at <= 256 * 1024, "{} bytes after the pause", p.received - paused_at);
}

#[tokio::test]
async fn writes_without_an_input_pipe_are_errors() {
    let misuse = Rec::new(|log, t, ev| {
        if ev == Ev::Made {
            log.results.push(t.write_to_child(5, "no fd 5"));
            log.results.push(t.write_to_child(1, "fd 1 is an output"));
            t.write("queued before close_stdin\n").expect("write");
            t.close_stdin();
            log.results.push(t.write("after close_stdin"));
        }
    });
    let ended = guard(10, "cat", spawn_process(misuse, &mut cat(), Options::new()).expect("spawn")).await;
    let ended = ended.expect("driver");
    let log = &ended.protocol.log;
    let fds: Vec<Option<RawFd>> = log
        .results
        .iter()
        .map(|r| if let Err(Error::NoInputPipe { fd }) = r { Some(*fd) } else { None })
        .collect();
    assert_eq!(fds, [Some(5), Some(1), Some(0)], "{:?}", log.results);
    assert_eq!(log.out(1), b"queued before close_stdin\n", "queued data is flushed first");
    assert_eq!(ended.reason.status.code(), Some(0));
}

#[tokio::test]
async fn lose_connection_in_connection_made_closes_all_three() {
    let lose = Rec::new(|_, t, ev| {
        if ev == Ev::Made {
            t.lose_connection();
        }
    });
    let handle = spawn_process(lose, &mut cat(), Options::new()).expect("spawn");
    let ended = guard(10, "cat after lose_connection", handle).await.expect("driver");
    let ev = &ended.protocol.log.events;
    assert_eq!(ev.len(), 6, "{ev:?}");
    let mut lost: Vec<Ev> = ev[1..4].to_vec();
    lost.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(lost, [Ev::Lost(0), Ev::Lost(1), Ev::Lost(2)], "{ev:?}");
    assert_eq!([ev[0], ev[4], ev[5]], [Ev::Made, Ev::Exited, Ev::Ended]);
    assert_eq!(ended.reason.status.code(), Some(0));
}

#[tokio::test]
async fn protocol_on_a_terminal() {
    // close_stdin means nothing on a terminal: the write after it still goes through.
    let typist = Rec::new(|log, t, ev| {
        if ev == Ev::Made {
            t.close_stdin();
            log.results.push(t.write("hi\n"));
            // The terminal is fd 0 only: another fd is refused, not redirected.
            log.results.push(t.write_to_child(5, "lost?"));
        }
    });
    let mut command = Command::new("/bin/sh");
    command.args(["-c", "read l; echo got:$l"]).pty(PtySize::default()).kill_on_drop(true);
    let handle = spawn_process(typist, &mut command, Options::new()).expect("spawn");
    let ended = guard(10, "sh on a terminal", handle).await.expect("driver");
    let log = &ended.protocol.log;
    assert!(matches!(log.results[..], [Ok(()), Err(Error::NoInputPipe { fd: 5 })]), "{:?}", log.results);
    assert_eq!(log.data.keys().copied().collect::<Vec<_>>(), [1], "a terminal has only fd 1");
    let out = String::from_utf8_lossy(log.out(1)).into_owned();
    assert!(out.contains("got:hi"), "{out:?}");
    assert_eq!(ended.reason.status.code(), Some(0));
    assert_eq!(log.events.last(), Some(&Ev::Ended));
}

// Issue 9, defect 7: on a terminal, pipes on fds 3 and 4 were unusable from the protocol.
#[tokio::test]
async fn pty_with_pipes_on_fds_3_and_4_works_from_transport_and_control() {
    let feeder = Rec::new(|log, t, ev| {
        if ev == Ev::Made {
            log.results.push(t.write_to_child(3, "from the transport\n"));
            // fd 1 is the terminal's output, fd 4 a pipe the child writes.
            log.results.push(t.write_to_child(1, "x"));
            log.results.push(t.write_to_child(4, "x"));
        }
    });
    let mut command = Command::new("/bin/sh");
    command
        .args(["-c", "cat <&3 >&4"])
        .pty(PtySize::default())
        .child_fd(3, ChildFd::WritePipe)
        .child_fd(4, ChildFd::ReadPipe)
        .kill_on_drop(true);
    let handle = spawn_process(feeder, &mut command, Options::new()).expect("spawn");
    let control = handle.control();
    assert!(matches!(control.write_to_child(7, "x"), Err(Error::NoInputPipe { fd: 7 })), "unmapped fd");
    assert!(matches!(control.write_to_child(4, "x"), Err(Error::NoInputPipe { fd: 4 })), "an output");
    assert!(matches!(control.write_to_child(2, "x"), Err(Error::NoInputPipe { fd: 2 })), "the terminal");
    // A terminal is not closed one fd at a time: fd 0 stays writable, as on the transport.
    control.close_stdin();
    control.write("").expect("the terminal is still writable after close_stdin");
    control.write_to_child(3, "from a control\n").expect("fd 3 is an input pipe");
    control.close_child_fd(3);
    assert!(matches!(control.write_to_child(3, "late"), Err(Error::NoInputPipe { fd: 3 })));
    // `cat` ends only once fd 3 is closed.
    let ended = guard(10, "cat <&3 >&4 on a terminal", handle).await.expect("driver");
    let log = &ended.protocol.log;
    let results: Vec<Option<RawFd>> = log
        .results
        .iter()
        .map(|r| if let Err(Error::NoInputPipe { fd }) = r { Some(*fd) } else { None })
        .collect();
    assert_eq!(results, [None, Some(1), Some(4)], "{:?}", log.results);
    assert_eq!(log.out(4), b"from the transport\nfrom a control\n");
    assert!(!log.data.contains_key(&3), "fd 3 is an input");
    for fd in [0, 1, 3, 4] {
        assert!(log.events.contains(&Ev::Lost(fd)), "fd {fd} never lost: {:?}", log.events);
    }
    assert_eq!(ended.reason.status.code(), Some(0), "{:?}", ended.reason);
    assert_eq!(log.events.last(), Some(&Ev::Ended));
}

// Issue 9, defect 6: a child closing its stdin was reported only at its exit.
#[tokio::test]
async fn child_closing_stdin_is_reported_while_it_runs() {
    let started = Instant::now();
    let late = Rec::new(|log, t, ev| {
        if ev == Ev::Lost(0) {
            log.results.push(t.write("after the child closed stdin"));
        }
    });
    let mut command = Command::new("/bin/sh");
    command.args(["-c", "exec 0<&-; sleep 2"]).kill_on_drop(true);
    let handle = spawn_process(late, &mut command, Options::new()).expect("spawn");
    let ended = guard(10, "sh closing stdin", handle).await.expect("driver");
    let log = &ended.protocol.log;
    let lost = log.events.iter().position(|e| *e == Ev::Lost(0)).expect("stdin lost");
    let exited = log.events.iter().position(|e| *e == Ev::Exited).expect("exited");
    assert!(lost < exited, "stdin reported lost only after the exit: {:?}", log.events);
    let after = log.stdin_lost_at.expect("stdin lost") - started;
    assert!(after < Duration::from_millis(1500), "stdin reported lost {after:?} after spawn");
    assert!(matches!(log.results[..], [Err(Error::NoInputPipe { fd: 0 })]), "{:?}", log.results);
    assert_eq!(ended.reason.status.code(), Some(0));
}

/// A child writing "err" then "out" as fast as it can, both pipes often
/// readable in the same read pass; it dies of SIGPIPE once stderr is closed.
fn out_and_err() -> Command {
    let mut command = Command::new("/bin/sh");
    command
        .args(["-c", "i=0; while [ $i -lt 20000 ]; do echo err >&2; echo out; i=$((i+1)); done"])
        .kill_on_drop(true);
    command
}

// Issue 9, defect 8: `close_stderr` in `out_received` could be followed by data on fd 2,
// read later in the same pass.
#[tokio::test]
async fn no_data_on_stderr_after_close_stderr_in_out_received() {
    for round in 0..10 {
        let closer = Rec::new(|log, t, ev| {
            if ev == Ev::Data(1) && !log.events.contains(&Ev::Lost(2)) {
                t.close_stderr();
            }
        });
        let handle = spawn_process(closer, &mut out_and_err(), Options::new()).expect("spawn");
        let ended = guard(20, "out and err", handle).await.expect("driver");
        let ev = &ended.protocol.log.events;
        let first_out = ev.iter().position(|e| *e == Ev::Data(1)).expect("some stdout");
        // The close is applied before the next read of any fd: its lost callback comes next.
        assert_eq!(ev.get(first_out + 1), Some(&Ev::Lost(2)), "round {round}: {ev:?}");
        assert_eq!(order_violations(ev, &[0, 1, 2]), Vec::<String>::new(), "round {round}");
    }
}

// Issue 9, defect 8: the same for `pause_producing` called in a callback.
#[tokio::test]
async fn no_read_after_pause_producing_in_a_callback() {
    for round in 0..10 {
        let pauser = Rec::new(|log, t, ev| match ev {
            Ev::Data(_) if !log.events.contains(&Ev::Exited) => t.pause_producing(),
            Ev::Exited => t.resume_producing(),
            _ => {}
        });
        // 2 x 80 KB would fill the pipes: 2 x 40 KB, so that the paused child can exit.
        let mut command = Command::new("/bin/sh");
        command
            .args(["-c", "i=0; while [ $i -lt 10000 ]; do echo err >&2; echo out; i=$((i+1)); done"])
            .kill_on_drop(true);
        let handle = spawn_process(pauser, &mut command, Options::new()).expect("spawn");
        let ended = guard(20, "out and err, paused", handle).await.expect("driver");
        let log = &ended.protocol.log;
        let ev = &log.events;
        let first = ev.iter().position(|e| matches!(e, Ev::Data(_))).expect("some output");
        let exited = ev.iter().position(|e| *e == Ev::Exited).expect("exited");
        let read_on = ev[first + 1..exited].iter().any(|e| matches!(e, Ev::Data(_)));
        assert!(!read_on, "round {round}: read on after the pause: {ev:?}");
        assert_eq!((log.out(1).len(), log.out(2).len()), (40_000, 40_000), "round {round}");
    }
}

// Regression: `write_sequence` of empty buffers must not make the driver spin.
#[test]
fn write_sequence_of_only_empty_buffers_does_not_hang_the_driver() {
    let (tx, rx) = std::sync::mpsc::channel();
    let empty = Rec::new(|_, t, ev| {
        if ev == Ev::Made {
            t.write_sequence([Bytes::new()]).expect("write_sequence");
            t.close_stdin();
        }
    });
    // A thread of its own: a driver spinning inside poll never returns to any runtime.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let out = rt.block_on(async {
            let driver = run_process(empty, &mut pw(["drain:0"]), Options::new()).expect("spawn");
            driver.await.map(|e| e.reason.status.code())
        });
        let _ = tx.send(out.map_err(|e| e.to_string()));
    });
    let out = rx.recv_timeout(Duration::from_secs(10)).expect(
        "the driver hung: write_sequence([\"\"]) queues an empty buffer that writev() takes 0 bytes of, forever",
    );
    assert_eq!(out, Ok(Some(0)));
}

/// `abort` stops the callbacks at once and drops the driver: with
/// `kill_on_drop` the child is killed, without it `yes` dies of SIGPIPE on
/// its closed stdout; either way it is reaped (procwire's background
/// reaper), and awaiting the handle is an error.
#[tokio::test]
async fn abort_stops_the_callbacks_and_the_child_is_reaped() {
    for kill_on_drop in [true, false] {
        let (tell, mut told, aborted, late) = Tell::new();
        let mut yes = Command::new("yes");
        yes.kill_on_drop(kill_on_drop);
        let handle = spawn_process(tell, &mut yes, Options::new()).expect("spawn yes");
        let pid = handle.pid().expect("pid");
        // `yes` writes forever: the callbacks would go on without the abort.
        guard(10, "output from yes", async {
            while told.recv().await.expect("the protocol is alive") != "data" {}
        })
        .await;
        handle.abort();
        aborted.store(true, Ordering::SeqCst);
        let result = guard(10, "the aborted handle", handle).await;
        assert!(matches!(result, Err(Error::Io(_))), "kill_on_drop {kill_on_drop}: {result:?}");
        // The task is gone, and the protocol with it: its channel closes.
        guard(10, "the protocol dropped", async { while told.recv().await.is_some() {} }).await;
        until_reaped(pid, "yes after abort").await;
        assert_eq!(late.load(Ordering::SeqCst), 0, "kill_on_drop {kill_on_drop}: callbacks after abort");
    }
}

/// `abort` called in a callback, in the middle of the driver's poll (as
/// from another worker thread): the callbacks that poll would have run
/// next (here `child_connection_lost(1)` for a `close_stdout` made after
/// the abort) do not run.
#[tokio::test]
async fn abort_in_a_callback_stops_the_rest_of_that_poll() {
    let (mut tell, mut told, aborted, late) = Tell::new();
    let slot = Arc::new(std::sync::Mutex::new(None));
    tell.abort_on_data = Some(slot.clone());
    let mut yes = Command::new("yes");
    yes.kill_on_drop(true);
    let handle = spawn_process(tell, &mut yes, Options::new()).expect("spawn yes");
    let pid = handle.pid().expect("pid");
    *slot.lock().expect("slot") = Some(handle);
    guard(10, "the protocol dropped", async { while told.recv().await.is_some() {} }).await;
    assert!(aborted.load(Ordering::SeqCst), "no data from yes before its end");
    assert_eq!(late.load(Ordering::SeqCst), 0, "callbacks after abort");
    let handle = slot.lock().expect("slot").take().expect("the handle");
    assert!(matches!(guard(10, "the aborted handle", handle).await, Err(Error::Io(_))));
    until_reaped(pid, "yes after abort").await;
}

/// With `kill_on_drop`, dropping the handle is `abort`: the child is
/// killed and reaped, and `process_ended` never runs.
#[tokio::test]
async fn dropping_the_handle_with_kill_on_drop_kills_the_child() {
    let (tx, ended) = oneshot::channel();
    let protocol = Detached { done: Some(tx), ..Detached::default() };
    let handle = spawn_process(protocol, &mut pw(["sleep-ms:60000"]), Options::new()).expect("spawn");
    let pid = handle.pid().expect("pid");
    drop(handle);
    until_reaped(pid, "the child of a dropped handle").await;
    assert!(guard(10, "the protocol dropped", ended).await.is_err(), "process_ended ran after the drop");
}

/// Without `kill_on_drop`, dropping the handle detaches the task, as in
/// Twisted: the protocol writes, reads and gets `process_ended` anyway.
#[tokio::test]
async fn dropping_the_handle_without_kill_on_drop_lets_the_protocol_finish() {
    let (tx, ended) = oneshot::channel();
    let protocol = Detached { done: Some(tx), ..Detached::default() };
    let mut cat = Command::new("cat");
    assert!(!cat.get_kill_on_drop());
    let handle = spawn_process(protocol, &mut cat, Options::new()).expect("spawn cat");
    let pid = handle.pid().expect("pid");
    // Dropped before its task first ran: connection_made has not run yet.
    drop(handle);
    let (out, reason) =
        guard(10, "process_ended of a detached task", ended).await.expect("process_ended ran");
    assert_eq!(out, b"written after the handle was dropped\n");
    assert!(reason.status.success(), "{reason:?}");
    assert!(!process_exists(pid), "reaped before process_ended");
}

/// A Twisted-style producer loop, `while !write_buffer_full() { write }`,
/// in `connection_made` and `resume_producing`: the queue never holds more
/// than the high-water mark (from `Options`) plus one chunk, and every byte
/// comes back from `cat`, in order.
#[tokio::test]
async fn write_buffer_full_stops_a_producer_loop_at_the_high_water_mark() {
    const TOTAL: usize = 8 << 20;
    // Not a multiple of the chunk: the mark must come from the options.
    const MARK: usize = 200_000;
    let producer = Producer { total: TOTAL, ..Producer::default() };
    let options = Options::new().write_buffer_limits(50_000, MARK);
    let handle = spawn_process(producer, &mut cat(), options).expect("spawn cat");
    let ended = guard(60, "8 MiB through cat", handle).await.expect("driver");
    let p = ended.protocol;
    assert!(ended.reason.status.success(), "{:?}", ended.reason);
    assert_eq!((p.sent, p.received, p.mismatches), (TOTAL, TOTAL, 0), "bytes sent, back, wrong");
    assert!(p.max_buffered <= MARK + CHUNK, "{} bytes queued", p.max_buffered);
    assert!(p.max_buffered > MARK, "the loop stopped before the mark: {}", p.max_buffered);
    assert!(p.pauses > 0 && p.resumes > 0, "flow control never engaged ({} / {})", p.pauses, p.resumes);
}

// ---------------------------------------------------------------------------------------------

/// The write buffer's high-water mark for the streaming test.
const HIGH: usize = 256 * 1024;
/// The order checker's children write less than this to each fd.
const MAX_FILL: usize = 200 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Made,
    /// One chunk on an fd (recorded once for consecutive chunks).
    Data(RawFd),
    Lost(RawFd),
    Exited,
    Ended,
}

/// What a [`Rec`] saw.
#[derive(Debug, Default)]
struct Log {
    events: Vec<Ev>,
    data: BTreeMap<RawFd, Vec<u8>>,
    exited_at: Option<Instant>,
    ended_at: Option<Instant>,
    stdin_lost_at: Option<Instant>,
    /// Results of transport calls a hook made.
    results: Vec<Result<(), Error>>,
    on_exit: Option<oneshot::Sender<()>>,
}

impl Log {
    fn out(&self, fd: RawFd) -> &[u8] {
        self.data.get(&fd).map_or(&[], Vec::as_slice)
    }
}

type Hook = Box<dyn FnMut(&mut Log, &mut Transport, Ev) + Send>;

/// Records every callback in its [`Log`], then lets its hook act on it.
#[derive(Default)]
struct Rec {
    log: Log,
    hook: Option<Hook>,
}

impl Rec {
    fn new(hook: impl FnMut(&mut Log, &mut Transport, Ev) + Send + 'static) -> Self {
        Rec { log: Log::default(), hook: Some(Box::new(hook)) }
    }

    fn on(&mut self, t: &mut Transport, ev: Ev) {
        if !(matches!(ev, Ev::Data(_)) && self.log.events.last() == Some(&ev)) {
            self.log.events.push(ev);
        }
        match ev {
            Ev::Made => assert!(t.pid().is_some(), "no pid in connection_made"),
            Ev::Exited => self.log.exited_at = Some(Instant::now()),
            Ev::Ended => self.log.ended_at = Some(Instant::now()),
            Ev::Lost(0) => self.log.stdin_lost_at = Some(Instant::now()),
            _ => {}
        }
        if matches!(ev, Ev::Exited | Ev::Ended) {
            assert_eq!(t.pid(), None, "a pid after the reap");
            assert!(matches!(t.signal_process("INT"), Err(Error::ProcessExitedAlready)));
        }
        if let Some(hook) = self.hook.as_mut() {
            hook(&mut self.log, t, ev);
        }
        if let Some(tx) = self.log.on_exit.take_if(|_| ev == Ev::Exited) {
            let _ = tx.send(());
        }
    }
}

impl ProcessProtocol for Rec {
    fn connection_made(&mut self, t: &mut Transport) {
        self.on(t, Ev::Made);
    }
    fn child_data_received(&mut self, t: &mut Transport, fd: RawFd, data: Bytes) {
        self.log.data.entry(fd).or_default().extend_from_slice(&data);
        self.on(t, Ev::Data(fd));
    }
    fn child_connection_lost(&mut self, t: &mut Transport, fd: RawFd) {
        self.on(t, Ev::Lost(fd));
    }
    fn process_exited(&mut self, t: &mut Transport, _status: ExitStatus) {
        self.on(t, Ev::Exited);
    }
    fn process_ended(&mut self, t: &mut Transport, _reason: EndReason) {
        self.on(t, Ev::Ended);
    }
}

/// Twisted's TestProcessProtocol: each stage's input only once the previous
/// stage's output pipe is lost; signal_process tried in process_ended.
fn staged() -> Rec {
    Rec::new(|log, t, ev| match ev {
        Ev::Made => t.write("abcd").expect("write stage 1"),
        Ev::Lost(1) => {
            assert_eq!(log.out(1), b"abcd", "stage 1 output");
            t.write("1234").expect("write stage 2");
        }
        Ev::Lost(2) => {
            assert_eq!(log.out(2), b"1234", "stage 2 output");
            t.write("abcd").expect("write stage 3");
        }
        Ev::Ended => log.results.push(t.signal_process("INT")),
        _ => {}
    })
}

fn check_staged(log: &Log, reason: EndReason) {
    use Ev::*;
    // The child reads stdin until it exits: stdin is lost then, just before or after the reap.
    let without_stdin: Vec<Ev> = log.events.iter().copied().filter(|e| *e != Lost(0)).collect();
    assert_eq!(without_stdin, [Made, Data(1), Lost(1), Data(2), Lost(2), Exited, Ended], "{:?}", log.events);
    let stdin_lost = log.events.iter().position(|e| *e == Lost(0));
    assert!(stdin_lost.is_some_and(|at| at > 4), "stdin lost before stage 3: {:?}", log.events);
    assert_eq!(reason.status.code(), Some(23), "{reason:?}");
    let terminated = reason.status.reason().expect_err("exit 23 is ProcessTerminated");
    assert_eq!(terminated.exit_code(), Some(23));
    assert!(!reason.pipes_force_closed);
    assert!(matches!(log.results[..], [Err(Error::ProcessExitedAlready)]), "{:?}", log.results);
}

/// One random child: `Err` says what went wrong. Every guarantee is checked
/// on the recorded callbacks, and every byte against what the child wrote.
async fn checked_child(seed: u64) -> Result<(), String> {
    let (steps, expected, code) = random_script(&mut Rng(seed));
    let mut command = pw(&steps);
    command.child_fd(3, ChildFd::ReadPipe);
    let handle = spawn_process(Rec::default(), &mut command, Options::new()).map_err(|e| e.to_string())?;
    let ended = guard(60, "checked child", handle).await.map_err(|e| e.to_string())?;
    let log = &ended.protocol.log;
    let mut problems = order_violations(&log.events, &[0, 1, 2, 3]);
    static PATTERN: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| (0..MAX_FILL).map(|i| (i % 251) as u8).collect());
    for (fd, n) in expected {
        if log.out(fd) != &pattern[..n] {
            problems.push(format!("fd {fd}: {} bytes back, child wrote {n}", log.out(fd).len()));
        }
    }
    if ended.reason.status.code() != Some(code) {
        problems.push(format!("status {:?}, want exit {code}", ended.reason.status));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{steps:?}: {}", problems.join("; ")))
    }
}

/// The ordering guarantees, checked on a callback log: connection_made
/// first and once; process_exited once; process_ended once and last; each
/// of `fds` lost once, and no data on it after.
fn order_violations(events: &[Ev], fds: &[RawFd]) -> Vec<String> {
    let count = |ev: Ev| events.iter().filter(|e| **e == ev).count();
    let mut bad = Vec::new();
    if events.first() != Some(&Ev::Made) || count(Ev::Made) != 1 {
        bad.push("connection_made not first, or not once".to_owned());
    }
    if events.last() != Some(&Ev::Ended) || count(Ev::Ended) != 1 || count(Ev::Exited) != 1 {
        bad.push("process_exited not once, or process_ended not last and once".to_owned());
    }
    for &fd in fds {
        match events.iter().position(|e| *e == Ev::Lost(fd)) {
            Some(at) if events[at..].contains(&Ev::Data(fd)) => {
                bad.push(format!("data on fd {fd} after lost"))
            }
            Some(_) if count(Ev::Lost(fd)) == 1 => {}
            _ => bad.push(format!("fd {fd} lost {} times", count(Ev::Lost(fd)))),
        }
    }
    if !bad.is_empty() {
        bad.push(format!("{events:?}"));
    }
    bad
}

/// A pw-child script filling fds 1, 2 and 3 (under 200 KiB each, random
/// order), closing some, and exiting with a random code at a random step:
/// the steps, the bytes each fd gets, the exit code.
fn random_script(rng: &mut Rng) -> (Vec<String>, Vec<(RawFd, usize)>, i32) {
    let mut fds = [1, 2, 3];
    for i in (1..fds.len()).rev() {
        fds.swap(i, rng.below(i + 1));
    }
    // (fd, Some(n)): fill n bytes; (fd, None): close.
    let mut steps: Vec<(RawFd, Option<usize>)> =
        fds.iter().map(|&fd| (fd, Some(rng.below(MAX_FILL)))).collect();
    for fd in fds {
        if rng.below(2) == 0 {
            let after = steps.iter().position(|s| s.0 == fd).expect("fill") + 1;
            steps.insert(after + rng.below(steps.len() - after + 1), (fd, None));
        }
    }
    steps.truncate(rng.below(steps.len() + 1));
    let code = rng.below(256) as i32;
    let filled = |fd| steps.iter().filter(|s| s.0 == fd).find_map(|s| s.1).unwrap_or(0);
    let expected = fds.iter().map(|&fd| (fd, filled(fd))).collect();
    let mut args: Vec<String> = steps
        .iter()
        .map(|&(fd, fill)| fill.map_or(format!("close:{fd}"), |n| format!("fill:{fd}:{n}")))
        .collect();
    args.push(format!("exit:{code}"));
    (args, expected, code)
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// Streams `left` bytes into the child in fresh 64 KiB chunks (so a
/// runaway queue would show in memory), driven by connection_made and
/// resume_producing, and counts what comes back.
#[derive(Debug, Default)]
struct Streamer {
    left: u64,
    paused: bool,
    received: u64,
    pauses: u32,
    resumes: u32,
    calls: u64,
    rss_max: u64,
    progress: Arc<AtomicU64>,
}

impl Streamer {
    /// Writes until the buffer passes the high-water mark, so the driver
    /// must call pause_producing, and later resume_producing.
    fn produce(&mut self, t: &mut Transport) {
        while !self.paused && self.left > 0 && t.buffered() <= HIGH {
            let n = self.left.min(64 * 1024) as usize;
            t.write(vec![b'x'; n]).expect("write");
            self.left -= n as u64;
        }
        if self.left == 0 {
            t.close_stdin();
        }
        self.rss_max = self.rss_max.max(rss_kib());
    }
}

impl ProcessProtocol for Streamer {
    fn connection_made(&mut self, t: &mut Transport) {
        self.produce(t);
    }
    fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
        self.received += data.len() as u64;
        self.progress.store(self.received, Ordering::Relaxed);
        self.calls += 1;
        if self.calls.is_multiple_of(64) {
            self.rss_max = self.rss_max.max(rss_kib());
        }
    }
    fn pause_producing(&mut self, _t: &mut Transport) {
        self.paused = true;
        self.pauses += 1;
    }
    fn resume_producing(&mut self, t: &mut Transport) {
        self.paused = false;
        self.resumes += 1;
        self.produce(t);
    }
}

/// Stops reading at 1 MiB; only process_exited resumes.
#[derive(Debug, Default)]
struct ReadPause {
    received: u64,
    paused_at: Option<u64>,
    data_while_paused: u64,
    exited: bool,
    on_pause: Option<oneshot::Sender<u64>>,
}

impl ProcessProtocol for ReadPause {
    fn out_received(&mut self, t: &mut Transport, data: Bytes) {
        if self.paused_at.is_some() && !self.exited {
            self.data_while_paused += data.len() as u64;
        }
        self.received += data.len() as u64;
        if self.paused_at.is_none() && self.received >= 1 << 20 {
            t.pause_producing();
            self.paused_at = Some(self.received);
            let _ = self.on_pause.take().expect("once").send(self.received);
        }
    }
    fn process_exited(&mut self, t: &mut Transport, _status: ExitStatus) {
        self.exited = true;
        t.resume_producing();
    }
}

/// After process_exited: lost(0), lost(1) and lost(2) in some order (the
/// grandchild holds all three), then process_ended.
fn assert_lost_between_exit_and_end(events: &[Ev]) {
    let exited = events.iter().position(|e| *e == Ev::Exited).expect("exited");
    // Data may be read just before or after the reap; only the lost ones are ordered here.
    let mut tail: Vec<Ev> =
        events[exited + 1..].iter().copied().filter(|e| !matches!(e, Ev::Data(_))).collect();
    assert_eq!(tail.pop(), Some(Ev::Ended), "{events:?}");
    tail.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(tail, [Ev::Lost(0), Ev::Lost(1), Ev::Lost(2)], "{events:?}");
}

/// Awaits `handle`, failing if `progress` stands still for 10 s.
async fn watch<P>(mut handle: ProcessHandle<P>, progress: &AtomicU64, what: &str) -> procwire::Ended<P> {
    let mut last = u64::MAX;
    loop {
        tokio::select! {
            ended = &mut handle => return ended.expect("driver"),
            _ = tokio::time::sleep(Duration::from_secs(10)) => {
                let now = progress.load(Ordering::Relaxed);
                assert_ne!(now, last, "{what}: stalled at {now} bytes for 10 s");
                last = now;
            }
        }
    }
}

fn pw<S: AsRef<std::ffi::OsStr>>(steps: impl IntoIterator<Item = S>) -> Command {
    let mut command = Command::new(pw_child!());
    command.args(steps).kill_on_drop(true);
    command
}

fn cat() -> Command {
    let mut command = Command::new("cat");
    command.kill_on_drop(true);
    command
}

/// This process's resident set size in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).expect("VmRSS");
    line.trim().trim_end_matches("kB").trim().parse().expect("VmRSS in kB")
}

fn read_to_end(fd: std::os::fd::OwnedFd) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut out).expect("read");
    out
}

/// Waits until `pid` is gone from `/proc`: dead and reaped (by procwire's
/// background reaper, which has no event to await), never left a zombie.
async fn until_reaped(pid: u32, what: &str) {
    until_dead(pid, what).await;
    guard(10, what, async {
        while process_exists(pid) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(!zombie_children().contains(&pid), "{what}: a zombie");
}

/// Tells the test about each callback, and counts those that start once
/// the test's `aborted` flag is set (none may).
#[derive(Debug)]
struct Tell {
    tx: mpsc::UnboundedSender<&'static str>,
    aborted: Arc<AtomicBool>,
    late: Arc<AtomicUsize>,
    /// Aborts this handle at the first data, then sets `aborted`.
    abort_on_data: Option<Arc<std::sync::Mutex<Option<ProcessHandle<Tell>>>>>,
}

impl Tell {
    #[allow(clippy::type_complexity)]
    fn new() -> (Tell, mpsc::UnboundedReceiver<&'static str>, Arc<AtomicBool>, Arc<AtomicUsize>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (aborted, late) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        (Tell { tx, aborted: aborted.clone(), late: late.clone(), abort_on_data: None }, rx, aborted, late)
    }

    fn on(&self, what: &'static str) {
        if self.aborted.load(Ordering::SeqCst) {
            self.late.fetch_add(1, Ordering::SeqCst);
        }
        let _ = self.tx.send(what);
    }
}

impl ProcessProtocol for Tell {
    fn connection_made(&mut self, _t: &mut Transport) {
        self.on("made");
    }
    fn child_data_received(&mut self, t: &mut Transport, _fd: RawFd, _data: Bytes) {
        self.on("data");
        if let Some(slot) = self.abort_on_data.take() {
            slot.lock().expect("slot").as_ref().expect("the handle").abort();
            self.aborted.store(true, Ordering::SeqCst);
            // Without the abort, the driver would report this in the same poll.
            t.close_stdout();
        }
    }
    fn child_connection_lost(&mut self, _t: &mut Transport, _fd: RawFd) {
        self.on("lost");
    }
    fn process_exited(&mut self, _t: &mut Transport, _status: ExitStatus) {
        self.on("exited");
    }
    fn process_ended(&mut self, _t: &mut Transport, _reason: EndReason) {
        self.on("ended");
    }
}

/// Writes a line to `cat` and reports what came back at `process_ended`.
#[derive(Debug, Default)]
struct Detached {
    out: Vec<u8>,
    done: Option<oneshot::Sender<(Vec<u8>, EndReason)>>,
}

impl ProcessProtocol for Detached {
    fn connection_made(&mut self, t: &mut Transport) {
        if t.write("written after the handle was dropped\n").is_ok() {
            t.close_stdin();
        }
    }
    fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
        self.out.extend_from_slice(&data);
    }
    fn process_ended(&mut self, _t: &mut Transport, reason: EndReason) {
        if let Some(done) = self.done.take() {
            let _ = done.send((std::mem::take(&mut self.out), reason));
        }
    }
}

/// The producer's write size.
const CHUNK: usize = 64 * 1024;

/// Writes `total` bytes of a pattern in `CHUNK`s while the write buffer is
/// not full, and checks every byte that comes back against the pattern.
#[derive(Debug, Default)]
struct Producer {
    total: usize,
    sent: usize,
    max_buffered: usize,
    received: usize,
    mismatches: usize,
    pauses: u32,
    resumes: u32,
}

fn pattern(at: usize) -> u8 {
    (at % 251) as u8
}

impl Producer {
    fn produce(&mut self, t: &mut Transport) {
        while self.sent < self.total && !t.write_buffer_full() {
            let n = CHUNK.min(self.total - self.sent);
            t.write((self.sent..self.sent + n).map(pattern).collect::<Vec<u8>>()).expect("write");
            self.sent += n;
            self.max_buffered = self.max_buffered.max(t.buffered());
        }
        if self.sent == self.total {
            t.close_stdin();
        }
    }
}

impl ProcessProtocol for Producer {
    fn connection_made(&mut self, t: &mut Transport) {
        self.produce(t);
    }
    fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
        let at = self.received;
        self.mismatches += data.iter().enumerate().filter(|&(i, &b)| b != pattern(at + i)).count();
        self.received += data.len();
    }
    fn pause_producing(&mut self, _t: &mut Transport) {
        self.pauses += 1;
    }
    fn resume_producing(&mut self, t: &mut Transport) {
        self.resumes += 1;
        self.produce(t);
    }
}
