//! One incarnation of a program: the spawn, and its task, which waits for
//! its exit (or stops it) and drains its output pipes into lines.

use std::ffi::OsStr;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use procwire_core::{
    Cgroup, ChildFd, Command, SignalHandle, SpawnStep, StdioDefaults, StopPolicy, StopScope,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};

use crate::cgroups::cgroup_name;
use crate::event::LogLine;
use crate::logs::{BatchMeta, LogBatch, LogTx};
use crate::program::{ProgramSpec, Sink};
use crate::readiness::{LinePredicate, Probe, Readiness};
use crate::trace;
use procwire_core::lines::{Line, LineFramer, Span};
use waiter::{run, After, Waiter};
pub(crate) use waiter::{End, GroupSignal};

mod waiter;

/// What the tasks tell the actor.
#[derive(Debug)]
pub(crate) enum Report {
    /// The incarnation is over: it exited by itself, or the stop asked
    /// for completed. Its cgroup, if it had one and it is empty, comes
    /// back for the next incarnation.
    Ended { program: Arc<str>, incarnation: u64, end: End, cgroup: Option<SpareCgroup> },
    /// A timer passed.
    Timer { program: Arc<str>, kind: TimerKind, generation: u64 },
    /// The incarnation is ready (a notification fd's newline, a matching
    /// log line, a probe's `true`).
    Ready { program: Arc<str>, incarnation: u64 },
    /// The liveness check failed `failures` times in a row.
    LivenessFailed { program: Arc<str>, incarnation: u64, failures: u32 },
    /// The process a `MAINPID=` named has exited.
    MainExited { program: Arc<str>, incarnation: u64, pid: u32 },
}

/// The timers of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// The backoff delay, or the start limit's `retry_after`.
    Start = 0,
    /// The start timeout.
    StartTimeout = 1,
    /// The watchdog.
    Watchdog = 2,
}

/// The actor's side of a live incarnation.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) pid: u32,
    pub(crate) signal: Option<SignalHandle>,
    /// Sending a policy asks the incarnation to stop with it; dropping
    /// asks with the program's own.
    pub(crate) stop: Option<oneshot::Sender<StopPolicy>>,
    /// The readiness tasks (a probe, a notification fd), ended with the
    /// incarnation.
    pub(crate) helpers: Vec<AbortHandle>,
    /// The incarnation's own cgroup, if it has one.
    pub(crate) cgroup: Option<std::path::PathBuf>,
    /// Group scope: signals for the whole group, sent by the waiter task
    /// (which knows whether the leader is still unreaped).
    pub(crate) group: Option<mpsc::UnboundedSender<GroupSignal>>,
    /// Its `tracing` span (program, incarnation, pid).
    pub(crate) span: trace::Span,
}

impl Drop for Live {
    fn drop(&mut self) {
        for task in &self.helpers {
            task.abort();
        }
    }
}

/// Everything an incarnation needs from the actor.
pub(crate) struct Ctx<'a> {
    pub(crate) spec: &'a ProgramSpec,
    pub(crate) incarnation: u64,
    /// The supervisor's notification socket, for `Readiness::Notify`.
    pub(crate) notify_socket: Option<&'a OsStr>,
    pub(crate) tasks: &'a mut JoinSet<()>,
    pub(crate) reports: &'a mpsc::UnboundedSender<Report>,
    pub(crate) lines: &'a Arc<LogTx>,
    /// Where a `StopScope::Tree` incarnation gets its cgroup, if anywhere.
    pub(crate) cgroup_root: Option<&'a std::path::Path>,
    /// The last incarnation's cgroup, empty, to use again.
    pub(crate) spare: Option<SpareCgroup>,
}

/// An empty cgroup kept from one incarnation for the next of the same
/// program; removed when dropped unused.
#[derive(Debug)]
pub(crate) struct SpareCgroup(Option<Cgroup>);

impl SpareCgroup {
    /// The cgroup, if it was made under `parent`; else it is removed.
    fn take_under(mut self, parent: &std::path::Path) -> Option<Cgroup> {
        self.0.take_if(|c| c.path().parent() == Some(parent))
    }
}

impl Drop for SpareCgroup {
    fn drop(&mut self) {
        if let Some(cgroup) = self.0.take() {
            let _ = cgroup.remove();
        }
    }
}

