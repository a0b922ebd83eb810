//! [`Subreaper`]: this process as a child subreaper, reaping the orphans
//! it adopts, and never a child that procwire spawned.
//!
//! The kernel cannot tell an adopted orphan from a child this process
//! forked (same parent, same exit signal), so procwire lists the children
//! it spawns (`reap::ours`), from before the clone returns until after
//! their reap, behind a gate the subreaper holds while it looks; every
//! other child is taken for adopted. Reaps are `waitpid(pid, WNOHANG)` of
//! one child at a time, never `waitpid(-1)`.

use std::collections::BTreeSet;
use std::future::poll_fn;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use nix::libc;

use crate::deadline::Deadline;
use crate::platform::{self, Feature, Os};
use crate::reap::ours::{self, Exclusive};
use crate::reap::{pidfd_available, PidSlot, Sigchld, Target};
use crate::signal::Signal;
use crate::status::ExitStatus;
use crate::stop::StopPolicy;
use crate::sys::process as sys;

use procfs::Procfs;

mod procfs;

/// How soon a look at the children that failed (`/proc` could not be
/// read: a full descriptor table) is made again.
const RETRY: Duration = Duration::from_millis(100);

/// How often [`Subreaper::stop_adopted`] looks again while it waits: a
/// process adopted when its parent, a grandchild of ours, dies wakes
/// nobody (no SIGCHLD comes for it).
const RECHECK: Duration = Duration::from_millis(50);

/// How many times one look reads the list of children again because its
/// last pass reaped something (see [`Subreaper::look`]).
const PASSES: usize = 8;

/// How long [`Subreaper::stop_adopted`] waits for the processes sent the
/// final signal, and for those adopted meanwhile, before it gives up.
const FINAL_WAIT: Duration = Duration::from_secs(10);

/// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`) and
/// reaps the orphans it adopts: what a process needs to be a container's
/// PID 1 (which is a subreaper already), as tini, dumb-init and s6-overlay
/// are. An orphan (a process whose parent exited: a double-forked daemon,
/// a shell's background job) is reparented by the kernel to its nearest
/// subreaper ancestor; a subreaper that does not reap it keeps it a zombie
/// for ever.
///
/// What it reaps: every child of this process, except those spawned by
/// procwire's [`Command`](crate::Command) (and what is built on it:
/// procwire-utils, the supervisor), which their own [`Child`](crate::Child)
/// reaps. It looks at its children when it starts
/// ([`poll_reap`](Self::poll_reap)'s first call) and at each SIGCHLD, reaps
/// each zombie among them with `waitpid(pid, WNOHANG)`, and never calls
/// `waitpid(-1)`. [`stop_adopted`](Self::stop_adopted) stops the adopted
/// processes still running (at shutdown).
///
/// # What it requires of the rest of the process
///
/// - **Spawn children through procwire only.** A child spawned another way
///   (`std::process::Command`, `tokio::process::Command`, a C library's
///   `fork`) looks exactly like an adopted orphan to the kernel and to the
///   subreaper: once it exits it may be reaped here first, and that API's
///   own wait then fails (`ECHILD`), and [`stop_adopted`](Self::stop_adopted)
///   stops it with the adopted processes. No rule (process group, session,
///   start time) tells them apart soundly; procwire does not guess.
/// - Nothing else reaps with `waitpid(-1)` / `wait()`, sets SIGCHLD to
///   `SIG_IGN` or `SA_NOCLDWAIT` (the kernel would then reap every child
///   itself), or replaces tokio's SIGCHLD handler.
/// - One copy of procwire-core in the process: two copies keep two lists
///   of the children they spawned, and each one's subreaper would reap the
///   other's.
/// - `/proc` mounted, for this pid namespace or an ancestor of it.
///
/// # What it guarantees
///
/// - A child spawned by procwire, from any thread or runtime, before or
///   after the subreaper was made, is never reaped by it, however soon it
///   exits: it is listed from before its clone returns until after its own
///   reap, and the subreaper looks and reaps only while no spawn or reap of
///   procwire's is between those two points.
/// - Every other child is reaped once it has exited and the task polling
///   [`poll_reap`](Self::poll_reap) runs: each exit, and each adoption of
///   a process that is already a zombie, sends SIGCHLD.
/// - A pid it signals is that of its own unreaped child, which nobody else
///   reaps: it names no other process.
///
/// # Dropping
///
/// Dropping the last `Subreaper` of the process clears the subreaper flag
/// (if this process did not have it before) and hands the adopted
/// processes still running to procwire's orphan reaper thread, which reaps
/// them when they exit (after sending them SIGKILL, with
/// [`kill_on_drop`](Self::kill_on_drop)). Nothing it adopted becomes a
/// zombie for ever.
///
/// ```no_run
/// # async fn doc() -> std::io::Result<()> {
/// use procwire_core::Subreaper;
///
/// let mut subreaper = Subreaper::new()?;
/// loop {
///     for adopted in subreaper.reaped().await? {
///         eprintln!("reaped orphan {}: {}", adopted.pid, adopted.status);
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Subreaper {
    sigchld: Sigchld,
    procfs: Procfs,
    /// Whether the children were looked at once (a first poll looks
    /// before it waits).
    looked: bool,
    /// When a failed look is made again.
    retry: Option<Deadline>,
    kill_on_drop: bool,
}

