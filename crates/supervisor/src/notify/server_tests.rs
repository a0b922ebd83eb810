use std::ffi::OsStr;
use std::io::{IoSlice, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};

use super::*;
use crate::notify::{notify, notify_to, WatchdogPing};

const TIMEOUT: Duration = Duration::from_secs(30);

async fn next(sock: &mut NotifySocket) -> Datagram {
    tokio::time::timeout(TIMEOUT, sock.recv()).await.expect("no datagram in 30 s").expect("recv")
}

async fn received(sock: &mut NotifySocket) -> Received {
    match next(sock).await {
        Datagram::Received(r) => r,
        Datagram::Rejected(r) => panic!("rejected: {r:?}"),
    }
}

async fn rejected(sock: &mut NotifySocket) -> Rejected {
    match next(sock).await {
        Datagram::Rejected(r) => r,
        Datagram::Received(r) => panic!("received: {r:?}"),
    }
}

/// Sends raw bytes, with descriptors, the way `sd_pid_notify_with_fds` does.
fn send_raw(socket: &OsStr, bytes: &[u8], fds: &[RawFd]) {
    let name = socket.as_bytes().strip_prefix(b"@").expect("an abstract name");
    let addr = UnixAddr::new_abstract(name).unwrap();
    let sender = std::os::unix::net::UnixDatagram::unbound().unwrap();
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &[ControlMessage::ScmRights(fds)] };
    let sent =
        sendmsg(sender.as_raw_fd(), &[IoSlice::new(bytes)], cmsgs, MsgFlags::empty(), Some(&addr)).unwrap();
    assert_eq!(sent, bytes.len());
}

fn me() -> (u32, u32, u32) {
    (std::process::id(), nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw())
}

#[tokio::test]
async fn a_notification_from_this_process_carries_our_pid_uid_gid() {
    let mut sock = NotifySocket::bind().unwrap();
    notify_to(sock.env_value(), "READY=1\nSTATUS=up\nMAINPID=4711\nWATCHDOG=1\n").unwrap();
    let r = received(&mut sock).await;
    assert_eq!((r.pid, r.uid, r.gid), me());
    assert!(r.notification.ready);
    assert_eq!(r.notification.status.as_deref(), Some("up"));
    assert_eq!(r.notification.main_pid, Some(4711));
    assert_eq!(r.notification.watchdog, Some(WatchdogPing::Ping));
    assert_eq!(r.fds_closed, 0);
}

#[tokio::test]
async fn each_socket_has_its_own_abstract_name() {
    let (a, b) = (NotifySocket::bind().unwrap(), NotifySocket::bind().unwrap());
    let prefix = format!("@procwire/notify/{}/", std::process::id());
    for s in [&a, &b] {
        let name = s.env_value().to_str().unwrap();
        assert!(name.starts_with(&prefix), "{name}");
        assert_eq!(name.len(), prefix.len() + 32, "{name}");
    }
    assert_ne!(a.env_value(), b.env_value());
    // What one receives, the other does not.
    let mut b = b;
    notify_to(b.env_value(), "STATUS=b").unwrap();
    assert_eq!(received(&mut b).await.notification.status.as_deref(), Some("b"));
}

#[tokio::test]
async fn oversized_datagrams_are_rejected_and_the_socket_still_works() {
    let mut sock = NotifySocket::bind().unwrap();
    for len in [64 * 1024, MAX_DATAGRAM + 1] {
        let big = format!("STATUS={}", "x".repeat(len - 7));
        notify_to(sock.env_value(), &big).unwrap();
        let r = rejected(&mut sock).await;
        assert_eq!(r.reason, Rejection::TooLarge { len });
        assert_eq!(r.pid, Some(std::process::id()));
    }
    let exact = format!("STATUS={}", "y".repeat(MAX_DATAGRAM - 7));
    notify_to(sock.env_value(), &exact).unwrap();
    assert_eq!(received(&mut sock).await.notification.status.map(|s| s.len()), Some(MAX_DATAGRAM - 7));
    notify_to(sock.env_value(), "READY=1").unwrap();
    assert!(received(&mut sock).await.notification.ready);
}

