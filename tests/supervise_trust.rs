//! Issue #16: nobody outside a program speaks for it, and every promise
//! holds in every state. Each test is named after the defect it pins.
//!
//! The strangers here are real processes: one of uid 65534 and one of
//! this test's own uid, neither related to the program, sending to the
//! program's notification socket as `sd_notify` would.
//!
//! Linux only: sd_notify, which the supervisor takes on Linux only.
#![cfg(target_os = "linux")]

use std::time::Duration;

use procwire::{Command, Signal, StopPolicy, StopScope};
use procwire_supervisor::{
    Cause, Event, NotifyAccess, ProgramSpec, Readiness, RestartPolicy, RestartSpec, State, Strategy,
    Subscription, Supervisor,
};
use procwire_tests::{guard, in_own_process, pw_child};

#[path = "supervise_common.rs"]
mod common;

use common::*;

const NOBODY: u32 = 65534;

/// A shell that ignores SIGTERM (it says so once it does), and its child.
const TERM_IGNORER: &str = "trap '' TERM; echo trapped; sleep 100 & wait; wait";

fn never_restart(spec: &mut ProgramSpec) -> &mut ProgramSpec {
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    spec.restart(restart)
}

/// `sh -c SCRIPT` with `$PW` naming the helper child program.
fn sh_pw(script: &str) -> Command {
    let mut cmd = sh(script);
    cmd.env("PW", pw_child!());
    cmd
}

/// A program that prints its `NOTIFY_SOCKET` and waits, never ready.
fn shower(name: &str, access: NotifyAccess) -> ProgramSpec {
    let mut program = ProgramSpec::new(name, sh("echo \"$NOTIFY_SOCKET\"; exec sleep 100"));
    program.ready(Readiness::Notify { access });
    never_restart(&mut program);
    program
}

/// A program whose main process says `READY=1` at once, then waits.
fn ready_at_once(name: &str, access: NotifyAccess) -> ProgramSpec {
    let mut program = ProgramSpec::new(name, sh_pw("exec \"$PW\" 'notify:READY=1' sleep-ms:100000"));
    program.ready(Readiness::Notify { access });
    never_restart(&mut program);
    program
}

/// A process unrelated to any program, of `uid` (this test's own when
/// `None`), sends `message` to `socket` as its own main process would,
/// `MAINPID=` naming itself; waits for it to have sent and exited.
fn stranger_says(socket: &str, uid: Option<u32>, message: &str) {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &format!("exec \"$PW\" \"notify:{message}\\nMAINPID=$$\"")])
        .env("PW", pw_child!())
        .env("NOTIFY_SOCKET", socket)
        .stdin(std::process::Stdio::null());
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let status = cmd.status().expect("run the stranger");
    assert!(status.success(), "the stranger could not send: {status}");
}

/// The first line a program logs.
async fn first_line(logs: &mut procwire_supervisor::Logs, program: &str) -> String {
    guard(20, "a line", async {
        loop {
            let line = logs.recv().await.expect("logs");
            if &*line.program == program {
                return String::from_utf8(line.line.bytes.to_vec()).unwrap();
            }
        }
    })
    .await
}

/// Datagrams are read in the order they were sent, whoever sent them: once
/// a program added now is `Running` by its own `READY=1`, every datagram
/// sent before it has been dealt with.
async fn barrier(sup: &Supervisor, events: &mut Subscription<Event>, name: &str) {
    sup.add(ready_at_once(name, NotifyAccess::Main)).await.unwrap();
    next(events, name, |e| e.to == State::Running).await;
}

/// Every event of `program` received so far.
fn drain_events(events: &mut Subscription<Event>, program: &str) -> Vec<Event> {
    let mut seen = Vec::new();
    use futures::FutureExt;
    while let Some(Ok(e)) = events.recv().now_or_never() {
        if &*e.program == program {
            seen.push(e);
        }
    }
    seen
}

