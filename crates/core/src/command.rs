//! The `Command` builder: what to run, and with which environment,
//! working directory, credentials, terminal and descriptor map.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::child_fd::{ChildFd, Entry};
use crate::error::InputError;
use crate::pty::{PtySize, PtySpec};
use crate::signal::{IntoSignal, Signal};

/// A process to spawn: program, arguments, environment, working directory,
/// credentials and the child's descriptor map, set with
/// `std::process::Command`'s `&mut self` builder methods.
///
/// Defaults:
/// - the environment is inherited from the parent;
///   [`env_clear`](Self::env_clear) starts from an empty one;
/// - a program without `/` is searched in `PATH`, as `execvp` searches
///   it; see [program lookup](#program-lookup);
/// - fds 0, 1 and 2, where the command does not set them, get the default
///   of whoever spawns it, as with `std` (where `spawn` inherits and
///   `output` captures); anything set explicitly always wins:
///
///   | consumer | fd 0 | fd 1 | fd 2 |
///   |---|---|---|---|
///   | [`Command::spawn`] (a raw [`Child`](crate::Child)) | pipe (`"w"`) | pipe (`"r"`) | the parent's fd 2 |
///   | `spawn_process`, `spawn_events`, `run_process` (the protocol driver) | pipe | pipe | pipe |
///   | `Run`, `get_process_output`... | set by the run itself | | |
///
///   The raw child's stderr goes where the parent's does, so a caller that
///   reads only stdout cannot deadlock on a stderr pipe nobody drains; the
///   protocol driver reads every pipe, so it gets
///   `{0: "w", 1: "r", 2: "r"}`. [`StdioDefaults`] names the two;
///   [`clear_child_fds`] starts from an empty map instead (no fds, no
///   defaults).
///
/// [`clear_child_fds`]: Self::clear_child_fds
///
/// Every fd the map does not name is closed in the child, whether or not it
/// is close-on-exec in the parent; signal dispositions and the signal mask
/// are reset to their defaults.
///
/// # Program lookup
///
/// A program with a `/` in it is executed as given (a relative one from
/// the child's working directory). A program without one is searched for
/// in `PATH` as glibc's `execvp` searches it in the child, but by
/// `spawn`, in the parent, before the child exists, so that its failures
/// are typed errors ([`SpawnStep::PathSearch`](crate::SpawnStep::PathSearch) and the errno):
///
/// - `PATH` is the child's: the one the command sets with
///   [`env`](Self::env), else none after [`env_clear`](Self::env_clear),
///   else the parent's; without any, `/bin:/usr/bin` (glibc's default).
/// - Its entries are tried in order, each as `entry/program`. An empty
///   entry is the current directory. A relative entry (`bin`, `.`) is
///   taken from the directory the child execs in, its
///   [`current_dir`](Self::current_dir) if set: `PATH=bin` with
///   `current_dir("/opt/x")` finds `/opt/x/bin/program`, as std's
///   `Command` does. The path executed is the entry as written
///   (`bin/program`), after the child's `chdir`.
/// - The first regular file that may be executed (`access(X_OK)`) is run.
/// - A candidate refused with `EACCES` (a file without execute
///   permission, a directory or a device by that name, a directory on the
///   way that cannot be searched) is skipped and remembered; one that
///   does not exist (`ENOENT`, `ENOTDIR`, `ESTALE`, `ENODEV`,
///   `ETIMEDOUT`) is skipped. Any other error ends the search with that
///   errno, as in `execvp`: `ELOOP` for a symbolic link loop,
///   `ENAMETOOLONG`, `EIO`...
/// - Nothing found: `EACCES` if a candidate was skipped for it, else
///   `ENOENT`. (A working directory that cannot be entered is reported
///   first, as [`SpawnStep::Chdir`](crate::SpawnStep::Chdir): in the child the `chdir` comes
///   before any exec.)
///
/// A file found (or named) that the kernel cannot execute (`ENOEXEC`: a
/// script without `#!`) is run by `/bin/sh`, as `/bin/sh path args...`,
/// as `execvp` does.
///
/// The methods are the arguments of Twisted's `reactor.spawnProcess`,
/// whose defaults differ (`docs/from-twisted.md`).
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use procwire_core::{ChildFd, Command};
/// use tokio::io::AsyncReadExt;
///
/// let mut child = Command::new("ls")
///     .arg("-l")
///     .env("LC_ALL", "C")
///     .current_dir("/")
///     .child_fd(2, ChildFd::Null)
///     .spawn()?;
/// let mut listing = Vec::new();
/// child.take_reader(1).unwrap().read_to_end(&mut listing).await?;
/// let status = child.wait().await?;
/// assert!(status.success());
/// # Ok(()) }
/// ```
pub struct Command {
    pub(crate) program: OsString,
    pub(crate) program_c: CString,
    pub(crate) arg0: Option<CString>,
    pub(crate) args: Vec<CString>,
    pub(crate) env_clear: bool,
    pub(crate) env: BTreeMap<OsString, Option<OsString>>,
    pub(crate) cwd: Option<(PathBuf, CString)>,
    /// The fds set explicitly.
    pub(crate) fds: BTreeMap<RawFd, Entry>,
    /// Whether fds 0, 1 and 2 that are not in `fds` get the consumer's
    /// [`StdioDefaults`] (until `child_fds` or `clear_child_fds`).
    pub(crate) stdio_defaults: bool,
    pub(crate) setsid: bool,
    pub(crate) process_group: Option<i32>,
    pub(crate) kill_on_drop: bool,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) parent_death_signal: Option<i32>,
    pub(crate) keep_signal_mask: bool,
    pub(crate) pty: Option<PtySpec>,
    pub(crate) pipe_capacity: Option<usize>,
    /// The cgroup v2 directory to start the child in.
    pub(crate) cgroup: Option<PathBuf>,
    /// A variable set to the child's own pid ([`env_pid`](Self::env_pid)).
    pub(crate) pid_env: Option<OsString>,
    /// The first bad input, reported by `spawn()`.
    pub(crate) invalid: Option<InputError>,
}

