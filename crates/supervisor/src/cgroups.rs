//! The names of the cgroups the supervisor makes for its incarnations,
//! and the sweep of the ones a killed supervisor left behind.
//!
//! An incarnation in [`StopScope::Tree`](crate::StopScope::Tree) under the
//! cgroup root runs in `procwire-NAME.NS.PID.N`: the program's name, the
//! supervisor's pid namespace (its inode) and pid, a counter. A
//! supervisor removes its cgroups when their incarnations are over, but
//! one killed by SIGKILL removes nothing:
//! its programs die of their parent-death signal, what escaped it (a
//! `setsid`'d daemon) keeps running in the cgroup, and the directories
//! stay. The next supervisor started over the same root kills what still
//! runs there and removes them, as systemd clears a unit's cgroup before
//! starting it again. Only the cgroups of its own pid namespace: a pid
//! of another one cannot be looked up from here (a supervisor in a
//! container sharing the cgroup tree would otherwise take the host's).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use procwire_core::Cgroup;

/// What every name starts with, so that a sweep takes only procwire's.
const PREFIX: &str = "procwire-";

/// Set before this process names its first cgroup.
static NAMED: AtomicBool = AtomicBool::new(false);

/// The inode of this process's pid namespace (`/proc/self/ns/pid`); 0
/// where it cannot be read, and then no cgroup is ever taken for left
/// behind.
fn pid_namespace() -> u64 {
    use std::os::unix::fs::MetadataExt;
    static NS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NS.get_or_init(|| std::fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino()))
}

/// A cgroup name for an incarnation of `program`: [`PREFIX`], its name
/// (bytes a cgroup name cannot hold replaced), this process's pid
/// namespace and pid, and a counter: unique among the supervisors of this
/// process and the ones before it.
pub(crate) fn cgroup_name(program: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NAMED.store(true, Ordering::SeqCst);
    let name: String = program
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "_-".contains(c) { c } else { '_' })
        .collect();
    let (ns, pid, n) = (pid_namespace(), std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    format!("{PREFIX}{name}.{ns}.{pid}.{n}")
}

/// The pid namespace and pid in a name [`cgroup_name`] made; `None` for
/// any other name.
fn maker(name: &str) -> Option<(u64, i32)> {
    let rest = name.strip_prefix(PREFIX)?;
    let mut parts = rest.rsplitn(4, '.');
    let counter = parts.next()?;
    let pid = parts.next()?;
    let ns = parts.next()?;
    let program = parts.next()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if program.is_empty() || !digits(counter) || !digits(pid) || !digits(ns) {
        return None;
    }
    Some((ns.parse().ok()?, pid.parse().ok().filter(|&pid: &i32| pid > 0)?))
}

/// Whether the cgroups named for `pid` (of this pid namespace) belong to
/// no running supervisor: its process is gone, or it is this process and
/// `first` (no supervisor of this process has made a cgroup yet: those
/// are a former process's that had this pid). A pid that is alive, or
/// that cannot be told, keeps its cgroups.
fn abandoned(pid: i32, first: bool) -> bool {
    if u32::try_from(pid).ok() == Some(std::process::id()) {
        return first;
    }
    kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH)
}

/// The cgroups under `root` that a supervisor no longer running left
/// behind. Cgroups named for this process's own pid count only while no
/// supervisor of this process has named one: the flag is read after the
/// directory, so a cgroup another supervisor of this process made while
/// this one looked is never taken.
pub(crate) fn abandoned_under(root: &Path) -> Vec<Cgroup> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let ours = pid_namespace();
    if ours == 0 {
        return Vec::new();
    }
    let candidates: Vec<(std::path::PathBuf, i32)> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| match entry.file_name().to_str().and_then(maker)? {
            (ns, pid) if ns == ours => Some((entry.path(), pid)),
            _ => None,
        })
        .collect();
    let first = !NAMED.load(Ordering::SeqCst);
    candidates
        .into_iter()
        .filter(|&(_, pid)| abandoned(pid, first))
        .filter_map(|(path, _)| Cgroup::open(path).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_to_their_pid() {
        let name = cgroup_name("web server/v2");
        assert!(name.starts_with("procwire-web_server_v2."), "{name}");
        let pid = i32::try_from(std::process::id()).unwrap();
        assert_eq!(maker(&name), Some((pid_namespace(), pid)));
        assert_ne!(pid_namespace(), 0, "/proc/self/ns/pid");
        assert_eq!(
            maker("procwire-a.b.4026531836.812.3"),
            Some((4026531836, 812)),
            "dots in the program's name"
        );
    }

    #[test]
    fn other_names_are_not_taken() {
        for name in [
            "web.1.812.3",
            "procwire-.1.812.3",
            "procwire-web.812.3",
            "procwire-web.1.x812.3",
            "procwire-web.1.812.3x",
            "procwire-web.x.812.3",
            "procwire-web.1.0.3",
            "procwire-web.1.-5.3",
            "procwire-web.1.99999999999.3",
            "system.slice",
        ] {
            assert_eq!(maker(name), None, "{name}");
        }
    }

    #[test]
    fn a_live_pid_keeps_its_cgroups_and_a_gone_one_does_not() {
        let own = i32::try_from(std::process::id()).unwrap();
        assert!(abandoned(own, true), "a former process's, with this pid");
        assert!(!abandoned(own, false), "another supervisor of this process");
        assert!(!abandoned(1, true), "init is alive");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        child.wait().unwrap();
        assert!(abandoned(pid, false), "a reaped child");
    }
}
