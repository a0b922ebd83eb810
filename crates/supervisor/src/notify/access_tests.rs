use super::*;
use NotifyAccess::{All, Group, Main};

/// A living sender with `pgid`, `sid`, its parents and its cgroup.
fn sender(pid: u32, pgid: u32, sid: u32, parents: &[(u32, u64)], cgroup: Option<&str>) -> Sender {
    Sender {
        pid,
        facts: Some(Facts {
            start: 1000 + u64::from(pid),
            pgid,
            sid,
            cgroup: cgroup.map(str::to_owned),
            ancestors: parents.iter().map(|&(pid, start)| Ident { pid, start: Some(start) }).collect(),
        }),
    }
}

/// A stranger: its own group and session, parented by init's child 5.
fn stranger(pid: u32) -> Sender {
    sender(pid, pid, pid, &[(5, 5)], Some("user.slice"))
}

fn claim(key: &'static str, access: NotifyAccess, spawned: u32) -> Claim<&'static str> {
    Claim { key, access, spawned, main: None, cgroup: None }
}

#[test]
fn the_spawned_process_is_believed_by_its_pid_even_once_it_exited() {
    let gone = Sender { pid: 100, facts: None };
    for access in [Main, Group, All] {
        assert_eq!(tie(&gone, &claim("a", access, 100)), Some(Tie::Main));
        assert_eq!(attribute(&gone, [claim("a", access, 100)]), Attribution::Accepted("a"));
    }
}

#[test]
fn a_stranger_is_nobodys_under_any_access() {
    // Not the main process, not in its group, session or cgroup, not a
    // descendant: every access mode ignores it, and no event is told.
    for access in [Main, Group, All] {
        let mut c = claim("a", access, 100);
        c.cgroup = Some("procwire/a.1".into());
        assert_eq!(tie(&stranger(4242), &c), None);
        assert_eq!(attribute(&stranger(4242), [c]), Attribution::Unknown);
    }
    // Several `All` programs, none of which it belongs to.
    assert_eq!(attribute(&stranger(7), [claim("a", All, 100), claim("b", All, 200)]), Attribution::Unknown);
}

#[test]
fn a_sender_that_could_not_be_read_is_only_ever_the_spawned_process() {
    let gone = Sender { pid: 101, facts: None };
    assert_eq!(attribute(&gone, [claim("a", All, 100)]), Attribution::Unknown);
}

#[test]
fn group_members_and_session_members_are_tied_by_the_spawned_pid() {
    let c = claim("a", Main, 100);
    assert_eq!(tie(&sender(101, 100, 1, &[], None), &c), Some(Tie::Member), "its process group");
    assert_eq!(tie(&sender(102, 102, 100, &[], None), &c), Some(Tie::Member), "its session");
    assert_eq!(tie(&sender(103, 7, 7, &[], None), &c), None);
}

#[test]
fn descendants_and_cgroup_members_are_tied_loosest() {
    let mut c = claim("a", All, 100);
    c.cgroup = Some("procwire/a.1".into());
    // A grandchild that made a session of its own (a double-forked daemon
    // whose parent is still there).
    let grandchild = sender(300, 300, 300, &[(200, 9), (100, 1)], None);
    assert_eq!(tie(&grandchild, &c), Some(Tie::Descendant));
    // An orphan in the cgroup (reparented to init), and one in a cgroup
    // nested under it.
    assert_eq!(tie(&sender(301, 301, 301, &[], Some("procwire/a.1")), &c), Some(Tie::Descendant));
    assert_eq!(tie(&sender(302, 302, 302, &[], Some("procwire/a.1/sub")), &c), Some(Tie::Descendant));
    // A sibling cgroup whose name starts the same is not the program's.
    assert_eq!(tie(&sender(303, 303, 303, &[], Some("procwire/a.10")), &c), None);
}

#[test]
fn each_access_believes_exactly_its_ties() {
    assert!(accepts(Main, Tie::Main));
    assert!(!accepts(Main, Tie::Member));
    assert!(!accepts(Main, Tie::Descendant));
    assert!(accepts(Group, Tie::Main));
    assert!(accepts(Group, Tie::Member));
    assert!(!accepts(Group, Tie::Descendant));
    assert!(accepts(All, Tie::Main));
    assert!(accepts(All, Tie::Member));
    assert!(accepts(All, Tie::Descendant));
}

#[test]
fn a_process_of_the_program_that_its_access_does_not_believe_is_refused() {
    let child = sender(101, 1, 1, &[(100, 50)], None);
    assert_eq!(attribute(&child, [claim("a", Main, 100)]), Attribution::Refused("a"));
    assert_eq!(attribute(&child, [claim("a", Group, 100)]), Attribution::Refused("a"));
    assert_eq!(attribute(&child, [claim("a", All, 100)]), Attribution::Accepted("a"));
}

#[test]
fn mainpid_is_believed_by_pid_and_start_time_only() {
    let mut c = claim("a", Main, 100);
    c.main = Some(Ident { pid: 500, start: Some(1500) });
    // `sender` gives pid 500 the start time 1500: the process accepted.
    assert_eq!(attribute(&sender(500, 500, 500, &[], None), [c.clone()]), Attribution::Accepted("a"));
    // The same pid, another process (it exited and the pid was given out
    // again): not the main process, and no tie at all.
    let reused = Sender { pid: 500, facts: Some(Facts { start: 9999, ..stranger(500).facts.unwrap() }) };
    assert_eq!(attribute(&reused, [c.clone()]), Attribution::Unknown);
    // Gone before it could be read: cannot be told from a reuser.
    assert_eq!(attribute(&Sender { pid: 500, facts: None }, [c.clone()]), Attribution::Unknown);
    // The spawned process, no longer main, is still of the program: by
    // its pid, as a member (`Group` and `All` believe it, `Main` not).
    let spawned = Sender { pid: 100, facts: None };
    assert_eq!(attribute(&spawned, [c.clone()]), Attribution::Refused("a"));
    c.access = Group;
    assert_eq!(attribute(&spawned, [c]), Attribution::Accepted("a"));
}

#[test]
fn the_closest_tie_wins_and_a_tie_two_programs_share_is_no_ones() {
    // 101 is in "b"'s group and descends from "a".
    let s = sender(101, 200, 1, &[(100, 50)], None);
    assert_eq!(attribute(&s, [claim("a", All, 100), claim("b", Group, 200)]), Attribution::Accepted("b"));
    // Two programs whose cgroups both hold it (a cgroup nested in another).
    let mut a = claim("a", All, 100);
    a.cgroup = Some("x".into());
    let mut b = claim("b", All, 200);
    b.cgroup = Some("x/y".into());
    let s = sender(300, 300, 300, &[], Some("x/y"));
    assert_eq!(attribute(&s, [a, b]), Attribution::Ambiguous);
}

#[test]
fn lookup_reads_this_process_and_its_parents() {
    let me = Sender::lookup(std::process::id());
    let facts = me.facts.expect("this process is alive");
    assert_eq!(facts.pgid, nix::unistd::getpgrp().as_raw() as u32);
    assert_eq!(facts.sid, nix::unistd::getsid(None).unwrap().as_raw() as u32);
    let parent = std::os::unix::process::parent_id();
    if parent > 1 {
        assert_eq!(facts.ancestors[0].pid, parent);
    }
    assert!(Sender::lookup(0).facts.is_none());
    assert!(Sender::lookup(u32::MAX).facts.is_none());
}
