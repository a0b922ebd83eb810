use super::*;
use NotifyAccess::{All, Group, Main};

fn sender(pid: u32, pgid: u32) -> Sender {
    Sender { pid, pgid: Some(pgid) }
}

fn claim(key: &'static str, access: NotifyAccess, main_pid: u32, pgid: Option<u32>) -> Claim<&'static str> {
    Claim { key, access, main_pid: Some(main_pid), pgid }
}

#[test]
fn main_believes_only_the_main_pid() {
    assert!(accepts(Main, sender(100, 100), Some(100), Some(100)));
    assert!(!accepts(Main, sender(101, 100), Some(100), Some(100)), "a group member");
    assert!(!accepts(Main, sender(100, 100), None, Some(100)), "no main pid known");
}

#[test]
fn group_believes_the_main_pid_and_group_members() {
    assert!(accepts(Group, sender(100, 100), Some(100), Some(100)));
    assert!(accepts(Group, sender(101, 100), Some(100), Some(100)));
    assert!(!accepts(Group, sender(101, 7), Some(100), Some(100)), "another group");
    assert!(!accepts(Group, Sender { pid: 101, pgid: None }, Some(100), Some(100)), "exited sender");
    assert!(!accepts(Group, Sender { pid: 101, pgid: None }, Some(100), None), "no group on either side");
    // The main pid is believed even after it left the group.
    assert!(accepts(Group, sender(100, 555), Some(100), Some(100)));
}

#[test]
fn all_believes_anyone() {
    assert!(accepts(All, sender(1, 1), Some(100), Some(100)));
    assert!(accepts(All, Sender { pid: 9, pgid: None }, None, None));
}

#[test]
fn the_main_pid_places_a_sender_first() {
    let claims =
        || [claim("a", All, 10, None), claim("b", Main, 20, Some(20)), claim("c", Group, 30, Some(30))];
    assert_eq!(attribute(sender(20, 20), claims()), Attribution::Accepted("b"));
    assert_eq!(attribute(sender(30, 30), claims()), Attribution::Accepted("c"));
    // The main pid of "b", though it moved into "c"'s group: still "b"'s.
    assert_eq!(attribute(sender(20, 30), claims()), Attribution::Accepted("b"));
}

#[test]
fn then_the_process_group() {
    let claims =
        || [claim("a", All, 10, None), claim("b", Main, 20, Some(20)), claim("c", Group, 30, Some(30))];
    assert_eq!(attribute(sender(31, 30), claims()), Attribution::Accepted("c"));
    // "b"'s helper: "b" only believes its main pid, and the All program
    // "a" does not get what "b" claims.
    assert_eq!(attribute(sender(21, 20), claims()), Attribution::Refused("b"));
}

#[test]
fn then_the_single_all_program() {
    let claims = [claim("a", All, 10, None), claim("b", Main, 20, Some(20)), claim("c", Group, 30, Some(30))];
    assert_eq!(attribute(sender(99, 99), claims), Attribution::Accepted("a"));
    let exited = Sender { pid: 99, pgid: None };
    assert_eq!(attribute(exited, [claim("a", All, 10, None)]), Attribution::Accepted("a"));
    // An All program in its own group takes its members at tier 2 too.
    assert_eq!(attribute(sender(11, 10), [claim("a", All, 10, Some(10))]), Attribution::Accepted("a"));
}

#[test]
fn nobody_claims_a_stranger() {
    let claims = [claim("b", Main, 20, Some(20)), claim("c", Group, 30, Some(30))];
    assert_eq!(attribute(sender(99, 99), claims), Attribution::Unknown);
    assert_eq!(attribute(sender(99, 99), Vec::<Claim<&str>>::new()), Attribution::Unknown);
}

#[test]
fn a_group_that_is_not_known_never_matches() {
    // Two programs in the supervisor's group report pgid None: a sender
    // with no group (exited) must not match them as "same group".
    let claims = [claim("b", Group, 20, None), claim("c", Group, 30, None)];
    assert_eq!(attribute(Sender { pid: 99, pgid: None }, claims), Attribution::Unknown);
}

#[test]
fn two_candidates_in_a_tier_are_ambiguous() {
    let two_all = [claim("a", All, 10, None), claim("d", All, 40, None)];
    assert_eq!(attribute(sender(99, 99), two_all.clone()), Attribution::Ambiguous);
    // ... but each one's own main pid is still placed.
    assert_eq!(attribute(sender(40, 40), two_all), Attribution::Accepted("d"));
    // Two programs leading the same group (a stale pgid): no one's, and
    // the All program below does not get it either.
    let shared =
        [claim("b", Group, 20, Some(20)), claim("c", Group, 30, Some(20)), claim("a", All, 10, None)];
    assert_eq!(attribute(sender(21, 20), shared), Attribution::Ambiguous);
    // A pid that two programs call their main pid.
    let dup = [claim("b", Main, 20, None), claim("c", Main, 20, None)];
    assert_eq!(attribute(sender(20, 20), dup), Attribution::Ambiguous);
}

#[test]
fn a_program_without_a_main_pid_is_placed_by_group_only() {
    let c = Claim { key: "c", access: Group, main_pid: None, pgid: Some(30) };
    assert_eq!(attribute(sender(31, 30), [c.clone()]), Attribution::Accepted("c"));
    assert_eq!(attribute(sender(31, 31), [c]), Attribution::Unknown);
}

#[test]
fn lookup_finds_our_own_group_and_nothing_for_the_dead() {
    let me = std::process::id();
    let own = Sender::lookup(me);
    assert_eq!(own.pid, me);
    assert_eq!(own.pgid, Some(nix::unistd::getpgrp().as_raw() as u32));
    // pid 0 would ask about ourselves, and a pid over i32::MAX does not
    // exist: neither has a group.
    assert_eq!(Sender::lookup(0).pgid, None);
    assert_eq!(Sender::lookup(u32::MAX).pgid, None);
}
