//! What [`update`](crate::Supervisor::update) and
//! [`apply`](crate::Supervisor::apply) did.

use std::sync::Arc;

use crate::error::Error;
use crate::event::{Status, StopOutcome};

/// What [`Supervisor::update`](crate::Supervisor::update) did with a
/// program.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Update {
    /// The spec is replaced and no incarnation was stopped: what the
    /// program runs is the same (its new policies apply from now on), or
    /// nothing of it ran (its next start uses the new spec).
    Kept(Status),
    /// What the program runs changed while it ran: the live incarnation
    /// was stopped with its old stop policy, and a new one spawned from the
    /// new spec (a restart, not counted as a failure). The status once
    /// spawned.
    Restarted(Status),
}

impl Update {
    /// The program's status after the update.
    pub fn status(&self) -> &Status {
        match self {
            Update::Kept(status) | Update::Restarted(status) => status,
        }
    }

    /// Whether a live incarnation was restarted.
    pub fn restarted(&self) -> bool {
        matches!(self, Update::Restarted(_))
    }
}

/// What [`Supervisor::apply`](crate::Supervisor::apply) did, program by
/// program.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ApplyReport {
    /// The programs new in the list, added (and started, with autostart),
    /// with their status after the add, in the list's order.
    pub added: Vec<Status>,
    /// The programs missing from the list, removed, dependents first, with
    /// how their running incarnation stopped (if one ran).
    pub removed: Vec<(Arc<str>, Option<StopOutcome>)>,
    /// The programs whose running incarnation was restarted because what
    /// they run changed, with the result of the new spawn.
    pub restarted: Vec<(Arc<str>, Result<Status, Error>)>,
    /// The programs in both lists that kept running as they were (their
    /// new specs apply from now on), in name order.
    pub kept: Vec<Arc<str>>,
}
