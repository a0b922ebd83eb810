//! The stop ladder: ask a child to stop, give it a grace period, then make
//! it; for a process group, also the members that outlived the leader; for
//! a cgroup, every member, until it is empty.
//!
//! One state machine, [`StopLadder`], polled by hand-written futures (the
//! runs of procwire-utils) and awaited through [`Child::stop`]. Its states
//! and transitions are the table in `docs/architecture.md` ("Stopping a
//! child").

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::cgroup::EmptyWatch;
use crate::child::Child;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::signal::Signal;
use crate::status::ExitStatus;

/// How often a group whose leader has exited is looked at again: a member
/// that dies wakes nobody.
const RECHECK: Duration = Duration::from_millis(25);

/// How long the members of a group get to die after the final signal,
/// once the leader has exited, before the next round begins.
const SETTLE: Duration = Duration::from_secs(1);

/// Rounds of first-signal-then-final-signal a group gets before the
/// leader is reaped whatever is left.
const MAX_ROUNDS: u32 = 3;

/// Which processes a stop signals.
///
/// ```
/// use procwire_core::{StopPolicy, StopScope};
/// assert_eq!(StopPolicy::new().scope, StopScope::Process);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum StopScope {
    /// The child alone, through its pidfd.
    #[default]
    Process,
    /// The process group the child leads (spawned with
    /// [`process_group(0)`](crate::Command::process_group),
    /// [`setsid`](crate::Command::setsid) or on a
    /// [pty](crate::Command::pty), or made a leader by itself, as the
    /// `setsid` program does): every signal goes to the whole group
    /// with [`Child::signal_group`], and the stop ends only when no member
    /// is left alive. Members that left the group (`setsid`, daemons) are
    /// not reached: [`Cgroup`](Self::Cgroup) reaches them.
    Group,
    /// Every process in the cgroup the child was spawned into
    /// ([`Command::cgroup`](crate::Command::cgroup)), however it left the
    /// child's process group or session: the first signal goes to the
    /// child and every member ([`Child::signal_cgroup`]); when the grace
    /// runs out, `cgroup.kill` SIGKILLs every member, forks in flight
    /// included ([`Cgroup::kill`](crate::Cgroup::kill)). The stop ends once
    /// the cgroup is empty (`populated 0` in `cgroup.events`, awaited
    /// through inotify, not polled) and the child is reaped.
    ///
    /// The policy's [`final_signal`](StopPolicy::final_signal) is not used
    /// in this scope: the final step is SIGKILL by construction, the one
    /// signal no member can catch, block or ignore. The cgroup itself is
    /// left in place, empty: [`Cgroup::remove`](crate::Cgroup::remove)
    /// removes it. A child spawned without a cgroup gets
    /// [`Error::NoCgroup`] (in an `io::Error`), and no signal.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use procwire_core::{Cgroup, Command, StopPolicy, StopScope};
    ///
    /// let cgroup = Cgroup::create(&Cgroup::mount_point().ok_or("no cgroup v2")?, "daemon-1")?;
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "setsid sh -c 'sleep 100 &' & sleep 100"]).cgroup(&cgroup);
    /// let mut child = cmd.spawn()?;
    /// let policy = StopPolicy::new().with_grace(Duration::from_secs(2)).with_scope(StopScope::Cgroup);
    /// child.stop(&policy).await?; // the daemonised sleep too
    /// cgroup.remove()?;
    /// # Ok(()) }
    /// ```
    Cgroup,
    /// The child and everything it started, as far as the kernel can
    /// tell: [`Cgroup`](Self::Cgroup) for a child spawned into a cgroup,
    /// else [`Group`](Self::Group) for a child that leads its process
    /// group, else [`Process`](Self::Process). Which one a child gets is
    /// [`resolve`](Self::resolve)d when the stop begins. What escapes
    /// each is said there: nothing escapes a cgroup; a `setsid`'d daemon
    /// escapes a group.
    ///
    /// The supervisor's default (`ProgramSpec::new` of
    /// procwire-supervisor, which also gives each incarnation a cgroup
    /// when it can write one); [`StopPolicy::new`] keeps
    /// [`Process`](Self::Process), so a core [`Child`] is stopped as it
    /// always was unless asked.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// use procwire_core::{Command, StopPolicy, StopScope};
    ///
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "sleep 100 & sleep 100"]).process_group(0);
    /// let mut child = cmd.spawn()?;
    /// assert_eq!(StopScope::Tree.resolve(&child), StopScope::Group); // no cgroup: its group
    /// child.stop(&StopPolicy::new().with_scope(StopScope::Tree)).await?;
    /// # Ok(()) }
    /// ```
    Tree,
}

