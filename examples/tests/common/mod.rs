//! What the example tests share: running a built example, and reading
//! `/proc`.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use procwire::{ChildFd, ChildReader, Command, ExitStatus};
use tokio::io::AsyncReadExt;

/// Whether `line` is an event of `program` that mentions `what`.
pub(crate) fn is_event(line: &str, program: &str, what: &str) -> bool {
    line.strip_prefix("[event] ").and_then(|l| l.strip_prefix(program)).is_some_and(|l| l.starts_with(' '))
        && line.contains(what)
}

/// Live processes (not zombies) that are one of `pids` or in the process
/// group of one, from `/proc/PID/stat`.
pub(crate) fn live_processes_of(pids: &[u32]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        // Numbers only: not `self` and `thread-self`, which are this process.
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) S ppid pgrp ...": comm may hold spaces, so split after ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let mut fields = rest.split_whitespace();
        let (Some(state), Some(_ppid), Some(pgrp)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let ours = pids.contains(&pid) || pgrp.parse().is_ok_and(|g: u32| pids.contains(&g));
        if ours && !matches!(state, "Z" | "X") {
            found.push(stat);
        }
    }
    found
}

/// What a finished example printed.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) name: &'static str,
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn assert_success(&self) {
        assert!(
            self.status.success(),
            "{} example: {}\n{}\n{}",
            self.name,
            self.status,
            self.stdout,
            self.stderr
        );
    }
}

/// Runs an example to its end; a hang fails the test after a minute, and
/// the example is then killed and reaped (`kill_on_drop`).
pub(crate) async fn run_example(name: &'static str) -> Run {
    run_example_with(name, &[]).await
}

/// [`run_example`] with arguments.
pub(crate) async fn run_example_with(name: &'static str, args: &[&std::ffi::OsStr]) -> Run {
    let mut child = Command::new(example(name))
        .args(args)
        .stdin(ChildFd::Null)
        .stderr(ChildFd::ReadPipe)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("run the {name} example: {e}"));
    let out = read_all(child.take_reader(1).expect("stdout"));
    let err = read_all(child.take_reader(2).expect("stderr"));
    let run = async {
        let (stdout, stderr) = tokio::join!(out, err);
        (stdout, stderr, child.wait().await.expect("wait"))
    };
    let (stdout, stderr, status) = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("the {name} example hung"));
    Run { name, status, stdout, stderr }
}

pub(crate) async fn read_all(mut pipe: ChildReader) -> String {
    let mut text = String::new();
    pipe.read_to_string(&mut text).await.expect("read the example's output");
    text
}

/// The example's binary, `target/<profile>/examples/NAME`, one level above
/// the test's `deps/`. `cargo test` builds examples only when no target is
/// selected, so under `cargo test --test examples` they could be missing or
/// stale: the first call builds them all with the cargo running this test,
/// into the same target directory and with the same `RUSTFLAGS`.
pub(crate) fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    BUILT.call_once(|| build_examples(profile_dir));
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} not built", path.display());
    path
}

pub(crate) fn build_examples(profile_dir: &Path) {
    let Some(cargo) = std::env::var_os("CARGO") else {
        println!("CARGO is not set (not run by cargo): using the examples as built");
        return;
    };
    let target_dir = profile_dir.parent().expect("target dir");
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--quiet", "-p", "procwire-examples", "--examples", "--target-dir"]).arg(target_dir);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build --examples");
    assert!(status.success(), "cargo build --examples: {status}");
}

pub(crate) fn in_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

/// Live processes (not zombies: those have no command line) whose command
/// line mentions `text`, as `(pid, command line)`.
pub(crate) fn processes_mentioning(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(text) {
            found.push((pid, cmdline));
        }
    }
    found
}
