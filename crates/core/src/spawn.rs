//! `Command::spawn`: plan in the parent, then one `posix_spawn`.

use std::ffi::{c_char, CStr};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::libc;
use nix::sys::resource::{getrlimit, Resource};

use crate::cgroup::Cgroup;
#[cfg(target_os = "linux")]
use crate::cgroup::CgroupError;
use crate::child::Child;
use crate::child_fd::Entry;
use crate::command::{Command, StdioDefaults};
use crate::error::{Error, InputError, SpawnStep};
use crate::pipe::{ChildReader, ChildWriter};
use crate::plan::{plan, spare_fd, PlanError, Ranges};
use crate::platform::{self, Feature, Os};
use crate::pty::OpenedPty;
use crate::reap::{Prepared, Reaper};
use crate::sys;

/// The descriptors prepared for one spawn.
#[derive(Default)]
struct Fds {
    /// `(child fd, parent fd)` pairs for the plan.
    map: Vec<(RawFd, RawFd)>,
    /// Identity entries whose fd the child inherits as is (not CLOEXEC).
    inherited: Vec<RawFd>,
    /// Child ends of pipes and `/dev/null`, closed once the child has them.
    child_ends: Vec<OwnedFd>,
    readers: Vec<ChildReader>,
    writers: Vec<ChildWriter>,
}

impl Command {
    /// Starts the child.
    ///
    /// Every error comes back here, synchronously: bad input as
    /// [`Error::InvalidInput`] before anything is created; a failure to
    /// start as [`Error::Spawn`] naming the program and the [`SpawnStep`]
    /// (`exec` for not found / permission denied, `chdir` for a bad working
    /// directory...). On error nothing is left behind: no descriptor, no
    /// process. Whatever can fail is acquired before the child exists (its
    /// pidfd comes with it, `CLONE_PIDFD`); a failure after that kills and
    /// reaps the child before the error is returned.
    ///
    /// The program is looked up as `execvp` does (see [program
    /// lookup](Command#program-lookup)): a name without `/` is searched in
    /// the child's `PATH`, relative entries from the child's working
    /// directory, and an executable the kernel cannot run (a script
    /// without `#!`, `ENOEXEC`) is run by `/bin/sh`, as `/bin/sh path
    /// args...`.
    ///
    /// The command can be spawned again; a [`ChildFd::Fd`](crate::ChildFd::Fd) is shared by
    /// every child spawned from it.
    ///
    /// # Errors
    ///
    /// See above, plus [`Error::NoRuntime`] outside a tokio runtime.
    ///
    /// # Panics
    ///
    /// If the current tokio runtime was built without IO enabled (the same
    /// as tokio's own `process::Command`). Nothing is left behind: a child
    /// already created is killed and reaped before the panic goes on.
    pub fn spawn(&mut self) -> Result<Child, Error> {
        self.spawn_with(StdioDefaults::Spawn)
    }

