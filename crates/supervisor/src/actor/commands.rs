//! The commands that need more than a line: `signal`.

use procwire_core::Signal;
use tokio::sync::mpsc;

use super::{Actor, Program};
use crate::command::Reply;
use crate::error::Error;

impl Actor {
    /// Sends `sig` to the live process, or in group scope to its group
    /// (through the waiter task).
    pub(super) fn signal(&self, name: &str, sig: Signal, reply: Reply<()>) {
        let live = match self.get(name) {
            Ok(p) => p.live.as_ref(),
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let not_running = || Error::NotRunning(name.into());
        if let Some(group) = live.and_then(|l| l.group.as_ref()) {
            if let Err(mpsc::error::SendError((_, reply))) = group.send((sig, reply)) {
                let _ = reply.send(Err(not_running()));
            }
            return;
        }
        let result = live
            .and_then(|l| l.signal.as_ref())
            .ok_or_else(not_running)
            .and_then(|handle| handle.signal(sig).map_err(|e| Error::signal(name, e)));
        let _ = reply.send(result);
    }

    pub(super) fn get(&self, name: &str) -> Result<&Program, Error> {
        self.programs.get(name).ok_or_else(|| Error::UnknownProgram(name.into()))
    }
}
