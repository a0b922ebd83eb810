//! A `ProcessHandle` and the driver under it: an empty write sequence,
//! `abort` (from outside and from a callback), dropping the handle with
//! and without `kill_on_drop`, and `write_buffer_full` stopping a producer
//! loop at the high-water mark.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use procwire::{
    run_process, spawn_process, ChildFd, Command, EndReason, Error, ExitStatus, Options, ProcessHandle,
    ProcessProtocol, Transport,
};
use procwire_tests::{guard, process_exists, pw_child, until_dead, zombie_children};
use tokio::sync::{mpsc, oneshot};

include!("protocol_common.rs");

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
