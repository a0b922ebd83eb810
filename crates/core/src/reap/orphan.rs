//! Children dropped before they were reaped go to one background thread,
//! which reaps them when they exit, with or without a tokio runtime.
//!
//! A thread rather than a task: a runtime may shut down before the child
//! exits, and a zombie must never outlive that. The thread starts on the
//! first abandoned child and then sleeps in `poll(2)` on the orphans'
//! pidfds (or, in the SIGCHLD fallback, re-checks its pids every 50 ms).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Mutex, OnceLock, PoisonError};

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::Target;
use crate::sys::process as sys;

struct Orphans {
    list: Mutex<Vec<Target>>,
    wake_tx: OwnedFd,
}

static ORPHANS: OnceLock<Option<Orphans>> = OnceLock::new();

/// Adopts a running child whose `Child` was dropped.
pub(super) fn adopt(target: Target) {
    let Some(orphans) = ORPHANS.get_or_init(start) else {
        // No thread could be started: nothing more can be done from here.
        return;
    };
    orphans.list.lock().unwrap_or_else(PoisonError::into_inner).push(target);
    // A full pipe means a wake-up is already pending.
    let _ = nix::unistd::write(&orphans.wake_tx, &[1]);
}

fn start() -> Option<Orphans> {
    let (wake_rx, wake_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).ok()?;
    std::thread::Builder::new().name("procwire-reaper".into()).spawn(move || run(wake_rx)).ok()?;
    Some(Orphans { list: Mutex::new(Vec::new()), wake_tx })
}

/// Whether `target` has been reaped (or can never be: then it is dropped).
fn reaped(target: &Target) -> bool {
    match target {
        Target::Pidfd(fd) => !matches!(sys::waitid_pidfd(fd.as_fd()), Ok(None)),
        Target::Pid(slot) => !matches!(slot.try_reap(), Ok(None)),
    }
}

fn run(wake_rx: OwnedFd) {
    loop {
        // Until `start` has been published by `get_or_init`, the list is
        // empty; `adopt` writes to the wake pipe only after publishing.
        let pending: Vec<Target> = match ORPHANS.get().and_then(Option::as_ref) {
            Some(orphans) => {
                let mut list = orphans.list.lock().unwrap_or_else(PoisonError::into_inner);
                list.retain(|t| !reaped(t));
                list.clone()
            }
            None => Vec::new(),
        };
        let mut fds = vec![PollFd::new(wake_rx.as_fd(), PollFlags::POLLIN)];
        let mut timeout = PollTimeout::NONE;
        for target in &pending {
            match target {
                Target::Pidfd(fd) => fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN)),
                Target::Pid(_) => timeout = PollTimeout::from(50u8),
            }
        }
        let _ = poll(&mut fds, timeout);
        let mut buf = [0u8; 64];
        while matches!(nix::unistd::read(&wake_rx, &mut buf), Ok(n) if n > 0) {}
    }
}
