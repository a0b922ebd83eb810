//! The supervisor's task: the only owner of every program's state. It
//! wakes up for a command, an incarnation's end, a timer, and, as a
//! subreaper, an adopted orphan's exit, and for nothing else.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use procwire_core::{Cgroup, CgroupError};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::command::{Cmd, Reply};
use crate::error::Error;
use crate::event::{Cause, Event, ShutdownReport, Status, StopOutcome, Trigger};
use crate::exit::Exit;
use crate::incarnation::{self, Ctx, Report, TimerKind};
use crate::logs::LogTx;
use crate::notify::{Datagram, NotifySocket};
use crate::policy::{decide, Decision, StartKind};
use crate::readiness::Readiness;
use crate::settings::{CgroupRoot, Settings, Strategy};
use crate::state::{AfterStop, State};

use order::GroupRestart;
use orphans::{Orphaned, Orphans};
use program::{Pending, Program};

mod add;
mod commands;
mod notify;
mod order;
mod orphans;
mod program;
mod reports;
mod update;

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
    strategy: Strategy,
    intensity: Option<(u32, Duration)>,
    /// The automatic restarts within the intensity's period.
    restarts: VecDeque<Instant>,
    /// A `OneForAll` / `RestForOne` restart under way.
    group: Option<GroupRestart>,
    /// Why the supervisor gave up, for its task's result.
    failure: Option<Error>,
    /// The order the next program added gets.
    next_order: u64,
    /// The sd_notify socket, bound when the first program that uses it is
    /// added.
    notify: Option<NotifySocket>,
    /// Reporting to this process's own systemd, when asked to.
    systemd: Option<Systemd>,
    /// Inside [`unblock`](Self::unblock), and whether it should pass again.
    unblocking: bool,
    unblock_again: bool,
    /// The orphans adopted as a subreaper.
    orphans: Orphans,
    /// Where `StopScope::Tree` incarnations get their cgroups, if anywhere.
    cgroup_root: Option<std::path::PathBuf>,
}

/// What the supervisor told its own systemd.
#[derive(Debug)]
struct Systemd {
    socket: std::ffi::OsString,
    ready_sent: bool,
    status: String,
}

/// What woke the actor.
enum Wake {
    Command(Option<Cmd>),
    Report(Report),
    Notify(std::io::Result<Datagram>),
    Orphans(Orphaned),
    Joined,
}

impl Actor {
    pub(crate) fn new(rx: mpsc::Receiver<Cmd>, settings: &Settings) -> Actor {
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let (orphans, failure) = match Orphans::new(settings.subreaper, settings.adopted_stop) {
            Ok(orphans) => (orphans, None),
            Err(e) => (Orphans::Off, Some(Error::Subreaper(Arc::new(e)))),
        };
        let (cgroup_root, failure) = match cgroup_root(&settings.cgroup_root) {
            Ok(root) => (root, failure),
            Err(e) => (None, failure.or(Some(Error::CgroupRoot(Arc::new(e))))),
        };
        Actor {
            rx,
            programs: BTreeMap::new(),
            tasks: JoinSet::new(),
            reports_tx,
            reports,
            events: broadcast::channel(settings.events).0,
            lines: Arc::new(LogTx::new(settings.reads)),
            shutdown: None,
            strategy: settings.strategy,
            intensity: settings.intensity,
            restarts: VecDeque::new(),
            group: None,
            failure,
            next_order: 0,
            notify: None,
            systemd: settings
                .systemd
                .then(|| std::env::var_os("NOTIFY_SOCKET"))
                .flatten()
                .filter(|s| !s.is_empty())
                .map(|socket| Systemd { socket, ready_sent: false, status: String::new() }),
            unblocking: false,
            unblock_again: false,
            orphans,
            cgroup_root,
        }
    }