impl StopScope {
    /// The scope a stop of `child` takes: itself, but for
    /// [`Tree`](Self::Tree), [`Cgroup`](Self::Cgroup) when the child was
    /// spawned into a cgroup, else [`Group`](Self::Group) when it leads its
    /// process group (read from the kernel, `getpgid(pid) == pid`, while
    /// it is unreaped), else [`Process`](Self::Process).
    pub fn resolve(self, child: &Child) -> StopScope {
        match self {
            StopScope::Tree if child.cgroup().is_some() => StopScope::Cgroup,
            StopScope::Tree if child.leads_group() => StopScope::Group,
            StopScope::Tree => StopScope::Process,
            scope => scope,
        }
    }
}

/// How to stop a child: the signal that asks, how long it gets, the
/// signal that makes it, and whom they reach. As systemd's `KillSignal=`,
/// `TimeoutStopSec=`, `FinalKillSignal=` and `KillMode=`.
///
/// The defaults: SIGTERM, 5 s, SIGKILL, the child alone. Any grace is
/// accepted: one too long for the clock means never. A zero grace skips
/// the first signal and sends the final one at once.
///
/// ```
/// use std::time::Duration;
/// use procwire_core::{Signal, StopPolicy, StopScope};
///
/// let policy = StopPolicy::new()
///     .with_signal(Signal::INT)
///     .with_grace(Duration::from_millis(300))
///     .with_scope(StopScope::Group);
/// assert_eq!(policy.final_signal, Signal::KILL);
/// assert_eq!(StopPolicy::default().grace, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct StopPolicy {
    /// The signal that asks the child to stop; SIGTERM by default.
    pub signal: Signal,
    /// How long the child has between the two signals; 5 s by default.
    pub grace: Duration,
    /// The signal sent when the grace runs out; SIGKILL by default (and
    /// always SIGKILL in [`StopScope::Cgroup`]).
    pub final_signal: Signal,
    /// The child alone, its process group or its cgroup; the child by
    /// default.
    pub scope: StopScope,
}

impl StopPolicy {
    /// SIGTERM, 5 s, SIGKILL, the child alone.
    pub const fn new() -> StopPolicy {
        StopPolicy {
            signal: Signal::TERM,
            grace: Duration::from_secs(5),
            final_signal: Signal::KILL,
            scope: StopScope::Process,
        }
    }

    /// The same policy, asking with `signal`.
    ///
    /// ```
    /// let policy = procwire_core::StopPolicy::new().with_signal(procwire_core::Signal::HUP);
    /// assert_eq!(policy.signal.as_raw(), 1);
    /// ```
    pub const fn with_signal(self, signal: Signal) -> StopPolicy {
        StopPolicy { signal, ..self }
    }

    /// The same policy, with this grace period.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = procwire_core::StopPolicy::new().with_grace(Duration::MAX);
    /// assert_eq!(policy.grace, Duration::MAX);
    /// ```
    pub const fn with_grace(self, grace: Duration) -> StopPolicy {
        StopPolicy { grace, ..self }
    }

    /// The same policy, ending with `signal`.
    ///
    /// ```
    /// let policy = procwire_core::StopPolicy::new().with_final_signal(procwire_core::Signal::QUIT);
    /// assert_eq!(policy.final_signal.as_raw(), 3);
    /// ```
    pub const fn with_final_signal(self, signal: Signal) -> StopPolicy {
        StopPolicy { final_signal: signal, ..self }
    }

    /// The same policy, reaching `scope`.
    ///
    /// ```
    /// use procwire_core::{StopPolicy, StopScope};
    /// assert_eq!(StopPolicy::new().with_scope(StopScope::Group).scope, StopScope::Group);
    /// ```
    pub const fn with_scope(self, scope: StopScope) -> StopPolicy {
        StopPolicy { scope, ..self }
    }
}

