//! The `supervise` example as a container's entrypoint (issue 17, "PID 1
//! in a container"): run as PID 1 of a new PID namespace (`unshare --pid
//! --fork --mount-proc`, as root), with a program that leaves
//! double-forked orphans behind. Once the orphans have exited, no zombie
//! is left in the namespace; SIGTERM then stops the program, and the
//! orphan still running, in order, and supervise exits 0, leaving no
//! process of the namespace. The same with the host's `/proc` left in
//! place (no `--mount-proc`), where supervise's `/proc/self` is not its
//! own pid.

use std::path::{Path, PathBuf};
use std::time::Duration;

use procwire::{ChildFd, Command};
use tokio::io::AsyncBufReadExt;

mod common;

use common::example;

/// The program: three orphans that exit after 200 ms, each saying so with
/// its pid (in the namespace's numbers) first, and one that runs until it
/// is sent SIGTERM, which it reports; it waits for its own `sleep`, which
/// is orphaned in turn when it exits. Each `( ... &)` subshell exits at
/// once, so its child is adopted by the namespace's PID 1.
const SCRIPT: &str = r#"
for i in 1 2 3; do
    (sh -c 'sleep 0.2; echo "orphan $$ exits"' &)
done
(sh -c 'trap "echo orphan stopped by SIGTERM; exit 0" TERM; echo "orphan $$ runs"; sleep 1000 & wait' &)
exec sleep 1000
"#;

/// The configuration: one program, `command` only. (In one place, so that
/// a change of the configuration's format changes this alone.)
fn config(script: &Path) -> String {
    format!("[program.orphans]\ncommand = [\"sh\", {:?}]\n", script.display().to_string())
}

#[tokio::test]
async fn supervise_as_pid_1_reaps_every_orphan_and_stops_cleanly_on_sigterm() {
    supervise_as_pid_1(true).await;
}

/// `unshare --pid --fork` alone: `/proc` is the parent namespace's, whose
/// pids supervise translates to its own through each child's `NSpid`.
#[tokio::test]
async fn supervise_as_pid_1_with_the_parents_proc_reaps_every_orphan_too() {
    supervise_as_pid_1(false).await;
}

