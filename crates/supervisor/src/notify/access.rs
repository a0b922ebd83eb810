//! Who may notify for a program, and which program a sender is.
//!
//! One socket serves every program, and anyone on the machine can send to
//! it: its name is listed in `/proc/net/unix`. So nothing a datagram says
//! places it; only what the kernel says of its sender does. The kernel
//! gives the sender's pid with the datagram (`SCM_CREDENTIALS`; only root
//! can claim another's), and [`Sender::lookup`] reads the rest from
//! `/proc` at once: the sender's start time (which tells it from any later
//! holder of its pid), its process group, session and cgroup, and its
//! chain of parents, each link read twice to be sure it held throughout.
//! Then [`attribute`] and [`accepts`], pure functions of those facts,
//! place it and judge it.

use std::path::Path;

/// Which processes a program accepts sd_notify messages from (systemd's
/// `NotifyAccess=`). A process outside the program (another user's, or an
/// unrelated one of the same user) is never believed, whatever the
/// setting.
///
/// - [`Main`](Self::Main) (the default, systemd's `NotifyAccess=main`):
///   only the program's main process: the one the supervisor spawned, or
///   the one an accepted `MAINPID=` names (held by a pidfd while it is
///   believed; when it exits, the spawned process is the main one again).
/// - [`Group`](Self::Group): also any process in the process group or the
///   session the spawned process leads (`process_group(0)`, `setsid`, a
///   PTY): a shell script's `systemd-notify --ready`, say. A process that
///   leaves them (`setsid`, `setpgid`) is no longer believed.
/// - [`All`](Self::All) (systemd's `NotifyAccess=all`): any process of the
///   program: those of `Group`, every descendant of the spawned process
///   or of the main one (however often it forked), and every process in
///   the incarnation's cgroup ([`ProgramSpec::cgroup`](crate::ProgramSpec::cgroup)).
///
/// A sender that has exited by the time its datagram is read can only be
/// placed as the spawned process (whose pid the supervisor holds): use
/// `sd_notify_barrier` or send from a process that stays. What each check
/// rests on is written down in `docs/architecture.md` ("Who may speak for
/// a program").
///
/// ```
/// use procwire_supervisor::NotifyAccess;
///
/// assert_eq!(NotifyAccess::default(), NotifyAccess::Main);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NotifyAccess {
    /// Only the main process.
    #[default]
    Main,
    /// The main process and every process in the group or session the
    /// program leads.
    Group,
    /// Every process of the program: its group or session, its
    /// descendants, its cgroup.
    All,
}

/// A process as the kernel tells it apart: its pid and its start time
/// (field 22 of `/proc/PID/stat`, in clock ticks since boot). No two
/// processes share both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ident {
    pub(crate) pid: u32,
    /// `None` for the spawned process: an unreaped child of the
    /// supervisor, its pid names nobody else.
    pub(crate) start: Option<u64>,
}

/// The sender of a datagram, with what the kernel says of it (`None` if it
/// had exited, or could not be read consistently, by then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sender {
    pub(crate) pid: u32,
    pub(crate) facts: Option<Facts>,
}

/// What `/proc` says of a living process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) start: u64,
    pub(crate) pgid: u32,
    pub(crate) sid: u32,
    /// Its cgroup v2 path (`/proc/PID/cgroup`'s `0::` line), as the
    /// kernel writes it, relative to the cgroup v2 mount.
    pub(crate) cgroup: Option<String>,
    /// Its parent, the parent's parent ..., up to (not including) pid 1,
    /// at most [`MAX_ANCESTORS`].
    pub(crate) ancestors: Vec<Ident>,
}

/// How far up a sender's parents are followed.
const MAX_ANCESTORS: usize = 64;

/// Fields 4 to 6 and 22 of `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ppid: u32,
    pgid: u32,
    sid: u32,
    start: u64,
}

/// Reads `/proc/PID/stat` (after the last `)`: the name may hold anything).
fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let after = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[after + 1..]).ok()?;
    // Field 3 (the state) is the first after the name.
    let mut fields = rest.split_ascii_whitespace();
    let mut field = |n: usize| fields.nth(n)?.parse::<u64>().ok();
    let ppid = field(1)? as u32;
    let pgid = field(0)? as u32;
    let sid = field(0)? as u32;
    let start = field(15)?;
    Some(Stat { ppid, pgid, sid, start })
}

/// The `0::` line of `/proc/PID/cgroup`, without its leading `/`.
fn cgroup_of(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("0::")).map(|p| p.trim_start_matches('/').to_owned())
}

impl Sender {
    /// The sender `pid` and its facts, read from `/proc` and read again:
    /// the facts are returned only if the sender, and each parent on its
    /// chain, is still the process first read (same start time, same
    /// parent), so no link can belong to a process that reused a pid
    /// meanwhile. A handful of small `/proc` reads; nothing blocks.
    pub(crate) fn lookup(pid: u32) -> Sender {
        Sender { pid, facts: Self::facts(pid) }
    }