impl Default for StopPolicy {
    /// [`StopPolicy::new`].
    fn default() -> StopPolicy {
        StopPolicy::new()
    }
}

/// How a stop ended: the child's status (it is reaped), and whether the
/// final signal (in cgroup scope, `cgroup.kill`) had to be sent.
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use procwire_core::{Command, StopPolicy};
///
/// let mut child = Command::new("sleep").arg("100").spawn()?;
/// let stopped = child.stop(&StopPolicy::new()).await?;
/// assert_eq!(stopped.status.signal(), Some(15));
/// assert!(!stopped.final_signal_sent);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stopped {
    /// The child's exit status.
    pub status: ExitStatus,
    /// Whether the grace ran out and the final signal was sent (to the
    /// child, or to its group while the leader or a member still ran, or
    /// to its cgroup with `cgroup.kill` while the child or a member still
    /// ran).
    pub final_signal_sent: bool,
}

/// Where a ladder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing sent yet.
    Idle,
    /// The first signal went out; the final one goes when the deadline
    /// (the grace) passes.
    Asking,
    /// The final signal went out; the exit is awaited. In group scope,
    /// once the leader has exited, the deadline is the [`SETTLE`] time
    /// after which the next round begins.
    Forcing,
    /// The child is reaped.
    Done(Stopped),
}

/// The stop ladder as a state machine, for hand-written futures: the
/// first signal at [`start`](Self::start), the final one when the grace
/// runs out, the result from [`poll`](Self::poll) once the child is reaped.
///
/// In [group scope](StopScope::Group) the leader's exit is watched with
/// [`Child::poll_exited`] (`waitid(WNOWAIT)`), so the leader stays a zombie
/// and its group id cannot be reused while the group is signalled. Once
/// the leader has exited, members that outlived it are swept: while
/// `/proc` shows one alive (looked at every 25 ms), the ladder goes on
/// (the final signal when the grace runs out, then a second and third
/// round of both signals, a second apart, if members still survive);
/// then the leader is reaped. The look reads only the processes created
/// after the leader (its descendants) when `/proc` can tell them (see
/// `group_has_live_member`): a process older than the leader that moved
/// itself into the group with `setpgid` is then not waited for.
///
/// In [cgroup scope](StopScope::Cgroup) the child's exit is watched the
/// same way, and the cgroup's emptiness through inotify on its
/// `cgroup.events`; the final step is `cgroup.kill`, after which nothing in
/// the cgroup survives, so there are no further rounds.
///
/// # Example
///
/// ```no_run
/// use std::future::Future;
/// use std::io;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use procwire_core::{Child, Command, StopLadder, StopPolicy, Stopped};
///
/// /// Stops a child and says whether it needed the final signal.
/// struct StopIt {
///     child: Child,
///     ladder: StopLadder,
/// }
///
/// impl Future for StopIt {
///     type Output = io::Result<Stopped>;
///     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
///         let this = self.get_mut();
///         this.ladder.poll(&mut this.child, cx)
///     }
/// }
///
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// let child = Command::new("sleep").arg("100").spawn()?;
/// let mut ladder = StopLadder::new(StopPolicy::new());
/// ladder.start(&child); // SIGTERM now
/// let stopped = StopIt { child, ladder }.await?;
/// assert_eq!(stopped.status.signal(), Some(15));
/// # Ok(()) }
/// ```
///
/// # Caveats
///
/// A final signal the child ignores (anything but SIGKILL can be) leaves
/// the ladder waiting for the exit. In group scope, members still alive
/// after the last round (stuck in uninterruptible sleep, say) are left
/// behind, and the leader is reaped anyway. In cgroup scope the ladder
/// waits for every member to die: one stuck in uninterruptible sleep
/// holds it.
#[derive(Debug)]
pub struct StopLadder {
    policy: StopPolicy,
    /// The policy's scope, [resolved](StopScope::resolve) at the start.
    scope: StopScope,
    state: State,
    /// The grace, or the settle time of a group round. A [`Deadline`], so
    /// the ladder can be polled from another runtime than the one it
    /// started on.
    deadline: Option<Deadline>,
    /// Group scope, leader exited: the next look at `/proc`.
    recheck: Option<Deadline>,
    /// Group and cgroup scope: the leader's exit, seen and not reaped.
    exited: Option<ExitStatus>,
    /// Cgroup scope: the watch on the cgroup's emptiness.
    empty: Option<EmptyWatch>,
    /// Cgroup scope: the cgroup was seen empty (`populated 0`) at the
    /// start, with only the child, exited or not, to wait for: no member
    /// is signalled and no watch is set (nothing joins an empty cgroup
    /// but by a move a process with the rights makes).
    seen_empty: bool,
    final_signal_sent: bool,
    /// Group scope: the round, from 1 (begun at the start).
    round: u32,
    /// A failed signal, reported by the next poll.
    error: Option<io::Error>,
}

