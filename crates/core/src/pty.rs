//! Pseudo-terminals for children: a new one per spawn or a caller's pair,
//! the parent's master side, and window sizes.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use nix::fcntl::OFlag;
use nix::libc;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::sys;
use crate::sys::registration::{Direction, Registration};

/// A terminal window size: rows and columns, and optionally pixels.
///
/// ```
/// use procwire_core::PtySize;
/// let size = PtySize::new(50, 132);
/// assert_eq!((size.rows, size.cols), (50, 132));
/// assert_eq!(PtySize::default(), PtySize::new(24, 80));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PtySize {
    /// Rows (lines).
    pub rows: u16,
    /// Columns (characters per line).
    pub cols: u16,
    /// Width in pixels; 0 when unknown.
    pub pixel_width: u16,
    /// Height in pixels; 0 when unknown.
    pub pixel_height: u16,
}

impl PtySize {
    /// `rows` x `cols`, pixel size unknown.
    pub const fn new(rows: u16, cols: u16) -> Self {
        PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }
    }

    /// The same size, with its width and height in pixels.
    ///
    /// ```
    /// let size = procwire_core::PtySize::new(40, 100).with_pixels(800, 600);
    /// assert_eq!((size.pixel_width, size.pixel_height), (800, 600));
    /// ```
    pub const fn with_pixels(self, width: u16, height: u16) -> Self {
        PtySize { pixel_width: width, pixel_height: height, ..self }
    }
}

impl Default for PtySize {
    /// The classic 24 x 80.
    fn default() -> Self {
        PtySize::new(24, 80)
    }
}

/// How the command gets its terminal.
#[derive(Debug, Clone)]
pub(crate) enum PtySpec {
    /// A new pseudo-terminal per spawn, with this size.
    New(PtySize),
    /// A caller-supplied pair, shared by the command's clones.
    Pair { master: Arc<OwnedFd>, slave: Arc<OwnedFd> },
}

/// A caller's pair is equal only to itself (and its clones).
impl PartialEq for PtySpec {
    fn eq(&self, other: &PtySpec) -> bool {
        match (self, other) {
            (PtySpec::New(a), PtySpec::New(b)) => a == b,
            (PtySpec::Pair { master: a, slave: b }, PtySpec::Pair { master: c, slave: d }) => {
                Arc::ptr_eq(a, c) && Arc::ptr_eq(b, d)
            }
            _ => false,
        }
    }
}

impl Eq for PtySpec {}

/// The parent's side of a spawn's terminal, and the child's.
pub(crate) struct OpenedPty {
    /// Registered with the reactor before the spawn, so nothing can fail
    /// between the spawn and handing the child its `Child`.
    pub(crate) master: PtyMaster,
    /// The slave, owned for a new pty (`None` for a caller's pair, whose
    /// slave the command keeps): held open until the child has it, then
    /// closed with this value, so the master sees EOF when the child's
    /// side closes.
    pub(crate) _slave: Option<OwnedFd>,
    /// The slave's number in this process, to map onto the child's 0/1/2.
    pub(crate) slave_fd: RawFd,
    /// The slave's path, opened again in the child to make it the
    /// controlling terminal.
    pub(crate) slave_path: CString,
}

impl PtySpec {
    /// Opens (or duplicates) the terminal for one spawn.
    pub(crate) fn open(&self) -> io::Result<OpenedPty> {
        match self {
            PtySpec::New(size) => {
                let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
                nix::pty::grantpt(&master)?;
                nix::pty::unlockpt(&master)?;
                let slave_path = sys::pty::slave_name(master.as_fd())?;
                let slave = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
                    .open(std::ffi::OsStr::from_bytes(slave_path.as_bytes()))?;
                let master = OwnedFd::from(master);
                set_size(master.as_fd(), *size)?;
                let slave = OwnedFd::from(slave);
                let master = PtyMaster::new(master)?;
                Ok(OpenedPty { master, slave_fd: slave.as_raw_fd(), _slave: Some(slave), slave_path })
            }
            PtySpec::Pair { master, slave } => {
                let link = nix::unistd::ttyname(slave.as_fd())?;
                let slave_path =
                    CString::new(link.into_os_string().into_encoded_bytes()).map_err(io::Error::other)?;
                let master = PtyMaster::new(master.try_clone()?)?;
                Ok(OpenedPty { master, _slave: None, slave_fd: slave.as_raw_fd(), slave_path })
            }
        }
    }
}

