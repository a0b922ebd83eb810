//! Output sent straight to a file ([`ProgramSpec::output_file`]): the
//! file is opened again at each spawn, on the supervisor's task, and the
//! child gets the descriptor; the supervisor keeps no copy and reads
//! nothing.
//!
//! [`ProgramSpec::output_file`]: crate::ProgramSpec::output_file

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use procwire_core::{ChildFd, Command, SpawnStep};

/// How an output file is opened at each spawn
/// ([`ProgramSpec::output_file`](crate::ProgramSpec::output_file)).
///
/// ```
/// use procwire_core::Command;
/// use procwire_supervisor::{FileMode, ProgramSpec};
///
/// let mut web = ProgramSpec::new("web", Command::new("./web"));
/// web.output_file(1, "/var/log/web.log", FileMode::Append);
/// assert_eq!(web.get_output_file(1).map(|(_, mode)| mode), Some(FileMode::Append));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileMode {
    /// `O_APPEND`: every write goes to the end of the file, after what
    /// earlier incarnations (or anyone else) wrote. systemd's `append:`.
    Append,
    /// `O_TRUNC`: the file is emptied at each spawn, and holds only the
    /// output of the incarnation that runs. systemd's `truncate:`.
    Truncate,
}

/// One output file of a spec: where, and how it is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutputFile {
    pub(crate) path: PathBuf,
    pub(crate) mode: FileMode,
}

/// Opens each of `files` (child fd -> file) and maps it on `command`, in
/// place of whatever the command mapped that fd to.
///
/// # Errors
///
/// See [`open_all`]; nothing is mapped then.
pub(crate) fn redirect(
    command: &mut Command,
    files: &BTreeMap<i32, OutputFile>,
) -> Result<(), procwire_core::Error> {
    for (fd, file) in open_all(files, &command.get_program().to_string_lossy())? {
        command.child_fd(fd, ChildFd::Fd(file));
    }
    Ok(())
}

/// Opens each of `files`, in fd order. Two fds whose paths name the same
/// file share one open file (as `>f 2>&1` does): with the mode of the
/// lower fd, truncated if either asks.
///
/// # Errors
///
/// The first open that fails, as a spawn error of `program` at
/// [`SpawnStep::Pipes`] (the step that opens what the child's fds are
/// given), its text naming the path and the fd; the files opened before
/// it are closed.
fn open_all(
    files: &BTreeMap<i32, OutputFile>,
    program: &str,
) -> Result<Vec<(i32, OwnedFd)>, procwire_core::Error> {
    // (dev, inode) of each file opened, and where it is in `fds`.
    let mut opened: Vec<((u64, u64), usize)> = Vec::new();
    let mut fds: Vec<(i32, OwnedFd)> = Vec::with_capacity(files.len());
    for (&fd, file) in files {
        let error = |e: io::Error| procwire_core::Error::Spawn {
            program: program.to_owned(),
            step: SpawnStep::Pipes,
            source: io::Error::new(e.kind(), format!("open {:?} for fd {fd}: {e}", file.path)),
        };
        let new = open(file).map_err(error)?;
        let id = new.metadata().map(|m| (m.dev(), m.ino())).map_err(error)?;
        let shared = match opened.iter().find(|(seen, _)| *seen == id) {
            Some(&(_, at)) => fds[at].1.try_clone().map_err(error)?,
            None => {
                opened.push((id, fds.len()));
                OwnedFd::from(new)
            }
        };
        fds.push((fd, shared));
    }
    Ok(fds)
}

