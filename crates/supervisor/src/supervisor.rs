//! The handle: a cloneable `mpsc::Sender` to the actor, and the commands.

use procwire_core::Signal;
use tokio::sync::{mpsc, oneshot, watch};

use crate::command::{ApplyPlan, Cmd, Reply, Updating};
use crate::error::Error;
use crate::event::{Event, ShutdownReport, Status, StopOutcome};
use crate::logs::Logs;
use crate::program::ProgramSpec;
use crate::stream::Subscription;
use crate::update::{ApplyReport, Update};

/// A handle to a supervisor: one task that owns every program, their
/// incarnations and timers. Cheap to clone, `Send + Sync`; each command
/// goes to the task and resolves once it has taken effect.
///
/// When the last handle is dropped, the task shuts everything down in
/// the background (as [`shutdown`](Self::shutdown), whose report nobody
/// reads) and ends; the [`JoinHandle`](https://docs.rs/tokio/1/tokio/task/struct.JoinHandle.html) from [`new`](Self::new) resolves then.
///
/// See the [crate documentation](crate) for an example.
#[derive(Debug, Clone)]
pub struct Supervisor {
    pub(crate) tx: mpsc::Sender<Cmd>,
}

impl Supervisor {
    /// Events kept for a slow [`events`](Self::events) receiver before it lags.
    pub const EVENT_CAPACITY: usize = 1024;
    /// Reads of a pipe kept for a slow [`logs`](Self::logs) receiver
    /// before it lags, and the bytes they may keep alive: 1,024 reads and
    /// 64 MiB (1,024 times 64 KiB, a pipe's size), whichever comes first,
    /// whatever the line lengths.
    ///
    /// The lines of one read travel together in one slot of the channel:
    /// the bytes read (plus the start of a line carried from the read
    /// before), in an allocation of their own, and 256 bytes of
    /// bookkeeping, counted against the 64 MiB; nothing per line. Past
    /// either limit the oldest slots go, and a receiver that far behind
    /// lags. So a receiver that never reads keeps at most 64 MiB alive,
    /// and one that does, besides, the read it is taking apart. (A
    /// [`LogLine`](crate::LogLine) longer than 64 bytes shares its read's
    /// bytes: keeping it keeps them.)
    pub const LOG_CAPACITY: usize = 1024;

