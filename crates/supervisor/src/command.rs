//! The protocol between the handle ([`Supervisor`](crate::Supervisor))
//! and the actor: the commands and their replies. Both sides import this
//! module; neither imports the other.

use procwire_core::Signal;
use tokio::sync::{broadcast, oneshot, watch};

use crate::error::Error;
use crate::event::{Event, ShutdownReport, Status, StopOutcome};
use crate::logs::Logs;
use crate::program::ProgramSpec;

/// Room in the command channel.
pub(crate) const COMMANDS: usize = 64;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// A command to the actor.
#[derive(Debug)]
pub(crate) enum Cmd {
    Add(Box<ProgramSpec>, Reply<Status>),
    AddAll(Vec<ProgramSpec>, Reply<Vec<Status>>),
    Remove(String, Reply<Option<StopOutcome>>),
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