/// The terminal's EOF character if it is in canonical mode and has one
/// (`VEOF` not `_POSIX_VDISABLE`), `None` otherwise. On a master, the
/// termios read is the slave's: the terminal the child has.
fn eof_char(master: BorrowedFd<'_>) -> io::Result<Option<u8>> {
    use nix::sys::termios::{tcgetattr, LocalFlags, SpecialCharacterIndices};
    let termios = tcgetattr(master)?;
    let eof = termios.control_chars[SpecialCharacterIndices::VEOF as usize];
    let canonical = termios.local_flags.contains(LocalFlags::ICANON);
    Ok((canonical && eof != libc::_POSIX_VDISABLE).then_some(eof))
}

fn set_size(fd: BorrowedFd<'_>, size: PtySize) -> io::Result<()> {
    sys::pty::set_window_size(fd, size.rows, size.cols, size.pixel_width, size.pixel_height)
}

/// The parent's side of a child's pseudo-terminal: what the child writes
/// to its terminal is read here, and what is written here is typed into
/// it.
///
/// Reading returns end of file once the child side is closed everywhere
/// (Linux reports `EIO` then; procwire turns it into EOF). Line endings are
/// the terminal's: the child's `"\n"` arrives as `"\r\n"`.
/// [`shutdown`](https://docs.rs/tokio/1/tokio/io/trait.AsyncWriteExt.html#method.shutdown) does nothing; to signal
/// end of input to a program reading its terminal in canonical mode, write
/// the EOF character (`b"\x04"`, Ctrl-D). Dropping the master hangs the
/// terminal up: the child's session gets SIGHUP.
///
/// For concurrent reading and writing, [`into_split`](Self::into_split)
/// gives two owned halves (or use `tokio::io::split`).
///
/// Like the pipes, the master (and each half) registers with the reactor
/// of the runtime that polls it, so it can be used from another runtime
/// than the one that spawned the child, also after that one was dropped.
/// The master holds two descriptors of the terminal (a `dup`), so that
/// each half has its own registration. Polling it from another runtime
/// built without IO enabled panics, as for any tokio IO resource.
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use procwire_core::{Command, PtySize};
/// use tokio::io::AsyncReadExt;
///
/// let mut child = Command::new("stty").arg("size").pty(PtySize::new(40, 100)).spawn()?;
/// let mut out = String::new();
/// child.take_pty().unwrap().read_to_string(&mut out).await?;
/// assert_eq!(out, "40 100\r\n");
/// child.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PtyMaster {
    inner: Registration<OwnedFd>,
    /// A second descriptor of the master, for the writing half of
    /// [`into_split`](Self::into_split). Made here, where an error can
    /// still be reported by the spawn.
    spare: OwnedFd,
}

