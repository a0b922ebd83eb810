//! `ProgramSpec::output_file` with real children: the file is opened at
//! each spawn (appended to, or emptied), nothing of its fd reaches the
//! sink or `logs()`, a renamed file is followed by a new one, an open
//! that fails is a spawn failure naming the path and leaves no fd behind,
//! and a changed file restarts the program on `update`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use procwire_supervisor::{
    Cause, Event, FileMode, LogLine, ProgramSpec, RestartPolicy, RestartSpec, State, Subscription, Supervisor,
};
use procwire_tests::{guard, in_own_process, open_fds};
use tokio::sync::broadcast::error::RecvError;

#[path = "supervise_common.rs"]
mod common;

use common::*;

/// A directory of the test's own, empty, in the target's scratch space.
fn scratch(what: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("output-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A program that writes two lines to stdout and one to stderr, each
/// with its pid, then exits; never restarted by itself.
fn talker(name: &str) -> ProgramSpec {
    let script = r#"echo "out $$ 1"; echo "err $$" >&2; echo "out $$ 2""#;
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    let mut spec = ProgramSpec::new(name, sh(script));
    spec.restart(restart);
    spec
}

/// The pid of the incarnation of `program` that exits next (its output
/// is then all written).
async fn exited(events: &mut Subscription<Event>, program: &str) -> u32 {
    let e = next(events, program, |e| e.to == State::Exited).await;
    assert!(matches!(e.cause, Cause::Exited { status, .. } if status.code() == Some(0)), "{e:?}");
    e.pid.expect("a spawned incarnation has a pid")
}

/// Runs `spec` twice in a row (added, then started again once exited):
/// the two incarnations' pids, every line the sink got, and once the
/// supervisor is shut down, every line `logs()` got.
async fn run_twice(spec: ProgramSpec, between: impl FnOnce()) -> ((u32, u32), Vec<LogLine>, Vec<LogLine>) {
    let (sup, task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut logs = sup.logs().await.unwrap();
    let sunk = Arc::new(Mutex::new(Vec::new()));
    let mut spec = spec;
    let to = sunk.clone();
    spec.sink(move |l| to.lock().unwrap().push(l.clone()));
    let name = spec.get_name().to_owned();
    sup.add(spec).await.unwrap();
    let first = exited(&mut events, &name).await;
    between();
    sup.start(&name).await.unwrap();
    let second = exited(&mut events, &name).await;
    guard(20, "shutdown", sup.shutdown()).await.unwrap();
    guard(20, "the task", task).await.unwrap().unwrap();
    // The supervisor is gone: the channel ends after the last line.
    let mut logged = Vec::new();
    loop {
        match guard(20, "the last lines", logs.recv()).await {
            Ok(line) => logged.push(line),
            Err(RecvError::Closed) => break,
            Err(RecvError::Lagged(n)) => panic!("lagged by {n}"),
        }
    }
    let sunk = sunk.lock().unwrap().clone();
    ((first, second), sunk, logged)
}

fn texts(lines: &[LogLine]) -> Vec<(i32, String)> {
    lines.iter().map(|l| (l.fd, String::from_utf8_lossy(&l.line.bytes).into_owned())).collect()
}

/// Append: both incarnations' lines follow what the file held, in order;
/// fd 1 reaches neither the sink nor `logs()`, fd 2 reaches both.
#[tokio::test]
async fn append_keeps_every_incarnations_lines_and_logs_only_the_other_fd() {
    let dir = scratch("append");
    let file = dir.join("talker.log");
    std::fs::write(&file, "before\n").unwrap();
    let mut spec = talker("talker");
    spec.output_file(1, &file, FileMode::Append);
    let ((a, b), sunk, logged) = run_twice(spec, || {}).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text, format!("before\nout {a} 1\nout {a} 2\nout {b} 1\nout {b} 2\n"));
    let stderr = vec![(2, format!("err {a}")), (2, format!("err {b}"))];
    assert_eq!(texts(&sunk), stderr);
    assert_eq!(texts(&logged), stderr);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Truncate, both fds on one file: the file holds the second
/// incarnation's output only, each line whole (the two fds share one
/// offset, as `>f 2>&1`), and nothing is logged.
#[tokio::test]
async fn truncate_keeps_only_the_last_incarnation_and_two_fds_share_the_file() {
    let dir = scratch("truncate");
    let file = dir.join("talker.log");
    std::fs::write(&file, "a long line from before, longer than what follows\n").unwrap();
    let mut spec = talker("talker");
    spec.output_file(1, &file, FileMode::Truncate).output_file(2, &file, FileMode::Truncate);
    let ((_, b), sunk, logged) = run_twice(spec, || {}).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text, format!("out {b} 1\nerr {b}\nout {b} 2\n"));
    assert_eq!(texts(&sunk), []);
    assert_eq!(texts(&logged), []);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A log rotation renames the file between incarnations: the next one
/// creates a new file at the path, and the renamed one keeps the first's.
#[tokio::test]
async fn a_renamed_file_is_followed_by_a_new_one_at_the_next_spawn() {
    let dir = scratch("rotate");
    let (file, rotated) = (dir.join("talker.log"), dir.join("talker.log.1"));
    let mut spec = talker("talker");
    spec.output_file(1, &file, FileMode::Append);
    let ((a, b), ..) = run_twice(spec, || std::fs::rename(&file, &rotated).unwrap()).await;
    assert_eq!(std::fs::read_to_string(&rotated).unwrap(), format!("out {a} 1\nout {a} 2\n"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("out {b} 1\nout {b} 2\n"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A file in a directory that does not exist: the spawn fails, the event
/// and `start`'s error name the path, and no descriptor is left open.
#[test]
fn a_file_that_cannot_be_opened_fails_the_spawn_naming_its_path_and_leaks_nothing() {
    in_own_process("a_file_that_cannot_be_opened_fails_the_spawn_naming_its_path_and_leaks_nothing", || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let dir = scratch("missing");
            let file = dir.join("no-such-dir").join("talker.log");
            let baseline = open_fds();
            let (sup, task) = Supervisor::new();
            let mut events = sup.events().await.unwrap();
            let mut spec = talker("talker");
            spec.output_file(2, &file, FileMode::Append);
            sup.add(spec).await.unwrap();
            let failed = next(&mut events, "talker", |e| matches!(e.cause, Cause::SpawnFailed { .. })).await;
            let Cause::SpawnFailed { error, .. } = &failed.cause else { unreachable!() };
            match &**error {
                procwire::Error::Spawn { step: procwire::SpawnStep::Pipes, source, .. } => {
                    assert_eq!(source.kind(), std::io::ErrorKind::NotFound, "{error}")
                }
                other => panic!("{other:?}"),
            }
            let named = format!("{file:?}");
            assert!(error.to_string().contains(&named), "{error}");
            assert_eq!(failed.pid, None);
            // Asked by hand, the same error.
            let err = sup.start("talker").await.unwrap_err();
            assert!(err.to_string().contains(&named), "{err}");
            guard(20, "shutdown", sup.shutdown()).await.unwrap();
            guard(20, "the task", task).await.unwrap().unwrap();
            assert_eq!(open_fds(), baseline);
            std::fs::remove_dir_all(dir).unwrap();
        });
    });
}

/// `update` restarts a running program whose output file changed (path
/// or mode), and keeps it running when the file is the same.
#[tokio::test]
async fn a_changed_output_file_restarts_the_program_on_update() {
    let dir = scratch("update");
    let spec = |path: &str, mode| {
        let mut spec = ProgramSpec::new("sleeper", procwire::Command::new("sleep").arg("1000").clone());
        spec.output_file(1, dir.join(path), mode);
        spec
    };
    let (sup, _task) = Supervisor::new();
    let first = sup.add(spec("a.log", FileMode::Append)).await.unwrap().pid;
    let kept = sup.update(spec("a.log", FileMode::Append)).await.unwrap();
    assert!(!kept.restarted());
    assert_eq!(kept.status().pid, first);
    let moved = sup.update(spec("b.log", FileMode::Append)).await.unwrap();
    assert!(moved.restarted());
    assert_ne!(moved.status().pid, first);
    let emptied = sup.update(spec("b.log", FileMode::Truncate)).await.unwrap();
    assert!(emptied.restarted());
    // Each spawn opened (and so created) its file.
    assert!(dir.join("a.log").exists() && dir.join("b.log").exists());
    sup.shutdown().await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// An output file on fd 0 (or below), or on the notification fd, is
/// refused by `add`, naming the setting.
#[tokio::test]
async fn an_output_file_below_fd_1_or_on_the_notification_fd_is_refused() {
    let (sup, _task) = Supervisor::new();
    let mut zero = talker("zero");
    zero.output_file(0, "/dev/null", FileMode::Append);
    let mut notifying = talker("notifying");
    notifying.ready(procwire_supervisor::Readiness::NotificationFd(3)).output_file(
        3,
        "/dev/null",
        FileMode::Append,
    );
    for (spec, message) in [
        (zero, "ProgramSpec::output_file fd is 0: allowed 1 and above"),
        (notifying, "ProgramSpec::output_file fd is 3: allowed any fd but the notification fd"),
    ] {
        let err = sup.add(spec).await.unwrap_err();
        assert!(matches!(err, procwire_supervisor::Error::Spec(_)), "{err:?}");
        assert!(err.to_string().contains(message), "{err}");
    }
    sup.shutdown().await.unwrap();
}

/// A FIFO nobody reads as the output file: the spawn fails at once
/// (`ENXIO`), the supervisor's task goes on answering (a blocking open
/// there would hang every program), and with a reader the program runs
/// and its lines come through the FIFO.
#[tokio::test]
async fn a_fifo_without_a_reader_fails_the_spawn_and_hangs_nothing() {
    use tokio::io::AsyncBufReadExt;
    let dir = scratch("fifo");
    let fifo = dir.join("out");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Were the open to block the supervisor's task (this test's only
    // thread), a reader that comes after 20 s lets it go on: the test then
    // fails on the event it waits for, instead of hanging.
    let rescue = fifo.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(20));
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_NONBLOCK).open(rescue);
    });
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut spec = talker("talker");
    spec.output_file(1, &fifo, FileMode::Append);
    guard(10, "add", sup.add(spec)).await.unwrap();
    let failed = next(&mut events, "talker", |e| matches!(e.cause, Cause::SpawnFailed { .. })).await;
    let Cause::SpawnFailed { error, .. } = &failed.cause else { unreachable!() };
    assert!(error.to_string().contains("No such device or address"), "{error}");
    guard(10, "status answers", sup.status("talker")).await.unwrap();

    let reader = tokio::net::unix::pipe::OpenOptions::new().open_receiver(&fifo).unwrap();
    guard(10, "start with a reader", sup.start("talker")).await.unwrap();
    let mut lines = tokio::io::BufReader::new(reader).lines();
    let first = guard(10, "a line through the FIFO", lines.next_line()).await.unwrap().unwrap();
    assert!(first.starts_with("out "), "{first}");
    guard(20, "shutdown", sup.shutdown()).await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
