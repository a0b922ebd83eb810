//! One program to supervise: a name, a command and its policies.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use procwire_core::{Command, Signal, StopPolicy, StopScope};

use crate::event::LogLine;
use crate::lines::LogSpec;
use crate::logs::LogBatch;
use crate::output::{FileMode, OutputFile};
use crate::readiness::Readiness;
use crate::spec::RestartSpec;

/// A program for [`Supervisor::add`](crate::Supervisor::add): its name, the
/// [`Command`] each incarnation is spawned from (so fd maps, uid/gid, env,
/// cwd and PTYs all apply), its [`RestartSpec`], its [`StopPolicy`],
/// whether it starts when added, and its [`LogSpec`].
///
/// # Restarts, by default
///
/// A program that exits is started again, whatever its exit status
/// ([`RestartSpec::new`]). A run shorter than 10 s
/// ([`min_uptime`](RestartSpec::min_uptime)) is a *quick death*: the
/// first in a row waits 1 s, and each further one twice the delay before,
/// up to 5 minutes ([`Backoff::growing`](crate::Backoff::growing)). A run
/// of 10 s or more clears the count: the restart after it waits 1 s, and
/// the next quick death 1 s again. The supervisor never gives up unless a
/// [`start_limit`](RestartSpec::start_limit) or
/// [`max_retries`](RestartSpec::max_retries) says so. A spawn that fails
/// counts as a quick death. [`RestartSpec::procmon`] and the other
/// presets give other supervisors' rules.
///
/// # Spawning
///
/// Each incarnation is spawned from a clone of the command with
/// [`StdioDefaults::Twisted`](procwire_core::StdioDefaults::Twisted): fds
/// 1 and 2 are pipes unless the command maps them, and an input pipe on
/// fd 0 is closed at once (the child reads end of file). On a
/// [pty](procwire_core::Command::pty), the terminal's output is logged as
/// fd 1's (lines end in `\r`, as the terminal writes them). The command is
/// spawned with `kill_on_drop`, and with `process_group(0)` when the stop
/// policy's scope is [`StopScope::Group`]. An fd sent to a file by
/// [`output_file`](Self::output_file) gets the file, opened for that
/// incarnation, and is not logged.
///
/// # Stopping
///
/// The default stop ([`DEFAULT_STOP`](Self::DEFAULT_STOP), scope
/// [`StopScope::Tree`]) leaves nothing the program started alive, after
/// a `stop` and after the program exits by itself, before its next
/// incarnation starts: what it left behind gets SIGTERM, the grace, then
/// SIGKILL. What "everything" can mean depends on the machine:
///
/// - **With a writable cgroup** (the supervisor's own, by default, as
///   root or under systemd's `Delegate=yes`; or
///   [`Builder::cgroup_root`](crate::Builder::cgroup_root)), each
///   incarnation runs in a cgroup of its own, and every process in it is
///   reached, a double-forked, `setsid`'d daemon included (systemd's
///   `KillMode=control-group`). An exit that leaves nothing behind costs
///   one read of `cgroup.events`, and the cgroup is used again by the
///   next incarnation: restarts run at 0.95x the rate of
///   [`StopScope::Process`] (`docs/benchmarks.md`).
/// - **Without one**, the program's process group
///   ([`own_process_group`](Self::own_process_group), on by default): its
///   members are reached, and looked for through `/proc` after each exit
///   (a few milliseconds on a busy machine: a program that exits at once
///   restarts about half as often). A process that left the group
///   (`setsid`, a daemon) **escapes**: it outlives the stop and the
///   restart, and is reparented to the nearest subreaper or PID 1. A
///   [`subreaper`](crate::Builder::subreaper) supervisor adopts it, reaps
///   it when it exits, and stops it at its own shutdown, not before.
///   A program that stays in the supervisor's group
///   (`own_process_group(false)`) is reached alone.
///
/// [`StopScope::Process`] is procmon's and supervisord's reach (the
/// program alone: `sh -c 'server &'` leaves the server running);
/// [`StopScope::Group`] and [`StopScope::Cgroup`] ask for one mechanism
/// whatever the machine has (`Cgroup` with a [`cgroup`](Self::cgroup)
/// directory).
///
/// ```
/// use std::time::Duration;
/// use procwire_core::Command;
/// use procwire_supervisor::{ProgramSpec, RestartSpec};
///
/// let mut spec = ProgramSpec::new("web", Command::new("sleep"));
/// spec.restart(RestartSpec::procmon())
///     .stop(ProgramSpec::DEFAULT_STOP.with_grace(Duration::from_secs(1)))
///     .autostart(false);
/// assert_eq!(spec.get_name(), "web");
/// assert!(!spec.get_autostart());
/// ```
#[derive(Debug, Clone)]
pub struct ProgramSpec {
    pub(crate) name: Arc<str>,
    pub(crate) command: Command,
    pub(crate) restart: RestartSpec,
    pub(crate) stop: StopPolicy,
    pub(crate) autostart: bool,
    pub(crate) log: LogSpec,
    pub(crate) sink: Option<Sink>,
    pub(crate) ready: Readiness,
    pub(crate) start_timeout: Option<Duration>,
    pub(crate) watchdog: Option<Duration>,
    pub(crate) liveness: Option<crate::Liveness>,
    pub(crate) after: Vec<Arc<str>>,
    pub(crate) requires: bool,
    pub(crate) cgroup: Option<PathBuf>,
    pub(crate) own_group: bool,
    pub(crate) parent_death: Option<Signal>,
    pub(crate) output: BTreeMap<i32, OutputFile>,
}

