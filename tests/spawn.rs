//! Spawning: exit statuses, signals, argv, environment, working directory,
//! program lookup and every bad input `Command::spawn` must reject cleanly.
//!
//! Every test runs under one process-wide lock, runtime included (see
//! [`serial`]), instead of `#[tokio::test]`: the descriptor check in
//! `bad_input_leaks_nothing` compares this process's whole fd table, which
//! another test's runtime or pipes would change under it, and a script
//! written here must not be open for writing in a sibling's spawn (ETXTBSY).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use procwire::{
    Child, ChildFd, ChildWriter, Command, Error, ExitStatus, InputError, SpawnStep, StdioDefaults,
};
use procwire_tests::{guard, open_fds, parse_hex_lines, pw_child, zombie_children};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// Mirrors Twisted test_process: test_normalTermination (0 is ProcessDone),
// test_abnormalTermination (1) and test_process (exitCode 23).
#[test]
fn exit_codes_and_twisted_reason() {
    serial(async {
        let mut child = Command::new(pw_child!()).arg("exit:0").spawn().unwrap();
        let st = guard(10, "exit:0", child.wait()).await.unwrap();
        assert_eq!((st.code(), st.signal(), st.success()), (Some(0), None, true));
        assert_eq!(st.reason().unwrap().status(), st);
        for code in [1, 23] {
            let mut child = Command::new(pw_child!()).arg(format!("exit:{code}")).spawn().unwrap();
            let st = guard(10, "exit:N", child.wait()).await.unwrap();
            assert_eq!((st.code(), st.signal(), st.success()), (Some(code), None, false));
            let terminated = st.reason().unwrap_err();
            assert_eq!((terminated.exit_code(), terminated.signal()), (Some(code), None));
            assert_eq!(terminated.to_string(), format!("process ended with exit code {code}"));
        }
    });
}

// Mirrors Twisted test_process: test_signalHUP / INT / KILL / TERM.
#[test]
fn signal_by_twisted_name_number_or_nix_signal() {
    serial(async {
        for (name, num) in [("HUP", 1), ("INT", 2), ("KILL", 9), ("TERM", 15)] {
            let (mut child, _stdin) = blocked_child();
            child.signal(name).unwrap();
            assert_killed_by(&mut child, num).await;
        }
        let (mut child, _stdin) = blocked_child();
        child.signal(15).unwrap();
        assert_killed_by(&mut child, 15).await;
        let (mut child, _stdin) = blocked_child();
        child.signal(Signal::SIGUSR1).unwrap();
        assert_killed_by(&mut child, 10).await;
    });
}

#[test]
fn signal_handle_from_another_task() {
    serial_multi_thread(async {
        let (mut child, _stdin) = blocked_child();
        let handle = child.signal_handle().expect("handle while running");
        assert_eq!(Some(handle.pid()), child.id());
        let sender = tokio::spawn(async move { handle.signal("INT") });
        assert_killed_by(&mut child, 2).await;
        sender.await.unwrap().unwrap();
    });
}

#[test]
fn signal_after_reap_is_process_exited_already() {
    serial(async {
        let mut child = Command::new(pw_child!()).arg("exit:0").spawn().unwrap();
        let pid = child.id().expect("pid before the reap");
        let handle = child.signal_handle().unwrap();
        assert_eq!(handle.pid(), pid);
        assert!(guard(10, "exit:0", child.wait()).await.unwrap().success());
        assert_eq!(child.id(), None);
        assert!(child.signal_handle().is_none());
        assert!(matches!(child.signal("TERM"), Err(Error::ProcessExitedAlready)));
        assert!(matches!(child.signal(0), Err(Error::ProcessExitedAlready)));
        assert!(matches!(handle.signal("KILL"), Err(Error::ProcessExitedAlready)));
    });
}

#[test]
fn bad_signal_names_and_numbers_leave_child_alone() {
    serial(async {
        let (mut child, mut stdin) = blocked_child();
        let handle = child.signal_handle().unwrap();
        assert!(matches!(child.signal("NOPE"), Err(Error::UnknownSignal(n)) if n == "NOPE"));
        assert!(matches!(child.signal(99), Err(Error::InvalidSignal(99))));
        assert!(matches!(child.signal(-1), Err(Error::InvalidSignal(-1))));
        assert!(matches!(handle.signal("NOPE"), Err(Error::UnknownSignal(_))));
        assert!(matches!(handle.signal(99), Err(Error::InvalidSignal(99))));
        child.signal(0).expect("signal 0 probes a live child");
        // Still blocked in its read: EOF lets it finish normally.
        stdin.shutdown().await.unwrap();
        let st = guard(10, "drain after EOF", child.wait()).await.unwrap();
        assert_eq!((st.code(), st.signal()), (Some(0), None));
    });
}