/// Defect 1: a process of another uid, and an unrelated one of the same
/// uid, can neither mark a program ready, nor set its status, nor trigger
/// its watchdog, nor claim its main pid, under any access; no event is
/// told on their behalf.
#[tokio::test]
async fn a_stranger_cannot_speak_for_a_program_under_any_access() {
    // One program that reads sd_notify at a time: with two, the old rule
    // ("any sender no other program claims") could not pick one.
    for access in [NotifyAccess::Main, NotifyAccess::Group, NotifyAccess::All] {
        for ready in [false, true] {
            let name = if ready { "running" } else { "starting" };
            let (sup, _task) = Supervisor::new();
            let mut events = sup.events().await.unwrap();
            let mut logs = sup.logs().await.unwrap();
            let mut program = if ready {
                let mut program = ProgramSpec::new(
                    name,
                    sh_pw("echo \"$NOTIFY_SOCKET\"; exec \"$PW\" 'notify:READY=1' sleep-ms:100000"),
                );
                program.ready(Readiness::Notify { access });
                program
            } else {
                shower(name, access)
            };
            never_restart(&mut program);
            let pid = sup.add(program).await.unwrap().pid;
            let socket = first_line(&mut logs, name).await;
            let state = if ready { State::Running } else { State::Starting };
            if ready {
                next(&mut events, name, |e| e.to == State::Running).await;
            }
            for uid in [Some(NOBODY), None] {
                stranger_says(&socket, uid, "READY=1\\nSTATUS=a stranger's\\nWATCHDOG=trigger");
            }
            barrier(&sup, &mut events, "barrier").await;
            let now = sup.status(name).await.unwrap();
            assert_eq!((now.state, now.pid, now.notify_status), (state, pid, None), "{access:?} {name}");
            let told: Vec<Event> = drain_events(&mut events, name)
                .into_iter()
                .filter(|e| !matches!(e.cause, Cause::Added | Cause::Start(_) | Cause::Ready))
                .collect();
            assert!(told.is_empty(), "{access:?}: {name} got {told:?}");
            sup.shutdown().await.unwrap();
        }
    }
}

/// Defect 1, the other side: what the program forks can still speak for
/// it where its access says so, and is refused (with an event) where not.
#[tokio::test]
async fn a_process_the_program_forked_speaks_for_it_under_all_only() {
    // The forked helper stays alive (so that it can be placed) until the
    // program is stopped.
    let script = "\"$PW\" 'notify:READY=1\\nSTATUS=from a child' sleep-ms:100000 & P=$!; \
                  trap 'kill $P; exit 0' TERM; wait";
    // (The program leads a group of its own by default.)
    for (access, scope, own_group, believed) in [
        (NotifyAccess::Main, StopScope::Process, true, false),
        (NotifyAccess::Group, StopScope::Process, false, false),
        (NotifyAccess::Group, StopScope::Process, true, true),
        (NotifyAccess::Group, StopScope::Group, false, true),
        (NotifyAccess::All, StopScope::Process, false, true),
    ] {
        let (sup, _task) = Supervisor::new();
        let mut events = sup.events().await.unwrap();
        let mut program = ProgramSpec::new("forker", sh_pw(script));
        program
            .ready(Readiness::Notify { access })
            .stop(StopPolicy::new().with_scope(scope))
            .own_process_group(own_group);
        never_restart(&mut program);
        sup.add(program).await.unwrap();
        if believed {
            next(&mut events, "forker", |e| e.to == State::Running).await;
            let status = sup.status("forker").await.unwrap();
            assert_eq!(status.notify_status.as_deref(), Some("from a child"), "{access:?} {scope:?}");
        } else {
            let refused =
                next(&mut events, "forker", |e| matches!(e.cause, Cause::NotifyRefused { .. })).await;
            assert_eq!(refused.to, State::Starting, "{access:?} {scope:?}");
            assert_eq!(sup.status("forker").await.unwrap().notify_status, None);
        }
        sup.shutdown().await.unwrap();
    }
}

/// A program running under another uid (`Command::uid`) still notifies.
#[tokio::test]
async fn a_program_of_another_uid_can_still_notify() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut cmd = sh_pw("exec \"$PW\" 'notify:READY=1' sleep-ms:100000");
    cmd.uid(NOBODY).gid(NOBODY);
    let mut program = ProgramSpec::new("nobody", cmd);
    program.ready(Readiness::Notify { access: NotifyAccess::Main });
    sup.add(program).await.unwrap();
    next(&mut events, "nobody", |e| e.to == State::Running).await;
    sup.shutdown().await.unwrap();
}

