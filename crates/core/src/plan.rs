//! The childFDs plan: a pure function from `{child fd -> parent fd}` to the
//! ordered `dup2`/`close` steps that build exactly that table in the child.
//!
//! It touches no OS state, so it is tested on its own against a model of a
//! descriptor table (see the tests at the bottom and `tests/child_fds.rs`).
//! Its size and its running time grow with the map (`O(N log N)`), never
//! with the fd numbers in it.

use std::collections::HashMap;
use std::os::fd::RawFd;

/// One step of the child's fd setup, run in order before `execve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdStep {
    /// `dup2(from, to)`; the copy at `to` is not close-on-exec. With
    /// `from == to` it only clears close-on-exec (what `posix_spawn`'s
    /// `adddup2` does for equal fds since glibc 2.29).
    Dup2 {
        /// Source descriptor.
        from: RawFd,
        /// Destination number.
        to: RawFd,
    },
    /// `close_range(from, to, 0)`: close every descriptor in `from..=to`;
    /// numbers that are not open are not an error.
    CloseRange {
        /// First number to close.
        from: RawFd,
        /// Last number to close (inclusive).
        to: RawFd,
    },
    /// `close_range(fd, ~0, 0)`: close every descriptor from `fd` up.
    CloseFrom(RawFd),
}

/// How the engine closes a [`FdStep::CloseRange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ranges {
    /// One `close_range` syscall, whatever its length.
    Cheap,
    /// One `close` per number (`posix_spawn`'s `addclose`, a kernel without
    /// `close_range`): the plan keeps the ranges' total length within
    /// [`EXPANDED_RANGES_MAX`] plus twice the map's size.
    Expanded,
}

/// With [`Ranges::Expanded`], holes adding up to more than this (plus twice
/// the map's size) are not closed one by one: the plan stages the sources
/// at the bottom of the table and closes everything above them at once.
pub(crate) const EXPANDED_RANGES_MAX: usize = 64;

/// Why no plan can build the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanError {
    /// A child fd at or above the limit on descriptor numbers.
    ChildFdTooLarge(RawFd),
    /// The map needs a temporary descriptor (to break a cycle such as
    /// `{0: 1, 1: 0}`) and every number below the limit is a child fd.
    NoFreeFd,
}

/// Plans the steps that give the child exactly `map` (pairs of
/// `(child fd, parent fd)`, child fds distinct and non-negative) and nothing
/// else, using only descriptor numbers below `limit` (the soft
/// `RLIMIT_NOFILE`: `dup2` to a number at or above it fails).
///
/// Handles what a naive loop of `dup2` gets wrong:
/// - a source sitting on another mapping's target (`{0: 1, 1: 0}`, longer
///   cycles, chains): resolved as a parallel move (see [`parallel_move`]),
///   breaking each cycle through one temporary, the lowest number that is
///   not a child fd;
/// - identity maps (`{0: 0}`): `dup2(fd, fd)` in the engines clears
///   close-on-exec, and nothing moves;
/// - sparse maps (`{1, 7}`): the holes below the highest child fd are
///   closed as ranges, and everything above it with one `close_range`.
///   With [`Ranges::Expanded`] and large holes (`{0, 1_000_000}`), the
///   sources are first moved to `0..k` and everything from `k` up closed,
///   so the engine never closes the holes one number at a time.
///
/// `inherited` lists parent fds known to be open without close-on-exec: an
/// identity entry on one of those needs no step at all (the common
/// `{0: 0, 1: 1, 2: 2}` costs nothing).
///
/// # Errors
///
/// [`PlanError`]: a child fd at or above `limit`, or a cycle when every
/// number below `limit` is a child fd.
pub(crate) fn plan(
    map: &[(RawFd, RawFd)],
    inherited: &[RawFd],
    limit: RawFd,
    ranges: Ranges,
) -> Result<Vec<FdStep>, PlanError> {
    let mut targets: Vec<RawFd> = map.iter().map(|&(t, _)| t).collect();
    targets.sort_unstable();
    let Some(&max_target) = targets.last() else {
        return Ok(vec![FdStep::CloseFrom(0)]);
    };
    if max_target >= limit {
        return Err(PlanError::ChildFdTooLarge(max_target));
    }
    let holes = holes(&targets);
    let hole_total: usize = holes.iter().map(|&(from, to)| (to - from) as usize + 1).sum();
    if ranges == Ranges::Expanded && hole_total > EXPANDED_RANGES_MAX + 2 * map.len() {
        return Ok(staged(map, &targets));
    }

    let mut inherited = inherited.to_vec();
    inherited.sort_unstable();
    let mut steps = Vec::with_capacity(map.len() + holes.len() + 2);
    let mut moves = Vec::with_capacity(map.len());
    for &(t, s) in map {
        if t != s {
            moves.push((t, s));
        } else if inherited.binary_search(&t).is_err() {
            steps.push(FdStep::Dup2 { from: s, to: t });
        }
    }
    let temp = first_gap(&targets);
    parallel_move(&moves, temp, &mut steps);
    // Every number below the limit is a child fd (so there is no hole):
    // fine unless a cycle had to park a value.
    if temp >= limit && steps.iter().any(|step| matches!(*step, FdStep::Dup2 { to, .. } if to == temp)) {
        return Err(PlanError::NoFreeFd);
    }
    steps.extend(holes.iter().map(|&(from, to)| FdStep::CloseRange { from, to }));
    steps.push(FdStep::CloseFrom(max_target + 1));
    Ok(steps)
}

