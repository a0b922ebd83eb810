//! The protocol layer (`ProcessProtocol` driven by `spawn_process` and
//! `run_process`): Twisted's test_process cases (staged pipes, echo,
//! linger), the drain deadline against a grandchild holding stdout, an
//! order checker over 1,000 random children, flow control both ways,
//! transport errors, and a protocol on a terminal. What aborting or
//! dropping a `ProcessHandle` does, and `write_buffer_full`, are in
//! `protocol_handle.rs`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use procwire::{
    spawn_process, ChildFd, Command, EndReason, Error, ExitStatus, Options, ProcessHandle, ProcessProtocol,
    PtySize, Transport,
};
use procwire_tests::{guard, process_exists, pw_child, until_dead, zombie_children};
use tokio::sync::{mpsc, oneshot};

include!("protocol_common.rs");

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
    let (witness, witness_w) = procwire_tests::pipe_cloexec();
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

/// Pauses reading from a child writing 8 MiB to `command`'s stdout, waits,
/// kills it, and returns the bytes delivered after the pause.
async fn bytes_after_a_paused_read(mut command: Command) -> u64 {
    let (tx, paused) = oneshot::channel();
    let protocol = ReadPause { on_pause: Some(tx), ..ReadPause::default() };
    let handle = spawn_process(protocol, &mut command, Options::new()).expect("spawn");
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
    p.received - paused_at
}

#[tokio::test]
async fn paused_reading_pushes_back_on_the_child() {
    // What the child wrote after the pause fits in the pipe: procwire did not
    // read on. On Linux a pipe found full grows, up to 1 MiB (documented on
    // `Command::pipe_capacity`), so that is what it may hold.
    let after = bytes_after_a_paused_read(pw(["fill:1:8388608"])).await;
    assert!(after <= 1 << 20, "{after} bytes after the pause: more than a grown pipe holds");
}

#[tokio::test]
#[cfg(target_os = "linux")]
async fn paused_reading_pushes_back_with_a_pipe_of_fixed_size() {
    // A capacity set by the user is kept: 64 KiB, and not a byte more read on.
    let mut command = pw(["fill:1:8388608"]);
    command.pipe_capacity(64 * 1024);
    let after = bytes_after_a_paused_read(command).await;
    assert!(after <= 64 * 1024, "{after} bytes after the pause: the pipe grew past the 64 KiB set");
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
