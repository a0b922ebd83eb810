//! What the supervisor tells: state changes ([`Event`]), output lines
//! ([`LogLine`]) and snapshots ([`Status`]).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use procwire_core::ExitStatus;

use crate::lines::Line;
use crate::policy::Decision;
use crate::state::{AfterStop, State};

/// One state change of one program, on the [`events`](crate::Supervisor::events)
/// channel; or, with `from == to`, something the program said that changed
/// no state (an sd_notify `STATUS=`, a datagram refused: see [`Cause`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Event {
    /// The program's name.
    pub program: Arc<str>,
    /// The incarnation the change belongs to: 1 for the first spawn
    /// attempt, one more at each attempt (a failed spawn too); 0 before any.
    pub incarnation: u64,
    /// The incarnation's pid, when a process was spawned (on the events
    /// that tell how it ended too).
    pub pid: Option<u32>,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why.
    pub cause: Cause,
    /// When (a tokio `Instant`: paused time applies).
    pub at: tokio::time::Instant,
}

/// Why a program changed state.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Cause {
    /// Added to the supervisor (`Stopped`, the first event of a program).
    Added,
    /// A spawn begins (`-> Starting`), for this reason.
    Start(Trigger),
    /// The program is ready (`Starting -> Running`), as its
    /// [`Readiness`](crate::Readiness) says.
    Ready,
    /// A start waits for this program it runs
    /// [`after`](crate::ProgramSpec::after) to be `Running` (`-> Waiting`).
    Waiting {
        /// The first dependency not running yet.
        on: Arc<str>,
    },
    /// Not ready within its start timeout: the supervisor stops it
    /// (`Starting -> Stopping`).
    StartTimeout,
    /// The watchdog was not pinged in time, or the program asked for it
    /// (`WATCHDOG=trigger`): the supervisor stops it, SIGABRT first
    /// (`Running -> Stopping`).
    WatchdogMissed {
        /// `true` for `WATCHDOG=trigger`.
        triggered: bool,
    },
    /// The program's [`Liveness`](crate::Liveness) check failed this many
    /// times in a row: the supervisor stops it (`Running -> Stopping`).
    LivenessFailed {
        /// The failures in a row.
        failures: u32,
    },
    /// Another program failed and the supervisor's
    /// [`Strategy`](crate::Strategy) stops this one too, to start them
    /// all again (`-> Stopping`).
    Strategy {
        /// The program whose failure began it.
        failed: Arc<str>,
    },
    /// A stop the supervisor began by itself (a start timeout, a missed
    /// watchdog) is complete, and the policy decided what follows.
    AutoStopped {
        /// How the policy read it: [`Exit::StartTimeout`](crate::Exit::StartTimeout)
        /// or [`Exit::Watchdog`](crate::Exit::Watchdog).
        exit: crate::Exit,
        /// How the stop went.
        outcome: StopOutcome,
        /// What the policy decided.
        decision: Decision,
    },
    /// The incarnation ended by itself and the policy decided what follows.
    Exited {
        /// How it ended.
        status: ExitStatus,
        /// What the policy decided (the delay of a restart, the reason to
        /// stay down, the limit reached).
        decision: Decision,
    },
    /// The program could not be spawned: a counted attempt, decided as a
    /// failure (never a panic, never forgotten).
    SpawnFailed {
        /// The error, with its [`SpawnStep`](procwire_core::SpawnStep).
        error: Arc<procwire_core::Error>,
        /// What the policy decided.
        decision: Decision,
    },
    /// Waiting for the incarnation failed (should not happen); decided as
    /// a failure.
    WaitFailed {
        /// The error.
        error: Arc<io::Error>,
        /// What the policy decided.
        decision: Decision,
    },
    /// A stop was asked for (`stop`, `restart`, `remove`, shutdown): the
    /// ladder runs (`-> Stopping`), or a pending restart is cancelled.
    StopRequested(AfterStop),
    /// The stop that was asked for is complete: every process reaped.
    Stopped(StopOutcome),
    /// The program sent an sd_notify datagram that says more than
    /// `READY=1` or a watchdog ping (`STATUS=`, `STOPPING=1`,
    /// `RELOADING=1`, `ERRNO=`, `MAINPID=`, lines ignored): the state does
    /// not change (`from == to`).
    Notified(Arc<crate::Notification>),
    /// A datagram from one of the program's processes was not read (too
    /// large, no credentials, ...); nothing changes (`from == to`).
    NotifyRejected {
        /// The sender, when known.
        pid: Option<u32>,
        /// Why.
        reason: crate::Rejection,
    },
    /// A datagram from a process of the program that its
    /// [`NotifyAccess`](crate::NotifyAccess) does not believe, ignored; or
    /// a `MAINPID=` naming a process that is not a living process of the
    /// program (its spawned process, a member of the group or session it
    /// leads, a descendant, a member of its cgroup), ignored
    /// (`from == to`).
    NotifyRefused {
        /// The sender, or the pid `MAINPID=` named.
        pid: u32,
    },
    /// The process a `MAINPID=` named has exited: it is no longer
    /// believed, and the process the supervisor spawned is the program's
    /// main process again (`from == to`). The incarnation lasts as long as
    /// the spawned process: it is that process's exit that the restart
    /// policy reads.
    MainExited {
        /// The pid it had.
        pid: u32,
    },
    /// A stop asked for while nothing ran (`Backoff`, `Exited`,
    /// `Failed -> Stopped`), or `remove` of a program that was not running.
    Cancelled,
}