impl StopLadder {
    /// A ladder for `policy`; nothing is sent until [`start`](Self::start)
    /// or the first [`poll`](Self::poll).
    pub fn new(policy: StopPolicy) -> StopLadder {
        StopLadder {
            policy,
            scope: policy.scope,
            state: State::Idle,
            deadline: None,
            recheck: None,
            exited: None,
            empty: None,
            seen_empty: false,
            final_signal_sent: false,
            round: 0,
            error: None,
        }
    }

    /// The policy this ladder follows.
    pub fn policy(&self) -> &StopPolicy {
        &self.policy
    }

    /// Sends the first signal now (the final one when the grace is zero)
    /// and starts the grace period. Only the first call does anything. A
    /// child reaped already is not signalled: [`poll`](Self::poll) then
    /// gives its status at once. A signal that fails otherwise is reported
    /// by the next poll.
    ///
    /// The grace is a [`Deadline`], waited for on the timer of whichever
    /// runtime polls the ladder: it may be started on one runtime and
    /// polled to its end on another, after the first shut down.
    pub fn start(&mut self, child: &Child) {
        if self.state != State::Idle {
            return;
        }
        self.round = 1;
        self.scope = self.policy.scope.resolve(child);
        if self.scope == StopScope::Cgroup {
            // An exit with nothing left behind (the common end of a
            // program) costs one read: no member to look for or signal,
            // no watch.
            self.seen_empty = child.cgroup().is_some_and(crate::cgroup::is_empty);
        }
        self.begin_round(child);
    }

    /// Drives the ladder for `child` (the one it was started on; the first
    /// poll starts it if [`start`](Self::start) was not called): watches
    /// the exit, sends the final signal when the grace runs out, sweeps a
    /// group, and resolves once the child is reaped. Polling again after
    /// that gives the same result.
    ///
    /// In process scope the exit is awaited with [`Child::poll_wait`], so
    /// input pipes nobody took are closed and output pipes nobody took are
    /// drained, as [`Child::wait`] does.
    ///
    /// # Errors
    ///
    /// A signal that could not be sent ([`Error::NotGroupLeader`] in group
    /// scope for a child that does not lead its group,
    /// [`Error::NoCgroup`] in cgroup scope for a child spawned without a
    /// cgroup, wrapped in an `io::Error`), a cgroup whose files could not
    /// be read or watched, or a failing wait. Polling again goes on with
    /// the ladder.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with the time driver enabled, as
    /// `tokio::time::sleep` does.
    pub fn poll(&mut self, child: &mut Child, cx: &mut Context<'_>) -> Poll<io::Result<Stopped>> {
        self.start(child);
        if let State::Done(stopped) = self.state {
            return Poll::Ready(Ok(stopped));
        }
        loop {
            if let Some(e) = self.error.take() {
                return Poll::Ready(Err(e));
            }
            if let Poll::Ready(done) = self.poll_exit(child, cx) {
                return Poll::Ready(done);
            }
            let Some(deadline) = &mut self.deadline else { return Poll::Pending };
            if deadline.poll_elapsed(cx).is_pending() {
                return Poll::Pending;
            }
            self.deadline = None;
            match self.state {
                State::Asking => self.force(child),
                // Only armed in group scope, once the leader has exited.
                State::Forcing if self.round < MAX_ROUNDS => {
                    self.round += 1;
                    self.begin_round(child);
                }
                State::Forcing => return Poll::Ready(self.reap(child)),
                State::Idle | State::Done(_) => unreachable!("no deadline before the start or after the end"),
            }
        }
    }