/// A process the [`Subreaper`] adopted and reaped: its pid (in this
/// process's pid namespace) and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Adopted {
    /// Its pid, free for reuse now.
    pub pid: u32,
    /// How it ended.
    pub status: ExitStatus,
}

/// The subreapers alive in the process, and whether it was a subreaper
/// before the first of them.
struct Flag {
    live: usize,
    was_set: bool,
}

static FLAG: Mutex<Flag> = Mutex::new(Flag { live: 0, was_set: false });

impl Subreaper {
    /// Makes this process a child subreaper (a no-op change for a PID 1,
    /// which reaps orphans by the kernel's design) and starts listening for
    /// SIGCHLD, on the current tokio runtime (it moves to the runtime that
    /// polls it).
    ///
    /// # Errors
    ///
    /// `ErrorKind::Unsupported` off Linux (an [`Error::Unsupported`]
    /// inside); no tokio runtime; `prctl(PR_SET_CHILD_SUBREAPER)` refused
    /// (Linux before 3.4); tokio's signal driver could not listen; `/proc`
    /// not mounted, or mounted for a pid namespace that does not show this
    /// process.
    ///
    /// [`Error::Unsupported`]: crate::Error::Unsupported
    pub fn new() -> io::Result<Subreaper> {
        platform::check([Feature::Subreaper], Os::CURRENT)?;
        let procfs = Procfs::new()?;
        let sigchld = Sigchld::new()?;
        let mut flag = FLAG.lock().unwrap_or_else(PoisonError::into_inner);
        if flag.live == 0 {
            flag.was_set = subreaper_flag()?;
            if !flag.was_set {
                set_subreaper_flag(true)?;
            }
        }
        flag.live += 1;
        Ok(Subreaper { sigchld, procfs, looked: false, retry: None, kill_on_drop: false })
    }

    /// Whether dropping the last subreaper sends SIGKILL to the adopted
    /// processes still running (before they are handed to the orphan
    /// reaper thread); off by default.
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Subreaper {
        self.kill_on_drop = kill;
        self
    }

    /// Reaps every adopted process that has exited, now, without waiting.
    ///
    /// # Errors
    ///
    /// `/proc` could not be read (a full descriptor table: `EMFILE`).
    pub fn reap(&self) -> io::Result<Vec<Adopted>> {
        let gate = ours::exclusive();
        let mut reaped = Vec::new();
        self.look(&gate, &mut reaped)?;
        Ok(reaped)
    }