#[tokio::test]
async fn garbage_is_rejected_or_skipped_and_the_socket_still_works() {
    let mut sock = NotifySocket::bind().unwrap();
    let garbage: [&[u8]; 7] = [
        b"",
        b"\n\n\n",
        b"\0\x01\x02\xff READY=1",
        b"\xff\xfe\xfd\n\x80",
        b"hello world",
        b"READY=2\nMAINPID=-1\nWATCHDOG=often\nERRNO=EIO",
        b"=\n==\n=1",
    ];
    for bytes in garbage {
        send_raw(sock.env_value(), bytes, &[]);
        match next(&mut sock).await {
            Datagram::Rejected(r) => assert_eq!(r.pid, Some(std::process::id())),
            Datagram::Received(r) => {
                let n = r.notification;
                assert!(
                    !n.ready && n.status.is_none() && n.main_pid.is_none() && n.errno.is_none(),
                    "{bytes:?}"
                );
                assert!(n.watchdog.is_none(), "{bytes:?}");
            }
        }
    }
    notify_to(sock.env_value(), "READY=1").unwrap();
    assert!(received(&mut sock).await.notification.ready);
}

#[tokio::test]
async fn passed_descriptors_are_closed_on_receipt_and_the_message_still_read() {
    let mut sock = NotifySocket::bind().unwrap();
    // A barrier as sd_notify_barrier sends it: the pipe's write end goes
    // along, and the sender waits for EOF on the read end.
    let (mut read_end, write_end) = std::io::pipe().unwrap();
    send_raw(sock.env_value(), b"BARRIER=1\nREADY=1", &[write_end.as_raw_fd()]);
    drop(write_end);
    let r = received(&mut sock).await;
    assert!(r.notification.barrier && r.notification.ready);
    assert_eq!(r.fds_closed, 1);
    // EOF now, or the supervisor's copy is still open. Read on a thread,
    // so that a bug shows as a failure, not a hang.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(read_end.read(&mut [0; 1]).map_err(|e| e.to_string())));
    assert_eq!(rx.recv_timeout(TIMEOUT).expect("the passed write end is still open"), Ok(0));
}

#[tokio::test]
async fn many_descriptors_and_a_rejected_datagram_still_close_them() {
    let mut sock = NotifySocket::bind().unwrap();
    let (mut read_end, write_end) = std::io::pipe().unwrap();
    let fds = vec![write_end.as_raw_fd(); SCM_MAX_FD];
    send_raw(sock.env_value(), b"\0garbage", &fds);
    drop(write_end);
    let r = rejected(&mut sock).await;
    assert_eq!((r.reason, r.fds_closed), (Rejection::EmbeddedNul { at: 0 }, SCM_MAX_FD));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(read_end.read(&mut [0; 1]).map_err(|e| e.to_string())));
    assert_eq!(rx.recv_timeout(TIMEOUT).expect("a passed write end is still open"), Ok(0));
}

#[test]
fn passed_descriptors_leave_the_fd_count_as_it_was() {
    in_own_process("notify::server::tests::passed_descriptors_leave_the_fd_count_as_it_was", || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut sock = NotifySocket::bind().unwrap();
            let before = open_fds();
            for round in 0..5 {
                let (read_end, write_end) = std::io::pipe().unwrap();
                send_raw(sock.env_value(), b"READY=1\n", &[read_end.as_raw_fd(), write_end.as_raw_fd()]);
                drop((read_end, write_end));
                let r = received(&mut sock).await;
                assert!(r.notification.ready);
                assert_eq!(r.fds_closed, 2);
                assert_eq!(open_fds(), before, "round {round}");
            }
        });
    });
}

#[tokio::test]
async fn a_burst_is_read_whole_and_in_order() {
    const N: usize = 2000;
    let mut sock = NotifySocket::bind().unwrap();
    let name = sock.env_value().to_owned();
    // More than the kernel queues (net.unix.max_dgram_qlen): the sender
    // blocks until we read, and nothing is lost.
    let sender = std::thread::spawn(move || {
        for i in 0..N {
            notify_to(&name, &format!("STATUS={i}\nWATCHDOG=1")).unwrap();
        }
    });
    for i in 0..N {
        assert_eq!(received(&mut sock).await.notification.status, Some(i.to_string()));
    }
    sender.join().unwrap();
}

#[tokio::test]
async fn recv_is_cancel_safe() {
    let mut sock = NotifySocket::bind().unwrap();
    for _ in 0..3 {
        assert!(tokio::time::timeout(Duration::from_millis(20), sock.recv()).await.is_err());
    }
    notify_to(sock.env_value(), "STOPPING=1").unwrap();
    assert!(received(&mut sock).await.notification.stopping);
}

/// Run by [`a_child_process_is_seen_with_its_own_pid`] in a copy of this
/// test binary: `notify` reads `NOTIFY_SOCKET` and sends.
#[test]
#[ignore = "a helper: run in a child process by a_child_process_is_seen_with_its_own_pid"]
fn child_sends_ready() {
    let sent = notify(&format!("READY=1\nSTATUS=child {}", std::process::id())).expect("notify");
    assert!(sent, "NOTIFY_SOCKET is not set");
}

