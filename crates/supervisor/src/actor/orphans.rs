//! The supervisor as a subreaper ([`Builder::subreaper`](crate::Builder::subreaper)):
//! the orphans it adopts are reaped as they exit, and those still running
//! are stopped at shutdown, once no program is live.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use procwire_core::{Adopted, StopPolicy, Subreaper};

/// What the actor does with the orphans it adopts.
pub(super) enum Orphans {
    /// Nothing: the supervisor is no subreaper, or is done with them.
    Off,
    /// Reaps them as they exit.
    Reaping(Subreaper, StopPolicy),
    /// Shutdown: stops those still running. The future owns the
    /// subreaper and drops it when done (or when dropped itself: the last
    /// ones are then sent SIGKILL and left to procwire's reaper thread).
    Stopping(Pin<Box<dyn Future<Output = io::Result<Vec<Adopted>>> + Send>>),
}

/// What the orphans woke the actor for.
#[derive(Debug)]
pub(super) enum Orphaned {
    /// Adopted processes were reaped (or a look at `/proc` failed: the
    /// subreaper makes it again soon by itself).
    Reaped,
    /// The stop at shutdown is over.
    Stopped(io::Result<Vec<Adopted>>),
}

impl Orphans {
    /// A subreaper if `on`, that stops the adopted with `stop`.
    ///
    /// # Errors
    ///
    /// See [`Subreaper::new`].
    pub(super) fn new(on: bool, stop: StopPolicy) -> io::Result<Orphans> {
        if !on {
            return Ok(Orphans::Off);
        }
        let mut subreaper = Subreaper::new()?;
        // A supervisor torn down without `shutdown` leaves nothing running.
        subreaper.kill_on_drop(true);
        Ok(Orphans::Reaping(subreaper, stop))
    }

    /// Shutdown, once no program is live: starts stopping the adopted
    /// processes. `false` once there is nothing (left) to wait for.
    pub(super) fn stop(&mut self) -> bool {
        match std::mem::replace(self, Orphans::Off) {
            Orphans::Off => false,
            Orphans::Reaping(mut subreaper, stop) => {
                *self = Orphans::Stopping(Box::pin(async move { subreaper.stop_adopted(stop).await }));
                true
            }
            stopping => {
                *self = stopping;
                true
            }
        }
    }

    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Orphaned> {
        match self {
            Orphans::Off => Poll::Pending,
            Orphans::Reaping(subreaper, _) => subreaper.poll_reap(cx).map(|_| Orphaned::Reaped),
            Orphans::Stopping(stop) => {
                let stopped = std::task::ready!(stop.as_mut().poll(cx));
                *self = Orphans::Off;
                Poll::Ready(Orphaned::Stopped(stopped))
            }
        }
    }
}

impl fmt::Debug for Orphans {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Orphans::Off => f.write_str("Off"),
            Orphans::Reaping(subreaper, stop) => {
                f.debug_tuple("Reaping").field(subreaper).field(stop).finish()
            }
            Orphans::Stopping(_) => f.write_str("Stopping"),
        }
    }
}