#[test]
fn sigpipe_ignored_in_parent_is_default_in_child() {
    serial(async {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let sig_ign = status.lines().find_map(|l| l.strip_prefix("SigIgn:")).expect("SigIgn line");
        let sig_ign = u64::from_str_radix(sig_ign.trim(), 16).unwrap();
        assert_ne!(sig_ign & (1 << 12), 0, "precondition: Rust's runtime ignores SIGPIPE (13) here");
        let (ignored, blocked) = child_sigstate().await;
        assert!(!ignored.contains(&13), "SIGPIPE still ignored in the child: {ignored:?}");
        // 32 and 33 are glibc's own: see the next test.
        let others: Vec<i32> = ignored.into_iter().filter(|s| ![32, 33].contains(s)).collect();
        assert_eq!(others, Vec::<i32>::new(), "every disposition is reset to default");
        assert_eq!(blocked, Vec::<i32>::new());
    });
}

// Fails today: glibc's sigfillset leaves out its reserved signals 32 and 33,
// so posix_spawn keeps 32 ignored (as glibc sets it in this process) and
// sets 33 (caught here) to SIG_IGN, and the exec'd program inherits both.
#[test]
fn glibc_reserved_signals_are_default_in_child() {
    serial(async {
        let (ignored, _) = child_sigstate().await;
        assert_eq!(ignored, Vec::<i32>::new(), "signals ignored in the child");
    });
}

#[test]
fn signal_blocked_in_spawning_thread_is_unblocked_in_child() {
    let mut usr2 = SigSet::empty();
    usr2.add(Signal::SIGUSR2);
    // `serial` runs a current-thread runtime on this thread, so the spawn
    // below happens on the thread whose mask blocks SIGUSR2.
    usr2.thread_block().unwrap();
    serial(async {
        assert!(SigSet::thread_get_mask().unwrap().contains(Signal::SIGUSR2), "precondition");
        let (_, blocked) = child_sigstate().await;
        assert!(!blocked.contains(&12), "SIGUSR2 still blocked in the child: {blocked:?}");
        assert_eq!(blocked, Vec::<i32>::new());
    });
    usr2.thread_unblock().unwrap();
}

#[test]
fn args_reach_argv_verbatim() {
    serial(async {
        let args: Vec<OsString> = [
            &b"\"double\" 'single'"[..],
            b"back\\slash\\\\",
            b"tab\there",
            b"|<>^&;$(x)`y`*?~",
            b"two  spaces ",
            b"",
            b"-n",
            b"--leading=dash",
            b"\xff\xfe",
        ]
        .iter()
        .map(|a| OsStr::from_bytes(a).to_owned())
        .collect();
        // pw-child runs `argv:1` first, then stops with 100 at the first
        // test argument, which is no step: the report is already written.
        let (out, st) = output(Command::new(pw_child!()).arg("argv:1").args(&args)).await;
        assert_eq!(st.code(), Some(100), "bad step after the report");
        let mut want = vec![pw_child!().as_bytes().to_vec(), b"argv:1".to_vec()];
        want.extend(args.iter().map(|a| a.as_bytes().to_vec()));
        assert_eq!(hex_lines(&out), want);

        let (out, st) =
            output(Command::new(pw_child!()).arg0(OsStr::from_bytes(b"zero \xff")).arg("argv:1")).await;
        assert!(st.success());
        assert_eq!(hex_lines(&out), [b"zero \xff".to_vec(), b"argv:1".to_vec()]);
    });
}

#[test]
fn env_clear_then_set_is_exactly_what_child_sees() {
    serial(async {
        let mut cmd = Command::new(pw_child!());
        cmd.env("DROPPED", "by env_clear").env_clear().env("A", "1").env("B", "x=y").arg("env:1");
        let (out, st) = output(&mut cmd).await;
        assert!(st.success());
        assert_eq!(hex_lines(&out), [b"A=1".to_vec(), b"B=x=y".to_vec()]);
    });
}