    /// The exit: in process scope, the reap; in group scope, the leader's
    /// exit (not reaped), then every [`RECHECK`] a look for live members,
    /// and the reap once there is none; in cgroup scope, the child's exit
    /// (not reaped), then the cgroup's emptiness, then the reap.
    fn poll_exit(&mut self, child: &mut Child, cx: &mut Context<'_>) -> Poll<io::Result<Stopped>> {
        match self.scope {
            StopScope::Process => {
                let status = std::task::ready!(child.poll_wait(cx))?;
                return Poll::Ready(Ok(self.done(status)));
            }
            StopScope::Cgroup => return self.poll_cgroup_exit(child, cx),
            StopScope::Group | StopScope::Tree => {}
        }
        if self.exited.is_none() {
            self.exited = Some(std::task::ready!(child.poll_exited(cx))?);
            if self.state == State::Forcing {
                self.deadline = Some(Deadline::after(SETTLE));
            }
        }
        let due = match &mut self.recheck {
            None => true,
            Some(recheck) => recheck.poll_elapsed(cx).is_ready(),
        };
        if !due {
            return Poll::Pending;
        }
        // A reaped child (no pid) has no group left to look at safely.
        if !child.id().is_some_and(group_has_live_member) {
            return Poll::Ready(self.reap(child));
        }
        let recheck = self.recheck.insert(Deadline::after(RECHECK));
        // Registers the waker (a fresh 25 ms sleep is pending).
        let _ = recheck.poll_elapsed(cx);
        Poll::Pending
    }

    /// Cgroup scope: the child's exit, without reaping it (its pid stays
    /// its own, so the member sweeps can leave it out), then `populated 0`.
    fn poll_cgroup_exit(&mut self, child: &mut Child, cx: &mut Context<'_>) -> Poll<io::Result<Stopped>> {
        if self.exited.is_none() {
            self.exited = Some(std::task::ready!(child.poll_exited(cx))?);
        }
        if self.seen_empty {
            return Poll::Ready(self.reap(child));
        }
        let watch = match &mut self.empty {
            Some(watch) => watch,
            None => {
                let path = child.cgroup().ok_or_else(|| io::Error::other(Error::NoCgroup))?;
                self.empty.insert(EmptyWatch::new(path)?)
            }
        };
        std::task::ready!(watch.poll_empty(cx))?;
        Poll::Ready(self.reap(child))
    }

    /// Group and cgroup scope: reaps the leader, whose exit was seen.
    fn reap(&mut self, child: &mut Child) -> io::Result<Stopped> {
        let status = child.try_wait()?.or(self.exited);
        let status = status.ok_or_else(|| io::Error::other("the leader's exit status was lost"))?;
        Ok(self.done(status))
    }

    fn done(&mut self, status: ExitStatus) -> Stopped {
        let stopped = Stopped { status, final_signal_sent: self.final_signal_sent };
        self.state = State::Done(stopped);
        self.deadline = None;
        self.recheck = None;
        self.empty = None;
        stopped
    }

    /// The first signal and the grace; with no grace, the final signal.
    fn begin_round(&mut self, child: &Child) {
        if self.policy.grace.is_zero() {
            self.force(child);
        } else {
            self.ask(child);
        }
    }

    /// The first signal, and the grace.
    fn ask(&mut self, child: &Child) {
        self.send(child, self.policy.signal);
        self.state = State::Asking;
        // Any duration: past the clock's end means never.
        self.deadline = Some(Deadline::after(self.policy.grace));
    }

    /// The final signal (SIGKILL in cgroup scope, through `cgroup.kill`);
    /// in group scope with the leader gone, the settle time before the
    /// next round.
    fn force(&mut self, child: &Child) {
        let signal = match self.scope {
            StopScope::Cgroup => Signal::KILL,
            _ => self.policy.final_signal,
        };
        if self.send(child, signal) {
            self.final_signal_sent = true;
        }
        self.state = State::Forcing;
        if self.scope == StopScope::Group && self.exited.is_some() {
            self.deadline = Some(Deadline::after(SETTLE));
        }
    }

