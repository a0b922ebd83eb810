//! The childFDs plan: a pure function from `{child fd -> parent fd}` to the
//! ordered `dup2`/`close` steps that build exactly that table in the child.
//!
//! It touches no OS state, so it is tested on its own against a model of a
//! descriptor table (see the tests at the bottom and `tests/child_fds.rs`).

use std::os::fd::RawFd;

/// One step of the child's fd setup, run in order before `execve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdStep {
    /// `dup2(from, to)`; the copy at `to` is not close-on-exec.
    Dup2 {
        /// Source descriptor.
        from: RawFd,
        /// Destination number.
        to: RawFd,
    },
    /// `close(fd)`; closing a descriptor that is not open is not an error.
    Close(RawFd),
    /// `close_range(fd, ~0, 0)`: close every descriptor from `fd` up.
    CloseFrom(RawFd),
}

/// Plans the steps that give the child exactly `map` (pairs of
/// `(child fd, parent fd)`, child fds distinct and non-negative) and nothing
/// else.
///
/// Handles what a naive loop of `dup2` gets wrong:
/// - a source sitting on another mapping's target (`{0: 1, 1: 0}`, longer
///   cycles): resolved like a parallel move, breaking each cycle through a
///   temporary above every fd involved;
/// - identity maps (`{0: 0}`): `dup2(fd, fd)` would leave close-on-exec set,
///   so the descriptor goes out to a temporary and back;
/// - sparse maps (`{1, 7}`): every hole below the highest target is closed,
///   and everything above it (temporaries included) goes with one
///   `close_range`.
///
/// `inherited` lists parent fds known to be open without close-on-exec: an
/// identity entry on one of those needs no step at all (the common
/// `{0: 0, 1: 1, 2: 2}` costs nothing).
pub(crate) fn plan(map: &[(RawFd, RawFd)], inherited: &[RawFd]) -> Vec<FdStep> {
    let Some(max_target) = map.iter().map(|&(t, _)| t).max() else {
        return vec![FdStep::CloseFrom(0)];
    };
    let max_source = map.iter().map(|&(_, s)| s).max().unwrap_or(0);
    let mut next_temp = max_target.max(max_source) + 1;
    let mut steps = Vec::with_capacity(map.len() + 4);

    // (target, source) moves still to do.
    let mut pending: Vec<(RawFd, RawFd)> =
        map.iter().copied().filter(|&(t, s)| !(t == s && inherited.contains(&t))).collect();
    for mv in pending.iter_mut().filter(|(t, s)| t == s) {
        steps.push(FdStep::Dup2 { from: mv.1, to: next_temp });
        mv.1 = next_temp;
        next_temp += 1;
    }
    while !pending.is_empty() {
        // A move is safe when its target is no longer needed as a source.
        let safe = (0..pending.len()).find(|&i| {
            let target = pending[i].0;
            !pending.iter().any(|&(_, s)| s == target)
        });
        match safe {
            Some(i) => {
                let (to, from) = pending.swap_remove(i);
                steps.push(FdStep::Dup2 { from, to });
            }
            None => {
                // Only cycles remain: park one target's current contents in
                // a temporary and point its readers there.
                let blocked = pending[0].0;
                steps.push(FdStep::Dup2 { from: blocked, to: next_temp });
                for mv in pending.iter_mut().filter(|mv| mv.1 == blocked) {
                    mv.1 = next_temp;
                }
                next_temp += 1;
            }
        }
    }

    let mut targets: Vec<RawFd> = map.iter().map(|&(t, _)| t).collect();
    targets.sort_unstable();
    let mut expected = 0;
    for &t in &targets {
        steps.extend((expected..t).map(FdStep::Close));
        expected = t + 1;
    }
    steps.push(FdStep::CloseFrom(max_target + 1));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A descriptor table: fd -> (open file id, close-on-exec).
    type Table = BTreeMap<RawFd, (u32, bool)>;

    /// Runs `steps` on `table` the way the kernel would, then `execve`.
    fn simulate(mut table: Table, steps: &[FdStep]) -> Table {
        for step in steps {
            match *step {
                FdStep::Dup2 { from, to } => {
                    let (file, _) = *table.get(&from).expect("dup2 from a closed fd");
                    if from != to {
                        table.insert(to, (file, false));
                    }
                }
                FdStep::Close(fd) => {
                    table.remove(&fd);
                }
                FdStep::CloseFrom(fd) => table.retain(|&k, _| k < fd),
            }
        }
        table.retain(|_, &mut (_, cloexec)| !cloexec);
        table
    }

    /// Parent table where every fd in `open` is a distinct file, CLOEXEC
    /// as given, plus the child's expected table for `map`.
    fn check(open: &[(RawFd, bool)], map: &[(RawFd, RawFd)]) {
        let parent: Table = open.iter().map(|&(fd, ce)| (fd, (fd as u32 + 1000, ce))).collect();
        let inherited: Vec<RawFd> = open.iter().filter(|&&(_, ce)| !ce).map(|&(fd, _)| fd).collect();
        let child = simulate(parent.clone(), &plan(map, &inherited));
        let want: Table = map.iter().map(|&(t, s)| (t, (parent[&s].0, false))).collect();
        assert_eq!(child, want, "map {map:?} from parent {open:?}");
    }

    #[test]
    fn default_map() {
        check(
            &[(0, false), (1, false), (2, false), (5, true), (6, true), (7, true)],
            &[(0, 5), (1, 6), (2, 7)],
        );
    }

    #[test]
    fn swap_and_cycle() {
        check(&[(0, false), (1, false), (2, false)], &[(0, 1), (1, 0)]);
        check(&[(0, false), (1, false), (2, false)], &[(0, 1), (1, 2), (2, 0)]);
    }

    #[test]
    fn identity_on_cloexec_fd_survives() {
        check(&[(0, true), (3, true)], &[(0, 0), (3, 3)]);
        let steps = plan(&[(0, 0)], &[]);
        assert!(!steps.contains(&FdStep::Dup2 { from: 0, to: 0 }));
    }

    #[test]
    fn empty_map_closes_everything() {
        assert_eq!(plan(&[], &[]), vec![FdStep::CloseFrom(0)]);
        check(&[(0, false), (1, false), (9, false)], &[]);
    }

    #[test]
    fn sparse_map_closes_holes() {
        check(&[(0, false), (1, false), (2, false), (3, false), (10, true), (11, true)], &[(1, 10), (7, 11)]);
        let steps = plan(&[(1, 10), (7, 11)], &[]);
        for hole in [0, 2, 3, 4, 5, 6] {
            assert!(steps.contains(&FdStep::Close(hole)), "hole {hole} not closed");
        }
    }

    #[test]
    fn inherited_identity_needs_no_dup() {
        let steps = plan(&[(0, 0), (1, 1), (2, 2)], &[0, 1, 2]);
        assert_eq!(steps, vec![FdStep::CloseFrom(3)]);
        check(&[(0, false), (1, false), (2, false), (5, false)], &[(0, 0), (1, 1), (2, 2)]);
    }

    #[test]
    fn shared_source() {
        check(&[(0, false), (4, true)], &[(1, 4), (2, 4), (0, 0)]);
    }

    /// Open parent fds with their close-on-exec flag, and a childFDs map.
    type Scenario = (Vec<(RawFd, bool)>, Vec<(RawFd, RawFd)>);

    fn scenario() -> impl Strategy<Value = Scenario> {
        // Up to 12 open parent fds among 0..24, then a map whose targets are
        // distinct numbers in 0..24 and whose sources are open fds.
        proptest::collection::btree_map(0..24i32, any::<bool>(), 1..12).prop_flat_map(|open| {
            let open: Vec<(RawFd, bool)> = open.into_iter().collect();
            let fds: Vec<RawFd> = open.iter().map(|&(fd, _)| fd).collect();
            let map = proptest::collection::btree_map(0..24i32, proptest::sample::select(fds), 0..10)
                .prop_map(|m| m.into_iter().collect::<Vec<_>>())
                .prop_shuffle();
            (Just(open), map)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn plan_matches_model((open, map) in scenario()) {
            check(&open, &map);
        }
    }
}