/// A clone shares the descriptors handed over with
/// [`ChildFd::Fd`] and [`pty_pair`](Command::pty_pair): they stay open
/// until the last clone is dropped.
impl Clone for Command {
    fn clone(&self) -> Command {
        Command {
            program: self.program.clone(),
            program_c: self.program_c.clone(),
            arg0: self.arg0.clone(),
            args: self.args.clone(),
            env_clear: self.env_clear,
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            fds: self.fds.clone(),
            stdio_defaults: self.stdio_defaults,
            setsid: self.setsid,
            process_group: self.process_group,
            kill_on_drop: self.kill_on_drop,
            uid: self.uid,
            gid: self.gid,
            groups: self.groups.clone(),
            parent_death_signal: self.parent_death_signal,
            keep_signal_mask: self.keep_signal_mask,
            pty: self.pty.clone(),
            pipe_capacity: self.pipe_capacity,
            cgroup: self.cgroup.clone(),
            pid_env: self.pid_env.clone(),
            invalid: self.invalid.clone(),
        }
    }
}

/// Two commands are equal when spawning them would do the same: the same
/// program, arguments, environment, directory, fd map, credentials,
/// terminal and every other setting. A descriptor handed over
/// ([`ChildFd::Fd`], [`pty_pair`](Command::pty_pair)) is the same only
/// if it is the very same one: a clone's, not a copy made with `dup`.
///
/// ```
/// use procwire_core::Command;
///
/// let mut a = Command::new("sleep");
/// a.arg("1");
/// assert_eq!(a, a.clone());
/// assert_ne!(a, Command::new("sleep"));
/// ```
impl PartialEq for Command {
    fn eq(&self, other: &Command) -> bool {
        // Listed field by field, so that a new field is a compile error
        // here until it is compared.
        let Command {
            program,
            program_c: _,
            arg0,
            args,
            env_clear,
            env,
            cwd,
            fds,
            stdio_defaults,
            setsid,
            process_group,
            kill_on_drop,
            uid,
            gid,
            groups,
            parent_death_signal,
            keep_signal_mask,
            pty,
            pipe_capacity,
            cgroup,
            pid_env,
            invalid,
        } = self;
        *program == other.program
            && *arg0 == other.arg0
            && *args == other.args
            && *env_clear == other.env_clear
            && *env == other.env
            && cwd.as_ref().map(|c| &c.0) == other.cwd.as_ref().map(|c| &c.0)
            && *fds == other.fds
            && *stdio_defaults == other.stdio_defaults
            && *setsid == other.setsid
            && *process_group == other.process_group
            && *kill_on_drop == other.kill_on_drop
            && *uid == other.uid
            && *gid == other.gid
            && *groups == other.groups
            && *parent_death_signal == other.parent_death_signal
            && *keep_signal_mask == other.keep_signal_mask
            && *pty == other.pty
            && *pipe_capacity == other.pipe_capacity
            && *cgroup == other.cgroup
            && *pid_env == other.pid_env
            && *invalid == other.invalid
    }
}

impl Eq for Command {}

