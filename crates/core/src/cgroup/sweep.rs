//! Signalling a cgroup's members by pid without ever reaching a stranger,
//! and killing them all where the kernel has no `cgroup.kill`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::libc;

use super::Cgroup;
use crate::sys::process as sys;

/// Rounds of [`Cgroup::kill_by_sweep`] before it gives up on members that
/// keep appearing (only possible without `cgroup.freeze`).
const MAX_ROUNDS: usize = 1000;

impl Cgroup {
    /// Sends `sig` to every member of this cgroup but `except` (the
    /// caller's own child, signalled through its pidfd); how many were
    /// signalled.
    pub(crate) fn signal_members(&self, sig: i32, except: Option<u32>) -> io::Result<usize> {
        let members: Vec<u32> = self.procs()?.into_iter().filter(|&pid| Some(pid) != except).collect();
        signal_verified(&members, sig, || self.procs()).map(|signalled| signalled.len())
    }

    /// [`kill`](Self::kill) without `cgroup.kill`: SIGKILL to every member
    /// of the cgroup and the cgroups below it, then again to those a new
    /// read finds that were not sent it yet, until there are none; with
    /// `freeze`, the subtree frozen first (`cgroup.freeze`: a process that
    /// forks meanwhile has a frozen child, so the rounds end) and thawed
    /// after.
    pub(crate) fn kill_by_sweep(&self, freeze: bool) -> io::Result<()> {
        let freeze_file = self.path.join("cgroup.freeze");
        let frozen = freeze && std::fs::write(&freeze_file, b"1").is_ok();
        let result = self.sweep();
        if frozen {
            // Members sent SIGKILL die frozen or not; the thaw is for the
            // cgroup's next members.
            let thawed = std::fs::write(&freeze_file, b"0");
            if self.path.exists() {
                thawed?;
            }
        }
        result
    }

    fn sweep(&self) -> io::Result<()> {
        // Sorted: the pids sent SIGKILL so far.
        let mut sent: Vec<u32> = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let fresh: Vec<u32> =
                subtree_procs(&self.path)?.into_iter().filter(|p| sent.binary_search(p).is_err()).collect();
            if fresh.is_empty() {
                return Ok(());
            }
            signal_verified(&fresh, libc::SIGKILL, || subtree_procs(&self.path))?;
            // Those that could not be signalled (gone meanwhile) count as
            // done too: the next read shows who is left.
            sent.extend(fresh);
            sent.sort_unstable();
            sent.dedup();
        }
        Err(io::Error::other(format!(
            "{}: members kept appearing after {MAX_ROUNDS} rounds of SIGKILL",
            self.path.display()
        )))
    }
}

/// The pids in the cgroup at `dir` and every cgroup below it.
fn subtree_procs(dir: &Path) -> io::Result<Vec<u32>> {
    let mut pids = match std::fs::read_to_string(dir.join("cgroup.procs")) {
        Ok(text) => text.lines().filter_map(|l| l.trim().parse().ok()).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(pids),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            pids.extend(subtree_procs(&entry.path())?);
        }
    }
    Ok(pids)
}

/// Sends `sig` to those of `pids` (read from `cgroup.procs`) that are
/// still members, and never to a process that took a pid over: each is
/// opened as a pidfd, the members are read again (`reread`), and only the
/// pidfds of pids listed both times are signalled. (A pidfd is the
/// process that held the pid when it was opened; if the pid is listed
/// again later, either that process is still the member, or it is gone
/// and the signal finds nobody.) Where a pidfd cannot be had (no pidfds,
/// no descriptor left), `kill(2)` by pid, after the same check.
///
/// Goes on past a pid that cannot be signalled (`EPERM`) and reports the
/// first such error once the others have been signalled; returns the pids
/// signalled.
fn signal_verified(
    pids: &[u32],
    sig: i32,
    reread: impl FnOnce() -> io::Result<Vec<u32>>,
) -> io::Result<Vec<u32>> {
    if pids.is_empty() {
        return Ok(Vec::new());
    }
    let opened: Vec<(u32, Option<OwnedFd>)> = pids
        .iter()
        .filter_map(|&pid| match sys::pidfd_open(pid as libc::pid_t) {
            Ok(fd) => Some((pid, Some(fd))),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => None,
            Err(_) => Some((pid, None)),
        })
        .collect();
    let mut still = reread()?;
    still.sort_unstable();
    let mut signalled = Vec::with_capacity(opened.len());
    let mut first_error = None;
    for (pid, pidfd) in opened {
        if still.binary_search(&pid).is_err() {
            continue;
        }
        let sent = match &pidfd {
            Some(fd) => sys::pidfd_send_signal(fd.as_fd(), sig),
            None => sys::kill(pid as libc::pid_t, sig),
        };
        match sent {
            Ok(()) => signalled.push(pid),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(signalled),
    }
}
