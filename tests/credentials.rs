//! Credentials and the parent-death signal: `uid`, `gid` and `groups` as the
//! child's own `/proc/self/status` shows them, typed errors for a refused
//! credential step, `PR_SET_PDEATHSIG` tied to the parent process (not to
//! the spawning thread), and the clone trampoline that does both keeping
//! `posix_spawn`'s guarantees (signals, descriptors, errors, no leaks).
//!
//! Changing credentials needs root: those tests print why and return
//! early when run as another user. Every test runs under one process-wide
//! lock, runtime included (see [`serial`]): one test makes this process a
//! child subreaper and another compares the whole descriptor table.
//!
//! Linux only: credentials, `PR_SET_PDEATHSIG` and `/proc`.
#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{getgrouplist, Gid, Pid, Uid, User};
use procwire::{ChildFd, Command, Error, ExitStatus, InputError, SpawnStep, StdioDefaults};
use procwire_tests::{guard, open_fds, parse_report, process_exists, pw_child, serial, zombie_children};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The user every Linux system has, and a uid no passwd file names.
const NOBODY: u32 = 65534;
const NO_PASSWD: u32 = 54321;

#[test]
fn uid_and_gid_set_every_id_and_the_users_groups_only() {
    serial(async {
        let Some(user) = nobody("uid_and_gid_set_every_id_and_the_users_groups_only") else { return };
        let parent_groups = own_groups();
        let st = child_ids(Command::new("cat").uid(NOBODY).gid(NOBODY)).await;
        assert_eq!((st.uid, st.gid), ([NOBODY; 4], [NOBODY; 4]));
        let expected = initgroups(&user, NOBODY);
        assert_eq!(st.groups, expected, "initgroups semantics");
        for g in parent_groups.iter().filter(|g| !expected.contains(g)) {
            assert!(!st.groups.contains(g), "parent's group {g} leaked into {:?}", st.groups);
        }
    });
}

#[test]
fn uid_alone_takes_the_users_primary_group_and_groups() {
    serial(async {
        let Some(user) = nobody("uid_alone_takes_the_users_primary_group_and_groups") else { return };
        let gid = user.gid.as_raw();
        let st = child_ids(Command::new("cat").uid(NOBODY)).await;
        assert_eq!((st.uid, st.gid), ([NOBODY; 4], [gid; 4]));
        assert_eq!(st.groups, initgroups(&user, gid));
    });
}

#[test]
fn explicit_groups_are_exactly_those() {
    serial(async {
        if !is_root("explicit_groups_are_exactly_those") {
            return;
        }
        let st = child_ids(Command::new("cat").uid(NOBODY).gid(NOBODY).groups(&[])).await;
        assert_eq!((st.uid, st.groups), ([NOBODY; 4], vec![]));
        let st = child_ids(Command::new("cat").uid(NOBODY).gid(NOBODY).groups(&[2, 1])).await;
        assert_eq!((st.uid, st.groups), ([NOBODY; 4], vec![1, 2]));
        // Groups alone: root keeps its uid and gid.
        let st = child_ids(Command::new("cat").groups(&[4242, 4243])).await;
        assert_eq!((st.uid, st.gid, st.groups), ([0; 4], [0; 4], vec![4242, 4243]));
    });
}

#[test]
fn uid_without_passwd_entry_gets_no_groups() {
    serial(async {
        if !is_root("uid_without_passwd_entry_gets_no_groups") {
            return;
        }
        assert!(User::from_uid(Uid::from_raw(NO_PASSWD)).unwrap().is_none(), "precondition: no passwd entry");
        let gid = nix::unistd::getgid().as_raw();
        let st = child_ids(Command::new("cat").uid(NO_PASSWD)).await;
        assert_eq!((st.uid, st.gid, st.groups), ([NO_PASSWD; 4], [gid; 4], vec![]));
    });
}

