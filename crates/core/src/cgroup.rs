//! cgroup v2 directories: a set of processes the kernel keeps together
//! whatever they do (fork, `setsid`, double-fork), so a stop can reach a
//! daemon that left its process group.
//!
//! A [`Cgroup`] is a path checked to be on cgroup v2; every method reads or
//! writes one of the kernel's files in it (`cgroup.procs`,
//! `cgroup.events`, `cgroup.kill`, `cgroup.freeze`). Emptiness is awaited
//! through inotify on `cgroup.events`, the kernel's "file modified" event.

use std::ffi::OsString;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};

use nix::libc;
use nix::unistd::AccessFlags;

use crate::error::Error;
use crate::signal::IntoSignal;
use crate::sys::registration::{Direction, Registration};

mod sweep;

/// What can go wrong finding, checking or creating a cgroup: each says
/// which path, and whether cgroup v2 is missing or only not ours to write.
///
/// ```
/// use procwire_core::{Cgroup, CgroupError};
///
/// // /proc is no cgroup v2 directory.
/// let err = Cgroup::create("/proc".as_ref(), "x").unwrap_err();
/// assert!(matches!(err, CgroupError::NotCgroup2 { .. }));
/// assert!(err.to_string().contains("/proc"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// The path is not on a cgroup v2 filesystem: no cgroup v2 mounted
    /// there (a cgroup v1 hierarchy, or no cgroup at all).
    #[error("{}: not a cgroup v2 directory (cgroup v2 is not mounted there)", path.display())]
    NotCgroup2 {
        /// The path that was checked.
        path: PathBuf,
    },
    /// cgroup v2 is there, but this process may not create cgroups in it
    /// or move processes into it (it was not delegated to this user, or it
    /// is mounted read-only).
    #[error("{}: cgroup v2 is not writable by this process (not delegated to it?): {source}", path.display())]
    NotWritable {
        /// The cgroup directory.
        path: PathBuf,
        /// What the kernel said (`EACCES`, `EPERM`, `EROFS`).
        #[source]
        source: io::Error,
    },
    /// A name for [`Cgroup::create`] that is empty, `.` or `..`, or
    /// contains `/` or a NUL byte.
    #[error("{0:?} cannot name a cgroup (empty, `.`, `..`, or a `/` or NUL in it)")]
    InvalidName(String),
    /// cgroups are Linux's: every way to a [`Cgroup`] fails so on other
    /// platforms.
    #[error("{}: cgroups are not supported on {platform}", path.display())]
    Unsupported {
        /// The path that was asked for.
        path: PathBuf,
        /// The platform (`"macOS"`, `"FreeBSD"`).
        platform: &'static str,
    },
    /// Any other failure, on `path` (`EEXIST` from creating a cgroup that
    /// exists, `ENOENT` for a missing parent...).
    #[error("{}: {source}", path.display())]
    Io {
        /// The path acted on.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// A cgroup v2 directory: the processes in it, whether any is left, and
/// the means to signal, kill and remove them all.
///
/// A child started in one with [`Command::cgroup`](crate::Command::cgroup)
/// takes every descendant with it: a double-forked, `setsid`'d daemon is
/// still a member, and [`StopScope::Cgroup`](crate::StopScope::Cgroup)
/// stops them all. A `Cgroup` is only a path: dropping it removes nothing
/// ([`remove`](Self::remove) does).
///
/// The directory must be writable by this process: as root, or in a
/// subtree delegated to its user (systemd's `Delegate=yes`). Moving a
/// process in also needs write access to `cgroup.procs` of the closest
/// common ancestor of the cgroup it comes from and this one.
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use procwire_core::{Cgroup, Command, StopPolicy, StopScope};
///
/// let root = Cgroup::mount_point().ok_or("cgroup v2 is not mounted")?;
/// let cgroup = Cgroup::create(&root, "web-1")?;
/// let mut child = Command::new("sh").args(["-c", "setsid sleep 100 &"]).cgroup(&cgroup).spawn()?;
/// child.stop(&StopPolicy::new().with_scope(StopScope::Cgroup)).await?;
/// assert!(cgroup.procs()?.is_empty()); // the setsid'd sleep too
/// cgroup.remove()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    /// Where cgroup v2 is mounted (the first `cgroup2` line of
    /// `/proc/self/mountinfo`): `/sys/fs/cgroup` on most systems,
    /// `/sys/fs/cgroup/unified` in systemd's hybrid mode. `None` when it is
    /// not mounted.
    pub fn mount_point() -> Option<PathBuf> {
        cgroup2_mount(&std::fs::read("/proc/self/mountinfo").ok()?)
    }

    /// The directory of this process's own cgroup v2 (its `0::` line in
    /// `/proc/self/cgroup`, under the mount [`mount_point`](Self::mount_point)
    /// finds): `/sys/fs/cgroup/system.slice/web.service` for a systemd
    /// service, `/sys/fs/cgroup` for a process in the root cgroup or a
    /// container's cgroup namespace. `None` when cgroup v2 is not mounted,
    /// the process's cgroup is not under that mount, or it was removed.
    /// Whether it may be written is another question
    /// ([`check_writable`](Self::check_writable)).
    ///
    /// ```no_run
    /// use procwire_core::Cgroup;
    /// if let Some(own) = Cgroup::current() {
    ///     println!("running in {}", own.display());
    /// }
    /// ```
    pub fn current() -> Option<PathBuf> {
        let (mount, root) = cgroup2_mount_and_root(&std::fs::read("/proc/self/mountinfo").ok()?)?;
        let cgroup = own_cgroup(&std::fs::read("/proc/self/cgroup").ok()?)?;
        cgroup_dir(&mount, &root, &cgroup)
    }

    /// Checks that `dir` is a cgroup v2 directory this process may create
    /// cgroups in and move processes into (write access to the directory
    /// and its `cgroup.procs`).
    ///
    /// # Errors
    ///
    /// [`CgroupError::NotCgroup2`] when `dir` is not on cgroup v2,
    /// [`CgroupError::NotWritable`] when it is but not for us,
    /// [`CgroupError::Io`] when it cannot be looked at (missing...).
    ///
    /// ```no_run
    /// use procwire_core::Cgroup;
    /// let root = Cgroup::mount_point().expect("cgroup v2 is mounted");
    /// match Cgroup::check_writable(&root) {
    ///     Ok(()) => println!("can run children in their own cgroups"),
    ///     Err(e) => println!("no cgroup scope here: {e}"),
    /// }
    /// ```
    pub fn check_writable(dir: &Path) -> Result<(), CgroupError> {
        check_cgroup2(dir)?;
        let access = |path: &Path, mode: AccessFlags| {
            nix::unistd::faccessat(nix::fcntl::AT_FDCWD, path, mode, nix::fcntl::AtFlags::AT_EACCESS)
                .map_err(|e| CgroupError::NotWritable { path: dir.to_owned(), source: e.into() })
        };
        access(dir, AccessFlags::W_OK | AccessFlags::X_OK)?;
        access(&dir.join("cgroup.procs"), AccessFlags::W_OK)
    }

    /// Creates the cgroup `name` under `parent` (`mkdir`), which must be a
    /// cgroup v2 directory.
    ///
    /// # Errors
    ///
    /// [`CgroupError::InvalidName`]; [`CgroupError::NotCgroup2`] when
    /// `parent` is not on cgroup v2; [`CgroupError::NotWritable`] when it
    /// is but not for us; [`CgroupError::Io`] otherwise (one that exists
    /// already is `AlreadyExists`).
    pub fn create(parent: &Path, name: &str) -> Result<Cgroup, CgroupError> {
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(CgroupError::InvalidName(name.to_owned()));
        }
        check_cgroup2(parent)?;
        let path = parent.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => Ok(Cgroup { path }),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM | libc::EROFS)) => {
                Err(CgroupError::NotWritable { path: parent.to_owned(), source: e })
            }
            Err(source) => Err(CgroupError::Io { path, source }),
        }
    }

    /// A cgroup that exists: `path` is checked to be on cgroup v2.
    ///
    /// # Errors
    ///
    /// [`CgroupError::NotCgroup2`], or [`CgroupError::Io`] when it cannot
    /// be looked at (missing...).
    pub fn open(path: impl Into<PathBuf>) -> Result<Cgroup, CgroupError> {
        let path = path.into();
        check_cgroup2(&path)?;
        Ok(Cgroup { path })
    }

    /// A cgroup at `path`, already checked (spawn opened it and checked it
    /// is on cgroup v2).
    pub(crate) fn unchecked(path: PathBuf) -> Cgroup {
        Cgroup { path }
    }

    /// The cgroup's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pids of the processes in the cgroup (`cgroup.procs`), in the
    /// kernel's order; processes that exited are not in it, even before
    /// they are reaped. A cgroup removed meanwhile has none.
    ///
    /// # Errors
    ///
    /// Reading the file failed.
    pub fn procs(&self) -> io::Result<Vec<u32>> {
        match std::fs::read_to_string(self.path.join("cgroup.procs")) {
            Ok(text) => Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect()),
            Err(e) if self.gone(&e) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Whether a live process is in the cgroup or below it (`populated`
    /// in `cgroup.events`; processes that exited do not count, reaped or
    /// not). A cgroup removed meanwhile is empty.
    ///
    /// # Errors
    ///
    /// Reading the file failed; the root cgroup has none.
    pub fn is_populated(&self) -> io::Result<bool> {
        match populated(&self.path.join("cgroup.events")) {
            Err(e) if self.gone(&e) => Ok(false),
            other => other,
        }
    }

    /// Waits until no live process is left in the cgroup or below it
    /// (`populated 0`), without polling: inotify watches `cgroup.events`,
    /// which the kernel marks modified when that changes, and the file is
    /// read again after the watch is set, so no change is missed. A cgroup
    /// removed meanwhile is empty.
    ///
    /// # Errors
    ///
    /// inotify could not be set up (`EMFILE`, the per-user limit on
    /// watches), `cgroup.events` could not be read (the root cgroup has
    /// none), or polled outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    ///
    /// # Panics
    ///
    /// In a tokio runtime built without IO enabled.
    pub async fn wait_empty(&self) -> io::Result<()> {
        let mut watch = EmptyWatch::new(&self.path)?;
        poll_fn(|cx| watch.poll_empty(cx)).await
    }

    /// Sends `sig` to every process in the cgroup (not in cgroups below
    /// it), and says how many were signalled. A process that forks
    /// meanwhile may have a child that is not reached: stop with
    /// [`kill`](Self::kill), which reaches those too.
    ///
    /// Never a stranger: each pid read from `cgroup.procs` is opened as a
    /// pidfd, the file is read again, and only the pidfds whose pid is
    /// still listed are signalled (a pid that was reused meanwhile is no
    /// longer the process opened). Where pidfds are missing, the pid is
    /// signalled with `kill`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownSignal`] / [`Error::InvalidSignal`] for a bad
    /// signal; [`Error::Io`] when `cgroup.procs` could not be read, or for
    /// the root cgroup (`InvalidInput`), which holds the whole system.
    ///
    /// ```no_run
    /// # fn doc(cgroup: &procwire_core::Cgroup) -> Result<(), procwire_core::Error> {
    /// let reached = cgroup.signal("HUP")?; // reload, every member
    /// # Ok(()) }
    /// ```
    pub fn signal(&self, sig: impl IntoSignal) -> Result<usize, Error> {
        let sig = sig.into_signal()?;
        self.check_not_root()?;
        Ok(self.signal_members(sig, None)?)
    }

    /// SIGKILLs every process in the cgroup and below it, forks in flight
    /// included: `cgroup.kill` (Linux >= 5.14). On older kernels, every
    /// member is sent SIGKILL again and again until a read of
    /// `cgroup.procs` finds none not sent it yet, with the cgroup frozen
    /// first (`cgroup.freeze`, Linux >= 5.2) so that nobody forks in the
    /// meantime, and thawed after. Does not wait for them to die:
    /// [`wait_empty`](Self::wait_empty) does.
    ///
    /// # Errors
    ///
    /// Writing the kernel's files failed; the root cgroup is refused
    /// (`InvalidInput`).
    pub fn kill(&self) -> io::Result<()> {
        self.check_not_root()?;
        match std::fs::write(self.path.join("cgroup.kill"), b"1") {
            Ok(()) => Ok(()),
            Err(e) if self.gone(&e) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.kill_by_sweep(self.path.join("cgroup.freeze").exists())
            }
            Err(e) => Err(e),
        }
    }

    /// Removes the cgroup (`rmdir`); it must be empty (else `EBUSY`) and
    /// have no cgroups below it.
    ///
    /// # Errors
    ///
    /// What `rmdir` says.
    pub fn remove(&self) -> io::Result<()> {
        std::fs::remove_dir(&self.path)
    }

    /// Whether `err`, from a file in the cgroup, means the cgroup itself
    /// is gone (which means it is empty: only an empty one can be removed).
    fn gone(&self, err: &io::Error) -> bool {
        err.kind() == io::ErrorKind::NotFound && !self.path.exists()
    }

    /// The root cgroup holds every process not in another one, kernel
    /// threads included: signalling "its members" is never what is meant.
    /// Every other cgroup has `cgroup.events`; the root has none.
    fn check_not_root(&self) -> io::Result<()> {
        if self.path.join("cgroup.events").exists() || !self.path.exists() {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a root cgroup: its members are the whole system", self.path.display()),
        ))
    }
}

