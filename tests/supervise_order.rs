//! Order between programs: dependencies (`after`, `add_all`, cycles,
//! shutdown in reverse), OTP strategies (`OneForAll`, `RestForOne`) and
//! the intensity limit. Real children, generous margins.

use procwire_supervisor::{
    Backoff, Cause, Error, Event, ProgramSpec, Readiness, RestartSpec, State, Strategy, Subscription,
    Supervisor, Trigger,
};
use tokio::time::Instant;

#[path = "supervise_common.rs"]
mod common;

use common::*;

fn sleeper(name: &str) -> ProgramSpec {
    spec(name, sh("exec sleep 100"), Backoff::none())
}

/// Events until `done` says so, every program's.
async fn collect(rx: &mut Subscription<Event>, mut done: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
    procwire_tests::guard(20, "events", async {
        let mut seen = Vec::new();
        while !done(&seen) {
            seen.push(rx.recv().await.unwrap());
        }
        seen
    })
    .await
}

fn position(events: &[Event], program: &str, pred: impl Fn(&Event) -> bool) -> usize {
    events
        .iter()
        .position(|e| &*e.program == program && pred(e))
        .unwrap_or_else(|| panic!("no such event of {program} in {events:#?}"))
}

#[tokio::test]
async fn web_starts_after_db_is_ready_and_stops_before_it() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    let mut db = ProgramSpec::new("db", sh("sleep 0.3; echo >&3; exec sleep 100"));
    db.ready(Readiness::NotificationFd(3));
    let mut web = sleeper("web");
    web.after(["db"]);
    // Listed first: add_all orders them.
    let t0 = Instant::now();
    let statuses = sup.add_all([web, db]).await.unwrap();
    assert_eq!(
        statuses.iter().map(|s| (&*s.name, s.state)).collect::<Vec<_>>(),
        [("web", State::Waiting), ("db", State::Starting)]
    );
    let db_ready = next(&mut events, "db", |e| e.to == State::Running).await;
    let web_spawn = next(&mut events, "web", |e| e.to == State::Starting).await;
    assert!(db_ready.at - t0 >= ms(290), "{:?}", db_ready.at - t0);
    assert!(web_spawn.at >= db_ready.at);
    assert_eq!(sup.status("web").await.unwrap().state, State::Running);
    // db cannot go while web needs it.
    assert!(matches!(sup.remove("db").await, Err(Error::Required { .. })));
    let report = sup.shutdown().await.unwrap();
    assert_eq!(report.stopped.len(), 2);
    let rest = collect(&mut events, |seen| seen.iter().filter(|e| e.to == State::Stopped).count() == 2).await;
    let web_stopped = position(&rest, "web", |e| e.to == State::Stopped);
    let db_stopping = position(&rest, "db", |e| e.to == State::Stopping);
    assert!(web_stopped < db_stopping, "web stopped before db began to stop: {rest:#?}");
}