#[test]
fn parents_own_groups_never_reach_a_child_with_a_uid() {
    serial(async {
        let Some(user) = nobody("parents_own_groups_never_reach_a_child_with_a_uid") else { return };
        // A parent (pw-spawn) whose supplementary groups are 4242 and 4243.
        for (uid, expected) in [(NO_PASSWD, vec![]), (NOBODY, initgroups(&user, user.gid.as_raw()))] {
            let mut cmd = pw_spawn(&["try-uid", &uid.to_string(), "/bin/cat", "/proc/self/status"]);
            let (out, st) = output(cmd.groups(&[4242, 4243])).await;
            assert!(st.success(), "pw-spawn {st}");
            assert!(out.ends_with("ok exit code 0\n"), "{out}");
            let ids = parse_status(&out);
            assert_eq!((ids.uid, ids.groups), ([uid; 4], expected), "uid {uid}");
        }
    });
}

#[test]
fn non_root_parent_becoming_root_fails_at_setgroups_with_eperm() {
    serial(async {
        if !is_root("non_root_parent_becoming_root_fails_at_setgroups_with_eperm") {
            return;
        }
        // pw-spawn runs as nobody and asks for uid 0.
        let (program, _copy) = pw_spawn_runnable_by_others();
        let mut cmd = Command::new(&program);
        cmd.args(["try-uid", "0", "/bin/true"]).uid(NOBODY).gid(NOBODY);
        let (out, st) = output(&mut cmd).await;
        assert!(st.success(), "pw-spawn {st}: {out}");
        let lines: Vec<&str> = out.lines().collect();
        let [message, step, errno] = lines[..] else { panic!("expected an error report, got {out:?}") };
        assert!(message.starts_with("err failed to spawn `/bin/true`: setgroups: "), "{message}");
        assert!(message.contains("Operation not permitted (os error 1)"), "{message}");
        assert_eq!((step, errno), ("Setgroups", "1"));

        // Naming its own uid changes no groups (Twisted's switchUID), so a
        // non-root parent may do it.
        let mut cmd = Command::new(&program);
        cmd.args(["try-uid", &NOBODY.to_string(), "/bin/true"]).uid(NOBODY).gid(NOBODY);
        let (out, st) = output(&mut cmd).await;
        assert!(st.success(), "pw-spawn {st}: {out}");
        assert_eq!(out.trim(), "ok exit code 0", "{out}");
    });
}

#[test]
fn parent_death_signal_kills_the_child_when_its_parent_dies() {
    serial(async {
        // Orphans re-parent to us, so this test can reap and inspect them.
        let _subreaper = Subreaper::set();
        for killed in [true, false] {
            let mut parent = pw_spawn(&["pdeathsig", "KILL", "/bin/sleep", "100"]);
            let mut parent = parent.stderr(ChildFd::Parent(2)).kill_on_drop(true).spawn().unwrap();
            let mut line = String::new();
            let mut stdout = BufReader::new(parent.take_reader(1).unwrap());
            guard(10, "grandchild pid", stdout.read_line(&mut line)).await.unwrap();
            let gpid: i32 = line.trim().parse().unwrap_or_else(|_| panic!("pid line {line:?}"));
            let state = proc_state(gpid);
            assert!(
                state.as_ref().is_some_and(|(s, _)| s != "Z"),
                "grandchild {gpid} not running: {state:?}"
            );
            assert_eq!(state.unwrap().1, parent.id().unwrap() as i32, "grandchild's parent");
            if killed {
                parent.signal("KILL").unwrap();
                let st = guard(10, "pw-spawn killed", parent.wait()).await.unwrap();
                assert_eq!(st.signal(), Some(9));
            } else {
                parent.take_writer(0).unwrap().shutdown().await.unwrap();
                let st = guard(10, "pw-spawn exits at EOF", parent.wait()).await.unwrap();
                assert_eq!(st.code(), Some(0));
            }
            let status = reap_orphan(gpid).await;
            assert_eq!(status, WaitStatus::Signaled(Pid::from_raw(gpid), Signal::SIGKILL, false));
            assert!(!process_exists(gpid as u32), "grandchild {gpid} reaped");
        }
    });
}

