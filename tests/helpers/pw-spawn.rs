//! `pw-spawn`: a small parent that spawns through procwire itself, for the
//! credential tests that need a parent which is not root, has supplementary
//! groups of its own, or dies before its child.
//!
//! Usage: `pw-spawn MODE ARGS...`.
//!
//! | mode                          | effect                                                              |
//! |-------------------------------|---------------------------------------------------------------------|
//! | `try-uid UID PROGRAM ARGS...` | spawn PROGRAM with `.uid(UID)`, its stdout and stderr ours and its  |
//! |                               | stdin `/dev/null`, and wait for it; then print `ok STATUS` (the     |
//! |                               | `ExitStatus` Display), or `err MESSAGE` (the error's Display), the  |
//! |                               | `SpawnStep` Debug name and the errno on three lines (`-` for none)  |
//! | `pdeathsig SIG PROGRAM ARGS...` | spawn PROGRAM with `parent_death_signal(SIG)` (a name or number) |
//! |                               | and `/dev/null` on fds 0-2, print its pid, then read stdin until    |
//! |                               | EOF and exit without waiting for it                                 |
//! | `nofile SOFT MAP PROGRAM ARGS...` | set our soft `RLIMIT_NOFILE` to SOFT, spawn PROGRAM with only   |
//! |                               | the fds of MAP (`CHILD=PARENT,...`, each `ChildFd::Parent`), wait,  |
//! |                               | and print as `try-uid` does                                         |
//!
//! Exit 0 after a mode ran (whatever the spawn's outcome), 2 on bad usage,
//! 3 if `pdeathsig`'s spawn or `nofile`'s `setrlimit` failed (the error on
//! stderr).
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::process::ExitCode;

use procwire::{ChildFd, Command, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, uid, program, rest @ ..] if mode == "try-uid" => match uid.parse() {
            Ok(uid) => try_uid(uid, program, rest).await,
            Err(_) => usage(),
        },
        [mode, sig, program, rest @ ..] if mode == "pdeathsig" => pdeathsig(sig, program, rest),
        [mode, soft, map, program, rest @ ..] if mode == "nofile" => match (soft.parse(), parse_map(map)) {
            (Ok(soft), Some(map)) => nofile(soft, map, program, rest).await,
            _ => usage(),
        },
        _ => usage(),
    }
}

async fn try_uid(uid: u32, program: &str, args: &[String]) -> ExitCode {
    let spawned = Command::new(program)
        .args(args)
        .uid(uid)
        .stdin(ChildFd::Null)
        .stdout(ChildFd::Parent(1))
        .stderr(ChildFd::Parent(2))
        .spawn();
    report(spawned).await
}

async fn nofile(soft: u64, map: Vec<(i32, i32)>, program: &str, args: &[String]) -> ExitCode {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let soft = soft as nix::libc::rlim_t;
    let hard = getrlimit(Resource::RLIMIT_NOFILE).map_or(soft, |(_, hard)| hard);
    if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, soft, hard) {
        eprintln!("pw-spawn: setrlimit: {e}");
        return ExitCode::from(3);
    }
    let spawned = Command::new(program)
        .args(args)
        .child_fds(map.into_iter().map(|(c, p)| (c, ChildFd::Parent(p))))
        .spawn();
    report(spawned).await
}

/// `CHILD=PARENT,...` as pairs.
fn parse_map(map: &str) -> Option<Vec<(i32, i32)>> {
    map.split(',')
        .map(|pair| {
            let (child, parent) = pair.split_once('=')?;
            Some((child.parse().ok()?, parent.parse().ok()?))
        })
        .collect()
}

/// Waits for the child and prints the outcome (see the table above).
async fn report(spawned: Result<procwire::Child, Error>) -> ExitCode {
    let report = match spawned {
        Ok(mut child) => match child.wait().await {
            Ok(status) => format!("ok {status}"),
            Err(e) => format!("err waiting: {e}\n-\n{}", errno(&e)),
        },
        Err(e) => {
            let (step, os) = match &e {
                Error::Spawn { step, source, .. } => (format!("{step:?}"), errno(source)),
                _ => ("-".to_owned(), "-".to_owned()),
            };
            format!("err {e}\n{step}\n{os}")
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{report}");
    let _ = out.flush();
    ExitCode::SUCCESS
}

fn pdeathsig(sig: &str, program: &str, args: &[String]) -> ExitCode {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(ChildFd::Null).stdout(ChildFd::Null).stderr(ChildFd::Null);
    match sig.parse::<i32>() {
        Ok(num) => cmd.parent_death_signal(num),
        Err(_) => cmd.parent_death_signal(sig),
    };
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("pw-spawn: {e}");
            return ExitCode::from(3);
        }
    };
    let pid = child.id().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{pid}");
    let _ = out.flush();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    // Exit with the child still running and unwaited: only the kernel's
    // parent-death signal is left to end it.
    std::process::exit(0)
}

fn errno(e: &std::io::Error) -> String {
    e.raw_os_error().map_or_else(|| "-".to_owned(), |n| n.to_string())
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: pw-spawn try-uid UID PROGRAM [ARGS...] | pdeathsig SIG PROGRAM [ARGS...] \
         | nofile SOFT MAP PROGRAM [ARGS...]"
    );
    ExitCode::from(2)
}
