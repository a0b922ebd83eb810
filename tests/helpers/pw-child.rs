//! `pw-child`: a scriptable child process for the procwire integration tests.
//!
//! Usage: `pw-child STEP STEP ...`. Each argument is one step, run in order;
//! after the last step the program exits 0. A step is `name` or
//! `name:field:field...`; it is split into at most as many fields as the step
//! takes, so the last field may itself contain `:`. TEXT fields understand the
//! escapes `\n`, `\t`, `\\` and `\xHH`. The program never assumes that fds
//! 0, 1 or 2 are open and never prints through std's stdout/stderr buffers.
//!
//! | step                 | effect                                                         | exit on failure |
//! |----------------------|----------------------------------------------------------------|-----------------|
//! | `report:FD`          | own fd table to FD, one line per fd (below), then `end`        | 103             |
//! | `read:FD:N:TEXT`     | read exactly N bytes from FD; they must equal TEXT             | 101             |
//! | `write:FD:TEXT`      | write all of TEXT to FD                                        | 103             |
//! | `close:FD`           | close FD                                                       | 104             |
//! | `expect-eof:FD`      | one read from FD must return EOF (0 bytes)                     | 102             |
//! | `drain:FD`           | read FD until EOF, discarding                                  | 107             |
//! | `echo:IN:OUT`        | copy IN to OUT until EOF on IN, 64 KiB at a time               | 103             |
//! | `echo-bytes:IN:OUT`  | the same, one byte per read and per write                      | 103             |
//! | `fill:FD:N`          | write N bytes to FD; byte i is `i % 251`                       | 103             |
//! | `argv:FD`            | each argv element (argv\[0\] too) as hex, one a line, `end`    | 103             |
//! | `env:FD`             | each `KEY=VALUE` as hex, sorted, one a line, `end`             | 103             |
//! | `sigstate:FD`        | `ignored=2,13`, `blocked=...` (of 1..=64, may be empty), `end` | 103             |
//! | `pid:FD`, `ppid:FD`  | own / parent pid in decimal, `\n`                              | 103             |
//! | `cwd:FD`             | current directory (raw bytes), `\n`                            | 103             |
//! | `sleep-ms:N`         | sleep N milliseconds                                           |                 |
//! | `spin-ms:N`          | keep one CPU busy for N milliseconds (a load for other work)   |                 |
//! | `exit:CODE`          | exit at once with CODE                                         |                 |
//! | `kill:SIG`           | raise SIG against itself                                       | 105 if alive    |
//! | `trap:SIG`           | catch SIG, for the two steps below (see below)                 | 107 for 9, 19   |
//! | `await-trap:FD:TEXT` | wait for a trapped signal unless one came already, write TEXT  | 106 after 30 s  |
//! | `wait-signal`        | wait for one trapped signal (none trapped: wait to be killed)  |                 |
//! | `grandchild:SECS`    | spawn `sleep SECS` (all non-CLOEXEC fds inherited), no wait    | 107             |
//! | `notify:TEXT`        | TEXT as one datagram to `$NOTIFY_SOCKET` (`@abstract` or path) | 108             |
//! | `notify-size:N`      | a datagram of N bytes `X` to `$NOTIFY_SOCKET`                  | 108             |
//!
//! A report line is `fd=N kind=K acc=A cloexec=C nonblock=B dev=D ino=I`,
//! sorted by N, with K one of `fifo chr reg dir sock lnk blk other`, A one of
//! `r w rw`, C and B 0 or 1 (close-on-exec; `O_NONBLOCK` in the file status
//! flags), and D, I the decimal st_dev and st_ino. It is built from
//! `/proc/self/fd` and `/proc/self/fdinfo`; `sigstate` reads the `SigIgn` and
//! `SigBlk` masks of `/proc/thread-self/status`, so it shows glibc's reserved
//! signals 32 and 33 too. Exit 100 means an unknown step or a malformed field
//! (message `pw-child: bad step STEP` on fd 2), 107 any other unexpected
//! syscall failure. Reads and writes are retried on EINTR.
//!
//! SIG is the number of a standard signal, 1 to 31 (realtime signals are not
//! supported: exit 100). `trap` catches SIG without a handler: it blocks SIG,
//! and `await-trap` or `wait-signal` take a pending SIG with a signalfd. Once
//! one has been taken, every later `await-trap` writes at once; `wait-signal`
//! returns at once if a trapped signal is pending already. A SIG that the
//! parent left blocked stays blocked and is never taken, as a handler would
//! never have run. Otherwise a trapped signal counts as caught: `sigstate`
//! lists it as neither ignored nor blocked, and `grandchild` starts `sleep`
//! with it at SIG_DFL and not blocked, as after an exec. (`sleep` also gets
//! SIGPIPE at SIG_DFL and the rest of the signal mask, as from std's spawn.)
//!
//! How a step reaches fd N: fds 0, 1 and 2 are read and written as they are;
//! so is a socket (with `recv(2)` and `send(2)`). Any other fd is reopened
//! through `/proc/self/fd/N` for the step (and closed at its end): the same
//! pipe or file, with the O_APPEND and O_NONBLOCK flags of N. Reading a
//! write-only fd or writing a read-only one still fails with EBADF, and writing
//! to a pipe that has no reader raises SIGPIPE and fails with EPIPE, as a
//! `write(2)` to N would. For a regular file or block device the offset of N
//! is emulated: a step starts where the previous steps on N left off, counted
//! from N's own offset, but N's own offset is left unchanged.
//!
//! The program has no Rust `main`: std's runtime start-up would open
//! `/dev/null` on closed fds 0-2 and set SIGPIPE to SIG_IGN, which would hide
//! exactly what the tests look at.
#![no_main]

