//! This process's children, as `/proc` shows them: the `children` file of
//! each of its threads where the kernel has them (`CONFIG_PROC_CHILDREN`),
//! else the `stat` of every process; in this process's own pid numbers,
//! also when `/proc` was mounted for an ancestor pid namespace (`unshare
//! --pid --fork` without `--mount-proc`), through each child's `NSpid`.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use nix::libc;

/// How many times a look through the threads' `children` files is made
/// again because a thread ended meanwhile, before the `stat` scan, which
/// does not depend on threads, is used instead.
const ATTEMPTS: usize = 8;

#[derive(Debug)]
pub(super) struct Procfs {
    /// This process's pid in `/proc`'s numbering.
    me: u32,
    /// How many pid namespaces below `/proc`'s ours is: 0 when `/proc`
    /// is our own namespace's.
    depth: usize,
    /// Whether the kernel has `/proc/PID/task/TID/children`.
    children_files: bool,
}

impl Procfs {
    /// Finds this process in `/proc`.
    ///
    /// # Errors
    ///
    /// `/proc` is not mounted, does not show this process (mounted for
    /// another pid namespace than ours or an ancestor of it), or is an
    /// ancestor namespace's on a kernel without `NSpid` (before 4.1).
    pub(super) fn new() -> io::Result<Procfs> {
        let link =
            fs::read_link("/proc/self").map_err(|e| io::Error::new(e.kind(), format!("/proc/self: {e}")))?;
        let me: u32 = link.to_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
            io::Error::other(format!("/proc/self points to {}, not to a pid", link.display()))
        })?;
        let depth = if me == std::process::id() {
            0
        } else {
            match nspid(me)? {
                Some(pids) if pids.last() == Some(&std::process::id()) => pids.len() - 1,
                _ => return Err(io::Error::other(
                    "/proc is another pid namespace's, and its NSpid does not give this process's own pid",
                )),
            }
        };
        let children_files = Path::new(&format!("/proc/{me}/task/{me}/children")).exists();
        Ok(Procfs { me, depth, children_files })
    }

    /// This process's children (zombies included), in its own pid
    /// numbers: a snapshot, which the caller makes stable by holding
    /// procwire's gate (no procwire child is created or reaped meanwhile)
    /// and by being the only one to reap the others.
    pub(super) fn children(&self) -> io::Result<Vec<libc::pid_t>> {
        let seen = if self.children_files { self.by_children_files()? } else { self.by_stat_scan()? };
        if self.depth == 0 {
            return Ok(seen.into_iter().map(|pid| pid as libc::pid_t).collect());
        }
        let mut ours = Vec::with_capacity(seen.len());
        for pid in seen {
            // Gone meanwhile (reaped by someone else): left out.
            if let Some(pid) = nspid(pid)?.and_then(|pids| pids.get(self.depth).copied()) {
                ours.push(pid as libc::pid_t);
            }
        }
        Ok(ours)
    }

    /// The children each thread's `children` file lists. A thread that
    /// ends hands its children to another thread, maybe one read already:
    /// if a thread ended during the look, it is made again.
    pub(super) fn by_children_files(&self) -> io::Result<Vec<u32>> {
        for _ in 0..ATTEMPTS {
            let before = self.threads()?;
            let mut pids = Vec::new();
            for tid in &before {
                match read_small(&format!("/proc/{}/task/{tid}/children", self.me)) {
                    Ok(text) => pids.extend(numbers(&text)),
                    // Ended meanwhile: seen below.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            let after = self.threads()?;
            if before.iter().all(|tid| after.binary_search(tid).is_ok()) {
                return Ok(pids);
            }
        }
        self.by_stat_scan()
    }

    /// The processes whose `stat` names this process as their parent.
    pub(super) fn by_stat_scan(&self) -> io::Result<Vec<u32>> {
        let mut pids = Vec::new();
        for entry in fs::read_dir("/proc")? {
            let Some(pid) = entry?.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            // Gone meanwhile: not a child any more, or not one to see.
            let Ok(stat) = read_small(&format!("/proc/{pid}/stat")) else { continue };
            if parent_in_stat(&stat) == Some(self.me) {
                pids.push(pid);
            }
        }
        Ok(pids)
    }

    /// This process's threads, sorted.
    fn threads(&self) -> io::Result<Vec<u32>> {
        let mut tids: Vec<u32> = fs::read_dir(format!("/proc/{}/task", self.me))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        tids.sort_unstable();
        Ok(tids)
    }
}

/// Reads a small `/proc` file, in one `read` where it fits in a page.
fn read_small(path: &str) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(4096);
    File::open(path)?.read_to_end(&mut buf)?;
    Ok(buf)
}

/// The decimal numbers of a `children` file ("12 345 ").
fn numbers(text: &[u8]) -> impl Iterator<Item = u32> + '_ {
    text.split(|b| b.is_ascii_whitespace()).filter_map(|n| std::str::from_utf8(n).ok()?.parse().ok())
}

/// The parent's pid in a `stat` line: "pid (comm) S ppid ...", where comm
/// may hold anything, so the fields are read after the last `)`.
fn parent_in_stat(stat: &[u8]) -> Option<u32> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

/// Process `pid`'s pids, from `/proc`'s namespace down to its own
/// (`NSpid:` in its `status`); `None` if it is gone.
fn nspid(pid: u32) -> io::Result<Option<Vec<u32>>> {
    let status = match read_small(&format!("/proc/{pid}/status")) {
        Ok(status) => status,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let line = status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"NSpid:"))
        .ok_or_else(|| io::Error::other("this kernel's /proc/PID/status has no NSpid (before 4.1)"))?;
    Ok(Some(numbers(line).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_the_parent_whatever_the_command_name() {
        assert_eq!(parent_in_stat(b"42 (sh) S 7 42 42 0"), Some(7));
        assert_eq!(parent_in_stat(b"42 (a) b) Z 1 0 0"), Some(1));
        assert_eq!(parent_in_stat(b"42 (x"), None);
    }

    #[test]
    fn children_files_list_numbers_with_a_trailing_blank() {
        assert_eq!(numbers(b"12 345 ").collect::<Vec<_>>(), [12, 345]);
        assert_eq!(numbers(b"").count(), 0);
    }

    /// Both ways of looking find the same children (those that live
    /// throughout both looks: two `sleep`s here), in `/proc`'s numbers.
    #[test]
    fn children_files_and_the_stat_scan_agree() {
        let procfs = Procfs::new().expect("/proc shows this process");
        let mut sleeps: Vec<std::process::Child> = (0..2)
            .map(|_| std::process::Command::new("sleep").arg("100").spawn().expect("spawn sleep"))
            .collect();
        let pids: Vec<u32> = sleeps.iter().map(|c| c.id()).collect();
        let by_stat = procfs.by_stat_scan().expect("stat scan");
        let by_files = if procfs.children_files {
            procfs.by_children_files().expect("children files")
        } else {
            println!("this kernel has no /proc/PID/task/TID/children: the stat scan alone is checked");
            by_stat.clone()
        };
        let ours = procfs.children().expect("children");
        for child in &mut sleeps {
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in pids {
            assert!(by_stat.contains(&pid), "{pid} in {by_stat:?}");
            assert!(by_files.contains(&pid), "{pid} in {by_files:?}");
            assert!(ours.contains(&(pid as libc::pid_t)), "{pid} in {ours:?}");
        }
    }
}
