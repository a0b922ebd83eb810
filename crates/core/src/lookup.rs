//! Finding the program to exec, as glibc's `execvp` finds it in the child,
//! but in the parent, before the child exists, so that "not found" and
//! "permission denied" come back from `spawn` as typed errors.
//!
//! The rule is the one [`Command`'s program lookup](crate::Command#program-lookup)
//! documents; each step below names the part of it that it follows.

use std::borrow::Cow;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::libc;

use crate::command::Command;
use crate::error::{Error, SpawnStep};
use crate::spawn::check_dir;

/// glibc's `PATH` when the environment has none (`_CS_PATH`), as its
/// `execvp` uses it.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

impl Command {
    /// The path to exec: the program itself when it contains `/`, else
    /// the first `PATH` entry that holds an executable regular file by
    /// that name, formed as `execvp` forms it (`entry/name`, `./name` for
    /// an empty entry), so that a relative one is taken from the child's
    /// working directory when the child execs it.
    pub(crate) fn resolve_program(&self) -> Result<Cow<'_, CStr>, Error> {
        let name = self.program.as_bytes();
        if name.contains(&b'/') {
            return Ok(Cow::Borrowed(&self.program_c));
        }
        if name.is_empty() {
            return Err(self.search_error(libc::ENOENT));
        }
        let path = match self.env.get(OsStr::new("PATH")) {
            Some(set) => set.clone(),
            None if self.env_clear => None,
            None => std::env::var_os("PATH"),
        };
        let path = path.unwrap_or_else(|| OsString::from(DEFAULT_PATH));
        // Where the child execs: its working directory.
        let cwd = self.cwd.as_ref().map(|(dir, _)| dir.as_path());
        let mut denied = false;
        for dir in path.as_bytes().split(|&b| b == b':') {
            // An empty entry is the current directory.
            let dir = if dir.is_empty() { b".".as_slice() } else { dir };
            let mut candidate = Vec::with_capacity(dir.len() + 1 + name.len());
            candidate.extend_from_slice(dir);
            candidate.push(b'/');
            candidate.extend_from_slice(name);
            let candidate = PathBuf::from(OsString::from_vec(candidate));
            match probe(&from_child_dir(cwd, &candidate)) {
                Probe::Executable => {
                    let c = CString::new(candidate.into_os_string().into_vec()).unwrap_or_default();
                    return Ok(Cow::Owned(c));
                }
                Probe::Denied => denied = true,
                Probe::Missing => {}
                Probe::Stop(errno) => return Err(self.search_error(errno)),
            }
        }
        Err(self.search_error(if denied { libc::EACCES } else { libc::ENOENT }))
    }

    /// The search failed with `errno`. In the child, the `chdir` to the
    /// working directory comes before any `exec`: a working directory
    /// that cannot be entered is that step's error, as it would be there.
    fn search_error(&self, errno: i32) -> Error {
        let step_error = |step, source| Error::Spawn {
            program: self.program.to_string_lossy().into_owned(),
            step,
            source,
        };
        if let Some((dir, _)) = &self.cwd {
            if let Err(e) = check_dir(dir) {
                return step_error(SpawnStep::Chdir, e);
            }
        }
        step_error(SpawnStep::PathSearch, io::Error::from_raw_os_error(errno))
    }
}

/// What `execve` would make of one candidate, as `execvp` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// An executable regular file: run it.
    Executable,
    /// `EACCES`: there but not runnable (not executable, a directory, a
    /// device), or in a directory that cannot be searched. Remembered,
    /// and the search goes on.
    Denied,
    /// `ENOENT`, `ENOTDIR`, `ESTALE`, `ENODEV`, `ETIMEDOUT`: the search
    /// goes on.
    Missing,
    /// Any other error (`ELOOP` for a symbolic link loop, `ENAMETOOLONG`,
    /// `EIO`...) ends the search with it.
    Stop(i32),
}

/// Looks at `path` (`stat`, then `access(X_OK)` for a regular file).
fn probe(path: &Path) -> Probe {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => match nix::unistd::access(path, nix::unistd::AccessFlags::X_OK) {
            Ok(()) => Probe::Executable,
            Err(_) => Probe::Denied,
        },
        // A directory, a device, a FIFO: `execve` fails with EACCES.
        Ok(_) => Probe::Denied,
        Err(e) => match e.raw_os_error() {
            Some(libc::EACCES) => Probe::Denied,
            Some(libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT) | None => {
                Probe::Missing
            }
            Some(errno) => Probe::Stop(errno),
        },
    }
}

/// `candidate` as the parent can reach it: a relative one is relative to
/// the child's working directory `cwd` (itself relative to the parent's
/// when it is relative), where the child will exec it.
fn from_child_dir<'a>(cwd: Option<&Path>, candidate: &'a Path) -> Cow<'a, Path> {
    match cwd {
        Some(cwd) if candidate.is_relative() => Cow::Owned(cwd.join(candidate)),
        _ => Cow::Borrowed(candidate),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, PermissionsExt};

    use super::*;

    #[test]
    fn probe_reads_each_candidate_as_execvp_does() {
        let dir = std::env::temp_dir().join(format!("procwire-lookup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("exe");
        std::fs::write(&exe, b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.join("plain");
        std::fs::write(&plain, b"").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        symlink("loop", dir.join("loop")).unwrap();
        assert_eq!(probe(&exe), Probe::Executable);
        assert_eq!(probe(&dir), Probe::Denied, "a directory");
        assert_eq!(probe(&dir.join("missing")), Probe::Missing);
        assert_eq!(probe(&plain.join("under-a-file")), Probe::Missing, "ENOTDIR");
        assert_eq!(probe(&dir.join("loop")), Probe::Stop(libc::ELOOP));
        // Not even root may run a file without an x bit.
        assert_eq!(probe(&plain), Probe::Denied);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_relative_candidate_is_taken_from_the_child_dir() {
        let at = |cwd: Option<&str>, c: &str| from_child_dir(cwd.map(Path::new), Path::new(c)).into_owned();
        assert_eq!(at(Some("/opt/x"), "bin/tool"), Path::new("/opt/x/bin/tool"));
        assert_eq!(at(Some("/opt/x"), "./tool"), Path::new("/opt/x/./tool"));
        assert_eq!(at(Some("sub"), "bin/tool"), Path::new("sub/bin/tool"));
        assert_eq!(at(Some("/opt/x"), "/usr/bin/tool"), Path::new("/usr/bin/tool"));
        assert_eq!(at(None, "bin/tool"), Path::new("bin/tool"));
    }
}