#[test]
fn parent_death_signal_ignores_the_spawning_threads_exit() {
    serial(async {
        let handle = tokio::runtime::Handle::current();
        let spawning = std::thread::spawn(move || {
            let _runtime = handle.enter();
            let mut cmd = Command::new(pw_child!());
            let child = cmd.arg("echo:0:1").parent_death_signal("KILL").kill_on_drop(true).spawn();
            (child.unwrap(), nix::unistd::gettid())
        });
        let (mut child, tid) = spawning.join().unwrap();
        // `join` returns when the thread has cleared its tid, before the
        // kernel sends death signals; its task entry goes only after that.
        let task = format!("/proc/self/task/{tid}");
        guard(10, "spawning thread's exit", async {
            while Path::new(&task).exists() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        let (mut stdin, mut stdout) = (child.take_writer(0).unwrap(), child.take_reader(1).unwrap());
        let mut echoed = [0; 4];
        guard(10, "ping echoed", async {
            stdin.write_all(b"ping").await.unwrap();
            stdout.read_exact(&mut echoed).await.unwrap();
        })
        .await;
        assert_eq!(&echoed, b"ping");
        stdin.shutdown().await.unwrap();
        let st = guard(10, "echo child exit", child.wait()).await.unwrap();
        assert_eq!((st.code(), st.signal()), (Some(0), None));
    });
}

#[test]
fn trampoline_resets_every_disposition_and_the_mask() {
    if !is_root("trampoline_resets_every_disposition_and_the_mask") {
        return;
    }
    let usr2 = usr2();
    usr2.thread_block().unwrap();
    serial(async {
        assert!(SigSet::thread_get_mask().unwrap().contains(Signal::SIGUSR2), "precondition");
        let (ignored, blocked) = sigstate(Command::new(pw_child!()).uid(0)).await;
        // SIGPIPE (ignored here by Rust's runtime) and glibc's 32/33 too.
        assert_eq!(ignored, Vec::<i32>::new(), "signals ignored in the child");
        assert_eq!(blocked, Vec::<i32>::new(), "signals blocked in the child");
    });
    usr2.thread_unblock().unwrap();
}

#[test]
fn trampoline_keep_signal_mask_keeps_the_spawning_threads_mask() {
    if !is_root("trampoline_keep_signal_mask_keeps_the_spawning_threads_mask") {
        return;
    }
    let usr2 = usr2();
    usr2.thread_block().unwrap();
    serial(async {
        let (ignored, blocked) = sigstate(Command::new(pw_child!()).uid(0).keep_signal_mask(true)).await;
        assert_eq!((ignored, blocked), (vec![], vec![12]));
    });
    usr2.thread_unblock().unwrap();
}

// Fails today: with a parent-death signal the child is cloned on the
// procwire-spawner thread, whose mask (not the caller's) the child keeps.
#[test]
fn keep_signal_mask_with_parent_death_signal_keeps_the_callers_mask() {
    serial(async {
        // The spawner thread exists (created with an empty mask) before
        // this thread blocks anything.
        let (_, blocked) = sigstate(Command::new(pw_child!()).parent_death_signal("KILL")).await;
        assert_eq!(blocked, Vec::<i32>::new());
        let usr2 = usr2();
        usr2.thread_block().unwrap();
        let mut cmd = Command::new(pw_child!());
        let (_, blocked) = sigstate(cmd.parent_death_signal("KILL").keep_signal_mask(true)).await;
        usr2.thread_unblock().unwrap();
        assert_eq!(blocked, vec![12], "the child keeps the mask of the thread that called spawn()");
    });
}

/// A child spawned with a parent-death signal (cloned on a spawner
/// thread, pinned to the CPU of the thread that waits for it)
/// may run on the CPUs of the thread that called `spawn`, as if that
/// thread had spawned it: all of them from an unpinned thread, one from
/// a thread pinned to one. Fails if the child keeps the spawner thread's
/// one-CPU set.
#[test]
fn parent_death_signal_children_keep_the_callers_cpu_set() {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    serial(async {
        let me = Pid::from_raw(0);
        let all = sched_getaffinity(me).unwrap();
        let cpus: Vec<usize> = (0..CpuSet::count()).filter(|&c| all.is_set(c).unwrap_or(false)).collect();
        if cpus.len() < 2 {
            eprintln!(
                "parent_death_signal_children_keep_the_callers_cpu_set: one CPU, nothing to tell apart"
            );
            return;
        }
        let allowed = |text: &str| {
            let line = text.lines().find(|l| l.starts_with("Cpus_allowed_list:")).map(str::to_owned);
            line.unwrap_or_else(|| panic!("no Cpus_allowed_list in {text:?}"))
        };
        let child_set = || async {
            let mut cmd = Command::new("/bin/cat");
            cmd.arg("/proc/self/status").parent_death_signal("KILL");
            let (out, st) = output(&mut cmd).await;
            assert!(st.success(), "{st}");
            allowed(&out)
        };
        let mine = allowed(&std::fs::read_to_string("/proc/thread-self/status").unwrap());
        for _ in 0..3 {
            assert_eq!(child_set().await, mine, "an unpinned caller's child may run on every CPU");
        }
        let last = *cpus.last().unwrap();
        let mut one = CpuSet::new();
        one.set(last).unwrap();
        sched_setaffinity(me, &one).unwrap();
        let pinned = allowed(&std::fs::read_to_string("/proc/thread-self/status").unwrap());
        let seen = [child_set().await, child_set().await];
        sched_setaffinity(me, &all).unwrap();
        assert_eq!(seen, [pinned.clone(), pinned], "a pinned caller's child runs on its CPU");
        assert_eq!(child_set().await, mine, "and an unpinned caller's on every CPU again");
        // The caller stays on its CPU while it waits for the spawner
        // thread, and gets its own set back after.
        let after = allowed(&std::fs::read_to_string("/proc/thread-self/status").unwrap());
        assert_eq!(after, mine, "the calling thread's own set is put back");
    });
}

/// Many spawns with a parent-death signal at once, from both workers of
/// a runtime: every child may run on every CPU the process may, and no
/// thread is left pinned after (the callers pin themselves while they
/// wait for a spawner thread).
#[test]
fn concurrent_parent_death_spawns_leave_no_thread_pinned() {
    serial(async {
        let allowed = |text: &str| {
            let line = text.lines().find(|l| l.starts_with("Cpus_allowed_list:")).map(str::to_owned);
            line.unwrap_or_else(|| panic!("no Cpus_allowed_list in {text:?}"))
        };
        let mine = allowed(&std::fs::read_to_string("/proc/thread-self/status").unwrap());
        // A runtime of its own, driven from another thread (this one runs
        // `serial`'s).
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let rt = std::sync::Arc::new(rt);
        let driver = rt.clone();
        let sets = std::thread::spawn(move || {
            driver.block_on(async {
                let tasks: Vec<_> = (0..100)
                    .map(|_| {
                        tokio::spawn(async {
                            let mut cmd = Command::new("/bin/cat");
                            cmd.arg("/proc/self/status").parent_death_signal("KILL");
                            output(&mut cmd).await
                        })
                    })
                    .collect();
                let mut sets = Vec::new();
                for task in tasks {
                    let (out, st) = guard(30, "a spawn", task).await.unwrap();
                    assert!(st.success(), "{st}");
                    sets.push(allowed(&out));
                }
                sets
            })
        })
        .join()
        .unwrap();
        assert!(sets.iter().all(|s| *s == mine), "every child on every CPU ({mine}): {sets:?}");
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
            let name = status.lines().next().unwrap_or_default().to_owned();
            if name.contains("procwire-spawn") {
                continue; // pinned on purpose, one per CPU
            }
            assert_eq!(allowed(&status), mine, "{name}: no thread left pinned");
        }
        std::thread::spawn(move || drop(rt)).join().unwrap();
    });
}

#[test]
fn trampoline_child_gets_only_the_mapped_fds() {
    serial(async {
        if !is_root("trampoline_child_gets_only_the_mapped_fds") {
            return;
        }
        // Not close-on-exec: only the fd plan keeps it from the child.
        let inheritable = nix::unistd::dup(std::io::stderr()).unwrap();
        for pdeathsig in [false, true] {
            let mut cmd = Command::new(pw_child!());
            cmd.arg("report:1").uid(0);
            if pdeathsig {
                cmd.parent_death_signal("TERM");
            }
            let (out, st) = output(&mut cmd).await;
            assert!(st.success(), "{st}");
            let table = parse_report(&out);
            let fds: Vec<(i32, &str, &str)> =
                table.iter().map(|(fd, e)| (*fd, e.kind.as_str(), e.acc.as_str())).collect();
            assert_eq!(fds, [(0, "fifo", "r"), (1, "fifo", "w"), (2, "fifo", "w")], "{out}");
        }
        drop(inheritable);
    });
}

#[test]
fn trampoline_errors_name_exec_and_chdir() {
    serial(async {
        if !is_root("trampoline_errors_name_exec_and_chdir") {
            return;
        }
        for pdeathsig in [false, true] {
            let mut cmd = Command::new("/no/such/program");
            cmd.uid(0);
            let mut in_missing_dir = Command::new(pw_child!());
            in_missing_dir.uid(0).current_dir("/no/such/dir");
            if pdeathsig {
                cmd.parent_death_signal("KILL");
                in_missing_dir.parent_death_signal("KILL");
            }
            let err = cmd.spawn().unwrap_err();
            assert_spawn_error(&err, SpawnStep::Exec, "/no/such/program");
            let err = in_missing_dir.spawn().unwrap_err();
            assert_spawn_error(&err, SpawnStep::Chdir, pw_child!());
        }
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

#[test]
fn bad_parent_death_signal_is_invalid_input() {
    serial(async {
        let before = open_fds();
        let err = Command::new(pw_child!()).parent_death_signal("NOPE").spawn().unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput(InputError::InvalidSignal(m)) if m.contains("NOPE")),
            "{err}"
        );
        let err = Command::new(pw_child!()).parent_death_signal(99).spawn().unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput(InputError::InvalidSignal(m)) if m.contains("99")),
            "{err}"
        );
        // prctl would read 0 as "clear the signal".
        let err = Command::new(pw_child!()).parent_death_signal(0).spawn().unwrap_err();
        assert!(matches!(&err, Error::InvalidInput(InputError::InvalidSignal(_))), "{err}");
        assert_eq!(open_fds(), before);
    });
}

