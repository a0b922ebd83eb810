//! The pipe ends as building blocks: shell pipelines made of procwire's
//! own pieces, a writer that learns when the child closed its end, and
//! pipes that grow under bulk transfers.

use std::time::Duration;

use futures::FutureExt;
use procwire::{Child, ChildFd, Command};
use procwire_tests::guard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Guard against hangs only; every test waits on its events.
const LIMIT: u64 = 60;

/// `seq 1 100000 | grep 7 | wc -l`, and what grep said on stderr.
async fn seq_grep_wc() -> (String, String) {
    let mut seq = Command::new("seq").args(["1", "100000"]).stdin(ChildFd::Null).spawn().expect("spawn seq");
    let mut grep = Command::new("grep")
        .arg("7")
        .stdin(seq.take_reader(1).expect("seq's stdout").into())
        .stderr(ChildFd::ReadPipe)
        .spawn()
        .expect("spawn grep");
    let mut wc = Command::new("wc")
        .arg("-l")
        .stdin(grep.take_reader(1).expect("grep's stdout").into())
        .spawn()
        .expect("spawn wc");
    let mut count = String::new();
    wc.take_reader(1).expect("wc's stdout").read_to_string(&mut count).await.expect("read wc");
    let mut complaint = String::new();
    grep.take_reader(2)
        .expect("grep's stderr")
        .read_to_string(&mut complaint)
        .await
        .expect("read grep's stderr");
    for (name, child) in [("seq", &mut seq), ("grep", &mut grep), ("wc", &mut wc)] {
        let status = child.wait().await.expect("wait");
        assert!(status.success(), "{name}: {status} ({complaint})");
    }
    (count, complaint)
}

/// Issue 9, defect 3: the pipe ends handed from one child to the next were
/// left non-blocking, so grep got EAGAIN ("Resource temporarily
/// unavailable") and the pipeline counted 0 or 4188 lines, not 40951.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_from_procwire_pieces_is_exact() {
    guard(LIMIT, "20 pipelines", async {
        for round in 0..20 {
            let (count, complaint) = seq_grep_wc().await;
            assert_eq!((count.trim(), complaint.as_str()), ("40951", ""), "round {round}");
        }
    })
    .await;
}

/// The other direction: a child writing straight into another child's
/// input pipe (`ChildFd::try_from(ChildWriter)`).
#[tokio::test]
async fn child_writes_into_another_childs_input_pipe() {
    guard(LIMIT, "seq > wc's stdin", async {
        let mut wc = Command::new("wc").arg("-l").spawn().expect("spawn wc");
        let stdin = wc.take_writer(0).expect("wc's stdin");
        let mut seq = Command::new("seq")
            .args(["1", "100000"])
            .stdout(stdin.try_into().expect("open writer"))
            .spawn()
            .expect("spawn seq");
        let mut count = String::new();
        wc.take_reader(1).expect("wc's stdout").read_to_string(&mut count).await.expect("read wc");
        assert_eq!(count.trim(), "100000");
        assert!(seq.wait().await.expect("wait seq").success());
        assert!(wc.wait().await.expect("wait wc").success());
    })
    .await;
}

/// Issue 9, defect 6 (core half): a child closing its stdin was seen only
/// at its exit. `ChildWriter::closed` now completes when the child closes
/// it, here about two seconds before the child exits.
#[tokio::test]
async fn child_closing_stdin_is_seen_before_it_exits() {
    let mut child = Command::new("sh")
        .args(["-c", "read x; exec 0<&-; sleep 5"])
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stdin = child.take_writer(0).expect("stdin");
    // The shell cannot close its stdin before it has read a line.
    assert!(stdin.closed().now_or_never().is_none(), "closed before the child read anything");
    stdin.write_all(b"go\n").await.expect("write");
    guard(3, "the child closing its stdin", stdin.closed()).await;
    assert!(child.try_wait().expect("try_wait").is_none(), "seen only at the exit");
    let err = stdin.write_all(b"more").await.expect_err("write after the child closed its end");
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    reap_killed(&mut child).await;

    // Closed on our side: ready at once.
    let mut child = Command::new("cat").stdout(ChildFd::Null).spawn().expect("spawn");
    let mut stdin = child.take_writer(0).expect("stdin");
    stdin.close();
    assert!(stdin.closed().now_or_never().is_some());
    assert!(child.wait().await.expect("wait").success());
}

