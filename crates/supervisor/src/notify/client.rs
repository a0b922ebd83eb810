//! The sending side: `sd_notify(0, state)` for a Rust program, and for the
//! supervisor itself when it runs under systemd.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Tells the service manager about a state change: `sd_notify(0, state)`
/// ([sd_notify(3)](https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html)).
///
/// Sends `state` (newline-separated `KEY=VALUE` lines such as
/// `"READY=1\nSTATUS=listening"`; see [`Notification`](crate::Notification)
/// for the keys) as one datagram to the socket named by the
/// `NOTIFY_SOCKET` environment variable, which systemd, procwire's
/// supervisor and other managers set for the programs they start. The
/// kernel attaches the process's credentials (pid, uid, gid), by which the
/// manager knows who sent it. `NOTIFY_SOCKET` is left as it is (sd_notify's
/// `unset_environment` is 0), so children inherit it unless the caller
/// removes it.
///
/// Returns `Ok(false)` when `NOTIFY_SOCKET` is unset or empty: no manager
/// is listening, and nothing was sent. As sd_notify(3) advises, most
/// programs ignore the result.
///
/// # Blocking
///
/// One `sendto(2)` on a blocking socket: it returns at once unless the
/// manager's queue is full (on Linux, `net.unix.max_dgram_qlen` datagrams,
/// 10 by default), and then waits until the manager has read some. From
/// async code, call it in `spawn_blocking` if the manager may be slow.
///
/// # Errors
///
/// The error of [`notify_to`]: `NOTIFY_SOCKET` is not an absolute path or
/// `@abstract` name, or the datagram could not be sent (the manager is
/// gone: `ECONNREFUSED` or `ENOENT`).
///
/// # Examples
///
/// ```no_run
/// // ... after binding the listening socket:
/// procwire_supervisor::notify("READY=1\nSTATUS=listening on :8080")?;
/// // ... and every WATCHDOG_USEC / 2 when the manager asked for a watchdog:
/// procwire_supervisor::notify("WATCHDOG=1")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(socket) if !socket.is_empty() => notify_to(&socket, state).map(|()| true),
        _ => Ok(false),
    }
}

/// Sends `state` as one sd_notify datagram to `socket`, a value of
/// `NOTIFY_SOCKET`: an absolute path (`/run/...`), or `@name` for a name in
/// Linux's abstract socket namespace. Blocks as [`notify`] does.
///
/// # Errors
///
/// `InvalidInput` when `socket` is neither (systemd's `vsock:` addresses
/// are not supported); otherwise the error of `sendto(2)`, such as
/// `ConnectionRefused` or `NotFound` when nothing listens there.
///
/// # Examples
///
/// ```no_run
/// use std::ffi::OsStr;
///
/// procwire_supervisor::notify_to(OsStr::new("@my-manager/notify"), "STOPPING=1")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn notify_to(socket: &OsStr, state: &str) -> io::Result<()> {
    send(socket, state, false)
}

/// [`notify_to`] that never waits: a full queue at the receiver is
/// `WouldBlock`, for a caller on an async runtime (the supervisor telling
/// its own systemd).
pub(crate) fn notify_now(socket: &OsStr, state: &str) -> io::Result<()> {
    send(socket, state, true)
}

fn send(socket: &OsStr, state: &str, nonblocking: bool) -> io::Result<()> {
    let addr = match socket.as_bytes() {
        [b'/', ..] => SocketAddr::from_pathname(socket)?,
        #[cfg(target_os = "linux")]
        [b'@', name @ ..] => <SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name)?,
        #[cfg(not(target_os = "linux"))]
        [b'@', ..] => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("notify socket {socket:?}: abstract names are Linux's"),
            ))
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("notify socket {socket:?} is neither an absolute path nor an @abstract name"),
            ))
        }
    };
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(nonblocking)?;
    let sent = sock.send_to_addr(state.as_bytes(), &addr)?;
    // A datagram goes whole or not at all; this cannot fail, but a short
    // send must never pass for a delivered notification.
    if sent != state.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes", state.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