#[test]
fn inherited_env_with_set_and_remove() {
    serial(async {
        let parent: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
        let (out, st) = output(Command::new(pw_child!()).arg("env:1")).await;
        assert!(st.success());
        assert_eq!(hex_lines(&out), env_lines(&parent), "untouched env is inherited as is");

        // HOME where set; otherwise any variable the parent has.
        let removed =
            parent.keys().find(|k| *k == "HOME").or(parent.keys().next()).expect("an env var").clone();
        let mut want = parent.clone();
        want.insert("PROCWIRE_T".into(), "v".into());
        want.remove(&removed);
        let mut cmd = Command::new(pw_child!());
        cmd.env("PROCWIRE_T", "v").env_remove(&removed).arg("env:1");
        let (out, st) = output(&mut cmd).await;
        assert!(st.success());
        assert_eq!(hex_lines(&out), env_lines(&want));
    });
}

#[test]
fn env_value_may_be_non_utf8() {
    serial(async {
        let mut cmd = Command::new(pw_child!());
        cmd.env_clear().env("PW_BYTES", OsStr::from_bytes(b"\xff\xfe=\x01")).arg("env:1");
        let (out, st) = output(&mut cmd).await;
        assert!(st.success());
        assert_eq!(hex_lines(&out), [b"PW_BYTES=\xff\xfe=\x01".to_vec()]);
    });
}

#[test]
fn current_dir_is_the_childs_cwd() {
    serial(async {
        let dir = TempDir::new("cwd");
        let (out, st) = output(Command::new(pw_child!()).current_dir(&dir.0).arg("cwd:1")).await;
        assert!(st.success());
        let want = std::fs::canonicalize(&dir.0).unwrap();
        assert_eq!(out, [want.as_os_str().as_bytes(), b"\n"].concat());
    });
}

/// `setsid(true)` makes the child the leader of a new session (and of its
/// own group); `process_group(0)` makes it the leader of a new group in
/// our session. Fields 5 and 6 of /proc/PID/stat are pgrp and session.
#[test]
fn setsid_and_process_group_as_the_child_sees_them() {
    serial(async {
        let stat = "cut -d' ' -f5,6 /proc/$$/stat";
        let my_sid = nix::unistd::getsid(None).expect("getsid").as_raw();
        for (setsid, pgroup) in [(true, None), (false, Some(0)), (true, Some(0))] {
            let mut cmd = Command::new("/bin/sh");
            cmd.args(["-c", stat]).setsid(setsid);
            if let Some(pg) = pgroup {
                cmd.process_group(pg);
            }
            let mut child = cmd.kill_on_drop(true).spawn().unwrap();
            let pid = child.id().unwrap() as i32;
            let mut out = String::new();
            let mut stdout = child.take_reader(1).unwrap();
            guard(10, "stat", stdout.read_to_string(&mut out)).await.unwrap();
            assert!(guard(10, "wait", child.wait()).await.unwrap().success());
            let want_sid = if setsid { pid } else { my_sid };
            assert_eq!(out.trim(), format!("{pid} {want_sid}"), "setsid {setsid}, process_group {pgroup:?}");
        }
    });
}

#[test]
fn bad_current_dir_fails_at_chdir() {
    serial(async {
        let dir = TempDir::new("badcwd");
        let missing = dir.0.join("missing");
        let err = Command::new(pw_child!()).current_dir(&missing).spawn().unwrap_err();
        assert_spawn_error(&err, SpawnStep::Chdir, io::ErrorKind::NotFound, pw_child!());

        let file = dir.0.join("file");
        std::fs::write(&file, b"not a directory").unwrap();
        let err = Command::new(pw_child!()).current_dir(&file).spawn().unwrap_err();
        assert_spawn_error(&err, SpawnStep::Chdir, io::ErrorKind::NotADirectory, pw_child!());
    });
}

