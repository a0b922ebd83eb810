//! Issue #17: live reconfiguration. `update` replaces one program's spec
//! (restarting it only when what it runs changed), `apply` brings the
//! whole supervisor to a new list (as `supervisorctl update`).

use std::time::Duration;

use procwire::{Command, Signal, StopPolicy};
use procwire_supervisor::{
    Backoff, Cause, Error, ProgramSpec, RestartPolicy, RestartSpec, State, Supervisor, Trigger, Update,
};
use procwire_tests::{guard, is_dead, until_dead};

#[path = "supervise_common.rs"]
mod common;

use common::*;

fn sleeper(name: &str, secs: u32) -> ProgramSpec {
    let mut sleep = Command::new("sleep");
    sleep.arg(secs.to_string());
    ProgramSpec::new(name, sleep)
}

async fn pid(sup: &Supervisor, name: &str) -> u32 {
    let status = sup.status(name).await.unwrap();
    assert_eq!(status.state, State::Running, "{status:?}");
    status.pid.unwrap()
}

/// Adds one program, changes another's command and a third's backoff,
/// removes a fourth: the new one starts, the changed command restarts
/// (new pid, the old process gone), the backoff change and the untouched
/// keep their pids, the gone one is stopped and removed.
#[tokio::test]
async fn apply_adds_removes_restarts_and_keeps_the_untouched() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let backoff = |ms_| {
        let mut restart = RestartSpec::new();
        restart.backoff(Backoff::fixed(ms(ms_)));
        restart
    };
    let mut d = sleeper("d", 1000);
    d.restart(backoff(100));
    sup.add_all([sleeper("a", 1000), sleeper("b", 1000), sleeper("c", 1000), d]).await.unwrap();
    let (a, b, c, d) =
        (pid(&sup, "a").await, pid(&sup, "b").await, pid(&sup, "c").await, pid(&sup, "d").await);

    let mut d2 = sleeper("d", 1000);
    d2.restart(backoff(5000));
    let report = sup.apply([sleeper("a", 1000), sleeper("c", 2000), d2, sleeper("e", 1000)]).await.unwrap();

    assert_eq!(report.added.len(), 1);
    assert_eq!(&*report.added[0].name, "e");
    assert_eq!(report.removed.len(), 1);
    assert_eq!(&*report.removed[0].0, "b");
    assert!(report.removed[0].1.is_some(), "b was running: its stop has an outcome");
    assert_eq!(report.restarted.len(), 1);
    assert_eq!(&*report.restarted[0].0, "c");
    let c2 = report.restarted[0].1.as_ref().unwrap().pid.unwrap();
    let kept: Vec<&str> = report.kept.iter().map(|n| &**n).collect();
    assert_eq!(kept, ["a", "d"]);

    assert_eq!(pid(&sup, "a").await, a, "untouched: same incarnation");
    assert_eq!(pid(&sup, "d").await, d, "a backoff change restarts nothing");
    assert_ne!(c2, c);
    assert_eq!(pid(&sup, "c").await, c2);
    until_dead(c, "c's old incarnation").await;
    assert!(is_dead(b), "b was stopped");
    assert!(matches!(sup.status("b").await, Err(Error::UnknownProgram(_))));
    pid(&sup, "e").await;
    let removed = next(&mut events, "b", |e| e.to == State::Removed).await;
    assert!(matches!(removed.cause, Cause::Stopped(_)), "{removed:?}");

    // d's new backoff is in force: killed, it waits 5 s, not 100 ms.
    sup.signal("d", Signal::KILL).await.unwrap();
    let backing = next(&mut events, "d", |e| e.to == State::Backoff).await;
    assert!(matches!(backing.cause, Cause::Exited { .. }), "{backing:?}");
    assert_eq!(sup.status("d").await.unwrap().next_start_in, Some(Duration::from_secs(5)));
    sup.shutdown().await.unwrap();
}