    /// [`spawn`](Self::spawn), with `defaults` for those of fds 0, 1 and 2
    /// that the command leaves unset: what a consumer that reads every
    /// output pipe (the protocol driver) uses to get pipes on all three.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    ///
    /// # Panics
    ///
    /// As [`spawn`](Self::spawn).
    pub fn spawn_with(&mut self, defaults: StdioDefaults) -> Result<Child, Error> {
        if let Some(err) = &self.invalid {
            return Err(err.clone().into());
        }
        platform::check(self.platform_features(), Os::CURRENT)?;
        let limit = self.fd_limit()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        crate::reap::retry_stranded();
        let path = self.resolve_program()?;
        let mut argv: Vec<*const c_char> = Vec::with_capacity(self.args.len() + 2);
        argv.push(self.arg0.as_ref().unwrap_or(&self.program_c).as_ptr());
        argv.extend(self.args.iter().map(|a| a.as_ptr()));
        argv.push(std::ptr::null());
        let env = self.envp();
        // `KEY=` and room for the pid the child writes (env_pid).
        let mut pid_entry: Option<Vec<u8>> = self.pid_env.as_ref().map(|key| {
            let mut entry = std::os::unix::ffi::OsStrExt::as_bytes(key.as_os_str()).to_vec();
            entry.push(b'=');
            entry.extend_from_slice(&[b'0'; PID_DIGITS]);
            entry.push(0);
            entry
        });
        // `Vec::as_mut_ptr` makes no reference: the pointer stays valid
        // beside the one in `envp`, and nothing else touches the vector
        // until the spawn is over.
        let pid_digits = pid_entry.as_mut().map(|e| {
            let at = e.len() - 1 - PID_DIGITS;
            e.as_mut_ptr().wrapping_add(at).cast::<c_char>()
        });
        let envp: Option<Vec<*const c_char>> = env.as_ref().map(|vars| {
            let mut p: Vec<*const c_char> = vars.iter().map(|v| v.as_ptr()).collect();
            p.extend(pid_entry.as_mut().map(|e| e.as_mut_ptr().cast_const().cast::<c_char>()));
            p.push(std::ptr::null());
            p
        });

        let pty = match &self.pty {
            Some(spec) => Some(spec.open().map_err(|e| self.error(SpawnStep::Pty, e))?),
            None => None,
        };
        let fds = self.prepare_fds(pty.as_ref(), defaults)?;
        // Where close_range works, the engine is the trampoline and closes
        // a range with one call; elsewhere ranges may be closed one by one.
        let ranges = if trampoline_preferred() { Ranges::Cheap } else { Ranges::Expanded };
        // Under macOS's POSIX_SPAWN_CLOEXEC_DEFAULT a descriptor no file
        // action names is closed at exec, inherited or not: every identity
        // entry gets its step there.
        let inherited: &[RawFd] = if cfg!(target_os = "macos") { &[] } else { &fds.inherited };
        let steps = plan(&fds.map, inherited, limit, ranges).map_err(|e| self.plan_error(e, limit))?;
        // After the fds: a parent fd the map names was checked open before
        // this descriptor could take its number.
        let cgroup = self.open_cgroup()?;
        let prepared = Prepared::new().map_err(|e| self.error(SpawnStep::Spawn, e))?;
        let cwd = self.cwd.as_ref().map(|(_, c)| c.as_c_str());
        let setsid = self.setsid || pty.is_some();
        // A session leader already leads its own process group (and may not
        // change it): process_group(0) is then met as is.
        let process_group = match self.process_group {
            Some(0) if setsid => None,
            Some(pgid) if setsid => return Err(InputError::ProcessGroupInNewSession(pgid).into()),
            other => other,
        };
        // A number that is no child fd, below the limit, to open the
        // terminal on (posix_spawn only).
        let spare = match pty {
            Some(_) => {
                spare_fd(&fds.map, limit).ok_or_else(|| self.plan_error(PlanError::NoFreeFd, limit))?
            }
            None => 0,
        };
        let request = sys::spawn::SpawnRequest {
            path: &path,
            argv: &argv,
            envp: envp.as_deref(),
            fd_steps: &steps,
            cwd,
            setsid,
            process_group,
            controlling_tty: pty.as_ref().map(|p| (p.slave_path.as_c_str(), spare)),
            keep_signal_mask: self.keep_signal_mask,
        };
        let pidfd = matches!(prepared, Prepared::Pidfd);
        let cgroup_fd = cgroup.as_ref().map(|(_, fd)| fd.as_fd());
        let mut spawned = self.launch(&request, pidfd, cgroup_fd, pid_digits);
        if matches!(&spawned, Err(Error::Spawn { step: SpawnStep::Exec, source, .. })
            if source.raw_os_error() == Some(libc::ENOEXEC))
        {
            // execvp's rule: a file the kernel does not know how to run (a
            // script without `#!`) is run by `/bin/sh`, as
            // `/bin/sh path args...`.
            let mut sh_argv: Vec<*const c_char> = Vec::with_capacity(argv.len() + 1);
            sh_argv.extend([SHELL.as_ptr(), path.as_ptr()]);
            sh_argv.extend_from_slice(&argv[1..]);
            let request = sys::spawn::SpawnRequest { path: SHELL, argv: &sh_argv, ..request };
            spawned = self.launch(&request, pidfd, cgroup_fd, pid_digits);
        }
        let sys::spawn::Spawned { pid, pidfd } = spawned?;
        // The child exists: from here on, a failure (or a panic) kills and
        // reaps it before `spawn` returns.
        let guard = ReapOnDrop(pid);
        drop(fds.child_ends);
        let reaper = Reaper::new(pid, prepared, pidfd).map_err(|e| self.error(SpawnStep::Pidfd, e))?;
        std::mem::forget(guard);
        let master = pty.map(|pty| pty.master);
        let child = Child::new(pid, reaper, fds.readers, fds.writers, master, self.kill_on_drop);
        Ok(child.in_cgroup(cgroup.map(|(path, _)| Cgroup::unchecked(path))))
    }

