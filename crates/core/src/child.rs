//! A running child: its pipes, its pidfd, its exit status.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use nix::libc;
use tokio::io::{AsyncRead, ReadBuf};

use crate::cgroup::Cgroup;
use crate::error::Error;
use crate::pipe::{ChildReader, ChildWriter};
use crate::pty::PtyMaster;
use crate::reap::{Reaper, Target};
use crate::signal::IntoSignal;
use crate::status::ExitStatus;

/// A spawned child process: the parent's ends of its pipes, and its
/// lifecycle (wait, signal, stop, kill).
///
/// Its pipes are those of the command's fd map; fds 0, 1 and 2 left unset
/// are, for [`Command::spawn`](crate::Command::spawn), a pipe to write
/// stdin, a pipe to read stdout, and the parent's own stderr (see
/// [`StdioDefaults`](crate::StdioDefaults)).
///
/// The child is followed through a pidfd, so [`signal`](Self::signal) can
/// never reach a recycled pid: after the child was reaped it returns
/// [`Error::ProcessExitedAlready`].
///
/// # Dropping
///
/// Dropping a `Child` never leaves a zombie: a child still running is
/// handed to a background reaper thread (and first sent SIGKILL if the
/// command set [`kill_on_drop`](crate::Command::kill_on_drop), with the
/// process group it leads at that moment, if it leads one), which reaps
/// it whenever it exits, with or without a tokio runtime. A child that has
/// exited by the time the drop looks (a killed one can be, on a busy
/// machine) is reaped by the drop itself, and starts nothing. The thread,
/// once started, and its wake pipe stay for the life of the process.
/// Starting that thread takes a pipe and a thread; if either cannot be had at that moment
/// (a full descriptor table, `RLIMIT_NPROC`), a child sent SIGKILL is
/// waited for on the spot (it dies in bounded time), and one left running
/// is kept on the reaper's list: the next drop or spawn starts the thread
/// and it is reaped then.
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use procwire_core::Command;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let mut child = Command::new("cat").spawn()?;
/// let mut stdin = child.take_writer(0).unwrap();
/// let mut stdout = child.take_reader(1).unwrap();
/// stdin.write_all(b"hello").await?;
/// stdin.shutdown().await?;
/// let mut echoed = Vec::new();
/// stdout.read_to_end(&mut echoed).await?;
/// assert_eq!(echoed, b"hello");
/// assert_eq!(child.wait().await?.code(), Some(0));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Child {
    pid: u32,
    status: Option<ExitStatus>,
    /// `None` once reaped (or handed to the orphan reaper on drop).
    reaper: Option<Reaper>,
    readers: Vec<ChildReader>,
    writers: Vec<ChildWriter>,
    pty: Option<PtyMaster>,
    /// `wait` gave the terminal nobody took its end of file.
    pty_eof_given: bool,
    kill_on_drop: bool,
    /// The cgroup it was spawned into.
    cgroup: Option<Cgroup>,
}

impl Child {
    pub(crate) fn new(
        pid: libc::pid_t,
        reaper: Reaper,
        readers: Vec<ChildReader>,
        writers: Vec<ChildWriter>,
        pty: Option<PtyMaster>,
        kill_on_drop: bool,
    ) -> Self {
        let pid = pid as u32;
        Child {
            pid,
            status: None,
            reaper: Some(reaper),
            readers,
            writers,
            pty,
            pty_eof_given: false,
            kill_on_drop,
            cgroup: None,
        }
    }

    /// The same child, remembering the cgroup it was spawned into.
    pub(crate) fn in_cgroup(mut self, cgroup: Option<Cgroup>) -> Self {
        self.cgroup = cgroup;
        self
    }

    /// The cgroup the child was spawned into with
    /// [`Command::cgroup`](crate::Command::cgroup), as an absolute path;
    /// `None` for a child spawned without one.
    pub fn cgroup(&self) -> Option<&Path> {
        self.cgroup.as_ref().map(Cgroup::path)
    }

    /// Whether the child, unreaped, leads its process group
    /// (`getpgid(pid) == pid`, read now).
    pub(crate) fn leads_group(&self) -> bool {
        self.status.is_none()
            && crate::sys::process::process_group(self.pid as libc::pid_t).is_ok_and(|g| g as u32 == self.pid)
    }

    /// Takes the master side of the child's terminal, for a command spawned
    /// with [`pty`](crate::Command::pty) or
    /// [`pty_pair`](crate::Command::pty_pair). `None` otherwise, or when
    /// taken already.
    pub fn take_pty(&mut self) -> Option<PtyMaster> {
        self.pty.take()
    }

