//! The issue's "No descriptor leaks" and "No zombies": after many spawns
//! (successful or failed, waited or dropped, inside a runtime or after it
//! was shut down) the parent's descriptor table is what it was, the child
//! sees only the descriptors it was given, and no zombie remains.
//!
//! Descriptor and zombie counts are process-wide and the test harness runs
//! tests on parallel threads, so every test here takes [`LOCK`] first.

use std::fs::File;
use std::future::Future;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use procwire::{Child, ChildFd, Command, Error, InputError, PtySize, SpawnStep};
use procwire_tests::{
    guard, identity, open_fds, parse_report, process_exists, pw_child, start_orphan_reaper, zombie_children,
};
use tokio::io::AsyncReadExt;

/// Serialises the tests of this binary: they count process-wide things.
static LOCK: Mutex<()> = Mutex::new(());

#[test]
fn no_descriptor_leak_after_1000_spawns() {
    run_serialised(async {
        // Two files for the swap case {a: Parent(b), b: Parent(a)}, open
        // before the baseline and for the whole test.
        let file_a = File::open("/dev/null").expect("open a");
        let file_b = File::open("/dev/zero").expect("open b");
        let (a, b) = (file_a.as_raw_fd(), file_b.as_raw_fd());
        // Warm-up: whatever the runtime or the spawn path opens once for
        // the whole process exists before the baseline is taken.
        for case in 0..CASES {
            one_spawn(case, a, b).await;
        }
        let before = open_fds();
        let started = Instant::now();
        for batch in (0..1000).collect::<Vec<usize>>().chunks(8) {
            guard(
                30,
                "a batch of 8 spawns",
                futures::future::join_all(batch.iter().map(|&i| one_spawn(i, a, b))),
            )
            .await;
        }
        println!("1000 spawns in {:?}", started.elapsed());
        assert_eq!(open_fds(), before, "descriptors leaked by 1000 spawns");
        assert_eq!(zombie_children(), Vec::<u32>::new());
        drop((file_a, file_b));
    });
}

#[test]
fn child_sees_only_what_it_was_given() {
    run_serialised(async {
        // Extra descriptors in the parent, inheritable and not.
        let plain = File::open("/dev/null").expect("open /dev/null"); // O_CLOEXEC (std)
        let no_cloexec = nix::fcntl::open("/dev/zero", OFlag::O_RDONLY, Mode::empty()).expect("open");
        let dup = nix::unistd::dup(&plain).expect("dup"); // dup(2) clears FD_CLOEXEC
        let (pipe_r, pipe_w) = nix::unistd::pipe().expect("pipe"); // neither end CLOEXEC
        let extras = [plain.as_raw_fd(), no_cloexec.as_raw_fd(), dup.as_raw_fd(), pipe_r.as_raw_fd()];
        for fd in extras.iter().chain([&pipe_w.as_raw_fd()]) {
            assert!(*fd > 2, "extra fd {fd} sits on stdio: the test would prove nothing");
        }

        // Twisted's default map.
        let table = report(Command::new(pw_child!()).arg("report:1")).await;
        assert_eq!(table.keys().copied().collect::<Vec<_>>(), [0, 1, 2], "{table:?}");
        assert_eq!((table[&0].kind.as_str(), table[&0].acc.as_str()), ("fifo", "r"));
        assert_eq!((table[&1].kind.as_str(), table[&1].acc.as_str()), ("fifo", "w"));
        assert!(table.values().all(|e| !e.cloexec), "{table:?}");

        // Only fd 1 (Twisted's childFDs={1: "r"}).
        let mut cmd = Command::new(pw_child!());
        cmd.arg("report:1").child_fds([(1, ChildFd::ReadPipe)]);
        assert_eq!(report(&mut cmd).await.keys().copied().collect::<Vec<_>>(), [1]);

        // Sparse, with /dev/null and a descriptor handed over.
        let mut cmd = Command::new(pw_child!());
        cmd.arg("report:1").child_fds([
            (1, ChildFd::ReadPipe),
            (7, ChildFd::Null),
            (9, ChildFd::Fd(nix::unistd::dup(&no_cloexec).expect("dup"))),
        ]);
        let table = report(&mut cmd).await;
        assert_eq!(table.keys().copied().collect::<Vec<_>>(), [1, 7, 9], "{table:?}");
        assert_eq!((table[&9].dev, table[&9].ino), identity(no_cloexec.as_raw_fd()));

        // Parent fds, one of them close-on-exec here: only the mapped copies.
        let mut cmd = Command::new(pw_child!());
        cmd.arg("report:1").child_fds([
            (0, ChildFd::Parent(pipe_r.as_raw_fd())),
            (1, ChildFd::ReadPipe),
            (5, ChildFd::Parent(plain.as_raw_fd())),
        ]);
        let table = report(&mut cmd).await;
        assert_eq!(table.keys().copied().collect::<Vec<_>>(), [0, 1, 5], "{table:?}");
        assert_eq!((table[&0].dev, table[&0].ino), identity(pipe_r.as_raw_fd()));
        assert_eq!((table[&5].dev, table[&5].ino), identity(plain.as_raw_fd()));
        assert!(!table[&5].cloexec, "a mapped fd must survive exec");
    });
}

