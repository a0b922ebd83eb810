//! procwire-supervisor's sd_notify client as a program uses it:
//! `notify` reads `NOTIFY_SOCKET` (a path or an `@abstract` name) and sends
//! one datagram that the kernel stamps with the sender's credentials;
//! `Notification::parse` reads it back. Tests that change the environment
//! run in their own process.
//!
//! Linux only: `SCM_CREDENTIALS` and abstract socket names.
#![cfg(target_os = "linux")]

use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, UnixCredentials};
use procwire_supervisor::{
    notify, notify_to, IgnoreReason, IgnoredLine, Notification, NotifyAccess, Rejection, WatchdogPing,
};
use procwire_tests::in_own_process;

/// A receiver as a service manager binds it: credentials on.
fn manager(addr: &SocketAddr) -> UnixDatagram {
    let sock = UnixDatagram::bind_addr(addr).unwrap();
    setsockopt(&sock, sockopt::PassCred, &true).unwrap();
    sock
}

/// One datagram and the pid the kernel says sent it.
fn recv_with_pid(sock: &UnixDatagram) -> (Vec<u8>, i32) {
    let mut buf = vec![0; 8192];
    let mut cmsg = nix::cmsg_space!(UnixCredentials);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).unwrap();
    let pid = msg
        .cmsgs()
        .unwrap()
        .find_map(|c| match c {
            ControlMessageOwned::ScmCredentials(c) => Some(c.pid()),
            _ => None,
        })
        .expect("credentials");
    let len = msg.bytes;
    (buf[..len].to_vec(), pid)
}

#[test]
fn notify_without_notify_socket_sends_nothing() {
    in_own_process("notify_without_notify_socket_sends_nothing", || {
        std::env::remove_var("NOTIFY_SOCKET");
        assert!(!notify("READY=1").unwrap());
        std::env::set_var("NOTIFY_SOCKET", "");
        assert!(!notify("READY=1").unwrap(), "empty is unset");
    });
}

#[test]
fn notify_sends_to_an_abstract_name_with_our_credentials() {
    in_own_process("notify_sends_to_an_abstract_name_with_our_credentials", || {
        let name = format!("procwire-tests/notify/{}", std::process::id());
        let sock = manager(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap());
        std::env::set_var("NOTIFY_SOCKET", format!("@{name}"));
        assert!(notify("READY=1\nSTATUS=serving\nWATCHDOG=1").unwrap());
        let (bytes, pid) = recv_with_pid(&sock);
        assert_eq!(pid as u32, std::process::id());
        let n = Notification::parse(&bytes).unwrap();
        assert!(n.ready);
        assert_eq!(n.status.as_deref(), Some("serving"));
        assert_eq!(n.watchdog, Some(WatchdogPing::Ping));
        // sd_notify(0, ...): the variable stays for later calls and children.
        assert_eq!(std::env::var("NOTIFY_SOCKET").unwrap(), format!("@{name}"));
        assert!(notify("STOPPING=1").unwrap());
        assert!(Notification::parse(&recv_with_pid(&sock).0).unwrap().stopping);
    });
}

#[test]
fn notify_sends_to_a_path() {
    in_own_process("notify_sends_to_a_path", || {
        let dir = std::env::temp_dir().join(format!("procwire-tests-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let sock = manager(&SocketAddr::from_pathname(&path).unwrap());
        std::env::set_var("NOTIFY_SOCKET", &path);
        assert!(notify("READY=1\nMAINPID=1234\n").unwrap());
        let (bytes, pid) = recv_with_pid(&sock);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(pid as u32, std::process::id());
        let n = Notification::parse(&bytes).unwrap();
        assert!(n.ready);
        assert_eq!(n.main_pid, Some(1234));
    });
}

#[test]
fn notify_to_refuses_what_is_not_a_socket_name() {
    let e = notify_to("run/relative".as_ref(), "READY=1").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("run/relative"), "{e}");
}

#[test]
fn parse_as_a_user_sees_it() {
    let n = Notification::parse(b"READY=1\nREADY=2\nX_APP=whatever\n").unwrap();
    assert!(n.ready);
    assert_eq!(n.ignored.len(), 1);
    let IgnoredLine { line, reason, .. } = &n.ignored[0];
    assert_eq!((line.as_str(), *reason), ("READY=2", IgnoreReason::InvalidValue));
    assert_eq!(Notification::parse(b""), Err(Rejection::Empty));
    assert_eq!(NotifyAccess::default(), NotifyAccess::Main);
}

#[test]
fn public_types_are_send_sync_unpin() {
    fn check<T: Send + Sync + Unpin + 'static>() {}
    check::<Notification>();
    check::<IgnoredLine>();
    check::<IgnoreReason>();
    check::<Rejection>();
    check::<WatchdogPing>();
    check::<NotifyAccess>();
}
