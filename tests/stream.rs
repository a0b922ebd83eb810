//! The stream form (`spawn_events`) and line framing (`Lines`): the same
//! ordering guarantees as the callbacks, writers handed out beside the
//! stream, and lines on any fd with a maximum length.

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use futures::StreamExt;
use procwire::{
    spawn_events, spawn_process, ByteLineProtocol, ByteLines, Bytes, ChildFd, Command, Event, LineProtocol,
    Lines, Options, ProcessProtocol, Transport,
};
use procwire_tests::{guard, pw_child};
use tokio::io::AsyncWriteExt;

/// Events arrive in the guaranteed order: no data on an fd after it is
/// closed, `Exited` once, `Ended` once and last, then the stream ends; and
/// every byte the child wrote on fds 1, 2 and 3 is there.
#[tokio::test]
async fn events_keep_the_protocol_order_and_deliver_everything() {
    let mut cmd = Command::new(pw_child!());
    cmd.args(["fill:1:300000", "fill:3:70000", "close:3", "fill:2:1000", "exit:4"])
        .child_fd(3, ChildFd::ReadPipe)
        .kill_on_drop(true);
    let (mut events, writers) = spawn_events(&mut cmd, Options::new()).expect("spawn");
    assert_eq!(writers.iter().map(|w| w.child_fd()).collect::<Vec<_>>(), [0], "stdin handed out");
    let mut bytes: BTreeMap<RawFd, usize> = BTreeMap::new();
    let mut closed = Vec::new();
    let (mut exited, mut ended) = (0, 0);
    guard(20, "all events", async {
        while let Some(event) = events.next().await {
            assert_eq!(ended, 0, "an event after Ended: {event:?}");
            match event.expect("event") {
                Event::Data { fd, data } => {
                    assert!(!closed.contains(&fd), "data on fd {fd} after it closed");
                    *bytes.entry(fd).or_default() += data.len();
                }
                Event::Closed { fd } => closed.push(fd),
                Event::Exited(status) => {
                    exited += 1;
                    assert_eq!(status.code(), Some(4));
                }
                Event::Ended(reason) => {
                    ended += 1;
                    assert_eq!(exited, 1, "Ended before Exited");
                    assert!(!reason.pipes_force_closed);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    assert_eq!((exited, ended), (1, 1));
    assert_eq!(bytes, BTreeMap::from([(1, 300_000), (2, 1000), (3, 70_000)]));
    closed.sort_unstable();
    assert_eq!(closed, [1, 2, 3], "every output pipe reported closed");
    drop(writers);
}

/// The writers beside the stream reach the child: `cat` echoes what is
/// written, and ends when the writer is shut down.
#[tokio::test]
async fn writers_beside_the_stream_feed_the_child() {
    let (mut events, mut writers) =
        spawn_events(Command::new("cat").kill_on_drop(true), Options::new()).expect("spawn cat");
    let mut stdin = writers.pop().expect("stdin");
    let feed = async {
        stdin.write_all(b"through the stream\n").await.expect("write");
        stdin.shutdown().await.expect("close stdin");
    };
    let collect = async {
        let mut out = Vec::new();
        while let Some(event) = events.next().await {
            if let Event::Data { fd: 1, data } = event.expect("event") {
                out.extend_from_slice(&data);
            }
        }
        out
    };
    let ((), out) = guard(10, "cat through the stream", async { tokio::join!(feed, collect) }).await;
    assert_eq!(out, b"through the stream\n");
}

#[derive(Default)]
struct Collect {
    lines: Vec<(RawFd, String)>,
    rejected: Vec<RawFd>,
    lost: Vec<RawFd>,
}

impl ProcessProtocol for Collect {
    fn child_connection_lost(&mut self, _t: &mut Transport, fd: RawFd) {
        self.lost.push(fd);
    }
}

impl LineProtocol for Collect {
    fn line_received(&mut self, _t: &mut Transport, fd: RawFd, line: String) {
        assert!(!self.lost.contains(&fd), "line on fd {fd} after it was lost");
        self.lines.push((fd, line));
    }
    fn line_length_exceeded(&mut self, _t: &mut Transport, fd: RawFd) {
        self.rejected.push(fd);
    }
}

/// Lines on any fd: split across writes, CRLF stripped, a line over the
/// maximum rejected without losing the next, and a last line without a
/// newline delivered before its fd is lost.
#[tokio::test]
async fn lines_on_any_fd_with_a_maximum_length() {
    let long = "x".repeat(100);
    let mut cmd = Command::new(pw_child!());
    cmd.args([
        "write:1:one\\ntw".to_owned(),
        "write:1:o\\x0d\\nthree".to_owned(),
        format!("write:3:{long}\\nshort\\n"),
        "write:3:tail".to_owned(),
    ])
    .child_fd(3, ChildFd::ReadPipe)
    .kill_on_drop(true);
    let handle = spawn_process(Lines::new(Collect::default(), 16), &mut cmd, Options::new()).expect("spawn");
    let ended = guard(10, "line child", handle).await.expect("driver");
    assert_eq!(ended.reason.status.code(), Some(0), "every pw-child step ran");
    let got = ended.protocol.into_inner();
    let on =
        |fd: RawFd| got.lines.iter().filter(|(f, _)| *f == fd).map(|(_, l)| l.as_str()).collect::<Vec<_>>();
    assert_eq!(on(1), ["one", "two", "three"]);
    assert_eq!(on(3), ["short", "tail"]);
    assert_eq!(got.rejected, [3], "the 100-byte line is over the 16-byte maximum");
    assert!(got.lost.contains(&1) && got.lost.contains(&3));
}

/// Only `line_received`, as most users write it.
#[derive(Default)]
struct Plain {
    text: Vec<String>,
    bytes: Vec<Bytes>,
}

impl ProcessProtocol for Plain {}

impl LineProtocol for Plain {
    fn line_received(&mut self, _t: &mut Transport, _fd: RawFd, line: String) {
        self.text.push(line);
    }
}

impl ByteLineProtocol for Plain {
    fn line_received(&mut self, _t: &mut Transport, _fd: RawFd, line: Bytes) {
        self.bytes.push(line);
    }
}

// Issue 9, defect 4: `printf 'a\n\377b\nc\n'` gave ["a", "c"] to a protocol with only
// `line_received`: the line that is not UTF-8 was dropped without a word.
#[tokio::test]
async fn lines_non_utf8_line_from_a_child_is_not_lost_silently() {
    let printf = || {
        let mut command = Command::new("printf");
        command.arg(r"a\n\377b\r\nc\n").kill_on_drop(true);
        command
    };
    let handle =
        spawn_process(Lines::new(Plain::default(), 80), &mut printf(), Options::new()).expect("spawn");
    let text = guard(10, "printf through Lines", handle).await.expect("driver").protocol.into_inner().text;
    assert_eq!(text, ["a", "\u{fffd}b", "c"], "lossily decoded, not dropped");
    let handle =
        spawn_process(ByteLines::new(Plain::default(), 80), &mut printf(), Options::new()).expect("spawn");
    let bytes =
        guard(10, "printf through ByteLines", handle).await.expect("driver").protocol.into_inner().bytes;
    assert_eq!(bytes, [&b"a"[..], b"\xffb", b"c"], "exactly as written");
}
