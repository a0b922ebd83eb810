//! `tracing`, with the feature: a span for each incarnation, around the
//! tasks that read its output (so a sink's events, the default one's
//! included, carry the program, incarnation and pid) and around its state
//! changes, which are events of target `procwire_supervisor::event`.
//! Without the feature, the same calls do nothing.

use std::future::Future;

use crate::event::Event;
#[cfg(feature = "tracing")]
use crate::{event::Cause, state::State};

/// An incarnation's span.
#[cfg(feature = "tracing")]
pub(crate) type Span = tracing::Span;

/// An incarnation's span (none without the `tracing` feature).
#[cfg(not(feature = "tracing"))]
#[derive(Debug, Clone)]
pub(crate) struct Span;

/// The span of incarnation `incarnation` of `program`, pid `pid`: INFO,
/// target `procwire_supervisor`, name `program`.
pub(crate) fn incarnation(program: &str, incarnation: u64, pid: u32) -> Span {
    #[cfg(feature = "tracing")]
    {
        tracing::info_span!(target: "procwire_supervisor", "program", name = program, incarnation, pid)
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (program, incarnation, pid);
        Span
    }
}

/// `future`, run inside `span`.
pub(crate) fn instrument<F: Future>(future: F, span: &Span) -> impl Future<Output = F::Output> {
    #[cfg(feature = "tracing")]
    {
        tracing::Instrument::instrument(future, span.clone())
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = span;
        future
    }
}

/// `event` as a `tracing` event of target `procwire_supervisor::event`,
/// inside the incarnation's span when it has one: ERROR for a move to
/// `Failed`, WARN for a restart after a failure (`Backoff`) and for a stop
/// the supervisor begins by itself (start timeout, watchdog, liveness),
/// INFO otherwise. The message is the event's `Display` line.
pub(crate) fn event(event: &Event, span: Option<&Span>) {
    #[cfg(feature = "tracing")]
    {
        use tracing::{error, info, warn};
        let _entered = span.map(|s| s.enter());
        let (program, incarnation) = (&*event.program, event.incarnation);
        let (from, to) = (event.from, event.to);
        match severity(event) {
            Severity::Error => {
                error!(target: "procwire_supervisor::event", program, incarnation, ?from, ?to, "{event}")
            }
            Severity::Warn => {
                warn!(target: "procwire_supervisor::event", program, incarnation, ?from, ?to, "{event}")
            }
            Severity::Info => {
                info!(target: "procwire_supervisor::event", program, incarnation, ?from, ?to, "{event}")
            }
        }
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (event, span);
    }
}

#[cfg(feature = "tracing")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Severity {
    Error,
    Warn,
    Info,
}

/// How bad the news is.
#[cfg(feature = "tracing")]
fn severity(event: &Event) -> Severity {
    match (&event.cause, event.to) {
        (_, State::Failed) => Severity::Error,
        (_, State::Backoff) => Severity::Warn,
        (Cause::StartTimeout | Cause::WatchdogMissed { .. } | Cause::LivenessFailed { .. }, _) => {
            Severity::Warn
        }
        _ => Severity::Info,
    }
}