    fn facts(pid: u32) -> Option<Facts> {
        if pid == 0 {
            return None;
        }
        let first = stat(pid)?;
        let cgroup = cgroup_of(pid);
        let mut chain: Vec<(u32, Stat)> = Vec::new();
        let mut parent = first.ppid;
        while parent > 1 && chain.len() < MAX_ANCESTORS {
            let s = stat(parent)?;
            chain.push((parent, s));
            parent = s.ppid;
        }
        // Read again, child first: each link still the same process with
        // the same parent means that parent lived from the first read to
        // now, so what was read of it was its own.
        if stat(pid)? != first {
            return None;
        }
        for (pid, s) in &chain {
            if stat(*pid)? != *s {
                return None;
            }
        }
        Some(Facts {
            start: first.start,
            pgid: first.pgid,
            sid: first.sid,
            cgroup,
            ancestors: chain.iter().map(|(pid, s)| Ident { pid: *pid, start: Some(s.start) }).collect(),
        })
    }

    /// Whether the sender is the process `ident` names.
    fn is(&self, ident: Ident) -> bool {
        self.pid == ident.pid
            && match ident.start {
                None => true,
                Some(start) => self.facts.as_ref().is_some_and(|f| f.start == start),
            }
    }
}

/// What the supervisor knows of one running program, to place a sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim<K> {
    /// How the supervisor names the program (its name, an index ...).
    pub(crate) key: K,
    pub(crate) access: NotifyAccess,
    /// The process spawned for the live incarnation (unreaped).
    pub(crate) spawned: u32,
    /// The process an accepted `MAINPID=` named, if any.
    pub(crate) main: Option<Ident>,
    /// The incarnation's own cgroup, relative to the cgroup v2 mount.
    pub(crate) cgroup: Option<String>,
}

impl<K> Claim<K> {
    /// The process whose notifications always count.
    fn main(&self) -> Ident {
        self.main.unwrap_or(Ident { pid: self.spawned, start: None })
    }
}

/// How a sender belongs to a program, from the closest tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tie {
    /// It is the main process.
    Main,
    /// It is the spawned process (when `MAINPID=` named another), or in
    /// the process group or the session the spawned process leads: a group or session id is the pid of the process that made
    /// it, and no pid is given out while a group or session still bears
    /// it, so while the spawned process is unreaped nobody else can have
    /// made a group or session with its pid.
    Member,
    /// It descends from the spawned process or the main one, or lives in
    /// the incarnation's cgroup (which only root, or whoever was delegated
    /// the cgroup, can move a process into).
    Descendant,
}

/// How `sender` belongs to the program of `claim`, if it does.
pub(crate) fn tie<K>(sender: &Sender, claim: &Claim<K>) -> Option<Tie> {
    if sender.is(claim.main()) {
        return Some(Tie::Main);
    }
    if sender.pid == claim.spawned {
        // The spawned process once `MAINPID=` named another.
        return Some(Tie::Member);
    }
    let facts = sender.facts.as_ref()?;
    if facts.pgid == claim.spawned || facts.sid == claim.spawned {
        return Some(Tie::Member);
    }
    let main = claim.main();
    let descends = facts.ancestors.iter().any(|a| {
        a.pid == claim.spawned || (a.pid == main.pid && (main.start.is_none() || a.start == main.start))
    });
    let in_cgroup = match (&facts.cgroup, &claim.cgroup) {
        (Some(theirs), Some(ours)) => Path::new(theirs).starts_with(ours),
        _ => false,
    };
    (descends || in_cgroup).then_some(Tie::Descendant)
}

/// Whether a program with `access` believes a process tied to it by `tie`.
pub(crate) fn accepts(access: NotifyAccess, tie: Tie) -> bool {
    match access {
        NotifyAccess::Main => tie == Tie::Main,
        NotifyAccess::Group => tie <= Tie::Member,
        NotifyAccess::All => true,
    }
}

/// Which program a datagram belongs to, and whether it believes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attribution<K> {
    /// The program, which accepts the sender.
    Accepted(K),
    /// The program the sender belongs to refuses it: its access is
    /// narrower than the tie.
    Refused(K),
    /// The sender belongs to no running program: a stranger, or a process
    /// that exited before it could be placed.
    Unknown,
    /// Two programs claim the sender by the same tie (a process that two
    /// could call theirs): believing either could be wrong.
    Ambiguous,
}

/// Places `sender` among the running programs by its closest tie (the
/// main process first, then a group or session member, then a
/// descendant or cgroup member), and asks that program's access.
pub(crate) fn attribute<K>(sender: &Sender, claims: impl IntoIterator<Item = Claim<K>>) -> Attribution<K> {
    let mut best: Option<(Tie, Claim<K>)> = None;
    let mut ambiguous = false;
    for claim in claims {
        let Some(tie) = tie(sender, &claim) else { continue };
        match &best {
            Some((t, _)) if *t < tie => {}
            Some((t, _)) if *t == tie => ambiguous = true,
            _ => {
                ambiguous = false;
                best = Some((tie, claim));
            }
        }
    }
    match best {
        None => Attribution::Unknown,
        Some(_) if ambiguous => Attribution::Ambiguous,
        Some((tie, c)) if accepts(c.access, tie) => Attribution::Accepted(c.key),
        Some((_, c)) => Attribution::Refused(c.key),
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