    /// Sends `sig` to the child, its group or its cgroup; whether it went.
    /// A child reaped already (and in cgroup scope, an empty cgroup) is
    /// not an error (the poll gives its status).
    fn send(&mut self, child: &Child, sig: Signal) -> bool {
        let sent = match self.scope {
            // Resolved at the start: `Tree` is one of the others by now.
            StopScope::Process | StopScope::Tree => child.signal(sig),
            StopScope::Group => child.signal_group(sig),
            // Empty at the start: only the child is left to ask.
            StopScope::Cgroup if self.seen_empty => child.signal(sig),
            StopScope::Cgroup => child.signal_cgroup(sig),
        };
        match sent {
            Ok(()) => true,
            Err(Error::ProcessExitedAlready) => false,
            Err(e) => {
                self.error.get_or_insert(match e {
                    Error::Io(e) => e,
                    e => io::Error::other(e),
                });
                false
            }
        }
    }
}

impl Child {
    /// Stops the child by its policy: the first signal, the grace, the
    /// final signal if it is still running, and in group scope the members
    /// that outlived it, in cgroup scope every member; resolves once it is
    /// reaped (and in cgroup scope, once the cgroup is empty). The
    /// [`StopLadder`] awaited; see it for the details.
    ///
    /// A child that has exited, or was reaped, already is not signalled:
    /// its status comes back at once.
    ///
    /// # Errors
    ///
    /// As [`StopLadder::poll`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with the time driver enabled.
    ///
    /// # Cancel safety
    ///
    /// Not resumable: the first signal is sent at the first poll, and
    /// dropping the future mid-ladder leaves the child with that signal
    /// and no final one. The `Child`'s own rules then apply: a later
    /// [`wait`](Self::wait) or `stop` (which starts over), or its drop
    /// (SIGKILL with [`kill_on_drop`](crate::Command::kill_on_drop), and
    /// the reaper). In group and cgroup scope a leader that has exited
    /// stays a zombie until then.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use procwire_core::{Command, StopPolicy, StopScope};
    ///
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "sleep 100 & sleep 100 & wait"]).process_group(0);
    /// let mut child = cmd.spawn()?;
    /// let policy = StopPolicy::new().with_grace(Duration::from_secs(2)).with_scope(StopScope::Group);
    /// let stopped = child.stop(&policy).await?; // the shell and both sleeps
    /// assert_eq!(stopped.status.signal(), Some(15));
    /// # Ok(()) }
    /// ```
    pub async fn stop(&mut self, policy: &StopPolicy) -> io::Result<Stopped> {
        let mut ladder = StopLadder::new(*policy);
        poll_fn(|cx| ladder.poll(self, cx)).await
    }
}

/// Whether a process other than a zombie is in process group `pgid`,
/// whose leader (pid `pgid`) has exited and is not reaped, from
/// `/proc/*/stat` (`pid (comm) state ppid pgrp ...`). An unreadable
/// `/proc` answers yes, so the ladder runs its full course.
///
/// Only processes created after the leader are looked at when that can be
/// told ([`Newer`]): a member that outlived the leader is its descendant,
/// created after it. (A process older than the leader that moved itself
/// into the group with `setpgid` is then not seen.) A restart of a
/// short-lived program so reads a few `stat` files instead of every one.
fn group_has_live_member(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else { return true };
    let newer = Newer::than(pgid);
    dir.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else { return false };
        if newer.as_ref().is_some_and(|newer| !newer.contains(pid)) {
            return false;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
        let Some((_, rest)) = stat.rsplit_once(')') else { return false };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|p| p.parse::<u32>().ok());
        pgrp == Some(pgid) && !matches!(state, Some("Z" | "X"))
    })
}

/// The pids given out after a process's, as the kernel gives pids: in
/// increasing order, wrapping at `pid_max` (`leader` excluded, `last`
/// included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Newer {
    leader: u32,
    last: u32,
}

