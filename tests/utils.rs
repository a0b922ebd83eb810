//! procwire-utils (issue #5): Twisted's `getProcessOutput`,
//! `getProcessValue` and `getProcessOutputAndValue` (test_iutils.py), and
//! what they add: stdin input, side-by-side draining, a timeout with a stop
//! ladder, an output limit, cancellation by drop, and no leaks under load.
//!
//! Every test runs under one process-wide lock, runtime included (see
//! [`serial`]): several check zombies, descriptors or peak memory, which a
//! sibling test's children would change under them.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;
use procwire::{
    get_process_output, get_process_output_and_value, get_process_value, ChildFd, Command, Error, PtySize,
    Run, RunError, SpawnStep,
};
use procwire_tests::{guard, open_fds, process_exists, pw_child, raise_nofile, until_dead, zombie_children};

const MIB: usize = 1 << 20;

// Mirrors Twisted test_iutils: test_output.
#[test]
fn output_is_what_the_child_wrote_to_stdout() {
    serial(async {
        let out = guard(10, "echo", get_process_output("echo", ["hello", "world"])).await.unwrap();
        assert_eq!(out, b"hello world\n");
        let out = get_process_output(pw_child!(), ["write:1:hello world\\n", "exit:3"]).await.unwrap();
        assert_eq!(out, b"hello world\n", "the exit code is not checked, as in Twisted");
    });
}

// Mirrors Twisted test_iutils: test_outputWithErrorIgnored.
#[test]
fn stderr_without_errortoo_is_an_error_after_the_reap() {
    serial(async {
        let run = get_process_output(pw_child!(), ["write:1:out", "write:2:hello world\\n"]);
        let err = guard(10, "stderr child", run).await.unwrap_err();
        assert!(matches!(err, RunError::Stderr { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("hello world") && text.contains(pw_child!()), "{text}");
        let out = err.output().expect("output with the error");
        assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"out"[..], &b"hello world\n"[..]));
        assert_eq!(out.status.code(), Some(0), "the child was reaped: Twisted's ProcessDone");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

// Mirrors Twisted test_iutils: test_outputWithErrorCollected.
#[test]
fn errortoo_merges_stderr_into_the_output() {
    serial(async {
        let mut run = Run::new(pw_child!());
        run.args(["write:1:foo", "write:2:foo"]).errortoo(true);
        assert_eq!(guard(10, "errortoo", run.get_process_output()).await.unwrap(), b"foofoo");
        // get_process_output_and_value keeps the two streams apart whatever errortoo says.
        let out = guard(10, "errortoo and value", run.get_process_output_and_value()).await.unwrap();
        assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"foo"[..], &b"foo"[..]));
    });
}

// Issue 18: `Run::output` is tokio's `output()`: an `Output` however the
// child ended, never an error because it wrote to stderr; Twisted's
// semantics are `get_process_output`'s.
#[test]
fn run_output_is_tokios_and_get_process_output_keeps_twisteds() {
    serial(async {
        let steps = ["write:1:out", "write:2:warning", "exit:0"];
        let out = guard(10, "stderr, exit 0", Run::new(pw_child!()).args(steps).output()).await.unwrap();
        assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"out"[..], &b"warning"[..]));
        assert!(out.status.success(), "{:?}", out.status);
        let err =
            guard(10, "Twisted's", Run::new(pw_child!()).args(steps).get_process_output()).await.unwrap_err();
        assert!(matches!(&err, RunError::Stderr { output, .. } if output.stderr == b"warning"), "{err:?}");
        let err = guard(10, "the function", get_process_output(pw_child!(), steps)).await.unwrap_err();
        assert!(matches!(err, RunError::Stderr { .. }), "{err:?}");

        // A non-zero code and a signal are statuses, not errors.
        let out = guard(10, "exit 3", Run::new(pw_child!()).args(["write:2:bad", "exit:3"]).output())
            .await
            .unwrap();
        assert_eq!((out.status.code(), &out.stderr[..]), (Some(3), &b"bad"[..]));
        let out = guard(10, "kill 9", Run::new(pw_child!()).args(["write:1:partial", "kill:9"]).output())
            .await
            .unwrap();
        assert_eq!((&out.stdout[..], out.status.signal()), (&b"partial"[..], Some(9)));
        // errortoo merges stderr into stdout here too.
        let out =
            guard(10, "errortoo", Run::new(pw_child!()).args(steps).errortoo(true).output()).await.unwrap();
        assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"outwarning"[..], &b""[..]));
        // The run's own failures stay errors.
        let mut run = Run::new("sleep");
        run.arg("100").timeout(Duration::from_millis(100));
        let err = guard(10, "timeout", run.output()).await.unwrap_err();
        assert!(matches!(err, RunError::Timeout { .. }), "{err:?}");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

