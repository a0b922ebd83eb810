//! The children procwire spawned and has not reaped yet: the list a
//! [`Subreaper`](crate::Subreaper) reads so that it never reaps one of
//! them, however fast it exits.
//!
//! One gate orders the three actors. A spawn holds it shared from before
//! the clone until the new pid is listed; a reap holds it shared across its
//! `waitid` and the unlisting; the subreaper holds it exclusively across
//! its look at this process's children and its own reaps. So the subreaper
//! never sees a child of procwire's that is not listed yet, nor a listed
//! pid that was reaped and already belongs to an adopted process. Spawns
//! and reaps never wait for each other; the spawn path pays an uncontended
//! read lock and one insert into a set, whether or not a subreaper exists
//! (one may be made later, and must know the children spawned before it).

use std::collections::BTreeSet;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use nix::libc;

use crate::sys::process::RawStatus;

static GATE: RwLock<()> = RwLock::new(());

/// The pids of procwire's unreaped children, in this process's pid
/// namespace.
static LISTED: Mutex<BTreeSet<libc::pid_t>> = Mutex::new(BTreeSet::new());

fn listed() -> MutexGuard<'static, BTreeSet<libc::pid_t>> {
    LISTED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The gate, held shared: by a spawn until its child is listed.
///
/// Not to be taken twice on one thread: a subreaper waiting for the gate
/// makes the second `read` wait for it, and it for the first.
pub(crate) struct Spawning {
    _gate: RwLockReadGuard<'static, ()>,
}

/// Takes the gate shared, before a spawn creates its child.
pub(crate) fn spawning() -> Spawning {
    Spawning { _gate: GATE.read().unwrap_or_else(PoisonError::into_inner) }
}

impl Spawning {
    /// Lists the child just created; the gate is still held, so no
    /// subreaper has looked since it exists.
    pub(crate) fn list(&self, pid: libc::pid_t) {
        listed().insert(pid);
    }
}

/// Reaps procwire's child `pid` with `reap` (one non-blocking `waitid` or
/// `waitpid`), and unlists it once reaped or found gone (`ECHILD`: someone
/// else reaped it), all under the gate held shared.
pub(crate) fn reap(
    pid: libc::pid_t,
    reap: impl FnOnce() -> io::Result<Option<RawStatus>>,
) -> io::Result<Option<RawStatus>> {
    let _gate = GATE.read().unwrap_or_else(PoisonError::into_inner);
    let result = reap();
    match &result {
        Ok(Some(_)) => {
            listed().remove(&pid);
        }
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
            listed().remove(&pid);
        }
        _ => {}
    }
    result
}

/// The gate, held exclusively: by a subreaper, while nothing procwire
/// spawned can be created unlisted or reaped.
pub(crate) struct Exclusive {
    _gate: RwLockWriteGuard<'static, ()>,
}

/// Takes the gate exclusively: waits for the spawns and reaps under way.
pub(crate) fn exclusive() -> Exclusive {
    Exclusive { _gate: GATE.write().unwrap_or_else(PoisonError::into_inner) }
}

impl Exclusive {
    /// Whether `pid` is a child procwire spawned and has not reaped.
    pub(crate) fn is_listed(&self, pid: libc::pid_t) -> bool {
        listed().contains(&pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_pid_is_unlisted_by_its_reap_or_by_echild_only() {
        // A pid no process has (above PID_MAX_LIMIT): nothing real is touched.
        let pid = 1 << 23;
        spawning().list(pid);
        assert!(exclusive().is_listed(pid));
        let _ = reap(pid, || Ok(None));
        assert!(exclusive().is_listed(pid), "still running: still listed");
        let _ = reap(pid, || Err(io::Error::from_raw_os_error(libc::EINTR)));
        assert!(exclusive().is_listed(pid), "an error other than ECHILD says nothing");
        let _ = reap(pid, || Ok(Some(0)));
        assert!(!exclusive().is_listed(pid), "reaped: unlisted");
        spawning().list(pid);
        let _ = reap(pid, || Err(io::Error::from_raw_os_error(libc::ECHILD)));
        assert!(!exclusive().is_listed(pid), "gone: unlisted");
    }
}
