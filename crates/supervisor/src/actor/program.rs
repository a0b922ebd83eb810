//! The actor's record of one program.

use std::sync::Arc;
use std::time::Duration;

use procwire_core::{ExitStatus, StopPolicy};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use crate::command::Reply;
use crate::error::Error;
use crate::event::{Cause, Event, Status, StopOutcome, Trigger};
use crate::exit::Exit;
use crate::incarnation::{Live, Report, SpareCgroup, TimerKind};
use crate::policy::History;
use crate::policy::StartKind;
use crate::program::ProgramSpec;
use crate::state::{AfterStop, State};

/// A command waiting for a stop to complete.
#[derive(Debug)]
pub(super) enum Pending {
    /// `stop` or `remove`: resolved with the outcome.
    Stop(Reply<Option<StopOutcome>>),
    /// `start` or `restart`: resolved once started again.
    Start(Reply<Status>),
}

#[derive(Debug)]
pub(super) struct Program {
    pub(super) spec: ProgramSpec,
    pub(super) state: State,
    pub(super) history: History,
    pub(super) incarnation: u64,
    pub(super) live: Option<Live>,
    /// The cgroup of the last incarnation, empty, for the next one: a
    /// restart costs no `mkdir` and `rmdir`. Removed (dropped) when the
    /// program comes to rest.
    pub(super) spare: Option<SpareCgroup>,
    /// The pid of the incarnation that ended last, for the events that
    /// tell how it ended.
    pub(super) ended_pid: Option<u32>,
    /// By [`TimerKind`].
    timers: [Timer; 3],
    /// While `Stopping`: what follows.
    pub(super) after: AfterStop,
    /// While `Stopping` because the supervisor stopped it by itself (a
    /// start timeout, a missed watchdog): how the exit is read. A command
    /// that comes meanwhile takes the stop over.
    pub(super) auto_stop: Option<Exit>,
    pub(super) pending: Vec<Pending>,
    status: watch::Sender<Status>,
    pub(super) last_exit: Option<ExitStatus>,
    pub(super) last_exit_at: Option<Instant>,
    /// When the live incarnation was spawned.
    pub(super) started_at: Option<Instant>,
    /// The automatic restarts so far.
    pub(super) restarts: u64,
    next_start_in: Option<Duration>,
    /// The last `STATUS=` of the live incarnation.
    pub(super) notify_status: Option<String>,
    /// `MAINPID=`: the process believed as the main one instead of the
    /// spawned one.
    pub(super) main: Option<super::notify::MainProcess>,
    /// When the start timeout passes (moved by `EXTEND_TIMEOUT_USEC=`).
    pub(super) start_deadline: Option<Instant>,
    /// The watchdog period (the spec's, or `WATCHDOG_USEC=`'s) and when
    /// it passes.
    pub(super) watchdog: Option<Duration>,
    pub(super) watchdog_deadline: Option<Instant>,
    /// The liveness check of the live incarnation, once it is `Running`.
    pub(super) liveness: Option<AbortHandle>,
    /// In `Waiting`: how the start was asked for.
    pub(super) waiting: Option<(Trigger, StartKind)>,
    /// Its place in the order programs were added.
    pub(super) order: u64,
}

/// One of a program's timers: the task, and a generation bumped at each
/// arm or cancel so that a stale report is ignored.
#[derive(Debug, Default)]
struct Timer {
    task: Option<AbortHandle>,
    generation: u64,
}

impl Program {
    pub(super) fn new(spec: ProgramSpec, order: u64) -> Program {
        let status = Status {
            name: spec.name.clone(),
            state: State::Stopped,
            incarnation: 0,
            pid: None,
            last_exit: None,
            last_exit_at: None,
            started_at: None,
            restarts: 0,
            attempts: 0,
            next_start_in: None,
            notify_status: None,
        };
        Program {
            spec,
            state: State::Stopped,
            history: History::new(),
            incarnation: 0,
            live: None,
            spare: None,
            ended_pid: None,
            timers: Default::default(),
            after: AfterStop::Stay,
            auto_stop: None,
            pending: Vec::new(),
            status: watch::Sender::new(status),
            last_exit: None,
            last_exit_at: None,
            started_at: None,
            restarts: 0,
            next_start_in: None,
            notify_status: None,
            main: None,
            start_deadline: None,
            watchdog: None,
            watchdog_deadline: None,
            waiting: None,
            liveness: None,
            order,
        }
    }

    pub(super) fn name(&self) -> &Arc<str> {
        &self.spec.name
    }

    pub(super) fn snapshot(&self) -> Status {
        Status {
            name: self.spec.name.clone(),
            state: self.state,
            incarnation: self.incarnation,
            pid: self.live.as_ref().map(|l| l.pid),
            last_exit: self.last_exit,
            last_exit_at: self.last_exit_at,
            started_at: self.started_at,
            restarts: self.restarts,
            attempts: self.history.attempts(),
            next_start_in: self.next_start_in,
            notify_status: self.notify_status.clone(),
        }
    }

