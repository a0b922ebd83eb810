//! procwire-supervisor keeps programs running on tokio: it restarts a
//! program that exits, after delays that grow while it keeps dying young,
//! stops it with a signal ladder, logs its output line by line, waits for
//! it to say it is ready, watches it while it runs, starts programs in
//! dependency order, and can restart them together. Its anchors are
//! Twisted's procmon, supervisord, systemd, s6, pm2 and Erlang/OTP;
//! `docs/from-supervisors.md` maps their names and settings to these.
//!
//! A [`Supervisor`] is a cheap, cloneable handle to one task that owns
//! every program ([`ProgramSpec`]: a name, a procwire
//! [`Command`](procwire_core::Command), a [`RestartSpec`], a
//! [`StopPolicy`], autostart, a [`LogSpec`], a [`Readiness`], a start
//! timeout, a watchdog, the programs it runs [`after`](ProgramSpec::after)).
//! Commands (`add`, `add_all`, `remove`, `start`, `stop`, `restart`,
//! `restart_all`, `signal`, `shutdown`) resolve once they have taken
//! effect; [`Supervisor::update`] replaces a program's spec while it runs
//! (restarting it only when what it runs changed) and
//! [`Supervisor::apply`] brings the whole supervisor to a new list of
//! programs (adding, removing and updating what differs);
//! [`Supervisor::watch`] reads a program's [`Status`] without the task;
//! every state change is an [`Event`] and every output line a
//! [`LogLine`], on broadcast channels read through a [`Subscription`]
//! and [`Logs`] (`recv`, or a `Stream`), and each line also goes to the
//! program's sink ([`ProgramSpec::sink`]) if it has one. The task wakes up
//! for a command, a child's exit, a pipe's readiness or a timer, never to
//! poll; when the last handle is dropped it shuts everything down and
//! ends. A [`Builder`] sets the supervisor's [`Strategy`] (one for one,
//! one for all, rest for one) and its restart intensity, past which it
//! stops everything and its task resolves to [`Error::Intensity`]; and,
//! for a container's entrypoint (PID 1), makes it a subreaper that reaps
//! the orphans it adopts and stops them at shutdown
//! ([`Builder::subreaper`], which asks that every child of the process be
//! spawned through procwire).
//!
//! # Example
//!
//! Two programs, one crashing every time (restarted after 100 ms, 200 ms,
//! 400 ms...), their events printed:
//!
//! ```no_run
//! use std::time::Duration;
//! use procwire_core::Command;
//! use procwire_supervisor::{Backoff, ProgramSpec, RestartSpec, Supervisor};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let (supervisor, _task) = Supervisor::new();
//!     let mut events = supervisor.events().await?;
//!
//!     let mut sleeper = Command::new("sleep");
//!     sleeper.arg("1000");
//!     supervisor.add(ProgramSpec::new("sleeper", sleeper)).await?;
//!
//!     let mut crasher = Command::new("sh");
//!     crasher.args(["-c", "echo about to crash; exit 1"]);
//!     let mut restart = RestartSpec::new();
//!     restart.backoff(Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_secs(5))?);
//!     let mut crashing = ProgramSpec::new("crasher", crasher);
//!     crashing.restart(restart);
//!     supervisor.add(crashing).await?;
//!
//!     loop {
//!         let e = events.recv().await?;
//!         println!("{e}"); // crasher #2 (pid 812): Running -> Backoff: exited with code 1; restart in 200 ms
//!     }
//! }
//! ```
//!
//! # Logs and `tracing`
//!
//! With the `tracing` feature (on by default), each incarnation has an
//! INFO span named `program` (target `procwire_supervisor`, fields
//! `name`, `incarnation`, `pid`) around the tasks that read its output,
//! so what a sink logs, the default sink included, carries them; and
//! every state change is an event of target `procwire_supervisor::event`
//! whose message is the [`Event`]'s `Display` line: ERROR for a move to
//! `Failed`, WARN for a restart after a failure and for a stop the
//! supervisor begins by itself (start timeout, watchdog, liveness), INFO
//! otherwise. The default sink logs each line as an INFO event of target
//! `procwire_supervisor::log`, `[name] line`, with a `stream` field
//! (`"stdout"`, `"stderr"`, `"other"`) and the `fd`.
//!
//! A filter that names only the service's own crate hides them: with
//! `tracing-subscriber`'s `EnvFilter`, add the supervisor's target,
//!
//! ```text
//! RUST_LOG=myservice=info,procwire_supervisor=info
//! ```
//!
//! (`procwire_supervisor::log=info` for the programs' output alone, or
//! `procwire_supervisor=warn` for the bad news alone.) To log output
//! under a target of your own instead, give the programs a
//! [`sink`](ProgramSpec::sink).
//!
//! # The layer beneath
//!
//! The actor is built on a layer that touches no process:
//!
//! - the spec: a [`RestartSpec`] (the [`RestartPolicy`], success and
//!   prevent sets, `min_uptime`, a [`Backoff`] with presets that reproduce
//!   other supervisors' delays exactly, a
//!   [`StartLimit`] and `max_retries`), a [`StopPolicy`] (procwire-core's
//!   stop ladder, shared with procwire-utils' timeouts) and a [`LogSpec`];
//!   bad settings are a [`SpecError`];
//! - the policy as a pure function: [`decide`] reads the spec, the
//!   program's [`History`], how it ended ([`Exit`]) and the time, and
//!   returns a [`Decision`]; [`State::next`] is the state machine, whose
//!   transition table is on [`State`];
//! - the [`LineSplitter`], which turns output into [`Line`]s: long lines
//!   in pieces, no invented empty line, raw bytes.
//!
//! All time is [`tokio::time::Instant`], so the supervisor can be tested
//! under tokio's paused clock.
//!
//! Settings follow one rule: bags of settings ([`ProgramSpec`], [`RestartSpec`],
//! [`LogSpec`]) have `&mut self` setters and `get_` getters, as
//! `std::process::Command`; values with rules of their own ([`Backoff`],
//! [`StartLimit`], and core's [`StopPolicy`]) are checked when built and
//! refined by consuming `with_` methods. Each size, count and duration
//! says what 0 and its largest value mean; outside its range it is a
//! [`SpecError::OutOfRange`] naming the setting (the capacities of
//! [`Builder::capacity`] are taken at the nearest end instead).
//!
//! # Defaults
//!
//! What a program gets from [`ProgramSpec::new`] and a supervisor from
//! [`Supervisor::new`], and whom each follows:
//!
//! | setting | default | follows |
//! |---|---|---|
//! | restart policy ([`RestartSpec::policy`]) | always | procmon, Kubernetes (`restartPolicy: Always`) |
//! | delays between quick deaths ([`Backoff::growing`]) | 1 s, doubling, at most 5 min | Kubernetes' CrashLoopBackOff cap |
//! | quick death / stable run ([`RestartSpec::min_uptime`]) | a run under 10 s is a quick death; a longer one clears the history | systemd's 10 s `StartLimitIntervalSec=` window |
//! | delay after a stable run ([`Backoff::with_stable`]) | 1 s | systemd's `RestartSec=` order (a service that ran, then crashed, is back at once) |
//! | giving up ([`RestartSpec::start_limit`], [`RestartSpec::max_retries`]) | never | procmon, Kubernetes |
//! | process group ([`ProgramSpec::own_process_group`]) | its own: a terminal's ^C reaches only the supervisor | systemd (a session per service) |
//! | when the supervisor dies ([`ProgramSpec::parent_death_signal`]) | SIGKILL to the program (Linux; none elsewhere, which has no `PR_SET_PDEATHSIG`) | tini's and s6's "nothing outlives the supervisor" |
//! | start timeout, readiness programs ([`ProgramSpec::start_timeout`]) | [`DEFAULT_START_TIMEOUT`], 90 s | systemd's `TimeoutStartSec=` |
//! | readiness ([`ProgramSpec::ready`]) | ready once spawned | systemd's `Type=exec`, supervisord |
//! | stop ([`ProgramSpec::DEFAULT_STOP`]) | SIGTERM, 5 s grace, SIGKILL ([`StopPolicy::new`]), to the program and everything it started ([`StopScope::Tree`]): nothing it started outlives its stop or its exit | procmon's `killTime` (systemd waits 90 s, Kubernetes 30 s); the reach is systemd's `KillMode=control-group` |
//! | what "everything it started" is ([`Builder::cgroup_root`]) | with a writable cgroup (the supervisor's own, if it may write it), every process of the incarnation's own cgroup, `setsid`'d daemons included; without one, the program's process group: a `setsid`'d daemon escapes (a [`subreaper`](Builder::subreaper) supervisor stops it at shutdown) | systemd (a cgroup per service); supervisord's `stopasgroup` where no cgroup can be made |
//! | output ([`LogSpec::new`]) | fds 1 and 2, lines up to 16 KiB (longer ones in pieces) | procmon's `LineReceiver` |
//! | strategy ([`Builder::strategy`]) | one for one, no intensity limit | Erlang/OTP's `one_for_one` |
//! | orphans ([`Builder::subreaper`]) | not a subreaper: orphans go to the nearest subreaper or PID 1 above | off, as in a library; on, tini's `-s` and dumb-init (SIGTERM, 5 s, SIGKILL for those left at shutdown) |
//!
//! The presets [`RestartSpec::procmon`], [`RestartSpec::supervisord`]
//! and [`RestartSpec::systemd`] give those supervisors' restarts exactly.
//!
//! ## The policy alone
//!
//! A program that always dies at once under supervisord's defaults is
//! spawned at 0, 1, 3 and 6 s, then fails:
//!
//! ```
//! use std::time::Duration;
//! use tokio::time::Instant;
//! use procwire_supervisor::{decide, Decision, Exit, FailCause, History, RestartSpec, StartKind, State};
//!
//! let spec = RestartSpec::supervisord();
//! let (mut history, t0) = (History::new(), Instant::now());
//! let (mut t, mut kind, mut spawns) = (t0, StartKind::Manual, vec![]);
//! let end = loop {
//!     history.record_start(t, kind);
//!     spawns.push((t - t0).as_secs());
//!     match decide(&spec, &mut history, Exit::code(1), t) {
//!         Decision::Restart { delay } => (t, kind) = (t + delay, StartKind::Automatic),
//!         other => break other,
//!     }
//! };
//! assert_eq!(spawns, [0, 1, 3, 6]);
//! assert!(matches!(end, Decision::Fail { cause: FailCause::Retries, .. }));
//! assert_eq!(State::Running.next(procwire_supervisor::Input::Exited(end)), Some(State::Failed));
//! ```
#![cfg_attr(
    feature = "config",
    doc = r##"
