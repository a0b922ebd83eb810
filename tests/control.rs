//! `Control`: acting on a driven process from outside its callbacks —
//! writes, closes and reading flow control from another task, with the
//! same errors as the transport.

use std::time::Duration;

use procwire::{run_process, spawn_process, Bytes, Command, Error, Options, ProcessProtocol, Transport};
use procwire_tests::guard;
use tokio::sync::mpsc;

/// Forwards every chunk of stdout to the test, and pauses reading at once
/// when asked to.
struct Relay {
    out: mpsc::UnboundedSender<Bytes>,
    start_paused: bool,
}

impl ProcessProtocol for Relay {
    fn connection_made(&mut self, t: &mut Transport) {
        if self.start_paused {
            t.pause_producing();
        }
    }
    fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
        let _ = self.out.send(data);
    }
}

/// Another task writes to `cat` and closes its stdin; the echo comes back
/// and the process ends. Writes to an fd without an input pipe, or after
/// stdin was closed, are `NoInputPipe`, as on the transport.
#[tokio::test]
async fn writes_and_closes_from_another_task() {
    let (out, mut echoed) = mpsc::unbounded_channel();
    let mut cat = Command::new("cat");
    cat.kill_on_drop(true);
    let handle =
        spawn_process(Relay { out, start_paused: false }, &mut cat, Options::new()).expect("spawn cat");
    let control = handle.control();
    assert!(matches!(control.write_to_child(5, "x"), Err(Error::NoInputPipe { fd: 5 })));
    let writer = tokio::spawn({
        let control = control.clone();
        async move {
            control.write("from another task\n").expect("write");
            control.close_stdin();
            assert!(matches!(control.write("late"), Err(Error::NoInputPipe { fd: 0 })));
        }
    });
    guard(10, "the writing task", writer).await.expect("the writing task's assertions");
    let ended = guard(10, "cat ends once stdin is closed", handle).await.expect("driver");
    assert!(ended.reason.status.success());
    let mut got = Vec::new();
    while let Ok(chunk) = echoed.try_recv() {
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, b"from another task\n");
    assert!(matches!(control.write("after the end"), Err(Error::NoInputPipe { fd: 0 })));
    assert!(matches!(control.signal_process("TERM"), Err(Error::ProcessExitedAlready)));
}

/// A protocol that paused reading is resumed from outside: nothing is
/// delivered while paused, everything after.
#[tokio::test]
async fn reading_resumed_from_outside() {
    let (out, mut echoed) = mpsc::unbounded_channel();
    let mut cat = Command::new("cat");
    cat.kill_on_drop(true);
    let handle =
        spawn_process(Relay { out, start_paused: true }, &mut cat, Options::new()).expect("spawn cat");
    let control = handle.control();
    control.write("held back\n").expect("write");
    // A negative check needs a window: nothing may arrive while paused.
    let early = tokio::time::timeout(Duration::from_millis(300), echoed.recv()).await;
    assert!(early.is_err(), "data delivered while reading was paused: {early:?}");
    control.resume_producing();
    let chunk = guard(10, "data after resume", echoed.recv()).await.expect("chunk");
    assert_eq!(&chunk[..], b"held back\n");
    control.close_stdin();
    let ended = guard(10, "cat ends", handle).await.expect("driver");
    assert!(ended.reason.status.success());
}

/// Issue 9, defect 7's audit: a write that cannot be delivered is never
/// `Ok`; once the driver is dropped, nothing would carry it out.
#[tokio::test]
async fn control_write_after_the_driver_is_dropped_is_an_error() {
    let (out, _echoed) = mpsc::unbounded_channel();
    let mut cat = Command::new("cat");
    cat.kill_on_drop(true);
    let driver =
        run_process(Relay { out, start_paused: false }, &mut cat, Options::new()).expect("spawn cat");
    let control = driver.control();
    control.write("while the driver exists\n").expect("write");
    drop(driver); // kills and reaps `cat` in the background
    assert!(matches!(control.write("nobody to write it"), Err(Error::NoInputPipe { fd: 0 })));
}

/// `Control::buffered` counts a control's writes at once, so a loop
/// `while !write_buffer_full() { write }` stops at the high-water mark from
/// `Options` plus one chunk; the driver takes them off as the child reads
/// them, and the count is 0 once the driver is gone.
#[tokio::test]
async fn control_write_buffer_full_stops_a_writer_at_the_high_water_mark() {
    const CHUNK: usize = 64 * 1024;
    const MARK: usize = 100_000;
    let (out, mut echoed) = mpsc::unbounded_channel();
    let mut cat = Command::new("cat");
    cat.kill_on_drop(true);
    let options = Options::new().write_buffer_limits(10_000, MARK);
    let handle = spawn_process(Relay { out, start_paused: false }, &mut cat, options).expect("spawn cat");
    let control = handle.control();
    assert_eq!((control.buffered(), control.write_buffer_full()), (0, false));
    let mut sent = 0;
    while !control.write_buffer_full() {
        control.write(vec![b'x'; CHUNK]).expect("write");
        sent += CHUNK;
    }
    // Nothing ran in between (one thread): every write is still counted.
    assert_eq!(control.buffered(), sent);
    assert!(sent > MARK && sent <= MARK + CHUNK, "{sent} bytes written before full");
    let mut back = 0;
    guard(10, "the writes echoed", async {
        while back < sent {
            back += echoed.recv().await.expect("cat's output").len();
        }
    })
    .await;
    // The driver's poll that delivered the last bytes has updated the count.
    assert_eq!((control.buffered(), control.write_buffer_full()), (0, false));
    control.close_stdin();
    let ended = guard(10, "cat ends", handle).await.expect("driver");
    assert!(ended.reason.status.success());
    assert_eq!(control.buffered(), 0, "the driver is gone");
}