/// The command an incarnation of `spec` is spawned from: the spec's, with
/// what the supervisor adds (its own process group, the parent-death
/// signal, the readiness protocol's variables and fd, the watchdog's).
/// Two specs whose commands are equal here run the same program.
pub(crate) fn command(spec: &ProgramSpec, notify_socket: Option<&OsStr>) -> Command {
    let mut command = spec.command.clone();
    command.kill_on_drop(true);
    // A group of its own: by default, and for group scope whatever the
    // command says. (0 is accepted with a new session too.)
    if spec.stop.scope == StopScope::Group || (spec.own_group && command.get_process_group().is_none()) {
        command.process_group(0);
    }
    if let (Some(sig), None) = (spec.parent_death, command.get_parent_death_signal()) {
        command.parent_death_signal(sig);
    }
    const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
    match (&spec.ready, notify_socket) {
        (Readiness::Notify { .. }, Some(socket)) => {
            command.env(NOTIFY_SOCKET, socket);
        }
        // The supervisor's own socket (from systemd) is not the child's,
        // unless the command says so. Only when there is one: removing a
        // variable makes each spawn copy the whole environment.
        _ if std::env::var_os(NOTIFY_SOCKET).is_some()
            && !command.get_envs().any(|(k, _)| k == NOTIFY_SOCKET) =>
        {
            command.env_remove(NOTIFY_SOCKET);
        }
        _ => {}
    }
    // A period systemd's `usec_t` cannot hold is infinity there: not
    // passed on, as systemd passes no `WatchdogSec=infinity`.
    let told = |p: &Duration| !p.is_zero() && p.as_micros() < u128::from(u64::MAX);
    if let Some(period) = spec.watchdog.filter(told) {
        command.env("WATCHDOG_USEC", period.as_micros().max(1).to_string());
        // For the main process only: its children see another pid.
        command.env_pid("WATCHDOG_PID");
    }
    if let Readiness::NotificationFd(fd) = spec.ready {
        command.child_fd(fd, ChildFd::ReadPipe);
    }
    command
}

/// Spawns the incarnation and its task (the waiter and one drain per
/// output pipe, joined) into `ctx.tasks`.
pub(crate) fn spawn(ctx: Ctx<'_>) -> Result<Live, procwire_core::Error> {
    let spec = ctx.spec;
    let mut command = command(spec, ctx.notify_socket);
    // Opened for this incarnation; the command, and with it the
    // supervisor's copy, is dropped at the end of this function. An fd
    // sent to a file has no pipe, so nothing of it is drained or logged.
    crate::output::redirect(&mut command, &spec.output)?;
    let parent = match (spec.cgroup.as_deref(), ctx.cgroup_root) {
        (Some(parent), _) => Some(parent),
        (None, Some(root)) if spec.stop.scope == StopScope::Tree => Some(root),
        (None, _) => None,
    };
    let spare = ctx.spare.zip(parent).and_then(|(spare, parent)| spare.take_under(parent));
    let cgroup = match (spare, spec.cgroup.as_deref(), ctx.cgroup_root) {
        (Some(spare), _, _) => Some(spare),
        (None, Some(parent), _) => {
            let cgroup = Cgroup::create(parent, &cgroup_name(&spec.name)).map_err(|e| {
                procwire_core::Error::Spawn {
                    program: command.get_program().to_string_lossy().into_owned(),
                    step: SpawnStep::Cgroup,
                    source: io::Error::other(e),
                }
            })?;
            Some(cgroup)
        }
        // The supervisor's own: a cgroup that cannot be made (the kernel's
        // `cgroup.max.descendants`, say) leaves this incarnation to its
        // process group, as a supervisor without a cgroup root does.
        (None, None, Some(root)) if spec.stop.scope == StopScope::Tree => {
            Cgroup::create(root, &cgroup_name(&spec.name)).ok()
        }
        (None, _, _) => None,
    };
    if let Some(cgroup) = &cgroup {
        command.cgroup(cgroup.path());
    }
    let mut child = match command.spawn_with(StdioDefaults::Twisted) {
        Ok(child) => child,
        Err(e) => {
            if let Some(cgroup) = cgroup {
                let _ = cgroup.remove();
            }
            return Err(e);
        }
    };
    let pid = child.id().expect("a child just spawned has a pid");
    let span = trace::incarnation(&spec.name, ctx.incarnation, pid);
    // fd 0 (and any input pipe): closed at once, the child reads EOF.
    drop(child.take_writers());
    let ready = || ReadyTell {
        reports: ctx.reports.clone(),
        program: spec.name.clone(),
        incarnation: ctx.incarnation,
    };
    let mut helpers = Vec::new();
    match &spec.ready {
        Readiness::NotificationFd(fd) => {
            if let Some(reader) = child.take_reader(*fd) {
                helpers.push(ctx.tasks.spawn(notification_fd(reader, ready())));
            }
        }
        Readiness::Probe { interval, probe } => {
            helpers.push(ctx.tasks.spawn(run_probe(*interval, probe.clone(), ready())));
        }
        _ => {}
    }
    let line_ready = match &spec.ready {
        Readiness::LogLine(predicate) => Some(Arc::new(LineReady {
            tell: ready(),
            predicate: predicate.clone(),
            fired: AtomicBool::new(false),
        })),
        _ => None,
    };
    let out = |fd: i32| {
        let logged = spec.log.get_fds().any(|f| f == fd);
        logged.then(|| Out {
            tx: ctx.lines.clone(),
            max: spec.log.get_max_line(),
            sink: spec.sink.clone(),
            ready: line_ready.clone(),
        })
    };
    let meta = |fd| BatchMeta { program: spec.name.clone(), incarnation: ctx.incarnation, pid, fd };
    let mut drains: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
    for reader in child.take_readers() {
        let fd = reader.child_fd();
        drains.push(Box::pin(trace::instrument(drain(reader, meta(fd), out(fd)), &span)));
    }
    // A terminal's output is logged as fd 1's.
    if let Some(pty) = child.take_pty() {
        drains.push(Box::pin(trace::instrument(drain(pty, meta(1), out(1)), &span)));
    }
    let (stop_tx, stop_rx) = oneshot::channel();
    // `Tree` is, for this incarnation, its cgroup or its group (or the
    // process alone, in the supervisor's group without a cgroup).
    let policy = spec.stop.with_scope(spec.stop.scope.resolve(&child));
    let (group_tx, group_rx) = match policy.scope {
        StopScope::Group | StopScope::Cgroup => {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        }
        _ => (None, None),
    };
    let signal = child.signal_handle();
    let cgroup_path = cgroup.as_ref().map(|c| c.path().to_owned());
    let reports = ctx.reports.clone();
    let program = spec.name.clone();
    let incarnation = ctx.incarnation;
    // One task for the waiter and the drains: a restart then schedules
    // one task, not three (each a wake-up of the other worker, measured
    // in the restart bench). The report goes as soon as the waiter is
    // done; the drains go on to their ends.
    let waiter = async move {
        let mut waiter = Waiter { child, cgroup };
        let (end, after) =
            run(&mut waiter.child, waiter.cgroup.as_ref(), stop_rx, group_rx, policy, &program).await;
        let cgroup = match (waiter.cgroup.take(), after) {
            (Some(cgroup), After::Empty) => Some(SpareCgroup(Some(cgroup))),
            (Some(cgroup), after) => {
                empty_or_remove(cgroup, after == After::Killed).await.map(|c| SpareCgroup(Some(c)))
            }
            (None, _) => None,
        };
        let _ = reports.send(Report::Ended { program, incarnation, end, cgroup });
    };
    ctx.tasks.spawn(join(waiter, drains));
    Ok(Live { pid, signal, stop: Some(stop_tx), helpers, cgroup: cgroup_path, group: group_tx, span })
}

