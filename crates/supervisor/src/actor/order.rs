//! Order between programs: dependencies (who waits for whom, who
//! restarts with whom, who stops first at shutdown), the strategies'
//! group restarts, and the intensity limit.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Actor, Program};
use crate::error::Error;
use crate::event::{Cause, Trigger};
use crate::policy::StartKind;
use crate::settings::Strategy;
use crate::state::{AfterStop, State};

/// A strategy's restart: the programs still to stop (the last one first),
/// the one stopping now, and those to start again once all are stopped.
#[derive(Debug)]
pub(super) struct GroupRestart {
    pub(super) failed: Arc<str>,
    pub(super) to_stop: Vec<Arc<str>>,
    pub(super) stopping: Option<Arc<str>>,
    pub(super) to_start: Vec<Arc<str>>,
}

impl GroupRestart {
    /// A user's `stop` or `remove` of `name`: whatever the strategy meant
    /// to do with it, it neither stops it nor starts it again (a stop
    /// under way goes on, and the restart with it).
    pub(super) fn forget(&mut self, name: &str) {
        self.to_stop.retain(|n| &**n != name);
        self.to_start.retain(|n| &**n != name);
    }
}

impl Actor {
    /// `restart(name)`: the live programs that run after it and require
    /// it are stopped, and start again once it is ready; and so on down
    /// the chain (a worklist: a chain of any length fits).
    pub(super) fn restart_dependents(&mut self, name: &str) {
        let mut work: Vec<Arc<str>> = vec![name.into()];
        while let Some(name) = work.pop() {
            let requiring: Vec<Arc<str>> = self
                .programs
                .values()
                .filter(|p| p.spec.requires && p.spec.after.contains(&name))
                .map(|p| p.name().clone())
                .collect();
            for dependent in requiring {
                let Some(p) = self.programs.get_mut(&dependent) else { continue };
                match p.state {
                    State::Starting | State::Running => p.begin_stop(&self.events, AfterStop::Start),
                    State::Stopping if p.after != AfterStop::Start => p.then(AfterStop::Start),
                    _ => continue,
                }
                work.push(dependent);
            }
        }
    }