    /// Waits for adopted processes to exit and reaps them: the first call
    /// reaps at once what has exited already; then each SIGCHLD wakes it to
    /// look again. `Ready` with the processes reaped (never empty), or with
    /// the error of a failed look, which is made again 100 ms later.
    pub fn poll_reap(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Vec<Adopted>>> {
        loop {
            let retry = self.retry.as_mut().is_some_and(|r| r.poll_elapsed(cx).is_ready());
            if self.looked && !retry {
                std::task::ready!(self.sigchld.poll_recv(cx))?;
            }
            self.looked = true;
            self.retry = None;
            match self.reap() {
                Ok(reaped) if reaped.is_empty() => {}
                Ok(reaped) => return Poll::Ready(Ok(reaped)),
                Err(e) => {
                    self.retry = Some(Deadline::after(RETRY));
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    /// [`poll_reap`](Self::poll_reap) as a future.
    ///
    /// # Errors
    ///
    /// As [`poll_reap`](Self::poll_reap).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: what it reaped is returned by the poll that reaped it,
    /// and a dropped future loses no SIGCHLD.
    pub async fn reaped(&mut self) -> io::Result<Vec<Adopted>> {
        poll_fn(|cx| self.poll_reap(cx)).await
    }

    /// Stops every adopted process still running, the way a
    /// [`StopPolicy`] stops a child: `policy.signal` to each, then, for
    /// those alive when `policy.grace` runs out, `policy.final_signal`;
    /// reaping them as they exit. A process adopted meanwhile (a grandchild
    /// whose parent just died) gets the signal of the moment too, so the
    /// stop ends once no adopted process is left, or 10 s after the final
    /// signal (a process stuck in the kernel, or a final signal other than
    /// SIGKILL that is ignored): what is left then stays this process's
    /// child, reaped when it exits, and sent SIGKILL by a drop with
    /// [`kill_on_drop`](Self::kill_on_drop). `policy.scope` is not used:
    /// each adopted process is signalled alone, and its own children are
    /// adopted, and signalled, when it dies.
    ///
    /// Meant for shutdown, once every child spawned by procwire was
    /// stopped (their orphans are adopted as they stop). While it waits it
    /// also looks every 50 ms, since an adoption of a live process sends
    /// no SIGCHLD.
    ///
    /// Returns the adopted processes reaped meanwhile.
    ///
    /// # Errors
    ///
    /// `/proc` could not be read; the stop is then left where it was.
    pub async fn stop_adopted(&mut self, policy: StopPolicy) -> io::Result<Vec<Adopted>> {
        let mut reaped = Vec::new();
        // Those sent the first signal, and the final one.
        let (mut asked, mut made) = (BTreeSet::new(), BTreeSet::new());
        let mut grace = (!policy.grace.is_zero()).then(|| Deadline::after(policy.grace));
        let mut end: Option<Deadline> = None;
        loop {
            let Looked { living, settled } = {
                let gate = ours::exclusive();
                let looked = self.look(&gate, &mut reaped)?;
                for &pid in &looked.living {
                    let (sent, sig) = if grace.is_some() {
                        (&mut asked, policy.signal)
                    } else {
                        (&mut made, policy.final_signal)
                    };
                    // Our own unreaped child, which only we reap: the pid is
                    // its own while the gate is held.
                    if sent.insert(pid) {
                        let _ = sys::kill(pid, sig.as_raw());
                    }
                }
                looked
            };
            asked.retain(|pid| living.contains(pid));
            made.retain(|pid| living.contains(pid));
            // Unsettled: one may have been adopted after the list; the
            // next look (at the latest in 50 ms) tells.
            if living.is_empty() && settled {
                return Ok(reaped);
            }
            if grace.is_none() && end.is_none() {
                end = Some(Deadline::after(FINAL_WAIT));
            }
            let mut recheck = Deadline::after(RECHECK);
            let woke = poll_fn(|cx| {
                if let Some(g) = &mut grace {
                    if g.poll_elapsed(cx).is_ready() {
                        return Poll::Ready(Wake::GraceOver);
                    }
                }
                if let Some(e) = &mut end {
                    if e.poll_elapsed(cx).is_ready() {
                        return Poll::Ready(Wake::GiveUp);
                    }
                }
                if let Poll::Ready(r) = self.sigchld.poll_recv(cx) {
                    return Poll::Ready(if r.is_ok() { Wake::Look } else { Wake::GiveUp });
                }
                recheck.poll_elapsed(cx).map(|()| Wake::Look)
            })
            .await;
            match woke {
                Wake::Look => {}
                Wake::GraceOver => grace = None,
                Wake::GiveUp => {
                    let gate = ours::exclusive();
                    self.look(&gate, &mut reaped)?;
                    return Ok(reaped);
                }
            }
        }
    }

    /// Reaps the adopted children that have exited into `reaped`, and
    /// returns those still running; under the gate, so that no child of
    /// procwire's is created unlisted or reaped meanwhile.
    ///
    /// A child that exits between the list and its reap had its own
    /// children adopted before it turned a zombie, after the list: while a
    /// pass reaps anything the list is read again, up to [`PASSES`] times.
    /// `settled` says the last pass reaped nothing, so that the processes
    /// returned are all the adopted ones still running.
    fn look(&self, gate: &Exclusive, reaped: &mut Vec<Adopted>) -> io::Result<Looked> {
        let mut looked = Looked { living: Vec::new(), settled: false };
        for _ in 0..PASSES {
            let before = reaped.len();
            looked.living.clear();
            for pid in self.procfs.children()? {
                if gate.is_listed(pid) {
                    continue;
                }
                match sys::waitpid_nohang(pid) {
                    Ok(Some(raw)) => {
                        reaped.push(Adopted { pid: pid as u32, status: ExitStatus::from_raw(raw) });
                    }
                    Ok(None) => looked.living.push(pid),
                    // Reaped by another API since the list (see "What it
                    // requires"), or a clone child that `waitpid` does not
                    // wait for: not ours to reap.
                    Err(_) => {}
                }
            }
            looked.settled = reaped.len() == before;
            if looked.settled {
                break;
            }
        }
        Ok(looked)
    }
}

/// What [`Subreaper::look`] found.
struct Looked {
    /// The adopted children still running.
    living: Vec<libc::pid_t>,
    /// The last pass reaped nothing: `living` is every one of them.
    settled: bool,
}

/// What woke [`Subreaper::stop_adopted`].
enum Wake {
    Look,
    GraceOver,
    GiveUp,
}

/// Whether this process is a child subreaper.
#[cfg(target_os = "linux")]
fn subreaper_flag() -> io::Result<bool> {
    Ok(nix::sys::prctl::get_child_subreaper()?)
}

/// Makes this process a child subreaper, or no longer one.
#[cfg(target_os = "linux")]
fn set_subreaper_flag(on: bool) -> io::Result<()> {
    Ok(nix::sys::prctl::set_child_subreaper(on)?)
}

/// Never reached: [`Subreaper::new`] refuses first off Linux.
#[cfg(not(target_os = "linux"))]
fn subreaper_flag() -> io::Result<bool> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Never reached: [`Subreaper::new`] refuses first off Linux.
#[cfg(not(target_os = "linux"))]
fn set_subreaper_flag(_: bool) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

impl Drop for Subreaper {
    fn drop(&mut self) {
        let mut flag = FLAG.lock().unwrap_or_else(PoisonError::into_inner);
        flag.live -= 1;
        if flag.live > 0 {
            return;
        }
        // First, so that nothing is adopted after the look below.
        if !flag.was_set {
            let _ = set_subreaper_flag(false);
        }
        let gate = ours::exclusive();
        let mut reaped = Vec::new();
        let living = self.look(&gate, &mut reaped).map(|l| l.living).unwrap_or_default();
        let mut handed = Vec::with_capacity(living.len());
        for pid in living {
            let target = match pidfd_available().then(|| sys::pidfd_open(pid)) {
                Some(Ok(fd)) => Target::Pidfd(Arc::new(fd), pid),
                _ => Target::Pid(Arc::new(PidSlot::new(pid))),
            };
            let killed = self.kill_on_drop && sys::kill(pid, Signal::KILL.as_raw()).is_ok();
            handed.push((target, killed));
        }
        drop(gate);
        drop(flag);
        // Without the gate: the orphan reaper takes it shared to reap.
        for (target, killed) in handed {
            crate::reap::abandon_adopted(target, killed);
        }
    }
}