#[test]
fn credential_spawns_leak_no_fd_and_leave_no_zombie() {
    serial(async {
        if !is_root("credential_spawns_leak_no_fd_and_leave_no_zombie") {
            return;
        }
        let ok = || as_root("/bin/true");
        let bad = || as_root("/no/such/program");
        // Warm-up: whatever the spawn path opens once per process.
        assert!(guard(10, "warm-up", ok().spawn().unwrap().wait()).await.unwrap().success());
        assert!(bad().spawn().is_err());
        let before = open_fds();
        for _ in 0..200 {
            let st = guard(10, "/bin/true as root", ok().spawn().unwrap().wait()).await.unwrap();
            assert_eq!(st.code(), Some(0));
        }
        for _ in 0..50 {
            assert_spawn_error(&bad().spawn().unwrap_err(), SpawnStep::Exec, "/no/such/program");
        }
        assert_eq!(open_fds(), before, "descriptors after 250 credential spawns");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

// ---- helpers ----

fn is_root(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipped {test}: changing credentials needs root");
    }
    root
}

/// The passwd entry of uid 65534, when running as root.
fn nobody(test: &str) -> Option<User> {
    is_root(test).then(|| User::from_uid(Uid::from_raw(NOBODY)).unwrap().expect("passwd entry for 65534"))
}

/// `user`'s supplementary groups with `gid`, as `initgroups` sets them.
fn initgroups(user: &User, gid: u32) -> Vec<u32> {
    let name = std::ffi::CString::new(user.name.as_str()).unwrap();
    let mut groups: Vec<u32> =
        getgrouplist(&name, Gid::from_raw(gid)).unwrap().into_iter().map(Gid::as_raw).collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// Ids as a `/proc/PID/status` shows them (real, effective, saved, fs).
#[derive(Debug)]
struct Ids {
    uid: [u32; 4],
    gid: [u32; 4],
    groups: Vec<u32>,
}

fn parse_status(text: &str) -> Ids {
    let field = |key: &str| -> Vec<u32> {
        let line = text.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("no {key}"));
        line.split_whitespace().map(|n| n.parse().unwrap()).collect()
    };
    let four = |key: &str| -> [u32; 4] { field(key).try_into().unwrap() };
    Ids { uid: four("Uid:"), gid: four("Gid:"), groups: field("Groups:") }
}

fn own_groups() -> Vec<u32> {
    parse_status(&std::fs::read_to_string("/proc/self/status").unwrap()).groups
}

/// The ids of `cmd` (a `cat`), which prints its own `/proc/self/status`.
async fn child_ids(cmd: &mut Command) -> Ids {
    let (out, st) = output(cmd.arg("/proc/self/status")).await;
    assert!(st.success(), "cat {st}");
    parse_status(&out)
}

/// Spawns `cmd`, reads its stdout and stderr to the end, reaps it; shows
/// the stderr of a child that failed.
async fn output(cmd: &mut Command) -> (String, ExitStatus) {
    let mut child = cmd.kill_on_drop(true).spawn_with(StdioDefaults::Twisted).unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    let mut stdout = child.take_reader(1).expect("stdout pipe");
    let mut stderr = child.take_reader(2).expect("stderr pipe");
    let (r1, r2) = guard(10, "child output", async {
        tokio::join!(stdout.read_to_string(&mut out), stderr.read_to_string(&mut err))
    })
    .await;
    r1.unwrap();
    r2.unwrap();
    let st = guard(10, "child exit", child.wait()).await.unwrap();
    if !st.success() {
        eprintln!("child {st}: stderr {err:?}");
    }
    (out, st)
}

/// `pw-child sigstate:1` run by `cmd`: (ignored, blocked) signal numbers.
async fn sigstate(cmd: &mut Command) -> (Vec<i32>, Vec<i32>) {
    let (out, st) = output(cmd.arg("sigstate:1")).await;
    assert!(st.success(), "sigstate {st}");
    let list = |key: &str| -> Vec<i32> {
        let line = out.lines().find_map(|l| l.strip_prefix(key)).expect(key);
        line.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect()
    };
    (list("ignored="), list("blocked="))
}

fn usr2() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR2);
    set
}