/// A double-forked daemon (its parent gone, a session of its own) is the
/// program's by its cgroup alone: believed under `All` with a cgroup.
#[tokio::test]
async fn a_double_forked_daemon_speaks_for_its_program_through_the_cgroup() {
    let Some(scratch) = procwire_tests::ScratchCgroup::new("trust") else { return };
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let daemon =
        "(setsid \"$PW\" sleep-ms:300 'notify:READY=1' sleep-ms:100000 </dev/null >/dev/null 2>&1 &); \
                  exec sleep 100";
    let mut program = ProgramSpec::new("daemon", sh_pw(daemon));
    program
        .ready(Readiness::Notify { access: NotifyAccess::All })
        .cgroup(scratch.path())
        .stop(StopPolicy::new().with_scope(StopScope::Cgroup));
    never_restart(&mut program);
    sup.add(program).await.unwrap();
    next(&mut events, "daemon", |e| e.to == State::Running).await;
    sup.shutdown().await.unwrap();
}

/// Defect 2: a `MAINPID=` is believed while that process lives, and not
/// after: its exit is told, and a process of uid 65534 given its pid
/// afterwards (through `ns_last_pid`) cannot speak for the program.
///
/// In its own process: it makes itself the subreaper that the main
/// process (a grandchild, orphaned) is reparented to, so that it can reap
/// it and free its pid.
#[test]
fn a_mainpid_is_not_believed_after_its_process_exited() {
    in_own_process("a_mainpid_is_not_believed_after_its_process_exited", || {
        nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(mainpid_reuse());
    });
}

async fn mainpid_reuse() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut logs = sup.logs().await.unwrap();
    // The main process to be: a member of the program's group whose
    // parent exits at once; the program names it, then waits.
    let script = "X=$(sh -c '\"$PW\" sleep-ms:3000 </dev/null >/dev/null 2>&1 & echo $!'); echo \"$X\"; \
                  exec \"$PW\" \"notify:MAINPID=$X\\nREADY=1\" sleep-ms:100000";
    let mut program = ProgramSpec::new("mainpid", sh_pw(script));
    program
        .ready(Readiness::Notify { access: NotifyAccess::Main })
        .stop(StopPolicy::new().with_scope(StopScope::Group));
    never_restart(&mut program);
    let spawned = sup.add(program).await.unwrap().pid.unwrap();
    let main: u32 = first_line(&mut logs, "mainpid").await.parse().unwrap();
    let told = next(&mut events, "mainpid", |e| matches!(e.cause, Cause::Notified(_))).await;
    assert!(matches!(&told.cause, Cause::Notified(n) if n.main_pid == Some(main)), "{told:?}");
    next(&mut events, "mainpid", |e| e.to == State::Running).await;
    // Its exit, told where pidfds tell it; then reaped here.
    if !cfg!(any(procwire_force_sigchld, procwire_portable)) {
        let exited = next(&mut events, "mainpid", |e| matches!(e.cause, Cause::MainExited { .. })).await;
        assert!(matches!(exited.cause, Cause::MainExited { pid } if pid == main), "{exited:?}");
    }
    let reap = tokio::task::spawn_blocking(move || {
        let pid = nix::unistd::Pid::from_raw(main as i32);
        while let Err(nix::errno::Errno::EINTR) = nix::sys::wait::waitpid(pid, None) {}
    });
    guard(20, "the main process to exit and be reaped", reap).await.unwrap();
    let socket = std::fs::read(format!("/proc/{spawned}/environ")).unwrap();
    let socket = socket
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"NOTIFY_SOCKET="))
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
        .expect("NOTIFY_SOCKET");
    // Give `main`'s pid to a stranger of uid 65534. Each try can lose the
    // pid to any other process or thread created meanwhile on the machine
    // (a busy build creates thousands): many tries, each a few ms.
    const TRIES: usize = 5000;
    let mut impostor = None;
    for _ in 0..TRIES {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (main - 1).to_string()).expect("ns_last_pid");
        let child = std::process::Command::new("sleep").arg("100").spawn().expect("sleep");
        if child.id() == main {
            impostor = Some(child);
            break;
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut impostor = impostor.expect("the pid given out again within TRIES tries");
    let _ = impostor.kill();
    let _ = impostor.wait();
    // The pid is free again: this time the stranger itself takes it.
    let mut took = false;
    for _ in 0..TRIES {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (main - 1).to_string()).expect("ns_last_pid");
        let out = std::process::Command::new("sh")
            .args(["-c", "[ $$ = \"$WANT\" ] || exit 3; exec \"$PW\" \"notify:STATUS=an impostor's\\nWATCHDOG=trigger\""])
            .env("PW", pw_child!())
            .env("WANT", main.to_string())
            .env("NOTIFY_SOCKET", &socket)
            .uid_nobody()
            .status()
            .expect("the impostor");
        if out.success() {
            took = true;
            break;
        }
    }
    assert!(took, "a stranger with pid {main} within TRIES tries");
    barrier(&sup, &mut events, "barrier").await;
    let status = sup.status("mainpid").await.unwrap();
    assert_eq!((status.state, status.pid, status.notify_status), (State::Running, Some(spawned), None));
    sup.shutdown().await.unwrap();
}

