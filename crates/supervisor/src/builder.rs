//! A supervisor's own settings: its strategy, its restart intensity, the
//! room in its channels, whether it reports to systemd, and whether it
//! reaps the orphans it adopts.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::actor::Actor;
use crate::command::COMMANDS;
use crate::error::{Error, SpecError};
use crate::settings::{CgroupRoot, Settings, Strategy};
use crate::supervisor::Supervisor;

/// Builds a [`Supervisor`] with settings other than [`Supervisor::new`]'s.
///
/// ```no_run
/// use std::time::Duration;
/// use procwire_supervisor::{Strategy, Supervisor};
///
/// # async fn f() -> Result<(), procwire_supervisor::SpecError> {
/// let (sup, task) = Supervisor::builder()
///     .strategy(Strategy::OneForAll)
///     .intensity(3, Duration::from_secs(5))?
///     .build();
/// // ... add programs; if more than 3 automatic restarts come within 5 s,
/// // everything is stopped and the task resolves to the error:
/// if let Err(e) = task.await.unwrap() {
///     eprintln!("supervisor gave up: {e}");
/// }
/// # Ok::<(), procwire_supervisor::SpecError>(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    settings: Settings,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            settings: Settings {
                events: Supervisor::EVENT_CAPACITY,
                reads: Supervisor::LOG_CAPACITY,
                strategy: Strategy::OneForOne,
                intensity: None,
                systemd: false,
                subreaper: false,
                adopted_stop: procwire_core::StopPolicy::new(),
                cgroup_root: CgroupRoot::Auto,
            },
        }
    }
}

impl Builder {
    /// The most events [`capacity`](Self::capacity) keeps: 64 times
    /// [`Supervisor::EVENT_CAPACITY`] (the channel's slots are allocated
    /// when the supervisor is built).
    pub const MAX_EVENTS: usize = 64 * Supervisor::EVENT_CAPACITY;

    /// The most reads [`capacity`](Self::capacity) keeps: 16 times
    /// [`Supervisor::LOG_CAPACITY`], up to 1 GiB for a receiver that never
    /// reads.
    pub const MAX_READS: usize = 16 * Supervisor::LOG_CAPACITY;

    /// The largest [`intensity`](Self::intensity): the supervisor
    /// remembers each automatic restart within the period, up to this
    /// many (16 bytes each).
    pub const MAX_INTENSITY: u32 = 10_000;

    /// The defaults of [`Supervisor::new`].
    pub fn new() -> Builder {
        Builder::default()
    }

    /// What one program's restart does to the others.
    pub fn strategy(&mut self, strategy: Strategy) -> &mut Builder {
        self.settings.strategy = strategy;
        self
    }

    /// A limit on restarts for the whole supervisor: more than `restarts`
    /// automatic restarts (of any program) within `period`, and the
    /// supervisor stops every program and its task resolves to
    /// [`Error::Intensity`]. Default: no limit beyond each program's own
    /// start limit. `restarts` of 0 means the first automatic restart
    /// stops everything; `period` is positive (`Duration::MAX`: for
    /// ever). Erlang/OTP's intensity and period.
    ///
    /// # Errors
    ///
    /// [`SpecError::OutOfRange`] when `restarts` is over
    /// [`MAX_INTENSITY`](Self::MAX_INTENSITY) or `period` is zero; the
    /// builder is unchanged.
    pub fn intensity(&mut self, restarts: u32, period: Duration) -> Result<&mut Builder, SpecError> {
        if restarts > Builder::MAX_INTENSITY {
            return Err(SpecError::out_of_range("Builder::intensity restarts", restarts, "0..=10000"));
        }
        if period.is_zero() {
            return Err(SpecError::out_of_range("Builder::intensity period", period, "more than 0"));
        }
        self.settings.intensity = Some((restarts, period));
        Ok(self)
    }

    /// Events, and reads of a pipe, kept for slow receivers, each from 1
    /// to its maximum ([`MAX_EVENTS`](Self::MAX_EVENTS),
    /// [`MAX_READS`](Self::MAX_READS)): a value outside is taken as the
    /// nearest end. The reads hold at most `reads` times 64 KiB. See
    /// [`Supervisor::EVENT_CAPACITY`] and [`Supervisor::LOG_CAPACITY`].
    pub fn capacity(&mut self, events: usize, reads: usize) -> &mut Builder {
        self.settings.events = events.clamp(1, Builder::MAX_EVENTS);
        self.settings.reads = reads.clamp(1, Builder::MAX_READS);
        self
    }

    /// When this process runs under systemd (`NOTIFY_SOCKET` is set):
    /// report `READY=1` once programs were added and every autostart
    /// program is `Running` (add them together with
    /// [`add_all`](Supervisor::add_all) so that the first one up does not
    /// make the whole set ready), a one-line `STATUS=` as programs change
    /// state (`2 running, 1 starting, ...`), and `STOPPING=1` when
    /// shutdown begins. Off by default; without `NOTIFY_SOCKET` nothing
    /// is sent. Each report is one datagram to a local socket, sent from
    /// the supervisor's task without waiting (a full queue at systemd's
    /// end: the report is tried again when the task next wakes up).
    pub fn notify_systemd(&mut self, on: bool) -> &mut Builder {
        self.settings.systemd = on;
        self
    }