    /// Opens the command's cgroup directory (`O_PATH`), for `clone3` or the
    /// child's write to `cgroup.procs`, and checks it is on cgroup v2, so a
    /// path that is not a cgroup fails the same way with either engine path.
    /// Its absolute path, for the `Child`.
    #[cfg(target_os = "linux")]
    fn open_cgroup(&self) -> Result<Option<(PathBuf, OwnedFd)>, Error> {
        use nix::sys::statfs::{fstatfs, CGROUP2_SUPER_MAGIC};
        let Some(dir) = &self.cgroup else { return Ok(None) };
        let fail = |e: io::Error| self.error(SpawnStep::Cgroup, e);
        let path = std::path::absolute(dir).map_err(fail)?;
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(&path, flags, nix::sys::stat::Mode::empty()).map_err(|e| fail(e.into()))?;
        let fs = fstatfs(&fd).map_err(|e| fail(e.into()))?;
        if fs.filesystem_type() != CGROUP2_SUPER_MAGIC {
            return Err(fail(io::Error::new(io::ErrorKind::InvalidInput, CgroupError::NotCgroup2 { path })));
        }
        Ok(Some((path, fd)))
    }

    /// No cgroup: [`platform::check`] refused one already.
    #[cfg(not(target_os = "linux"))]
    fn open_cgroup(&self) -> Result<Option<(PathBuf, OwnedFd)>, Error> {
        Ok(None)
    }

    /// The options this command asks for that not every platform gives.
    fn platform_features(&self) -> impl Iterator<Item = Feature> {
        let credentials = self.uid.is_some() || self.gid.is_some() || self.groups.is_some();
        [
            (self.cgroup.is_some(), Feature::Cgroup),
            (credentials, Feature::Credentials),
            (self.parent_death_signal.is_some(), Feature::ParentDeathSignal),
            (self.pid_env.is_some(), Feature::EnvPid),
            (self.setsid || self.pty.is_some(), Feature::Setsid),
        ]
        .into_iter()
        .filter_map(|(asked, feature)| asked.then_some(feature))
    }

    /// Starts the child with `posix_spawn`, the one engine off Linux.
    #[cfg(not(target_os = "linux"))]
    fn engine(
        &self,
        request: &sys::spawn::SpawnRequest<'_>,
        _pidfd: bool,
        _cgroup: Option<BorrowedFd<'_>>,
        _pid_digits: Option<*mut c_char>,
    ) -> Result<sys::spawn::Spawned, Error> {
        let pid = sys::spawn::spawn(request).map_err(|e| self.diagnose(e))?;
        Ok(sys::spawn::Spawned { pid, pidfd: None })
    }

    /// Starts the child with the engine that fits: the clone trampoline
    /// where it is preferred or needed, else `posix_spawn`; lists it as
    /// procwire's before a [`Subreaper`](crate::Subreaper) can look.
    fn launch(
        &self,
        request: &sys::spawn::SpawnRequest<'_>,
        pidfd: bool,
        cgroup: Option<BorrowedFd<'_>>,
        pid_digits: Option<*mut c_char>,
    ) -> Result<sys::spawn::Spawned, Error> {
        let spawning = crate::reap::ours::spawning();
        let spawned = self.engine(request, pidfd, cgroup, pid_digits);
        if let Ok(child) = &spawned {
            spawning.list(child.pid);
        }
        spawned
    }

    /// The clone trampoline where it is preferred or needed, else
    /// `posix_spawn`.
    #[cfg(target_os = "linux")]
    fn engine(
        &self,
        request: &sys::spawn::SpawnRequest<'_>,
        pidfd: bool,
        cgroup: Option<BorrowedFd<'_>>,
        pid_digits: Option<*mut c_char>,
    ) -> Result<sys::spawn::Spawned, Error> {
        if self.needs_trampoline() || trampoline_preferred() {
            let (groups, gid) = self.credentials();
            let request = sys::trampoline::Request {
                spawn: request,
                groups: groups.as_deref(),
                gid,
                uid: self.uid,
                parent_death_signal: self.parent_death_signal,
                pidfd,
                cgroup,
                pid_digits,
            };
            let spawned = if self.parent_death_signal.is_some() {
                sys::trampoline::spawn_on_spawner_thread(&request)
            } else {
                sys::trampoline::spawn(&request)
            };
            spawned.map_err(|failure| self.trampoline_error(failure, pidfd))
        } else {
            let pid = sys::spawn::spawn(request).map_err(|e| self.diagnose(e))?;
            Ok(sys::spawn::Spawned { pid, pidfd: None })
        }
    }

