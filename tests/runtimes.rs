//! A child outlives the runtime that spawned it: its pipes, its terminal
//! and its exit can be used from another runtime, whether the spawning one
//! was dropped or is alive but idle (not driven by anyone). In pidfd mode
//! and, built with `--cfg procwire_force_sigchld`, in the SIGCHLD fallback.

use procwire::{ChildFd, Command, PtySize};
use procwire_tests::guard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::{Builder, Runtime};

/// Guard against hangs only; every test waits on its events.
const LIMIT: u64 = 30;

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Spawns `sh -c SCRIPT` in `rt`, with stdout a pipe.
fn spawn_sh(rt: &Runtime, script: &str) -> procwire::Child {
    let _entered = rt.enter();
    Command::new("sh").args(["-c", script]).stdin(ChildFd::Null).stderr(ChildFd::Null).spawn().expect("spawn")
}

/// Reads the child's stdout to its end and reaps it.
async fn output_and_code(child: &mut procwire::Child) -> (String, Option<i32>) {
    let mut out = String::new();
    child.take_reader(1).expect("stdout").read_to_string(&mut out).await.expect("read stdout");
    (out, child.wait().await.expect("wait").code())
}

/// Issue 9, defect 12: after the spawning runtime was dropped, reading a
/// pipe failed ("being shutdown"), the output was lost, and dropping the
/// reader killed the child with SIGPIPE.
#[test]
fn pipes_and_wait_survive_the_spawning_runtime() {
    let a = current_thread();
    let mut child = spawn_sh(&a, "sleep 0.3; echo hi");
    drop(a);
    let b = current_thread();
    let (out, code) = b.block_on(guard(LIMIT, "read and wait from runtime B", output_and_code(&mut child)));
    assert_eq!((out.as_str(), code), ("hi\n", Some(0)));
}

/// Issue 9, defect 12: with the spawning current-thread runtime alive but
/// idle, waiting from another runtime hung (the pidfd's readiness was due
/// on the idle runtime's reactor).
#[test]
fn wait_from_another_runtime_while_the_spawner_idles() {
    let a = current_thread();
    let mut child = spawn_sh(&a, "sleep 0.3; echo hi");
    // The same thread, a second runtime: `a` is alive and not driven.
    let b = current_thread();
    let (out, code) = b.block_on(guard(LIMIT, "read and wait from runtime B", output_and_code(&mut child)));
    assert_eq!((out.as_str(), code), ("hi\n", Some(0)));

    // Another thread, `a` still idle; the child is back in `a` afterwards.
    let mut child = spawn_sh(&a, "sleep 0.3; echo there");
    let mut child = std::thread::spawn(move || {
        let c = current_thread();
        let (out, code) =
            c.block_on(guard(LIMIT, "read and wait from runtime C", output_and_code(&mut child)));
        assert_eq!((out.as_str(), code), ("there\n", Some(0)));
        child
    })
    .join()
    .expect("thread C");
    let status = a.block_on(guard(LIMIT, "wait again in runtime A", child.wait())).expect("wait");
    assert_eq!(status.code(), Some(0), "the status is kept");
}

/// A writer moves too: 1 MiB through `cat` (the pipe fills, so the writer
/// waits on the reactor) from runtime B after runtime A was dropped.
#[test]
fn writer_survives_the_spawning_runtime() {
    let a = current_thread();
    let mut child = {
        let _entered = a.enter();
        Command::new("cat").stderr(ChildFd::Null).spawn().expect("spawn cat")
    };
    drop(a);
    let b = current_thread();
    b.block_on(guard(LIMIT, "cat round trip from runtime B", async {
        let mut stdin = child.take_writer(0).expect("stdin");
        let mut stdout = child.take_reader(1).expect("stdout");
        let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();
        let write = async {
            stdin.write_all(&data).await.expect("write");
            stdin.shutdown().await.expect("shutdown");
        };
        let mut echoed = Vec::new();
        let ((), read) = tokio::join!(write, stdout.read_to_end(&mut echoed));
        read.expect("read");
        assert!(echoed == data, "cat echoed {} bytes, not {}", echoed.len(), data.len());
        assert!(child.wait().await.expect("wait").success());
    }));
}

/// The terminal moves too: its master after the spawning runtime was
/// dropped, and its two halves while it idles.
#[test]
fn pty_survives_the_spawning_runtime() {
    let a = current_thread();
    let mut child = {
        let _entered = a.enter();
        Command::new("sh").args(["-c", "sleep 0.3; echo hi"]).pty(PtySize::default()).spawn().expect("spawn")
    };
    drop(a);
    let b = current_thread();
    b.block_on(guard(LIMIT, "pty master from runtime B", async {
        let mut out = String::new();
        child.take_pty().expect("master").read_to_string(&mut out).await.expect("read the terminal");
        assert_eq!(out, "hi\r\n");
        assert!(child.wait().await.expect("wait").success());
    }));

    let a = current_thread();
    let mut child = {
        let _entered = a.enter();
        Command::new("sh").args(["-c", "read x; echo got $x"]).pty(PtySize::default()).spawn().expect("spawn")
    };
    b.block_on(guard(LIMIT, "pty halves from runtime B", async {
        let (mut read, mut write) = child.take_pty().expect("master").into_split();
        write.write_all(b"yes\n").await.expect("type into the terminal");
        let mut out = String::new();
        read.read_to_string(&mut out).await.expect("read the terminal");
        assert!(out.ends_with("got yes\r\n"), "{out:?}");
        assert!(child.wait().await.expect("wait").success());
    }));
    drop(a);
}