/// How long a program with a readiness protocol may take to be ready, by
/// default: 90 s, as systemd's `TimeoutStartSec=`.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(90);

/// A callback that gets each line of a program, on the task that reads
/// the pipe, before the line goes to the broadcast channel.
#[derive(Clone)]
pub(crate) enum Sink {
    /// Called with each line.
    Line(Arc<dyn Fn(&LogLine) + Send + Sync>),
    /// Called with each read's lines.
    Batch(Arc<dyn Fn(&LogBatch<'_>) + Send + Sync>),
}

/// The sink a program starts with: with the `tracing` feature (on by
/// default), each line is an INFO event of target
/// `procwire_supervisor::log`, with the program's name, incarnation, pid,
/// fd and `stream` (`"stdout"`, `"stderr"`, or `"other"` for any other
/// fd) as fields and `[name] line` as the message, inside the
/// incarnation's span; without it, none. Nothing is formatted unless a
/// subscriber wants the event, and while none does the lines are not even
/// cut for it (see [`sink_unwanted`]). One sink shared by every program:
/// nothing allocated per spec.
fn default_sink() -> Option<Sink> {
    #[cfg(feature = "tracing")]
    {
        Some(
            DEFAULT_SINK
                .get_or_init(|| {
                    Sink::Line(Arc::new(|l: &LogLine| {
                        let stream = match l.fd {
                            1 => "stdout",
                            2 => "stderr",
                            _ => "other",
                        };
                        tracing::info!(
                            target: "procwire_supervisor::log",
                            program = %l.program,
                            incarnation = l.incarnation,
                            pid = l.pid,
                            fd = l.fd,
                            stream,
                            continued = l.line.continued,
                            "[{}] {}",
                            l.program,
                            String::from_utf8_lossy(&l.line.bytes)
                        )
                    }))
                })
                .clone(),
        )
    }
    #[cfg(not(feature = "tracing"))]
    {
        None
    }
}

/// The default sink, made once.
#[cfg(feature = "tracing")]
static DEFAULT_SINK: std::sync::OnceLock<Sink> = std::sync::OnceLock::new();

/// Whether `sink` is the default one and no subscriber wants its events
/// now (none installed, or `procwire_supervisor::log` filtered out): the
/// lines of a read then need not be cut for it, and only the `logs()`
/// channel, which counts them, is fed. Asked once a read.
pub(crate) fn sink_unwanted(sink: &Sink) -> bool {
    #[cfg(feature = "tracing")]
    if let (Sink::Line(sink), Some(Sink::Line(default))) = (sink, DEFAULT_SINK.get()) {
        return std::ptr::addr_eq(Arc::as_ptr(sink), Arc::as_ptr(default))
            && !tracing::enabled!(target: "procwire_supervisor::log", tracing::Level::INFO);
    }
    let _ = sink;
    false
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sink(..)")
    }
}

impl ProgramSpec {
    /// The stop a program gets from [`new`](Self::new): SIGTERM, 5 s,
    /// SIGKILL ([`StopPolicy::new`]), reaching the program and everything
    /// it started ([`StopScope::Tree`]; see "Stopping" above). A policy
    /// of your own keeps that reach if built from this one:
    ///
    /// ```
    /// use std::time::Duration;
    /// use procwire_core::StopScope;
    /// use procwire_supervisor::ProgramSpec;
    ///
    /// let stop = ProgramSpec::DEFAULT_STOP.with_grace(Duration::from_secs(30));
    /// assert_eq!(stop.scope, StopScope::Tree);
    /// ```
    pub const DEFAULT_STOP: StopPolicy = StopPolicy::new().with_scope(StopScope::Tree);