    /// The soft `RLIMIT_NOFILE`, as the first number no child fd may reach
    /// (`dup2` to it would fail with `EBADF`), checked against the map
    /// before anything is created.
    fn fd_limit(&self) -> Result<RawFd, Error> {
        // getrlimit cannot fail for RLIMIT_NOFILE (it only reports EFAULT
        // and EINVAL); should it, the kernel's own check remains.
        // (`rlim_t` is signed on FreeBSD, where RLIM_INFINITY is i64::MAX.)
        #[allow(clippy::useless_conversion)]
        let soft = getrlimit(Resource::RLIMIT_NOFILE)
            .map_or(u64::MAX, |(soft, _)| u64::try_from(soft).unwrap_or(u64::MAX));
        let limit = RawFd::try_from(soft).unwrap_or(RawFd::MAX);
        let highest = self.fds.last_key_value().map(|(&fd, _)| fd);
        let highest = if self.pty.is_some() { highest.max(Some(2)) } else { highest };
        match highest {
            Some(child_fd) if child_fd >= limit => {
                Err(InputError::ChildFdTooLarge { child_fd, limit: limit as u64 }.into())
            }
            _ => Ok(limit),
        }
    }

    fn plan_error(&self, err: PlanError, limit: RawFd) -> Error {
        match err {
            PlanError::ChildFdTooLarge(child_fd) => {
                InputError::ChildFdTooLarge { child_fd, limit: limit as u64 }.into()
            }
            // What dup2 would say with no free number to use.
            PlanError::NoFreeFd => self.error(SpawnStep::FdSetup, io::Error::from_raw_os_error(libc::EMFILE)),
        }
    }

    /// Steps only the clone trampoline can do: credentials, the
    /// parent-death signal and the cgroup. (It is also the engine of
    /// choice wherever the kernel has `CLOSE_RANGE_CLOEXEC`; `posix_spawn`
    /// is the engine elsewhere.)
    #[cfg(target_os = "linux")]
    fn needs_trampoline(&self) -> bool {
        self.uid.is_some()
            || self.gid.is_some()
            || self.groups.is_some()
            || self.parent_death_signal.is_some()
            || self.cgroup.is_some()
            || self.pid_env.is_some()
    }