/// Waiting for the child to close its end must not break writing: a
/// writer whose `closed()` was pending, then idle, still writes 4 MiB
/// (many times the pipe's size) to `cat` and reads back exactly that.
#[tokio::test]
async fn writer_still_writes_after_waiting_for_close() {
    guard(LIMIT, "cat round trip after closed() was pending", async {
        let mut child = Command::new("cat").spawn().expect("spawn cat");
        let mut stdin = child.take_writer(0).expect("stdin");
        let mut stdout = child.take_reader(1).expect("stdout");
        // `cat` keeps its stdin: the timer is a guard that ends the wait.
        tokio::select! {
            () = stdin.closed() => panic!("cat closed its stdin"),
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
        let write = async {
            stdin.write_all(&data).await.expect("write");
            assert!(stdin.closed().now_or_never().is_none(), "cat closed its stdin early");
            stdin.shutdown().await.expect("shutdown");
        };
        let mut echoed = Vec::new();
        let read = stdout.read_to_end(&mut echoed);
        let ((), read) = tokio::join!(write, read);
        read.expect("read");
        assert!(echoed == data, "cat echoed {} bytes, not the {} written", echoed.len(), data.len());
        assert!(child.wait().await.expect("wait").success());
    })
    .await;
}

async fn reap_killed(child: &mut Child) {
    child.signal("KILL").expect("kill");
    let status = guard(10, "reap", child.wait()).await.expect("wait");
    assert_eq!(status.signal(), Some(9));
}

/// Pipes that grow when found full (`F_GETPIPE_SZ` / `F_SETPIPE_SZ`:
/// Linux only, as `Command::pipe_capacity` is).
#[cfg(target_os = "linux")]
mod growth {
    use std::os::fd::{AsFd, BorrowedFd};
    use std::time::Duration;

    use nix::fcntl::{fcntl, FcntlArg};
    use procwire::{ChildFd, Command};
    use procwire_tests::{guard, pw_child};

    use super::LIMIT;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The capacity of the pipe `fd` is an end of.
    fn capacity(fd: BorrowedFd<'_>) -> usize {
        fcntl(fd, FcntlArg::F_GETPIPE_SZ).expect("F_GETPIPE_SZ") as usize
    }

    /// A new pipe's capacity, if this process may grow pipes past it (not when
    /// `/proc/sys/fs/pipe-max-size` is below twice that, or the user's
    /// `pipe-user-pages-soft` budget is spent).
    fn default_capacity_if_pipes_may_grow() -> Option<usize> {
        let (r, _w) = nix::unistd::pipe().expect("pipe");
        let default = capacity(r.as_fd());
        let twice = i32::try_from(default * 2).expect("capacity");
        match fcntl(r.as_fd(), FcntlArg::F_SETPIPE_SZ(twice)) {
            Ok(_) => Some(default),
            Err(e) => {
                println!("skipped: this process may not grow a pipe past {default} bytes ({e})");
                None
            }
        }
    }

    /// 16 MiB through a copying child that starts reading 100 ms late, read
    /// back by a reader that starts 200 ms late in 64 KiB reads, so that both
    /// pipes are found full. Returns the capacities of the input and the
    /// output pipe after the transfer.
    async fn late_round_trip(cmd: &mut Command) -> (usize, usize) {
        let mut child = cmd.args(["sleep-ms:100", "echo:0:1"]).spawn().expect("spawn");
        let mut stdin = child.take_writer(0).expect("stdin");
        let mut stdout = child.take_reader(1).expect("stdout");
        let data: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
        let write = async {
            stdin.write_all(&data).await.expect("write");
            let size = capacity(stdin.fd().expect("open"));
            stdin.shutdown().await.expect("shutdown");
            size
        };
        let read = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut back = Vec::with_capacity(data.len());
            let mut buf = vec![0; 64 << 10];
            loop {
                match stdout.read(&mut buf).await.expect("read") {
                    0 => break back,
                    n => back.extend_from_slice(&buf[..n]),
                }
            }
        };
        let (in_size, back) = guard(LIMIT, "16 MiB round trip", async { tokio::join!(write, read) }).await;
        assert!(back == data, "read back {} bytes, not the {} written", back.len(), data.len());
        assert!(child.wait().await.expect("wait").success());
        (in_size, capacity(stdout.as_fd()))
    }

    /// Issue 20: a pipe found full grows, both the one the parent writes (its
    /// writes hit `EAGAIN`) and the one it reads (a read takes a whole
    /// pipe-full), up to 1 MiB.
    #[tokio::test]
    async fn bulk_transfer_grows_both_pipes() {
        let Some(default) = default_capacity_if_pipes_may_grow() else { return };
        let (in_size, out_size) = late_round_trip(Command::new(pw_child!()).stderr(ChildFd::Null)).await;
        assert!(in_size > default && in_size <= 1 << 20, "input pipe: {in_size} bytes");
        assert!(out_size > default && out_size <= 1 << 20, "output pipe: {out_size} bytes");
    }

    /// Issue 20: small transfers and idle pipes cost nothing extra: the pipes
    /// keep the kernel's default size.
    #[tokio::test]
    async fn small_and_idle_pipes_keep_their_size() {
        let Some(default) = default_capacity_if_pipes_may_grow() else { return };
        let mut child = Command::new("cat").spawn().expect("spawn cat");
        let mut stdin = child.take_writer(0).expect("stdin");
        let mut stdout = child.take_reader(1).expect("stdout");
        assert_eq!(capacity(stdin.fd().expect("open")), default, "idle input pipe");
        assert_eq!(capacity(stdout.as_fd()), default, "idle output pipe");
        let mut line = [0; 32];
        for _ in 0..100 {
            stdin.write_all(&[b'x'; 32]).await.expect("write");
            stdout.read_exact(&mut line).await.expect("read");
        }
        assert_eq!(capacity(stdin.fd().expect("open")), default, "input pipe after 100 lines");
        assert_eq!(capacity(stdout.as_fd()), default, "output pipe after 100 lines");
        stdin.shutdown().await.expect("shutdown");
        assert!(child.wait().await.expect("wait").success());
    }

    /// Issue 20: `Command::pipe_capacity` wins: the pipes it sized stay that
    /// size under the same bulk transfer.
    #[tokio::test]
    async fn pipe_capacity_set_by_the_user_is_kept() {
        const SIZE: usize = 16 << 10;
        let (in_size, out_size) =
            late_round_trip(Command::new(pw_child!()).stderr(ChildFd::Null).pipe_capacity(SIZE)).await;
        assert_eq!((in_size, out_size), (SIZE, SIZE));
    }
}
