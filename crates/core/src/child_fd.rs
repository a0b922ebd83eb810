//! What one of the child's descriptors is connected to: a pipe either
//! way, one of the parent's fds, `/dev/null`, or a descriptor handed over.

use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use crate::error::Error;
use crate::pipe::{ChildReader, ChildWriter};

/// What one child fd is connected to: a pipe the parent reads
/// ([`ReadPipe`](ChildFd::ReadPipe)), a pipe the parent writes
/// ([`WritePipe`](ChildFd::WritePipe)), one of the parent's fds
/// ([`Parent`](ChildFd::Parent)), `/dev/null` ([`Null`](ChildFd::Null)),
/// or a descriptor handed over ([`Fd`](ChildFd::Fd)).
///
/// These docs write a whole map as `{0: "w", 1: "r", 2: 2}`: `"r"` is a
/// `ReadPipe`, `"w"` a `WritePipe`, a number `N` is `Parent(N)` (the
/// spelling of Twisted's `childFDs`, which [`from_twisted`](Self::from_twisted)
/// parses).
///
/// Another child's pipe end converts into a `ChildFd` (`From<ChildReader>`,
/// `TryFrom<ChildWriter>`), which is how a shell pipeline is built; see
/// [`ChildReader`].
///
/// Fds 0, 1 and 2 left unset get the spawning consumer's
/// [`StdioDefaults`](crate::StdioDefaults) (`{0: "w", 1: "r", 2: 2}` for
/// [`Command::spawn`](crate::Command::spawn), `{0: "w", 1: "r", 2: "r"}`
/// for the protocol driver). Child fds not in the map are closed in the
/// child, close-on-exec or not.
///
/// # Example
///
/// ```no_run
/// # async fn doc() -> Result<(), procwire_core::Error> {
/// use procwire_core::{ChildFd, Command};
///
/// // gpg --passphrase-fd 3 --status-fd 4, with stderr shared with ours.
/// let mut cmd = Command::new("gpg");
/// cmd.args(["--batch", "--decrypt", "--passphrase-fd", "3", "--status-fd", "4"])
///     .child_fd(2, ChildFd::Parent(2))
///     .child_fd(3, ChildFd::WritePipe)
///     .child_fd(4, ChildFd::ReadPipe);
/// let mut child = cmd.spawn()?;
/// let passphrase = child.take_writer(3).expect("fd 3 is a pipe we write");
/// let status = child.take_reader(4).expect("fd 4 is a pipe we read");
/// # drop((passphrase, status)); Ok(()) }
/// ```
#[non_exhaustive]
pub enum ChildFd {
    /// A pipe the child writes and the parent reads (`"r"`); the
    /// parent's end is [`Child::take_reader`](crate::Child::take_reader).
    ReadPipe,
    /// A pipe the parent writes and the child reads (`"w"`); the
    /// parent's end is [`Child::take_writer`](crate::Child::take_writer).
    WritePipe,
    /// The parent's own fd with this number, shared with the child (`N`
    /// in a map; `{0: 0, 1: 1, 2: 2}` inherits stdio). It
    /// reaches the child even if it is close-on-exec in the parent. It must
    /// be open when `spawn()` runs.
    ///
    /// The child gets a blocking descriptor even if the parent's is
    /// non-blocking (`O_NONBLOCK` is a flag of the open file description,
    /// which a plain copy would share, and most programs fail on `EAGAIN`):
    /// for a pipe or FIFO, spawn opens a new description of the same pipe
    /// (through `/proc/self/fd/N`, same access mode) for the child, and the
    /// parent's own descriptor is left unchanged. Other non-blocking
    /// descriptors (sockets, terminals) cannot be opened again that way and
    /// reach the child non-blocking, as they are.
    Parent(RawFd),
    /// `/dev/null`, opened read-write.
    Null,
    /// A descriptor handed over to the command; each spawn gives the child
    /// a copy, and the command closes it when dropped. Until then the
    /// command holds it open too: hand over a pipe's write end and its
    /// reader sees end of file only once the child has closed its copy
    /// *and* the command is dropped.
    ///
    /// As with [`Parent`](ChildFd::Parent), a non-blocking pipe or FIFO
    /// reaches the child as a new, blocking description of the same pipe;
    /// the descriptor held by the command is left unchanged. A non-blocking
    /// socket or terminal reaches the child as it is.
    Fd(OwnedFd),
}