    /// The supplementary groups and gid to set: explicit ones, else the
    /// target user's (`initgroups` semantics), never the parent's.
    #[cfg(target_os = "linux")]
    fn credentials(&self) -> (Option<Vec<libc::gid_t>>, Option<libc::gid_t>) {
        let Some(uid) = self.uid else { return (self.groups.clone(), self.gid) };
        if uid == nix::unistd::getuid().as_raw() {
            return (self.groups.clone(), self.gid);
        }
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten();
        let gid = self.gid.or(user.as_ref().map(|u| u.gid.as_raw()));
        let groups = self.groups.clone().unwrap_or_else(|| match (&user, gid) {
            (Some(user), Some(gid)) => std::ffi::CString::new(user.name.as_bytes())
                .ok()
                .and_then(|name| nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(gid)).ok())
                .map(|gs| gs.into_iter().map(|g| g.as_raw()).collect())
                .unwrap_or_else(|| vec![gid]),
            (None, Some(gid)) => vec![gid],
            (_, None) => Vec::new(),
        });
        (Some(groups), gid)
    }

    #[cfg(target_os = "linux")]
    fn trampoline_error(&self, failure: sys::trampoline::Failure, pidfd: bool) -> Error {
        use sys::trampoline::{ChildStep, Failure};
        match failure {
            // With CLONE_PIDFD, a full descriptor table fails the clone.
            Failure::Parent(e) if pidfd && e.raw_os_error() == Some(libc::EMFILE) => {
                self.error(SpawnStep::Pidfd, e)
            }
            Failure::Parent(e) => self.error(SpawnStep::Clone, e),
            Failure::Thread(e) => self.error(SpawnStep::SpawnerThread, e),
            Failure::IntoCgroup(e) => self.error(SpawnStep::Cgroup, e),
            Failure::Child(step, e) => {
                let step = match step {
                    ChildStep::SignalReset => SpawnStep::SignalReset,
                    ChildStep::Setsid => SpawnStep::Setsid,
                    ChildStep::Setpgid => SpawnStep::Setpgid,
                    ChildStep::FdSetup => SpawnStep::FdSetup,
                    ChildStep::ControllingTty => SpawnStep::ControllingTerminal,
                    ChildStep::Setgroups => SpawnStep::Setgroups,
                    ChildStep::Setgid => SpawnStep::Setgid,
                    ChildStep::Setuid => SpawnStep::Setuid,
                    ChildStep::ParentDeathSignal => SpawnStep::ParentDeathSignal,
                    ChildStep::Chdir => SpawnStep::Chdir,
                    ChildStep::SignalMask => SpawnStep::SignalMask,
                    ChildStep::Exec => SpawnStep::Exec,
                    ChildStep::Cgroup => SpawnStep::Cgroup,
                };
                self.error(step, e)
            }
        }
    }

    /// The fds set explicitly, and `defaults` for 0, 1 and 2 where unset.
    fn child_fd_entries(&self, defaults: StdioDefaults) -> impl Iterator<Item = (RawFd, &Entry)> {
        let unset = (0..3).filter(move |fd| self.stdio_defaults && !self.fds.contains_key(fd));
        unset.map(move |fd| (fd, defaults.entry(fd))).chain(self.fds.iter().map(|(&fd, spec)| (fd, spec)))
    }

    fn prepare_fds(&self, pty: Option<&OpenedPty>, defaults: StdioDefaults) -> Result<Fds, Error> {
        let mut fds = Fds::default();
        let mut null: Option<RawFd> = None;
        if let Some(pty) = pty {
            fds.map.extend([(0, pty.slave_fd), (1, pty.slave_fd), (2, pty.slave_fd)]);
        }
        for (child_fd, spec) in self.child_fd_entries(defaults) {
            if pty.is_some() && child_fd <= 2 {
                continue;
            }
            let source = match spec {
                Entry::ReadPipe => {
                    let (parent, child) = self.pipe()?;
                    let raw = child.as_raw_fd();
                    fds.child_ends.push(child);
                    fds.readers.push(ChildReader::new(child_fd, parent, self.pipe_capacity.is_none())?);
                    raw
                }
                Entry::WritePipe => {
                    let (child, parent) = self.pipe()?;
                    let raw = child.as_raw_fd();
                    fds.child_ends.push(child);
                    fds.writers.push(ChildWriter::new(child_fd, parent, self.pipe_capacity.is_none())?);
                    raw
                }
                Entry::Parent(parent_fd) => match sys::spawn::fd_cloexec(*parent_fd) {
                    None => {
                        return Err(InputError::ParentFdNotOpen { child_fd, parent_fd: *parent_fd }.into())
                    }
                    Some(cloexec) => match self.blocking_copy(*parent_fd)? {
                        Some(copy) => fds.child_end(copy),
                        None => {
                            if !cloexec && child_fd == *parent_fd {
                                fds.inherited.push(child_fd);
                            }
                            *parent_fd
                        }
                    },
                },
                Entry::Null => match null {
                    Some(raw) => raw,
                    None => {
                        let file = open_null().map_err(|e| self.error(SpawnStep::Pipes, e))?;
                        let fd = OwnedFd::from(file);
                        let raw = fd.as_raw_fd();
                        fds.child_ends.push(fd);
                        null = Some(raw);
                        raw
                    }
                },
                Entry::Fd(fd) => match self.blocking_copy(fd.as_raw_fd())? {
                    Some(copy) => fds.child_end(copy),
                    None => fd.as_raw_fd(),
                },
            };
            fds.map.push((child_fd, source));
        }
        Ok(fds)
    }

    /// For a non-blocking pipe or FIFO, a new open file description of the
    /// same pipe, blocking, for the child: `O_NONBLOCK` belongs to the
    /// description, so the parent's (or the command's) own is left alone.
    /// `None` for a blocking descriptor (one `fcntl(F_GETFL)`, the common
    /// case), and for other kinds (sockets, terminals), which cannot be
    /// opened again like this and reach the child as they are.
    fn blocking_copy(&self, fd: RawFd) -> Result<Option<OwnedFd>, Error> {
        let Some(flags) = sys::io::status_flags(fd) else { return Ok(None) };
        if !flags.contains(OFlag::O_NONBLOCK) {
            return Ok(None);
        }
        let path = format!("/proc/self/fd/{fd}");
        if !std::fs::metadata(&path).is_ok_and(|meta| meta.file_type().is_fifo()) {
            return Ok(None);
        }
        match reopen_blocking(&path, flags) {
            Ok(copy) => Ok(Some(copy)),
            // A write end of a named FIFO whose readers are all gone: the
            // child's writes fail either way, so it gets the descriptor.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Ok(None),
            Err(e) => Err(self.error(SpawnStep::Pipes, e)),
        }
    }

    /// A close-on-exec pipe: (read end, write end), enlarged if the
    /// command asked for it (best effort).
    fn pipe(&self) -> Result<(OwnedFd, OwnedFd), Error> {
        let (r, w) = sys::io::pipe_cloexec().map_err(|e| self.error(SpawnStep::Pipes, e))?;
        #[cfg(target_os = "linux")]
        if let Some(bytes) = self.pipe_capacity {
            let bytes = i32::try_from(bytes).unwrap_or(i32::MAX);
            let _ = nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETPIPE_SZ(bytes));
        }
        Ok((r, w))
    }

    fn error(&self, step: SpawnStep, source: io::Error) -> Error {
        Error::Spawn { program: self.program.to_string_lossy().into_owned(), step, source }
    }

    /// `posix_spawn` reports only an errno; name the step it came from.
    /// Runs on the failure path only, so success costs nothing.
    fn diagnose(&self, errno: io::Error) -> Error {
        if let Some((dir, _)) = &self.cwd {
            if let Err(e) = check_dir(dir) {
                return self.error(SpawnStep::Chdir, e);
            }
        }
        let step = match errno.raw_os_error() {
            Some(libc::EBADF | libc::EMFILE) => SpawnStep::FdSetup,
            Some(libc::EPERM | libc::ESRCH) if self.process_group.is_some() => SpawnStep::Setpgid,
            Some(libc::EAGAIN | libc::ENOMEM) => SpawnStep::Spawn,
            _ => SpawnStep::Exec,
        };
        self.error(step, errno)
    }
}