    /// A program `name` running `command`, with [`RestartSpec::new`],
    /// [`DEFAULT_STOP`](Self::DEFAULT_STOP), autostart and [`LogSpec::new`].
    pub fn new(name: impl Into<Arc<str>>, command: Command) -> ProgramSpec {
        ProgramSpec {
            name: name.into(),
            command,
            restart: RestartSpec::new(),
            stop: ProgramSpec::DEFAULT_STOP,
            autostart: true,
            log: LogSpec::new(),
            sink: default_sink(),
            ready: Readiness::Spawned,
            start_timeout: Some(DEFAULT_START_TIMEOUT),
            watchdog: None,
            liveness: None,
            after: Vec::new(),
            requires: false,
            cgroup: None,
            own_group: true,
            // PR_SET_PDEATHSIG is Linux's; elsewhere there is none to set.
            parent_death: if cfg!(target_os = "linux") { Some(Signal::KILL) } else { None },
            output: BTreeMap::new(),
        }
    }

    /// What happens after an exit.
    pub fn restart(&mut self, restart: RestartSpec) -> &mut ProgramSpec {
        self.restart = restart;
        self
    }

    /// How an incarnation is stopped: its first signal, grace, final
    /// signal and scope ([`DEFAULT_STOP`](Self::DEFAULT_STOP) unless set).
    ///
    /// Start from `DEFAULT_STOP` (or [`get_stop`](Self::get_stop)) to
    /// change one setting and keep the others: core's
    /// [`StopPolicy::new`] stops the child alone ([`StopScope::Process`]),
    /// so `StopPolicy::new().with_grace(..)` here also gives up the
    /// default's reach over everything the program started.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procwire_core::Command;
    /// use procwire_supervisor::{ProgramSpec, StopScope};
    ///
    /// let mut web = ProgramSpec::new("web", Command::new("./web"));
    /// web.stop(ProgramSpec::DEFAULT_STOP.with_grace(Duration::from_secs(30)));
    /// assert_eq!(web.get_stop().scope, StopScope::Tree);
    /// ```
    pub fn stop(&mut self, stop: StopPolicy) -> &mut ProgramSpec {
        self.stop = stop;
        self
    }

    /// Whether [`add`](crate::Supervisor::add) starts it (default `true`).
    pub fn autostart(&mut self, autostart: bool) -> &mut ProgramSpec {
        self.autostart = autostart;
        self
    }

    /// Which fds are logged as lines, and how long a line may be.
    pub fn log(&mut self, log: LogSpec) -> &mut ProgramSpec {
        self.log = log;
        self
    }

    /// Calls `sink` with each of the program's lines, on the task that
    /// reads the pipe, before the line goes to the
    /// [`logs`](crate::Supervisor::logs) channel: it must not block (the
    /// child would wait for its pipe). A sink that panics
    /// is not called again for that pipe (the lines still go to the
    /// channel). Replaces any sink set before.
    ///
    /// ```
    /// use procwire_core::Command;
    /// use procwire_supervisor::ProgramSpec;
    ///
    /// let mut spec = ProgramSpec::new("date", Command::new("date"));
    /// spec.sink(|l| eprintln!("[{}] {}", l.program, String::from_utf8_lossy(&l.line.bytes)));
    /// ```
    pub fn sink(&mut self, sink: impl Fn(&LogLine) + Send + Sync + 'static) -> &mut ProgramSpec {
        self.sink = Some(Sink::Line(Arc::new(sink)));
        self
    }