#[test]
fn bad_programs_name_program_and_step() {
    serial(async {
        let dir = TempDir::new("prog");
        let missing = dir.0.join("no-such-program");
        let err = Command::new(&missing).spawn().unwrap_err();
        assert_spawn_error(&err, SpawnStep::Exec, io::ErrorKind::NotFound, missing.to_str().unwrap());

        let err = Command::new(NOT_IN_PATH).spawn().unwrap_err();
        assert_spawn_error(&err, SpawnStep::PathSearch, io::ErrorKind::NotFound, NOT_IN_PATH);

        let plain = dir.0.join("plain-file");
        std::fs::write(&plain, b"#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Command::new(&plain).spawn().unwrap_err();
        assert_spawn_error(&err, SpawnStep::Exec, io::ErrorKind::PermissionDenied, plain.to_str().unwrap());

        let err = Command::new(&dir.0).spawn().unwrap_err();
        assert_spawn_error(&err, SpawnStep::Exec, io::ErrorKind::PermissionDenied, dir.0.to_str().unwrap());
        let Error::Spawn { source, .. } = &err else { unreachable!() };
        assert_eq!(source.raw_os_error(), Some(Errno::EACCES as i32));
    });
}

#[test]
fn nul_bytes_and_bad_env_keys_are_input_errors() {
    serial(async {
        for (mut cmd, what) in nul_commands() {
            match cmd.spawn() {
                Err(Error::InvalidInput(InputError::NulByte { what: got, .. })) => assert_eq!(got, what),
                other => panic!("NUL in {what}: expected NulByte, got {other:?}"),
            }
        }
        for (mut cmd, key) in env_key_commands() {
            match cmd.spawn() {
                Err(Error::InvalidInput(InputError::EnvKey(got))) => assert_eq!(got, key),
                other => panic!("env key {key:?}: expected EnvKey, got {other:?}"),
            }
        }
    });
}

#[test]
fn bad_input_leaks_nothing() {
    serial(async {
        // Warm up: whatever procwire or tokio set up once per process is
        // not a leak of the failing spawns below.
        let mut warm = Command::new(pw_child!()).arg("exit:0").spawn().unwrap();
        assert!(guard(10, "warm-up child", warm.wait()).await.unwrap().success());
        drop(warm);
        let dir = TempDir::new("leak");
        let file = dir.0.join("file");
        std::fs::write(&file, b"x").unwrap();
        let zombies_before = zombie_children();
        let fds_before = open_fds();

        let mut failing: Vec<Command> = nul_commands().into_iter().map(|(c, _)| c).collect();
        failing.extend(env_key_commands().into_iter().map(|(c, _)| c));
        failing.push(Command::new(dir.0.join("missing")));
        failing.push(Command::new(NOT_IN_PATH));
        failing.push(Command::new(&file));
        failing.push(Command::new(&dir.0));
        failing.push(in_dir(&dir.0.join("missing")));
        failing.push(in_dir(&file));
        for mut cmd in failing {
            assert!(cmd.spawn().is_err(), "{cmd:?} spawned");
        }

        assert_eq!(open_fds(), fds_before, "descriptors leaked by failed spawns");
        let new_zombies: Vec<u32> =
            zombie_children().into_iter().filter(|z| !zombies_before.contains(z)).collect();
        assert!(new_zombies.is_empty(), "failed spawns left zombies: {new_zombies:?}");
    });
}

#[test]
fn write_after_shutdown_is_pipe_closed() {
    serial(async {
        let mut child = Command::new(pw_child!()).arg("expect-eof:0").kill_on_drop(true).spawn().unwrap();
        let mut stdin = child.take_writer(0).unwrap();
        stdin.shutdown().await.unwrap();
        assert!(stdin.is_closed());
        let err = stdin.write_all(b"late").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert!(matches!(inner, Some(Error::PipeClosed { fd: 0 })), "{err:?}");
        let st = guard(10, "child sees EOF", child.wait()).await.unwrap();
        assert_eq!(st.code(), Some(0), "the child saw EOF on fd 0");
    });
}

#[test]
fn path_search_uses_the_childs_path() {
    serial(async {
        let dir = TempDir::new("path");
        let probe = dir.0.join("pw-path-probe");
        std::fs::write(&probe, b"#!/bin/sh\necho found\n").unwrap();
        std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let noexec = dir.0.join("pw-path-noexec");
        std::fs::write(&noexec, b"#!/bin/sh\necho found\n").unwrap();
        std::fs::set_permissions(&noexec, std::fs::Permissions::from_mode(0o644)).unwrap();

        let (out, st) = output(Command::new("pw-path-probe").env("PATH", &dir.0)).await;
        assert!(st.success(), "{st:?}");
        assert_eq!(out, b"found\n");

        let err = Command::new("pw-path-probe").spawn().unwrap_err();
        assert_spawn_error(&err, SpawnStep::PathSearch, io::ErrorKind::NotFound, "pw-path-probe");
        let err = Command::new("pw-path-noexec").env("PATH", &dir.0).spawn().unwrap_err();
        assert_spawn_error(&err, SpawnStep::PathSearch, io::ErrorKind::PermissionDenied, "pw-path-noexec");

        // With no PATH at all (env_clear), glibc's default /bin:/usr/bin applies.
        let (_, st) = output(Command::new("sh").env_clear().args(["-c", "exit 7"])).await;
        assert_eq!(st.code(), Some(7));
    });
}

// Issue #9, defect 13: execvp runs an executable without `#!` with
// /bin/sh (std users rely on it); procwire returned ENOEXEC.
#[test]
fn enoexec_script_without_shebang_runs_with_sh() {
    serial(async {
        let dir = TempDir::new("enoexec");
        let script = dir.0.join("pw-no-shebang");
        std::fs::write(&script, b"echo \"sh ran $0 with $1 $2\"\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

        // Found through PATH, as execvp would.
        let (out, st) = output(Command::new("pw-no-shebang").args(["a", "b c"]).env("PATH", &dir.0)).await;
        assert!(st.success(), "{st:?}");
        let want = format!("sh ran {} with a b c\n", script.display());
        assert_eq!(String::from_utf8_lossy(&out), want);
        // Named by its path: execvp's rule holds too.
        let (out, st) = output(Command::new(&script).args(["a", "b c"])).await;
        assert!(st.success(), "{st:?}");
        assert_eq!(String::from_utf8_lossy(&out), want);
    });
}

// Issue #9, defect 13: a directory on PATH named like the program is
// skipped, as execvp does (EACCES remembered), not "not found".
#[test]
fn directory_on_path_named_like_the_program_is_skipped() {
    serial(async {
        let first = TempDir::new("path-dir-first");
        let second = TempDir::new("path-dir-second");
        std::fs::create_dir(first.0.join("pw-path-twice")).unwrap();
        let real = second.0.join("pw-path-twice");
        std::fs::write(&real, b"#!/bin/sh\necho second\n").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).unwrap();

        let path = format!("{}:{}", first.0.display(), second.0.display());
        let (out, st) = output(Command::new("pw-path-twice").env("PATH", &path)).await;
        assert!(st.success(), "{st:?}");
        assert_eq!(out, b"second\n", "the directory is skipped");

        let err = Command::new("pw-path-twice").env("PATH", &first.0).spawn().unwrap_err();
        assert_spawn_error(&err, SpawnStep::PathSearch, io::ErrorKind::PermissionDenied, "pw-path-twice");
    });
}

/// An executable script at `path` that prints `text`.
fn script(path: &Path, text: &str) {
    std::fs::write(path, format!("#!/bin/sh\necho {text}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Issue 21, item 4: a relative `PATH` entry was looked up from the
/// parent's directory, while the child execs after its `chdir` to
/// `current_dir`, so `PATH=bin` with `current_dir(base)` failed with
/// ENOENT where std (and execvp) find `base/bin/tool`. An empty entry is
/// the child's directory too.
#[test]
fn path_search_takes_a_relative_entry_from_the_childs_current_dir() {
    serial(async {
        let base = TempDir::new("path-relative");
        std::fs::create_dir(base.0.join("bin")).unwrap();
        script(&base.0.join("bin/pw-path-rel"), "from-base-bin");
        script(&base.0.join("pw-path-empty"), "from-base");

        let (out, st) = output(Command::new("pw-path-rel").env("PATH", "bin").current_dir(&base.0)).await;
        assert!(st.success(), "{st:?}");
        assert_eq!(out, b"from-base-bin\n");
        // std agrees.
        let std_out = std::process::Command::new("pw-path-rel")
            .env("PATH", "bin")
            .current_dir(&base.0)
            .output()
            .unwrap();
        assert_eq!(std_out.stdout, b"from-base-bin\n");

        // An empty entry (here the leading one) is the current directory:
        // the child's.
        let path = ":/nonexistent-procwire-dir";
        let (out, st) = output(Command::new("pw-path-empty").env("PATH", path).current_dir(&base.0)).await;
        assert!(st.success(), "{st:?}");
        assert_eq!(out, b"from-base\n");
        // Without current_dir, relative entries are the parent's: not here.
        let err = Command::new("pw-path-rel").env("PATH", "bin").spawn().unwrap_err();
        assert_spawn_error(&err, SpawnStep::PathSearch, io::ErrorKind::NotFound, "pw-path-rel");
    });
}

/// Issue 21, item 4: a symbolic link loop on `PATH` was skipped as if
/// missing, and the search went on (here to a real program of the same
/// name) or ended in ENOENT; execvp stops there with ELOOP, and so does
/// std.
#[test]
fn path_search_stops_at_a_symlink_loop_with_eloop() {
    serial(async {
        let looped = TempDir::new("path-loop");
        let real = TempDir::new("path-loop-real");
        std::os::unix::fs::symlink("pw-path-loop", looped.0.join("pw-path-loop")).unwrap();
        script(&real.0.join("pw-path-loop"), "not-reached");

        let path = format!("{}:{}", looped.0.display(), real.0.display());
        let err = Command::new("pw-path-loop").env("PATH", &path).kill_on_drop(true).spawn().unwrap_err();
        match &err {
            Error::Spawn { step: SpawnStep::PathSearch, source, .. } => {
                assert_eq!(source.raw_os_error(), Some(libc::ELOOP), "{err}");
            }
            other => panic!("expected ELOOP from the PATH search, got {other:?}"),
        }
        let std_err = std::process::Command::new("pw-path-loop").env("PATH", &path).output().unwrap_err();
        assert_eq!(std_err.raw_os_error(), Some(libc::ELOOP), "std stops there too");
    });
}

// Issue #10: tokio's names: `kill()` (SIGKILL, then reap) and `start_kill()`.
#[test]
fn kill_sends_sigkill_and_reaps() {
    serial(async {
        let mut child = Command::new("sleep").arg("100").spawn().unwrap();
        let pid = child.id().unwrap();
        let status = guard(10, "kill", child.kill()).await.unwrap();
        assert_eq!(status.signal(), Some(9));
        assert_eq!(child.id(), None, "reaped");
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "no zombie");
        assert_eq!(guard(10, "kill again", child.kill()).await.unwrap(), status);
        assert!(matches!(child.start_kill(), Err(Error::ProcessExitedAlready)));

        let mut child = Command::new("sleep").arg("100").spawn().unwrap();
        child.start_kill().unwrap();
        assert_eq!(guard(10, "wait after start_kill", child.wait()).await.unwrap().signal(), Some(9));
    });
}

// Issue #10: a raw `Child` whose caller takes only stdout and reads it to
// the end hung once the child wrote 64 KiB to the stderr pipe nobody read.
// `Command::spawn` now shares the parent's stderr unless told otherwise.
// Run in its own process, whose stderr the test captures.
#[test]
fn reading_only_stdout_does_not_hang_on_stderr() {
    procwire_tests::in_own_process("reading_only_stdout_does_not_hang_on_stderr", || {
        serial(async {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "head -c 200000 /dev/zero >&2; echo done"]);
            let mut child = cmd.spawn().unwrap();
            assert!(child.take_reader(2).is_none(), "stderr is the parent's");
            let mut out = String::new();
            let mut stdout = child.take_reader(1).unwrap();
            guard(10, "stdout to its end", stdout.read_to_string(&mut out)).await.unwrap();
            assert_eq!(out, "done\n");
            assert!(guard(10, "wait", child.wait()).await.unwrap().success());
        });
    });
}

// Issue #10: `wait()` never blocks on a pipe end nobody took: 1 MiB on a
// stderr pipe that was never taken is drained and thrown away.
#[test]
fn wait_completes_with_1_mib_on_an_untaken_stderr() {
    serial(async {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "head -c 1048576 /dev/zero >&2; head -c 1048576 /dev/zero; exit 7"])
            .stderr(ChildFd::ReadPipe);
        let mut child = cmd.spawn().unwrap();
        let status = guard(10, "wait with full pipes", child.wait()).await.unwrap();
        assert_eq!(status.code(), Some(7));
    });
}