# Configuration files

With the `config` feature (serde and toml), a [`SupervisorConfig`] reads a
supervisor and its programs from TOML (or any serde format): the
`[supervisor]` table is a [`Builder`]'s settings, each `[program.NAME]`
table a [`ProgramConfig`], with durations as text (`"5s"`, `"1m30s"`). A
key left out is the default above; a bad file is one [`ConfigError`]
naming the program and the key.

```
use procwire_supervisor::SupervisorConfig;

let config: SupervisorConfig = r#"
    [supervisor]
    strategy = "one-for-all"

    [program.db]
    command = ["postgres", "-D", "/var/lib/postgres"]
    ready = "notify"

    [program.web]
    command = ["./web"]
    after = ["db"]
    stop_grace = "2s"
"#.parse()?;
let builder = config.builder()?; // then builder.build(), in a tokio runtime
let programs = config.programs()?; // for Supervisor::add_all, in the file's order
assert_eq!(programs[1].get_after().collect::<Vec<_>>(), ["db"]);
# let _ = builder;
# Ok::<(), procwire_supervisor::ConfigError>(())
```
"##
)]
#![cfg_attr(
    not(feature = "config"),
    doc = "
# Configuration files

With the `config` feature, `SupervisorConfig` reads a supervisor and its
programs from TOML (or any serde format)."
)]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