impl AsRef<Path> for Cgroup {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl From<Cgroup> for PathBuf {
    fn from(cgroup: Cgroup) -> PathBuf {
        cgroup.path
    }
}

impl From<&Cgroup> for PathBuf {
    fn from(cgroup: &Cgroup) -> PathBuf {
        cgroup.path.clone()
    }
}

impl fmt::Display for Cgroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.path.display().fmt(f)
    }
}

/// [`CgroupError::NotCgroup2`] unless `path` is on a cgroup v2 filesystem
/// (`statfs` magic `CGROUP2_SUPER_MAGIC`); [`CgroupError::Unsupported`]
/// off Linux.
#[cfg(not(target_os = "linux"))]
fn check_cgroup2(path: &Path) -> Result<(), CgroupError> {
    Err(CgroupError::Unsupported { path: path.to_owned(), platform: crate::platform::Os::CURRENT.name() })
}

/// [`CgroupError::NotCgroup2`] unless `path` is on a cgroup v2 filesystem
/// (`statfs` magic `CGROUP2_SUPER_MAGIC`).
#[cfg(target_os = "linux")]
fn check_cgroup2(path: &Path) -> Result<(), CgroupError> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    match statfs(path) {
        Ok(fs) if fs.filesystem_type() == CGROUP2_SUPER_MAGIC => Ok(()),
        Ok(_) => Err(CgroupError::NotCgroup2 { path: path.to_owned() }),
        Err(e) => Err(CgroupError::Io { path: path.to_owned(), source: e.into() }),
    }
}