// Issue 18: `?` takes procwire's errors in a function returning
// `io::Result`, with a fitting kind and the procwire error inside.
#[test]
fn io_result_functions_take_spawn_and_run_errors_with_question_mark() {
    async fn spawn_then_run(program: &str, timeout: Duration) -> std::io::Result<()> {
        let mut child = Command::new(program).spawn()?; // procwire::Error
        child.wait().await?;
        Run::new("sleep").arg("100").timeout(timeout).output().await?; // RunError
        Ok(())
    }
    serial(async {
        let err = spawn_then_run(NOT_IN_PATH, Duration::from_secs(10)).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
        assert!(err.to_string().contains(NOT_IN_PATH), "{err}");
        assert!(matches!(err.downcast::<Error>(), Ok(Error::Spawn { step: SpawnStep::PathSearch, .. })));

        let err = guard(10, "timeout", spawn_then_run("true", Duration::from_millis(100))).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        assert!(err.to_string().contains("timed out"), "{err}");
        let err = err.downcast::<RunError>().expect("the RunError inside");
        assert_eq!(err.output().map(|o| o.status.signal()), Some(Some(15)));
    });
}

// Issue 18: an `Output`'s Debug shows text, not a list of numbers.
#[test]
fn output_debug_shows_stdout_and_stderr_as_text() {
    serial(async {
        let out = guard(10, "echo", Run::new("sh").args(["-c", "echo hello; echo oops >&2"]).output())
            .await
            .unwrap();
        let text = format!("{out:?}");
        assert!(text.contains(r#"stdout: "hello\n""#) && text.contains(r#"stderr: "oops\n""#), "{text}");
    });
}

// Mirrors Twisted test_iutils: test_value (and exit codes 0 and 23).
#[test]
fn value_is_the_exit_code() {
    serial(async {
        for code in [0, 1, 23] {
            let value = get_process_value(pw_child!(), [format!("write:1:x{code}"), format!("exit:{code}")]);
            assert_eq!(guard(10, "exit:N", value).await.unwrap(), code);
        }
    });
}

// Mirrors Twisted test_iutils: test_outputAndValue.
#[test]
fn output_and_value_has_both_streams_and_the_code() {
    serial(async {
        let steps = ["write:1:hello world!\\n", "write:2:goodbye world!\\n", "exit:1"];
        let out = guard(10, "child", get_process_output_and_value(pw_child!(), steps)).await.unwrap();
        assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"hello world!\n"[..], &b"goodbye world!\n"[..]));
        assert_eq!((out.status.code(), out.status.signal()), (Some(1), None));
    });
}

