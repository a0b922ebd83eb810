//! cgroup v2: children spawned into a cgroup of their own
//! (`Command::cgroup`), stopped as a whole (`StopScope::Cgroup`), so a
//! `setsid`'d daemon cannot escape; spawn errors for paths that are no
//! usable cgroup.
//!
//! Each test makes its own cgroup under the cgroup v2 mount (named after
//! this process and a counter) and a drop guard kills and removes it,
//! whatever the test did. Where cgroup v2 is not mounted or not writable,
//! each test prints why and returns. Run in both CI modes: by default the
//! child is created inside the cgroup (`clone3(CLONE_INTO_CGROUP)`); with
//! `--cfg procwire_force_posix_spawn` it writes itself into `cgroup.procs`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use procwire::{Cgroup, CgroupError, Child, Command, Error, SpawnStep, StopPolicy, StopScope};
use procwire_tests::{children, guard, is_dead, proc_stat, serial, ScratchCgroup};
use tokio::io::AsyncReadExt;

/// (a) The daemon that left the session dies with the rest, and the
/// cgroup can be removed.
#[test]
fn a_setsid_daemon_cannot_escape_a_cgroup_stop() {
    serial(async {
        let Some(scratch) = ScratchCgroup::new("test") else { return };
        let mut child = spawn(Command::new("sh").args(["-c", DAEMON]).cgroup(scratch.path()));
        let members = settled(&scratch, &child).await;
        let policy = StopPolicy::new().with_grace(Duration::from_secs(5)).with_scope(StopScope::Cgroup);
        let started = Instant::now();
        let stopped = guard(10, "cgroup stop", child.stop(&policy)).await.unwrap();
        println!("cgroup stop of 3 processes: {:?}", started.elapsed());
        assert_eq!(stopped.status.signal(), Some(15), "{:?}", stopped.status);
        assert!(!stopped.final_signal_sent, "SIGTERM was enough");
        assert_eq!(child.id(), None, "reaped");
        for pid in members.all {
            assert!(is_dead(pid), "member {pid} survived: {:?}", proc_stat(pid));
        }
        assert_eq!(scratch.cgroup.procs().unwrap(), Vec::<u32>::new());
        assert!(!scratch.cgroup.is_populated().unwrap());
        scratch.cgroup.remove().expect("an empty cgroup is removable");
        assert!(!scratch.path().exists());
    });
}

/// (b) Why the cgroup scope exists: a group stop misses the daemon that
/// called `setsid`; its cgroup still finds it.
#[test]
fn a_group_stop_leaves_the_setsid_daemon_running() {
    serial(async {
        let Some(scratch) = ScratchCgroup::new("test") else { return };
        let mut child =
            spawn(Command::new("sh").args(["-c", DAEMON]).process_group(0).cgroup(scratch.path()));
        let members = settled(&scratch, &child).await;
        let policy = StopPolicy::new().with_grace(Duration::from_secs(5)).with_scope(StopScope::Group);
        let stopped = guard(10, "group stop", child.stop(&policy)).await.unwrap();
        assert_eq!(stopped.status.signal(), Some(15));
        assert!(is_dead(members.sleep), "the sleep in the group died");
        assert!(!is_dead(members.daemon), "the setsid'd sleep is out of the group's reach");
        assert_eq!(scratch.cgroup.procs().unwrap(), vec![members.daemon], "and still in the cgroup");
        scratch.cgroup.kill().unwrap();
        guard(10, "cgroup empty", scratch.cgroup.wait_empty()).await.unwrap();
        assert!(is_dead(members.daemon));
        scratch.cgroup.remove().unwrap();
    });
}

/// (c) Members that ignore SIGTERM get `cgroup.kill` when the grace runs
/// out, and the stop takes the grace, not much more.
#[test]
fn members_ignoring_term_get_cgroup_kill_after_the_grace() {
    serial(async {
        let Some(scratch) = ScratchCgroup::new("test") else { return };
        let script = format!("trap '' TERM; {DAEMON}");
        let mut child = spawn(Command::new("sh").args(["-c", &script]).cgroup(scratch.path()));
        let members = settled(&scratch, &child).await;
        let grace = Duration::from_millis(300);
        let policy = StopPolicy::new().with_grace(grace).with_scope(StopScope::Cgroup);
        let started = Instant::now();
        let stopped = guard(10, "cgroup stop", child.stop(&policy)).await.unwrap();
        let elapsed = started.elapsed();
        println!("cgroup.kill after {elapsed:?} (grace {grace:?})");
        assert!(stopped.final_signal_sent);
        assert_eq!(stopped.status.signal(), Some(9), "{:?}", stopped.status);
        assert!(elapsed >= Duration::from_millis(290) && elapsed < Duration::from_secs(2), "{elapsed:?}");
        for pid in members.all {
            assert!(is_dead(pid), "member {pid} survived: {:?}", proc_stat(pid));
        }
        scratch.cgroup.remove().unwrap();
    });
}