    /// The programs that run after `name` (whatever their state).
    pub(super) fn dependents<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Arc<str>> + 'a {
        self.programs.values().filter(move |p| p.spec.after.iter().any(|a| &**a == name)).map(Program::name)
    }

    /// The first program `name` runs after that is not `Running`.
    pub(super) fn blocker(&self, name: &str) -> Option<Arc<str>> {
        let p = self.programs.get(name)?;
        p.spec.after.iter().find(|a| self.programs.get(*a).is_none_or(|d| d.state != State::Running)).cloned()
    }

    /// Starts the waiting programs whose dependencies are all `Running`,
    /// in the order they were added. Not re-entered: a program that a
    /// start here makes ready (at once, without a readiness protocol) asks
    /// for another pass instead of a nested one, so a chain of any length
    /// takes no stack (the order they were added is a dependency order, so
    /// one pass usually starts a whole chain).
    pub(super) fn unblock(&mut self) {
        if self.unblocking {
            self.unblock_again = true;
            return;
        }
        self.unblocking = true;
        loop {
            self.unblock_again = false;
            let mut waiting: Vec<(u64, Arc<str>)> = self
                .programs
                .values()
                .filter(|p| p.state == State::Waiting)
                .map(|p| (p.order, p.name().clone()))
                .collect();
            waiting.sort();
            for (_, name) in waiting {
                let Some(p) = self.programs.get(&name) else { continue };
                let (Some((trigger, kind)), State::Waiting) = (p.waiting, p.state) else { continue };
                if self.blocker(&name).is_none() {
                    let _ = self.spawn(&name, trigger, kind);
                }
            }
            if !self.unblock_again {
                break;
            }
        }
        self.unblocking = false;
    }

    /// Counts an automatic restart; past the intensity, records the
    /// failure and shuts everything down.
    pub(super) fn over_intensity(&mut self) -> bool {
        let Some((max, period)) = self.intensity else { return false };
        let now = Instant::now();
        while self.restarts.front().is_some_and(|t| now.duration_since(*t) >= period) {
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        let restarts = self.restarts.len() as u32;
        if restarts <= max {
            return false;
        }
        self.failure = Some(Error::Intensity { restarts, period });
        self.begin_shutdown();
        true
    }

    /// `OneForAll` / `RestForOne`: `failed` will restart; the others it
    /// takes along are stopped one by one, the last added first, then all
    /// start again in order.
    pub(super) fn group_restart(&mut self, failed: &str) {
        let Some(f) = self.programs.get(failed) else { return };
        let failed_order = f.order;
        let failed = f.name().clone();
        if let Some(group) = &mut self.group {
            if !group.to_start.contains(&failed) {
                group.to_start.push(failed);
            }
            return;
        }
        let mut taken: Vec<&Program> = self
            .programs
            .values()
            .filter(|p| p.name() != &failed)
            .filter(|p| self.strategy == Strategy::OneForAll || p.order > failed_order)
            .filter(|p| matches!(p.state, State::Starting | State::Running | State::Backoff | State::Waiting))
            .collect();
        taken.sort_by_key(|p| p.order);
        let to_stop = taken
            .iter()
            .filter(|p| matches!(p.state, State::Starting | State::Running))
            .map(|p| p.name().clone())
            .collect();
        let mut to_start: Vec<&Program> = taken;
        to_start.push(&self.programs[&failed]);
        to_start.sort_by_key(|p| p.order);
        let to_start = to_start.iter().map(|p| p.name().clone()).collect();
        self.group = Some(GroupRestart { failed, to_stop, stopping: None, to_start });
        self.group_step();
    }

    /// The next step of a strategy's restart: stop the next program, or
    /// start them all.
    pub(super) fn group_step(&mut self) {
        loop {
            let Some(group) = &mut self.group else { return };
            if group.stopping.is_some() {
                return;
            }
            let Some(name) = group.to_stop.pop() else {
                let group = self.group.take().expect("checked above");
                let mut to_start = group.to_start;
                to_start.sort_by_key(|n| self.programs.get(n).map_or(u64::MAX, |p| p.order));
                for name in to_start {
                    let Some(p) = self.programs.get_mut(&name) else { continue };
                    if p.state.is_live() {
                        continue;
                    }
                    p.cancel_timer();
                    let kind = if name == group.failed { StartKind::Automatic } else { StartKind::Manual };
                    let _ = self.spawn(&name, Trigger::Strategy, kind);
                }
                return;
            };
            let failed = group.failed.clone();
            let Some(p) = self.programs.get_mut(&name) else { continue };
            if !matches!(p.state, State::Starting | State::Running) {
                continue;
            }
            p.after = AfterStop::Stay;
            let policy = p.spec.stop;
            p.stop_with(&self.events, policy, Cause::Strategy { failed });
            group.stopping = Some(name);
            return;
        }
    }

    /// During shutdown: stops each live program that no live program runs
    /// after.
    pub(super) fn continue_shutdown(&mut self) {
        if self.shutdown.is_none() {
            return;
        }
        // One pass for what live programs need, one for who is free.
        let needed: std::collections::BTreeSet<&str> = self
            .programs
            .values()
            .filter(|q| q.state.is_live())
            .flat_map(|q| q.spec.after.iter().map(|a| &**a))
            .collect();
        let free: Vec<Arc<str>> = self
            .programs
            .values()
            .filter(|p| matches!(p.state, State::Starting | State::Running) && !needed.contains(&**p.name()))
            .map(|p| p.name().clone())
            .collect();
        for name in free {
            if let Some(p) = self.programs.get_mut(&name) {
                p.begin_stop(&self.events, AfterStop::Stay);
            }
        }
    }
}