use std::ascii::escape_default;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CString};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
#[cfg(target_os = "linux")]
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::spawn::{posix_spawnp, PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
use nix::sys::signal::{raise, SigSet, Signal};
#[cfg(target_os = "linux")]
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{recv, send, MsgFlags};

const CHUNK: usize = 64 * 1024;
/// Set once a trapped signal has been taken by `await-trap` or `wait-signal`.
static TRAPPED: AtomicBool = AtomicBool::new(false);
/// The trapped signals (bit n-1 for signal n): as if caught by a handler.
static CAUGHT: AtomicU64 = AtomicU64::new(0);
/// The trapped signals that `trap` blocked, which the steps can wait for.
static WAITABLE: AtomicU64 = AtomicU64::new(0);
/// Per fd number, how far the steps have moved the emulated offset of a
/// reopened regular file away from the fd's own offset.
static OFFSETS: Mutex<BTreeMap<c_int, i64>> = Mutex::new(BTreeMap::new());

#[no_mangle]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    for arg in std::env::args_os().skip(1) {
        let step = arg.as_bytes();
        if run_step(step).is_none() {
            die(100, [b"pw-child: bad step ", step, b"\n"].concat());
        }
    }
    0
}

/// Runs one step; `None` means the step is unknown or malformed.
fn run_step(step: &[u8]) -> Option<()> {
    let (name, rest) = match step.iter().position(|&b| b == b':') {
        Some(i) => (&step[..i], Some(&step[i + 1..])),
        None => (step, None),
    };
    let f = &mut Fields(rest);
    match name {
        b"report" => report(f.last()?),
        b"read" => read_expect(f.num()?, f.num()?, &f.text()?),
        b"write" => put(f.num()?, &f.text()?),
        b"close" => close(f.last()?),
        b"expect-eof" => expect_eof(f.last()?),
        b"drain" => copy(f.last()?, None, CHUNK),
        b"echo" => copy(f.num()?, Some(f.last()?), CHUNK),
        b"echo-bytes" => copy(f.num()?, Some(f.last()?), 1),
        b"fill" => fill(f.num()?, f.last()?),
        b"argv" => put_hex_lines(f.last()?, std::env::args_os().map(|a| a.into_vec())),
        b"env" => put_hex_lines(f.last()?, env_entries()),
        b"sigstate" => sigstate(f.last()?),
        b"pid" => put_line(f.last()?, std::process::id()),
        b"ppid" => put_line(f.last()?, std::os::unix::process::parent_id()),
        b"cwd" => cwd(f.last()?),
        b"sleep-ms" => std::thread::sleep(Duration::from_millis(f.last()?)),
        b"spin-ms" => spin(Duration::from_millis(f.last()?)),
        b"notify" => notify(&f.text()?),
        b"notify-size" => notify(&vec![b'X'; f.last()?]),
        b"exit" => std::process::exit(f.last()?),
        b"kill" => kill(f.signal()?),
        b"trap" => trap(f.signal()?),
        b"await-trap" => await_trap(f.num()?, &f.text()?),
        b"wait-signal" if rest.is_none() => wait_signal(),
        b"grandchild" => grandchild(f.field(true)?)?,
        _ => return None,
    }
    Some(())
}

