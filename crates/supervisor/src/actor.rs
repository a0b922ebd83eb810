//! The supervisor's task: the only owner of every program's state. It
//! wakes up for a command, an incarnation's end, or a timer, and for
//! nothing else.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::event::{Cause, Event, ShutdownReport, Status, StopOutcome, Trigger};
use crate::exit::Exit;
use crate::incarnation::{self, Ctx, End, Report};
use crate::logs::LogTx;
use crate::policy::{decide, Decision, StartKind};
use crate::state::{AfterStop, State};
use crate::supervisor::{Cmd, Error, Reply};

use program::{Pending, Program};

mod commands;
mod program;

/// How long the output pipes get to reach their end once shutdown has
/// reaped every incarnation (a grandchild may hold them open).
const DRAIN_AT_SHUTDOWN: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct Actor {
    rx: mpsc::Receiver<Cmd>,
    programs: BTreeMap<Arc<str>, Program>,
    /// Incarnation waiters, pipe drains, timers.
    tasks: JoinSet<()>,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports: mpsc::UnboundedReceiver<Report>,
    events: broadcast::Sender<Event>,
    lines: Arc<LogTx>,
    /// Once shutdown began: who waits for it, and what it did.
    shutdown: Option<(Vec<oneshot::Sender<ShutdownReport>>, ShutdownReport)>,
}

/// What woke the actor.
enum Wake {
    Command(Option<Cmd>),
    Report(Report),
    Joined,
}