/// A list with a cycle, an unknown dependency or a name twice changes
/// nothing: every program keeps its pid, none is added or removed, and
/// no event is sent.
#[tokio::test]
async fn apply_refuses_a_bad_list_before_touching_anything() {
    let (sup, _task) = Supervisor::new();
    sup.add_all([sleeper("a", 1000), sleeper("b", 1000)]).await.unwrap();
    let (a, b) = (pid(&sup, "a").await, pid(&sup, "b").await);
    let mut events = sup.events().await.unwrap();

    let mut x = sleeper("x", 1000);
    x.after(["y"]);
    let mut y = sleeper("y", 1000);
    y.after(["x"]);
    // `a` changes command, `b` is gone: neither may happen.
    let err = sup.apply([sleeper("a", 2000), x, y]).await.unwrap_err();
    assert!(matches!(&err, Error::Cycle(c) if c.contains(&"x".to_string())), "{err}");

    let mut z = sleeper("z", 1000);
    z.after(["nowhere"]);
    let err = sup.apply([sleeper("a", 2000), z]).await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownDependency { program, dependency } if program == "z" && dependency == "nowhere")
    );

    let err = sup.apply([sleeper("a", 2000), sleeper("a", 3000)]).await.unwrap_err();
    assert!(matches!(&err, Error::Duplicate(n) if n == "a"), "{err}");

    assert_eq!((pid(&sup, "a").await, pid(&sup, "b").await), (a, b));
    let names: Vec<String> = sup.statuses().await.unwrap().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["a", "b"]);
    // The next event is the marker's: nothing came before it.
    sup.add(sleeper("marker", 1000)).await.unwrap();
    let first = events.recv().await.unwrap();
    assert_eq!(&*first.program, "marker", "{first:?}");
    sup.shutdown().await.unwrap();
}

/// Removed programs stop dependents first: `web` (after `db`) is gone
/// before `db`'s stop begins.
#[tokio::test]
async fn apply_removes_dependents_first() {
    let (sup, _task) = Supervisor::new();
    let mut web = sleeper("web", 1000);
    web.after(["db"]);
    sup.add_all([sleeper("db", 1000), web, sleeper("other", 1000)]).await.unwrap();
    let mut events = sup.events().await.unwrap();
    let report = sup.apply([sleeper("other", 1000)]).await.unwrap();
    let removed: Vec<&str> = report.removed.iter().map(|(n, _)| &**n).collect();
    assert_eq!(removed, ["web", "db"]);
    let mut order = Vec::new();
    while order.len() < 4 {
        let e = events.recv().await.unwrap();
        if matches!(e.to, State::Stopping | State::Removed) {
            order.push(format!("{} {:?}", e.program, e.to));
        }
    }
    assert_eq!(order, ["web Stopping", "web Removed", "db Stopping", "db Removed"]);
    sup.shutdown().await.unwrap();
}

/// A changed command restarts the running incarnation, stopped with its
/// *old* stop policy (here USR1; the new spec's is the default TERM).
#[tokio::test]
async fn update_restarts_a_changed_command_with_the_old_stop_policy() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut old = sleeper("p", 1000);
    old.stop(StopPolicy::new().with_signal(Signal::USR1).with_grace(Duration::from_secs(30)));
    let first = sup.add(old).await.unwrap().pid.unwrap();
    pid(&sup, "p").await;

    let new = sleeper("p", 2000);
    let update = sup.update(new).await.unwrap();
    assert!(update.restarted(), "{update:?}");
    let second = update.status().pid.unwrap();
    assert_ne!(second, first);
    let restarted = next(&mut events, "p", |e| e.from == State::Stopping).await;
    assert!(matches!(restarted.cause, Cause::Start(Trigger::Restart)), "{restarted:?}");
    let last = update.status().last_exit.expect("the old incarnation's exit");
    assert_eq!(last.signal(), Some(Signal::USR1.as_raw()), "the old policy's USR1 stopped it: {last:?}");
    assert_eq!(sup.status("p").await.unwrap().incarnation, 2);
    until_dead(first, "the old incarnation").await;
    // The new spec's stop policy (the default TERM) stops the new one.
    let outcome = sup.stop("p").await.unwrap().unwrap();
    assert_eq!(outcome.status.and_then(|s| s.signal()), Some(Signal::TERM.as_raw()));
    sup.shutdown().await.unwrap();
}

/// A policy change applies at once without a restart: a program updated
/// from `Always` to `Never` keeps its pid, then stays down when killed.
#[tokio::test]
async fn update_applies_a_policy_change_in_place() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let first = sup.add(sleeper("p", 1000)).await.unwrap().pid.unwrap();
    let mut never = sleeper("p", 1000);
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    never.restart(restart);
    let update = sup.update(never).await.unwrap();
    assert!(matches!(update, Update::Kept(_)), "{update:?}");
    assert_eq!(update.status().pid, Some(first));
    assert_eq!(update.status().incarnation, 1);
    sup.signal("p", Signal::KILL).await.unwrap();
    let ended = next(&mut events, "p", |e| e.from == State::Running).await;
    assert_eq!(ended.to, State::Exited, "{ended:?}");
    sup.shutdown().await.unwrap();
}