    /// As [`sink`](Self::sink), one call for the lines of each read of a
    /// pipe (a [`LogBatch`]): its raw bytes can be written out whole (to a
    /// log file, say), with the lines still split (and long ones cut) for
    /// whoever iterates them. Replaces any sink set before.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::sync::Mutex;
    /// use procwire_core::Command;
    /// use procwire_supervisor::ProgramSpec;
    ///
    /// let log = Mutex::new(std::io::sink()); // a file, in real life
    /// let mut spec = ProgramSpec::new("chatty", Command::new("yes"));
    /// spec.batch_sink(move |batch| {
    ///     let _ = log.lock().unwrap().write_all(batch.raw());
    /// });
    /// ```
    pub fn batch_sink(&mut self, sink: impl Fn(&LogBatch<'_>) + Send + Sync + 'static) -> &mut ProgramSpec {
        self.sink = Some(Sink::Batch(Arc::new(sink)));
        self
    }

    /// No sink: the lines go to the [`logs`](crate::Supervisor::logs)
    /// channel only (not to `tracing` either).
    pub fn no_sink(&mut self) -> &mut ProgramSpec {
        self.sink = None;
        self
    }

    /// How the program tells it is ready (default: once spawned).
    pub fn ready(&mut self, ready: Readiness) -> &mut ProgramSpec {
        self.ready = ready;
        self
    }

    /// How long an incarnation may stay `Starting` (not ready yet): past
    /// it, it is stopped with the stop policy and the exit counts as a
    /// [`Timeout`](crate::ExitKind::Timeout) for the restart policy.
    /// Default: [`DEFAULT_START_TIMEOUT`] (90 s), so that a program that
    /// never says it is ready cannot hold its dependents forever; a
    /// program ready once spawned has none to run into. A notifying
    /// program may extend it with `EXTEND_TIMEOUT_USEC=`. Zero, or a
    /// timeout too long for the clock, means none. As systemd's
    /// `TimeoutStartSec=`.
    pub fn start_timeout(&mut self, timeout: Duration) -> &mut ProgramSpec {
        self.start_timeout = Some(timeout);
        self
    }

    /// Whether each incarnation leads a process group of its own (default:
    /// yes): a terminal's ^C (SIGINT to the foreground process group) then
    /// reaches the supervisor only, which stops the programs in order, and
    /// [`kill_on_drop`](procwire_core::Command::kill_on_drop) takes the
    /// group with the program. `false` leaves the program in the
    /// supervisor's group, unless the command asks for a group or session
    /// itself or the stop scope is
    /// [`Group`](procwire_core::StopScope::Group).
    pub fn own_process_group(&mut self, own: bool) -> &mut ProgramSpec {
        self.own_group = own;
        self
    }

    /// The signal each incarnation gets when the supervisor's process
    /// dies, however it dies (Linux `PR_SET_PDEATHSIG`; see
    /// [`Command::parent_death_signal`](procwire_core::Command::parent_death_signal)).
    /// Default: SIGKILL, so that a supervisor killed with SIGKILL leaves
    /// no program running to hold its ports when it is started again;
    /// `None` for none. It reaches the program's main process: what that
    /// process started outlives it unless it handles its own end (or the
    /// program runs in a [cgroup](Self::cgroup), which the next
    /// supervisor can empty). A signal set on the command itself wins.
    ///
    /// Linux only: elsewhere the default is `None`, and `add` refuses a
    /// signal with [`SpecError::Unsupported`](crate::SpecError::Unsupported).
    pub fn parent_death_signal(&mut self, sig: Option<Signal>) -> &mut ProgramSpec {
        self.parent_death = sig;
        self
    }

    /// A watchdog: the program gets `WATCHDOG_USEC` and `WATCHDOG_PID`
    /// (its own pid, so that the processes it starts know the watchdog is
    /// not theirs; see
    /// [`Command::env_pid`](procwire_core::Command::env_pid)) and, with
    /// [`Readiness::Notify`], pings with `WATCHDOG=1`; armed when it is
    /// ready, re-armed by each ping. A miss (or `WATCHDOG=trigger`) stops it with SIGABRT first, then the
    /// stop policy's grace and final signal, and the exit counts as a
    /// [`Watchdog`](crate::ExitKind::Watchdog) for the restart policy
    /// ([`RestartPolicy::OnWatchdog`](crate::RestartPolicy::OnWatchdog)).
    /// Zero means none; a period too long for the clock never fires, and
    /// one of `u64::MAX` microseconds or more (sd_notify's infinity) is
    /// not passed in `WATCHDOG_USEC`. As systemd's `WatchdogSec=`.
    pub fn watchdog(&mut self, period: Duration) -> &mut ProgramSpec {
        self.watchdog = Some(period);
        self
    }

    /// A check that keeps running once the program is `Running`, and stops
    /// it (to be restarted by its policy, as after a missed watchdog) after
    /// enough failures in a row: see [`Liveness`](crate::Liveness).
    pub fn liveness(&mut self, check: crate::Liveness) -> &mut ProgramSpec {
        self.liveness = Some(check);
        self
    }

    /// Starts only when every program named here is `Running` (ready);
    /// shutdown stops this program before them. Each must exist when this
    /// one is added (or be added with it by
    /// [`add_all`](crate::Supervisor::add_all)); a cycle is refused.
    pub fn after<S: Into<Arc<str>>>(&mut self, programs: impl IntoIterator<Item = S>) -> &mut ProgramSpec {
        self.after = programs.into_iter().map(Into::into).collect();
        self
    }

    /// On top of [`after`](Self::after): a `restart` of a program this one
    /// runs after restarts this one too (stopped, then started again once
    /// the dependency is ready). As systemd's `Requires=`.
    pub fn requires(&mut self, requires: bool) -> &mut ProgramSpec {
        self.requires = requires;
        self
    }

    /// Runs each incarnation in a cgroup of its own, made under `parent`
    /// (a cgroup v2 directory the supervisor may write, delegated to it;
    /// checked at [`add`](crate::Supervisor::add)) and removed once the
    /// program comes to rest (an incarnation's empty cgroup is used again
    /// by the next). This directory takes the place of the supervisor's
    /// [`cgroup_root`](crate::Builder::cgroup_root) for this program. With
    /// [`StopScope::Cgroup`](procwire_core::StopScope::Cgroup) (or the
    /// default [`StopScope::Tree`]) in the stop policy, a stop reaches every process of the cgroup, however it
    /// forked or whichever session it made (systemd's `KillMode=cgroup`),
    /// then `cgroup.kill`; an incarnation whose main process exits leaves
    /// no process behind either: the rest are stopped the same way before
    /// the next one starts.
    ///
    /// ```no_run
    /// use procwire_core::{Command, StopPolicy, StopScope};
    /// use procwire_supervisor::ProgramSpec;
    ///
    /// let mut daemon = ProgramSpec::new("daemon", Command::new("forking-daemon"));
    /// daemon
    ///     .cgroup("/sys/fs/cgroup/my-service")
    ///     .stop(StopPolicy::new().with_scope(StopScope::Cgroup));
    /// ```
    pub fn cgroup(&mut self, parent: impl Into<PathBuf>) -> &mut ProgramSpec {
        self.cgroup = Some(parent.into());
        self
    }

    /// Sends the program's fd `fd` (1 for stdout, 2 for stderr; any fd of
    /// 1 or more) straight into the file at `path`, instead of a pipe the
    /// supervisor logs: the lines written there never reach the sink,
    /// [`logs`](crate::Supervisor::logs) or a
    /// [`Readiness::LogLine`](crate::Readiness::LogLine) test, and cost the
    /// supervisor no read. Replaces what the command maps that fd to, and
    /// any file set before for it. As systemd's
    /// `StandardOutput=append:`/`truncate:`.
    ///
    /// The file is opened at *each* spawn, on the supervisor's task (one
    /// local `open(2)`): `O_WRONLY | O_CREAT | O_CLOEXEC`, with `O_APPEND`
    /// or `O_TRUNC` as `mode` says, created with mode `0o644` (less the
    /// umask), blocking. The child gets the descriptor and the supervisor
    /// keeps no copy, so a log rotation that renames the file is followed:
    /// the next incarnation creates a new one. Two fds naming the same file
    /// share one open file, as `>f 2>&1` does. A relative path is the
    /// supervisor's working directory's at the spawn. An open that fails
    /// (a missing directory, `EACCES`) fails the spawn, as any spawn
    /// failure does ([`Cause::SpawnFailed`](crate::Cause::SpawnFailed), at
    /// [`SpawnStep::Pipes`](procwire_core::SpawnStep::Pipes)), with an
    /// error that names the path. `add` refuses an fd below 1, and the
    /// fd of a [`Readiness::NotificationFd`](crate::Readiness::NotificationFd).
    ///
    /// ```
    /// use procwire_core::Command;
    /// use procwire_supervisor::{FileMode, ProgramSpec};
    ///
    /// let mut web = ProgramSpec::new("web", Command::new("./web"));
    /// web.output_file(1, "/var/log/web.log", FileMode::Append)
    ///     .output_file(2, "/var/log/web.log", FileMode::Append);
    /// ```
    pub fn output_file(&mut self, fd: i32, path: impl Into<PathBuf>, mode: FileMode) -> &mut ProgramSpec {
        self.output.insert(fd, OutputFile { path: path.into(), mode });
        self
    }

    /// The file fd `fd` is sent to, if any: see
    /// [`output_file`](Self::output_file).
    pub fn get_output_file(&self, fd: i32) -> Option<(&Path, FileMode)> {
        self.output.get(&fd).map(|f| (f.path.as_path(), f.mode))
    }

    /// See [`cgroup`](Self::cgroup).
    pub fn get_cgroup(&self) -> Option<&Path> {
        self.cgroup.as_deref()
    }

    /// See [`new`](Self::new).
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// See [`new`](Self::new).
    pub fn get_command(&self) -> &Command {
        &self.command
    }

    /// See [`restart`](Self::restart).
    pub fn get_restart(&self) -> &RestartSpec {
        &self.restart
    }

    /// See [`stop`](Self::stop).
    pub fn get_stop(&self) -> &StopPolicy {
        &self.stop
    }

    /// See [`autostart`](Self::autostart).
    pub fn get_autostart(&self) -> bool {
        self.autostart
    }

    /// See [`log`](Self::log).
    pub fn get_log(&self) -> &LogSpec {
        &self.log
    }

    /// See [`ready`](Self::ready).
    pub fn get_ready(&self) -> &Readiness {
        &self.ready
    }

    /// See [`own_process_group`](Self::own_process_group).
    pub fn get_own_process_group(&self) -> bool {
        self.own_group
    }

    /// See [`parent_death_signal`](Self::parent_death_signal).
    pub fn get_parent_death_signal(&self) -> Option<Signal> {
        self.parent_death
    }

    /// See [`start_timeout`](Self::start_timeout).
    pub fn get_start_timeout(&self) -> Option<Duration> {
        self.start_timeout
    }

    /// See [`watchdog`](Self::watchdog).
    pub fn get_watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// See [`liveness`](Self::liveness).
    pub fn get_liveness(&self) -> Option<&crate::Liveness> {
        self.liveness.as_ref()
    }

    /// See [`after`](Self::after).
    pub fn get_after(&self) -> impl Iterator<Item = &str> + '_ {
        self.after.iter().map(|s| &**s)
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    use super::*;

    /// A subscriber that wants every event and records nothing.
    struct Wants;

    impl tracing::Subscriber for Wants {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, _: &tracing::Event<'_>) {}
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// The default sink is skipped only while no subscriber wants its
    /// events; a sink of the user's never is.
    #[test]
    fn the_default_sink_is_unwanted_only_without_a_subscriber() {
        let default = default_sink().expect("a default sink with `tracing`");
        let own = Sink::Line(Arc::new(|_: &LogLine| {}));
        assert!(sink_unwanted(&default), "no subscriber: nobody reads its events");
        assert!(!sink_unwanted(&own));
        tracing::subscriber::with_default(Wants, || {
            assert!(!sink_unwanted(&default), "a subscriber wants them");
            assert!(!sink_unwanted(&own));
        });
    }
}