/// Whether the cgroup at `dir` is known to hold no live process: its
/// `cgroup.events` says `populated 0` (a read that fails says nothing).
pub(crate) fn is_empty(dir: &Path) -> bool {
    matches!(populated(&dir.join("cgroup.events")), Ok(false))
}

/// `populated` in the `cgroup.events` file at `events`.
fn populated(events: &Path) -> io::Result<bool> {
    use std::io::Read;
    // One read: the file is two short lines (`populated 0`, `frozen 0`),
    // and kernfs gives all of it at once. Checked after every exit of a
    // program with a cgroup, so `read_to_string`'s `statx` and the read
    // that sees the end are worth saving.
    let mut buf = [0u8; 256];
    let n = std::fs::File::open(events)?.read(&mut buf)?;
    let text = match std::str::from_utf8(&buf[..n]) {
        Ok(text) if n < buf.len() => std::borrow::Cow::Borrowed(text),
        _ => std::borrow::Cow::Owned(std::fs::read_to_string(events)?),
    };
    let value = text.lines().find_map(|line| line.strip_prefix("populated "));
    match value.map(str::trim) {
        Some("0") => Ok(false),
        Some(_) => Ok(true),
        None => Err(io::Error::new(io::ErrorKind::InvalidData, format!("no populated line in {text:?}"))),
    }
}