/// What started an incarnation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trigger {
    /// `add` of a program with `autostart`.
    Autostart,
    /// `start`.
    Command,
    /// `restart` (or `restart_all`).
    Restart,
    /// The backoff delay passed.
    Backoff,
    /// The start limit's `retry_after` passed (`Failed -> Starting`).
    RetryAfter,
    /// The supervisor's [`Strategy`](crate::Strategy) starts it again
    /// after another program failed.
    Strategy,
}

/// One line of output (or one piece of a long line) of one incarnation,
/// on the [`logs`](crate::Supervisor::logs) channel.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LogLine {
    /// The program's name.
    pub program: Arc<str>,
    /// The incarnation that wrote it.
    pub incarnation: u64,
    /// Its pid.
    pub pid: u32,
    /// The child fd it came from (1 for stdout, 2 for stderr ...).
    pub fd: i32,
    /// The line.
    pub line: Line,
}

/// A snapshot of one program, from [`status`](crate::Supervisor::status)
/// or a [`watch`](crate::Supervisor::watch) channel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The program's name.
    pub name: Arc<str>,
    /// Where it is.
    pub state: State,
    /// The last incarnation (0: never started).
    pub incarnation: u64,
    /// The live incarnation's pid.
    pub pid: Option<u32>,
    /// How the last incarnation ended.
    pub last_exit: Option<ExitStatus>,
    /// When the last incarnation ended.
    pub last_exit_at: Option<tokio::time::Instant>,
    /// When the live incarnation was spawned (its uptime is
    /// `started_at.elapsed()`).
    pub started_at: Option<tokio::time::Instant>,
    /// How many times the supervisor started the program again by itself
    /// (after a backoff, a start limit's `retry_after`, or with another
    /// program under its [`Strategy`](crate::Strategy)). Starts asked for
    /// by a command do not count.
    pub restarts: u64,
    /// Quick deaths in a row (the policy's count).
    pub attempts: u32,
    /// In `Backoff` (or `Failed` with a `retry_after`): the wait before the
    /// next start, as decided.
    pub next_start_in: Option<Duration>,
    /// The live incarnation's last `STATUS=` (sd_notify).
    pub notify_status: Option<String>,
}

/// What [`shutdown`](crate::Supervisor::shutdown) did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Each program that was running, with how its stop ended.
    pub stopped: Vec<(Arc<str>, StopOutcome)>,
    /// With [`Builder::subreaper`](crate::Builder::subreaper): the adopted
    /// processes reaped by the stop that follows the programs' (those
    /// still running then, and those adopted meanwhile), each with how it
    /// ended (signal 9: its grace ran out), in the order they were reaped.
    pub adopted: Vec<procwire_core::Adopted>,
}

impl ShutdownReport {
    /// The programs that needed the final signal (their grace ran out).
    pub fn forced(&self) -> impl Iterator<Item = &str> + '_ {
        self.stopped.iter().filter(|(_, s)| s.final_signal_sent).map(|(name, _)| &**name)
    }
}

/// How a stop that was asked for ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StopOutcome {
    /// The incarnation's exit status (`None` if waiting for it failed).
    pub status: Option<ExitStatus>,
    /// Whether the grace ran out and the final signal was sent.
    pub final_signal_sent: bool,
}
