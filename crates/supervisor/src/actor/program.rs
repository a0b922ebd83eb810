//! The actor's record of one program.

use std::sync::Arc;
use std::time::Duration;

use procwire_core::ExitStatus;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};

use crate::event::{Cause, Event, Status, StopOutcome};
use crate::incarnation::{Live, Report};
use crate::policy::History;
use crate::program::ProgramSpec;
use crate::state::{AfterStop, State};
use crate::supervisor::{Error, Reply};

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
    /// The pid of the incarnation that ended last, for the events that
    /// tell how it ended.
    pub(super) ended_pid: Option<u32>,
    timer: Option<AbortHandle>,
    /// Bumped at each timer armed or cancelled: a stale timer's report is
    /// ignored.
    generation: u64,
    /// While `Stopping`: what follows.
    pub(super) after: AfterStop,
    pub(super) pending: Vec<Pending>,
    status: watch::Sender<Status>,
    pub(super) last_exit: Option<ExitStatus>,
    next_start_in: Option<Duration>,
}

impl Program {
    pub(super) fn new(spec: ProgramSpec) -> Program {
        let status = Status {
            name: spec.name.clone(),
            state: State::Stopped,
            incarnation: 0,
            pid: None,
            last_exit: None,
            attempts: 0,
            next_start_in: None,
        };
        Program {
            spec,
            state: State::Stopped,
            history: History::new(),
            incarnation: 0,
            live: None,
            ended_pid: None,
            timer: None,
            generation: 0,
            after: AfterStop::Stay,
            pending: Vec::new(),
            status: watch::Sender::new(status),
            last_exit: None,
            next_start_in: None,
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
            attempts: self.history.attempts(),
            next_start_in: self.next_start_in,
        }
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    /// Moves to `to`, telling the events channel and the watchers.
    pub(super) fn set(&mut self, events: &broadcast::Sender<Event>, to: State, cause: Cause) {
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
        if !matches!(to, State::Backoff | State::Failed) {
            self.next_start_in = None;
        }
        let _ = events.send(event);
        self.status.send_replace(self.snapshot());
    }

    /// Arms the timer that starts the program again after `delay`.
    pub(super) fn arm(
        &mut self,
        delay: Duration,
        tasks: &mut JoinSet<()>,
        reports: &mpsc::UnboundedSender<Report>,
    ) {
        self.cancel_timer();
        self.next_start_in = Some(delay);
        self.status.send_replace(self.snapshot());
        let (program, generation, reports) = (self.spec.name.clone(), self.generation, reports.clone());
        self.timer = Some(tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = reports.send(Report::Timer { program, generation });
        }));
    }

    /// Cancels a pending start, if any.
    pub(super) fn cancel_timer(&mut self) {
        self.generation += 1;
        self.next_start_in = None;
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
    }

    /// Whether a timer report is the current timer's.
    pub(super) fn is_current(&self, generation: u64) -> bool {
        self.generation == generation
    }

    /// Asks the live incarnation to stop (`-> Stopping`), then `after`.
    pub(super) fn begin_stop(&mut self, events: &broadcast::Sender<Event>, after: AfterStop) {
        self.after = after;
        if let Some(stop) = self.live.as_mut().and_then(|l| l.stop.take()) {
            let _ = stop.send(());
        }
        self.set(events, State::Stopping, Cause::StopRequested(after));
    }

    /// While `Stopping`: a later command changes what follows; `remove`
    /// wins over everything.
    pub(super) fn then(&mut self, after: AfterStop) {
        if self.after != AfterStop::Remove {
            self.after = after;
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
