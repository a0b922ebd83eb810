//! `add` and `add_all`: every check first, then the programs, in an order
//! where each comes after the programs it runs after.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Actor, Program};
use crate::error::Error;
use crate::error::SpecError;
use crate::event::{Cause, Status, Trigger};
use crate::notify::NotifySocket;
use crate::policy::StartKind;
use crate::program::ProgramSpec;
use crate::readiness::Readiness;
use crate::state::State;

impl Actor {
    pub(super) fn add_all(&mut self, specs: Vec<ProgramSpec>) -> Result<Vec<Status>, Error> {
        if self.shutdown.is_some() {
            return Err(Error::ShutDown);
        }
        let mut batch = BTreeMap::new();
        for (i, spec) in specs.iter().enumerate() {
            if self.programs.contains_key(&spec.name) || batch.insert(spec.name.clone(), i).is_some() {
                return Err(Error::Duplicate(spec.name.to_string()));
            }
            check_spec(spec)?;
        }
        for spec in &specs {
            for dependency in &spec.after {
                if !self.programs.contains_key(dependency) && !batch.contains_key(dependency) {
                    return Err(Error::UnknownDependency {
                        program: spec.name.to_string(),
                        dependency: dependency.to_string(),
                    });
                }
            }
        }
        // Programs already added cannot run after new ones: a cycle is
        // within the batch.
        let order = topological(&specs.iter().collect::<Vec<_>>(), &batch)?;
        self.bind_notify(&specs)?;
        let names: Vec<Arc<str>> = specs.iter().map(|s| s.name.clone()).collect();
        let mut specs: Vec<Option<ProgramSpec>> = specs.into_iter().map(Some).collect();
        let mut autostart = Vec::new();
        for i in order {
            let spec = specs[i].take().expect("each index once");
            let name = spec.name.clone();
            if spec.autostart {
                autostart.push(name.clone());
            }
            let mut program = Program::new(spec, self.next_order);
            self.next_order += 1;
            program.set(&self.events, State::Stopped, Cause::Added);
            self.programs.insert(name, program);
        }
        for name in autostart {
            // A spawn error is an event and a backoff; the add succeeded.
            let _ = self.spawn(&name, Trigger::Autostart, StartKind::Manual);
        }
        Ok(names.iter().filter_map(|n| self.programs.get(n)).map(Program::snapshot).collect())
    }
}

impl Actor {
    /// Binds the sd_notify socket if one of `specs` needs it and it is not
    /// bound yet.
    pub(super) fn bind_notify(&mut self, specs: &[ProgramSpec]) -> Result<(), Error> {
        if self.notify.is_none() && specs.iter().any(|s| matches!(s.ready, Readiness::Notify { .. })) {
            let socket = NotifySocket::bind().map_err(|e| Error::NotifySocket(Arc::new(e)))?;
            self.notify = Some(socket);
        }
        Ok(())
    }
}

/// What `add` refuses in one spec by itself: its log settings, an output
/// file on an fd below 1 or on the notification fd, its readiness
/// settings, its cgroup.
pub(super) fn check_spec(spec: &ProgramSpec) -> Result<(), Error> {
    crate::platform::check(spec, crate::platform::Os::CURRENT)?;
    spec.log.validate()?;
    if let Some(&fd) = spec.output.keys().next().filter(|&&fd| fd < 1) {
        return Err(SpecError::out_of_range("ProgramSpec::output_file fd", fd, "1 and above").into());
    }
    // The readiness pipe and a file cannot both be that fd.
    if let Readiness::NotificationFd(fd) = spec.ready {
        if spec.output.contains_key(&fd) {
            let allowed = "any fd but the notification fd";
            return Err(SpecError::out_of_range("ProgramSpec::output_file fd", fd, allowed).into());
        }
    }
    check_ready(spec)?;
    check_cgroup(spec)
}

/// The batch's indices with each program after those of the batch it runs
/// after (depth first, without recursion: a chain of any length fits), or
/// the first cycle found.
pub(super) fn topological(
    specs: &[&ProgramSpec],
    batch: &BTreeMap<Arc<str>, usize>,
) -> Result<Vec<usize>, Error> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let deps = |i: usize| -> Vec<usize> {
        let set: BTreeSet<usize> = specs[i].after.iter().filter_map(|d| batch.get(d).copied()).collect();
        set.into_iter().collect()
    };
    let mut marks = vec![Mark::New; specs.len()];
    let mut out = Vec::with_capacity(specs.len());
    for root in 0..specs.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // The path from `root`: each node with its dependencies and how
        // many of them were visited.
        let mut path: Vec<(usize, Vec<usize>, usize)> = vec![(root, deps(root), 0)];
        marks[root] = Mark::Open;
        while let Some((node, next, at)) = path.last_mut() {
            let Some(&dep) = next.get(*at) else {
                marks[*node] = Mark::Done;
                out.push(*node);
                path.pop();
                continue;
            };
            *at += 1;
            match marks[dep] {
                Mark::Done => {}
                Mark::Open => {
                    let from =
                        path.iter().position(|(j, ..)| *j == dep).expect("an open node is on the path");
                    let mut cycle: Vec<String> =
                        path[from..].iter().map(|(j, ..)| specs[*j].name.to_string()).collect();
                    cycle.push(specs[dep].name.to_string());
                    return Err(Error::Cycle(cycle));
                }
                Mark::New => {
                    marks[dep] = Mark::Open;
                    path.push((dep, deps(dep), 0));
                }
            }
        }
    }
    Ok(out)
}

/// A cgroup directory must be a writable cgroup v2 directory, and the
/// cgroup stop scope needs one.
fn check_cgroup(spec: &ProgramSpec) -> Result<(), Error> {
    let error = |source| Error::Cgroup { program: spec.name.to_string(), source: Arc::new(source) };
    match &spec.cgroup {
        Some(dir) => procwire_core::Cgroup::check_writable(dir).map_err(error),
        None if spec.stop.scope == procwire_core::StopScope::Cgroup => Err(SpecError::NoCgroup.into()),
        None => Ok(()),
    }
}

/// Readiness settings that cannot work.
fn check_ready(spec: &ProgramSpec) -> Result<(), SpecError> {
    match spec.ready {
        Readiness::NotificationFd(fd) if fd < 3 => Err(SpecError::NotificationFd(fd)),
        Readiness::Probe { interval, .. } if interval.is_zero() => Err(SpecError::ZeroProbeInterval),
        _ => spec.liveness.as_ref().map_or(Ok(()), |l| l.check().map_err(SpecError::Liveness)),
    }
}