    /// The child's pid, or `None` once it was reaped (a reaped pid may
    /// already belong to another process).
    pub fn id(&self) -> Option<u32> {
        self.status.is_none().then_some(self.pid)
    }

    /// Takes the parent's end of the pipe on child fd `fd` that the child
    /// writes (a [`ChildFd::ReadPipe`](crate::ChildFd::ReadPipe), `"r"`).
    /// `None` if `fd` has no such pipe or it was taken already.
    pub fn take_reader(&mut self, fd: RawFd) -> Option<ChildReader> {
        let i = self.readers.iter().position(|r| r.child_fd() == fd)?;
        Some(self.readers.swap_remove(i))
    }

    /// Takes the parent's end of the pipe on child fd `fd` that the child
    /// reads (a [`ChildFd::WritePipe`](crate::ChildFd::WritePipe), `"w"`).
    /// `None` if `fd` has no such pipe or it was taken already.
    pub fn take_writer(&mut self, fd: RawFd) -> Option<ChildWriter> {
        let i = self.writers.iter().position(|w| w.child_fd() == fd)?;
        Some(self.writers.swap_remove(i))
    }

    /// Takes every output pipe not taken yet, in child fd order.
    pub fn take_readers(&mut self) -> Vec<ChildReader> {
        let mut readers = std::mem::take(&mut self.readers);
        readers.sort_by_key(ChildReader::child_fd);
        readers
    }

    /// Takes every input pipe not taken yet, in child fd order.
    pub fn take_writers(&mut self) -> Vec<ChildWriter> {
        let mut writers = std::mem::take(&mut self.writers);
        writers.sort_by_key(ChildWriter::child_fd);
        writers
    }

