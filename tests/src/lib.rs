//! Shared helpers for procwire's integration tests: the descriptor table,
//! zombies, timeouts as guards, and the `pw-child` helper program.
//!
//! Each test file (`spawn`, `child_fds`, `reap`) is one area; the helper
//! child `pw-child` (see `helpers/pw-child.rs` for its steps) reports its
//! own fd table, argv, environment and signal state, so tests assert what
//! the child really got.

use std::collections::BTreeMap;
use std::future::Future;
use std::os::fd::RawFd;
use std::time::Duration;

/// The path of the `pw-child` helper program, for `Command::new`.
#[macro_export]
macro_rules! pw_child {
    () => {
        env!("CARGO_BIN_EXE_pw-child")
    };
}

/// Awaits `fut`, failing the test if it takes longer than `secs` seconds.
/// A guard against hangs, never a way to wait for an event.
pub async fn guard<F: Future>(secs: u64, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {secs} s: {what}"),
    }
}

/// The descriptors open in this process, from `/proc/self/fd`.
pub fn open_fds() -> Vec<RawFd> {
    let names: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    // The directory's own fd is closed by now: keep the numbers still open.
    let mut fds: Vec<RawFd> = names
        .iter()
        .filter_map(|n| n.parse().ok())
        .filter(|fd| std::fs::symlink_metadata(format!("/proc/self/fd/{fd}")).is_ok())
        .collect();
    fds.sort_unstable();
    fds
}

/// One process as `/proc/PID/stat` shows it.
#[derive(Debug, Clone, Copy)]
pub struct ProcStat {
    /// The pid.
    pub pid: u32,
    /// The state letter: `R`, `S`, `Z`...
    pub state: char,
    /// The parent's pid.
    pub ppid: u32,
    /// The process group.
    pub pgrp: u32,
}

impl ProcStat {
    /// Whether the process is dead: a zombie (or dying), waiting for its
    /// parent.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// `/proc/PID/stat` of `pid`, if it exists.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid pgrp ...": comm may contain spaces, so split after ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(ProcStat { pid, state, ppid, pgrp })
}

/// Every process in `/proc` (those that vanish while it is read are left
/// out).
pub fn processes() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).filter_map(proc_stat).collect()
}

/// Pids of this process's children that are zombies (state `Z`).
pub fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    processes().into_iter().filter(|p| p.ppid == me && p.state == 'Z').map(|p| p.pid).collect()
}

/// Pids of this process's children, in any state.
pub fn children() -> Vec<u32> {
    let me = std::process::id();
    processes().into_iter().filter(|p| p.ppid == me).map(|p| p.pid).collect()
}

/// Live (not zombie) members of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    processes().into_iter().filter(|p| p.pgrp == pgid && !p.is_dead()).map(|p| p.pid).collect()
}

/// Whether process `pid` is dead: gone, or a zombie waiting for its
/// parent (for a grandchild, that parent is init or a subreaper, not us).
pub fn is_dead(pid: u32) -> bool {
    proc_stat(pid).is_none_or(|p| p.is_dead())
}