// Issue #10: each consumer has its own default for fds 0, 1 and 2, and an
// explicit setting always wins.
#[test]
fn stdio_defaults_per_consumer() {
    serial(async {
        let mut cmd = Command::new("true");
        let mut raw = cmd.spawn().unwrap();
        assert!(raw.take_writer(0).is_some() && raw.take_reader(1).is_some());
        assert!(raw.take_reader(2).is_none(), "raw: stderr is the parent's");
        raw.wait().await.unwrap();
        let mut twisted = cmd.spawn_with(StdioDefaults::Twisted).unwrap();
        assert!(twisted.take_writer(0).is_some() && twisted.take_reader(1).is_some());
        assert!(twisted.take_reader(2).is_some(), "Twisted's map: stderr is a pipe");
        twisted.wait().await.unwrap();
        cmd.stderr(ChildFd::ReadPipe).stdin(ChildFd::Null);
        let mut explicit = cmd.spawn().unwrap();
        assert!(explicit.take_reader(2).is_some() && explicit.take_writer(0).is_none(), "explicit wins");
        explicit.wait().await.unwrap();
        let mut none = Command::new("true");
        let mut none = none.clear_child_fds().spawn_with(StdioDefaults::Twisted).unwrap();
        assert!(none.take_reader(1).is_none(), "childFDs={{}} has no defaults");
        none.wait().await.unwrap();
    });
}