    async fn call<T>(&self, cmd: impl FnOnce(oneshot::Sender<T>) -> Cmd) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(cmd(reply)).await.map_err(|_| Error::ShutDown)?;
        rx.await.map_err(|_| Error::ShutDown)
    }

    async fn ask<T>(&self, cmd: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, Error> {
        self.call(cmd).await?
    }

    /// Adds a program; with autostart, starts it (resolving once spawned,
    /// or once its spawn failed: the program is then in `Backoff`; or, if
    /// it runs [`after`](ProgramSpec::after) programs not `Running` yet,
    /// once it is `Waiting` for them).
    ///
    /// # Errors
    ///
    /// [`Error::Duplicate`], [`Error::Spec`] (its [`LogSpec`](crate::LogSpec)),
    /// [`Error::UnknownDependency`], [`Error::Cycle`] (a program after
    /// itself), [`Error::Cgroup`], [`Error::NotifySocket`], [`Error::ShutDown`].
    pub async fn add(&self, spec: ProgramSpec) -> Result<Status, Error> {
        self.ask(|r| Cmd::Add(Box::new(spec), r)).await
    }

    /// Adds several programs at once, which may run
    /// [`after`](ProgramSpec::after) each other in any order of the list:
    /// all are checked first (names, settings, dependencies, cycles), then
    /// added in an order where each comes after its dependencies; nothing
    /// is added when one is refused. The statuses come in the list's order.
    ///
    /// ```no_run
    /// use procwire_core::Command;
    /// use procwire_supervisor::{ProgramSpec, Supervisor};
    ///
    /// # async fn f(sup: Supervisor) -> Result<(), procwire_supervisor::Error> {
    /// let mut web = ProgramSpec::new("web", Command::new("web-server"));
    /// web.after(["db"]);
    /// let db = ProgramSpec::new("db", Command::new("database"));
    /// sup.add_all([web, db]).await?; // db starts first, web once db is running
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`add`](Self::add), for the first program refused.
    pub async fn add_all(&self, specs: impl IntoIterator<Item = ProgramSpec>) -> Result<Vec<Status>, Error> {
        let specs = specs.into_iter().collect();
        self.ask(|r| Cmd::AddAll(specs, r)).await
    }

    /// Removes a program: stops it first (the ladder), cancels a pending
    /// restart (no spawn follows). Resolves once it is gone,
    /// with how the running incarnation stopped, if one ran.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProgram`], [`Error::Required`] (another program runs
    /// after it), [`Error::ShutDown`].
    pub async fn remove(&self, name: &str) -> Result<Option<StopOutcome>, Error> {
        self.ask(|r| Cmd::Remove(name.into(), r)).await
    }

    /// Replaces a program's spec while it runs, and restarts it only when
    /// what it runs changed.
    ///
    /// What it runs is the command as the supervisor spawns it (program,
    /// arguments, environment, working directory, fd map, credentials,
    /// terminal, process group, parent-death signal, and what the
    /// readiness protocol and the watchdog add: `NOTIFY_SOCKET`, the
    /// notification fd, `WATCHDOG_USEC`), its cgroup directory and its
    /// [output files](ProgramSpec::output_file) (path and mode). When
    /// that changed and an incarnation is starting or running, it is
    /// stopped with the *old* stop policy and one of the new spec spawned
    /// at once (as [`restart`](Self::restart): not counted as a failure;
    /// programs that [`require`](ProgramSpec::requires) it restart too);
    /// the call resolves once spawned. Otherwise the incarnation runs on:
    /// the restart policy, backoff, stop policy, dependencies and
    /// autostart apply from now on, a running incarnation's
    /// [`liveness`](ProgramSpec::liveness) check starts again with the
    /// new settings, and the start timeout, the readiness check and the
    /// log settings from the next start. A program not running (stopped,
    /// exited, failed, backing off, waiting) just gets the new spec for
    /// its next start. Its history (the backoff's count) is kept.
    ///
    /// ```no_run
    /// use procwire_core::Command;
    /// use procwire_supervisor::{ProgramSpec, Supervisor, Update};
    ///
    /// # async fn f(sup: Supervisor) -> Result<(), procwire_supervisor::Error> {
    /// let mut command = Command::new("web-server");
    /// command.arg("--port=8081");
    /// match sup.update(ProgramSpec::new("web", command)).await? {
    ///     Update::Restarted(status) => println!("restarted: {status}"),
    ///     Update::Kept(status) => println!("updated in place: {status}"),
    ///     _ => {}
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Checked as [`add`](Self::add) checks, before anything changes:
    /// [`Error::UnknownProgram`] (no program has the spec's name),
    /// [`Error::Spec`], [`Error::UnknownDependency`], [`Error::Cycle`],
    /// [`Error::Cgroup`], [`Error::NotifySocket`], [`Error::ShutDown`];
    /// and, when it restarts, [`Error::Spawn`] if the new spawn failed
    /// (the program is then in `Backoff`, with the new spec).
    pub async fn update(&self, spec: ProgramSpec) -> Result<Update, Error> {
        match self.ask(|r| Cmd::Update(Box::new(spec), r)).await? {
            Updating::Kept(status) => Ok(Update::Kept(status)),
            Updating::Restarting(rx) => Ok(Update::Restarted(rx.await.unwrap_or(Err(Error::ShutDown))?)),
        }
    }

    /// Brings the supervisor to a new list of programs: programs not in
    /// the list are removed, programs new in it are added, and those in
    /// both are [`update`](Self::update)d (restarted only when what they
    /// run changed; untouched ones keep their incarnation and pid).
    ///
    /// The whole list is checked first, as [`add_all`](Self::add_all)
    /// checks a batch: names, settings, every dependency among the list's
    /// programs, no cycle; a list refused changes nothing. Then, in this
    /// order: the programs in both lists get their new specs (restarts
    /// begin); the programs gone are removed, those that run after others
    /// first, each level's stops in parallel, so that a program replaced
    /// by another under a new name has let go of its port before the new
    /// one starts; then the new programs are added, in dependency order.
    /// Resolves once all of that is done and every restart has spawned.
    ///
    /// The work is done by a task of its own: dropping the returned future
    /// (a timeout, a `select!`) does not leave it half done, only
    /// unreported. The supervisor's own settings (strategy, intensity)
    /// are not part of the list. Commands sent meanwhile by other tasks take effect
    /// between these steps: a program another task adds under a name the
    /// list adds makes the add fail with [`Error::Duplicate`], after the
    /// removals.
    ///
    /// ```no_run
    /// use procwire_core::Command;
    /// use procwire_supervisor::{ProgramSpec, Supervisor};
    ///
    /// # async fn f(sup: Supervisor) -> Result<(), procwire_supervisor::Error> {
    /// let db = ProgramSpec::new("db", Command::new("database"));
    /// let mut web = ProgramSpec::new("web", Command::new("web-server"));
    /// web.after(["db"]);
    /// let report = sup.apply([db, web]).await?; // every other program is removed
    /// println!("added {}, removed {}", report.added.len(), report.removed.len());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// From the checks, with nothing changed: [`Error::Duplicate`] (a
    /// name twice in the list), [`Error::Spec`],
    /// [`Error::UnknownDependency`] (a dependency not in the list),
    /// [`Error::Cycle`], [`Error::Cgroup`], [`Error::NotifySocket`],
    /// [`Error::ShutDown`]. Past the checks, the first error of a removal
    /// or of the add (the steps before it are done). A restart's spawn
    /// error is not an error of the call: it is in
    /// [`ApplyReport::restarted`].
    pub async fn apply(&self, specs: impl IntoIterator<Item = ProgramSpec>) -> Result<ApplyReport, Error> {
        let specs = specs.into_iter().collect();
        let this = self.clone();
        match tokio::spawn(async move { this.apply_now(specs).await }).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down.
            Err(_) => Err(Error::ShutDown),
        }
    }

    async fn apply_now(&self, specs: Vec<ProgramSpec>) -> Result<ApplyReport, Error> {
        let ApplyPlan { remove, add, restarting, kept } = self.ask(|r| Cmd::Apply(specs, r)).await?;
        let mut report = ApplyReport { kept, ..ApplyReport::default() };
        for level in remove {
            let mut pending = Vec::with_capacity(level.len());
            for name in level {
                let (tx, rx) = oneshot::channel();
                self.tx.send(Cmd::Remove(name.to_string(), tx)).await.map_err(|_| Error::ShutDown)?;
                pending.push((name, rx));
            }
            for (name, rx) in pending {
                match rx.await.unwrap_or(Err(Error::ShutDown)) {
                    Ok(outcome) => report.removed.push((name, outcome)),
                    // Removed meanwhile by another task: gone all the same.
                    Err(Error::UnknownProgram(_)) => report.removed.push((name, None)),
                    Err(e) => return Err(e),
                }
            }
        }
        if !add.is_empty() {
            report.added = self.add_all(add).await?;
        }
        for (name, rx) in restarting {
            report.restarted.push((name, rx.await.unwrap_or(Err(Error::ShutDown))));
        }
        Ok(report)
    }

    /// Starts a program by hand: not counted by the start limit nor
    /// blocked by it; from `Failed` (or anywhere) the history starts anew.
    /// A running program is left alone. Resolves once spawned.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProgram`], [`Error::Spawn`], [`Error::ShutDown`].
    pub async fn start(&self, name: &str) -> Result<Status, Error> {
        self.ask(|r| Cmd::Start(name.into(), r)).await
    }

    /// Stops a program with its stop policy, and keeps it stopped (its
    /// exit starts nothing); a pending restart is cancelled. Resolves once
    /// reaped, with how it stopped (`None` if nothing ran).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProgram`], [`Error::ShutDown`].
    pub async fn stop(&self, name: &str) -> Result<Option<StopOutcome>, Error> {
        self.ask(|r| Cmd::Stop(name.into(), r)).await
    }

    /// Stops a program, then starts it at once, not counted as a failure.
    /// A program not running starts at once.
    /// Resolves once the new incarnation is spawned.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub async fn restart(&self, name: &str) -> Result<Status, Error> {
        self.ask(|r| Cmd::Restart(name.into(), r)).await
    }

    /// [`restart`](Self::restart)s, in parallel, every program that is
    /// running, starting or waiting to restart; stopped, exited and failed
    /// programs stay down. Resolves once each
    /// is spawned again, with each one's result.
    ///
    /// # Errors
    ///
    /// [`Error::ShutDown`].
    pub async fn restart_all(&self) -> Result<Vec<Result<Status, Error>>, Error> {
        let pending = self.call(Cmd::RestartAll).await?;
        let mut out = Vec::with_capacity(pending.len());
        for rx in pending {
            out.push(rx.await.unwrap_or(Err(Error::ShutDown)));
        }
        Ok(out)
    }

    /// Sends `signal` to the program's live process; when its stop
    /// policy's scope is [`Group`](procwire_core::StopScope::Group), to its
    /// whole process group (while the leader is unreaped, so the group id
    /// cannot belong to anyone else); in [`Cgroup`](procwire_core::StopScope::Cgroup)
    /// scope, to every process of its cgroup. A program that is `Stopping`
    /// gets it too: `signal(name, Signal::KILL)` cuts a stop short.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProgram`]; [`Error::NotRunning`] when it has no live
    /// process (not started, or exited, even if the supervisor has not
    /// handled that exit yet); [`Error::Signal`] when the signal could not
    /// be sent otherwise; [`Error::ShutDown`].
    pub async fn signal(&self, name: &str, signal: Signal) -> Result<(), Error> {
        self.ask(|r| Cmd::Signal(name.into(), signal, r)).await
    }

    /// A snapshot of one program.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProgram`], [`Error::ShutDown`].
    pub async fn status(&self, name: &str) -> Result<Status, Error> {
        self.ask(|r| Cmd::Status(name.into(), r)).await
    }

    /// A snapshot of every program, in name order.
    ///
    /// # Errors
    ///
    /// [`Error::ShutDown`].
    pub async fn statuses(&self) -> Result<Vec<Status>, Error> {
        self.call(Cmd::Statuses).await
    }

    /// The program's status as it changes, read without the actor. The
    /// channel closes when the program is removed (its last value is
    /// `Removed`).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProgram`], [`Error::ShutDown`].
    pub async fn watch(&self, name: &str) -> Result<watch::Receiver<Status>, Error> {
        self.ask(|r| Cmd::Watch(name.into(), r)).await
    }

    /// Every [`Event`] from now on, through
    /// [`recv`](Subscription::recv) or as a `Stream`. A subscriber more
    /// than [`EVENT_CAPACITY`](Self::EVENT_CAPACITY) behind is told how
    /// many it missed.
    ///
    /// # Errors
    ///
    /// [`Error::ShutDown`].
    pub async fn events(&self) -> Result<Subscription<Event>, Error> {
        self.call(Cmd::Events).await.map(Subscription::new)
    }

    /// Every [`LogLine`](crate::LogLine) from now on, through [`recv`](Logs::recv) or as
    /// a `Stream`. The children's pipes are drained whatever the
    /// receivers do: one further behind than
    /// [`LOG_CAPACITY`](Self::LOG_CAPACITY) allows (in reads or in bytes)
    /// lags, and is told how many lines it missed; the child never blocks.
    ///
    /// # Errors
    ///
    /// [`Error::ShutDown`].
    pub async fn logs(&self) -> Result<Logs, Error> {
        self.call(Cmd::Logs).await
    }

    /// Stops every program in parallel with its stop policy, cancels every
    /// pending restart, and resolves once every incarnation is reaped and
    /// its pipes closed; nothing is spawned once it began. The supervisor
    /// task then ends: later commands fail with [`Error::ShutDown`].
    ///
    /// # Errors
    ///
    /// [`Error::ShutDown`] when it was shut down already.
    pub async fn shutdown(&self) -> Result<ShutdownReport, Error> {
        self.call(Cmd::Shutdown).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::stream::Subscription;

    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}

    #[tokio::test]
    async fn the_handle_is_send_and_sync_and_its_futures_are_send() {
        let (sup, task) = Supervisor::new();
        send_sync(&sup);
        send(sup.add(ProgramSpec::new("p", procwire_core::Command::new("true"))));
        send(sup.remove("p"));
        send(sup.update(ProgramSpec::new("p", procwire_core::Command::new("true"))));
        send(sup.apply([ProgramSpec::new("p", procwire_core::Command::new("true"))]));
        send(sup.start("p"));
        send(sup.stop("p"));
        send(sup.restart("p"));
        send(sup.restart_all());
        send(sup.signal("p", Signal::TERM));
        send(sup.status("p"));
        send(sup.statuses());
        send(sup.watch("p"));
        send(sup.events());
        send(sup.logs());
        send(sup.shutdown());
        let events: Subscription<Event> = sup.events().await.unwrap();
        send_sync(&events);
        assert!(matches!(sup.status("p").await, Err(Error::UnknownProgram(_))));
        drop(sup);
        task.await.unwrap().unwrap();
    }
}