trait UidNobody {
    fn uid_nobody(&mut self) -> &mut Self;
}

impl UidNobody for std::process::Command {
    fn uid_nobody(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        self.uid(NOBODY).gid(NOBODY)
    }
}

/// Defect 3: a `stop()` during a OneForAll (or RestForOne) restart sticks:
/// the programs stopped stay stopped when the strategy's restart ends.
#[tokio::test]
async fn a_stop_during_a_group_restart_sticks() {
    for strategy in [Strategy::OneForAll, Strategy::RestForOne] {
        let (sup, _task) = Supervisor::builder().strategy(strategy).build();
        let mut events = sup.events().await.unwrap();
        // "a" fails when told (SIGUSR1), "b" takes the grace to stop.
        let mut a = ProgramSpec::new("a", Command::new("sleep").arg("100").clone());
        a.restart({
            let mut r = RestartSpec::new();
            r.backoff(procwire_supervisor::Backoff::fixed(ms(0)));
            r
        });
        let mut b = ProgramSpec::new("b", sh(TERM_IGNORER));
        b.stop(StopPolicy::new().with_grace(ms(1500)).with_scope(StopScope::Group));
        sup.add(a).await.unwrap();
        let mut logs = sup.logs().await.unwrap();
        sup.add(b).await.unwrap();
        assert_eq!(first_line(&mut logs, "b").await, "trapped");
        sup.signal("a", Signal::USR1).await.unwrap();
        // "b" is being stopped for the strategy; "a" waits for it.
        next(&mut events, "b", |e| e.to == State::Stopping).await;
        let (stop_a, stop_b) = tokio::join!(sup.stop("a"), sup.stop("b"));
        stop_a.unwrap();
        stop_b.unwrap();
        for name in ["a", "b"] {
            assert_eq!(sup.status(name).await.unwrap().state, State::Stopped, "{strategy:?}: {name}");
        }
        // Nothing is left to start them: no timer, no restart under way.
        none_within(&mut events, "a", ms(300), starting).await;
        assert_eq!(sup.status("b").await.unwrap().state, State::Stopped, "{strategy:?}");
        sup.shutdown().await.unwrap();
    }
}

/// Defect 3's sibling: a `remove()` during a group restart sticks too.
#[tokio::test]
async fn a_remove_during_a_group_restart_sticks() {
    let (sup, _task) = Supervisor::builder().strategy(Strategy::OneForAll).build();
    let mut events = sup.events().await.unwrap();
    let mut a = ProgramSpec::new("a", Command::new("sleep").arg("100").clone());
    a.restart({
        let mut r = RestartSpec::new();
        r.backoff(procwire_supervisor::Backoff::fixed(ms(0)));
        r
    });
    let mut logs = sup.logs().await.unwrap();
    let mut b = ProgramSpec::new("b", sh(TERM_IGNORER));
    b.stop(StopPolicy::new().with_grace(ms(1500)).with_scope(StopScope::Group));
    sup.add(a).await.unwrap();
    sup.add(b).await.unwrap();
    assert_eq!(first_line(&mut logs, "b").await, "trapped");
    sup.signal("a", Signal::USR1).await.unwrap();
    next(&mut events, "b", |e| e.to == State::Stopping).await;
    sup.remove("b").await.unwrap();
    next(&mut events, "a", starting).await;
    assert!(sup.status("b").await.is_err(), "b was removed");
    sup.shutdown().await.unwrap();
}

