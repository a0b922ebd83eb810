//! Who may notify for a program, and which program a sender is.
//!
//! One socket serves every program, so the supervisor first attributes a
//! datagram to a program by its sender's pid (from `SCM_CREDENTIALS`), then
//! asks that program's [`NotifyAccess`] whether to believe it. Both are pure
//! functions of pids; the one lookup (the sender's process group) is done
//! once, by [`Sender::lookup`], before them.

// The actor wires this in; until then only the tests call it.

use nix::unistd::{getpgid, Pid};

/// Which processes a program accepts sd_notify messages from (systemd's
/// `NotifyAccess=`).
///
/// A message is believed by its sender's pid, as the kernel reports it
/// with the datagram (`SCM_CREDENTIALS`; only root can claim another
/// process's pid):
///
/// - [`Main`](Self::Main) (the default, systemd's `NotifyAccess=main`):
///   only the program's main process, the pid the supervisor spawned (or
///   the one named by an accepted `MAINPID=`).
/// - [`Group`](Self::Group): also any process in the program's process
///   group (`getpgid(sender) == the program's pgid`); for a program
///   spawned in a group of its own (`process_group(0)`) whose readiness is
///   told by a helper, such as a shell script's `systemd-notify --ready`.
///   It is procwire's stand-in for systemd's `exec` and `all`, which rely
///   on cgroups: a process that leaves the group (`setsid`, `setpgid`) is
///   no longer believed.
/// - [`All`](Self::All): any sender that no other program claims, by main
///   pid or process group. With one socket for every program, "any" can
///   only mean unattributed senders, and only when a single running
///   program asks for them.
///
/// A sender that has exited by the time the datagram is read has no
/// process group any more: only its pid can place it (systemd has the same
/// limit, which `sd_notify_barrier` exists to work around).
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
    /// The main process and every process in the program's process group.
    Group,
    /// Any process that no other program claims.
    All,
}

/// The sender of a datagram: its pid, and its process group when it was
/// still alive to be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sender {
    pub(crate) pid: u32,
    pub(crate) pgid: Option<u32>,
}

impl Sender {
    /// The sender `pid`, with its process group from
    /// [getpgid(2)](https://man7.org/linux/man-pages/man2/getpgid.2.html)
    /// (`None` if it has exited). One system call, no blocking.
    pub(crate) fn lookup(pid: u32) -> Sender {
        let pgid = i32::try_from(pid)
            .ok()
            .filter(|p| *p > 0)
            .and_then(|p| getpgid(Some(Pid::from_raw(p))).ok())
            .map(|g| g.as_raw() as u32);
        Sender { pid, pgid }
    }
}

/// What the supervisor knows of one running program, to place a sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim<K> {
    /// How the supervisor names the program (its name, an index ...).
    pub(crate) key: K,
    pub(crate) access: NotifyAccess,
    /// The main pid of the live incarnation.
    pub(crate) main_pid: Option<u32>,
    /// The process group the program leads: `Some` only when it was
    /// spawned in a group of its own (`process_group(0)`, `setsid`), never
    /// the supervisor's own group, which every other child shares.
    pub(crate) pgid: Option<u32>,
}

/// Whether a program with `access`, main pid `main_pid` and process group
/// `pgid` believes `sender`.
pub(crate) fn accepts(
    access: NotifyAccess,
    sender: Sender,
    main_pid: Option<u32>,
    pgid: Option<u32>,
) -> bool {
    let main = main_pid == Some(sender.pid);
    let member = pgid.is_some() && sender.pgid == pgid;
    match access {
        NotifyAccess::Main => main,
        NotifyAccess::Group => main || member,
        NotifyAccess::All => true,
    }
}

/// Which program a datagram belongs to, and whether it believes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attribution<K> {
    /// The program, which accepts the sender.
    Accepted(K),
    /// The program the sender belongs to (by process group) refuses it:
    /// its access is [`NotifyAccess::Main`] and the sender is not the main
    /// process.
    Refused(K),
    /// No program claims the sender, and not exactly one takes
    /// [`NotifyAccess::All`].
    Unknown,
    /// More than one program claims the sender on the same footing (two
    /// with this main pid, or two leading its process group, or two with
    /// `All`): believing either could be wrong.
    Ambiguous,
}

/// Places `sender` among the running programs, in three tiers:
///
/// 1. the program whose main pid is the sender's (every access mode
///    believes its main process);
/// 2. else the program whose process group the sender is in: accepted if
///    its access is `Group` or `All`, refused if `Main`;
/// 3. else the one program with `All`.
///
/// A tier with two candidates is [`Attribution::Ambiguous`] and the lower
/// tiers are not tried: a sender that two programs claim is no one's.
pub(crate) fn attribute<K>(sender: Sender, claims: impl IntoIterator<Item = Claim<K>>) -> Attribution<K> {
    // Per tier: the first candidate and how many there were.
    let mut tiers: [(Option<Claim<K>>, usize); 3] = [(None, 0), (None, 0), (None, 0)];
    for claim in claims {
        let tier = if claim.main_pid == Some(sender.pid) {
            0
        } else if claim.pgid.is_some() && claim.pgid == sender.pgid {
            1
        } else if claim.access == NotifyAccess::All {
            2
        } else {
            continue;
        };
        let (first, count) = &mut tiers[tier];
        *count += 1;
        first.get_or_insert(claim);
    }
    for (first, count) in tiers {
        match (first, count) {
            (None, _) => continue,
            (Some(_), 2..) => return Attribution::Ambiguous,
            (Some(c), _) if accepts(c.access, sender, c.main_pid, c.pgid) => {
                return Attribution::Accepted(c.key)
            }
            (Some(c), _) => return Attribution::Refused(c.key),
        }
    }
    Attribution::Unknown
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
