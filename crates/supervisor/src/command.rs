//! The protocol between the handle ([`Supervisor`](crate::Supervisor))
//! and the actor: the commands and their replies. Both sides import this
//! module; neither imports the other.

use std::sync::Arc;

use procwire_core::Signal;
use tokio::sync::{broadcast, oneshot, watch};

use crate::error::Error;
use crate::event::{Event, ShutdownReport, Status, StopOutcome};
use crate::logs::Logs;
use crate::program::ProgramSpec;

/// A restart's answer, once the new incarnation is spawned.
pub(crate) type Restarting = oneshot::Receiver<Result<Status, Error>>;

/// The actor's part of an `update`: done, or a restart under way.
#[derive(Debug)]
pub(crate) enum Updating {
    Kept(Status),
    Restarting(Restarting),
}

/// The actor's part of an `apply`: the list is checked and the kept
/// programs have their new specs; the handle removes, adds and waits.
#[derive(Debug)]
pub(crate) struct ApplyPlan {
    /// The programs to remove, level by level: no program of a level runs
    /// after one of a later level.
    pub(crate) remove: Vec<Vec<Arc<str>>>,
    pub(crate) add: Vec<ProgramSpec>,
    pub(crate) restarting: Vec<(Arc<str>, Restarting)>,
    pub(crate) kept: Vec<Arc<str>>,
}

/// Room in the command channel.
pub(crate) const COMMANDS: usize = 64;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// A command to the actor.
#[derive(Debug)]
pub(crate) enum Cmd {
    Add(Box<ProgramSpec>, Reply<Status>),
    AddAll(Vec<ProgramSpec>, Reply<Vec<Status>>),
    Remove(String, Reply<Option<StopOutcome>>),
    Update(Box<ProgramSpec>, Reply<Updating>),
    Apply(Vec<ProgramSpec>, Reply<ApplyPlan>),
    Start(String, Reply<Status>),
    Stop(String, Reply<Option<StopOutcome>>),
    Restart(String, Reply<Status>),
    RestartAll(oneshot::Sender<Vec<oneshot::Receiver<Result<Status, Error>>>>),
    Signal(String, Signal, Reply<()>),
    Status(String, Reply<Status>),
    Statuses(oneshot::Sender<Vec<Status>>),
    Watch(String, Reply<watch::Receiver<Status>>),
    Events(oneshot::Sender<broadcast::Receiver<Event>>),
    Logs(oneshot::Sender<Logs>),
    Shutdown(oneshot::Sender<ShutdownReport>),
}