/// The not yet consumed `:`-separated fields of a step.
struct Fields<'a>(Option<&'a [u8]>);

impl<'a> Fields<'a> {
    /// The next field: up to the next `:`, or all the rest if it is the `last`.
    fn field(&mut self, last: bool) -> Option<&'a [u8]> {
        let mut parts = self.0?.splitn(if last { 1 } else { 2 }, |&b| b == b':');
        let field = parts.next();
        self.0 = parts.next();
        field
    }

    /// The next field as a decimal number.
    fn num<T: std::str::FromStr>(&mut self) -> Option<T> {
        std::str::from_utf8(self.field(false)?).ok()?.parse().ok()
    }

    /// The last field as a decimal number.
    fn last<T: std::str::FromStr>(&mut self) -> Option<T> {
        std::str::from_utf8(self.field(true)?).ok()?.parse().ok()
    }

    /// The last field as the number of a standard signal.
    fn signal(&mut self) -> Option<Signal> {
        Signal::try_from(self.last::<c_int>()?).ok()
    }

    /// The last field (which may contain `:`), unescaped.
    fn text(&mut self) -> Option<Vec<u8>> {
        unescape(self.field(true)?)
    }
}

/// Decodes the `\n`, `\t`, `\\` and `\xHH` escapes of a TEXT field.
fn unescape(s: &[u8]) -> Option<Vec<u8>> {
    let hex = |b: Option<&u8>| (char::from(*b?)).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let (byte, used) = match (s[i], s.get(i + 1)) {
            (b'\\', Some(b'n')) => (b'\n', 2),
            (b'\\', Some(b't')) => (b'\t', 2),
            (b'\\', Some(b'\\')) => (b'\\', 2),
            (b'\\', Some(b'x')) => (u8::try_from(hex(s.get(i + 2))? * 16 + hex(s.get(i + 3))?).ok()?, 4),
            (b'\\', _) => return None,
            (b, _) => (b, 1),
        };
        out.push(byte);
        i += used;
    }
    Some(out)
}

/// Escapes bytes for a diagnostic message.
fn escape(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().flat_map(|&b| escape_default(b)).collect()
}

/// Writes a best-effort message to fd 2 and exits with `code`.
fn die(code: i32, msg: impl AsRef<[u8]>) -> ! {
    let _ = Port::new(2, true).write_all(msg.as_ref());
    std::process::exit(code)
}

/// Unwraps `res`, or exits with `code` and a message naming `what`.
fn check<T>(code: i32, what: &str, res: io::Result<T>) -> T {
    res.unwrap_or_else(|e| die(code, format!("pw-child: {what}: {e}\n")))
}

/// An `io::Error` for an errno value.
fn os_error(errno: c_int) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

/// An fd of the script as one step uses it: opened for the step at its first
/// read or write, released when the `Port` is dropped.
struct Port {
    /// The fd number.
    fd: c_int,
    /// Whether the step writes to the fd (else it reads from it).
    write: bool,
    /// How the fd is reached, once it is.
    chan: Option<Chan>,
}