    /// Tells the watchers after a change outside [`set`](Self::set).
    pub(super) fn publish(&self) {
        self.status.send_replace(self.snapshot());
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    /// Moves to `to`, telling the events channel and the watchers.
    pub(super) fn set(&mut self, events: &broadcast::Sender<Event>, to: State, cause: Cause) {
        self.emit(events, to, cause);
        if !matches!(to, State::Backoff | State::Failed) {
            self.next_start_in = None;
        }
        if matches!(to, State::Stopped | State::Exited | State::Failed | State::Removed) {
            self.spare = None;
        }
        self.status.send_replace(self.snapshot());
    }

    /// The event of a move to `to` (or of no move), and the move.
    pub(super) fn emit(&mut self, events: &broadcast::Sender<Event>, to: State, cause: Cause) {
        let event = Event {
            program: self.spec.name.clone(),
            incarnation: self.incarnation,
            pid: self.live.as_ref().map(|l| l.pid).or(self.ended_pid),
            from: self.state,
            to,
            cause,
            at: tokio::time::Instant::now(),
        };
        self.state = to;
        crate::trace::event(&event, self.live.as_ref().map(|l| &l.span));
        let _ = events.send(event);
    }

    /// Arms the timer that starts the program again after `delay`.
    pub(super) fn arm(
        &mut self,
        delay: Duration,
        tasks: &mut JoinSet<()>,
        reports: &mpsc::UnboundedSender<Report>,
    ) {
        self.arm_timer(TimerKind::Start, delay, tasks, reports);
        self.next_start_in = Some(delay);
        self.status.send_replace(self.snapshot());
    }

    /// Arms timer `kind` to report after `delay`, replacing any.
    pub(super) fn arm_timer(
        &mut self,
        kind: TimerKind,
        delay: Duration,
        tasks: &mut JoinSet<()>,
        reports: &mpsc::UnboundedSender<Report>,
    ) {
        self.cancel(kind);
        let timer = &mut self.timers[kind as usize];
        let (program, generation, reports) = (self.spec.name.clone(), timer.generation, reports.clone());
        timer.task = Some(tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = reports.send(Report::Timer { program, kind, generation });
        }));
    }

    /// Arms the watchdog for `period` from now (never, past what the clock
    /// can say).
    pub(super) fn arm_watchdog(
        &mut self,
        period: Duration,
        tasks: &mut JoinSet<()>,
        reports: &mpsc::UnboundedSender<Report>,
    ) {
        self.watchdog_deadline = Instant::now().checked_add(period);
        if self.watchdog_deadline.is_some() {
            self.arm_timer(TimerKind::Watchdog, period, tasks, reports);
        } else {
            self.cancel(TimerKind::Watchdog);
        }
    }

    /// Cancels a pending start, if any.
    pub(super) fn cancel_timer(&mut self) {
        self.cancel(TimerKind::Start);
        self.next_start_in = None;
    }

    /// Cancels timer `kind`, if armed.
    pub(super) fn cancel(&mut self, kind: TimerKind) {
        let timer = &mut self.timers[kind as usize];
        timer.generation += 1;
        if let Some(task) = timer.task.take() {
            task.abort();
        }
    }

    /// Whether a timer report is the current timer's.
    pub(super) fn is_current(&self, kind: TimerKind, generation: u64) -> bool {
        self.timers[kind as usize].generation == generation
    }

    /// Asks the live incarnation to stop (`-> Stopping`), then `after`.
    pub(super) fn begin_stop(&mut self, events: &broadcast::Sender<Event>, after: AfterStop) {
        self.after = after;
        self.auto_stop = None;
        let policy = self.spec.stop;
        self.stop_with(events, policy, Cause::StopRequested(after));
    }

    /// Stops the live incarnation with `policy` (`-> Stopping`, for
    /// `cause`); the start timeout and the watchdog no longer run.
    pub(super) fn stop_with(&mut self, events: &broadcast::Sender<Event>, policy: StopPolicy, cause: Cause) {
        self.cancel(TimerKind::StartTimeout);
        self.cancel(TimerKind::Watchdog);
        self.end_liveness();
        if let Some(stop) = self.live.as_mut().and_then(|l| l.stop.take()) {
            let _ = stop.send(policy);
        }
        self.set(events, State::Stopping, cause);
    }

    /// While `Stopping`: a later command changes what follows (and takes
    /// over a stop the supervisor began by itself); `remove` wins over
    /// everything.
    pub(super) fn then(&mut self, after: AfterStop) {
        self.auto_stop = None;
        if self.after != AfterStop::Remove {
            self.after = after;
        }
    }

    /// The live incarnation is over: what belonged to it goes.
    pub(super) fn incarnation_over(&mut self) {
        self.ended_pid = self.live.take().map(|l| l.pid);
        self.started_at = None;
        self.end_liveness();
        self.cancel(TimerKind::StartTimeout);
        self.cancel(TimerKind::Watchdog);
        self.main = None;
        self.start_deadline = None;
        self.watchdog_deadline = None;
        self.notify_status = None;
    }

    /// The liveness check runs no more.
    pub(super) fn end_liveness(&mut self) {
        if let Some(task) = self.liveness.take() {
            task.abort();
        }
    }

    /// Resolves the `stop`s and `remove`s waiting with `outcome`, and
    /// returns the `start`s.
    pub(super) fn resolve_stops(&mut self, outcome: StopOutcome) -> Vec<Reply<Status>> {
        let mut starts = Vec::new();
        for pending in self.pending.drain(..) {
            match pending {
                Pending::Stop(reply) => {
                    let _ = reply.send(Ok(Some(outcome)));
                }
                Pending::Start(reply) => starts.push(reply),
            }
        }
        starts
    }

    /// Resolves every `start` with `result`.
    pub(super) fn resolve_starts(starts: Vec<Reply<Status>>, result: &Result<Status, Error>) {
        for reply in starts {
            let _ = reply.send(result.clone());
        }
    }
}
