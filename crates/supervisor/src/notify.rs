//! The sd_notify readiness protocol, both ends.
//!
//! # The protocol
//!
//! systemd's `Type=notify`
//! ([sd_notify(3)](https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html)):
//! the supervisor binds an `AF_UNIX` datagram socket and starts each
//! program with its name in `NOTIFY_SOCKET` (an absolute path, or `@name`
//! in Linux's abstract namespace). The program sends datagrams of
//! newline-separated `KEY=VALUE` lines: `READY=1` when it has started,
//! `STATUS=` free text, `RELOADING=1` and `STOPPING=1`, `WATCHDOG=1`
//! keep-alives (and `WATCHDOG=trigger`), `EXTEND_TIMEOUT_USEC=`,
//! `MAINPID=`, `ERRNO=`, `BARRIER=1` with a descriptor to close. The
//! socket has `SO_PASSCRED` on, so the kernel attaches each datagram's
//! sender (pid, uid, gid: `SCM_CREDENTIALS`) and no sender can claim to be
//! another process without root's privileges.
//!
//! # This module
//!
//! - [`parse`]: [`Notification::parse`], a pure function that reads one
//!   datagram the way systemd's `service_notify_message` does (unknown
//!   keys and bad lines skipped, the first value of a key wins), or says
//!   why it cannot ([`Rejection`]).
//! - [`server`]: `NotifySocket`, the supervisor's socket on tokio's
//!   reactor. It hands out one `Datagram` at a time, with the sender's
//!   credentials; it closes any descriptor passed along, and rejects a
//!   datagram over 4096 bytes or without credentials. It binds an abstract
//!   name; `NotifySocket::bind` says why.
//! - [`access`]: which program a datagram belongs to, by the sender's pid
//!   (the main pid, then the process group, then the one program that
//!   takes anyone), and whether that program believes it: its
//!   [`NotifyAccess`] (`Main`, `Group`, `All`).
//! - [`client`]: [`notify`] and [`notify_to`], `sd_notify(0, state)` for a
//!   Rust program, and for the supervisor itself under systemd.
//!
//! What the supervisor does with a notification (a state change, the
//! watchdog timer, the start timeout) is the actor's business; this module
//! only reads, attributes and sends.

pub use access::NotifyAccess;
pub use client::{notify, notify_to};
pub use parse::{IgnoreReason, IgnoredLine, Notification, Rejection, WatchdogPing};

pub(crate) use access::{attribute, tie, Attribution, Claim, Ident, Sender};
pub(crate) use client::notify_now;
pub(crate) use server::{Datagram, NotifySocket};

mod access;
mod client;
mod parse;
mod server;