/// (d) A path that is no cgroup v2 directory, or none at all: a typed
/// error naming the cgroup step, and no child.
#[test]
fn a_path_that_is_not_a_cgroup_fails_the_spawn_and_leaves_no_child() {
    serial(async {
        let plain = TempDir::new();
        let before = children();
        let err = Command::new("true").cgroup(&plain.0).spawn().unwrap_err();
        let Error::Spawn { step: SpawnStep::Cgroup, source, .. } = &err else { panic!("{err}") };
        let inner = source.get_ref().and_then(|e| e.downcast_ref::<CgroupError>());
        assert!(matches!(inner, Some(CgroupError::NotCgroup2 { path }) if *path == plain.0), "{err}");
        assert!(err.to_string().contains("not a cgroup v2 directory"), "{err}");

        let missing = plain.0.join("missing");
        let err = Command::new("true").cgroup(&missing).spawn().unwrap_err();
        assert!(
            matches!(&err, Error::Spawn { step: SpawnStep::Cgroup, source, .. }
                if source.kind() == std::io::ErrorKind::NotFound),
            "{err}"
        );
        assert_eq!(children(), before, "no child was left");

        let err = Cgroup::create(&plain.0, "x").unwrap_err();
        assert!(matches!(&err, CgroupError::NotCgroup2 { path } if *path == plain.0), "{err}");
    });
}

/// (d) A cgroup v2 directory that may hold no process (a child of a
/// threaded cgroup that is not threaded itself: "domain invalid"): the
/// kernel's EOPNOTSUPP, from `clone3` or from the child's write, as the
/// cgroup step's error; no child.
#[test]
fn a_cgroup_that_refuses_members_fails_the_spawn_at_the_cgroup_step() {
    serial(async {
        let Some(scratch) = ScratchCgroup::new("test") else { return };
        let threaded = Cgroup::create(scratch.path(), "threaded").unwrap();
        std::fs::write(threaded.path().join("cgroup.type"), "threaded").unwrap();
        let invalid = Cgroup::create(threaded.path(), "invalid").unwrap();
        let kind = std::fs::read_to_string(invalid.path().join("cgroup.type")).unwrap();
        assert_eq!(kind.trim(), "domain invalid");
        let before = children();
        let err = Command::new("true").cgroup(invalid.path()).spawn().unwrap_err();
        assert!(
            matches!(&err, Error::Spawn { step: SpawnStep::Cgroup, source, .. }
                if source.raw_os_error() == Some(libc::EOPNOTSUPP)),
            "{err}"
        );
        assert!(err.to_string().contains("cgroup"), "{err}");
        assert_eq!(children(), before, "no child was left");
    });
}

/// (e) The child is in its cgroup from the start: the program itself
/// reads it from `/proc/self/cgroup`, and a running child's
/// `/proc/PID/cgroup` and the cgroup's `cgroup.procs` agree.
#[test]
fn the_child_is_in_its_cgroup_before_exec() {
    serial(async {
        let Some(scratch) = ScratchCgroup::new("test") else { return };
        let name = scratch.path().file_name().unwrap().to_str().unwrap().to_owned();
        let mut cat = spawn(Command::new("cat").arg("/proc/self/cgroup").cgroup(scratch.path()));
        assert_eq!(cat.cgroup(), Some(scratch.path()));
        let mut out = String::new();
        guard(10, "cat's output", cat.take_reader(1).unwrap().read_to_string(&mut out)).await.unwrap();
        assert!(guard(10, "cat", cat.wait()).await.unwrap().success());
        assert!(unified_line(&out).is_some_and(|p| p.ends_with(&format!("/{name}"))), "{out:?} in {name}");

        // From procwire's spawner thread (a parent-death signal), too.
        let mut sleep =
            spawn(Command::new("sleep").arg("100").parent_death_signal("KILL").cgroup(scratch.path()));
        let pid = sleep.id().unwrap();
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(unified_line(&own).is_some_and(|p| p.ends_with(&format!("/{name}"))), "{own:?}");
        assert_eq!(scratch.cgroup.procs().unwrap(), vec![pid]);
        assert_eq!(guard(10, "kill", sleep.kill()).await.unwrap().signal(), Some(9));
    });
}

/// `signal_cgroup` reaches every member, the daemon included, and
/// `wait_empty` sees them go; with nobody left, it says so.
#[test]
fn signal_cgroup_reaches_every_member() {
    serial(async {
        let Some(scratch) = ScratchCgroup::new("test") else { return };
        let mut child = spawn(Command::new("sh").args(["-c", DAEMON]).cgroup(scratch.path()));
        let members = settled(&scratch, &child).await;
        child.signal_cgroup("TERM").unwrap();
        guard(10, "cgroup empty", scratch.cgroup.wait_empty()).await.unwrap();
        for pid in members.all {
            assert!(is_dead(pid), "member {pid} survived: {:?}", proc_stat(pid));
        }
        assert_eq!(guard(10, "wait", child.wait()).await.unwrap().signal(), Some(15));
        assert!(matches!(child.signal_cgroup("TERM"), Err(Error::ProcessExitedAlready)));
        assert!(matches!(child.signal_cgroup("KILL"), Err(Error::ProcessExitedAlready)));
        scratch.cgroup.remove().unwrap();
    });
}

