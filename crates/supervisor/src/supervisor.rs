//! The handle: a cloneable `mpsc::Sender` to the actor, and the commands.

use procwire_core::Signal;
use tokio::sync::{mpsc, oneshot, watch};

use crate::command::{Cmd, Reply};
use crate::error::Error;
use crate::event::{Event, ShutdownReport, Status, StopOutcome};
use crate::logs::Logs;
use crate::program::ProgramSpec;
use crate::stream::Subscription;

/// A handle to a supervisor: one task that owns every program, their
/// incarnations and timers. Cheap to clone, `Send + Sync`; each command
/// goes to the task and resolves once it has taken effect.
///
/// When the last handle is dropped, the task shuts everything down in
/// the background (as [`shutdown`](Self::shutdown), whose report nobody
/// reads) and ends; the [`JoinHandle`](tokio::task::JoinHandle) from [`new`](Self::new) resolves then.
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
    /// restart (procmon's bug 3: no spawn after). Resolves once it is gone,
    /// with how the running incarnation stopped, if one ran.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProgram`], [`Error::Required`] (another program runs
    /// after it), [`Error::ShutDown`].
    pub async fn remove(&self, name: &str) -> Result<Option<StopOutcome>, Error> {
        self.ask(|r| Cmd::Remove(name.into(), r)).await
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

    /// Stops a program with its stop policy, and keeps it stopped
    /// (procmon's bug 5); a pending restart is cancelled. Resolves once
    /// reaped, with how it stopped (`None` if nothing ran).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProgram`], [`Error::ShutDown`].
    pub async fn stop(&self, name: &str) -> Result<Option<StopOutcome>, Error> {
        self.ask(|r| Cmd::Stop(name.into(), r)).await
    }

    /// Stops a program, then starts it at once, not counted as a failure
    /// (procmon's `stopProcess`). A program not running starts at once.
    /// Resolves once the new incarnation is spawned.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub async fn restart(&self, name: &str) -> Result<Status, Error> {
        self.ask(|r| Cmd::Restart(name.into(), r)).await
    }

    /// [`restart`](Self::restart)s, in parallel, every program that is
    /// running, starting or waiting to restart (procmon's `restartAll`);
    /// stopped, exited and failed programs stay down. Resolves once each
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
