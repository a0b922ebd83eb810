//! The stop ladder (`Child::stop`, `StopLadder`): the first signal, the
//! grace, the final signal only when needed, and in group scope no member
//! of the group left alive, including those that outlived the leader.
//!
//! Children that must resist SIGTERM are `pw-child` with `trap:15`: the
//! signal is blocked before the child says it is ready, so there is no
//! race with the stop. Timing asserts are generous guards.

use std::future::poll_fn;
use std::time::{Duration, Instant};

use procwire::{Child, Command, Error, Signal, StopLadder, StopPolicy, StopScope};
use procwire_tests::{group_members, guard, is_dead, pw_child, serial, zombie_children};
use tokio::io::{AsyncBufReadExt, BufReader};

#[test]
fn a_child_ignoring_term_gets_the_final_signal_after_the_grace() {
    serial(async {
        let mut child =
            spawn(Command::new(pw_child!()).args(["trap:15", "write:1:ready\\n", "sleep-ms:100000"]));
        let mut lines = lines(&mut child);
        assert_eq!(next_line(&mut lines).await, "ready");
        let grace = Duration::from_millis(300);
        let started = Instant::now();
        let stopped = guard(10, "stop", child.stop(&StopPolicy::new().with_grace(grace))).await.unwrap();
        let elapsed = started.elapsed();
        println!("final signal after {elapsed:?} (grace {grace:?})");
        assert_eq!(stopped.status.signal(), Some(9), "{:?}", stopped.status);
        assert!(stopped.final_signal_sent);
        assert!(elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(child.id(), None, "reaped");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

/// Driven by hand, as a hand-written future would: `start` sends the
/// first signal, `poll` does the rest.
#[test]
fn a_child_exiting_100_ms_after_term_gets_no_final_signal() {
    serial(async {
        let mut child = spawn(Command::new(pw_child!()).args([
            "trap:15",
            "write:1:ready\\n",
            "wait-signal",
            "sleep-ms:100",
            "exit:7",
        ]));
        let mut lines = lines(&mut child);
        assert_eq!(next_line(&mut lines).await, "ready");
        let mut ladder = StopLadder::new(StopPolicy::new().with_grace(Duration::from_secs(1)));
        let started = Instant::now();
        ladder.start(&child);
        let stopped = guard(10, "ladder", poll_fn(|cx| ladder.poll(&mut child, cx))).await.unwrap();
        let elapsed = started.elapsed();
        println!("exited {elapsed:?} after SIGTERM");
        assert_eq!(stopped.status.code(), Some(7), "{:?}", stopped.status);
        assert!(!stopped.final_signal_sent);
        assert!(elapsed >= Duration::from_millis(100) && elapsed < Duration::from_secs(1), "{elapsed:?}");
        // Polling again gives the same result.
        assert_eq!(poll_fn(|cx| ladder.poll(&mut child, cx)).await.unwrap(), stopped);
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

#[test]
fn a_zero_grace_sends_only_the_final_signal() {
    serial(async {
        let mut child = spawn(Command::new("sleep").arg("100"));
        let stopped =
            guard(10, "stop", child.stop(&StopPolicy::new().with_grace(Duration::ZERO))).await.unwrap();
        assert_eq!((stopped.status.signal(), stopped.final_signal_sent), (Some(9), true));
    });
}

#[test]
fn a_chosen_signal_and_final_signal_are_used() {
    serial(async {
        let mut child = spawn(Command::new("sleep").arg("100"));
        let policy = StopPolicy::new().with_signal(Signal::INT);
        let stopped = guard(10, "stop", child.stop(&policy)).await.unwrap();
        assert_eq!((stopped.status.signal(), stopped.final_signal_sent), (Some(2), false));

        let mut child =
            spawn(Command::new(pw_child!()).args(["trap:15", "write:1:ready\\n", "sleep-ms:100000"]));
        let mut lines = lines(&mut child);
        assert_eq!(next_line(&mut lines).await, "ready");
        let policy = StopPolicy::new().with_grace(Duration::from_millis(50)).with_final_signal(Signal::USR1);
        let stopped = guard(10, "stop", child.stop(&policy)).await.unwrap();
        assert_eq!((stopped.status.signal(), stopped.final_signal_sent), (Some(10), true));
    });
}

#[test]
fn a_child_that_exited_already_is_not_signalled() {
    serial(async {
        let mut child = spawn(Command::new("true").process_group(0));
        guard(10, "wait", child.wait()).await.unwrap();
        for scope in [StopScope::Process, StopScope::Group] {
            let stopped = child.stop(&StopPolicy::new().with_scope(scope)).await.unwrap();
            assert_eq!((stopped.status.code(), stopped.final_signal_sent), (Some(0), false));
        }
    });
}

#[test]
fn group_scope_needs_a_group_leader() {
    serial(async {
        let mut child = spawn(Command::new("sleep").arg("100").kill_on_drop(true));
        let err = child.stop(&StopPolicy::new().with_scope(StopScope::Group)).await.unwrap_err();
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert!(matches!(inner, Some(Error::NotGroupLeader)), "{err:?}");
        assert_eq!(child.try_wait().unwrap(), None, "not signalled");
        assert_eq!(guard(10, "kill", child.kill()).await.unwrap().signal(), Some(9));
    });
}

#[test]
fn group_scope_leaves_no_member_of_the_group_alive() {
    serial(async {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 100 & echo $!; sleep 100 & echo $!; wait"]).process_group(0);
        let mut child = spawn(&mut cmd);
        let pgid = child.id().unwrap();
        let mut lines = lines(&mut child);
        let sleeps = [next_pid(&mut lines).await, next_pid(&mut lines).await];
        assert_eq!(group_members(pgid).len(), 3, "the shell and its two sleeps");
        let policy = StopPolicy::new().with_grace(Duration::from_secs(5)).with_scope(StopScope::Group);
        let started = Instant::now();
        let stopped = guard(10, "group stop", child.stop(&policy)).await.unwrap();
        println!("group stopped in {:?}", started.elapsed());
        assert_eq!((stopped.status.signal(), stopped.final_signal_sent), (Some(15), false));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        for pid in sleeps {
            assert!(is_dead(pid), "sleep {pid} outlived the stop");
        }
        assert_eq!(group_members(pgid), Vec::<u32>::new());
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

/// The leader exits at once; its background `sleep` is the group. The
/// stop reaches it through the unreaped leader's group id, and returns
/// only once it is dead.
#[test]
fn group_scope_stops_a_member_that_outlived_the_leader() {
    serial(async {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 100 & echo $!"]).process_group(0);
        let mut child = spawn(&mut cmd);
        let pgid = child.id().unwrap();
        let mut lines = lines(&mut child);
        let sleep = next_pid(&mut lines).await;
        let exited = guard(10, "the shell's exit", poll_fn(|cx| child.poll_exited(cx))).await.unwrap();
        assert_eq!(exited.code(), Some(0));
        assert!(!is_dead(sleep), "the sleep outlived its shell");
        let policy = StopPolicy::new().with_scope(StopScope::Group);
        let stopped = guard(10, "group stop", child.stop(&policy)).await.unwrap();
        assert!(is_dead(sleep), "the background sleep is gone when stop() returns");
        assert_eq!((stopped.status.code(), stopped.final_signal_sent), (Some(0), false));
        assert_eq!(group_members(pgid), Vec::<u32>::new());
        assert_eq!(child.id(), None, "the leader is reaped");
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

/// Issue 21, item 2's sibling: `signal_group`, and with it a stop in
/// group scope, decided from the spawn's settings whether the child led a
/// group, so a child that made itself a leader (`setsid sh -c ...`) got
/// `NotGroupLeader`. The group is now read from the kernel at the signal.
#[test]
fn group_scope_stops_the_group_of_a_child_that_made_itself_a_leader() {
    serial(async {
        let mut cmd = Command::new("setsid");
        cmd.args(["sh", "-c", "sleep 300 & echo $!; sleep 300 & echo $!; wait"]).kill_on_drop(true);
        let mut child = spawn(&mut cmd);
        let pgid = child.id().unwrap();
        let mut lines = lines(&mut child);
        let sleeps = procwire_tests::Strays(vec![next_pid(&mut lines).await, next_pid(&mut lines).await]);
        assert_eq!(group_members(pgid).len(), 3, "the shell and its two sleeps");
        let policy = StopPolicy::new().with_grace(Duration::from_secs(5)).with_scope(StopScope::Group);
        let stopped = guard(10, "group stop", child.stop(&policy)).await.unwrap();
        assert_eq!((stopped.status.signal(), stopped.final_signal_sent), (Some(15), false));
        for &pid in &sleeps.0 {
            assert!(is_dead(pid), "sleep {pid} outlived the stop");
        }
        assert_eq!(group_members(pgid), Vec::<u32>::new());
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

/// A member that ignores SIGTERM and outlived the leader gets the final
/// signal when the grace runs out.
#[test]
fn group_scope_kills_a_surviving_member_after_the_grace() {
    serial(async {
        let mut cmd = Command::new("sh");
        // $0 is pw-child: it traps SIGTERM, then prints its pid.
        cmd.args(["-c", "\"$0\" trap:15 pid:1 sleep-ms:100000 & exit 0", pw_child!()]).process_group(0);
        let mut child = spawn(&mut cmd);
        let pgid = child.id().unwrap();
        let mut lines = lines(&mut child);
        let member = next_pid(&mut lines).await;
        guard(10, "the shell's exit", poll_fn(|cx| child.poll_exited(cx))).await.unwrap();
        let grace = Duration::from_millis(300);
        let policy = StopPolicy::new().with_grace(grace).with_scope(StopScope::Group);
        let started = Instant::now();
        let stopped = guard(10, "group stop", child.stop(&policy)).await.unwrap();
        let elapsed = started.elapsed();
        println!("surviving member killed, stop done after {elapsed:?} (grace {grace:?})");
        assert!(is_dead(member), "the member is gone when stop() returns");
        assert_eq!((stopped.status.code(), stopped.final_signal_sent), (Some(0), true));
        assert!(elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(group_members(pgid), Vec::<u32>::new());
        assert_eq!(zombie_children(), Vec::<u32>::new());
    });
}

/// Dropping `stop()` mid-ladder: the child keeps the first signal and
/// gets no final one; the `Child` is still there to wait for or stop again.
#[test]
fn a_dropped_stop_leaves_the_child_to_its_owner() {
    serial(async {
        let mut child =
            spawn(Command::new(pw_child!()).args(["trap:15", "write:1:ready\\n", "sleep-ms:100000"]));
        let mut lines = lines(&mut child);
        assert_eq!(next_line(&mut lines).await, "ready");
        let policy = StopPolicy::new().with_grace(Duration::from_millis(100));
        let dropped = tokio::time::timeout(Duration::from_millis(20), child.stop(&policy)).await;
        assert!(dropped.is_err(), "the ladder was still in its grace");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(child.try_wait().unwrap(), None, "no final signal after the drop");
        let stopped = guard(10, "stop again", child.stop(&policy.with_grace(Duration::ZERO))).await.unwrap();
        assert_eq!(stopped.status.signal(), Some(9));
    });
}

// ---- helpers ----

fn spawn(cmd: &mut Command) -> Child {
    cmd.spawn().expect("spawn")
}

fn lines(child: &mut Child) -> tokio::io::Lines<BufReader<procwire::ChildReader>> {
    BufReader::new(child.take_reader(1).expect("stdout")).lines()
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<procwire::ChildReader>>) -> String {
    guard(10, "a line from the child", lines.next_line()).await.unwrap().expect("a line")
}

async fn next_pid(lines: &mut tokio::io::Lines<BufReader<procwire::ChildReader>>) -> u32 {
    let line = next_line(lines).await;
    line.trim().parse().unwrap_or_else(|_| panic!("a pid, got {line:?}"))
}