/// The mount point of the first `cgroup2` filesystem in a
/// `/proc/self/mountinfo` text (`id parent dev root MOUNTPOINT options
/// [optional...] - FSTYPE source options`), its octal escapes (`\040` for a
/// space) decoded.
fn cgroup2_mount(mountinfo: &[u8]) -> Option<PathBuf> {
    cgroup2_mount_and_root(mountinfo).map(|(mount, _)| mount)
}

/// [`cgroup2_mount`], and the cgroup it shows at its top (the `root`
/// field: `/` unless a subtree was bind-mounted).
fn cgroup2_mount_and_root(mountinfo: &[u8]) -> Option<(PathBuf, PathBuf)> {
    mountinfo.split(|&b| b == b'\n').find_map(|line| {
        let sep = line.windows(3).position(|w| w == b" - ")?;
        let fstype = line[sep + 3..].split(|&b| b == b' ').next()?;
        if fstype != b"cgroup2" {
            return None;
        }
        let mut fields = line[..sep].split(|&b| b == b' ');
        let root = fields.nth(3)?;
        let mount = fields.next()?;
        let path = |field| PathBuf::from(OsString::from_vec(unescape(field)));
        Some((path(mount), path(root)))
    })
}

/// The directory of the cgroup v2 `cgroup` (as `/proc/self/cgroup`'s `0::`
/// line names it) under a cgroup2 mount that shows `root` at `mount`;
/// `None` when the mount does not show it.
fn cgroup_dir(mount: &Path, root: &Path, cgroup: &Path) -> Option<PathBuf> {
    let below = cgroup.strip_prefix(root).ok()?;
    Some(mount.join(below))
}