pub use backoff::Backoff;
pub use builder::Builder;
#[cfg(feature = "config")]
pub use config::{
    format_duration, parse_duration, BackoffConfig, ConfigError, IntensityConfig, LivenessConfig,
    OutputConfig, ProgramConfig, ReadyConfig, ReadyProbeConfig, StartLimitConfig, SupervisorConfig,
    SupervisorSettings,
};
pub use error::{Error, SpecError};
pub use event::{Cause, Event, LogLine, ShutdownReport, Status, StopOutcome, Trigger};
pub use exit::{Exit, ExitKind, ExitSet};
pub use lines::{Line, LineSplitter, LogSpec};
pub use liveness::Liveness;
pub use logs::{LogBatch, Logs};
pub use notify::{
    notify, notify_to, IgnoreReason, IgnoredLine, Notification, NotifyAccess, Rejection, WatchdogPing,
};
pub use output::FileMode;
pub use policy::{decide, Decision, ExitReason, FailCause, History, StartKind};
pub use procwire_core::{Adopted, StopPolicy, StopScope};
pub use program::{ProgramSpec, DEFAULT_START_TIMEOUT};
pub use readiness::{LinePredicate, Probe, ProbeFuture, Readiness};
pub use settings::Strategy;
pub use spec::{RestartPolicy, RestartSpec, StartLimit};
pub use state::{AfterStop, Input, State};
pub use stream::{Lagged, Subscription};
pub use supervisor::Supervisor;
pub use update::{ApplyReport, Update};

mod actor;
mod backoff;
mod builder;
mod cgroups;
mod command;
#[cfg(feature = "config")]
mod config;
mod display;
mod error;
mod event;
mod exit;
mod incarnation;
mod lines;
mod liveness;
mod logs;
mod notify;
mod output;
mod platform;
mod policy;
mod program;
mod readiness;
mod settings;
mod spec;
mod state;
mod stream;
mod supervisor;
mod trace;
mod update;