impl Port {
    fn new(fd: c_int, write: bool) -> Self {
        Port { fd, write, chan: None }
    }

    fn chan(&mut self) -> io::Result<&mut Chan> {
        let chan = match self.chan.take() {
            Some(chan) => chan,
            None => Chan::open(self.fd, self.write)?,
        };
        Ok(self.chan.insert(chan))
    }

    /// One read, retried on EINTR.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.chan()?.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => return res,
            }
        }
    }

    /// Writes all of `buf`, retrying short writes and EINTR.
    fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.chan()?.write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// How a step reaches an fd of the script.
enum Chan {
    /// fd 0, 1 or 2, used as it is through std's handle for it.
    Std(Box<dyn AsFd>),
    /// A socket, used as it is by number.
    Socket(c_int),
    /// Any other fd, reopened; `base` is the offset a regular file started at.
    Reopened { fd: c_int, file: File, base: Option<u64> },
}

impl Chan {
    /// Reaches `fd` for reading or for `write`-ing.
    fn open(fd: c_int, write: bool) -> io::Result<Chan> {
        match fd {
            0 => return Ok(Chan::Std(Box::new(io::stdin()))),
            1 => return Ok(Chan::Std(Box::new(io::stdout()))),
            2 => return Ok(Chan::Std(Box::new(io::stderr()))),
            _ => {}
        }
        let path = format!("/proc/self/fd/{fd}");
        let kind = match std::fs::metadata(&path) {
            Ok(meta) => meta.file_type(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(os_error(libc::EBADF)),
            Err(e) => return Err(e),
        };
        if kind.is_socket() {
            return Ok(Chan::Socket(fd));
        }
        let info = FdInfo::of(fd).ok_or_else(|| os_error(libc::EBADF))?;
        let wrong_way = if write { libc::O_RDONLY } else { libc::O_WRONLY };
        #[cfg(target_os = "linux")]
        let path_only = info.flags & libc::O_PATH != 0;
        #[cfg(not(target_os = "linux"))]
        let path_only = false;
        if path_only || info.flags & libc::O_ACCMODE == wrong_way {
            return Err(os_error(libc::EBADF));
        }
        let mut file = match open_above_2(&path, write) {
            Err(e) if write && kind.is_fifo() && e.raw_os_error() == Some(libc::ENXIO) => {
                // No reader: what write(2) on the fd itself would do.
                let _ = raise(Signal::SIGPIPE);
                return Err(os_error(libc::EPIPE));
            }
            res => res?,
        };
        let keep = OFlag::from_bits_truncate(info.flags) & (OFlag::O_APPEND | OFlag::O_NONBLOCK);
        fcntl(&file, FcntlArg::F_SETFL(keep))?;
        let mut base = None;
        if kind.is_file() || kind.is_block_device() {
            let moved = lock_offsets().get(&fd).copied().unwrap_or(0);
            let start = u64::try_from(info.pos.saturating_add(moved)).unwrap_or(0);
            file.seek(SeekFrom::Start(start))?;
            base = Some(start);
        }
        Ok(Chan::Reopened { fd, file, base })
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Chan::Std(fd) => Ok(nix::unistd::read(fd.as_fd(), buf)?),
            Chan::Socket(fd) => Ok(recv(*fd, buf, MsgFlags::empty())?),
            Chan::Reopened { file, .. } => file.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Chan::Std(fd) => Ok(nix::unistd::write(fd.as_fd(), buf)?),
            Chan::Socket(fd) => Ok(send(*fd, buf, MsgFlags::empty())?),
            Chan::Reopened { file, .. } => file.write(buf),
        }
    }
}

impl Drop for Chan {
    fn drop(&mut self) {
        if let Chan::Reopened { fd, file, base: Some(base) } = self {
            if let Ok(end) = file.stream_position() {
                let moved = end.wrapping_sub(*base) as i64; // negative if an append went back
                *lock_offsets().entry(*fd).or_insert(0) += moved;
            }
        }
    }
}