    /// Makes this process a child subreaper whose supervisor reaps every
    /// orphan it adopts, and stops those still running at shutdown: what
    /// a container's entrypoint (PID 1) must do. Off by default. As tini's
    /// `-s`.
    ///
    /// An orphan is a process whose parent exited: a daemon that
    /// double-forked away from its program, a shell's background job whose
    /// shell is gone. The kernel makes it the child of the nearest
    /// ancestor that is a subreaper (`PR_SET_CHILD_SUBREAPER`), or of the
    /// PID namespace's PID 1, which is one by design; when it exits it
    /// stays a zombie, holding a pid, until that process reaps it. On, the
    /// supervisor sets the flag (a PID 1 already has its effect) and
    /// reaps, at start and at each SIGCHLD, every zombie child of this
    /// process that procwire did not spawn, one pid at a time (never
    /// `waitpid(-1)`). At [`shutdown`](Supervisor::shutdown), once every
    /// program has stopped, each adopted process still running gets
    /// SIGTERM, 5 s, then SIGKILL ([`StopPolicy::new`](crate::StopPolicy::new)),
    /// those adopted meanwhile too (the children of a daemon that just
    /// died), until none is left or 10 s after the SIGKILL; they are in
    /// [`ShutdownReport::adopted`](crate::ShutdownReport::adopted). A
    /// supervisor dropped without shutdown sends them SIGKILL. When the
    /// supervisor's task ends the flag is cleared again (unless the process
    /// had it before): later orphans go to the next subreaper up.
    ///
    /// # What it requires of the rest of the process
    ///
    /// **Every child of this process must be spawned through procwire**
    /// ([`Command`](procwire_core::Command), and what is built on it:
    /// procwire-utils, the protocol driver, this supervisor). The kernel
    /// shows an adopted orphan and a child the process forked itself
    /// alike (same parent, same exit signal), and no rule (process group,
    /// session) tells them apart soundly, so any child procwire did not
    /// spawn is taken for adopted: a `std::process` or `tokio::process`
    /// child (or a C library's `fork`) may be reaped by the supervisor the
    /// moment it exits, its own `wait` then failing with `ECHILD`, and is
    /// stopped at shutdown with the adopted processes. Nothing else may
    /// reap with `waitpid(-1)` or `wait()`, set SIGCHLD to `SIG_IGN` or
    /// `SA_NOCLDWAIT`, or replace tokio's SIGCHLD handler; one
    /// subreaper-mode supervisor per process (a second one reaps the same
    /// orphans, and its shutdown stops them all); one copy of procwire in
    /// the binary; `/proc` mounted. See
    /// [`Subreaper`](procwire_core::Subreaper) for the mechanism.
    ///
    /// # What it guarantees
    ///
    /// A child procwire spawned, from any thread or runtime, is never
    /// reaped by the subreaper, however soon it exits: it is listed from
    /// before its clone returns until after its own reap, and the
    /// subreaper looks and reaps only between those points. Every other
    /// child is reaped once it exits and the supervisor's task runs: no
    /// zombie accumulates. A pid it signals is that of its own unreaped
    /// child, which nobody else reaps, so it names no other process.
    ///
    /// # Errors
    ///
    /// If this process cannot be made a subreaper (`/proc` not mounted or
    /// not showing this process, no tokio signal driver), the task
    /// resolves at once to [`Error::Subreaper`] and no program starts.
    ///
    /// ```no_run
    /// use procwire_supervisor::{ProgramSpec, Supervisor};
    ///
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let (sup, task) = Supervisor::builder().subreaper(true).build();
    /// let mut daemon = procwire_core::Command::new("sh");
    /// daemon.args(["-c", "(sleep 1 &); exec sleep 1000"]); // the first sleep is orphaned
    /// sup.add(ProgramSpec::new("daemon", daemon)).await?;
    /// // ... the orphaned sleep is reaped when it exits (or stopped at
    /// // shutdown, if it still runs).
    /// let report = sup.shutdown().await?;
    /// for orphan in &report.adopted {
    ///     println!("stopped orphan {}: {}", orphan.pid, orphan.status);
    /// }
    /// task.await??;
    /// # Ok(()) }
    /// ```
    pub fn subreaper(&mut self, on: bool) -> &mut Builder {
        self.settings.subreaper = on;
        self
    }

