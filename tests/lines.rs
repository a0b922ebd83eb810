//! The line stream (`spawn_lines`, `ProcessLines`): every line of every
//! output fd once, with its fd, each fd in its own order, then the exit
//! status last; `ByteLines`' rules for bytes that are not UTF-8, long
//! lines and a last line without `\n`; and no zombie when it is dropped.

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use futures::StreamExt;
use procwire::{spawn_lines, ChildFd, Command, ExitStatus, LineEvent, ProcessLines, StdioDefaults};
use procwire_tests::{guard, process_exists, pw_child};
use tokio::io::AsyncWriteExt;

/// Every item of `lines`, through `next_line`.
async fn all(mut lines: ProcessLines) -> Vec<LineEvent> {
    guard(20, "every line and the status", async {
        let mut events = Vec::new();
        while let Some(event) = lines.next_line().await.expect("next line") {
            events.push(event);
        }
        events
    })
    .await
}

/// The lines of `events` as `(fd, text)`, and the status they end with
/// (checked to be the last item, and the only status).
fn split(events: &[LineEvent]) -> (Vec<(RawFd, String)>, ExitStatus) {
    let Some((LineEvent::Exited(status), lines)) = events.split_last() else {
        panic!("the status is not the last item: {events:?}")
    };
    let lines = lines
        .iter()
        .map(|event| match event {
            LineEvent::Line(line) => (line.fd, line.to_string()),
            other => panic!("not a line: {other:?}"),
        })
        .collect();
    (lines, *status)
}

/// Two thousand numbered lines on stdout and as many on stderr, written
/// alternately: each arrives once, with the fd it was written to, each
/// fd's in the order written, and the exit status comes last, after all.
#[tokio::test]
async fn interleaved_stdout_and_stderr_lines_come_once_in_order_then_the_status() {
    const N: usize = 2000;
    let script =
        format!("i=0; while [ $i -lt {N} ]; do echo out $i; echo err $i >&2; i=$((i+1)); done; exit 3");
    let lines = spawn_lines(Command::new("sh").args(["-c", &script]).kill_on_drop(true)).expect("spawn sh");
    let (lines, status) = split(&all(lines).await);
    assert_eq!(status.code(), Some(3));
    let mut per_fd: BTreeMap<RawFd, Vec<String>> = BTreeMap::new();
    for (fd, text) in lines {
        per_fd.entry(fd).or_default().push(text);
    }
    assert_eq!(per_fd.keys().copied().collect::<Vec<_>>(), [1, 2]);
    for (fd, name) in [(1, "out"), (2, "err")] {
        let want: Vec<String> = (0..N).map(|i| format!("{name} {i}")).collect();
        assert_eq!(per_fd[&fd], want, "fd {fd}: every line once, in order");
    }
}

/// A line that is not UTF-8 keeps its bytes, reads lossily as text, and
/// the stream goes on to the next line and the status.
#[tokio::test]
async fn a_line_that_is_not_utf8_is_kept_and_the_stream_goes_on() {
    let lines = spawn_lines(Command::new("printf").arg(r"a\n\377b\r\nc\n")).expect("spawn printf");
    let events = all(lines).await;
    let bytes: Vec<&[u8]> = events
        .iter()
        .filter_map(|e| if let LineEvent::Line(line) = e { Some(&line.bytes[..]) } else { None })
        .collect();
    assert_eq!(bytes, [&b"a"[..], b"\xffb", b"c"], "exactly as written, without `\\r\\n`");
    let (text, status) = split(&events);
    assert_eq!(text[1], (1, "\u{fffd}b".to_owned()));
    assert!(status.success());
}

/// `Lines`' rule: a line over the maximum is one `TooLong`, as soon as it
/// is known, and the line after it comes whole; the maximum counts the
/// line without its `\r\n`.
#[tokio::test]
async fn a_line_over_the_maximum_is_reported_and_the_next_comes() {
    let long = "x".repeat(100_000);
    let mut cmd = Command::new(pw_child!());
    cmd.args(["write:1:12345678\\x0d\\n".to_owned(), format!("write:1:{long}\\nafter\\n")]);
    let events = all(spawn_lines(&mut cmd).expect("spawn").max_length(8)).await;
    let first =
        |b: &'static [u8]| LineEvent::Line(procwire::OutputLine::new(1, procwire::Bytes::from_static(b)));
    assert_eq!(
        events,
        [
            first(b"12345678"),
            LineEvent::TooLong { fd: 1 },
            first(b"after"),
            LineEvent::Exited(ExitStatus::from_raw(0))
        ]
    );
}

/// The last line of each fd comes even without its `\n`, before the
/// status; an empty line is a line, and output ending in `\n` gives no
/// extra one.
#[tokio::test]
async fn unterminated_last_lines_come_before_the_status() {
    let mut cmd = Command::new(pw_child!());
    cmd.args(["write:1:one\\n\\ntwo", "write:2:err\\n", "write:2:tail", "exit:1"]);
    let (mut lines, status) = split(&all(spawn_lines(&mut cmd).expect("spawn")).await);
    lines.sort_by_key(|(fd, _)| *fd); // stable: each fd keeps its order
    let want = [(1, "one"), (1, ""), (1, "two"), (2, "err"), (2, "tail")];
    assert_eq!(lines, want.map(|(fd, text)| (fd, text.to_owned())));
    assert_eq!(status.code(), Some(1));
}

