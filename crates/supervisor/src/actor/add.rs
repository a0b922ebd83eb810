//! `add` and `add_all`: every check first, then the programs, in an order
//! where each comes after the programs it runs after.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Actor, Program};
use crate::error::SpecError;
use crate::event::{Cause, Status, Trigger};
use crate::notify::NotifySocket;
use crate::policy::StartKind;
use crate::program::ProgramSpec;
use crate::readiness::Readiness;
use crate::state::State;
use crate::supervisor::Error;

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
            spec.log.validate()?;
            check_cgroup(spec)?;
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
        let order = topological(&specs, &batch)?;
        if self.notify.is_none() && specs.iter().any(|s| matches!(s.ready, Readiness::Notify { .. })) {
            let socket = NotifySocket::bind().map_err(|e| Error::NotifySocket(Arc::new(e)))?;
            self.notify = Some(socket);
        }
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

/// The batch's indices with each program after those of the batch it runs
/// after (depth first), or the first cycle found.
fn topological(specs: &[ProgramSpec], batch: &BTreeMap<Arc<str>, usize>) -> Result<Vec<usize>, Error> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        i: usize,
        specs: &[ProgramSpec],
        batch: &BTreeMap<Arc<str>, usize>,
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), Error> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Open => {
                let from = path.iter().position(|&j| j == i).expect("an open node is on the path");
                let mut cycle: Vec<String> =
                    path[from..].iter().map(|&j| specs[j].name.to_string()).collect();
                cycle.push(specs[i].name.to_string());
                return Err(Error::Cycle(cycle));
            }
            Mark::New => {}
        }
        marks[i] = Mark::Open;
        path.push(i);
        let deps: BTreeSet<usize> = specs[i].after.iter().filter_map(|d| batch.get(d).copied()).collect();
        for j in deps {
            visit(j, specs, batch, marks, path, out)?;
        }
        path.pop();
        marks[i] = Mark::Done;
        out.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; specs.len()];
    let (mut path, mut out) = (Vec::new(), Vec::with_capacity(specs.len()));
    for i in 0..specs.len() {
        visit(i, specs, batch, &mut marks, &mut path, &mut out)?;
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