    pub(crate) async fn run(mut self) -> Result<(), Error> {
        let mut handles = true;
        if self.failure.is_some() {
            // The subreaper could not be set up: nothing starts.
            self.begin_shutdown();
        }
        // What a killed supervisor left in the root: killed and removed,
        // before this one makes a cgroup there.
        if let Some(root) = &self.cgroup_root {
            for cgroup in crate::cgroups::abandoned_under(root) {
                self.tasks.spawn(async move {
                    crate::incarnation::empty_or_remove(cgroup, true).await;
                });
            }
        }
        loop {
            // Every program stopped, then every adopted orphan.
            if self.shutdown.is_some()
                && !self.programs.values().any(|p| p.state.is_live())
                && !self.orphans.stop()
            {
                break;
            }
            // One wake-up at a time: a command, a report from an
            // incarnation or a timer, an orphan's exit, or a finished task
            // to collect.
            let wake = std::future::poll_fn(|cx| {
                if handles {
                    if let Poll::Ready(cmd) = self.rx.poll_recv(cx) {
                        return Poll::Ready(Wake::Command(cmd));
                    }
                }
                if let Poll::Ready(Some(report)) = self.reports.poll_recv(cx) {
                    return Poll::Ready(Wake::Report(report));
                }
                if let Some(Poll::Ready(datagram)) = self.notify.as_mut().map(|n| n.poll_recv(cx)) {
                    return Poll::Ready(Wake::Notify(datagram));
                }
                if let Poll::Ready(orphaned) = self.orphans.poll(cx) {
                    return Poll::Ready(Wake::Orphans(orphaned));
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
                Wake::Notify(datagram) => self.datagram(datagram),
                Wake::Orphans(Orphaned::Reaped) => {}
                Wake::Orphans(Orphaned::Stopped(stopped)) => {
                    if let (Some((_, report)), Ok(adopted)) = (&mut self.shutdown, stopped) {
                        report.adopted = adopted;
                    }
                }
                Wake::Joined => {}
            }
            if self.systemd.is_some() {
                self.tell_systemd();
            }
        }
        let failure = self.failure.take();
        self.finish().await;
        failure.map_or(Ok(()), Err)
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
                let _ = reply.send(self.add_all(vec![*spec]).map(|mut s| s.remove(0)));
            }
            Cmd::AddAll(specs, reply) => {
                let _ = reply.send(self.add_all(specs));
            }
            Cmd::Remove(name, reply) => self.stop(&name, AfterStop::Remove, reply),
            Cmd::Update(spec, reply) => {
                let _ = reply.send(self.update(*spec));
            }
            Cmd::Apply(specs, reply) => {
                let _ = reply.send(self.apply(specs));
            }
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
        if after == AfterStop::Remove {
            if let Some(by) = self.dependents(name).next() {
                let _ = reply.send(Err(Error::Required { program: name.into(), by: by.to_string() }));
                return;
            }
        }
        let Some(p) = self.programs.get_mut(name) else {
            let _ = reply.send(Err(Error::UnknownProgram(name.into())));
            return;
        };
        // A strategy's restart under way starts it no more (it may still
        // wait for the stop of this one to go on).
        if let Some(group) = &mut self.group {
            group.forget(name);
        }
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
                p.waiting = None;
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
        if trigger == Trigger::Restart {
            self.restart_dependents(name);
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
            (State::Starting | State::Running | State::Waiting, _) => {
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

    /// A new incarnation: `-> Starting`, then `-> Running` once ready (at
    /// once without a readiness protocol), or the policy's decision on a
    /// spawn error; `-> Waiting` instead while a dependency is not
    /// `Running`.
    fn spawn(&mut self, name: &str, trigger: Trigger, kind: StartKind) -> Result<Status, Error> {
        if self.shutdown.is_some() {
            return Err(Error::ShutDown);
        }
        let blocker = self.blocker(name);
        let p = self.programs.get_mut(name).ok_or_else(|| Error::UnknownProgram(name.into()))?;
        p.cancel_timer();
        if let Some(on) = blocker {
            p.waiting = Some((trigger, kind));
            if p.state != State::Waiting {
                p.set(&self.events, State::Waiting, Cause::Waiting { on });
            }
            return Ok(p.snapshot());
        }
        p.waiting = None;
        let now = Instant::now();
        p.incarnation += 1;
        p.ended_pid = None;
        p.history.record_start(now, kind);
        let spare = p.spare.take();
        let ctx = Ctx {
            spec: &p.spec,
            incarnation: p.incarnation,
            notify_socket: self.notify.as_ref().map(NotifySocket::env_value),
            tasks: &mut self.tasks,
            reports: &self.reports_tx,
            lines: &self.lines,
            cgroup_root: self.cgroup_root.as_deref(),
            spare,
        };
        match incarnation::spawn(ctx) {
            Ok(live) => {
                // `Starting`, with the pid, for the event and the watchers.
                p.live = Some(live);
                p.started_at = Some(now);
                if matches!(trigger, Trigger::Backoff | Trigger::RetryAfter | Trigger::Strategy) {
                    p.restarts += 1;
                }
                p.set(&self.events, State::Starting, Cause::Start(trigger));
                p.watchdog = p.spec.watchdog.filter(|w| !w.is_zero());
                if matches!(p.spec.ready, Readiness::Spawned) {
                    let incarnation = p.incarnation;
                    self.ready(name, incarnation);
                } else if let Some(timeout) = p.spec.start_timeout.filter(|t| !t.is_zero()) {
                    // Too far for the clock: never.
                    if let Some(deadline) = now.checked_add(timeout) {
                        p.start_deadline = Some(deadline);
                        p.arm_timer(TimerKind::StartTimeout, timeout, &mut self.tasks, &self.reports_tx);
                    }
                }
                Ok(self.programs[name].snapshot())
            }
            Err(error) => {
                p.set(&self.events, State::Starting, Cause::Start(trigger));
                let error = Arc::new(error);
                let decision = decide(&p.spec.restart, &mut p.history, Exit::SpawnFailed, now);
                let cause = Cause::SpawnFailed { error: error.clone(), decision };
                self.decided(name, decision, cause, false);
                Err(Error::Spawn { program: name.into(), source: error })
            }
        }
    }

    /// The incarnation is ready: `Starting -> Running`, the watchdog
    /// armed, and the programs waiting for this one started.
    fn ready(&mut self, name: &str, incarnation: u64) {
        let Some(p) = self.programs.get_mut(name) else { return };
        if p.incarnation != incarnation || p.state != State::Starting {
            return;
        }
        p.cancel(TimerKind::StartTimeout);
        p.start_deadline = None;
        p.set(&self.events, State::Running, Cause::Ready);
        if let Some(period) = p.watchdog {
            p.arm_watchdog(period, &mut self.tasks, &self.reports_tx);
        }
        if let Some(check) = p.spec.liveness.clone() {
            let run = check.run(p.name().clone(), incarnation, self.reports_tx.clone());
            p.liveness = Some(self.tasks.spawn(run));
        }
        self.unblock();
    }

    /// The supervisor stops an incarnation by itself (a start timeout, a
    /// missed watchdog): the exit is then read as `exit`.
    fn auto_stop(&mut self, name: &str, exit: Exit, cause: Cause) {
        let Some(p) = self.programs.get_mut(name) else { return };
        let mut policy = p.spec.stop;
        if exit == Exit::Watchdog {
            policy = policy.with_signal(procwire_core::Signal::ABRT);
        }
        p.after = AfterStop::Stay;
        p.stop_with(&self.events, policy, cause);
        p.auto_stop = Some(exit);
    }

    /// Applies the policy's decision: `Backoff` with its timer, `Exited`,
    /// or `Failed` with its `retry_after` timer. After an exit (`spawned`),
    /// a zero delay starts the next incarnation at once; after a spawn
    /// error it is a timer too, so that a program that cannot be spawned
    /// never loops inside the actor. The intensity counts each automatic
    /// restart; the strategy may restart others with it.
    fn decided(&mut self, name: &str, decision: Decision, cause: Cause, spawned: bool) {
        let Some(p) = self.programs.get_mut(name) else { return };
        p.set(&self.events, decision.state(), cause);
        if self.shutdown.is_some() {
            if matches!(p.state, State::Backoff | State::Failed) {
                p.set(&self.events, State::Stopped, Cause::Cancelled);
            }
            self.continue_shutdown();
            return;
        }
        let restart = matches!(decision, Decision::Restart { .. });
        if restart && self.over_intensity() {
            return;
        }
        if restart && spawned && self.strategy != Strategy::OneForOne {
            self.group_restart(name);
            return;
        }
        let Some(p) = self.programs.get_mut(name) else { return };
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

    /// Stops everything, cancels every timer; nothing starts any more.
    /// Programs stop after those that run after them: in parallel within
    /// a level, in reverse order across levels.
    fn begin_shutdown(&mut self) {
        if self.shutdown.is_some() {
            return;
        }
        self.shutdown = Some((Vec::new(), ShutdownReport::default()));
        self.group = None;
        if let Some(systemd) = &self.systemd {
            let _ = crate::notify::notify_now(&systemd.socket, "STOPPING=1");
        }
        for p in self.programs.values_mut() {
            p.cancel_timer();
            p.waiting = None;
            match p.state {
                State::Stopping => p.then(AfterStop::Stay),
                State::Backoff | State::Failed | State::Waiting => {
                    p.set(&self.events, State::Stopped, Cause::Cancelled);
                }
                _ => {}
            }
        }
        self.continue_shutdown();
    }
}

/// The directory `StopScope::Tree` incarnations get their cgroups in:
/// the one given, checked; by default this process's own cgroup when it
/// may write it, else none.
fn cgroup_root(root: &CgroupRoot) -> Result<Option<PathBuf>, CgroupError> {
    match root {
        CgroupRoot::Off => Ok(None),
        CgroupRoot::At(dir) => Cgroup::check_writable(dir).map(|()| Some(dir.clone())),
        CgroupRoot::Auto => Ok(Cgroup::current().filter(|own| Cgroup::check_writable(own).is_ok())),
    }
}