impl Actor {
    pub(crate) fn new(rx: mpsc::Receiver<Cmd>, events: usize, lines: usize) -> Actor {
        let (reports_tx, reports) = mpsc::unbounded_channel();
        Actor {
            rx,
            programs: BTreeMap::new(),
            tasks: JoinSet::new(),
            reports_tx,
            reports,
            events: broadcast::channel(events).0,
            lines: Arc::new(LogTx::new(lines)),
            shutdown: None,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut handles = true;
        loop {
            // One wake-up at a time: a command, a report from an
            // incarnation or a timer, or a finished task to collect.
            let wake = std::future::poll_fn(|cx| {
                if handles {
                    if let Poll::Ready(cmd) = self.rx.poll_recv(cx) {
                        return Poll::Ready(Wake::Command(cmd));
                    }
                }
                if let Poll::Ready(Some(report)) = self.reports.poll_recv(cx) {
                    return Poll::Ready(Wake::Report(report));
                }
                if !self.tasks.is_empty() && self.tasks.poll_join_next(cx).is_ready() {
                    return Poll::Ready(Wake::Joined);
                }
                Poll::Pending
            })
            .await;
            match wake {
                Wake::Command(Some(cmd)) => self.command(cmd),
                // Every handle is gone: shut down in the background.
                Wake::Command(None) => {
                    handles = false;
                    self.begin_shutdown();
                }
                Wake::Report(report) => self.report(report),
                Wake::Joined => {}
            }
            if self.shutdown.is_some() && !self.programs.values().any(|p| p.state.is_live()) {
                break;
            }
        }
        self.finish().await;
    }

    /// Every incarnation is reaped: the pipes get a moment to reach their
    /// end, then every task is ended, then the waiters are told.
    async fn finish(mut self) {
        let _ = tokio::time::timeout(DRAIN_AT_SHUTDOWN, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.shutdown().await;
        if let Some((waiters, mut report)) = self.shutdown.take() {
            report.stopped.sort_by(|a, b| a.0.cmp(&b.0));
            for waiter in waiters {
                let _ = waiter.send(report.clone());
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Add(spec, reply) => {
                let _ = reply.send(self.add(*spec));
            }
            Cmd::Remove(name, reply) => self.stop(&name, AfterStop::Remove, reply),
            Cmd::Stop(name, reply) => self.stop(&name, AfterStop::Stay, reply),
            Cmd::Start(name, reply) => self.start_cmd(&name, Trigger::Command, reply),
            Cmd::Restart(name, reply) => self.start_cmd(&name, Trigger::Restart, reply),
            Cmd::RestartAll(reply) => {
                let names: Vec<Arc<str>> = self
                    .programs
                    .values()
                    .filter(|p| matches!(p.state, State::Starting | State::Running | State::Backoff))
                    .map(|p| p.name().clone())
                    .collect();
                let mut pending = Vec::with_capacity(names.len());
                for name in names {
                    let (tx, rx) = oneshot::channel();
                    self.start_cmd(&name, Trigger::Restart, tx);
                    pending.push(rx);
                }
                let _ = reply.send(pending);
            }
            Cmd::Signal(name, sig, reply) => self.signal(&name, sig, reply),
            Cmd::Status(name, reply) => {
                let _ = reply.send(self.get(&name).map(Program::snapshot));
            }
            Cmd::Statuses(reply) => {
                let _ = reply.send(self.programs.values().map(Program::snapshot).collect());
            }
            Cmd::Watch(name, reply) => {
                let _ = reply.send(self.get(&name).map(Program::subscribe));
            }
            Cmd::Events(reply) => {
                let _ = reply.send(self.events.subscribe());
            }
            Cmd::Logs(reply) => {
                let _ = reply.send(self.lines.subscribe());
            }
            Cmd::Shutdown(reply) => {
                self.begin_shutdown();
                if let Some((waiters, _)) = &mut self.shutdown {
                    waiters.push(reply);
                }
            }
        }
    }

    /// `stop` and `remove`.
    fn stop(&mut self, name: &str, after: AfterStop, reply: Reply<Option<StopOutcome>>) {
        let Some(p) = self.programs.get_mut(name) else {
            let _ = reply.send(Err(Error::UnknownProgram(name.into())));
            return;
        };
        match p.state {
            State::Starting | State::Running => {
                p.begin_stop(&self.events, after);
                p.pending.push(Pending::Stop(reply));
            }
            State::Stopping => {
                p.then(after);
                p.pending.push(Pending::Stop(reply));
            }
            _ => {
                p.cancel_timer();
                let to = if after == AfterStop::Remove { State::Removed } else { State::Stopped };
                if p.state != to {
                    p.set(&self.events, to, Cause::Cancelled);
                }
                if to == State::Removed {
                    self.programs.remove(name);
                }
                let _ = reply.send(Ok(None));
            }
        }
    }

    /// `start` and `restart`.
    fn start_cmd(&mut self, name: &str, trigger: Trigger, reply: Reply<Status>) {
        if self.shutdown.is_some() {
            let _ = reply.send(Err(Error::ShutDown));
            return;
        }
        let Some(p) = self.programs.get_mut(name) else {
            let _ = reply.send(Err(Error::UnknownProgram(name.into())));
            return;
        };
        match (p.state, trigger) {
            (State::Starting | State::Running, Trigger::Restart) => {
                p.begin_stop(&self.events, AfterStop::Start);
                p.pending.push(Pending::Start(reply));
            }
            (State::Starting | State::Running, _) => {
                let _ = reply.send(Ok(p.snapshot()));
            }
            (State::Stopping, _) => {
                p.then(AfterStop::Start);
                p.pending.push(Pending::Start(reply));
            }
            _ => {
                let _ = reply.send(self.spawn(name, trigger, StartKind::Manual));
            }
        }
    }

    /// A new incarnation: `-> Starting`, then `-> Running` once spawned
    /// (at once: no readiness protocol yet), or the policy's decision on
    /// a spawn error.
    fn spawn(&mut self, name: &str, trigger: Trigger, kind: StartKind) -> Result<Status, Error> {
        let p = self.programs.get_mut(name).ok_or_else(|| Error::UnknownProgram(name.into()))?;
        p.cancel_timer();
        let now = Instant::now();
        p.incarnation += 1;
        p.ended_pid = None;
        p.history.record_start(now, kind);
        p.set(&self.events, State::Starting, Cause::Start(trigger));
        let ctx = Ctx {
            program: &p.spec.name,
            incarnation: p.incarnation,
            command: &p.spec.command,
            policy: p.spec.stop,
            log: &p.spec.log,
            sink: p.spec.sink.as_ref(),
            tasks: &mut self.tasks,
            reports: &self.reports_tx,
            lines: &self.lines,
        };
        match incarnation::spawn(ctx) {
            Ok(live) => {
                p.live = Some(live);
                p.set(&self.events, State::Running, Cause::Ready);
                Ok(p.snapshot())
            }
            Err(error) => {
                let error = Arc::new(error);
                let decision = decide(&p.spec.restart, &mut p.history, Exit::SpawnFailed, now);
                let cause = Cause::SpawnFailed { error: error.clone(), decision };
                self.decided(name, decision, cause, false);
                Err(Error::Spawn { program: name.into(), source: error })
            }
        }
    }

    /// Applies the policy's decision: `Backoff` with its timer, `Exited`,
    /// or `Failed` with its `retry_after` timer. After an exit (`spawned`),
    /// a zero delay starts the next incarnation at once; after a spawn
    /// error it is a timer too, so that a program that cannot be spawned
    /// never loops inside the actor.
    fn decided(&mut self, name: &str, decision: Decision, cause: Cause, spawned: bool) {
        let Some(p) = self.programs.get_mut(name) else { return };
        p.set(&self.events, decision.state(), cause);
        match decision {
            Decision::Restart { delay } if delay.is_zero() && spawned => {
                let _ = self.spawn(name, Trigger::Backoff, StartKind::Automatic);
            }
            Decision::Restart { delay } | Decision::Fail { retry_after: Some(delay), .. } => {
                p.arm(delay, &mut self.tasks, &self.reports_tx);
            }
            _ => {}
        }
    }

    fn report(&mut self, report: Report) {
        match report {
            Report::Timer { program, generation } => {
                let Some(p) = self.programs.get(&program) else { return };
                if !p.is_current(generation) || self.shutdown.is_some() {
                    return;
                }
                let _ = match p.state {
                    State::Backoff => self.spawn(&program, Trigger::Backoff, StartKind::Automatic),
                    State::Failed => self.spawn(&program, Trigger::RetryAfter, StartKind::Manual),
                    _ => return,
                };
            }
            Report::Ended { program, incarnation, end } => self.ended(&program, incarnation, end),
        }
    }

    /// An incarnation is over.
    fn ended(&mut self, name: &Arc<str>, incarnation: u64, end: End) {
        let Some(p) = self.programs.get_mut(name) else { return };
        if p.incarnation != incarnation {
            return;
        }
        p.ended_pid = p.live.take().map(|l| l.pid);
        if p.state == State::Stopping {
            let outcome = match end {
                End::Stopped(Ok(stopped)) => {
                    StopOutcome { status: Some(stopped.status), final_signal_sent: stopped.final_signal_sent }
                }
                // It exited by itself as the stop was asked for.
                End::Exited(Ok(status)) => StopOutcome { status: Some(status), final_signal_sent: false },
                End::Stopped(Err(_)) | End::Exited(Err(_)) => {
                    StopOutcome { status: None, final_signal_sent: false }
                }
            };
            p.last_exit = outcome.status.or(p.last_exit);
            self.stopped(name, outcome);
            return;
        }
        let now = Instant::now();
        let (exit, status) = match &end {
            End::Exited(Ok(status)) | End::Stopped(Ok(procwire_core::Stopped { status, .. })) => {
                (Exit::Status(*status), Some(*status))
            }
            _ => (Exit::SpawnFailed, None),
        };
        p.last_exit = status.or(p.last_exit);
        let decision = decide(&p.spec.restart, &mut p.history, exit, now);
        let cause = match (status, end) {
            (Some(status), _) => Cause::Exited { status, decision },
            (None, End::Exited(Err(e)) | End::Stopped(Err(e))) => {
                Cause::WaitFailed { error: Arc::new(e), decision }
            }
            (None, _) => unreachable!("a status or an error"),
        };
        self.decided(name, decision, cause, true);
    }

    /// A stop that was asked for is complete.
    fn stopped(&mut self, name: &Arc<str>, outcome: StopOutcome) {
        if let Some((_, report)) = &mut self.shutdown {
            report.stopped.push((name.clone(), outcome));
        }
        let Some(p) = self.programs.get_mut(name) else { return };
        let starts = p.resolve_stops(outcome);
        let after =
            if self.shutdown.is_some() && p.after == AfterStop::Start { AfterStop::Stay } else { p.after };
        match after {
            AfterStop::Start => {
                let result = self.spawn(name, Trigger::Restart, StartKind::Manual);
                Program::resolve_starts(starts, &result);
            }
            AfterStop::Remove => {
                p.set(&self.events, State::Removed, Cause::Stopped(outcome));
                self.programs.remove(name);
                Program::resolve_starts(starts, &Err(Error::UnknownProgram(name.to_string())));
            }
            _ => {
                p.set(&self.events, State::Stopped, Cause::Stopped(outcome));
                let status = Ok(p.snapshot());
                let status = if self.shutdown.is_some() { Err(Error::ShutDown) } else { status };
                Program::resolve_starts(starts, &status);
            }
        }
    }

    /// Stops everything, cancels every timer; nothing starts any more.
    fn begin_shutdown(&mut self) {
        if self.shutdown.is_some() {
            return;
        }
        self.shutdown = Some((Vec::new(), ShutdownReport::default()));
        for p in self.programs.values_mut() {
            p.cancel_timer();
            match p.state {
                State::Starting | State::Running => p.begin_stop(&self.events, AfterStop::Stay),
                State::Stopping => p.then(AfterStop::Stay),
                State::Backoff | State::Failed => p.set(&self.events, State::Stopped, Cause::Cancelled),
                _ => {}
            }
        }
    }
}