/// `program` with uid 0 and gid 0 set, so it goes through the trampoline.
fn as_root(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.uid(0).gid(0).kill_on_drop(true);
    cmd
}

fn pw_spawn(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pw-spawn"));
    cmd.args(args);
    cmd
}

/// `pw-spawn`'s path, or a copy in a fresh world-readable directory when a
/// directory on the way (or the binary) is closed to other users.
fn pw_spawn_runnable_by_others() -> (PathBuf, Option<TempDir>) {
    let program = Path::new(env!("CARGO_BIN_EXE_pw-spawn"));
    let open =
        |p: &Path, bits: u32| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & bits == bits);
    if open(program, 0o005) && program.ancestors().skip(1).all(|dir| open(dir, 0o001)) {
        return (program.to_owned(), None);
    }
    let dir = std::env::temp_dir().join(format!("procwire-credentials-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.join("pw-spawn");
    std::fs::copy(program, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    (copy, Some(TempDir(dir)))
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// This process as a child subreaper (`PR_SET_CHILD_SUBREAPER`), until drop.
struct Subreaper;

impl Subreaper {
    fn set() -> Subreaper {
        nix::sys::prctl::set_child_subreaper(true).unwrap();
        Subreaper
    }
}

impl Drop for Subreaper {
    fn drop(&mut self) {
        let _ = nix::sys::prctl::set_child_subreaper(false);
    }
}

/// (state, ppid) of process `pid`, from `/proc/PID/stat`.
fn proc_state(pid: i32) -> Option<(String, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    Some((fields.next()?.to_owned(), fields.next()?.parse().ok()?))
}

/// Reaps `pid`, a child of ours by re-parenting; kills it first if it is
/// still alive after 10 s, and fails the test then.
async fn reap_orphan(pid: i32) -> WaitStatus {
    let mut task = tokio::task::spawn_blocking(move || waitpid(Pid::from_raw(pid), None));
    match tokio::time::timeout(Duration::from_secs(10), &mut task).await {
        Ok(joined) => joined.unwrap().expect("waitpid on the orphan"),
        Err(_) => {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = task.await;
            panic!("timed out after 10 s: orphan {pid} outlived its parent");
        }
    }
}

fn assert_spawn_error(err: &Error, want: SpawnStep, program: &str) {
    match err {
        Error::Spawn { program: p, step, source } => {
            assert_eq!((*step, source.kind()), (want, std::io::ErrorKind::NotFound), "{err}");
            assert_eq!(p, program);
        }
        other => panic!("expected a spawn error at {want}, got {other:?}"),
    }
}