impl ChildFd {
    /// Parses a map's string values: `"r"` is
    /// [`ReadPipe`](ChildFd::ReadPipe), `"w"` is
    /// [`WritePipe`](ChildFd::WritePipe), anything else `None`. They are
    /// Twisted's `childFDs` strings.
    pub fn from_twisted(value: &str) -> Option<ChildFd> {
        match value {
            "r" => Some(ChildFd::ReadPipe),
            "w" => Some(ChildFd::WritePipe),
            _ => None,
        }
    }
}

impl fmt::Debug for ChildFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildFd::ReadPipe => f.write_str("ReadPipe(\"r\")"),
            ChildFd::WritePipe => f.write_str("WritePipe(\"w\")"),
            ChildFd::Parent(fd) => write!(f, "Parent({fd})"),
            ChildFd::Null => f.write_str("Null"),
            ChildFd::Fd(fd) => write!(f, "Fd({})", fd.as_raw_fd()),
        }
    }
}

impl From<OwnedFd> for ChildFd {
    fn from(fd: OwnedFd) -> Self {
        ChildFd::Fd(fd)
    }
}

impl From<std::fs::File> for ChildFd {
    fn from(file: std::fs::File) -> Self {
        ChildFd::Fd(file.into())
    }
}

/// The pipe end of another child, as a blocking descriptor
/// ([`ChildReader::into_owned_fd`]): `seq | grep` is
/// `Command::new("grep").stdin(seq.take_reader(1).unwrap().into())`.
impl From<ChildReader> for ChildFd {
    fn from(reader: ChildReader) -> Self {
        ChildFd::Fd(reader.into_owned_fd())
    }
}

/// The pipe end of another child, as a blocking descriptor
/// ([`ChildWriter::into_owned_fd`]): the new child writes into the other
/// child's input.
///
/// # Errors
///
/// [`Error::PipeClosed`] if the writer was closed already: there is no
/// descriptor left to give.
impl TryFrom<ChildWriter> for ChildFd {
    type Error = Error;

    fn try_from(writer: ChildWriter) -> Result<Self, Error> {
        let fd = writer.child_fd();
        writer.into_owned_fd().map(ChildFd::Fd).ok_or(Error::PipeClosed { fd })
    }
}

/// The read end of a `std::io::pipe()`: the child reads what the parent (or
/// whoever holds the writer) writes.
impl From<std::io::PipeReader> for ChildFd {
    fn from(reader: std::io::PipeReader) -> Self {
        ChildFd::Fd(reader.into())
    }
}

/// The write end of a `std::io::pipe()`: what the child writes goes to the
/// reader.
impl From<std::io::PipeWriter> for ChildFd {
    fn from(writer: std::io::PipeWriter) -> Self {
        ChildFd::Fd(writer.into())
    }
}

/// A [`ChildFd`] as a [`Command`](crate::Command) keeps it: a descriptor
/// handed over is shared, so the command can be cloned and spawned again.
#[derive(Clone)]
pub(crate) enum Entry {
    ReadPipe,
    WritePipe,
    Parent(RawFd),
    Null,
    Fd(Arc<OwnedFd>),
}

impl From<ChildFd> for Entry {
    fn from(fd: ChildFd) -> Entry {
        match fd {
            ChildFd::ReadPipe => Entry::ReadPipe,
            ChildFd::WritePipe => Entry::WritePipe,
            ChildFd::Parent(n) => Entry::Parent(n),
            ChildFd::Null => Entry::Null,
            ChildFd::Fd(fd) => Entry::Fd(Arc::new(fd)),
        }
    }
}

/// A descriptor handed over is equal only to itself (and its clones).
impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        match (self, other) {
            (Entry::ReadPipe, Entry::ReadPipe)
            | (Entry::WritePipe, Entry::WritePipe)
            | (Entry::Null, Entry::Null) => true,
            (Entry::Parent(a), Entry::Parent(b)) => a == b,
            (Entry::Fd(a), Entry::Fd(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Entry {}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::ReadPipe => f.write_str("ReadPipe(\"r\")"),
            Entry::WritePipe => f.write_str("WritePipe(\"w\")"),
            Entry::Parent(fd) => write!(f, "Parent({fd})"),
            Entry::Null => f.write_str("Null"),
            Entry::Fd(fd) => write!(f, "Fd({})", fd.as_raw_fd()),
        }
    }
}