/// Room for the pid in a `Command::env_pid` entry: the trampoline's
/// child writes it there.
#[cfg(target_os = "linux")]
const PID_DIGITS: usize = sys::trampoline::PID_DIGITS;
#[cfg(not(target_os = "linux"))]
const PID_DIGITS: usize = 10;

/// Whether the clone trampoline is the engine for every spawn (Linux
/// >= 5.11, unless a cfg forces `posix_spawn`).
fn trampoline_preferred() -> bool {
    #[cfg(target_os = "linux")]
    return sys::trampoline::preferred();
    #[cfg(not(target_os = "linux"))]
    return false;
}

/// The shell that runs scripts without `#!`, as `execvp` does.
const SHELL: &CStr = c"/bin/sh";

/// Kills and reaps a child whose spawn failed after it was created, when
/// dropped (on an error return or a panic alike).
struct ReapOnDrop(libc::pid_t);

impl Drop for ReapOnDrop {
    fn drop(&mut self) {
        crate::reap::kill_and_reap(self.0);
    }
}

impl Fds {
    /// Keeps `fd` open until the child has it; its number, for the plan.
    fn child_end(&mut self, fd: OwnedFd) -> RawFd {
        let raw = fd.as_raw_fd();
        self.child_ends.push(fd);
        raw
    }
}

/// Opens the pipe or FIFO behind `/proc/self/fd/N` again, with the access
/// mode and status flags of N (`flags`) but blocking. Opened non-blocking,
/// so that a named FIFO never waits for its other side here, then switched.
fn reopen_blocking(path: &str, flags: OFlag) -> io::Result<OwnedFd> {
    let access = flags & OFlag::O_ACCMODE;
    let file = OpenOptions::new()
        .read(access != OFlag::O_WRONLY)
        .write(access != OFlag::O_RDONLY)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)?;
    let fd = OwnedFd::from(file);
    nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(fd)
}

fn open_null() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open("/dev/null")
}

/// Whether `dir` can be `chdir`ed into, with the errno `chdir` would give.
pub(crate) fn check_dir(dir: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
    }
    nix::unistd::access(dir, nix::unistd::AccessFlags::X_OK).map_err(io::Error::from)
}