/// Cgroup scope for a child spawned without a cgroup: a typed error, and
/// no signal sent.
#[test]
fn a_cgroup_stop_without_a_cgroup_is_an_error_and_signals_nothing() {
    serial(async {
        let mut child = spawn(Command::new("sleep").arg("100"));
        assert_eq!(child.cgroup(), None);
        let err = child.stop(&StopPolicy::new().with_scope(StopScope::Cgroup)).await.unwrap_err();
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert!(matches!(inner, Some(Error::NoCgroup)), "{err}");
        assert!(matches!(child.signal_cgroup("TERM"), Err(Error::NoCgroup)));
        assert_eq!(child.try_wait().unwrap(), None, "still running");
        assert_eq!(guard(10, "kill", child.kill()).await.unwrap().signal(), Some(9));
    });
}

/// The cgroup types, and the futures that wait on a cgroup, can move
/// between threads (a supervisor's tasks hold them).
#[test]
fn cgroup_types_and_futures_are_send() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let cgroup = Cgroup::open(std::env::temp_dir()).err();
    send_sync(&cgroup);
    if let Some(root) = Cgroup::mount_point() {
        let cgroup = Cgroup::open(root).unwrap();
        send_sync(&cgroup);
        send(&cgroup.wait_empty());
    }
    send(&procwire::StopLadder::new(StopPolicy::new().with_scope(StopScope::Cgroup)));
}

/// What starting in a cgroup costs: `spawn()` of `true` with and without
/// a cgroup, in alternating batches (`clone3(CLONE_INTO_CGROUP)` by
/// default, the child's `cgroup.procs` write under
/// `--cfg procwire_force_posix_spawn`). A measurement, not a check:
/// `cargo test --release -p procwire-tests --test cgroup -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement"]
fn spawn_cost_with_and_without_a_cgroup() {
    serial(async {
        let Some(scratch) = ScratchCgroup::new("test") else { return };
        let (mut plain, mut cgroup) = (Duration::ZERO, Duration::ZERO);
        const ROUNDS: u32 = 10;
        const BATCH: u32 = 50;
        for _ in 0..ROUNDS {
            for (total, into) in [(&mut plain, None), (&mut cgroup, Some(scratch.path()))] {
                let mut cmd = Command::new("true");
                if let Some(dir) = into {
                    cmd.cgroup(dir);
                }
                for _ in 0..BATCH {
                    let started = Instant::now();
                    let mut child = spawn(&mut cmd);
                    *total += started.elapsed();
                    assert!(guard(10, "true", child.wait()).await.unwrap().success());
                }
            }
        }
        let per = |total: Duration| total / (ROUNDS * BATCH);
        println!("spawn(): {:?} without a cgroup, {:?} into one", per(plain), per(cgroup));
    });
}

/// A shell with a `setsid`'d sleep (a daemon: its own session) and a plain
/// sleep.
const DAEMON: &str = "setsid sleep 100 & sleep 100 & wait";

/// The pids of a [`DAEMON`] run.
struct Members {
    all: Vec<u32>,
    /// The `setsid`'d sleep.
    daemon: u32,
    /// The sleep still in the shell's group.
    sleep: u32,
}

/// Waits (looking every 10 ms, for at most 10 s: membership changes raise
/// no event) until the cgroup holds the shell and both sleeps, the daemon
/// in its own session.
async fn settled(scratch: &ScratchCgroup, child: &Child) -> Members {
    let shell = child.id().unwrap();
    guard(10, "the shell and both sleeps in the cgroup", async {
        loop {
            let all = scratch.cgroup.procs().unwrap();
            let sleeps: Vec<u32> =
                all.iter().copied().filter(|&p| p != shell && comm(p) == "sleep").collect();
            let own_session = |p: &u32| proc_stat(*p).is_some_and(|s| s.pgrp == *p);
            if all.len() == 3 && sleeps.len() == 2 && all.contains(&shell) {
                if let (Some(&daemon), Some(&sleep)) =
                    (sleeps.iter().find(|p| own_session(p)), sleeps.iter().find(|p| !own_session(p)))
                {
                    return Members { all, daemon, sleep };
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned()
}

/// The path on the cgroup v2 line (`0::/path`) of a `/proc/PID/cgroup`.
fn unified_line(text: &str) -> Option<&str> {
    text.lines().find_map(|line| line.strip_prefix("0::"))
}

/// A plain directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name =
            format!("procwire-not-a-cgroup-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir(&dir).expect("create a directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Spawns with `kill_on_drop`, so a failing test leaves no process behind
/// (the cgroup's guard kills the rest).
fn spawn(cmd: &mut Command) -> Child {
    cmd.kill_on_drop(true).spawn().expect("spawn")
}