// Issue #10: conversions a Rust user reaches for, and a Debug that reads
// like std's and shows nothing internal.
#[test]
fn command_conversions_clone_and_debug() {
    serial(async {
        let mut std_cmd = std::process::Command::new("sh");
        std_cmd.args(["-c", "echo $A-$B; pwd"]).env("A", "set").env_remove("B").current_dir("/");
        let mut cmd = Command::from(std_cmd);
        cmd.env("B", "x").env_remove("B");
        let (out, st) = output(&mut cmd).await;
        assert!(st.success());
        assert_eq!(out, b"set-\n/\n");

        // A clone shares a handed-over fd and spawns the same child.
        let (reader, writer) = std::io::pipe().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo piped"]).stdout(writer.into());
        let copy = cmd.clone();
        drop(cmd);
        let mut copy = copy;
        let mut child = copy.spawn().unwrap();
        assert!(guard(10, "wait", child.wait()).await.unwrap().success());
        drop(copy);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut { reader }, &mut text).unwrap();
        assert_eq!(text, "piped\n");

        let mut cmd = Command::new("ls");
        cmd.arg("-l").env("LC_ALL", "C").current_dir("/tmp").child_fd(2, ChildFd::Null);
        let text = format!("{cmd:?}");
        assert_eq!(text, r#"cd "/tmp" && "LC_ALL"="C" "ls" "-l" 2:Null"#);
        let text = format!("{cmd:#?}");
        assert!(!text.contains("program_c") && !text.contains("invalid"), "{text}");
    });
}