/// The lowest number that is not a child fd: where a cycle parks a value, and
/// where `posix_spawn` opens a controlling terminal. `None` when every
/// number below `limit` is a child fd.
pub(crate) fn spare_fd(map: &[(RawFd, RawFd)], limit: RawFd) -> Option<RawFd> {
    let mut targets: Vec<RawFd> = map.iter().map(|&(t, _)| t).collect();
    targets.sort_unstable();
    Some(first_gap(&targets)).filter(|&fd| fd < limit)
}

/// The lowest number missing from `sorted` (distinct, non-negative).
fn first_gap(sorted: &[RawFd]) -> RawFd {
    // Distinct and sorted, so sorted[i] >= i: the gap is where it stops
    // being equal.
    sorted.iter().enumerate().take_while(|&(i, &t)| t == i as RawFd).count() as RawFd
}

/// The inclusive ranges of numbers below the highest of `sorted` (distinct,
/// non-negative) that are not in it.
fn holes(sorted: &[RawFd]) -> Vec<(RawFd, RawFd)> {
    let mut holes = Vec::new();
    let mut expected = 0;
    for &t in sorted {
        if t > expected {
            holes.push((expected, t - 1));
        }
        expected = t + 1;
    }
    holes
}

/// Appends the `dup2` steps that perform `moves` (`(target, source)`
/// pairs, distinct targets, no `target == source`) as if all at once: the
/// standard parallel move of register allocators, in `O(N)` expected time.
///
/// A move is ready once no pending move still reads its target; a ready
/// move runs, and each source whose last reader has run may free the move
/// that overwrites it. When nothing is ready, only whole cycles are left
/// (every pending source is then a pending target): the value of one target
/// is parked in `temp`, its readers read it there, and the cycle unwinds.
/// One cycle at a time, so one temporary serves them all. `temp` must not
/// be a target; it need not be free of sources, since every source still
/// to be read is a target whenever a cycle is broken.
fn parallel_move(moves: &[(RawFd, RawFd)], temp: RawFd, steps: &mut Vec<FdStep>) {
    let mut readers: HashMap<RawFd, u32> = HashMap::with_capacity(moves.len());
    for &(_, s) in moves {
        *readers.entry(s).or_insert(0) += 1;
    }
    let writer: HashMap<RawFd, usize> = moves.iter().enumerate().map(|(i, &(t, _))| (t, i)).collect();
    // Each move is run once, so `queued` marks it when it enters `ready`.
    let mut queued = vec![false; moves.len()];
    let mut ready: Vec<usize> = Vec::new();
    for (i, &(t, _)) in moves.iter().enumerate() {
        if !readers.contains_key(&t) {
            queued[i] = true;
            ready.push(i);
        }
    }
    // The value parked in `temp`, by its original number.
    let mut parked: Option<RawFd> = None;
    let mut next_blocked = 0;
    loop {
        while let Some(i) = ready.pop() {
            let (to, source) = moves[i];
            let from = if parked == Some(source) { temp } else { source };
            steps.push(FdStep::Dup2 { from, to });
            let left = readers.get_mut(&source).expect("a source has a reader count");
            *left -= 1;
            if *left == 0 {
                if parked == Some(source) {
                    parked = None;
                }
                if let Some(&j) = writer.get(&source) {
                    if !queued[j] {
                        queued[j] = true;
                        ready.push(j);
                    }
                }
            }
        }
        // Only cycles are left: park one target's value and unwind.
        while next_blocked < moves.len() && queued[next_blocked] {
            next_blocked += 1;
        }
        let Some(&(blocked, _)) = moves.get(next_blocked) else { break };
        debug_assert!(parked.is_none(), "a cycle is broken while another is parked");
        steps.push(FdStep::Dup2 { from: blocked, to: temp });
        parked = Some(blocked);
        queued[next_blocked] = true;
        ready.push(next_blocked);
    }
}

/// The plan for [`Ranges::Expanded`] with large holes: move every distinct
/// source to `0..k` (a parallel move; `k` parks a cycle's value), close
/// everything from `k` up, move the staged copies to the targets (the
/// lowest hole parks), then close what is not a target in `0..k` and the
/// lowest hole. Every range it closes lies within `0..=k`, with `k` at most
/// the map's size; only called when some hole exists, so `k` is below every
/// number the caller checked against the limit.
fn staged(map: &[(RawFd, RawFd)], targets: &[RawFd]) -> Vec<FdStep> {
    let mut sources: Vec<RawFd> = map.iter().map(|&(_, s)| s).collect();
    sources.sort_unstable();
    sources.dedup();
    let k = sources.len() as RawFd;
    let slot = |s: RawFd| sources.binary_search(&s).expect("a source has a slot") as RawFd;
    let mut steps = Vec::with_capacity(3 * map.len() + 4);

    let stage: Vec<(RawFd, RawFd)> =
        sources.iter().enumerate().map(|(j, &s)| (j as RawFd, s)).filter(|&(j, s)| j != s).collect();
    parallel_move(&stage, k, &mut steps);
    steps.push(FdStep::CloseFrom(k));

    let mut unstage = Vec::with_capacity(map.len());
    for &(t, s) in map {
        match slot(s) {
            j if j == t => steps.push(FdStep::Dup2 { from: j, to: t }),
            j => unstage.push((t, j)),
        }
    }
    let temp = first_gap(targets);
    parallel_move(&unstage, temp, &mut steps);
    // The staging slots that are not targets, and `temp` if it is above them.
    let mut expected = 0;
    for t in targets.iter().copied().take_while(|&t| t < k).chain([k]) {
        if t > expected {
            steps.push(FdStep::CloseRange { from: expected, to: t - 1 });
        }
        expected = t + 1;
    }
    if temp >= k {
        steps.push(FdStep::CloseRange { from: temp, to: temp });
    }
    steps
}

#[cfg(test)]
mod tests;