impl PtyMaster {
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Self> {
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_RDWR | OFlag::O_NONBLOCK))?;
        let spare = fd.try_clone()?;
        Ok(PtyMaster { inner: Registration::new(fd, Interest::READABLE | Interest::WRITABLE)?, spare })
    }

    /// Sets the window size (`TIOCSWINSZ`); the child's foreground process
    /// group gets SIGWINCH.
    pub fn resize(&self, size: PtySize) -> io::Result<()> {
        set_size(self.as_fd(), size)
    }

    /// The current window size (`TIOCGWINSZ`).
    pub fn size(&self) -> io::Result<PtySize> {
        let (rows, cols, pixel_width, pixel_height) = sys::pty::window_size(self.as_fd())?;
        Ok(PtySize { rows, cols, pixel_width, pixel_height })
    }

    /// What [`Child::wait`](crate::Child::wait) does with a terminal nobody
    /// took: reads what the child wrote and throws it away, until it would
    /// block (or the child side is closed everywhere), and gives the child
    /// end of file once: the terminal's EOF character (`VEOF`, Ctrl-D
    /// unless changed), written the first time this finds the terminal in
    /// canonical mode, where a read at the start of a line returns 0 for
    /// it. `eof_given` says it went (or cannot: no EOF character, or the
    /// write failed). Registers `cx` for more output, and for room to
    /// write the EOF character.
    pub(crate) fn serve_untaken(&mut self, cx: &mut Context<'_>, eof_given: &mut bool) {
        if !*eof_given {
            match eof_char(self.as_fd()) {
                Ok(Some(eof)) => match poll_write(&mut self.inner, cx, &[eof]) {
                    Poll::Pending => {}
                    Poll::Ready(_) => *eof_given = true,
                },
                // Not in canonical mode now: looked at again next time.
                Ok(None) => {}
                Err(_) => *eof_given = true,
            }
        }
        let mut scratch = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
        loop {
            let mut buf = ReadBuf::uninit(&mut scratch);
            match poll_read(&mut self.inner, cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {}
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                // End of file (the child side is closed everywhere), a
                // failure, or nothing more for now.
                _ => return,
            }
        }
    }

    /// Splits into a reading and a writing half that can live in different
    /// tasks; both can [`resize`](Self::resize).
    pub fn into_split(self) -> (PtyReadHalf, PtyWriteHalf) {
        let write = Registration::lazy(self.spare, Interest::WRITABLE);
        (PtyReadHalf { inner: self.inner }, PtyWriteHalf { inner: write })
    }
}

impl AsFd for PtyMaster {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get_ref().as_fd()
    }
}

fn poll_read(
    inner: &mut Registration<OwnedFd>,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let read = inner.poll_io(cx, Direction::Read, |fd| match sys::io::read_buf(fd, buf) {
        // The slave is closed everywhere: that is end of file.
        Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(0),
        result => result,
    });
    read.map_ok(drop)
}

fn poll_write(
    inner: &mut Registration<OwnedFd>,
    cx: &mut Context<'_>,
    data: &[u8],
) -> Poll<io::Result<usize>> {
    inner.poll_io(cx, Direction::Write, |fd| match sys::io::write(fd, data) {
        Err(e) if e.raw_os_error() == Some(libc::EIO) => {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "the terminal was closed"))
        }
        result => result,
    })
}

macro_rules! pty_io {
    ($ty:ty, read) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read(&mut self.get_mut().inner, cx, buf)
            }
        }
    };
    ($ty:ty, write) => {
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                data: &[u8],
            ) -> Poll<io::Result<usize>> {
                poll_write(&mut self.get_mut().inner, cx, data)
            }
            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
    };
}

pty_io!(PtyMaster, read);
pty_io!(PtyMaster, write);

/// The reading half of a [`PtyMaster`], from [`PtyMaster::into_split`].
#[derive(Debug)]
pub struct PtyReadHalf {
    inner: Registration<OwnedFd>,
}

/// The writing half of a [`PtyMaster`], from [`PtyMaster::into_split`].
#[derive(Debug)]
pub struct PtyWriteHalf {
    inner: Registration<OwnedFd>,
}

pty_io!(PtyReadHalf, read);
pty_io!(PtyWriteHalf, write);

impl PtyReadHalf {
    /// Sets the window size; see [`PtyMaster::resize`].
    pub fn resize(&self, size: PtySize) -> io::Result<()> {
        set_size(self.inner.get_ref().as_fd(), size)
    }
}

impl PtyWriteHalf {
    /// Sets the window size; see [`PtyMaster::resize`].
    pub fn resize(&self, size: PtySize) -> io::Result<()> {
        set_size(self.inner.get_ref().as_fd(), size)
    }
}