    /// How a [`subreaper`](Self::subreaper) supervisor stops the adopted
    /// processes still running at shutdown, after every program stopped:
    /// its signal, grace and final signal ([`StopPolicy::new`] by default:
    /// SIGTERM, 5 s, SIGKILL; the scope is not used, each adopted process
    /// is signalled alone). Under a container runtime that kills
    /// everything 10 s after its stop signal, keep the grace of the
    /// programs and this one within that.
    ///
    /// [`StopPolicy::new`]: procwire_core::StopPolicy::new
    ///
    /// ```
    /// use std::time::Duration;
    /// use procwire_supervisor::{StopPolicy, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (sup, task) = Supervisor::builder()
    ///     .subreaper(true)
    ///     .adopted_stop(StopPolicy::new().with_grace(Duration::from_secs(2)))
    ///     .build();
    /// # drop(sup); let _ = task.await; }
    /// ```
    pub fn adopted_stop(&mut self, policy: procwire_core::StopPolicy) -> &mut Builder {
        self.settings.adopted_stop = policy;
        self
    }

    /// Where each incarnation of a program stopped in the default scope,
    /// [`StopScope::Tree`](crate::StopScope::Tree), gets a cgroup of its
    /// own, so that nothing it started outlives it (a `setsid`'d daemon
    /// included): `Some(dir)`, a cgroup v2 directory this process may
    /// write; `None` for no cgroup, which leaves those programs to their
    /// process group (see [`ProgramSpec`](crate::ProgramSpec)'s "Stopping"
    /// for what escapes then).
    ///
    /// By default, this process's own cgroup ([`Cgroup::current`]) if it
    /// may write it (as root, or where it was delegated, systemd's
    /// `Delegate=yes`), else none; looked at once, when the supervisor
    /// starts. The cgroups are made in it as `procwire-NAME.NS.PID.N` and
    /// removed when their incarnation is over. A supervisor killed by
    /// SIGKILL removes none: the next one started over the same directory
    /// kills what still runs in the cgroups of a supervisor of its pid
    /// namespace whose pid is gone and removes them, before it makes its
    /// own (as systemd clears a unit's cgroup before starting it again).
    /// No controller is enabled, so the supervisor's own process may stay
    /// in `dir` (cgroup v2 forbids processes only beside children with
    /// controllers). A program with its own
    /// [`cgroup`](crate::ProgramSpec::cgroup) directory uses that.
    ///
    /// # Errors
    ///
    /// A `dir` that is not a cgroup v2 directory this process may write:
    /// the task resolves at once to [`Error::CgroupRoot`] and no program
    /// starts.
    ///
    /// ```no_run
    /// use procwire_supervisor::Supervisor;
    ///
    /// # async fn f() {
    /// // Under systemd with `Delegate=yes`, a subtree of the unit's own:
    /// let (sup, task) = Supervisor::builder().cgroup_root(Some("/sys/fs/cgroup/system.slice/web.service/programs".into())).build();
    /// // No cgroups at all: process groups only.
    /// let (plain, plain_task) = Supervisor::builder().cgroup_root(None).build();
    /// # }
    /// ```
    ///
    /// [`Cgroup::current`]: procwire_core::Cgroup::current
    pub fn cgroup_root(&mut self, dir: Option<std::path::PathBuf>) -> &mut Builder {
        self.settings.cgroup_root = dir.map_or(CgroupRoot::Off, CgroupRoot::At);
        self
    }

    /// The supervisor and its task, which resolves once it has shut down:
    /// `Ok` after [`shutdown`](Supervisor::shutdown) or the last handle
    /// dropped, [`Error::Intensity`] when the intensity was exceeded,
    /// [`Error::Subreaper`] at once when [`subreaper`](Self::subreaper)
    /// could not be set up, [`Error::CgroupRoot`] when the
    /// [`cgroup_root`](Self::cgroup_root) given cannot be written.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (it spawns its task). The runtime needs IO
    /// and time enabled.
    pub fn build(&self) -> (Supervisor, JoinHandle<Result<(), Error>>) {
        let (tx, rx) = mpsc::channel(COMMANDS);
        let task = tokio::spawn(Actor::new(rx, &self.settings).run());
        (Supervisor { tx }, task)
    }
}

/// The constructors that take the settings (here, beside them, so that
/// the handle's module needs nothing of the builder's).
impl Supervisor {
    /// A supervisor with no program, and its task.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (it spawns its task). The runtime needs IO
    /// and time enabled.
    pub fn new() -> (Supervisor, JoinHandle<Result<(), Error>>) {
        Builder::new().build()
    }

    /// A [`Builder`] for a supervisor with a [`Strategy`](crate::Strategy),
    /// an intensity limit, other capacities, or systemd notifications.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// [`new`](Self::new), keeping `events` events and the lines of
    /// `reads` reads of a pipe (and at most `reads` times 64 KiB) for slow
    /// receivers; as [`Builder::capacity`], which bounds both.
    ///
    /// # Panics
    ///
    /// As [`new`](Self::new).
    pub fn with_capacity(events: usize, reads: usize) -> (Supervisor, JoinHandle<Result<(), Error>>) {
        Builder::new().capacity(events, reads).build()
    }
}
