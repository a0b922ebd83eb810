//! Pseudo-terminals (Twisted's `usePTY`): the child's controlling terminal
//! and `/dev/tty`, window sizes and SIGWINCH, exit statuses and output up to
//! end of file, pipes on fds 3 and up beside the terminal, a caller's own
//! pair, split halves, and no descriptor or zombie left behind.
//!
//! Every test takes [`LOCK`] before building its runtime (see [`serial`]):
//! the descriptor and zombie checks look at the whole process, which a
//! sibling test's terminals and children would change under them.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use nix::pty::{openpty, Winsize};
use procwire::{Child, ChildFd, Command, Error, InputError, PtySize};
use procwire_tests::{
    guard, in_own_process, open_fds, parse_report, process_exists, pw_child, start_orphan_reaper,
    zombie_children,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Serialises the tests of this binary: they count process-wide things.
static LOCK: Mutex<()> = Mutex::new(());

// Mirrors Twisted test_process: PosixProcessTestCasePTY.test_openingTTY
// (process_tty.py reads a line from /dev/tty and writes it back).
#[test]
fn child_opens_dev_tty_and_the_master_reads_it() {
    serial(async {
        let mut child = sh(r#"read line < /dev/tty; printf '%s\n' "$line" > /dev/tty"#)
            .pty(PtySize::default())
            .spawn()
            .expect("spawn");
        let mut master = child.take_pty().expect("master");
        assert!(child.take_pty().is_none(), "the master can be taken once");
        master.write_all(b"hello world!\n").await.expect("write");
        // The terminal's echo of our line, then the child's copy of it.
        assert_eq!(read_to_eof(&mut master).await, b"hello world!\r\nhello world!\r\n");
        let status = guard(10, "wait", child.wait()).await.expect("wait");
        assert_eq!(status.code(), Some(0), "{status:?}");
        assert!(matches!(child.signal("HUP"), Err(Error::ProcessExitedAlready)));

        // The brief's variant: two writes to /dev/tty, nothing typed.
        let mut child = sh(r#"printf "hello world!\n" > /dev/tty; printf "hello world!\n" > /dev/tty"#)
            .pty(PtySize::default())
            .spawn()
            .expect("spawn");
        let mut master = child.take_pty().expect("master");
        assert_eq!(read_to_eof(&mut master).await, b"hello world!\r\nhello world!\r\n");
        assert_eq!(guard(10, "wait", child.wait()).await.expect("wait").code(), Some(0));
    });
}

#[test]
fn stty_size_is_the_size_set_at_spawn() {
    serial(async {
        let size = PtySize::new(40, 100).with_pixels(800, 600);
        let mut child = Command::new("stty").arg("size").pty(size).kill_on_drop(true).spawn().expect("spawn");
        let mut master = child.take_pty().expect("master");
        assert_eq!(master.size().expect("size"), size, "pixels must round-trip too");
        assert_eq!(read_to_eof(&mut master).await, b"40 100\r\n");
        assert_eq!(guard(10, "wait", child.wait()).await.expect("wait").code(), Some(0));
        // The terminal outlives the child while the master is open.
        let resized = PtySize::new(1, 2).with_pixels(3, 4);
        master.resize(resized).expect("resize");
        assert_eq!(master.size().expect("size"), resized);
    });
}

#[test]
fn resize_sends_sigwinch_and_the_child_sees_the_new_size() {
    serial(async {
        // `wait` returns early when the trapped SIGWINCH arrives; the trap
        // is set before "ready" is written, and takes its `sleep` along.
        let mut child =
            sh(r#"trap 'stty size; kill $!; exit 0' WINCH; echo ready; while :; do sleep 1 & wait $!; done"#)
                .pty(PtySize::new(24, 80))
                .spawn()
                .expect("spawn");
        let mut master = child.take_pty().expect("master");
        guard(20, "resize round trip", async {
            let mut seen = Vec::new();
            read_until(&mut master, &mut seen, b"ready\r\n").await;
            master.resize(PtySize::new(33, 77)).expect("resize");
            assert_eq!(master.size().expect("size"), PtySize::new(33, 77));
            read_until(&mut master, &mut seen, b"33 77\r\n").await;
            let status = child.wait().await.expect("wait");
            assert_eq!(status.code(), Some(0), "{status:?}; output {:?}", String::from_utf8_lossy(&seen));
        })
        .await;
    });
}

// Mirrors Twisted test_process: PosixProcessTestCasePTY's test_signalHUP /
// INT / KILL / TERM, test_normalTermination and test_abnormalTermination.
#[test]
fn pty_child_reports_signals_and_exit_codes() {
    serial(async {
        for (name, num) in [("HUP", 1), ("INT", 2), ("KILL", 9), ("TERM", 15)] {
            let mut child = Command::new(pw_child!())
                .arg("sleep-ms:60000")
                .pty(PtySize::default())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn");
            let mut master = child.take_pty().expect("master");
            child.signal(name).expect("signal");
            assert_eq!(read_to_eof(&mut master).await, b"", "SIG{name}");
            let status = guard(10, "wait", child.wait()).await.expect("wait");
            assert_eq!((status.signal(), status.code()), (Some(num), None), "SIG{name}: {status:?}");
        }
        for code in [0, 1] {
            let mut child = sh(&format!("exit {code}")).pty(PtySize::default()).spawn().expect("spawn");
            let mut master = child.take_pty().expect("master");
            assert_eq!(read_to_eof(&mut master).await, b"");
            let status = guard(10, "wait", child.wait()).await.expect("wait");
            assert_eq!((status.code(), status.signal()), (Some(code), None), "{status:?}");
        }
    });
}

#[test]
fn all_output_written_before_exit_arrives_before_eof() {
    serial(async {
        // 200 KiB is far more than a terminal buffers: the child can only
        // finish while we read. `-opost` keeps the bytes as written (no
        // "\n" -> "\r\n"), so they can be compared one by one.
        const N: usize = 200 * 1024;
        let mut child = sh(&format!("stty -opost && exec {} fill:1:{N}", pw_child!()))
            .pty(PtySize::default())
            .spawn()
            .expect("spawn");
        let mut master = child.take_pty().expect("master");
        let (out, status) = guard(20, "read while the child writes, and wait", async {
            let mut out = Vec::new();
            let (read, status) = tokio::join!(master.read_to_end(&mut out), child.wait());
            read.expect("read to EOF");
            (out, status.expect("wait"))
        })
        .await;
        assert_eq!(status.code(), Some(0), "{status:?}");
        assert_eq!(out.len(), N, "bytes lost or added before EOF");
        let first_bad = out.iter().enumerate().position(|(i, &b)| b != (i % 251) as u8);
        assert_eq!(first_bad, None, "the bytes differ from what the child wrote");
    });
}

#[test]
fn pty_on_stdio_with_pipes_on_fds_3_and_4() {
    serial(async {
        let mut child = Command::new(pw_child!())
            .args(["read:3:4:ping", "write:4:pong\\n", "report:4", "write:1:on the terminal"])
            .pty(PtySize::default())
            .child_fd(3, ChildFd::WritePipe)
            .child_fd(4, ChildFd::ReadPipe)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn");
        // The default map's pipes on 0, 1 and 2 give way to the terminal.
        assert!(child.take_writer(0).is_none() && child.take_reader(1).is_none());
        assert!(child.take_reader(2).is_none());
        let mut master = child.take_pty().expect("master");
        let mut to_child = child.take_writer(3).expect("writer on fd 3");
        let mut from_child = child.take_reader(4).expect("reader on fd 4");
        to_child.write_all(b"ping").await.expect("write ping");
        to_child.close();
        let mut text = String::new();
        guard(10, "fd 4 to EOF", from_child.read_to_string(&mut text)).await.expect("read fd 4");
        let report = text.strip_prefix("pong\n").unwrap_or_else(|| panic!("no pong first: {text:?}"));
        assert_eq!(read_to_eof(&mut master).await, b"on the terminal");
        let status = guard(10, "wait", child.wait()).await.expect("wait");
        assert_eq!(status.code(), Some(0), "{status:?}");

        let table = parse_report(report);
        assert_eq!(table.keys().copied().collect::<Vec<_>>(), [0, 1, 2, 3, 4], "{table:?}");
        for fd in 0..=2 {
            let e = &table[&fd];
            assert_eq!((e.kind.as_str(), e.acc.as_str()), ("chr", "rw"), "fd {fd}: {table:?}");
            assert_eq!((e.dev, e.ino), (table[&0].dev, table[&0].ino), "fd {fd} is not fd 0's terminal");
        }
        assert_eq!((table[&3].kind.as_str(), table[&3].acc.as_str()), ("fifo", "r"), "{table:?}");
        assert_eq!((table[&4].kind.as_str(), table[&4].acc.as_str()), ("fifo", "w"), "{table:?}");
        assert!(table.values().all(|e| !e.cloexec), "{table:?}");
    });
}

#[test]
fn caller_supplied_pair_is_used_and_its_fds_closed_with_the_command() {
    serial(async {
        warm_up().await;
        let before = open_fds();
        let winsize = Winsize { ws_row: 31, ws_col: 91, ws_xpixel: 0, ws_ypixel: 0 };
        let pair = openpty(Some(&winsize), None).expect("openpty");
        let mut cmd = sh("stty size; echo via-dev-tty > /dev/tty");
        cmd.pty_pair(pair.master, pair.slave);
        let mut child = cmd.spawn().expect("spawn");
        // The command holds the caller's pair (it could spawn again); the
        // master sees EOF only once its slave is closed here too.
        drop(cmd);
        let mut master = child.take_pty().expect("master");
        assert_eq!(master.size().expect("size"), PtySize::new(31, 91));
        assert_eq!(read_to_eof(&mut master).await, b"31 91\r\nvia-dev-tty\r\n");
        assert_eq!(guard(10, "wait", child.wait()).await.expect("wait").code(), Some(0));
        drop((master, child));
        assert_eq!(open_fds(), before, "the pair's descriptors were not all closed");
    });
}

#[test]
fn split_halves_write_and_read_concurrently() {
    serial_multi_thread(async {
        let mut child =
            sh(r#"read line; echo "got:$line"; stty size"#).pty(PtySize::default()).spawn().expect("spawn");
        let (mut reader, mut writer) = child.take_pty().expect("master").into_split();
        // Either half can resize; the child asks only after our line.
        writer.resize(PtySize::new(30, 70)).expect("resize");
        let reading = tokio::spawn(async move { read_to_eof(&mut reader).await });
        writer.write_all(b"hello\n").await.expect("write");
        let out = guard(10, "the reading task", reading).await.expect("reading task");
        assert_eq!(String::from_utf8_lossy(&out), "hello\r\ngot:hello\r\n30 70\r\n");
        assert_eq!(guard(10, "wait", child.wait()).await.expect("wait").code(), Some(0));
    });
}

#[test]
fn no_descriptor_leak_or_zombie_after_100_pty_spawns() {
    serial(hundred_pty_spawns_leave_nothing());
}

// The same with every CPU kept busy by children of the test's own. Under
// such a load a child sent SIGKILL as its `Child` is dropped can be dead
// before the drop looks at it; it is then reaped on the spot and starts no
// reaper thread. The warm-up used to start the thread with such a drop, so
// now and then the thread (and its wake pipe, two descriptors) started in
// the middle of the count instead, and the test failed about one run in
// six under load. In its own process, so that the reaper thread starts in
// this very test; under [`LOCK`], so that the load slows down no other test
// of this file.
#[test]
fn no_descriptor_leak_or_zombie_after_100_pty_spawns_under_cpu_load() {
    let _lock = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    in_own_process("no_descriptor_leak_or_zombie_after_100_pty_spawns_under_cpu_load", || {
        run_on(&mut tokio::runtime::Builder::new_current_thread(), async {
            let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
            let hogs: Vec<Child> = (0..cpus)
                .map(|_| {
                    let mut cmd = Command::new(pw_child!());
                    cmd.arg("spin-ms:60000").clear_child_fds().kill_on_drop(true);
                    cmd.spawn().expect("spawn a CPU hog")
                })
                .collect();
            hundred_pty_spawns_leave_nothing().await;
            for mut hog in hogs {
                guard(10, "a CPU hog to be killed", hog.kill()).await.expect("kill a CPU hog");
            }
        });
    });
}

/// 100 children on terminals (every fourth dropped unwaited, unread and
/// killed), then no descriptor and no zombie left.
async fn hundred_pty_spawns_leave_nothing() {
    warm_up().await;
    let before = open_fds();
    let mut dropped = Vec::new();
    for i in 0..100 {
        if i % 4 == 3 {
            // Dropped unwaited (and unread), master and all.
            let child = pw_on_pty(&["write:1:x", "sleep-ms:60000"]).spawn().expect("spawn");
            dropped.push(child.id().expect("pid"));
            continue;
        }
        let mut child = pw_on_pty(&["write:1:x"]).spawn().expect("spawn");
        if i % 4 != 2 {
            // Otherwise the master goes unread and untaken.
            assert_eq!(read_to_eof(&mut child.take_pty().expect("master")).await, b"x");
        }
        assert_eq!(guard(10, "wait", child.wait()).await.expect("wait").code(), Some(0));
    }
    guard(10, "dropped children to be reaped and their descriptors closed", async {
        while dropped.iter().any(|&p| process_exists(p)) || open_fds() != before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(zombie_children(), Vec::<u32>::new());
}

#[test]
fn unread_pty_child_is_reaped_and_its_output_kept() {
    serial(async {
        // Never taken: the master goes with the Child.
        let mut child = pw_on_pty(&["write:1:unread output\\n", "exit:3"]).spawn().expect("spawn");
        let status = guard(10, "wait without reading", child.wait()).await.expect("wait");
        assert_eq!(status.code(), Some(3), "{status:?}");
        // Taken but read only after the child is gone: nothing was lost.
        let mut child = pw_on_pty(&["write:1:read later\\n"]).spawn().expect("spawn");
        let mut master = child.take_pty().expect("master");
        let status = guard(10, "wait without reading", child.wait()).await.expect("wait");
        assert_eq!(status.code(), Some(0), "{status:?}");
        assert_eq!(read_to_eof(&mut master).await, b"read later\r\n");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

/// Issue 21, item 1: `wait` drained untaken pipes but not an untaken
/// terminal, so a child writing more than the terminal holds blocked, and
/// `wait` with it, forever. The terminal is drained now: `od`'s ~1 MB of
/// output goes through and the shell exits 0.
#[test]
fn wait_drains_a_terminal_nobody_took() {
    serial(async {
        let mut cmd = sh("head -c 200000 /dev/urandom | od");
        cmd.pty(PtySize::default());
        let mut child = cmd.spawn().expect("spawn");
        let started = std::time::Instant::now();
        let status = guard(30, "wait on a child writing to its untaken terminal", child.wait()).await;
        println!("waited {:?}", started.elapsed());
        assert_eq!(status.expect("wait").code(), Some(0));
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

/// Issue 21, item 1: a child reading its terminal never got end of file
/// from a `wait` that nobody's master served, and both waited forever.
/// `wait` now writes the terminal's EOF character: `read` fails, as on a
/// closed pipe, and the shell says so with its exit code.
#[test]
fn wait_gives_end_of_file_to_a_terminal_nobody_took() {
    serial(async {
        let mut cmd = sh("if read x; then exit 5; else exit 7; fi");
        cmd.pty(PtySize::default());
        let mut child = cmd.spawn().expect("spawn");
        let status = guard(10, "wait on a child reading its untaken terminal", child.wait()).await;
        assert_eq!(status.expect("wait").code(), Some(7), "read saw end of file");
        // `cat` reads to end of file: it gets one, and exits 0.
        let mut cmd = sh("cat");
        cmd.pty(PtySize::default());
        let mut child = cmd.spawn().expect("spawn");
        let status = guard(10, "wait on cat on its untaken terminal", child.wait()).await;
        assert_eq!(status.expect("wait").code(), Some(0));
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

#[test]
fn controlling_terminal_through_either_spawn_engine() {
    serial(async {
        // posix_spawn opens the slave after setsid; the clone trampoline
        // (taken for a parent-death signal or credentials) uses TIOCSCTTY.
        let root = nix::unistd::geteuid().is_root();
        for (engine, uid) in
            [("posix_spawn", None), ("trampoline", None), ("trampoline as nobody", Some(65534))]
        {
            if uid.is_some() && !root {
                continue;
            }
            let mut cmd = sh("stty size > /dev/tty; id -u");
            cmd.pty(PtySize::new(25, 81));
            if engine != "posix_spawn" {
                cmd.parent_death_signal("KILL");
            }
            if let Some(uid) = uid {
                cmd.uid(uid);
            }
            let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{engine}: {e}"));
            let out = read_to_eof(&mut child.take_pty().expect("master")).await;
            let me = nix::unistd::geteuid().as_raw();
            let expected = format!("25 81\r\n{}\r\n", uid.unwrap_or(me));
            assert_eq!(String::from_utf8_lossy(&out), expected, "{engine}");
            assert_eq!(guard(10, "wait", child.wait()).await.expect("wait").code(), Some(0), "{engine}");
        }
    });
}

// A terminal needs a new session, whose leader is its own group already:
// process_group(0) is honoured as that through both engines (it used to
// fail with EPERM reported as `Exec`), and another group is bad input.
#[test]
fn pty_with_process_group_0_is_a_group_and_session_leader() {
    serial(async {
        for engine in ["posix_spawn", "trampoline"] {
            let mut cmd = sh("cut -d' ' -f5,6 /proc/$$/stat");
            cmd.pty(PtySize::default()).process_group(0);
            if engine == "trampoline" {
                cmd.parent_death_signal("KILL");
            }
            let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{engine}: pty + process_group(0): {e}"));
            let pid = child.id().expect("pid");
            let out = read_to_eof(&mut child.take_pty().expect("master")).await;
            // Fields 5 and 6 of /proc/PID/stat: process group and session.
            assert_eq!(String::from_utf8_lossy(&out), format!("{pid} {pid}\r\n"), "{engine}");
            assert_eq!(guard(10, "wait", child.wait()).await.expect("wait").code(), Some(0));
            // Another group cannot be joined by a session leader.
            let err = sh("true")
                .pty(PtySize::default())
                .process_group(1)
                .spawn()
                .expect_err("pgid 1 in a new session");
            assert!(
                matches!(err, Error::InvalidInput(InputError::ProcessGroupInNewSession(1))),
                "{engine}: {err:?}"
            );
        }
    });
}

/// `/bin/sh -c script`, killed if dropped.
fn sh(script: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script).kill_on_drop(true);
    cmd
}

/// `pw-child steps` on a new 24 x 80 terminal, killed if dropped.
fn pw_on_pty(steps: &[&str]) -> Command {
    let mut cmd = Command::new(pw_child!());
    cmd.args(steps).pty(PtySize::default()).kill_on_drop(true);
    cmd
}

/// Spawns on a terminal once, and starts procwire's orphan reaper, so that
/// what the runtime and the reaper open once per process exists before a
/// baseline is taken.
async fn warm_up() {
    let mut child = pw_on_pty(&["exit:0"]).spawn().expect("spawn");
    guard(10, "warm-up wait", child.wait()).await.expect("wait");
    start_orphan_reaper().await;
}

/// Everything until end of file, under a 10 s guard.
async fn read_to_eof(r: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut out = Vec::new();
    guard(10, "read to EOF", r.read_to_end(&mut out)).await.expect("read");
    out
}

/// Reads into `seen` until it contains `needle`; panics on end of file.
async fn read_until(r: &mut (impl AsyncRead + Unpin), seen: &mut Vec<u8>, needle: &[u8]) {
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let mut buf = [0u8; 1024];
        let n = r.read(&mut buf).await.expect("read");
        assert!(n > 0, "EOF before {:?}; got {:?}", needle, String::from_utf8_lossy(seen));
        seen.extend_from_slice(&buf[..n]);
    }
}

/// Runs `test` on a fresh current-thread runtime while holding [`LOCK`]
/// (taken before the runtime is built, and released after it is dropped).
fn serial<F: Future>(test: F) -> F::Output {
    serial_on(&mut tokio::runtime::Builder::new_current_thread(), test)
}

/// [`serial`] on a two-worker multi-thread runtime.
fn serial_multi_thread<F: Future>(test: F) -> F::Output {
    serial_on(tokio::runtime::Builder::new_multi_thread().worker_threads(2), test)
}

fn serial_on<F: Future>(builder: &mut tokio::runtime::Builder, test: F) -> F::Output {
    let _lock = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    run_on(builder, test)
}

/// Runs `test` on a runtime from `builder`, dropped (epoll and eventfd
/// closed) before this returns.
fn run_on<F: Future>(builder: &mut tokio::runtime::Builder, test: F) -> F::Output {
    let rt = builder.enable_all().build().expect("runtime");
    rt.block_on(test)
}