/// Shows the command as a shell line, `cd "/tmp" && LC_ALL="C" "ls" "-l"`
/// (as std's `Command` does), then the fds set explicitly; `{:#?}` lists
/// every setting. Nothing internal, and no environment value beyond the
/// ones the command sets.
impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            let args: Vec<&OsStr> = self.get_args().collect();
            let arg0 = self.arg0.as_deref().map(|a| OsStr::from_bytes(a.to_bytes()));
            return f
                .debug_struct("Command")
                .field("program", &self.program)
                .field("arg0", &arg0)
                .field("args", &args)
                .field("env_clear", &self.env_clear)
                .field("env", &self.env)
                .field("cwd", &self.cwd.as_ref().map(|(dir, _)| dir))
                .field("fds", &self.fds)
                .field("stdio_defaults", &self.stdio_defaults)
                .field("setsid", &self.setsid)
                .field("process_group", &self.process_group)
                .field("kill_on_drop", &self.kill_on_drop)
                .field("uid", &self.uid)
                .field("gid", &self.gid)
                .field("groups", &self.groups)
                .field("parent_death_signal", &self.parent_death_signal)
                .field("keep_signal_mask", &self.keep_signal_mask)
                .field("pty", &self.pty)
                .field("pipe_capacity", &self.pipe_capacity)
                .field("cgroup", &self.cgroup)
                .finish();
        }
        if let Some((dir, _)) = &self.cwd {
            write!(f, "cd {dir:?} && ")?;
        }
        if self.env_clear {
            f.write_str("env -i ")?;
        }
        for (key, value) in &self.env {
            match value {
                Some(value) => write!(f, "{key:?}={value:?} ")?,
                None => write!(f, "unset({key:?}) ")?,
            }
        }
        write!(f, "{:?}", self.program)?;
        for arg in self.get_args() {
            write!(f, " {arg:?}")?;
        }
        for (fd, spec) in &self.fds {
            write!(f, " {fd}:{spec:?}")?;
        }
        Ok(())
    }
}

/// Takes what a `std::process::Command` lets one read back: the program,
/// the arguments, the environment changes (set and removed variables) and
/// the working directory.
///
/// std does not say whether `env_clear` was called, nor what its stdio,
/// uid, gid or process group are: those are not carried over (fds 0, 1
/// and 2 get procwire's [`StdioDefaults`]).
///
/// ```
/// let mut std_cmd = std::process::Command::new("ls");
/// std_cmd.arg("-l").env("LC_ALL", "C").env_remove("LS_COLORS").current_dir("/");
/// let cmd = procwire_core::Command::from(std_cmd);
/// assert_eq!(cmd.get_program(), "ls");
/// assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["-l"]);
/// ```
impl From<std::process::Command> for Command {
    fn from(std_cmd: std::process::Command) -> Command {
        let mut cmd = Command::new(std_cmd.get_program());
        cmd.args(std_cmd.get_args());
        for (key, value) in std_cmd.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        if let Some(dir) = std_cmd.get_current_dir() {
            cmd.current_dir(dir);
        }
        cmd
    }
}

/// What fds 0, 1 and 2 are when a [`Command`] leaves them unset: each
/// consumer has its own (as `std`'s `spawn` inherits and its `output`
/// captures), and an explicit [`child_fd`](Command::child_fd),
/// [`stdin`](Command::stdin)... always wins.
///
/// ```no_run
/// # async fn doc() -> Result<(), procwire_core::Error> {
/// use procwire_core::{Command, StdioDefaults};
///
/// let mut cmd = Command::new("date");
/// let mut raw = cmd.spawn()?; // StdioDefaults::Spawn
/// assert!(raw.take_reader(2).is_none(), "stderr is the parent's");
/// let mut twisted = cmd.spawn_with(StdioDefaults::Twisted)?;
/// assert!(twisted.take_reader(2).is_some(), "stderr is a pipe");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StdioDefaults {
    /// `{0: "w", 1: "r", 2: 2}`: pipes to write stdin and read stdout,
    /// stderr shared with the parent. What [`Command::spawn`] gives a raw
    /// [`Child`](crate::Child): a caller reading only stdout cannot
    /// deadlock on a stderr pipe nobody drains.
    Spawn,
    /// `{0: "w", 1: "r", 2: "r"}`: a pipe on each, for consumers that read
    /// every output pipe (the protocol driver). Twisted's default
    /// `childFDs`.
    Twisted,
    /// `{0: /dev/null, 1: "r", 2: "r"}`: a pipe on each output, nothing to
    /// read on stdin, for consumers that read every output and write
    /// nothing (the protocol's line stream): a child that reads its stdin
    /// sees end of file at once, as under std's `output()`.
    Output,
}

