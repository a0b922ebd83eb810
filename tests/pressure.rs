//! Spawning under resource pressure (issue #9, defects 1 and 2): a full
//! descriptor table at every point of a spawn, a process limit that stops
//! threads from starting, a runtime without IO. Whatever fails, a spawn is
//! a typed error or a child that is reaped, and once the pressure is gone
//! procwire works again, with no zombie and no descriptor left behind.
//!
//! Each test runs in its own copy of the test binary
//! ([`in_own_process`]): the limits it lowers and procwire's process-wide
//! reaper and spawner threads start fresh there.
//!
//! Linux only: `RLIMIT_NPROC`, `setresuid` and `/proc`.
#![cfg(target_os = "linux")]

use std::os::fd::OwnedFd;
use std::time::Duration;

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use procwire::{ChildFd, Command, Error, PtySize, SpawnStep};
use procwire_tests::{
    children, guard, in_own_process, open_fds, process_exists, start_orphan_reaper, zombie_children,
};

/// A descriptor table filled up to `RLIMIT_NOFILE`, but for `free` slots.
struct Pressure {
    _fills: Vec<OwnedFd>,
}

impl Pressure {
    /// Lowers the soft limit to a little above what is open (so filling
    /// the table is cheap), then fills it.
    fn new(free: usize) -> Pressure {
        let null = std::fs::File::open("/dev/null").expect("open /dev/null");
        let mut fills = Vec::new();
        loop {
            match nix::unistd::dup(&null) {
                Ok(fd) => fills.push(fd),
                Err(nix::errno::Errno::EMFILE) => break,
                Err(e) => panic!("dup: {e}"),
            }
        }
        // The table is full, `null` included: free `free` slots.
        fills.push(OwnedFd::from(null));
        fills.truncate(fills.len().saturating_sub(free));
        Pressure { _fills: fills }
    }
}

/// Sets the soft `RLIMIT_NOFILE` to a little above the highest open fd,
/// and gives back the previous soft limit.
fn tight_nofile() -> u64 {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    let highest = open_fds().into_iter().max().unwrap_or(2) as u64;
    setrlimit(Resource::RLIMIT_NOFILE, highest + 64, hard).expect("setrlimit");
    soft
}