/// Defect 4: `signal(KILL)` reaches a program that is `Stopping` in group
/// and cgroup scope at once, and cuts its stop short.
#[tokio::test]
async fn a_signal_reaches_a_stopping_program_in_every_scope() {
    let scratch = procwire_tests::ScratchCgroup::new("trust-signal");
    let mut scopes = vec![StopScope::Process, StopScope::Group];
    if scratch.is_some() {
        scopes.push(StopScope::Cgroup);
    }
    for scope in scopes {
        let (sup, _task) = Supervisor::new();
        let mut events = sup.events().await.unwrap();
        let mut logs = sup.logs().await.unwrap();
        let mut program = ProgramSpec::new("stuck", sh(TERM_IGNORER));
        program.stop(StopPolicy::new().with_grace(Duration::from_secs(60)).with_scope(scope));
        if let (StopScope::Cgroup, Some(scratch)) = (scope, &scratch) {
            program.cgroup(scratch.path());
        }
        sup.add(program).await.unwrap();
        assert_eq!(first_line(&mut logs, "stuck").await, "trapped");
        let stop = tokio::spawn({
            let sup = sup.clone();
            async move { sup.stop("stuck").await }
        });
        next(&mut events, "stuck", |e| e.to == State::Stopping).await;
        let t0 = tokio::time::Instant::now();
        guard(10, "the signal's answer", sup.signal("stuck", Signal::KILL)).await.unwrap();
        let outcome = guard(10, "the stop", stop).await.unwrap().unwrap().expect("it was running");
        let took = t0.elapsed();
        println!("{scope:?}: stopped {took:?} after SIGKILL, within a 60 s grace");
        assert_eq!(outcome.status.and_then(|s| s.signal()), Some(9), "{scope:?}");
        assert!(took < Duration::from_secs(10), "{scope:?}: {took:?}");
        sup.shutdown().await.unwrap();
    }
}

/// Defect 7: a runtime dropped without `shutdown()` leaves no cgroup
/// directory of an incarnation behind (nor a process in it).
#[test]
fn a_runtime_dropped_without_shutdown_leaves_no_cgroup_behind() {
    let Some(scratch) = procwire_tests::ScratchCgroup::new("trust-drop") else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let (sup, _task) = Supervisor::new();
        let mut events = sup.events().await.unwrap();
        for (name, scope) in
            [("cgroup", StopScope::Cgroup), ("group", StopScope::Group), ("process", StopScope::Process)]
        {
            let mut program = ProgramSpec::new(name, sh("sleep 100 & sleep 100 & wait"));
            program.cgroup(scratch.path()).stop(StopPolicy::new().with_scope(scope));
            sup.add(program).await.unwrap();
            next(&mut events, name, |e| e.to == State::Running).await;
        }
        assert_eq!(scratch.children().len(), 3, "one cgroup an incarnation");
    });
    drop(rt);
    let check = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    check.block_on(guard(20, "the incarnations' cgroups removed", async {
        while !scratch.children().is_empty() {
            tokio::time::sleep(ms(10)).await;
        }
    }));
    assert!(!scratch.cgroup.is_populated().unwrap(), "a process outlived its cgroup");
}

/// Defect 8: a `Starting` program (readiness pending) shows its pid, in
/// its `Starting` event, its status and its watch.
#[tokio::test]
async fn a_starting_program_shows_its_pid() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut program = ProgramSpec::new("slow", sh("exec sleep 100"));
    program.ready(Readiness::NotificationFd(3));
    let added = sup.add(program).await.unwrap();
    let pid = added.pid.expect("add's status has the pid");
    let starting = next(&mut events, "slow", starting).await;
    assert_eq!(starting.pid, Some(pid));
    let status = sup.status("slow").await.unwrap();
    assert_eq!((status.state, status.pid), (State::Starting, Some(pid)));
    let watched = sup.watch("slow").await.unwrap().borrow().clone();
    assert_eq!((watched.state, watched.pid), (State::Starting, Some(pid)));
    sup.shutdown().await.unwrap();
}

/// Found by the soak (`tests/soak`): a `signal()` that races the exit of a
/// program in process scope (the waiter reaped it, the actor has not heard
/// yet) answered `Error::Signal(ProcessExitedAlready)` instead of the
/// documented `NotRunning`.
#[tokio::test]
async fn a_signal_racing_an_exit_is_not_running() {
    use procwire_supervisor::{Backoff, Error};
    let (sup, _task) = Supervisor::new();
    let mut restart = RestartSpec::new();
    restart.backoff(Backoff::none()).min_uptime(Duration::ZERO);
    let mut program = ProgramSpec::new("quick", Command::new("true"));
    program.restart(restart);
    sup.add(program).await.unwrap();
    let (mut sent, mut not_running) = (0, 0);
    let t0 = tokio::time::Instant::now();
    while sent + not_running < 20_000 && t0.elapsed() < Duration::from_secs(10) {
        match sup.signal("quick", Signal::CONT).await {
            Ok(()) => sent += 1,
            Err(Error::NotRunning(_)) => not_running += 1,
            Err(e) => panic!("after {sent} sent and {not_running} not running: {e:?}"),
        }
    }
    println!("{sent} signals sent, {not_running} found it not running");
    sup.shutdown().await.unwrap();
}
