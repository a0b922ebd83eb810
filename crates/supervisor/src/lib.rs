//! procwire-supervisor keeps programs running: Twisted's
//! `twisted.runner.procmon` on tokio, with the restart policies of
//! supervisord, systemd and pm2.
//!
//! This first layer touches no process: the spec, a [`RestartSpec`] (the
//! [`RestartPolicy`], success and prevent sets, `min_uptime`, a
//! [`Backoff`] with presets that reproduce procmon's, supervisord's,
//! systemd's and pm2's delays exactly, a [`StartLimit`] and
//! `max_retries`) and a [`StopPolicy`]; bad settings are a [`SpecError`].
//!
//! # Example
//!
//! ```
//! use procwire_supervisor::Backoff;
//!
//! let secs: Vec<u64> = Backoff::procmon().delays().take(5).map(|d| d.as_secs()).collect();
//! assert_eq!(secs, [1, 2, 4, 8, 16]);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

pub use backoff::Backoff;
pub use error::SpecError;
pub use exit::{Exit, ExitKind, ExitSet};
pub use spec::{RestartPolicy, RestartSpec, StartLimit};
pub use stop::{StopPolicy, StopScope};

mod backoff;
mod error;
mod exit;
mod spec;
mod stop;
