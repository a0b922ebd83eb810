//! The receiving side: the supervisor's `NOTIFY_SOCKET`.
//!
//! Linux only for now: elsewhere `bind` fails and `add` refuses
//! `Readiness::Notify` before it is called; the datagram classification
//! stays compiled there, unused, for FreeBSD's `SCM_CREDS` to reuse.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

// The actor wires this in; until then only the tests use it.

use std::collections::hash_map::RandomState;
use std::ffi::{OsStr, OsString};
use std::hash::BuildHasher;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{ready, Context, Poll};

#[cfg(target_os = "linux")]
use nix::sys::socket::UnixCredentials;
use tokio::io::Interest;
use tokio::net::UnixDatagram;

use super::parse::{Notification, Rejection, MAX_DATAGRAM};

/// The receive buffer asked for: systemd asks 8 MiB for its own; the
/// kernel caps it at `net.core.rmem_max` (208 KiB by default) without an
/// error. See [`NotifySocket::bind`] for why it matters little.
const RCVBUF: usize = 1 << 20;

/// The most descriptors one datagram can carry (Linux's `SCM_MAX_FD`):
/// room for all of them, so that no `SCM_RIGHTS` is ever cut short and
/// every descriptor that arrives is seen, and closed.
const SCM_MAX_FD: usize = 253;

/// The supervisor's end of the sd_notify protocol: a private `AF_UNIX`
/// datagram socket whose name is given to children as `NOTIFY_SOCKET`.
#[derive(Debug)]
pub(crate) struct NotifySocket {
    /// tokio's datagram socket, for its registration with the reactor
    /// (`AsyncFd`'s safe constructors are deprecated since tokio 1.54 and
    /// this crate has no `unsafe`); every read is a `recvmsg` of our own.
    sock: UnixDatagram,
    env: OsString,
    /// One byte more than the largest datagram read, reused for each one.
    buf: Box<[u8]>,
    /// Room for the credentials and `SCM_MAX_FD` descriptors, reused.
    cmsg: Vec<u8>,
}

/// What one datagram was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Datagram {
    Received(Received),
    Rejected(Rejected),
}

/// A datagram read whole, with its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    pub(crate) pid: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) notification: Notification,
    /// Descriptors that came with it (`BARRIER=1`, or an `FDSTORE=1` the
    /// supervisor does not keep), already closed.
    pub(crate) fds_closed: usize,
}

/// A datagram that was not read, with its sender when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    pub(crate) pid: Option<u32>,
    pub(crate) reason: Rejection,
    /// Descriptors that came with it, already closed.
    pub(crate) fds_closed: usize,
}

impl NotifySocket {
    /// A fresh socket: `AF_UNIX`, `SOCK_DGRAM`, non-blocking, close-on-exec,
    /// `SO_PASSCRED` on, bound to a random name in Linux's abstract
    /// namespace (`@procwire/notify/<pid>/<32 hex digits>`), registered
    /// with tokio's reactor.
    ///
    /// Why abstract and not a path in a private 0700 directory: the
    /// protocol's security is the kernel's `SCM_CREDENTIALS`, not who can
    /// reach the socket (systemd's own `/run/systemd/notify` takes
    /// datagrams from anyone, and its `notify_socket_prepare` binds an
    /// abstract name as this does); an abstract name leaves nothing on disk
    /// when the supervisor is killed, needs no writable runtime directory,
    /// and stays reachable by a child that changed its uid, which a 0700
    /// directory would lock out. The cost: a child in another network
    /// namespace cannot reach it. The random part only keeps names from
    /// colliding or being taken in advance; names are visible in
    /// `/proc/net/unix`.
    ///
    /// The receive buffer is raised to 1 MiB (capped by
    /// `net.core.rmem_max`), as systemd raises its own. On Linux, though,
    /// an `AF_UNIX` datagram queue is bounded by a count,
    /// `net.unix.max_dgram_qlen` (10 by default: the 11th queued datagram
    /// waits), and by the sender's send buffer, not by the receiver's: a
    /// burst beyond it makes a blocking sender (sd_notify's) wait, and a
    /// non-blocking one get `EAGAIN`. Nothing is dropped silently, but the
    /// supervisor must keep reading.
    ///
    /// # Errors
    ///
    /// The error of `socket(2)`, `setsockopt(2)` (`SO_PASSCRED`) or
    /// `bind(2)` (after 16 names already taken), or tokio's when the
    /// reactor cannot register the socket.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with IO enabled.
    #[cfg(target_os = "linux")]
    pub(crate) fn bind() -> io::Result<NotifySocket> {
        use nix::errno::Errno;
        use nix::sys::socket::{
            bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, UnixAddr,
        };
        use std::os::fd::AsRawFd;
        let fd = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )?;
        setsockopt(&fd, sockopt::PassCred, &true)?;
        // Best effort: the default is enough for sd_notify's small datagrams.
        let _ = setsockopt(&fd, sockopt::RcvBuf, &RCVBUF);
        let mut tries = 0;
        let name = loop {
            let name = random_name();
            match bind(fd.as_raw_fd(), &UnixAddr::new_abstract(name.as_bytes())?) {
                Ok(()) => break name,
                Err(Errno::EADDRINUSE) if tries < 16 => tries += 1,
                Err(e) => return Err(e.into()),
            }
        };
        Ok(NotifySocket {
            sock: UnixDatagram::from_std(fd.into())?,
            env: format!("@{name}").into(),
            buf: vec![0; MAX_DATAGRAM + 1].into_boxed_slice(),
            cmsg: nix::cmsg_space!(UnixCredentials, [std::os::fd::RawFd; SCM_MAX_FD]),
        })
    }

    /// The value for a child's `NOTIFY_SOCKET`: `@` and the abstract name.
    pub(crate) fn env_value(&self) -> &OsStr {
        &self.env
    }

    /// Reads the next datagram, waiting for one.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken from the socket only when it is
    /// returned.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) async fn recv(&mut self) -> io::Result<Datagram> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Reads the next datagram if one is queued, or registers `cx` to be
    /// woken when one arrives. `&mut self`: the data and control buffers
    /// are the socket's, reused for every datagram.
    ///
    /// Descriptors passed with it (`SCM_RIGHTS`) are closed at once.
    /// A datagram over 4096 bytes, without credentials, or otherwise
    /// unreadable is a [`Datagram::Rejected`], never an error: errors are
    /// the socket's own (`recvmsg(2)` failing, the runtime shutting down),
    /// and the socket goes on working after a rejection.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Datagram>> {
        let NotifySocket { sock, buf, cmsg, .. } = self;
        loop {
            ready!(sock.poll_recv_ready(cx))?;
            // `try_io` clears the readiness when the read would block.
            match sock.try_io(Interest::READABLE, || recv_one(sock.as_fd(), buf, cmsg)) {
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
                    continue
                }
                result => return Poll::Ready(result),
            }
        }
    }
}

