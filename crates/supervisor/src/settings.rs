//! A supervisor's settings, as its builder gathers them and its actor
//! reads them, and the strategies.

use std::time::Duration;

/// What a program's automatic restart does to the others.
///
/// | strategy | when a program exits and its policy restarts it |
/// |---|---|
/// | `OneForOne` | it alone restarts |
/// | `OneForAll` | every other live program is stopped, in the reverse of the order they were added, one after the other; then all start again in order |
/// | `RestForOne` | the programs added after it are stopped (in reverse order), then it and they start again in order; those added before it are untouched |
///
/// Under `OneForAll` and `RestForOne` the restart comes once the others
/// are stopped, without the failed program's backoff delay: the
/// [intensity](crate::Builder::intensity) is what stops a loop.
/// Erlang/OTP's supervision strategies, for OS processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Each program on its own (the default).
    #[default]
    OneForOne,
    /// One restarts, all restart.
    OneForAll,
    /// One restarts, it and those added after it restart.
    RestForOne,
}

/// What a [`Builder`](crate::Builder) sets, for the actor.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Room in the events channel.
    pub(crate) events: usize,
    /// Reads kept in the logs channel.
    pub(crate) reads: usize,
    pub(crate) strategy: Strategy,
    /// At most this many automatic restarts within this period.
    pub(crate) intensity: Option<(u32, Duration)>,
    /// Report to this process's own systemd.
    pub(crate) systemd: bool,
    /// Be a child subreaper, and reap and stop what it adopts.
    pub(crate) subreaper: bool,
    /// How a subreaper supervisor stops the adopted at shutdown.
    pub(crate) adopted_stop: procwire_core::StopPolicy,
    /// Where the incarnations of `StopScope::Tree` programs get their
    /// cgroups.
    pub(crate) cgroup_root: CgroupRoot,
}

/// Where a supervisor makes the cgroups of its `StopScope::Tree`
/// programs' incarnations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CgroupRoot {
    /// Its own cgroup, if it may write it; else none.
    Auto,
    /// None: the process group, and the sweep.
    Off,
    /// This directory, checked when the supervisor starts.
    At(std::path::PathBuf),
}