#[test]
fn no_zombies_after_dropping_unwaited_children() {
    run_serialised(async {
        start_orphan_reaper().await;
        let before = open_fds();
        let mut pids = Vec::new();
        for _ in 0..50 {
            let child = Command::new("/bin/true").spawn().expect("spawn /bin/true");
            pids.push(child.id().expect("pid"));
        }
        for _ in 0..50 {
            let child = sleeper().kill_on_drop(true).spawn().expect("spawn sleeper");
            pids.push(child.id().expect("pid"));
        }
        guard(10, "dropped children to be reaped and their descriptors closed", async {
            while !all_reaped(&pids) || open_fds() != before {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    });
}

#[test]
fn no_zombies_after_the_runtime_is_shut_down() {
    let _serial = serialise();
    runtime().block_on(start_orphan_reaper());
    let before = open_fds(); // with the warm-up runtime gone
    let rt = runtime();
    let (pids, outliving) = rt.block_on(async {
        let mut pids = Vec::new();
        let mut keep: Vec<Child> = Vec::new();
        for i in 0..40 {
            // Short sleepers exit after the runtime is gone; long ones are killed.
            let mut cmd = if i % 2 == 0 { pw(&["sleep-ms:300"]) } else { sleeper() };
            let child = cmd.kill_on_drop(i % 2 == 1).spawn().expect("spawn");
            pids.push(child.id().expect("pid"));
            // Half are dropped in the runtime, half outlive it.
            if i % 4 < 2 {
                drop(child);
            } else {
                keep.push(child);
            }
        }
        (pids, keep)
    });
    drop(rt);
    drop(outliving);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !all_reaped(&pids) || open_fds() != before {
        assert!(
            Instant::now() < deadline,
            "10 s after the runtime shut down: zombies {:?}, pids left {:?}, fds {:?} (before: {before:?})",
            zombie_children(),
            pids.iter().filter(|&&p| process_exists(p)).collect::<Vec<_>>(),
            open_fds(),
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn bad_input_leaks_nothing() {
    run_serialised(async {
        let unopened = (500..).find(|fd| !open_fds().contains(fd)).expect("a free fd number");
        // Warm-up, as above.
        let mut warm = Command::new("/bin/true").spawn().expect("spawn");
        warm.wait().await.expect("wait");
        drop(warm);
        let before = open_fds();
        // (what, the command given an unopened fd number, the error expected)
        type Case = (&'static str, fn(RawFd) -> Command, fn(&Error) -> bool);
        let cases: [Case; 9] = [
            (
                "NUL in an argument",
                |_| cmd_with(|c| c.arg("a\0b")),
                |e| matches!(e, Error::InvalidInput(InputError::NulByte { what: "argument", .. })),
            ),
            (
                "'=' in an env key",
                |_| cmd_with(|c| c.env("A=B", "v")),
                |e| matches!(e, Error::InvalidInput(InputError::EnvKey(_))),
            ),
            (
                "negative child fd",
                |_| cmd_with(|c| c.child_fd(-1, ChildFd::Null)),
                |e| matches!(e, Error::InvalidInput(InputError::NegativeChildFd(-1))),
            ),
            (
                "child fd mapped twice",
                |_| cmd_with(|c| c.child_fds([(3, ChildFd::Null), (3, ChildFd::Null)])),
                |e| matches!(e, Error::InvalidInput(InputError::DuplicateChildFd(3))),
            ),
            // Issue 9: it allocated 24 GiB of plan and aborted.
            (
                "child fd i32::MAX",
                |_| cmd_with(|c| c.child_fd(i32::MAX, ChildFd::Null)),
                |e| matches!(e, Error::InvalidInput(InputError::ChildFdTooLarge { child_fd: i32::MAX, .. })),
            ),
            // Refused before the pty (or any pipe) is opened.
            (
                "child fd at the soft RLIMIT_NOFILE, with a pty",
                |_| cmd_with(|c| c.child_fd(soft_nofile(), ChildFd::Null).pty(PtySize::default())),
                |e| {
                    matches!(e, Error::InvalidInput(InputError::ChildFdTooLarge { child_fd, limit })
                        if *child_fd == soft_nofile() && *limit == soft_nofile() as u64)
                },
            ),
            // The pipes for 0, 1, 2 exist already when fd 5 is found closed.
            (
                "parent fd not open",
                |fd| cmd_with(|c| c.child_fd(5, ChildFd::Parent(fd))),
                |e| matches!(e, Error::InvalidInput(InputError::ParentFdNotOpen { child_fd: 5, .. })),
            ),
            (
                "missing program",
                |_| Command::new("/no/such/program"),
                |e| matches!(e, Error::Spawn { step: SpawnStep::Exec, .. }),
            ),
            (
                "missing cwd, with a descriptor handed over",
                |_| cmd_with(|c| c.current_dir("/no/such/dir").child_fd(3, devnull().into())),
                |e| matches!(e, Error::Spawn { step: SpawnStep::Chdir, .. }),
            ),
        ];
        for (what, make, check) in cases {
            for _ in 0..100 {
                let err = make(unopened).spawn().expect_err(what);
                assert!(check(&err), "{what}: unexpected error {err:?}");
            }
            assert_eq!(open_fds(), before, "descriptors leaked by 100 x {what}");
            assert_eq!(zombie_children(), Vec::<u32>::new(), "zombies left by {what}");
        }
    });
}

/// How many kinds of spawn [`one_spawn`] cycles through.
const CASES: usize = 12;

/// Spawn number `i` of the leak test: case `i % CASES`, checked and waited.
async fn one_spawn(i: usize, a: RawFd, b: RawFd) {
    let mut cmd = Command::new("/bin/true");
    let expect_err: Option<fn(&Error) -> bool> = match i % CASES {
        0 => None, // default pipes
        1 => {
            cmd.clear_child_fds();
            None
        }
        2 => {
            cmd.child_fds([(1, ChildFd::ReadPipe), (7, ChildFd::WritePipe)]);
            None
        }
        3 => {
            cmd.child_fds([(0, ChildFd::Null), (1, ChildFd::Null), (2, ChildFd::Null)]);
            None
        }
        4 => {
            cmd.child_fds([(1, ChildFd::ReadPipe), (2, ChildFd::Parent(2))]);
            None
        }
        5 => {
            cmd.child_fds([(0, devnull().into()), (1, ChildFd::ReadPipe)]);
            None
        }
        6 => {
            // A swap: each target is the other's source.
            cmd.child_fds([(a, ChildFd::Parent(b)), (b, ChildFd::Parent(a)), (1, ChildFd::ReadPipe)]);
            None
        }
        7 => {
            // Echo through pw-child, so real data flows through the pipes.
            cmd = pw(&["echo:0:1"]);
            None
        }
        8 => {
            cmd = Command::new("/no/such/program");
            Some(|e| matches!(e, Error::Spawn { step: SpawnStep::Exec, .. }))
        }
        9 => {
            cmd.current_dir("/no/such/dir");
            Some(|e| matches!(e, Error::Spawn { step: SpawnStep::Chdir, .. }))
        }
        10 => {
            cmd.child_fd(4, ChildFd::Parent(-5));
            Some(|e| matches!(e, Error::InvalidInput(InputError::ParentFdNotOpen { .. })))
        }
        _ => {
            cmd.arg("nul\0byte");
            Some(|e| matches!(e, Error::InvalidInput(InputError::NulByte { .. })))
        }
    };
    match (cmd.spawn(), expect_err) {
        (Ok(mut child), None) => {
            if let Some(mut stdin) = child.take_writer(0) {
                tokio::io::AsyncWriteExt::write_all(&mut stdin, b"ping").await.ok();
                stdin.close();
            }
            let mut out = Vec::new();
            if let Some(mut stdout) = child.take_reader(1) {
                stdout.read_to_end(&mut out).await.expect("read stdout");
            }
            let status = child.wait().await.expect("wait");
            assert_eq!(status.code(), Some(0), "case {}: {status:?}", i % CASES);
            if i % CASES == 7 {
                assert_eq!(out, b"ping");
            }
        }
        (Err(err), Some(check)) => assert!(check(&err), "case {}: unexpected {err:?}", i % CASES),
        (res, _) => panic!("case {}: unexpected {res:?}", i % CASES),
    }
}

/// Whether none of `pids` exists any more and no zombie child is left.
fn all_reaped(pids: &[u32]) -> bool {
    zombie_children().is_empty() && !pids.iter().any(|&p| process_exists(p))
}

/// Spawns `pw-child report:1` as `cmd` says, and parses its report.
async fn report(cmd: &mut Command) -> std::collections::BTreeMap<RawFd, procwire_tests::FdEntry> {
    let mut child = cmd.kill_on_drop(true).spawn().expect("spawn report");
    let mut text = String::new();
    let mut stdout = child.take_reader(1).expect("stdout");
    guard(10, "report", stdout.read_to_string(&mut text)).await.expect("read report");
    let status = guard(10, "wait", child.wait()).await.expect("wait");
    assert_eq!(status.code(), Some(0), "{status:?}: {text}");
    parse_report(&text)
}

/// A `pw-child` command running `steps`, stderr to `/dev/null`.
fn pw(steps: &[&str]) -> Command {
    let mut cmd = Command::new(pw_child!());
    cmd.args(steps).stderr(ChildFd::Null);
    cmd
}

/// A child that runs for a minute unless killed.
fn sleeper() -> Command {
    pw(&["sleep-ms:60000"])
}

fn cmd_with(f: impl FnOnce(&mut Command) -> &mut Command) -> Command {
    let mut cmd = pw(&["exit:0"]);
    f(&mut cmd);
    cmd
}

/// The soft `RLIMIT_NOFILE` (this binary never changes it).
fn soft_nofile() -> RawFd {
    let (soft, _) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).expect("getrlimit");
    RawFd::try_from(soft).expect("a soft limit below i32::MAX")
}

fn devnull() -> OwnedFd {
    File::open("/dev/null").expect("open /dev/null").into()
}

fn serialise() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `test` on a fresh current-thread runtime while holding [`LOCK`]
/// (taken outside the runtime, so no lock is held across an `.await`).
fn run_serialised<F: Future>(test: F) -> F::Output {
    let _serial = serialise();
    runtime().block_on(test)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}