/// Off Linux no kernel vouches for a datagram's sender as `SCM_CREDENTIALS`
/// does (FreeBSD's `SCM_CREDS` would, and is not wired in yet): `add`
/// refuses `Readiness::Notify` there, and no socket is ever made.
#[cfg(not(target_os = "linux"))]
impl NotifySocket {
    pub(crate) fn bind() -> io::Result<NotifySocket> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Never called off Linux: no socket exists there.
#[cfg(not(target_os = "linux"))]
fn recv_one(_: BorrowedFd<'_>, _: &mut [u8], _: &mut [u8]) -> io::Result<Datagram> {
    Err(io::ErrorKind::Unsupported.into())
}

/// One `recvmsg(2)`: `MSG_TRUNC` to learn a long datagram's real length,
/// `MSG_CMSG_CLOEXEC` so that a passed descriptor never reaches a child
/// spawned by another thread before it is closed here.
#[cfg(target_os = "linux")]
fn recv_one(fd: BorrowedFd<'_>, buf: &mut [u8], cmsg: &mut [u8]) -> io::Result<Datagram> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC | MsgFlags::MSG_CMSG_CLOEXEC;
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(fd.as_raw_fd(), &mut iov, Some(cmsg), flags)?;
    let (len, truncated) = (msg.bytes, msg.flags.contains(MsgFlags::MSG_TRUNC));
    let mut meta = Meta { len, truncated, ..Meta::default() };
    match msg.cmsgs() {
        Ok(cmsgs) => {
            for c in cmsgs {
                match c {
                    ControlMessageOwned::ScmCredentials(c) => meta.creds = Some((c.pid(), c.uid(), c.gid())),
                    ControlMessageOwned::ScmRights(fds) => {
                        for fd in fds {
                            // Closing a descriptor we were just given cannot
                            // fail in a way that matters.
                            let _ = nix::unistd::close(fd);
                            meta.fds_closed += 1;
                        }
                    }
                    _ => {}
                }
            }
        }
        // MSG_CTRUNC. With room for SCM_MAX_FD descriptors it takes control
        // messages never asked for; nix will not walk a truncated buffer, so
        // any descriptor in it stays open (close-on-exec).
        Err(_) => meta.control_truncated = true,
    }
    Ok(classify(meta, &buf[..len.min(buf.len())]))
}

/// What `recvmsg` told about a datagram, besides its bytes.
#[derive(Debug, Default, Clone, Copy)]
struct Meta {
    len: usize,
    truncated: bool,
    control_truncated: bool,
    creds: Option<(i32, u32, u32)>,
    fds_closed: usize,
}

/// The verdict on one datagram: a pure function of what was received.
fn classify(meta: Meta, bytes: &[u8]) -> Datagram {
    let pid = meta.creds.and_then(|(pid, _, _)| u32::try_from(pid).ok()).filter(|p| *p > 0);
    let reject = |reason| Datagram::Rejected(Rejected { pid, reason, fds_closed: meta.fds_closed });
    if meta.control_truncated {
        return reject(Rejection::ControlTruncated);
    }
    let (Some(pid), Some((_, uid, gid))) = (pid, meta.creds) else {
        return reject(Rejection::NoCredentials);
    };
    if meta.truncated || meta.len > MAX_DATAGRAM {
        return reject(Rejection::TooLarge { len: meta.len });
    }
    match Notification::parse(bytes) {
        Ok(notification) => {
            Datagram::Received(Received { pid, uid, gid, notification, fds_closed: meta.fds_closed })
        }
        Err(reason) => reject(reason),
    }
}

/// `procwire/notify/<pid>/<32 hex digits>`: the digits from std's
/// `RandomState`, whose SipHash keys come from the OS's random source, over
/// a counter (so two calls never hash the same input).
fn random_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let (a, b) = (RandomState::new().hash_one(n), RandomState::new().hash_one(!n));
    format!("procwire/notify/{}/{a:016x}{b:016x}", std::process::id())
}

#[cfg(all(test, target_os = "linux"))]
#[path = "server_tests.rs"]
mod tests;