fn restore_nofile(soft: u64) {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).expect("setrlimit");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Waits (polling `/proc`, at most 10 s) until this process has no child
/// left, zombie or not.
async fn until_no_children(what: &str) {
    guard(10, what, async {
        while !children().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

fn sleeper(secs: &str) -> Command {
    let mut cmd = Command::new("sleep");
    cmd.arg(secs).clear_child_fds();
    cmd
}

// Defect 1: the first orphan, dropped while the fd table was full, cached
// "no reaper thread" forever and every later orphan stayed a zombie.
#[test]
fn orphan_reaper_starts_after_a_transient_emfile() {
    in_own_process("orphan_reaper_starts_after_a_transient_emfile", || {
        runtime().block_on(async {
            let soft = tight_nofile();
            // Killed on drop: reaped on the spot when no thread can start.
            let killed = sleeper("100").kill_on_drop(true).spawn().expect("spawn");
            let killed_pid = killed.id().unwrap();
            // Left running: listed, and reaped by the first thread that starts.
            let running = sleeper("0.2").spawn().expect("spawn");
            let running_pid = running.id().unwrap();
            {
                let _pressure = Pressure::new(0);
                drop(killed);
                drop(running);
            }
            restore_nofile(soft);
            assert!(!process_exists(killed_pid), "the killed orphan was reaped at once");
            let mut pids = Vec::new();
            for _ in 0..5 {
                let child = sleeper("0.05").spawn().expect("spawn after the pressure");
                pids.push(child.id().unwrap());
            }
            until_no_children("every orphan reaped once the thread could start").await;
            assert!(!process_exists(running_pid));
            assert!(pids.iter().all(|&p| !process_exists(p)));
        });
    });
}

// Defect 1 again: an orphan left running while no thread could start is
// reaped once a later spawn can start one, with no further drop.
#[test]
fn stranded_orphan_is_reaped_after_the_next_spawn() {
    in_own_process("stranded_orphan_is_reaped_after_the_next_spawn", || {
        runtime().block_on(async {
            let soft = tight_nofile();
            let child = sleeper("0.1").spawn().expect("spawn");
            let pid = child.id().unwrap();
            {
                let _pressure = Pressure::new(0);
                drop(child);
            }
            restore_nofile(soft);
            let mut next = Command::new("true");
            next.clear_child_fds();
            assert!(next.spawn().expect("spawn").wait().await.unwrap().success());
            until_no_children("the stranded orphan reaped").await;
            assert!(!process_exists(pid));
        });
    });
}

// Defect 1: the spawner thread (for parent-death signals) that could not
// start was cached as missing, so every later such spawn failed.
#[test]
fn spawner_thread_starts_after_rlimit_nproc_is_raised() {
    in_own_process("spawner_thread_starts_after_rlimit_nproc_is_raised", || {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root, to drop to a user RLIMIT_NPROC applies to");
            println!("1 passed");
            return;
        }
        // RLIMIT_NPROC does not bind root: become nobody, for good.
        let nobody = nix::unistd::Uid::from_raw(65534);
        let nogroup = nix::unistd::Gid::from_raw(65534);
        nix::unistd::setresgid(nogroup, nogroup, nogroup).expect("setresgid");
        nix::unistd::setresuid(nobody, nobody, nobody).expect("setresuid");
        runtime().block_on(async {
            let (soft, hard) = getrlimit(Resource::RLIMIT_NPROC).expect("getrlimit");
            setrlimit(Resource::RLIMIT_NPROC, 0, hard).expect("setrlimit");
            let mut cmd = Command::new("true");
            cmd.clear_child_fds().parent_death_signal("KILL");
            let err = cmd.spawn().expect_err("no thread, no process under RLIMIT_NPROC = 0");
            assert!(
                matches!(err, Error::Spawn { step: SpawnStep::SpawnerThread, .. }),
                "a typed error naming the thread: {err}"
            );
            setrlimit(Resource::RLIMIT_NPROC, soft, hard).expect("setrlimit");
            let status = guard(10, "spawn after the limit", cmd.spawn().expect("spawn").wait()).await;
            assert!(status.unwrap().success());
        });
    });
}

// Defect 2: with the table full, the pidfd could not be opened after the
// clone, and the killed child stayed a zombie.
#[test]
fn spawn_at_emfile_leaves_no_child() {
    in_own_process("spawn_at_emfile_leaves_no_child", || {
        runtime().block_on(async {
            let soft = tight_nofile();
            let mut cmd = Command::new("true");
            cmd.clear_child_fds();
            let result = {
                let _pressure = Pressure::new(0);
                cmd.spawn()
            };
            restore_nofile(soft);
            match result {
                // Needs no descriptor where there is no pidfd to open (the
                // SIGCHLD fallback): a child like any other.
                Ok(mut child) => assert!(guard(10, "wait", child.wait()).await.unwrap().success()),
                Err(Error::Spawn { source, .. }) => assert_eq!(source.raw_os_error(), Some(libc::EMFILE)),
                Err(other) => panic!("a typed EMFILE error, got {other:?}"),
            }
            assert_eq!(children(), Vec::<u32>::new(), "no child, not even a zombie");
        });
    });
}

// Defect 2: a runtime without IO panicked in the spawn, after the clone,
// and the child was never reaped. The panic is tokio's (and documented);
// the child must not outlive it.
#[test]
fn spawn_on_a_runtime_without_io_leaves_no_child() {
    in_own_process("spawn_on_a_runtime_without_io_leaves_no_child", || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
        let result = rt.block_on(async {
            std::panic::catch_unwind(|| {
                let mut cmd = Command::new("sleep");
                cmd.arg("100").clear_child_fds().kill_on_drop(true);
                // Dropped at once: killed, and reaped without a runtime.
                cmd.spawn().map(drop)
            })
        });
        runtime().block_on(until_no_children("the child killed and reaped"));
        // `spawn` may panic there (documented, as tokio's own `Command`
        // does) or succeed; either way nothing is left behind.
        if let Ok(Err(e)) = result {
            panic!("no error is expected for a runtime without IO: {e}");
        }
    });
}

/// The command shapes of the pressure test: each needs descriptors (or a
/// thread) at a different point of the spawn.
fn shapes() -> Vec<(&'static str, Command)> {
    let mut shapes = Vec::new();
    shapes.push(("pipes on 0, 1 and 2", Command::new("true")));
    let mut cmd = Command::new("true");
    cmd.clear_child_fds();
    shapes.push(("no fds", cmd));
    let mut cmd = Command::new("true");
    cmd.stdin(ChildFd::Null).stdout(ChildFd::Null).stderr(ChildFd::Null);
    shapes.push(("/dev/null", cmd));
    let mut cmd = Command::new("true");
    cmd.child_fds([(0, ChildFd::Parent(0)), (1, ChildFd::Parent(1)), (2, ChildFd::Parent(2))]);
    shapes.push(("inherited stdio", cmd));
    let mut cmd = Command::new("true");
    cmd.pty(PtySize::default());
    shapes.push(("pty", cmd));
    let mut cmd = Command::new("true");
    cmd.parent_death_signal("KILL");
    shapes.push(("parent-death signal, pipes", cmd));
    let mut cmd = Command::new("true");
    cmd.child_fd(3, ChildFd::WritePipe).child_fd(4, ChildFd::ReadPipe).child_fd(9, ChildFd::Null);
    shapes.push(("pipes on 3, 4, /dev/null on 9", cmd));
    let mut cmd = Command::new("sleep");
    cmd.arg("100").process_group(0).kill_on_drop(true);
    shapes.push(("dropped at once, killed", cmd));
    shapes
}

// The "resource pressure" test of issue #9: EMFILE at every point of a
// spawn (0 to 13 free descriptors) for 8 command shapes; every spawn is a
// typed error or a child that is reaped, and afterwards the descriptor
// table is as it was and no zombie remains.
#[test]
fn every_spawn_under_emfile_is_an_error_or_a_reaped_child() {
    in_own_process("every_spawn_under_emfile_is_an_error_or_a_reaped_child", || {
        runtime().block_on(async {
            // Start what procwire keeps for the process (tokio's signal
            // pipe, the spawner thread; the reaper thread and its wake pipe
            // below) before the baseline.
            for (_, mut cmd) in shapes() {
                let mut child = cmd.spawn().expect("spawn without pressure");
                if cmd.get_program() == "sleep" {
                    drop(child);
                } else {
                    child.wait().await.expect("wait");
                }
            }
            until_no_children("the warm-up children").await;
            // The killed shape need not start the reaper: it may be dead
            // before its drop looks, and is then reaped on the spot.
            start_orphan_reaper().await;
            let baseline = open_fds();
            let soft = tight_nofile();
            let (mut spawned, mut failed) = (0, 0);
            for free in 0..=13 {
                for (name, mut cmd) in shapes() {
                    let pressure = Pressure::new(free);
                    match cmd.spawn() {
                        Ok(child) if cmd.get_program() == "sleep" => {
                            assert!(child.id().is_some());
                            drop(child);
                            spawned += 1;
                        }
                        Ok(mut child) => {
                            let status = guard(10, name, child.wait()).await;
                            assert!(status.expect("wait under pressure").success(), "{name}, {free} free");
                            spawned += 1;
                        }
                        Err(Error::Spawn { source, .. }) => {
                            assert!(source.raw_os_error().is_some(), "{name}, {free} free: {source}");
                            failed += 1;
                        }
                        Err(e) => panic!("{name} with {free} free fds: not a spawn error: {e:?}"),
                    }
                    drop(pressure);
                }
            }
            restore_nofile(soft);
            eprintln!("under pressure: {spawned} spawned and reaped, {failed} typed errors");
            assert!(failed > 0 && spawned > 0, "the pressure reached both outcomes");
            // Pressure released: procwire works again.
            let mut cmd = Command::new("true");
            assert!(cmd.spawn().expect("spawn after").wait().await.unwrap().success());
            until_no_children("every child reaped").await;
            assert_eq!(zombie_children(), Vec::<u32>::new());
            assert_eq!(open_fds(), baseline, "descriptor table back to its baseline");
        });
    });
}