#[test]
fn spawn_outside_runtime_is_no_runtime() {
    let _lock = lock();
    assert!(tokio::runtime::Handle::try_current().is_err(), "precondition: no runtime");
    let fds_before = open_fds();
    assert!(matches!(Command::new(pw_child!()).arg("exit:0").spawn(), Err(Error::NoRuntime)));
    assert_eq!(open_fds(), fds_before);
}

// ---- helpers ----

/// A program name no `PATH` has.
const NOT_IN_PATH: &str = "pw-no-such-program-in-path";

static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `test` on a current-thread runtime on this thread, under [`LOCK`],
/// which covers the runtime's creation and teardown too.
fn serial<F: Future>(test: F) -> F::Output {
    serial_on(&mut tokio::runtime::Builder::new_current_thread(), test)
}

/// [`serial`] on a two-worker multi-thread runtime.
fn serial_multi_thread<F: Future>(test: F) -> F::Output {
    serial_on(tokio::runtime::Builder::new_multi_thread().worker_threads(2), test)
}

fn serial_on<F: Future>(builder: &mut tokio::runtime::Builder, test: F) -> F::Output {
    let _lock = lock();
    // A local, not a temporary of the tail expression: it must be dropped
    // (its epoll and eventfd closed) before the lock is released.
    let rt = builder.enable_all().build().unwrap();
    rt.block_on(test)
}

/// A child blocked reading its stdin, with the writer that keeps it there.
fn blocked_child() -> (Child, ChildWriter) {
    let mut child = Command::new(pw_child!())
        .arg("drain:0")
        .stdout(ChildFd::Null)
        .stderr(ChildFd::Null)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdin = child.take_writer(0).unwrap();
    (child, stdin)
}

async fn assert_killed_by(child: &mut Child, sig: i32) {
    let st = guard(10, "signalled child", child.wait()).await.unwrap();
    assert_eq!((st.code(), st.signal(), st.success(), st.core_dumped()), (None, Some(sig), false, false));
    let terminated = st.reason().unwrap_err();
    assert_eq!((terminated.exit_code(), terminated.signal()), (None, Some(sig)));
    let text = terminated.to_string();
    assert!(text.contains(&format!("by signal {sig}")), "{text}");
}

/// Spawns `cmd`, reads all of its stdout (and stderr, for messages), reaps it.
async fn output(cmd: &mut Command) -> (Vec<u8>, ExitStatus) {
    let mut child = cmd.kill_on_drop(true).spawn_with(StdioDefaults::Twisted).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut stdout = child.take_reader(1).expect("stdout pipe");
    let mut stderr = child.take_reader(2).expect("stderr pipe");
    let (r1, r2) = guard(10, "child output", async {
        tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err))
    })
    .await;
    r1.unwrap();
    r2.unwrap();
    let st = guard(10, "child exit", child.wait()).await.unwrap();
    if !st.success() {
        eprintln!("child {st}: stderr {:?}", String::from_utf8_lossy(&err));
    }
    (out, st)
}