impl Newer {
    /// The pids newer than `leader` (a process not reaped yet), or `None`
    /// when they cannot be told apart: `/proc` not this process's pid
    /// namespace's (its pids and `ns_last_pid`'s are not the same), any
    /// file unreadable, or the leader so old that the pids may have
    /// wrapped around more than once since it started (it lived longer
    /// than `pid_max` microseconds: a million new pids a second at most).
    #[cfg(not(target_os = "linux"))]
    fn than(_: u32) -> Option<Newer> {
        None
    }

    /// See above.
    #[cfg(target_os = "linux")]
    fn than(leader: u32) -> Option<Newer> {
        use std::sync::OnceLock;
        let read = |path: &str| std::fs::read_to_string(path).ok();
        // Neither changes for a process in practice (a process stays in
        // its pid namespace; pid_max is set at boot): read once.
        static OWN_PROC_AND_PID_MAX: OnceLock<Option<u64>> = OnceLock::new();
        let pid_max = (*OWN_PROC_AND_PID_MAX.get_or_init(|| {
            let own: u32 = std::fs::read_link("/proc/self").ok()?.to_str()?.parse().ok()?;
            let pid_max: u64 = read("/proc/sys/kernel/pid_max")?.trim().parse().ok()?;
            (own == std::process::id()).then_some(pid_max)
        }))?;
        let last: u32 = read("/proc/sys/kernel/ns_last_pid")?.trim().parse().ok()?;
        let stat = read(&format!("/proc/{leader}/stat"))?;
        // Field 22, `starttime`, in clock ticks since boot: the 20th after
        // the `)` that ends the command's name.
        let started: u64 = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()?;
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
        let ticks = u64::try_from(ticks).ok().filter(|&t| t > 0)?;
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).ok()?;
        let now_us =
            u64::try_from(now.tv_sec()).ok()? * 1_000_000 + u64::try_from(now.tv_nsec()).ok()? / 1_000;
        let lived_us = now_us.saturating_sub(started.saturating_mul(1_000_000) / ticks);
        (lived_us < pid_max).then_some(Newer { leader, last })
    }

    fn contains(&self, pid: u32) -> bool {
        if self.last >= self.leader {
            pid > self.leader && pid <= self.last
        } else {
            pid > self.leader || pid <= self.last
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_pids_wrap_at_pid_max() {
        let plain = Newer { leader: 100, last: 200 };
        assert!(!plain.contains(100) && plain.contains(101) && plain.contains(200) && !plain.contains(201));
        assert!(!plain.contains(99) && !plain.contains(1));
        let wrapped = Newer { leader: 4_000_000, last: 50 };
        assert!(wrapped.contains(4_000_001) && wrapped.contains(1) && wrapped.contains(50));
        assert!(!wrapped.contains(51) && !wrapped.contains(4_000_000) && !wrapped.contains(3_999_999));
    }

    /// A process just started: the pids newer than it run to the last
    /// given out; this process, older, is not among them.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_fresh_process_has_newer_pids_and_this_one_is_older() {
        let mut child = std::process::Command::new("sleep").arg("10").spawn().unwrap();
        let newer = Newer::than(child.id());
        // Reaped before any assertion, so a failure leaves no child behind.
        let _ = child.kill();
        let _ = child.wait();
        let newer = newer.expect("told apart");
        assert_eq!(newer.leader, child.id());
        assert!(!newer.contains(std::process::id()) || std::process::id() > child.id());
    }

    #[test]
    fn own_group_is_alive_and_a_group_nobody_has_is_not() {
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        let pgrp: u32 = own.rsplit_once(')').unwrap().1.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert!(group_has_live_member(pgrp));
        // Above the largest pid_max Linux allows (2^22).
        assert!(!group_has_live_member(u32::MAX));
    }

    #[test]
    fn policy_defaults_and_builders() {
        let policy = StopPolicy::default();
        assert_eq!(
            (policy.signal, policy.grace, policy.final_signal, policy.scope),
            (Signal::TERM, Duration::from_secs(5), Signal::KILL, StopScope::Process)
        );
        let policy = policy.with_grace(Duration::ZERO).with_final_signal(Signal::INT);
        assert_eq!((policy.grace, policy.final_signal), (Duration::ZERO, Signal::INT));
    }
}