/// `open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND or O_TRUNC, 0o644)`:
/// a blocking descriptor (std sets `O_CLOEXEC`; the spawn gives the child
/// its own copy).
///
/// Opened `O_NONBLOCK`, then made blocking: the open runs on the
/// supervisor's task, and a FIFO nobody reads (or a terminal waiting for
/// its carrier) would block it there, hanging every program; a FIFO
/// without a reader fails with `ENXIO` instead.
fn open(file: &OutputFile) -> io::Result<File> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let mut options = OpenOptions::new();
    options.write(true).create(true).mode(0o644).custom_flags(nix::libc::O_NONBLOCK);
    match file.mode {
        FileMode::Append => options.append(true),
        FileMode::Truncate => options.truncate(true),
    };
    let file = options.open(&file.path)?;
    let flags = OFlag::from_bits_truncate(fcntl(&file, FcntlArg::F_GETFL)?);
    fcntl(&file, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn scratch(what: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("procwire-output-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        dir
    }

    fn files(list: &[(i32, &std::path::Path, FileMode)]) -> BTreeMap<i32, OutputFile> {
        list.iter().map(|&(fd, path, mode)| (fd, OutputFile { path: path.to_owned(), mode })).collect()
    }

    #[test]
    fn each_open_follows_its_mode_and_creates_the_file_0644() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("modes");
        let path = dir.join("out.log");
        std::fs::write(&path, "before\n").unwrap();
        let mut append = open(&OutputFile { path: path.clone(), mode: FileMode::Append }).unwrap();
        append.write_all(b"appended\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before\nappended\n");
        drop(open(&OutputFile { path: path.clone(), mode: FileMode::Truncate }).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        let new = dir.join("new.log");
        drop(open(&OutputFile { path: new.clone(), mode: FileMode::Append }).unwrap());
        let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
        // The umask may take bits away, never add them.
        assert_eq!(mode & !0o644, 0, "{mode:o}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Two fds naming one file (by two spellings) share one open file:
    /// what one writes, the other writes after, never over.
    #[test]
    fn two_fds_on_one_file_share_one_open_file() {
        let dir = scratch("shared");
        let path = dir.join("both.log");
        std::fs::write(&path, "old content\n").unwrap();
        let other_spelling = dir.join(".").join("both.log");
        let files = files(&[(1, &path, FileMode::Truncate), (2, &other_spelling, FileMode::Truncate)]);
        let fds = open_all(&files, "p").unwrap();
        assert_eq!(fds.iter().map(|(fd, _)| *fd).collect::<Vec<_>>(), [1, 2]);
        let mut out = fds.into_iter().map(|(_, fd)| File::from(fd));
        let (mut one, mut two) = (out.next().unwrap(), out.next().unwrap());
        one.write_all(b"one\n").unwrap();
        two.write_all(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A FIFO nobody reads fails at once (`ENXIO`) instead of blocking
    /// the supervisor's task; one with a reader gives a blocking fd.
    #[test]
    fn a_fifo_without_a_reader_fails_at_once_and_with_one_is_blocking() {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let dir = scratch("fifo");
        let fifo = dir.join("pipe");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let out = OutputFile { path: fifo.clone(), mode: FileMode::Append };
        let err = open(&out).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENXIO), "{err}");
        let reader = OpenOptions::new().read(true).custom_flags(nix::libc::O_NONBLOCK).open(&fifo).unwrap();
        let writer = open(&out).unwrap();
        let flags = OFlag::from_bits_truncate(fcntl(&writer, FcntlArg::F_GETFL).unwrap());
        assert!(!flags.contains(OFlag::O_NONBLOCK), "{flags:?}");
        drop((reader, writer));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_open_that_fails_names_the_path_and_the_fd() {
        let dir = scratch("missing");
        let path = dir.join("no-such-dir").join("out.log");
        let mut command = Command::new("web");
        let err = redirect(&mut command, &files(&[(2, &path, FileMode::Append)])).unwrap_err();
        match &err {
            procwire_core::Error::Spawn { step: SpawnStep::Pipes, source, .. } => {
                assert_eq!(source.kind(), io::ErrorKind::NotFound)
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains(&format!("{path:?}")) && text.contains("fd 2") && text.contains("`web`"),
            "{text}"
        );
        // Nothing mapped: the command is as it was.
        assert_eq!(format!("{command:?}"), format!("{:?}", Command::new("web")));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
