//! One program to supervise: a name, a command and its policies.

use std::fmt;
use std::sync::Arc;

use procwire_core::{Command, StopPolicy};

use crate::event::LogLine;
use crate::lines::LogSpec;
use crate::spec::RestartSpec;

/// A program for [`Supervisor::add`](crate::Supervisor::add): its name, the
/// [`Command`] each incarnation is spawned from (so fd maps, uid/gid, env,
/// cwd and PTYs all apply), its [`RestartSpec`], its [`StopPolicy`],
/// whether it starts when added, and its [`LogSpec`].
///
/// Each incarnation is spawned from a clone of the command with
/// [`StdioDefaults::Twisted`](procwire_core::StdioDefaults::Twisted): fds
/// 1 and 2 are pipes unless the command maps them, and an input pipe on
/// fd 0 is closed at once (the child reads end of file). On a
/// [pty](procwire_core::Command::pty), the terminal's output is logged as
/// fd 1's (lines end in `\r`, as the terminal writes them). The command is
/// spawned with `kill_on_drop`, and with `process_group(0)` when the stop
/// policy's scope is [`StopScope::Group`](procwire_core::StopScope::Group).
///
/// ```
/// use std::time::Duration;
/// use procwire_core::{Command, StopPolicy};
/// use procwire_supervisor::{ProgramSpec, RestartSpec};
///
/// let mut spec = ProgramSpec::new("web", Command::new("sleep"));
/// spec.restart(RestartSpec::procmon())
///     .stop(StopPolicy::new().with_grace(Duration::from_secs(1)))
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
}

/// A callback that gets each line of a program, on the task that reads
/// the pipe, before the line goes to the broadcast channel.
#[derive(Clone)]
pub(crate) struct Sink(pub(crate) Arc<dyn Fn(&LogLine) + Send + Sync>);

/// The sink a program starts with: with the `tracing` feature (on by
/// default), each line is an INFO event of target
/// `procwire_supervisor::log`, with the program's name, incarnation, pid
/// and fd as fields and `[name] line` as the message, as procmon's
/// `LoggingProtocol` logs; without it, none. Nothing is formatted unless a
/// subscriber wants the event.
fn default_sink() -> Option<Sink> {
    #[cfg(feature = "tracing")]
    {
        Some(Sink(Arc::new(|l: &LogLine| {
            tracing::info!(
                target: "procwire_supervisor::log",
                program = %l.program,
                incarnation = l.incarnation,
                pid = l.pid,
                fd = l.fd,
                continued = l.line.continued,
                "[{}] {}",
                l.program,
                String::from_utf8_lossy(&l.line.bytes)
            )
        })))
    }
    #[cfg(not(feature = "tracing"))]
    {
        None
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sink(..)")
    }
}

impl ProgramSpec {
    /// A program `name` running `command`, with [`RestartSpec::new`],
    /// [`StopPolicy::new`], autostart and [`LogSpec::new`].
    pub fn new(name: impl Into<Arc<str>>, command: Command) -> ProgramSpec {
        ProgramSpec {
            name: name.into(),
            command,
            restart: RestartSpec::new(),
            stop: StopPolicy::new(),
            autostart: true,
            log: LogSpec::new(),
            sink: default_sink(),
        }
    }

    /// What happens after an exit.
    pub fn restart(&mut self, restart: RestartSpec) -> &mut ProgramSpec {
        self.restart = restart;
        self
    }

    /// How an incarnation is stopped.
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

    /// Calls `sink` with each of the program's lines (procmon's
    /// `LoggingProtocol`), on the task that reads the pipe, before the
    /// line goes to the [`logs`](crate::Supervisor::logs) channel: it must
    /// not block (the child would wait for its pipe). A sink that panics
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
        self.sink = Some(Sink(Arc::new(sink)));
        self
    }

    /// No sink: the lines go to the [`logs`](crate::Supervisor::logs)
    /// channel only (not to `tracing` either).
    pub fn no_sink(&mut self) -> &mut ProgramSpec {
        self.sink = None;
        self
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
}