impl StdioDefaults {
    /// The entry for `fd` (0, 1 or 2).
    pub(crate) fn entry(self, fd: RawFd) -> &'static Entry {
        static WRITE: Entry = Entry::WritePipe;
        static READ: Entry = Entry::ReadPipe;
        static STDERR: Entry = Entry::Parent(2);
        static NULL: Entry = Entry::Null;
        match (fd, self) {
            (0, StdioDefaults::Output) => &NULL,
            (0, _) => &WRITE,
            (2, StdioDefaults::Spawn) => &STDERR,
            _ => &READ,
        }
    }
}

impl Command {
    /// A command for `program`, with no arguments, the parent's
    /// environment and working directory, and fds 0, 1 and 2 as the
    /// consumer that spawns it defaults them (see [`Command`]).
    ///
    /// A `program` without `/` is searched in `PATH` at spawn time (see
    /// [program lookup](Command#program-lookup)).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        let program = program.as_ref().to_owned();
        let mut cmd = Command {
            program_c: CString::default(),
            program: program.clone(),
            arg0: None,
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            fds: BTreeMap::new(),
            stdio_defaults: true,
            setsid: false,
            process_group: None,
            kill_on_drop: false,
            uid: None,
            gid: None,
            groups: None,
            parent_death_signal: None,
            keep_signal_mask: false,
            pty: None,
            pipe_capacity: None,
            cgroup: None,
            pid_env: None,
            invalid: None,
        };
        cmd.program_c = cmd.cstring("program", &program);
        cmd
    }

    /// Adds an argument. Bytes reach the child's `argv` verbatim: no shell,
    /// no quoting, any byte but NUL.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        let arg = self.cstring("argument", arg.as_ref());
        self.args.push(arg);
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// Sets `argv[0]` (Twisted's `args[0]`); by default it is the program
    /// as given to [`new`](Self::new).
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.arg0 = Some(self.cstring("argument", arg0.as_ref()));
        self
    }

    /// Sets an environment variable for the child. A key that is empty or
    /// contains `=` is reported by `spawn()` as [`InputError::EnvKey`].
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.check_env_key(key);
        if value.as_bytes().contains(&0) {
            self.note(InputError::NulByte {
                what: "environment value",
                value: value.to_string_lossy().into_owned(),
            });
        }
        if self.pid_env.as_deref() == Some(key) {
            self.pid_env = None;
        }
        self.env.insert(key.to_owned(), Some(value.to_owned()));
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes a variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        let key = key.as_ref();
        self.check_env_key(key);
        if self.pid_env.as_deref() == Some(key) {
            self.pid_env = None;
        }
        self.env.insert(key.to_owned(), None);
        self
    }

    /// Starts the child from an empty environment; variables set
    /// afterwards are still passed. Twisted's default (`env={}`).
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Runs the child in `dir` (Twisted's `path`). A relative `dir` is
    /// relative to the parent's working directory at spawn time. A missing
    /// or unusable directory fails `spawn()` with [`SpawnStep::Chdir`](crate::SpawnStep::Chdir).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        let dir = dir.as_ref();
        let c = self.cstring("working directory", dir.as_os_str());
        self.cwd = Some((dir.to_owned(), c));
        self
    }

    /// Maps child fd `child_fd` to `fd` (one entry of Twisted's
    /// `childFDs`), replacing what that fd was mapped to. Any fd number may
    /// be used (3, 4, 200...); a negative one is reported by `spawn()` as
    /// [`InputError::NegativeChildFd`], and one at or above the soft
    /// `RLIMIT_NOFILE` (which no process can hold) as
    /// [`InputError::ChildFdTooLarge`].
    pub fn child_fd(&mut self, child_fd: RawFd, fd: ChildFd) -> &mut Command {
        if child_fd < 0 {
            self.note(InputError::NegativeChildFd(child_fd));
        } else {
            self.fds.insert(child_fd, fd.into());
        }
        self
    }

    /// Replaces the whole map with `fds`: fds 0, 1 and 2 not in it are
    /// closed (no defaults). A child fd given twice is reported by
    /// `spawn()` as [`InputError::DuplicateChildFd`]. Twisted's `childFDs`
    /// dictionary.
    ///
    /// ```
    /// use procwire_core::{ChildFd, Command};
    /// let mut cmd = Command::new("gpg");
    /// cmd.child_fds([
    ///     (0, ChildFd::WritePipe),
    ///     (1, ChildFd::ReadPipe),
    ///     (2, ChildFd::Parent(2)),
    ///     (3, ChildFd::WritePipe),
    ///     (4, ChildFd::ReadPipe),
    /// ]);
    /// ```
    pub fn child_fds(&mut self, fds: impl IntoIterator<Item = (RawFd, ChildFd)>) -> &mut Command {
        self.fds.clear();
        self.stdio_defaults = false;
        for (child_fd, fd) in fds {
            if self.fds.contains_key(&child_fd) {
                self.note(InputError::DuplicateChildFd(child_fd));
            }
            self.child_fd(child_fd, fd);
        }
        self
    }

    /// Empties the fd map: with nothing added afterwards, the child starts
    /// with no descriptors at all (fds 0, 1 and 2 get no defaults either).
    /// Twisted's `childFDs={}`.
    pub fn clear_child_fds(&mut self) -> &mut Command {
        self.fds.clear();
        self.stdio_defaults = false;
        self
    }

    /// Sets the child's stdin (fd 0); shorthand for `child_fd(0, fd)`.
    pub fn stdin(&mut self, fd: ChildFd) -> &mut Command {
        self.child_fd(0, fd)
    }

    /// Sets the child's stdout (fd 1); shorthand for `child_fd(1, fd)`.
    pub fn stdout(&mut self, fd: ChildFd) -> &mut Command {
        self.child_fd(1, fd)
    }

    /// Sets the child's stderr (fd 2); shorthand for `child_fd(2, fd)`.
    pub fn stderr(&mut self, fd: ChildFd) -> &mut Command {
        self.child_fd(2, fd)
    }

    /// Starts the child in a new session (`setsid`), detached from the
    /// parent's controlling terminal and process group.
    ///
    /// Not on FreeBSD, whose `posix_spawn` cannot start a session: `spawn`
    /// fails there with [`Error::Unsupported`](crate::Error::Unsupported).
    pub fn setsid(&mut self, setsid: bool) -> &mut Command {
        self.setsid = setsid;
        self
    }

    /// Puts the child in process group `pgroup`; 0 makes it the leader of a
    /// new group with its own pid as id. With a new session
    /// ([`setsid`](Self::setsid) or [`pty`](Self::pty)) the child leads its
    /// own group already: 0 is accepted, any other group is
    /// [`InputError::ProcessGroupInNewSession`].
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        self.process_group = Some(pgroup);
        self
    }

    /// Sends SIGKILL to the child when its [`Child`](crate::Child) is
    /// dropped before the child was reaped, and to the process group the
    /// child leads at that moment, if it leads one: what it started in its
    /// group dies with it. Whether it leads is read from the kernel at the
    /// drop (`getpgid(pid) == pid`), so a child spawned as a leader
    /// ([`process_group(0)`](Self::process_group), [`setsid`](Self::setsid),
    /// [`pty`](Self::pty)) and one that made itself one (`setsid sh -c
    /// '...'`) are treated alike. (Unreaped, the child still holds the
    /// group's id, so the signal cannot reach a stranger.) Either way the child is reaped:
    /// a dropped `Child` never leaves a zombie (see
    /// [`Child`](crate::Child#dropping) for what happens when procwire's
    /// reaper thread cannot start).
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Command {
        self.kill_on_drop = kill;
        self
    }

    /// Runs the child as user `uid`: the last credential step, after
    /// [`groups`](Self::groups) and [`gid`](Self::gid). Twisted's `uid`.
    ///
    /// Unless [`groups`](Self::groups) is set, the supplementary groups
    /// become the target user's (`initgroups` semantics), never the
    /// parent's; and unless [`gid`](Self::gid) is set, the group becomes
    /// the user's primary group. A uid without a passwd entry gets no
    /// supplementary groups and, without [`gid`](Self::gid), keeps the
    /// parent's group: under root that is gid 0, so set
    /// [`gid`](Self::gid) too whenever the uid may have no passwd entry.
    /// Asking for the uid the parent already runs as changes no groups (so
    /// a non-root parent may name its own uid). A refused step fails
    /// `spawn()` with [`SpawnStep::Setgroups`](crate::SpawnStep::Setgroups),
    /// [`SpawnStep::Setgid`](crate::SpawnStep::Setgid) or
    /// [`SpawnStep::Setuid`](crate::SpawnStep::Setuid) and the errno.
    ///
    /// Spawns with credentials go through procwire's `clone(CLONE_VM |
    /// CLONE_VFORK)` trampoline instead of `posix_spawn`: still no `fork()`,
    /// so the cost does not grow with the parent's memory.
    ///
    /// # Caveats
    ///
    /// Looking the user up (`getpwuid_r`, `getgrouplist`) happens in
    /// `spawn()` and may block on NSS (e.g. LDAP); set
    /// [`groups`](Self::groups) and [`gid`](Self::gid) explicitly to avoid it.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), procwire_core::Error> {
    /// let mut child = procwire_core::Command::new("id").uid(65534).gid(65534).spawn()?;
    /// # Ok(()) }
    /// ```
    ///
    /// Linux only: elsewhere `spawn` fails with [`Error::Unsupported`](crate::Error::Unsupported)
    /// (`posix_spawn` cannot change credentials; see `docs/platforms.md`).
    pub fn uid(&mut self, uid: u32) -> &mut Command {
        self.uid = Some(uid);
        self
    }

    /// Runs the child with group id `gid` (Twisted's `gid`).
    ///
    /// Linux only, as [`uid`](Self::uid).
    pub fn gid(&mut self, gid: u32) -> &mut Command {
        self.gid = Some(gid);
        self
    }

    /// Sets the child's supplementary groups exactly (an empty slice clears
    /// them); see [`uid`](Self::uid) for the default.
    ///
    /// Linux only, as [`uid`](Self::uid).
    pub fn groups(&mut self, groups: &[u32]) -> &mut Command {
        self.groups = Some(groups.to_vec());
        self
    }

    /// Asks the kernel to send `sig` to the child when the parent process
    /// dies (Linux `PR_SET_PDEATHSIG`); set after the credential changes,
    /// which would clear it.
    ///
    /// The kernel ties this signal to the *thread* that created the child,
    /// not the process. procwire therefore creates such children from its
    /// own spawner threads (one per CPU spawns are asked from, pinned to
    /// it), which live as long as the process, so a retiring tokio
    /// blocking-pool thread never kills them; and if the parent died
    /// before the child could set the signal, the child delivers it to
    /// itself at once. The child may run on the CPUs of the thread that
    /// called `spawn`, as without the signal. The hand-off to that thread
    /// costs 10 to 15 µs a spawn on a 2-CPU VM (a spawn+wait loop of
    /// `/bin/true` runs at 0.97x the loop without the signal).
    ///
    /// Linux only (`PR_SET_PDEATHSIG`): elsewhere `spawn` fails with
    /// [`Error::Unsupported`](crate::Error::Unsupported).
    pub fn parent_death_signal(&mut self, sig: impl IntoSignal) -> &mut Command {
        match sig.into_signal() {
            // prctl reads 0 as "no signal": not what the caller meant.
            Ok(0) => self.note(InputError::InvalidSignal("0 is not a signal".into())),
            Ok(sig) => self.parent_death_signal = Some(sig),
            Err(e) => self.note(InputError::InvalidSignal(e.to_string())),
        }
        self
    }

    /// Keeps the spawning thread's signal mask in the child. By default the
    /// child starts with an empty mask (and every disposition at its
    /// default, whatever the parent ignores or catches).
    pub fn keep_signal_mask(&mut self, keep: bool) -> &mut Command {
        self.keep_signal_mask = keep;
        self
    }

    /// Runs the child on a new pseudo-terminal of `size`: the child gets a
    /// new session with the terminal as its controlling terminal on fds 0,
    /// 1 and 2, and the parent the master side, from
    /// [`Child::take_pty`](crate::Child::take_pty). Twisted's
    /// `usePTY=True`.
    ///
    /// Other fds of the map still apply: pipes on fds 3 and up can be
    /// combined with a terminal on 0/1/2. The map's entries for 0, 1 and 2
    /// are ignored.
    ///
    /// Not on FreeBSD (the child must lead a new session): `spawn` fails
    /// there with [`Error::Unsupported`](crate::Error::Unsupported).
    pub fn pty(&mut self, size: PtySize) -> &mut Command {
        self.pty = Some(PtySpec::New(size));
        self
    }

    /// Runs the child on a terminal pair the caller opened: each spawn
    /// gives the child the slave and the [`Child`](crate::Child) a copy of
    /// the master. The slave becomes the controlling terminal if it is
    /// nobody's yet. Twisted's `usePTY=(master, slave, ttyname)`.
    ///
    /// The command keeps the caller's slave open (so it can spawn again),
    /// so the master reads end of file only once the command, and every
    /// child on the terminal, has closed it: drop the `Command` when done.
    ///
    /// Not on FreeBSD, as [`pty`](Self::pty).
    pub fn pty_pair(&mut self, master: OwnedFd, slave: OwnedFd) -> &mut Command {
        self.pty = Some(PtySpec::Pair { master: Arc::new(master), slave: Arc::new(slave) });
        self
    }

    /// Asks the kernel for pipes of `bytes` capacity (`F_SETPIPE_SZ`) for
    /// every pipe of this command, and keeps them at that size.
    ///
    /// Without it, a pipe starts at the kernel's default (64 KiB) and
    /// grows by itself when the parent finds it full (a write that would
    /// block, or reads that take a whole pipe-full before it is empty
    /// again): its capacity doubles each time, up to 1 MiB. Bulk transfers
    /// so get large pipes, where each pipe-full is one hand-off between the
    /// child and the parent and fewer hand-offs mean fewer wake-ups, while
    /// small and idle pipes stay at the default and cost no extra kernel
    /// memory. The pipes of one process grow by at most half the user's
    /// `/proc/sys/fs/pipe-user-pages-soft` budget in all (32 MiB by
    /// default), so that other pipes of the user keep their default size.
    /// A pipe that finds that spent, or that the kernel refuses to grow
    /// (past `/proc/sys/fs/pipe-max-size`), keeps its size and works as
    /// before.
    ///
    /// Set it to start large at once, to go beyond 1 MiB, or to bound the
    /// memory a pipe may take (`pipe_capacity(64 * 1024)` keeps the
    /// kernel's default size). Best effort: the kernel rounds up to a power
    /// of two of pages and may refuse, for the same reasons, in which case
    /// the pipe keeps its default size and does not grow.
    ///
    /// Linux only (`F_SETPIPE_SZ`): absent elsewhere, where the kernel
    /// sizes pipes by itself (up to 64 KiB on macOS and FreeBSD) and
    /// procwire does not grow them.
    #[cfg(target_os = "linux")]
    #[cfg_attr(docsrs, doc(cfg(target_os = "linux")))]
    pub fn pipe_capacity(&mut self, bytes: usize) -> &mut Command {
        self.pipe_capacity = Some(bytes);
        self
    }

    /// Starts the child inside the cgroup v2 directory `cgroup` (a
    /// [`Cgroup`](crate::Cgroup), or its path; a relative path is taken
    /// from the parent's working directory at spawn time): it is a member
    /// before it runs a single instruction of the program, and so is
    /// everything it starts, `setsid`'d or double-forked daemons
    /// included. [`StopScope::Cgroup`](crate::StopScope::Cgroup) then
    /// stops them all, and [`Child::signal_cgroup`](crate::Child::signal_cgroup)
    /// signals them all.
    ///
    /// Give each child a cgroup of its own (see [`Cgroup::create`](crate::Cgroup::create)):
    /// stopping by cgroup stops every process in it. The directory must be
    /// a leaf (no cgroups below it with controllers enabled) that this
    /// process may write (see [`Cgroup`](crate::Cgroup)); anything else
    /// fails `spawn()` with [`SpawnStep::Cgroup`](crate::SpawnStep::Cgroup), and no child is left.
    ///
    /// Spawns with a cgroup always go through procwire's clone trampoline
    /// (`posix_spawn` cannot say it): on x86_64 with Linux >= 5.7 the child
    /// is created inside the cgroup (`clone3` with `CLONE_INTO_CGROUP`);
    /// elsewhere it moves itself there first thing, by writing to the
    /// cgroup's `cgroup.procs` before `exec`.
    ///
    /// Start children in a fresh cgroup after a [`Cgroup::kill`]: on the
    /// kernels this was tried on (6.18), a child created inside a cgroup
    /// that was once killed through `cgroup.kill` is SIGKILLed at once,
    /// while one moved in through `cgroup.procs` is not. The supervisor
    /// makes a new cgroup after each kill for this reason.
    ///
    /// [`Cgroup::kill`]: crate::Cgroup::kill
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// use procwire_core::{Cgroup, Command};
    ///
    /// let root = Cgroup::mount_point().ok_or("no cgroup v2")?;
    /// let cgroup = Cgroup::create(&root, "job-42")?;
    /// let mut child = Command::new("make").arg("-j8").cgroup(&cgroup).spawn()?;
    /// assert_eq!(child.cgroup(), Some(cgroup.path()));
    /// # Ok(()) }
    /// ```
    ///
    /// Linux only: elsewhere `spawn` fails with [`Error::Unsupported`](crate::Error::Unsupported).
    pub fn cgroup(&mut self, cgroup: impl Into<PathBuf>) -> &mut Command {
        let cgroup = cgroup.into();
        if cgroup.as_os_str().as_bytes().contains(&0) {
            self.note(InputError::NulByte { what: "cgroup", value: cgroup.to_string_lossy().into_owned() });
        }
        self.cgroup = Some(cgroup);
        self
    }

    /// Sets `key` in the child's environment to the child's own pid, in
    /// decimal: a program compares it with `getpid()` to know that the
    /// variable is meant for it and not for a process it started (as with
    /// systemd's `WATCHDOG_PID` and `LISTEN_PID`). Replaces any value set with
    /// [`env`](Self::env) (and a later `env` or `env_remove` of the same
    /// key replaces this).
    ///
    /// The pid is known only in the child, which writes it into memory the
    /// parent prepared, before `exec`: such spawns always go through
    /// procwire's clone trampoline.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// let out = procwire_core::Command::new("sh")
    ///     .args(["-c", "test \"$MY_PID\" = $$ && echo mine"])
    ///     .env_pid("MY_PID")
    ///     .spawn()?
    ///     .wait()
    ///     .await?;
    /// assert!(out.success());
    /// # Ok(()) }
    /// ```
    ///
    /// Linux only: elsewhere `spawn` fails with [`Error::Unsupported`](crate::Error::Unsupported).
    pub fn env_pid(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        let key = key.as_ref();
        self.check_env_key(key);
        self.env.remove(key);
        self.pid_env = Some(key.to_owned());
        self
    }

    /// The key set with [`env_pid`](Self::env_pid).
    pub fn get_env_pid(&self) -> Option<&OsStr> {
        self.pid_env.as_deref()
    }

    /// The cgroup set with [`cgroup`](Self::cgroup), as given.
    pub fn get_cgroup(&self) -> Option<&Path> {
        self.cgroup.as_deref()
    }

    /// The program as given to [`new`](Self::new).
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments after `argv[0]`.
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(|a| OsStr::from_bytes(a.as_bytes()))
    }

    /// The variables set ([`env`](Self::env): `Some(value)`) or removed
    /// ([`env_remove`](Self::env_remove): `None`) on top of the inherited
    /// environment (or of nothing after [`env_clear`](Self::env_clear)),
    /// in key order, as std's `Command::get_envs`.
    ///
    /// ```
    /// let mut cmd = procwire_core::Command::new("env");
    /// cmd.env("A", "1").env_remove("B");
    /// let envs: Vec<_> = cmd.get_envs().collect();
    /// assert_eq!(envs, [("A".as_ref(), Some("1".as_ref())), ("B".as_ref(), None)]);
    /// ```
    pub fn get_envs(&self) -> impl Iterator<Item = (&OsStr, Option<&OsStr>)> + '_ {
        self.env.iter().map(|(k, v)| (k.as_os_str(), v.as_deref()))
    }

    /// Whether the child is sent SIGKILL when its `Child` is dropped
    /// ([`kill_on_drop`](Self::kill_on_drop)); `false` by default.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// The process group asked for ([`process_group`](Self::process_group)),
    /// if any.
    pub fn get_process_group(&self) -> Option<i32> {
        self.process_group
    }

    /// Whether the child starts a new session ([`setsid`](Self::setsid);
    /// a [`pty`](Self::pty) does too).
    pub fn get_setsid(&self) -> bool {
        self.setsid
    }

    /// The parent-death signal asked for
    /// ([`parent_death_signal`](Self::parent_death_signal)), if any.
    pub fn get_parent_death_signal(&self) -> Option<Signal> {
        self.parent_death_signal.and_then(|sig| Signal::new(sig).ok())
    }

    fn note(&mut self, err: InputError) {
        self.invalid.get_or_insert(err);
    }

    fn cstring(&mut self, what: &'static str, s: &OsStr) -> CString {
        CString::new(s.as_bytes()).unwrap_or_else(|_| {
            self.note(InputError::NulByte { what, value: s.to_string_lossy().into_owned() });
            CString::default()
        })
    }

    fn check_env_key(&mut self, key: &OsStr) {
        let bytes = key.as_bytes();
        if bytes.contains(&0) {
            self.note(InputError::NulByte {
                what: "environment key",
                value: key.to_string_lossy().into_owned(),
            });
        } else if bytes.is_empty() || bytes.contains(&b'=') {
            self.note(InputError::EnvKey(key.to_string_lossy().into_owned()));
        }
    }

    /// The child's environment as `KEY=VALUE` C strings, or `None` when it
    /// is the parent's unchanged (then `environ` is passed as is).
    /// The variable of [`env_pid`](Self::env_pid) is not among them: the
    /// spawn adds it.
    pub(crate) fn envp(&self) -> Option<Vec<CString>> {
        if !self.env_clear && self.env.is_empty() && self.pid_env.is_none() {
            return None;
        }
        let mut vars: BTreeMap<OsString, OsString> =
            if self.env_clear { BTreeMap::new() } else { std::env::vars_os().collect() };
        for (k, v) in &self.env {
            match v {
                Some(v) => vars.insert(k.clone(), v.clone()),
                None => vars.remove(k),
            };
        }
        if let Some(key) = &self.pid_env {
            vars.remove(key);
        }
        let entries = vars.into_iter().map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            // Keys and values were checked for NUL when they were set, and
            // the parent's own environment cannot contain one.
            CString::new(kv).unwrap_or_default()
        });
        Some(entries.collect())
    }
}