/// The `0::` (cgroup v2) line of a `/proc/self/cgroup` text: the cgroup's
/// path from the hierarchy's root. `None` for a cgroup that was removed
/// (` (deleted)`) or no v2 line.
fn own_cgroup(proc_cgroup: &[u8]) -> Option<PathBuf> {
    proc_cgroup.split(|&b| b == b'\n').find_map(|line| {
        let path = line.strip_prefix(b"0::")?;
        if !path.starts_with(b"/") || path.ends_with(b" (deleted)") {
            return None;
        }
        Some(PathBuf::from(OsString::from_vec(path.to_vec())))
    })
}

/// Decodes mountinfo's `\NNN` octal escapes.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| field[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

/// Waits for a cgroup to be empty: inotify on its `cgroup.events`,
/// registered with tokio's reactor, and the file read after every batch of
/// events. What [`Cgroup::wait_empty`] and the stop ladder poll.
#[derive(Debug)]
pub(crate) struct EmptyWatch {
    events: PathBuf,
    /// `None` when the cgroup was gone when the watch was set.
    inotify: Option<Registration<OwnedFd>>,
}

impl EmptyWatch {
    /// Sets the watch on `cgroup`'s `cgroup.events`. (Off Linux no
    /// [`Cgroup`] exists to watch: `Unsupported`.)
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn new(_: &Path) -> io::Result<EmptyWatch> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Sets the watch on `cgroup`'s `cgroup.events`.
    #[cfg(target_os = "linux")]
    pub(crate) fn new(cgroup: &Path) -> io::Result<EmptyWatch> {
        use nix::errno::Errno;
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        use tokio::io::Interest;
        let events = cgroup.join("cgroup.events");
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        match inotify.add_watch(&events, AddWatchFlags::IN_MODIFY) {
            Ok(_) => {}
            Err(Errno::ENOENT) if !cgroup.exists() => return Ok(EmptyWatch { events, inotify: None }),
            Err(e) => return Err(e.into()),
        }
        let inotify = Registration::new(OwnedFd::from(inotify), Interest::READABLE)?;
        Ok(EmptyWatch { events, inotify: Some(inotify) })
    }

    /// Ready once the cgroup is empty (or gone).
    pub(crate) fn poll_empty(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(inotify) = &mut self.inotify else { return Poll::Ready(Ok(())) };
        let mut buf = [0u8; 1024];
        loop {
            match populated(&self.events) {
                Ok(false) => return Poll::Ready(Ok(())),
                Ok(true) => {}
                // Removed: IN_IGNORED woke us, and it is empty.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(e)),
            }
            // Events queued before the read above are accounted for by it:
            // consume them, and wait for the next one if there is none.
            if let Err(e) = std::task::ready!(inotify.poll_io(cx, Direction::Read, |fd| {
                nix::unistd::read(fd, &mut buf).map_err(io::Error::from)
            })) {
                return Poll::Ready(Err(e));
            }
        }
    }
}

impl Drop for EmptyWatch {
    fn drop(&mut self) {
        if let Some(inotify) = self.inotify.take() {
            close_later(inotify.into_inner());
        }
    }
}

/// Closes inotify descriptors on a thread of their own, started at the
/// first need. Closing one waits until the kernel has freed the watches
/// (`fsnotify_destroy_group` waits for an SRCU grace period: 5 to 20 ms
/// here), and the task that dropped its watch would hold its runtime
/// worker that long: 50 programs stopped at once in cgroup scope, each
/// dropping a watch as its stop ended, delayed the other stops' SIGKILLs
/// by up to 0.45 s past a 1 s grace (`docs/benchmarks.md`). If the thread
/// cannot start, the descriptor is closed here.
fn close_later(fd: OwnedFd) {
    use std::sync::{mpsc, Mutex, OnceLock, PoisonError};
    static CLOSER: OnceLock<Option<Mutex<mpsc::Sender<OwnedFd>>>> = OnceLock::new();
    let closer = CLOSER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<OwnedFd>();
        let run = move || rx.into_iter().for_each(drop);
        let started = std::thread::Builder::new().name("procwire-inotify-close".into()).spawn(run);
        started.ok().map(|_| Mutex::new(tx))
    });
    if let Some(tx) = closer {
        // A send fails only once the thread is gone; the fd comes back.
        if let Err(mpsc::SendError(fd)) = tx.lock().unwrap_or_else(PoisonError::into_inner).send(fd) {
            drop(fd);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests;