#[tokio::test]
async fn a_child_process_is_seen_with_its_own_pid() {
    let mut sock = NotifySocket::bind().unwrap();
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["notify::server::tests::child_sends_ready", "--exact", "--ignored", "--test-threads=1"])
        .env("NOTIFY_SOCKET", sock.env_value())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let r = received(&mut sock).await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    assert!(out.status.success(), "child: {}\n{}", out.status, String::from_utf8_lossy(&out.stdout));
    assert_eq!(r.pid, pid);
    assert_ne!(r.pid, std::process::id());
    assert!(r.notification.ready);
    assert_eq!(r.notification.status, Some(format!("child {pid}")));
}

#[tokio::test]
async fn systemd_notify_is_understood_barrier_included() {
    let mut sock = NotifySocket::bind().unwrap();
    let spawned = std::process::Command::new("systemd-notify")
        .args(["--ready", "--status=from systemd-notify"])
        .env("NOTIFY_SOCKET", sock.env_value())
        .stdin(std::process::Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("skipped: no systemd-notify on this machine");
            return;
        }
        Err(e) => panic!("spawn systemd-notify: {e}"),
    };
    let r = received(&mut sock).await;
    // systemd-notify may send on its parent's behalf (this process) when
    // privileged: either pid is right.
    assert!([child.id(), std::process::id()].contains(&r.pid), "pid {}", r.pid);
    assert!(r.notification.ready);
    assert_eq!(r.notification.status.as_deref(), Some("from systemd-notify"));
    // Versions with a barrier send BARRIER=1 and a pipe's write end, then
    // wait for it to close: that systemd-notify exits shows the close.
    let mut wait = tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.wait()
    });
    let mut barrier = false;
    let status = loop {
        tokio::select! {
            status = &mut wait => break status.unwrap().unwrap(),
            d = next(&mut sock) => {
                let Datagram::Received(b) = d else { panic!("rejected: {d:?}") };
                assert!(b.notification.barrier && b.fds_closed == 1 && !barrier, "{b:?}");
                barrier = true;
            }
        }
    };
    assert!(status.success(), "systemd-notify: {status} (barrier seen: {barrier})");
}

#[test]
fn classify_without_credentials_or_pid() {
    let meta = Meta { len: 7, ..Meta::default() };
    let want = |pid| Datagram::Rejected(Rejected { pid, reason: Rejection::NoCredentials, fds_closed: 0 });
    assert_eq!(classify(meta, b"READY=1"), want(None));
    // A sender outside our pid namespace: pid 0.
    assert_eq!(classify(Meta { creds: Some((0, 1000, 1000)), ..meta }, b"READY=1"), want(None));
    assert_eq!(classify(Meta { creds: Some((-1, 1000, 1000)), ..meta }, b"READY=1"), want(None));
}

#[test]
fn classify_truncations() {
    let meta = Meta { len: 7, creds: Some((42, 1, 2)), fds_closed: 3, ..Meta::default() };
    let reject = |reason, fds_closed| Datagram::Rejected(Rejected { pid: Some(42), reason, fds_closed });
    assert_eq!(
        classify(Meta { control_truncated: true, ..meta }, b"READY=1"),
        reject(Rejection::ControlTruncated, 3)
    );
    let long = Meta { len: 5000, truncated: true, ..meta };
    assert_eq!(classify(long, &[b'x'; MAX_DATAGRAM + 1]), reject(Rejection::TooLarge { len: 5000 }, 3));
    // A read that filled the buffer is too large even without MSG_TRUNC.
    let full = Meta { len: MAX_DATAGRAM + 1, ..meta };
    assert_eq!(
        classify(full, &[b'x'; MAX_DATAGRAM + 1]),
        reject(Rejection::TooLarge { len: MAX_DATAGRAM + 1 }, 3)
    );
    match classify(meta, b"READY=1") {
        Datagram::Received(r) => assert_eq!((r.pid, r.uid, r.gid, r.fds_closed), (42, 1, 2, 3)),
        other => panic!("{other:?}"),
    }
}

/// The descriptors this process has open.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Runs the test `name` (this very test) alone in a fresh copy of the test
/// binary, so that no other test opens descriptors meanwhile (as
/// `procwire-tests`' helper of the same name).
fn in_own_process(name: &str, body: impl FnOnce()) {
    const VAR: &str = "PROCWIRE_NOTIFY_OWN_PROCESS";
    if std::env::var_os(VAR).is_some_and(|v| v == name) {
        body();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(VAR, name)
        .output()
        .expect("re-run the test binary");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in its own process: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}