async fn supervise_as_pid_1(mount_proc: bool) {
    let name =
        format!("supervise-pid1-{}-{}", std::process::id(), if mount_proc { "own" } else { "parents" });
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let script = dir.join("orphans.sh");
    std::fs::write(&script, SCRIPT).expect("write the script");
    let config_path = dir.join("supervise.toml");
    std::fs::write(&config_path, config(&script)).expect("write the config");
    check_unshare().await;

    // `--kill-child`: if this test fails, unshare is killed on drop, and
    // supervise, and its namespace, with it.
    let mut unshare = Command::new("unshare");
    unshare.args(["--pid", "--fork", "--kill-child"]);
    if mount_proc {
        unshare.arg("--mount-proc");
    }
    let mut unshare = unshare
        .arg(example("supervise"))
        .arg(&config_path)
        .stdin(ChildFd::Null)
        .stderr(ChildFd::Parent(2))
        .kill_on_drop(true)
        .spawn()
        .expect("run unshare");
    let mut stdout = tokio::io::BufReader::new(unshare.take_reader(1).expect("stdout")).lines();
    let mut lines: Vec<String> = Vec::new();
    // Up: the four orphans have said who they are, three have exited.
    let up = async {
        while lines.iter().filter(|l| l.ends_with(" exits")).count() < 3
            || !lines.iter().any(|l| l.ends_with(" runs"))
        {
            match stdout.next_line().await.expect("read") {
                Some(line) => lines.push(line),
                None => panic!("supervise ended early: {lines:#?}"),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), up).await.is_err() {
        panic!("the orphans never spoke: {lines:#?}");
    }
    let unshare_pid = unshare.id().expect("unshare's pid");
    let supervise = only_child(unshare_pid);
    let ns = pid_namespace(supervise).expect("supervise's pid namespace");
    assert_eq!(nspid(supervise).and_then(|p| p.last().copied()), Some(1), "supervise is PID 1");
    let exited: Vec<u32> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("[orphans] orphan ")?.strip_suffix(" exits")?.parse().ok())
        .collect();
    assert_eq!(exited.len(), 3, "{lines:#?}");

    // The event: the three are gone from the namespace, not even zombies
    // (each was a zombie child of supervise for a moment). Then no zombie
    // at all.
    let gone = async {
        loop {
            let procs = namespace_processes(&ns);
            if !procs.iter().any(|p| exited.contains(&p.ns_pid)) {
                return procs;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let procs = match tokio::time::timeout(Duration::from_secs(20), gone).await {
        Ok(procs) => procs,
        Err(_) => panic!(
            "the exited orphans {exited:?} are still in the namespace (zombies: not reaped): {:#?}",
            namespace_processes(&ns)
        ),
    };
    let zombies: Vec<&Proc> = procs.iter().filter(|p| p.state == 'Z').collect();
    assert!(zombies.is_empty(), "zombies in the namespace: {zombies:#?}");
    // supervise, the program (`sleep 1000`), the running orphan and its sleep.
    assert_eq!(procs.len(), 4, "{procs:#?}");

    let kill = Command::new("sh")
        .args(["-c", "kill -TERM \"$1\"", "sh"])
        .arg(supervise.to_string())
        .spawn()
        .expect("run kill")
        .wait()
        .await
        .expect("kill's status");
    assert!(kill.success(), "SIGTERM to supervise: {kill}");
    let rest = async {
        while let Some(line) = stdout.next_line().await.expect("read") {
            lines.push(line);
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), rest).await.is_err() {
        panic!("supervise did not stop: {lines:#?}");
    }
    let status =
        tokio::time::timeout(Duration::from_secs(30), unshare.wait()).await.expect("exit").expect("wait");
    assert!(status.success(), "{status}: {lines:#?}");
    // The program was stopped, and the running orphan too, by supervise
    // before it exited: the kernel's end of a namespace sends SIGKILL,
    // which no trap reports.
    let program_stopped = |l: &String| l.starts_with("[event] orphans ") && l.contains("Stopping -> Stopped");
    assert!(lines.iter().any(program_stopped), "{lines:#?}");
    assert!(lines.iter().any(|l| l == "[orphans] orphan stopped by SIGTERM"), "{lines:#?}");
    assert_eq!(lines.last().map(String::as_str), Some("[supervise] stopped"), "{lines:#?}");
    let left = namespace_processes(&ns);
    assert!(left.is_empty(), "left in the namespace: {left:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Fails, saying why, where a new PID namespace cannot be made (not root,
/// no `unshare`): CI runs as root, so this is never skipped in silence.
async fn check_unshare() {
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stdin(ChildFd::Null)
        .stderr(ChildFd::ReadPipe)
        .spawn();
    let mut probe = match probe {
        Ok(probe) => probe,
        Err(e) => panic!("this test runs supervise as PID 1 through util-linux's `unshare`: {e}"),
    };
    let mut err = String::new();
    let mut reader = probe.take_reader(2).expect("stderr");
    let _ = tokio::io::AsyncReadExt::read_to_string(&mut reader, &mut err).await;
    let status = probe.wait().await.expect("unshare's status");
    assert!(
        status.success(),
        "`unshare --pid --fork --mount-proc true` failed ({status}: {}): this test needs root \
         (CAP_SYS_ADMIN) to run supervise as PID 1 of a new PID namespace",
        err.trim()
    );
}

/// One process as `/proc` shows it from outside its namespace.
#[derive(Debug)]
#[allow(dead_code)] // read by Debug, in failure messages
struct Proc {
    pid: u32,
    ns_pid: u32,
    state: char,
    cmdline: String,
}

/// The processes whose pid namespace is `ns` (`/proc/PID/ns/pid`).
fn namespace_processes(ns: &Path) -> Vec<Proc> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid_namespace(pid).as_deref() != Some(ns) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let state =
            stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()).unwrap_or('?');
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let ns_pid = nspid(pid).and_then(|p| p.last().copied()).unwrap_or(0);
        found.push(Proc { pid, ns_pid, state, cmdline });
    }
    found
}

fn pid_namespace(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

/// The pids of `pid`, from this namespace down to its own (`NSpid:`).
fn nspid(pid: u32) -> Option<Vec<u32>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    Some(line.split_whitespace().filter_map(|p| p.parse().ok()).collect())
}

/// The one child of `pid` (unshare's: supervise, PID 1 of the namespace).
fn only_child(pid: u32) -> u32 {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).expect("its children");
    let children: Vec<u32> = children.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    assert_eq!(children.len(), 1, "unshare's children: {children:?}");
    children[0]
}
