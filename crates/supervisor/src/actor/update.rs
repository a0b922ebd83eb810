//! `update` and `apply`: a program's spec replaced while it runs, and the
//! whole set of programs checked against a new list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::oneshot;

use super::add::{check_spec, topological};
use super::Actor;
use crate::command::{ApplyPlan, Restarting, Updating};
use crate::error::Error;
use crate::event::Trigger;
use crate::incarnation;
use crate::notify::NotifySocket;
use crate::program::ProgramSpec;
use crate::state::State;

impl Actor {
    /// `update(spec)`: the spec is checked against every other program
    /// (its dependencies exist, no cycle), then replaces the program's.
    pub(super) fn update(&mut self, spec: ProgramSpec) -> Result<Updating, Error> {
        if self.shutdown.is_some() {
            return Err(Error::ShutDown);
        }
        if !self.programs.contains_key(&spec.name) {
            return Err(Error::UnknownProgram(spec.name.to_string()));
        }
        check_spec(&spec)?;
        for dependency in &spec.after {
            if !self.programs.contains_key(dependency) {
                return Err(Error::UnknownDependency {
                    program: spec.name.to_string(),
                    dependency: dependency.to_string(),
                });
            }
        }
        let all: Vec<&ProgramSpec> =
            self.programs.values().map(|p| if p.spec.name == spec.name { &spec } else { &p.spec }).collect();
        check_graph(&all)?;
        self.bind_notify(std::slice::from_ref(&spec))?;
        let name = spec.name.clone();
        let updating = match self.replace(spec) {
            Some(restarting) => Updating::Restarting(restarting),
            None => Updating::Kept(self.programs[&name].snapshot()),
        };
        self.unblock();
        Ok(updating)
    }

    /// `apply(specs)`: the whole list is checked as `add_all` checks a
    /// batch (names, settings, dependencies within the list, cycles)
    /// before anything changes; then the programs in both lists get their
    /// new specs (restarting those whose command changed), and the plan
    /// says what the handle removes and adds.
    pub(super) fn apply(&mut self, specs: Vec<ProgramSpec>) -> Result<ApplyPlan, Error> {
        if self.shutdown.is_some() {
            return Err(Error::ShutDown);
        }
        let mut index = BTreeMap::new();
        for (i, spec) in specs.iter().enumerate() {
            if index.insert(spec.name.clone(), i).is_some() {
                return Err(Error::Duplicate(spec.name.to_string()));
            }
            check_spec(spec)?;
        }
        for spec in &specs {
            for dependency in &spec.after {
                if !index.contains_key(dependency) {
                    return Err(Error::UnknownDependency {
                        program: spec.name.to_string(),
                        dependency: dependency.to_string(),
                    });
                }
            }
        }
        topological(&specs.iter().collect::<Vec<_>>(), &index)?;
        self.bind_notify(&specs)?;

        let gone: BTreeSet<Arc<str>> =
            self.programs.keys().filter(|name| !index.contains_key(*name)).cloned().collect();
        let remove = self.removal_levels(gone);
        let mut plan = ApplyPlan { remove, add: Vec::new(), restarting: Vec::new(), kept: Vec::new() };
        for spec in specs {
            let name = spec.name.clone();
            if !self.programs.contains_key(&name) {
                plan.add.push(spec);
            } else if let Some(restarting) = self.replace(spec) {
                plan.restarting.push((name, restarting));
            } else {
                plan.kept.push(name);
            }
        }
        plan.kept.sort();
        self.unblock();
        Ok(plan)
    }

    /// Gives a known program `spec`. When what it runs changed (its
    /// command as the supervisor would spawn it, its cgroup, or its output
    /// files) and an incarnation is starting or running, that one is
    /// stopped with the old stop policy and the new spec spawned after, as
    /// `restart` does: the answer comes once spawned. Otherwise the new
    /// policies apply from now on, and a running incarnation's liveness
    /// check starts again with the new spec's.
    fn replace(&mut self, spec: ProgramSpec) -> Option<Restarting> {
        let notify = self.notify.as_ref().map(NotifySocket::env_value);
        let p = self.programs.get_mut(&spec.name)?;
        let name = spec.name.clone();
        let runs_changed = p.spec.cgroup != spec.cgroup
            || p.spec.output != spec.output
            || incarnation::command(&p.spec, notify) != incarnation::command(&spec, notify);
        if runs_changed && matches!(p.state, State::Starting | State::Running) {
            // The stop begins with the old spec's policy; the spawn after
            // it reads the new one.
            let (tx, rx) = oneshot::channel();
            self.start_cmd(&name, Trigger::Restart, tx);
            if let Some(p) = self.programs.get_mut(&name) {
                p.spec = spec;
            }
            return Some(rx);
        }
        p.spec = spec;
        if p.state == State::Running {
            p.end_liveness();
            if let Some(check) = p.spec.liveness.clone() {
                let run = check.run(name, p.incarnation, self.reports_tx.clone());
                p.liveness = Some(self.tasks.spawn(run));
            }
        }
        None
    }

    /// `gone` in levels, dependents first: a program comes after every
    /// program of `gone` that runs after it.
    fn removal_levels(&self, mut gone: BTreeSet<Arc<str>>) -> Vec<Vec<Arc<str>>> {
        let mut levels = Vec::new();
        while !gone.is_empty() {
            let level: Vec<Arc<str>> = gone
                .iter()
                .filter(|name| {
                    !gone.iter().any(|other| {
                        self.programs.get(other).is_some_and(|p| p.spec.after.iter().any(|a| a == *name))
                    })
                })
                .cloned()
                .collect();
            // The programs added form no cycle: each level takes one at
            // least. (Were it empty, the rest goes in one level.)
            let level = if level.is_empty() { gone.iter().cloned().collect() } else { level };
            for name in &level {
                gone.remove(name);
            }
            levels.push(level);
        }
        levels
    }
}

/// Refuses a cycle among `specs`, each with the dependencies it names
/// among them.
fn check_graph(specs: &[&ProgramSpec]) -> Result<(), Error> {
    let index: BTreeMap<Arc<str>, usize> =
        specs.iter().enumerate().map(|(i, s)| (s.name.clone(), i)).collect();
    topological(specs, &index).map(|_| ())
}