/// Runs `first` and every one of `rest` to its end, in the task that
/// awaits it; each is polled when the task wakes, until it is done.
async fn join(first: impl Future<Output = ()>, mut rest: Vec<Pin<Box<dyn Future<Output = ()> + Send>>>) {
    let mut first = std::pin::pin!(first);
    let mut first_done = false;
    std::future::poll_fn(|cx| {
        first_done = first_done || first.as_mut().poll(cx).is_ready();
        rest.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if first_done && rest.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Once the incarnation is over: the cgroup, if empty (as after every
/// stop in cgroup scope) and never `cgroup.kill`ed, for the next
/// incarnation. Otherwise (in a scope other than `Cgroup`, daemons that
/// outlived the main process) what is left is killed, and the cgroup
/// removed once empty; a process that cannot die (stuck in the kernel)
/// leaves the directory behind after 10 s.
///
/// Never used again after `cgroup.kill`: on Linux 6.18 (this machine),
/// every child `clone3` then starts in such a cgroup with
/// `CLONE_INTO_CGROUP` is SIGKILLed at once (a cgroup the kill never
/// reached is fine, and so is a process moved in by `cgroup.procs`).
pub(crate) async fn empty_or_remove(cgroup: Cgroup, killed: bool) -> Option<Cgroup> {
    if !killed && !cgroup.is_populated().unwrap_or(true) {
        return Some(cgroup);
    }
    let _ = cgroup.kill();
    let _ = tokio::time::timeout(Duration::from_secs(10), cgroup.wait_empty()).await;
    let _ = cgroup.remove();
    None
}

/// Tells the actor that an incarnation is ready.
#[derive(Debug)]
struct ReadyTell {
    reports: mpsc::UnboundedSender<Report>,
    program: Arc<str>,
    incarnation: u64,
}

impl ReadyTell {
    fn tell(&self) {
        let (program, incarnation) = (self.program.clone(), self.incarnation);
        let _ = self.reports.send(Report::Ready { program, incarnation });
    }
}

/// The notification fd: ready at the first newline; the pipe is then
/// closed. End of file first: nothing (the start timeout applies).
async fn notification_fd(mut reader: impl AsyncRead + Unpin, tell: ReadyTell) {
    let mut buf = [0u8; 512];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) if buf[..n].contains(&b'\n') => return tell.tell(),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Calls the probe every `interval` until it says ready.
async fn run_probe(interval: Duration, probe: Probe, tell: ReadyTell) {
    loop {
        tokio::time::sleep(interval).await;
        if (probe.0)().await {
            return tell.tell();
        }
    }
}

/// `Readiness::LogLine`, shared by the pipes of one incarnation.
#[derive(Debug)]
struct LineReady {
    tell: ReadyTell,
    predicate: LinePredicate,
    fired: AtomicBool,
}

impl LineReady {
    /// A predicate that panics is not called again (the program is then
    /// never ready by its lines: the start timeout applies); the pipe goes
    /// on being drained.
    fn check(&self, line: &LogLine) {
        if self.fired.load(Ordering::Relaxed) {
            return;
        }
        let call = std::panic::AssertUnwindSafe(|| (self.predicate.0)(line));
        match std::panic::catch_unwind(call) {
            Ok(true) if !self.fired.swap(true, Ordering::Relaxed) => self.tell.tell(),
            Ok(_) => {}
            Err(_) => self.fired.store(true, Ordering::Relaxed),
        }
    }
}

/// Where a logged pipe's lines go.
#[derive(Debug)]
struct Out {
    tx: Arc<LogTx>,
    max: usize,
    sink: Option<Sink>,
    /// `Readiness::LogLine`: each line is tested until one matches.
    ready: Option<Arc<LineReady>>,
}

/// Reads `reader` to its end; with `out`, splits what it reads into lines
/// for the sink and the log channel (the lines of one read in one batch).
async fn drain(mut reader: impl AsyncRead + Unpin, meta: BatchMeta, out: Option<Out>) {
    let Some(mut out) = out else { return discard(reader).await };
    let mut splitter = LineFramer::new(out.max);
    let mut spans = Vec::new();
    loop {
        match splitter.read_from(&mut reader).await {
            Ok(0) => break,
            Ok(_) => send(&mut splitter, &mut out, &meta, &mut spans),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    splitter.finish();
    send(&mut splitter, &mut out, &meta, &mut spans);
}

/// Reads a pipe nobody logs to its end (the child never blocks on it).
async fn discard(mut reader: impl AsyncRead + Unpin) {
    let mut buf = vec![0u8; 4096];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) if n == buf.len() && n < 64 * 1024 => buf.resize(2 * n, 0),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

/// Sends the complete lines `splitter` holds: to the readiness test and the
/// sink one by one, to the channel as one chunk. A sink that panics is
/// dropped for the rest of the pipe (the rest of that read's lines do not
/// reach it); the pipe is still drained, and the lines still sent.
fn send(splitter: &mut LineFramer, out: &mut Out, meta: &BatchMeta, spans: &mut Vec<Span>) {
    let ready = out.ready.as_ref().filter(|r| !r.fired.load(Ordering::Relaxed));
    let sink_wanted = out.sink.as_ref().is_some_and(|sink| !crate::program::sink_unwanted(sink));
    if ready.is_none() && !sink_wanted {
        // Only the channel: it needs the chunk and how many lines it
        // holds (a subscriber finds them again), not where each is.
        if let Some((chunk, counted)) = splitter.take_counted() {
            out.tx.send_counted(meta, chunk, (counted.lines, counted.last_continued), out.max);
        }
        return;
    }
    let Some(chunk) = splitter.take_lines(spans) else { return };
    let line_sink = match &out.sink {
        Some(Sink::Line(sink)) if sink_wanted => Some(sink),
        _ => None,
    };
    if ready.is_some() || line_sink.is_some() {
        // One `LogLine` for the whole read, its line replaced each time.
        let BatchMeta { program, incarnation, pid, fd } = meta.clone();
        let mut line = LogLine { program, incarnation, pid, fd, line: Line::new(Bytes::new(), false) };
        let each = std::panic::AssertUnwindSafe(|| {
            for span in spans.iter() {
                line.line = Line::new(chunk.slice(span.start..span.end), span.continued);
                if let Some(ready) = ready {
                    ready.check(&line);
                }
                if let Some(sink) = line_sink {
                    sink(&line);
                }
            }
        });
        if std::panic::catch_unwind(each).is_err() {
            out.sink = None;
        }
    }
    if let Some(Sink::Batch(sink)) = &out.sink {
        let batch = LogBatch { meta, chunk: &chunk, spans };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(&batch))).is_err() {
            out.sink = None;
        }
    }
    out.tx.send(meta, chunk, spans, out.max);
}