#[tokio::test]
async fn a_cycle_or_an_unknown_name_is_refused_at_add() {
    let (sup, _task) = Supervisor::new();
    let mut a = sleeper("a");
    a.after(["c"]);
    let mut b = sleeper("b");
    b.after(["a"]);
    let mut c = sleeper("c");
    c.after(["b"]);
    match sup.add_all([a, b, c]).await {
        Err(Error::Cycle(path)) => assert_eq!(path, ["a", "c", "b", "a"]),
        other => panic!("{other:?}"),
    }
    assert!(sup.statuses().await.unwrap().is_empty(), "nothing added");
    let mut own = sleeper("own");
    own.after(["own"]);
    assert!(matches!(sup.add(own).await, Err(Error::Cycle(_))));
    let mut lost = sleeper("lost");
    lost.after(["nobody"]);
    match sup.add(lost).await {
        Err(e @ Error::UnknownDependency { .. }) => {
            assert_eq!(e.to_string(), "program \"lost\" runs after \"nobody\", which does not exist")
        }
        other => panic!("{other:?}"),
    }
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn restart_of_a_required_program_restarts_its_dependents() {
    let (sup, _task) = Supervisor::new();
    let mut events = sup.events().await.unwrap();
    sup.add(sleeper("db")).await.unwrap();
    let mut web = sleeper("web");
    web.after(["db"]).requires(true);
    let web_pid = sup.add(web).await.unwrap().pid.unwrap();
    let mut cron = sleeper("cron");
    cron.after(["db"]);
    let cron_pid = sup.add(cron).await.unwrap().pid.unwrap();
    sup.restart("db").await.unwrap();
    next(&mut events, "web", |e| e.to == State::Running && e.incarnation == 2).await;
    let web_now = sup.status("web").await.unwrap();
    assert_ne!(web_now.pid, Some(web_pid));
    assert_eq!(sup.status("cron").await.unwrap().pid, Some(cron_pid), "cron does not require db");
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_for_all_stops_the_others_in_reverse_then_starts_all_in_order() {
    let (sup, _task) = Supervisor::builder().strategy(Strategy::OneForAll).build();
    let mut events = sup.events().await.unwrap();
    sup.add(sleeper("a")).await.unwrap();
    sup.add(sleeper("b")).await.unwrap();
    let mut c = spec("c", sh("sleep 0.2; exit 1"), Backoff::none());
    c.restart({
        let mut r = RestartSpec::new();
        r.backoff(Backoff::none());
        r
    });
    sup.add(c).await.unwrap();
    let seen = collect(&mut events, |seen| {
        seen.iter().filter(|e| e.cause_trigger() == Some(Trigger::Strategy)).count() == 3
    })
    .await;
    let c_exit = position(&seen, "c", |e| matches!(e.cause, Cause::Exited { .. }));
    let b_stop = position(&seen, "b", |e| e.to == State::Stopping);
    let b_stopped = position(&seen, "b", |e| e.to == State::Stopped);
    let a_stop = position(&seen, "a", |e| e.to == State::Stopping);
    let a_stopped = position(&seen, "a", |e| e.to == State::Stopped);
    assert!(matches!(&seen[b_stop].cause, Cause::Strategy { failed } if &**failed == "c"));
    assert!(c_exit < b_stop && b_stopped < a_stop, "b is stopped before a: {seen:#?}");
    let starts: Vec<&str> =
        seen.iter().filter(|e| e.cause_trigger() == Some(Trigger::Strategy)).map(|e| &*e.program).collect();
    assert_eq!(starts, ["a", "b", "c"]);
    assert!(a_stopped < position(&seen, "a", |e| e.cause_trigger() == Some(Trigger::Strategy)));
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn rest_for_one_restarts_the_later_ones_and_keeps_the_earlier() {
    let (sup, _task) = Supervisor::builder().strategy(Strategy::RestForOne).build();
    let mut events = sup.events().await.unwrap();
    let a_pid = sup.add(sleeper("a")).await.unwrap().pid.unwrap();
    sup.add(spec("b", sh("sleep 0.2; exit 1"), Backoff::none())).await.unwrap();
    let c_pid = sup.add(sleeper("c")).await.unwrap().pid.unwrap();
    let seen = collect(&mut events, |seen| {
        seen.iter().filter(|e| e.cause_trigger() == Some(Trigger::Strategy)).count() == 2
    })
    .await;
    let starts: Vec<&str> =
        seen.iter().filter(|e| e.cause_trigger() == Some(Trigger::Strategy)).map(|e| &*e.program).collect();
    assert_eq!(starts, ["b", "c"]);
    let b_exit = position(&seen, "b", |e| matches!(e.cause, Cause::Exited { .. }));
    assert!(!seen[b_exit..].iter().any(|e| &*e.program == "a"), "a untouched: {seen:#?}");
    assert_eq!(sup.status("a").await.unwrap().pid, Some(a_pid));
    next(&mut events, "c", |e| e.to == State::Running).await;
    assert_ne!(sup.status("c").await.unwrap().pid, Some(c_pid));
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn past_the_intensity_everything_stops_and_the_task_says_why() {
    let (sup, task) = Supervisor::builder().intensity(3, std::time::Duration::from_secs(5)).unwrap().build();
    let mut events = sup.events().await.unwrap();
    let bystander = sup.add(sleeper("bystander")).await.unwrap().pid.unwrap();
    sup.add(spec("crasher", sh("exit 1"), Backoff::none())).await.unwrap();
    let result = procwire_tests::guard(20, "the task", task).await.unwrap();
    match result {
        Err(Error::Intensity { restarts, period }) => {
            assert_eq!((restarts, period), (4, std::time::Duration::from_secs(5)));
        }
        other => panic!("{other:?}"),
    }
    let mut spawns = 0;
    while let Ok(e) = events.recv().await {
        spawns += usize::from(&*e.program == "crasher" && e.to == State::Starting);
    }
    assert_eq!(spawns, 4, "the first start and 3 restarts; the 4th restart is refused");
    procwire_tests::until_dead(bystander, "the bystander").await;
    assert!(matches!(sup.status("crasher").await, Err(Error::ShutDown)));
}

/// A chain of 20,000 programs, each after the one before, listed backwards:
/// ordered and checked without recursion (no stack overflow in the
/// supervisor's task); the same chain closed into a circle is refused.
#[tokio::test]
async fn a_long_chain_is_ordered_without_recursion() {
    const N: usize = 20_000;
    let chain = |closed: bool| {
        (0..N).rev().map(move |i| {
            let mut p = sleeper(&format!("p{i}"));
            p.autostart(false);
            if i > 0 {
                p.after([format!("p{}", i - 1)]);
            } else if closed {
                p.after([format!("p{}", N - 1)]);
            }
            p
        })
    };
    let (sup, _task) = Supervisor::new();
    match sup.add_all(chain(true)).await {
        Err(Error::Cycle(path)) => assert_eq!(path.len(), N + 1),
        other => panic!("{:?}", other.map(|s| s.len())),
    }
    let statuses = sup.add_all(chain(false)).await.unwrap();
    assert_eq!(statuses.len(), N);
    assert!(statuses.iter().all(|s| s.state == State::Stopped));
    sup.shutdown().await.unwrap();
}

/// 1,000 programs in a chain, each waiting for the one before, started
/// when the first is: each start makes the next one ready at once, and
/// none of it nests (a nested start per link would overflow the task's
/// stack long before 1,000). Then shutdown stops them last first.
#[tokio::test]
async fn a_waiting_chain_of_1000_starts_without_nesting() {
    const N: usize = 1000;
    let (sup, _task) = Supervisor::builder().capacity(16 * N, 16).build();
    let mut events = sup.events().await.unwrap();
    let specs = (0..N).map(|i| {
        let mut p = sleeper(&format!("p{i}"));
        if i > 0 {
            p.after([format!("p{}", i - 1)]);
        } else {
            p.autostart(false);
        }
        p
    });
    let statuses = sup.add_all(specs).await.unwrap();
    assert!(statuses[1..].iter().all(|s| s.state == State::Waiting));
    sup.start("p0").await.unwrap();
    let last = format!("p{}", N - 1);
    next(&mut events, &last, |e| e.to == State::Running).await;
    let running = sup.statuses().await.unwrap().iter().filter(|s| s.state == State::Running).count();
    assert_eq!(running, N);
    let report = sup.shutdown().await.unwrap();
    assert_eq!(report.stopped.len(), N);
}