// Mirrors Twisted test_iutils: test_outputSignal.
#[test]
fn signal_death_is_an_error_with_the_output() {
    serial(async {
        let run = get_process_output_and_value(pw_child!(), ["write:1:out", "write:2:err", "kill:9"]);
        let err = guard(10, "kill:9", run).await.unwrap_err();
        let text = err.to_string();
        let RunError::Signal { signal, output, .. } = err else { panic!("not a signal error: {err:?}") };
        assert_eq!((&output.stdout[..], &output.stderr[..], signal), (&b"out"[..], &b"err"[..], 9));
        assert!(text.contains(pw_child!()) && text.contains("SIGKILL"), "{text}");
        // getProcessValue gives None in Twisted; here a signal is never a code.
        let err = guard(10, "kill:15", get_process_value(pw_child!(), ["kill:15"])).await.unwrap_err();
        assert!(matches!(err, RunError::Signal { signal: 15, .. }), "{err:?}");
        assert!(err.to_string().contains(pw_child!()), "{err}");
        let err = guard(10, "kill:15", get_process_output(pw_child!(), ["kill:15"])).await.unwrap_err();
        assert!(matches!(err, RunError::Signal { signal: 15, .. }), "{err:?}");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

#[test]
fn input_reaches_the_child_exactly() {
    serial(async {
        let all_bytes: Vec<u8> = (0..=255u8).chain(0..=255).collect();
        let mut run = Run::new(pw_child!());
        run.arg("echo:0:1").input(all_bytes.clone());
        assert_eq!(guard(10, "echo:0:1", run.get_process_output()).await.unwrap(), all_bytes);

        let big = pattern(MIB);
        let out = guard(30, "1 MiB through cat", Run::new("cat").input(big.clone()).get_process_output())
            .await
            .unwrap();
        assert!(out == big, "cat gave back {} bytes, not the same 1 MiB", out.len());

        // A child that never reads its stdin: the unwritten input is dropped.
        let mut run = Run::new(pw_child!());
        run.args(["write:1:done", "exit:0"]).input(big);
        assert_eq!(guard(10, "non-reader", run.get_process_output()).await.unwrap(), b"done");
    });
}

// Twisted #9692: without input, a child reading its stdin sees EOF at once.
#[test]
fn without_input_stdin_is_at_end_of_file() {
    serial(async {
        assert_eq!(guard(10, "cat", get_process_output("cat", [""; 0])).await.unwrap(), b"");
        // expect-eof exits 102 unless its first read returns 0 bytes.
        assert_eq!(
            guard(10, "expect-eof", get_process_value(pw_child!(), ["expect-eof:0"])).await.unwrap(),
            0
        );
    });
}

// Mirrors Twisted test_iutils: test_getProcessOutputPath, ...ValuePath, ...OutputAndValuePath.
#[test]
fn working_directory_is_honoured() {
    serial(async {
        let dir = scratch_dir("cwd");
        let expected = [dir.as_os_str().as_encoded_bytes(), b"\n"].concat();
        assert_eq!(
            guard(10, "cwd", in_dir(&dir, pw_child!(), &["cwd:1"]).get_process_output()).await.unwrap(),
            expected
        );
        let out = in_dir(&dir, pw_child!(), &["cwd:1"]).get_process_output_and_value().await.unwrap();
        assert_eq!((out.stdout, out.status.code()), (expected, Some(0)));
        let dir_str = dir.to_str().expect("utf-8 temp dir");
        let test_cwd = ["-c", r#"[ "$(pwd -P)" = "$1" ]"#, "sh", dir_str];
        assert_eq!(in_dir(&dir, "sh", &test_cwd).get_process_value().await.unwrap(), 0);
        assert_eq!(in_dir(Path::new("/"), "sh", &test_cwd).get_process_value().await.unwrap(), 1);
        std::fs::remove_dir(&dir).unwrap();
    });
}

#[test]
fn program_not_found_is_a_spawn_error() {
    serial(async {
        let err = get_process_output(NOT_IN_PATH, [""; 0]).await.unwrap_err();
        assert!(matches!(&err, RunError::Spawn(Error::Spawn { step: SpawnStep::PathSearch, .. })), "{err:?}");
        assert!(err.output().is_none());
        assert!(err.to_string().contains(NOT_IN_PATH), "{err}");
        let err = get_process_value("/no/such/program", [""; 0]).await.unwrap_err();
        assert!(matches!(&err, RunError::Spawn(Error::Spawn { step: SpawnStep::Exec, .. })), "{err:?}");
        assert!(err.to_string().contains("/no/such/program"), "{err}");
    });
}

#[test]
fn ten_mib_on_each_stream_in_either_order_does_not_deadlock() {
    serial(async {
        const N: usize = 10 * MIB;
        for steps in
            [[format!("fill:2:{N}"), format!("fill:1:{N}")], [format!("fill:1:{N}"), format!("fill:2:{N}")]]
        {
            let started = Instant::now();
            let out =
                guard(60, "fill both", get_process_output_and_value(pw_child!(), &steps)).await.unwrap();
            println!("{steps:?}: {:?}", started.elapsed());
            assert_eq!((out.stdout.len(), out.stderr.len(), out.status.code()), (N, N, Some(0)));
            assert!(is_pattern(&out.stdout) && is_pattern(&out.stderr), "byte pattern broken");
        }
    });
}

#[test]
fn timeout_stops_the_child_with_sigterm() {
    serial(async {
        let started = Instant::now();
        let mut run = Run::new(pw_child!());
        run.args(["pid:1", "sleep-ms:100000"]).timeout(Duration::from_millis(200));
        let err = guard(10, "timeout", run.get_process_output()).await.unwrap_err();
        let elapsed = started.elapsed();
        println!("SIGTERM after {elapsed:?}");
        assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(1), "{elapsed:?}");
        assert!(
            matches!(err, RunError::Timeout { after, .. } if after == Duration::from_millis(200)),
            "{err:?}"
        );
        assert!(err.to_string().contains(pw_child!()) && err.to_string().contains("timed out"), "{err}");
        let out = err.output().unwrap();
        assert_eq!(out.status.signal(), Some(15));
        assert!(!process_exists(pid_in(&out.stdout)), "the stopped child is gone");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

#[test]
fn timeout_kills_a_child_that_resists_sigterm_after_the_grace() {
    serial(async {
        // SIGTERM blocked in the child from its first instruction (a blocked
        // signal stays pending, through exec too): no race with a `trap ""
        // TERM` that a shell would have to run before the timeout.
        let mut term = SigSet::empty();
        term.add(Signal::SIGTERM);
        term.thread_block().unwrap();
        let (timeout, grace) = (Duration::from_millis(200), Duration::from_millis(300));
        let started = Instant::now();
        let mut run = Run::new(pw_child!());
        run.args(["pid:1", "sleep-ms:100000"]).timeout(timeout).grace(grace);
        run.command().keep_signal_mask(true);
        let result = guard(10, "timeout + grace", run.get_process_output()).await;
        term.thread_unblock().unwrap();
        let elapsed = started.elapsed();
        println!("SIGKILL after {elapsed:?}");
        let err = result.unwrap_err();
        assert!(matches!(err, RunError::Timeout { .. }), "{err:?}");
        let out = err.output().unwrap();
        assert_eq!(out.status.signal(), Some(9), "SIGTERM was blocked: SIGKILL ended it");
        assert!(elapsed >= timeout + grace && elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert!(!process_exists(pid_in(&out.stdout)), "the killed child is gone");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

// Twisted #10635: a grandchild holding stdout cannot hold the run forever.
#[test]
fn timeout_bounds_a_grandchild_holding_stdout_open() {
    serial(async {
        let started = Instant::now();
        let mut run = Run::new("sh");
        run.args(["-c", "sleep 100 & echo $!"]).timeout(Duration::from_millis(300));
        let err = guard(10, "grandchild", run.get_process_output()).await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(matches!(err, RunError::Timeout { .. }), "{err:?}");
        let out = err.output().unwrap();
        // The grandchild is out of the run's reach and keeps running (holding
        // the pipe) until this test kills it; the child itself exited 0.
        let grandchild = pid_in(&out.stdout);
        kill(Pid::from_raw(grandchild as i32), Signal::SIGKILL).expect("grandchild still running");
        assert_eq!(out.status.code(), Some(0));
        assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(1), "{elapsed:?}");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

#[test]
fn output_limit_stops_yes_with_bounded_memory() {
    serial(async {
        // Reset this process's peak RSS (VmHWM) to its current RSS.
        std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
        let rss_before = status_kib("VmRSS");
        let mut run = Run::new("yes");
        run.max_output(MIB);
        let err = guard(30, "yes under a cap", run.get_process_output()).await.unwrap_err();
        let peak_growth = status_kib("VmHWM").saturating_sub(rss_before);
        println!("peak RSS growth under a 1 MiB cap: {peak_growth} KiB");
        assert!(matches!(err, RunError::OutputLimit { limit: MIB, fd: 1, .. }), "{err:?}");
        assert!(err.to_string().contains("yes"), "{err}");
        let out = err.output().unwrap();
        assert_eq!(out.stdout.len(), MIB);
        assert!(out.stdout.chunks(2).all(|c| c == b"y\n"), "not all y\\n");
        // Its pipe was closed (SIGPIPE) or it got the ladder's SIGTERM.
        assert!(matches!(out.status.signal(), Some(13 | 15)), "{:?}", out.status);
        assert!(peak_growth < 16 * 1024, "peak RSS grew by {peak_growth} KiB");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

#[test]
fn output_limit_on_stderr_and_with_errortoo() {
    serial(async {
        const CAP: usize = 64 * 1024;
        let mut run = Run::new(pw_child!());
        run.args(["write:1:out".to_owned(), format!("fill:2:{MIB}")]).max_output(CAP);
        let err = guard(10, "stderr cap", run.get_process_output_and_value()).await.unwrap_err();
        assert!(matches!(err, RunError::OutputLimit { limit: CAP, fd: 2, .. }), "{err:?}");
        let out = err.output().unwrap();
        assert_eq!((&out.stdout[..], out.stderr.len()), (&b"out"[..], CAP));
        assert!(is_pattern(&out.stderr));

        // Under errortoo the limit counts both streams: fd 1's 40000 bytes
        // fit, so fd 2 is the one that goes past it.
        let mut run = Run::new(pw_child!());
        run.args(["fill:1:40000".to_owned(), format!("fill:2:{MIB}")]).max_output(CAP).errortoo(true);
        let err = guard(10, "merged cap", run.get_process_output()).await.unwrap_err();
        assert!(matches!(err, RunError::OutputLimit { limit: CAP, fd: 2, .. }), "{err:?}");
        let out = err.output().unwrap();
        assert_eq!((out.stdout.len(), out.stderr.len()), (CAP, 0));
        assert!(out.status.signal().is_some(), "{:?}", out.status);
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

#[test]
fn dropping_the_future_kills_and_reaps_the_child() {
    serial(async {
        let dir = scratch_dir("drop");
        let pid_file = dir.join("pid");
        let file = std::fs::File::create(&pid_file).unwrap();
        let mut run = Run::new(pw_child!());
        run.args(["pid:3", "sleep-ms:100000"]).command().child_fd(3, ChildFd::Fd(file.into()));
        let pid = tokio::select! {
            res = run.get_process_output() => panic!("the child ended on its own: {res:?}"),
            pid = guard(10, "pid file", read_pid_file(&pid_file)) => pid,
        };
        // select! has dropped the run's future: SIGKILL, then the reaper.
        guard(10, "dropped child to vanish", async {
            while process_exists(pid) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert_eq!(zombie_children(), Vec::<u32>::new());
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

/// With `stop_group`, the stop ladder reaches the child's own children: a
/// `sleep` still holding stdout after its shell exited, and one its shell
/// waits for, both die of the timeout's SIGTERM (long before the 5 s grace).
/// Without it, the first would run on (see the test above).
#[test]
fn stop_group_stops_the_childs_children_on_timeout() {
    serial(async {
        for script in ["sleep 100 & echo $!", "sleep 100 & echo $!; wait"] {
            let mut run = Run::new("sh");
            run.args(["-c", script]).timeout(Duration::from_millis(300)).stop_group(true);
            let start = Instant::now();
            let err = guard(10, script, run.get_process_output()).await.unwrap_err();
            assert!(matches!(err, RunError::Timeout { .. }), "{script}: {err}");
            assert!(start.elapsed() < Duration::from_secs(3), "{script}: {:?}", start.elapsed());
            let sleep = pid_in(&err.output().unwrap().stdout);
            until_dead(sleep, script).await;
            assert_eq!(zombie_children(), Vec::<u32>::new());
        }
    });
}

/// Dropping a `stop_group` run kills the child's whole group: the shell
/// and the `sleep` it started.
#[test]
fn dropping_a_stop_group_run_kills_the_childs_children() {
    serial(async {
        let dir = scratch_dir("group-drop");
        let pid_file = dir.join("pids");
        let script = format!("sleep 100 & echo $$ $! > '{}'; wait", pid_file.display());
        let mut run = Run::new("sh");
        run.args(["-c", &script]).stop_group(true);
        let written = async {
            loop {
                match std::fs::read_to_string(&pid_file) {
                    Ok(text) if text.ends_with('\n') => return text,
                    _ => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        };
        let pids = tokio::select! {
            res = run.get_process_output() => panic!("the shell ended on its own: {res:?}"),
            text = guard(10, "pid file", written) => text,
        };
        let pids: Vec<u32> = pids.split_whitespace().map(|p| p.parse().unwrap()).collect();
        assert_eq!(pids.len(), 2, "{pids:?}");
        for pid in pids {
            until_dead(pid, "a member of the dropped run's group").await;
        }
        guard(10, "the shell reaped", async {
            while !zombie_children().is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

#[test]
fn five_hundred_runs_at_once_are_exact_and_leak_nothing() {
    serial_multi_thread(async {
        raise_nofile();
        // Warm-up: what the runtime or the spawn path opens once exists
        // before the baseline.
        assert_eq!(get_process_output("echo", ["warm-up"]).await.unwrap(), b"warm-up\n");
        let before = open_fds();
        let started = Instant::now();
        let tasks: Vec<_> =
            (0..500).map(|i| tokio::spawn(get_process_output("echo", [i.to_string()]))).collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let out = guard(60, "500 concurrent runs", task).await.unwrap().unwrap();
            assert_eq!(out, format!("{i}\n").into_bytes());
        }
        println!("500 concurrent runs in {:?}", started.elapsed());
        assert_eq!(open_fds(), before, "descriptors leaked by 500 runs");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

// ---- helpers ----

/// A program name no `PATH` has.
const NOT_IN_PATH: &str = "pw-no-such-program-in-path";

static LOCK: Mutex<()> = Mutex::new(());

/// A command on a terminal: everything the child writes to it (fd 1 and
/// fd 2 alike, "\n" turned into "\r\n") is the output, and the input is
/// written to it, echoed by the terminal as a user's typing would be.
#[test]
fn a_command_on_a_terminal_is_read_through_its_master() {
    serial(async {
        let mut cmd = Command::new(pw_child!());
        cmd.args(["write:1:hello\\n", "write:2:err\\n"]).pty(PtySize::default());
        let out = guard(10, "pty output", Run::from(cmd).get_process_output()).await.unwrap();
        assert_eq!(out, b"hello\r\nerr\r\n");
        let mut cmd = Command::new(pw_child!());
        cmd.args(["read:0:4:abc\\n", "write:1:got"]).pty(PtySize::default());
        let out = guard(10, "pty input", Run::from(cmd).input("abc\n").get_process_output_and_value())
            .await
            .unwrap();
        assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"abc\r\ngot"[..], &b""[..]));
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

/// Pipes the command maps on fds other than 0, 1 and 2 are closed when the
/// run starts, so the child is not left waiting on a pipe nobody serves:
/// reading one gives end of file, writing more than a pipe holds gets
/// SIGPIPE.
#[test]
fn pipes_on_other_fds_are_closed_at_once() {
    serial(async {
        let mut cmd = Command::new(pw_child!());
        cmd.args(["expect-eof:3", "write:1:ok"]).child_fd(3, ChildFd::WritePipe);
        assert_eq!(guard(10, "fd 3 input", Run::from(cmd).get_process_output()).await.unwrap(), b"ok");
        let mut cmd = Command::new(pw_child!());
        cmd.args(["fill:4:1048576", "write:1:unreached"]).child_fd(4, ChildFd::ReadPipe);
        let err = guard(10, "fd 4 output", Run::from(cmd).get_process_output_and_value()).await.unwrap_err();
        assert!(matches!(err, RunError::Signal { signal: 13, .. }), "{err}");
        assert_eq!(err.output().unwrap().stdout, b"");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
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
    let _lock: MutexGuard<'_, ()> = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let rt = builder.enable_all().build().unwrap();
    rt.block_on(test)
}

/// A run of `program` with `args` in `dir`, through `Run::from(Command)`.
fn in_dir(dir: &Path, program: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    Run::from(cmd)
}

/// A new, empty directory of this process under the temp dir, canonical
/// (the temp dir may sit behind a symlink).
fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("procwire-utils-{}-{what}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    dir.canonicalize().unwrap()
}

/// `n` bytes of `pw-child fill`'s pattern: byte i is `i % 251`.
fn pattern(n: usize) -> Vec<u8> {
    // Whole blocks copied, not a byte loop: this runs on 10 MiB unoptimised.
    let block: Vec<u8> = (0..251u8).collect();
    let mut bytes = block.repeat(n / 251 + 1);
    bytes.truncate(n);
    bytes
}

fn is_pattern(bytes: &[u8]) -> bool {
    bytes == pattern(bytes.len())
}

/// The pid on the first line of `text` (`pw-child pid:FD`, `echo $!`).
fn pid_in(text: &[u8]) -> u32 {
    let text = String::from_utf8_lossy(text);
    text.lines().next().and_then(|l| l.parse().ok()).unwrap_or_else(|| panic!("no pid in {text:?}"))
}

/// Waits for `pw-child pid:FD` to have written its whole line to `path`.
async fn read_pid_file(path: &Path) -> u32 {
    loop {
        let text = std::fs::read(path).unwrap();
        if text.ends_with(b"\n") {
            return pid_in(&text);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).expect("field in /proc/self/status");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("kB value")
}

// Issue #9, defect 5: `Run` closed the terminal's master before the reap,
// so a child that closes its side of the terminal and lives on got SIGHUP.
#[test]
fn run_on_a_terminal_keeps_the_master_until_the_reap() {
    serial(async {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo hi; exec 0<&- 1>&- 2>&-; sleep 0.3; exit 0"]).pty(PtySize::default());
        let out =
            guard(10, "closes its terminal, lives on", Run::from(cmd).get_process_output_and_value()).await;
        let out = out.expect("no SIGHUP: exit 0");
        assert_eq!((out.stdout.as_slice(), out.status.code()), (&b"hi\r\n"[..], Some(0)));
        // `head` closes its output at exit, before it is reaped: 40 runs.
        for i in 0..40 {
            let mut cmd = Command::new("head");
            cmd.args(["-n", "1"]).pty(PtySize::default());
            let out = guard(
                10,
                "head on a terminal",
                Run::from(cmd).input("one\ntwo\n").get_process_output_and_value(),
            )
            .await;
            let out = out.unwrap_or_else(|e| panic!("run {i}: {e}"));
            assert_eq!(out.status.code(), Some(0), "run {i}: {:?}", out.status);
        }
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

// Issue #9, defect 11: `grace(Duration::MAX)` panicked with "overflow when
// adding duration to instant"; any duration is accepted.
#[test]
fn grace_and_timeout_of_duration_max_are_accepted() {
    serial(async {
        let mut run = Run::new("sleep");
        run.arg("100").timeout(Duration::from_millis(100)).grace(Duration::MAX);
        let err = guard(10, "timeout with an endless grace", run.get_process_output()).await.unwrap_err();
        match err {
            RunError::Timeout { output, .. } => assert_eq!(output.status.signal(), Some(15), "SIGTERM"),
            other => panic!("a timeout, got {other}"),
        }
        let mut run = Run::new("true");
        run.timeout(Duration::MAX).grace(Duration::MAX);
        assert_eq!(guard(10, "endless timeout", run.get_process_value()).await.unwrap(), 0);
    });
}

// Issue #10: the checked mode. `git rev-parse --verify -q nosuchref` exits
// 1 with nothing on stdout: an error, not `Ok([])`; `git checkout -b x`
// exits 0 with a line on stderr: a success, not an error.
#[test]
fn checked_mode_judges_the_exit_status_not_stderr() {
    serial(async {
        let mut run = Run::new("sh");
        run.args(["-c", "exit 1"]);
        let err = guard(10, "exit 1", run.checked_output()).await.unwrap_err();
        match &err {
            RunError::Failed { output, .. } => assert_eq!(output.status.code(), Some(1)),
            other => panic!("Failed, got {other}"),
        }
        let mut run = Run::new("sh");
        run.args(["-c", "echo \"Switched to a new branch 'x'\" >&2"]);
        let out = guard(10, "stderr, exit 0", run.checked_output()).await.unwrap();
        assert_eq!((out.stdout.len(), out.status.code()), (0, Some(0)));
        assert_eq!(out.stderr, b"Switched to a new branch 'x'\n");
        // Death by a signal is a failure too, with what was written.
        let mut run = Run::new(pw_child!());
        run.args(["write:1:partial", "kill:9"]);
        let err = guard(10, "killed", run.checked_output()).await.unwrap_err();
        let out = err.output().expect("output");
        assert_eq!((&out.stdout[..], out.status.signal()), (&b"partial"[..], Some(9)));
        assert!(matches!(err, RunError::Failed { .. }), "{err}");
    });
}

// Issue #10: stdout as a `String`, UTF-8 checked with a typed error that
// keeps the bytes.
#[test]
fn checked_string_is_utf8_checked() {
    serial(async {
        let mut run = Run::new("printf");
        run.arg("caf\\303\\251\\n");
        assert_eq!(guard(10, "utf-8", run.checked_string()).await.unwrap(), "café\n");
        let mut run = Run::new("printf");
        run.arg("ok\\377\\n");
        let err = guard(10, "not utf-8", run.checked_string()).await.unwrap_err();
        match err {
            RunError::NotUtf8 { source, output, .. } => {
                assert_eq!(source.valid_up_to(), 2);
                assert_eq!(output.stdout, b"ok\xff\n");
            }
            other => panic!("NotUtf8, got {other}"),
        }
    });
}

// Issue #10: results name their child: the pid in `Output` and in the
// errors that carry one.
#[test]
fn output_and_errors_carry_the_pid() {
    serial(async {
        let mut run = Run::new(pw_child!());
        run.args(["pid:1", "exit:4"]);
        let out = guard(10, "pid", run.get_process_output_and_value()).await.unwrap();
        assert_eq!(out.pid, pid_in(&out.stdout));
        let err = guard(10, "pid in error", run.checked_output()).await.unwrap_err();
        let out = err.output().unwrap();
        assert_eq!(out.pid, pid_in(&out.stdout));
    });
}

// Issue #10: `Run`'s Debug shows the input's length, never its bytes.
#[test]
fn run_debug_does_not_show_the_input() {
    let mut run = Run::new("gpg");
    run.input("my passphrase");
    let text = format!("{run:?}");
    assert!(!text.contains("passphrase") && !text.contains("112, 97"), "{text}");
    assert!(text.contains("13 bytes"), "{text}");
}

// Issue #10: with `stop_group`, a leader that exited still counts as a
// member of its group for `kill`, so a timeout's SIGTERM "reached" the
// group and the run waited out the whole grace (5 s) while only a setsid'd
// process held the pipe. It ends once nothing reachable is left.
#[test]
fn stop_group_run_ends_when_only_a_setsid_process_holds_the_pipe() {
    serial(async {
        let mut run = Run::new("sh");
        run.args(["-c", "setsid sleep 100 & echo $!; exit 0"])
            .timeout(Duration::from_millis(300))
            .stop_group(true);
        let started = Instant::now();
        let err = guard(10, "setsid holder", run.get_process_output()).await.unwrap_err();
        let elapsed = started.elapsed();
        let out = err.output().expect("output");
        let holder = pid_in(&out.stdout);
        let _ = kill(Pid::from_raw(holder as i32), Signal::SIGKILL);
        assert!(matches!(err, RunError::Timeout { .. }), "{err}");
        assert_eq!(out.status.code(), Some(0), "the leader had exited by itself");
        assert!(
            elapsed < Duration::from_millis(1300),
            "ended {elapsed:?} after the start, not after the grace"
        );
        until_dead(holder, "the setsid'd sleep").await;
    });
}

// Issue #10: one chain from a `Command` to its result; the command is
// copied, not consumed, and stays usable.
#[test]
fn a_command_runs_in_one_chain() {
    serial(async {
        use procwire::CommandExt;
        let out = Run::from(Command::new("tr").args(["a-z", "A-Z"])).input("abc\n").output().await.unwrap();
        assert_eq!(out.stdout, b"ABC\n");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo $GREETING"]);
        let text =
            cmd.run().env("GREETING", "hi").timeout(Duration::from_secs(10)).checked_string().await.unwrap();
        assert_eq!(text, "hi\n");
        // The command was copied: it runs again, without the run's env.
        assert_eq!(Run::from(&mut cmd).checked_string().await.unwrap(), "\n");
        let text = Run::new("sh").args(["-c", "pwd"]).current_dir("/").checked_string().await.unwrap();
        assert_eq!(text, "/\n");
    });
}

/// `cat /proc/self/stat`'s pid and process group, as a run of `run` sees
/// them.
async fn pid_and_group(run: &mut Run) -> (u32, u32) {
    let stat = guard(10, "cat /proc/self/stat", run.get_process_output()).await.expect("run");
    let stat = String::from_utf8(stat).expect("ASCII");
    let pid = stat.split_whitespace().next().and_then(|p| p.parse().ok()).expect("a pid");
    // "pid (comm) state ppid pgrp ...".
    let (_, rest) = stat.rsplit_once(')').expect("comm");
    let pgrp = rest.split_whitespace().nth(2).and_then(|p| p.parse().ok()).expect("a pgrp");
    (pid, pgrp)
}

/// Issue 21, item 3: a run set its options on the `Run`'s own command,
/// so after a run with `stop_group(true)`, `stop_group(false)` still
/// spawned a group leader, and the command kept `kill_on_drop(true)` and
/// the run's fds. Each run now spawns exactly what the `Run` says then.
#[test]
fn a_runs_settings_do_not_leak_into_the_next_run() {
    serial(async {
        let ours = nix::unistd::getpgrp().as_raw() as u32;
        let mut run = Run::new("cat");
        run.arg("/proc/self/stat");
        let (pid, pgrp) = pid_and_group(&mut run).await;
        assert_eq!(pgrp, ours, "without stop_group, the child stays in our group (pid {pid})");
        run.stop_group(true);
        let (pid, pgrp) = pid_and_group(&mut run).await;
        assert_eq!(pgrp, pid, "with stop_group, the child leads its own group");
        run.stop_group(false);
        let (pid, pgrp) = pid_and_group(&mut run).await;
        assert_eq!(pgrp, ours, "stop_group(false) again: our group, not its own (pid {pid})");
        // The command is as the caller left it.
        assert!(!run.command().get_kill_on_drop(), "kill_on_drop is the run's, not the command's");
        let mut child = run.command().spawn().expect("spawn the command itself");
        assert!(child.take_reader(2).is_none(), "Command::spawn's own default: the parent's stderr");
        // Its stdout, a pipe nobody took, is drained by `wait`.
        assert_eq!(guard(10, "wait", child.wait()).await.expect("wait").code(), Some(0));
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}