fn lock_offsets() -> std::sync::MutexGuard<'static, BTreeMap<c_int, i64>> {
    OFFSETS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens `path` read-only or write-only, never blocking (on a FIFO) and never
/// as a controlling terminal, at an fd above 2, so that while it is open it
/// cannot stand in for a closed fd 0, 1 or 2.
fn open_above_2(path: &str, write: bool) -> io::Result<File> {
    let mut low = Vec::new();
    loop {
        let file = OpenOptions::new()
            .read(!write)
            .write(write)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?;
        if file.as_raw_fd() > 2 {
            return Ok(file);
        }
        low.push(file);
    }
}

/// What `/proc/self/fdinfo` tells about an fd.
struct FdInfo {
    /// The file offset.
    pos: i64,
    /// The open flags, with O_CLOEXEC for the close-on-exec flag.
    flags: c_int,
}

impl FdInfo {
    /// The info for `fd`, or `None` if `fd` is not open.
    fn of(fd: c_int) -> Option<FdInfo> {
        let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
        let field = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)).map(str::trim);
        Some(FdInfo {
            pos: field("pos:")?.parse().ok()?,
            flags: c_int::from_str_radix(field("flags:")?, 8).ok()?,
        })
    }
}

/// Writes `line` and a newline to `fd` or exits 103.
fn put_line(fd: c_int, line: impl std::fmt::Display) {
    put(fd, format!("{line}\n").as_bytes());
}

/// Writes all of `buf` to `fd` or exits 103.
fn put(fd: c_int, buf: &[u8]) {
    check(103, &format!("write to fd {fd}"), Port::new(fd, true).write_all(buf));
}

/// One datagram to `$NOTIFY_SOCKET`, as `sd_notify` sends it.
fn notify(msg: &[u8]) {
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(to) = std::env::var_os("NOTIFY_SOCKET") else { die(108, b"pw-child: no NOTIFY_SOCKET\n") };
    let to = to.into_vec();
    let addr = match to.strip_prefix(b"@") {
        #[cfg(target_os = "linux")]
        Some(name) => <SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name),
        #[cfg(not(target_os = "linux"))]
        Some(_) => die(108, b"pw-child: abstract socket names are Linux's\n"),
        None => SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(&to)),
    };
    let sent = UnixDatagram::unbound().and_then(|s| s.send_to_addr(msg, &addr?));
    check(108, "notify", sent.map(drop));
}

fn close(fd: c_int) {
    check(104, "close", nix::unistd::close(fd).map_err(io::Error::from));
    lock_offsets().remove(&fd);
}

fn read_expect(fd: c_int, n: usize, want: &[u8]) {
    let mut port = Port::new(fd, false);
    let mut got = vec![0u8; n];
    let mut have = 0;
    while have < n {
        match check(107, &format!("read from fd {fd}"), port.read(&mut got[have..])) {
            0 => break,
            k => have += k,
        }
    }
    drop(port);
    if &got[..have] != want {
        let head = format!("pw-child: read mismatch on fd {fd}: got ");
        die(101, [head.as_bytes(), &escape(&got[..have]), b"\n"].concat());
    }
}

fn expect_eof(fd: c_int) {
    let res = Port::new(fd, false).read(&mut [0u8; 256]);
    match res {
        Ok(0) => {}
        Ok(k) => die(102, format!("pw-child: fd {fd}: {k} bytes, not EOF\n")),
        Err(e) => die(102, format!("pw-child: expected EOF on fd {fd}: {e}\n")),
    }
}

/// Copies `input` to `out` (or nowhere) until EOF, `chunk` bytes at a time.
fn copy(input: c_int, out: Option<c_int>, chunk: usize) {
    let mut from = Port::new(input, false);
    let mut to = out.map(|o| Port::new(o, true));
    let mut buf = vec![0u8; chunk];
    loop {
        let what = format!("read from fd {input}");
        match check(107, &what, from.read(&mut buf)) {
            0 => return,
            k => {
                if let Some(to) = &mut to {
                    let what = format!("write to fd {}", to.fd);
                    check(103, &what, to.write_all(&buf[..k]));
                }
            }
        }
    }
}