    /// Waits for the child to exit and reaps it. Later calls return the
    /// same status at once.
    ///
    /// `wait` never blocks on a pipe end nobody took: input pipes that were
    /// never taken with [`take_writer`](Self::take_writer) are closed
    /// first, so a child reading its stdin sees end of file instead of
    /// waiting forever, and output pipes never taken with
    /// [`take_reader`](Self::take_reader) are read while it waits and what
    /// they carry is thrown away, so a child writing to a full pipe nobody
    /// reads still gets to exit. Take the readers you want before calling
    /// `wait`.
    ///
    /// A [terminal](crate::Command::pty) nobody took with
    /// [`take_pty`](Self::take_pty) is the child's input and output at
    /// once, and is treated the same way, without hanging it up (a hang-up
    /// would send the child SIGHUP, and change how a child that was about
    /// to exit by itself ends): what the child writes to it is read and
    /// thrown away while `wait` waits, and the child is given end of file
    /// once, the way a terminal gives it: its EOF character (Ctrl-D unless
    /// changed) is written to the terminal the first time `wait` finds it
    /// in canonical mode (the default), so the child's next read of it
    /// returns end of file. A child that reads its terminal in raw mode
    /// (where Ctrl-D is only a key), or reads it again after that end of
    /// file, still waits for input that will not come: take the terminal
    /// to talk to it, or stop it ([`kill`](Self::kill)). The terminal stays
    /// open, in the `Child`, until the `Child` is dropped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing, and a later call
    /// picks up where it left off.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    /// The poll form of [`wait`](Self::wait), for hand-written futures.
    pub fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        if let Some(status) = self.status {
            return Poll::Ready(Ok(status));
        }
        self.writers.clear();
        self.drain_untaken(cx);
        let Some(reaper) = &mut self.reaper else {
            return Poll::Ready(Err(io::Error::from_raw_os_error(libc::ECHILD)));
        };
        let status = std::task::ready!(reaper.poll_reap(cx))?;
        Poll::Ready(Ok(self.reaped(status)))
    }

    /// Reads what the output pipes nobody took hold, and throws it away;
    /// a pipe at end of file (or failing) is closed. The same for a
    /// terminal nobody took, which is also given its end of file. Registers
    /// `cx` for more.
    fn drain_untaken(&mut self, cx: &mut Context<'_>) {
        if let Some(pty) = &mut self.pty {
            pty.serve_untaken(cx, &mut self.pty_eof_given);
        }
        let mut scratch = [MaybeUninit::<u8>::uninit(); 8192];
        self.readers.retain_mut(|reader| loop {
            let mut buf = ReadBuf::uninit(&mut scratch);
            match Pin::new(&mut *reader).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return false,
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(_)) => return false,
                Poll::Pending => return true,
            }
        });
    }

    /// Waits for the child to exit *without* reaping it: the status is
    /// reported, the child stays a zombie until [`wait`](Self::wait) (or
    /// [`try_wait`](Self::try_wait), or dropping the `Child`) reaps it. While
    /// it is unreaped its pid, and the process group it leads, cannot be
    /// reused, so [`signal_group`](Self::signal_group) still reaches only
    /// its group: what a caller needs to stop the child's own children once
    /// the child itself has exited. Input pipes are left open.
    pub fn poll_exited(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        if let Some(status) = self.status {
            return Poll::Ready(Ok(status));
        }
        let Some(reaper) = &mut self.reaper else {
            return Poll::Ready(Err(io::Error::from_raw_os_error(libc::ECHILD)));
        };
        reaper.poll_exit(cx, false)
    }

    /// Sends a signal to the child's whole process group: the child and
    /// every descendant that stayed in its group (a shell's children, a
    /// build tool's compilers), for a child that leads its process group
    /// when this is called: spawned as a leader
    /// ([`process_group(0)`](crate::Command::process_group),
    /// [`setsid`](crate::Command::setsid) or a [pty](crate::Command::pty)),
    /// or made one by itself (the `setsid` program, a daemon's `setsid()`,
    /// a shell's job control). Whether it leads is read from the kernel at
    /// the call (`getpgid(pid) == pid`), not from the spawn's settings.
    ///
    /// Safe against reuse: it is only sent while the child, the group's
    /// leader, is not reaped, so the group id cannot belong to anyone else;
    /// [`poll_exited`](Self::poll_exited) waits for the exit and keeps that
    /// true.
    ///
    /// # Errors
    ///
    /// [`Error::NotGroupLeader`] if the child does not lead its group;
    /// [`Error::ProcessExitedAlready`] once it was reaped, or when no
    /// process is left in the group; [`Error::UnknownSignal`] /
    /// [`Error::InvalidSignal`] for a bad signal.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut cmd = procwire_core::Command::new("sh");
    /// cmd.args(["-c", "sleep 100 & sleep 100"]).process_group(0);
    /// let mut child = cmd.spawn()?;
    /// child.signal_group("TERM")?; // both sleeps and the shell
    /// assert_eq!(child.wait().await?.signal(), Some(15));
    /// # Ok(()) }
    /// ```
    pub fn signal_group(&self, sig: impl IntoSignal) -> Result<(), Error> {
        let sig = sig.into_signal()?;
        match &self.reaper {
            Some(reaper) if self.status.is_none() => reaper.send_group(self.pid as libc::pid_t, sig),
            _ => Err(Error::ProcessExitedAlready),
        }
    }

    /// Sends a signal to every process in the child's
    /// [cgroup](crate::Command::cgroup): the child itself (through its
    /// pidfd, while it is not reaped) and every other member, however it
    /// left the child's process group or session. SIGKILL goes through
    /// `cgroup.kill` ([`Cgroup::kill`]), which also reaches processes
    /// forked meanwhile; any other signal goes to the members
    /// `cgroup.procs` lists, each checked through a pidfd
    /// ([`Cgroup::signal`]).
    ///
    /// # Errors
    ///
    /// [`Error::NoCgroup`] if the child was not spawned into a cgroup;
    /// [`Error::ProcessExitedAlready`] when nobody was left to signal (the
    /// child reaped and the cgroup empty); [`Error::UnknownSignal`] /
    /// [`Error::InvalidSignal`] for a bad signal; [`Error::Io`] when the
    /// cgroup's files could not be read or written.
    ///
    /// ```no_run
    /// # async fn doc(cgroup: procwire_core::Cgroup) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut cmd = procwire_core::Command::new("sh");
    /// cmd.args(["-c", "setsid sleep 100 & sleep 100 & wait"]).cgroup(&cgroup);
    /// let mut child = cmd.spawn()?;
    /// child.signal_cgroup("TERM")?; // the shell and both sleeps
    /// cgroup.wait_empty().await?;
    /// assert_eq!(child.wait().await?.signal(), Some(15));
    /// # Ok(()) }
    /// ```
    pub fn signal_cgroup(&self, sig: impl IntoSignal) -> Result<(), Error> {
        let sig = sig.into_signal()?;
        let cgroup = self.cgroup.as_ref().ok_or(Error::NoCgroup)?;
        let leader = match self.signal(sig) {
            Ok(()) => true,
            Err(Error::ProcessExitedAlready) => false,
            Err(e) => return Err(e),
        };
        let members = if sig == libc::SIGKILL {
            let populated = cgroup.is_populated()?;
            cgroup.kill()?;
            populated
        } else {
            // The child was signalled above; while it is unreaped its pid
            // cannot name anyone else.
            cgroup.signal_members(sig, self.id())? > 0
        };
        if leader || members {
            Ok(())
        } else {
            Err(Error::ProcessExitedAlready)
        }
    }

    /// Reaps the child if it has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let Some(reaper) = &self.reaper else {
            return Err(io::Error::from_raw_os_error(libc::ECHILD));
        };
        Ok(reaper.try_reap()?.map(|status| self.reaped(status)))
    }

    fn reaped(&mut self, status: ExitStatus) -> ExitStatus {
        self.status = Some(status);
        self.reaper = None;
        status
    }

    /// Sends a signal (Twisted's `signalProcess`): a name such as `"KILL"`
    /// or `"SIGTERM"`, a number, or a nix `Signal`.
    ///
    /// # Errors
    ///
    /// [`Error::ProcessExitedAlready`] once the child was reaped;
    /// [`Error::UnknownSignal`] / [`Error::InvalidSignal`] for a bad name
    /// or number.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut child = procwire_core::Command::new("sleep").arg("100").spawn()?;
    /// child.signal("TERM")?;
    /// assert_eq!(child.wait().await?.signal(), Some(15));
    /// assert!(matches!(child.signal("KILL"), Err(procwire_core::Error::ProcessExitedAlready)));
    /// # Ok(()) }
    /// ```
    pub fn signal(&self, sig: impl IntoSignal) -> Result<(), Error> {
        let sig = sig.into_signal()?;
        match &self.reaper {
            Some(reaper) if self.status.is_none() => reaper.send(sig),
            _ => Err(Error::ProcessExitedAlready),
        }
    }

    /// Sends SIGKILL to the child, without waiting (tokio's `start_kill`).
    ///
    /// # Errors
    ///
    /// [`Error::ProcessExitedAlready`] once the child was reaped.
    pub fn start_kill(&self) -> Result<(), Error> {
        self.signal(libc::SIGKILL)
    }

    /// Sends SIGKILL to the child and waits for it (tokio's `kill`), giving
    /// its status; a child reaped already just gives its status.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the signal is sent at the first poll; dropping the
    /// future afterwards leaves a killed child that a later
    /// [`wait`](Self::wait), or the drop of the `Child`, reaps.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut child = procwire_core::Command::new("sleep").arg("100").spawn()?;
    /// assert_eq!(child.kill().await?.signal(), Some(9));
    /// # Ok(()) }
    /// ```
    pub async fn kill(&mut self) -> io::Result<ExitStatus> {
        match self.start_kill() {
            Ok(()) | Err(Error::ProcessExitedAlready) => {}
            Err(e) => return Err(e.into()),
        }
        self.wait().await
    }

    /// A cloneable handle that can signal the child from elsewhere (another
    /// task, while this one awaits [`wait`](Self::wait)). `None` once the
    /// child was reaped.
    pub fn signal_handle(&self) -> Option<SignalHandle> {
        let reaper = self.reaper.as_ref()?;
        Some(SignalHandle { pid: self.pid, target: reaper.target() })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(reaper) = self.reaper.take() else { return };
        let killed = self.kill_on_drop && {
            // The group it leads now goes with it, however it came to lead
            // it (`NotGroupLeader` otherwise, and nothing sent): unreaped,
            // the child still holds the group's id, so the signal cannot
            // reach a stranger.
            let _ = reaper.send_group(self.pid as libc::pid_t, libc::SIGKILL);
            reaper.send(libc::SIGKILL).is_ok()
        };
        reaper.abandon(killed);
    }
}

/// Signals a child from anywhere, safely: it holds the child's pidfd, so a
/// signal after the child was reaped is [`Error::ProcessExitedAlready`],
/// never a signal to whatever process got the pid next.
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// let mut child = procwire_core::Command::new("sleep").arg("100").spawn()?;
/// let handle = child.signal_handle().unwrap();
/// tokio::spawn(async move { handle.signal("INT") });
/// assert_eq!(child.wait().await?.signal(), Some(2));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SignalHandle {
    pid: u32,
    target: Target,
}

impl SignalHandle {
    /// The child's pid (it may have been reaped since).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends a signal; see [`Child::signal`].
    ///
    /// # Errors
    ///
    /// As [`Child::signal`].
    pub fn signal(&self, sig: impl IntoSignal) -> Result<(), Error> {
        self.target.send(sig.into_signal()?)
    }
}