/// A child that closes its stdout and goes on: the stream does not end
/// with stdout, but gives stderr's later lines, then the status.
#[tokio::test]
async fn a_child_that_closes_stdout_early_keeps_its_stream_open() {
    let mut cmd = Command::new(pw_child!());
    cmd.args(["write:1:first\\n", "close:1", "sleep-ms:200", "write:2:late\\n", "exit:5"]);
    let (lines, status) = split(&all(spawn_lines(&mut cmd).expect("spawn")).await);
    assert_eq!(lines, [(1, "first".to_owned()), (2, "late".to_owned())]);
    assert_eq!(status.code(), Some(5));
}

/// Dropped after a few lines, the stream leaves no zombie: a child still
/// writing dies of `SIGPIPE` and one that is not is killed
/// (`kill_on_drop`); both are reaped in the background.
#[tokio::test]
async fn dropping_the_stream_midway_leaves_no_zombie() {
    let mut yes = Command::new("yes");
    let mut quiet = Command::new(pw_child!());
    quiet.args(["write:1:ready\\n", "sleep-ms:600000"]).kill_on_drop(true);
    let mut pids = Vec::new();
    for cmd in [&mut yes, &mut quiet] {
        let mut lines = spawn_lines(cmd).expect("spawn");
        pids.push(lines.transport().and_then(|t| t.pid()).expect("pid"));
        let first = guard(10, "a first line", lines.next()).await.expect("an item").expect("a line");
        assert!(matches!(first, LineEvent::Line(_)), "{first:?}");
    }
    // Gone from `/proc`: dead and reaped, not a zombie.
    guard(10, "both children reaped", async {
        while pids.iter().any(|&pid| process_exists(pid)) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// `spawn_lines` gives the child an empty stdin (`cat` ends at once);
/// `ProcessLines::new` takes a child whose stdin the caller writes; a
/// stdin pipe the command asks for is written through the transport.
#[tokio::test]
async fn stdin_is_empty_unless_the_caller_writes_it() {
    let (lines, status) = split(&all(spawn_lines(&mut Command::new("cat")).expect("spawn cat")).await);
    assert_eq!((lines, status.success()), (Vec::new(), true));

    let mut child = Command::new("cat").spawn_with(StdioDefaults::Twisted).expect("spawn cat");
    let mut stdin = child.take_writer(0).expect("stdin");
    let lines = ProcessLines::new(child);
    let feed = async {
        stdin.write_all(b"fed\n").await.expect("write");
        stdin.shutdown().await.expect("close stdin");
    };
    let ((), events) = tokio::join!(feed, all(lines));
    assert_eq!(split(&events).0, [(1, "fed".to_owned())]);
    let mut piped = Command::new("cat");
    piped.stdin(ChildFd::WritePipe);
    let mut lines = spawn_lines(&mut piped).expect("spawn cat");
    let transport = lines.transport().expect("not ended");
    transport.write("through the transport\n").expect("write");
    transport.close_stdin();
    assert_eq!(split(&all(lines).await).0, [(1, "through the transport".to_owned())]);
}

/// The stream moves to another task (`tokio::spawn`), and its items to
/// other threads: checked by the compiler.
#[test]
fn the_stream_is_send_and_unpin_and_its_items_send_and_sync() {
    fn send_unpin<T: Send + Unpin>() {}
    fn send_sync<T: Send + Sync>() {}
    send_unpin::<ProcessLines>();
    send_sync::<LineEvent>();
    send_sync::<procwire::OutputLine>();
    send_sync::<procwire::lines::LineFramer>();
}

/// A grandchild holding stdout keeps the stream open until it closes it;
/// with a drain deadline the stream ends that long after the child's exit,
/// with every line written before and the status last, while the
/// grandchild still runs (it sleeps 5 s).
#[tokio::test]
async fn a_drain_deadline_ends_the_stream_a_grandchild_holds_open() {
    use std::time::{Duration, Instant};
    // Our own pipe on child fd 3, inherited by the grandchild: its EOF says
    // the grandchild is gone.
    let (witness, witness_w) = procwire_tests::pipe_cloexec();
    let mut cmd = Command::new(pw_child!());
    cmd.args(["write:1:hi\n", "grandchild:5", "exit:0"]).child_fd(3, ChildFd::Fd(witness_w));
    let child = cmd.spawn_with(StdioDefaults::Twisted).expect("spawn");
    drop(cmd); // it holds our write end of the witness pipe
    let started = Instant::now();
    let options = procwire::Options::new().drain_deadline(Duration::from_millis(300));
    let (lines, status) = split(&all(ProcessLines::with_options(child, options)).await);
    let ended = started.elapsed();
    assert_eq!(lines, [(1, "hi".to_string())]);
    assert_eq!(status.code(), Some(0));
    // At the deadline, not at the grandchild's exit 5 s later (the upper
    // bound leaves room for a loaded machine).
    assert!(ended < Duration::from_millis(4000), "ended {ended:?} after the spawn");
    // The grandchild outlived the stream; wait for it, so nothing is left.
    guard(
        10,
        "grandchild exit",
        tokio::task::spawn_blocking(move || {
            std::io::copy(&mut std::fs::File::from(witness), &mut std::io::sink())
        }),
    )
    .await
    .expect("join")
    .expect("read the witness pipe");
    assert!(started.elapsed() >= Duration::from_millis(4500), "the grandchild was gone before the check");
}