/// Waits (polling `/proc` every 10 ms, for at most 10 s) until `pid` is
/// dead ([`is_dead`]); panics naming `what` if it never is.
pub async fn until_dead(pid: u32, what: &str) {
    guard(10, what, async {
        while !is_dead(pid) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Processes a test started only indirectly (a shell's children), sent
/// SIGKILL when this is dropped if they are still alive, so that a test
/// that fails before they die leaves nothing running.
#[derive(Debug, Default)]
pub struct Strays(pub Vec<u32>);

impl Drop for Strays {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if !is_dead(pid) {
                let pid = nix::unistd::Pid::from_raw(pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// Whether process `pid` exists (in any state, zombie included).
pub fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The names of this process's threads, from `/proc/self/task/*/comm`.
pub fn thread_names() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    dir.flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .map(|comm| comm.trim_end().to_owned())
        .collect()
}

/// Whether procwire's orphan reaper thread (`procwire-reaper`) runs in
/// this process.
pub fn reaper_thread_running() -> bool {
    thread_names().iter().any(|name| name == "procwire-reaper")
}

/// How many pidfds this process holds.
pub fn pidfd_count() -> usize {
    let is_pidfd = |fd: &RawFd| {
        std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|l| l.to_string_lossy().contains("pidfd"))
    };
    open_fds().iter().filter(|fd| is_pidfd(fd)).count()
}

/// Starts procwire's orphan reaper: the thread, and its wake pipe, that
/// procwire keeps for the rest of the process once a `Child` was dropped
/// before its child had exited. A descriptor baseline taken afterwards
/// does not count them. Returns once the thread runs and the orphan that
/// started it is reaped, its pidfd closed.
///
/// The orphan is `cat` reading its stdin, dropped without `kill_on_drop`:
/// while its `Child` is being dropped that `Child` still holds the pipe's
/// write end, so `cat` cannot have exited, whatever the scheduling, and is
/// always handed to the reaper; it exits once the drop closes the pipe. A
/// child killed on drop would not do: under CPU load it can be dead by the
/// time the drop looks at it, and is then reaped on the spot, starting no
/// thread.
pub async fn start_orphan_reaper() {
    let pidfds = pidfd_count();
    let child = procwire::Command::new("cat").spawn().expect("spawn cat");
    let pid = child.id().expect("pid");
    drop(child);
    guard(10, "procwire's reaper thread to start and reap its first orphan", async {
        while !reaper_thread_running() || process_exists(pid) || pidfd_count() > pidfds {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Raises the soft limit on open files to the hard limit, for tests that
/// hold thousands of pipes at once. Returns the new soft limit.
pub fn raise_nofile() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    // (`rlim_t` is signed on FreeBSD.)
    #[allow(clippy::useless_conversion)]
    u64::try_from(hard).unwrap_or(u64::MAX)
}

/// One line of `pw-child report:FD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdEntry {
    /// `fifo`, `chr`, `reg`, `dir`, `sock`, ...
    pub kind: String,
    /// `r`, `w` or `rw`.
    pub acc: String,
    /// Whether the child's copy is close-on-exec.
    pub cloexec: bool,
    /// Whether the child's copy is non-blocking (`O_NONBLOCK`).
    pub nonblock: bool,
    /// `st_dev` of what the fd refers to.
    pub dev: u64,
    /// `st_ino` of what the fd refers to.
    pub ino: u64,
}

/// Parses a `pw-child report:FD` into `{fd -> entry}`; panics on a report
/// without its `end` line (the child died mid-report).
pub fn parse_report(text: &str) -> BTreeMap<RawFd, FdEntry> {
    let mut table = BTreeMap::new();
    let mut ended = false;
    for line in text.lines() {
        if line == "end" {
            ended = true;
            break;
        }
        let fields: BTreeMap<&str, &str> =
            line.split_whitespace().filter_map(|kv| kv.split_once('=')).collect();
        let fd: RawFd = fields["fd"].parse().expect("fd number");
        table.insert(
            fd,
            FdEntry {
                kind: fields["kind"].to_owned(),
                acc: fields["acc"].to_owned(),
                cloexec: fields["cloexec"] == "1",
                nonblock: fields["nonblock"] == "1",
                dev: fields["dev"].parse().expect("dev"),
                ino: fields["ino"].parse().expect("ino"),
            },
        );
    }
    assert!(ended, "report has no end line: {text:?}");
    table
}

/// `(st_dev, st_ino)` of what this process's `fd` refers to, to compare
/// with a child's report.
pub fn identity(fd: RawFd) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(format!("/proc/self/fd/{fd}")).expect("stat own fd");
    (meta.dev(), meta.ino())
}

/// Decodes the hex lines of `pw-child argv:FD` / `env:FD` into byte
/// strings (up to the `end` line).
pub fn parse_hex_lines(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line == "end" {
            return out;
        }
        let bytes = (0..line.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&line[i..i + 2], 16).expect("hex"))
            .collect();
        out.push(bytes);
    }
    panic!("no end line in {text:?}");
}

/// Runs the test `name` (this very test) in a fresh copy of the test
/// binary, so the limits it lowers and the process-wide state it starts
/// from (procwire's reaper and spawner threads) are its own: `body` runs
/// there, and here the test passes when that copy passed that one test.
pub fn in_own_process(name: &str, body: impl FnOnce()) {
    in_own_process_with_env(name, &[], body);
}

/// [`in_own_process`], with `env` added to the copy's environment (so
/// that no test changes the environment of the test binary itself).
pub fn in_own_process_with_env(name: &str, env: &[(&str, &str)], body: impl FnOnce()) {
    const VAR: &str = "PROCWIRE_TEST_OWN_PROCESS";
    if std::env::var_os(VAR).is_some_and(|v| v == name) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(VAR, name)
        .envs(env.iter().copied())
        .output()
        .expect("re-run the test binary");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in its own process: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

/// A fresh cgroup under the cgroup v2 mount for one test; dropped, it
/// kills everything in it and below it and removes it all, whatever the
/// test did. `None`, with the reason printed, where cgroup v2 is not
/// mounted or not writable here.
#[derive(Debug)]
pub struct ScratchCgroup {
    /// The cgroup.
    pub cgroup: procwire::Cgroup,
}

impl ScratchCgroup {
    /// A cgroup named after this process, a counter and `what`.
    pub fn new(what: &str) -> Option<ScratchCgroup> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let Some(root) = procwire::Cgroup::mount_point() else {
            println!("skipped: cgroup v2 is not mounted");
            return None;
        };
        if let Err(e) = procwire::Cgroup::check_writable(&root) {
            println!("skipped: {e}");
            return None;
        }
        let name = format!("procwire-{what}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        Some(ScratchCgroup { cgroup: procwire::Cgroup::create(&root, &name).expect("create a cgroup") })
    }

    /// Its directory.
    pub fn path(&self) -> &std::path::Path {
        self.cgroup.path()
    }

    /// The cgroups made in it.
    pub fn children(&self) -> Vec<std::path::PathBuf> {
        let dir = std::fs::read_dir(self.path()).expect("read the cgroup");
        dir.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect()
    }
}

impl Drop for ScratchCgroup {
    fn drop(&mut self) {
        // `cgroup.kill` reaches the cgroups below too.
        let _ = self.cgroup.kill();
        // Teardown, possibly while a test panics: a bounded wait, by hand.
        for _ in 0..500 {
            if !self.cgroup.is_populated().unwrap_or(false) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        remove_cgroup_tree(self.path());
    }
}

/// Removes a cgroup and the cgroups below it, deepest first.
fn remove_cgroup_tree(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// One test of a binary at a time, for the tests that count this
/// process's children, descriptors or zombies.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `test` on a fresh current-thread runtime on this thread, holding
/// this test binary's one lock, so that no other such test of the binary
/// spawns or opens anything meanwhile. The runtime is dropped (its fds
/// closed) before the lock is released.
pub fn serial<F: Future>(test: F) -> F::Output {
    let _lock = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    rt.block_on(test)
}

/// A pipe with both ends close-on-exec: `pipe2(O_CLOEXEC)`, or on macOS,
/// which has no `pipe2`, `pipe` and then `FD_CLOEXEC`.
pub fn pipe_cloexec() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    #[cfg(not(target_os = "macos"))]
    return nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
    #[cfg(target_os = "macos")]
    {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        let (r, w) = nix::unistd::pipe().expect("pipe");
        for end in [&r, &w] {
            fcntl(end, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("FD_CLOEXEC");
        }
        (r, w)
    }
}