/// A program not running gets the new spec for its next start, and is
/// not started by the update.
#[tokio::test]
async fn update_of_a_stopped_program_starts_nothing() {
    let (sup, _task) = Supervisor::new();
    let mut spec = sleeper("p", 1000);
    spec.autostart(false);
    sup.add(spec).await.unwrap();
    let update = sup.update(sleeper("p", 2000)).await.unwrap();
    assert!(matches!(update, Update::Kept(ref s) if s.state == State::Stopped), "{update:?}");
    let pid = sup.start("p").await.unwrap().pid.unwrap();
    // The spawn returns once the child's exec has begun: the kernel sets
    // its arguments a moment later (empty until then).
    let cmdline = guard(10, "the arguments", async {
        loop {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
            if !cmdline.is_empty() {
                return cmdline;
            }
            tokio::time::sleep(ms(1)).await;
        }
    })
    .await;
    assert_eq!(cmdline, b"sleep\x002000\x00");
    sup.shutdown().await.unwrap();
}

/// An update checked like an add: an unknown program, a dependency that
/// does not exist, a cycle; each refused with nothing changed.
#[tokio::test]
async fn update_refuses_what_add_would_refuse() {
    let (sup, _task) = Supervisor::new();
    let mut b = sleeper("b", 1000);
    b.after(["a"]);
    sup.add_all([sleeper("a", 1000), b]).await.unwrap();
    let a = pid(&sup, "a").await;
    assert!(matches!(sup.update(sleeper("zz", 1)).await, Err(Error::UnknownProgram(n)) if n == "zz"));
    let mut a2 = sleeper("a", 2000);
    a2.after(["b"]);
    assert!(matches!(sup.update(a2).await, Err(Error::Cycle(_))));
    let mut a3 = sleeper("a", 2000);
    a3.after(["a"]);
    assert!(matches!(sup.update(a3).await, Err(Error::Cycle(_))));
    let mut a4 = sleeper("a", 2000);
    a4.after(["nowhere"]);
    assert!(matches!(sup.update(a4).await, Err(Error::UnknownDependency { .. })));
    assert_eq!(pid(&sup, "a").await, a);
    sup.shutdown().await.unwrap();
}

/// A restart by update takes the programs that require it along, as
/// `restart` does.
#[tokio::test]
async fn update_restarts_the_programs_that_require_it() {
    let (sup, _task) = Supervisor::new();
    let mut web = sleeper("web", 1000);
    web.after(["db"]).requires(true);
    sup.add_all([sleeper("db", 1000), web]).await.unwrap();
    let web_pid = pid(&sup, "web").await;
    assert!(sup.update(sleeper("db", 2000)).await.unwrap().restarted());
    until_dead(web_pid, "web's old incarnation").await;
    guard(20, "web running again", async {
        let mut watch = sup.watch("web").await.unwrap();
        watch.wait_for(|s| s.state == State::Running && s.pid != Some(web_pid)).await.unwrap();
    })
    .await;
    sup.shutdown().await.unwrap();
}

/// An `apply` whose future is dropped at its first await (a zero
/// timeout) is carried out all the same: nothing is left half done.
#[tokio::test]
async fn an_apply_dropped_at_once_is_carried_out_all_the_same() {
    let (sup, _task) = Supervisor::new();
    let mut web = sleeper("web", 1000);
    web.after(["db"]);
    sup.add_all([sleeper("db", 1000), web, sleeper("kept", 1000)]).await.unwrap();
    let kept = pid(&sup, "kept").await;
    let dropped =
        tokio::time::timeout(Duration::ZERO, sup.apply([sleeper("kept", 1000), sleeper("new", 1000)]));
    assert!(dropped.await.is_err(), "a zero timeout ends it at its first await");
    guard(20, "the apply carried out", async {
        let mut events = sup.events().await.unwrap();
        loop {
            let names: Vec<String> =
                sup.statuses().await.unwrap().iter().map(|s| s.name.to_string()).collect();
            if names == ["kept", "new"] {
                break;
            }
            let _ = events.recv().await;
        }
    })
    .await;
    assert_eq!(pid(&sup, "kept").await, kept);
    pid(&sup, "new").await;
    sup.shutdown().await.unwrap();
}