/// Runs on one CPU, never sleeping, for `time`.
fn spin(time: Duration) {
    let end = Instant::now() + time;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

fn fill(fd: c_int, n: u64) {
    let mut port = Port::new(fd, true);
    let mut i = 0u64;
    while i < n {
        let end = n.min(i + CHUNK as u64);
        let bytes: Vec<u8> = (i..end).map(|j| (j % 251) as u8).collect();
        check(103, &format!("write to fd {fd}"), port.write_all(&bytes));
        i = end;
    }
}

/// Writes each entry as lowercase hex on its own line, then `end`.
fn put_hex_lines(fd: c_int, entries: impl IntoIterator<Item = Vec<u8>>) {
    let mut text = String::new();
    for entry in entries {
        text.extend(entry.iter().map(|b| format!("{b:02x}")));
        text.push('\n');
    }
    put(fd, format!("{text}end\n").as_bytes());
}

fn env_entries() -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> =
        std::env::vars_os().map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat()).collect();
    all.sort();
    all
}

fn cwd(fd: c_int) {
    let dir = check(107, "getcwd", std::env::current_dir());
    put(fd, &[dir.as_os_str().as_bytes(), b"\n"].concat());
}

fn report(out: c_int) {
    let mut fds: Vec<c_int> = check(107, "/proc/self/fd", std::fs::read_dir("/proc/self/fd"))
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect(); // the directory's own fd is closed again here
    fds.sort_unstable();
    let mut text = String::new();
    for fd in fds {
        let meta = match std::fs::metadata(format!("/proc/self/fd/{fd}")) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // the directory's fd
            Err(e) => die(107, format!("pw-child: stat fd {fd}: {e}\n")),
        };
        let Some(info) = FdInfo::of(fd) else {
            continue;
        };
        let t = meta.file_type();
        let kind = if t.is_fifo() {
            "fifo"
        } else if t.is_char_device() {
            "chr"
        } else if t.is_file() {
            "reg"
        } else if t.is_dir() {
            "dir"
        } else if t.is_socket() {
            "sock"
        } else if t.is_symlink() {
            "lnk"
        } else if t.is_block_device() {
            "blk"
        } else {
            "other"
        };
        let acc = match info.flags & libc::O_ACCMODE {
            libc::O_WRONLY => "w",
            libc::O_RDWR => "rw",
            _ => "r",
        };
        let cloexec = i32::from(info.flags & libc::O_CLOEXEC != 0);
        let nonblock = i32::from(info.flags & libc::O_NONBLOCK != 0);
        text.push_str(&format!(
            "fd={fd} kind={kind} acc={acc} cloexec={cloexec} nonblock={nonblock} dev={} ino={}\n",
            meta.dev(),
            meta.ino()
        ));
    }
    put(out, format!("{text}end\n").as_bytes());
}

fn sigstate(fd: c_int) {
    let path = "/proc/thread-self/status";
    let status = check(107, path, std::fs::read_to_string(path));
    let mask = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or_else(|| die(107, format!("pw-child: no {key} in {path}\n")))
    };
    // As if the trapped signals had handlers: neither ignored nor blocked.
    let ignored = join(mask("SigIgn:") & !CAUGHT.load(Ordering::SeqCst));
    let blocked = join(mask("SigBlk:") & !WAITABLE.load(Ordering::SeqCst));
    let text = format!("ignored={ignored}\nblocked={blocked}\nend\n");
    put(fd, text.as_bytes());
}

/// The signals of a mask (bit n-1 for signal n) as a comma-separated list.
fn join(mask: u64) -> String {
    (1..=64).filter(|s| mask >> (s - 1) & 1 == 1).map(|s: u32| s.to_string()).collect::<Vec<_>>().join(",")
}

fn kill(sig: Signal) {
    let _ = raise(sig);
    die(105, format!("pw-child: alive after raising {}\n", sig as c_int));
}