/// The child's `sigstate:1`: (ignored, blocked) signal numbers.
async fn child_sigstate() -> (Vec<i32>, Vec<i32>) {
    let (out, st) = output(Command::new(pw_child!()).arg("sigstate:1")).await;
    assert!(st.success());
    let text = String::from_utf8(out).unwrap();
    let list = |key: &str| -> Vec<i32> {
        let line = text.lines().find_map(|l| l.strip_prefix(key)).expect(key);
        line.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect()
    };
    (list("ignored="), list("blocked="))
}

/// `KEY=VALUE` byte strings, sorted, as `pw-child env:FD` prints them.
fn env_lines(vars: &BTreeMap<OsString, OsString>) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> =
        vars.iter().map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat()).collect();
    lines.sort();
    lines
}

fn assert_spawn_error(err: &Error, want_step: SpawnStep, want_kind: io::ErrorKind, program: &str) {
    match err {
        Error::Spawn { program: p, step, source } => {
            assert_eq!((*step, source.kind()), (want_step, want_kind), "{err}");
            assert_eq!(p, program);
        }
        other => panic!("expected a spawn error at {want_step}, got {other:?}"),
    }
    assert!(err.to_string().contains(program), "{err} does not name {program}");
}

/// One command per input that cannot carry a NUL byte, with its `what`.
fn nul_commands() -> Vec<(Command, &'static str)> {
    let pw = || Command::new(pw_child!());
    let [mut a, mut b, mut c, mut d, mut e, mut f] = [pw(), pw(), pw(), pw(), pw(), pw()];
    a.arg("exit:0").arg("a\0b");
    b.arg0("zero\0");
    c.env("K\0EY", "v");
    d.env_remove("K\0EY");
    e.env("KEY", "v\0v");
    f.current_dir(Path::new(OsStr::from_bytes(b"/tmp\0x")));
    let what = ["argument", "argument", "environment key", "environment key", "environment value"];
    let mut cases = vec![(Command::new("pw\0child"), "program"), (f, "working directory")];
    cases.extend([a, b, c, d, e].into_iter().zip(what));
    cases
}

/// One command per bad environment key (empty, or with `=`), with the key.
fn env_key_commands() -> Vec<(Command, &'static str)> {
    let [mut a, mut b, mut c] = [(); 3].map(|()| Command::new(pw_child!()));
    a.env("A=B", "v");
    b.env("", "v");
    c.env_remove("A=B");
    vec![(a, "A=B"), (b, ""), (c, "A=B")]
}

/// `pw-child` run in `dir`.
fn in_dir(dir: &Path) -> Command {
    let mut cmd = Command::new(pw_child!());
    cmd.current_dir(dir);
    cmd
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("procwire-spawn-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The byte strings of a `pw-child argv:FD` / `env:FD` report.
fn hex_lines(out: &[u8]) -> Vec<Vec<u8>> {
    parse_hex_lines(std::str::from_utf8(out).expect("hex report is ASCII"))
}

/// `env_pid`: the variable holds the child's own pid (the one `spawn`
/// returned), with the rest of the environment intact; a later `env` of
/// the same key wins, and so does `env_pid` after an `env`.
#[tokio::test]
async fn env_pid_is_the_childs_own_pid() {
    use tokio::io::AsyncReadExt;
    async fn run(cmd: &mut procwire::Command) -> (u32, String) {
        let mut child = cmd.spawn().unwrap();
        let pid = child.id().unwrap();
        let mut out = String::new();
        child.take_reader(1).unwrap().read_to_string(&mut out).await.unwrap();
        assert!(child.wait().await.unwrap().success());
        (pid, out)
    }
    let script = "echo \"$MY_PID $$ $KEPT\"";
    let mut cmd = procwire::Command::new("sh");
    cmd.args(["-c", script]).env("MY_PID", "overridden").env_pid("MY_PID").env("KEPT", "yes");
    cmd.child_fd(1, procwire::ChildFd::ReadPipe);
    for _ in 0..3 {
        let (pid, out) = run(&mut cmd).await;
        assert_eq!(out, format!("{pid} {pid} yes\n"));
    }
    cmd.env("MY_PID", "plain");
    let (_, out) = run(&mut cmd).await;
    assert!(out.starts_with("plain "), "{out}");
    // Inherited environment only, nothing else set.
    let mut bare = procwire::Command::new("sh");
    bare.args(["-c", "echo \"$MY_PID:$$:${PATH:+path}\""]).env_pid("MY_PID");
    bare.child_fd(1, procwire::ChildFd::ReadPipe);
    let (pid, out) = run(&mut bare).await;
    assert_eq!(out, format!("{pid}:{pid}:path\n"));
}