fn trap(sig: Signal) {
    if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
        die(107, format!("pw-child: cannot trap {}\n", sig as c_int));
    }
    let bit = 1 << (sig as c_int - 1);
    let set = SigSet::from(sig);
    let mask = check(107, "sigprocmask", SigSet::thread_get_mask().map_err(io::Error::from));
    // A signal blocked by the parent stays so: a handler would not see it either.
    if !mask.contains(sig) {
        check(107, "sigprocmask", set.thread_block().map_err(io::Error::from));
        WAITABLE.fetch_or(bit, Ordering::SeqCst);
    }
    CAUGHT.fetch_or(bit, Ordering::SeqCst);
}

/// The signals of a mask (bit n-1 for signal n) as a set.
fn sig_set(mask: u64) -> SigSet {
    (1..=64).filter(|n| mask >> (n - 1) & 1 == 1).filter_map(|n| Signal::try_from(n).ok()).collect()
}

/// Off Linux there is no signalfd: `await-trap` and `wait-signal` fail.
#[cfg(not(target_os = "linux"))]
fn take_trapped(_: Option<Duration>) -> io::Result<bool> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Takes one trapped signal, waiting at most `limit` for it; `false` on timeout.
#[cfg(target_os = "linux")]
fn take_trapped(limit: Option<Duration>) -> io::Result<bool> {
    let flags = SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC;
    let sfd = SignalFd::with_flags(&sig_set(WAITABLE.load(Ordering::SeqCst)), flags)?;
    let deadline = limit.map(|l| Instant::now() + l);
    loop {
        if sfd.read_signal()?.is_some() {
            TRAPPED.store(true, Ordering::SeqCst);
            return Ok(true);
        }
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                // Rounded up, so that the wait does not end just before the deadline.
                PollTimeout::try_from(left + Duration::from_micros(999)).unwrap_or(PollTimeout::MAX)
            }
        };
        match poll(&mut [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)], timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn await_trap(fd: c_int, text: &[u8]) {
    if !TRAPPED.load(Ordering::SeqCst) {
        let limit = Some(Duration::from_secs(30));
        if !check(107, "signalfd", take_trapped(limit)) {
            die(106, b"pw-child: no trapped signal within 30 s\n");
        }
    }
    put(fd, text);
}

fn wait_signal() {
    if WAITABLE.load(Ordering::SeqCst) == 0 {
        nix::unistd::pause(); // no handler is installed: never returns
    } else {
        check(107, "signalfd", take_trapped(None));
    }
}

fn grandchild(secs: &[u8]) -> Option<()> {
    let secs = std::str::from_utf8(secs).ok()?;
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    check(107, "spawn sleep", spawn_sleep(secs)); // never waited for
    Some(())
}

/// Spawns `sleep SECS` as std's `Command` would (SIGPIPE reset to SIG_DFL,
/// the signal mask inherited), but with the trapped signals as an exec
/// leaves caught ones: at SIG_DFL, and unblocked unless the parent blocked them.
fn spawn_sleep(secs: &str) -> io::Result<()> {
    let cstr = |s: &[u8]| CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let args = [cstr(b"sleep")?, cstr(secs.as_bytes())?];
    let env = std::env::vars_os()
        .map(|(k, v)| cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
        .collect::<io::Result<Vec<_>>>()?;
    let mut mask = SigSet::thread_get_mask()?;
    for sig in &sig_set(WAITABLE.load(Ordering::SeqCst)) {
        mask.remove(sig);
    }
    let mut default = sig_set(CAUGHT.load(Ordering::SeqCst));
    default.add(Signal::SIGPIPE);
    let mut attr = PosixSpawnAttr::init()?;
    attr.set_sigmask(&mask)?;
    attr.set_sigdefault(&default)?;
    attr.set_flags(PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF)?;
    posix_spawnp(&args[0], &PosixSpawnFileActions::init()?, &attr, &args, &env)?;
    Ok(())
}
