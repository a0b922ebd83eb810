//! sd_notify datagrams, from the programs to the supervisor, and from the
//! supervisor to its own systemd.

use std::io;
use std::sync::Arc;

use procwire_core::StopScope;
use tokio::time::Instant;

use super::{Actor, Program};
use crate::event::Cause;
use crate::exit::Exit;
use crate::notify::{attribute, Attribution, Claim, Datagram, Notification, Sender, WatchdogPing};
use crate::readiness::Readiness;
use crate::state::State;

impl Actor {
    /// One datagram on the notification socket: attributed to a program by
    /// the sender's pid, then applied, or told as an event that changes
    /// nothing. A datagram nobody can be held to is dropped.
    pub(super) fn datagram(&mut self, datagram: io::Result<Datagram>) {
        let received = match datagram {
            Ok(Datagram::Received(received)) => received,
            Ok(Datagram::Rejected(rejected)) => {
                // Told to the program whose process sent it, if any.
                let owner = rejected.pid.and_then(|pid| self.program_of(pid));
                if let Some(p) = owner.and_then(|name| self.programs.get_mut(&name)) {
                    p.notice(
                        &self.events,
                        Cause::NotifyRejected { pid: rejected.pid, reason: rejected.reason },
                    );
                }
                return;
            }
            // The socket is not ours to repair; nothing to attribute.
            Err(_) => return,
        };
        let sender = Sender::lookup(received.pid);
        let claims = self.programs.values().filter_map(|p| {
            let Readiness::Notify { access } = p.spec.ready else { return None };
            let live = p.live.as_ref()?;
            let pgid = (p.spec.stop.scope == StopScope::Group).then_some(live.pid);
            Some(Claim { key: p.name().clone(), access, main_pid: p.main_pid(), pgid })
        });
        match attribute(sender, claims) {
            Attribution::Accepted(name) => self.notified(&name, received.notification),
            Attribution::Refused(name) => {
                if let Some(p) = self.programs.get_mut(&name) {
                    p.notice(&self.events, Cause::NotifyRefused { pid: received.pid });
                }
            }
            Attribution::Unknown | Attribution::Ambiguous => {}
        }
    }

    /// The program whose live incarnation has `pid` as its main pid.
    fn program_of(&self, pid: u32) -> Option<Arc<str>> {
        self.programs.values().find(|p| p.main_pid() == Some(pid)).map(|p| p.name().clone())
    }

    /// A notification the program is held to.
    fn notified(&mut self, name: &Arc<str>, n: Notification) {
        let Some(p) = self.programs.get_mut(name) else { return };
        let now = Instant::now();
        if let Some(pid) = n.main_pid {
            if p.owns(pid) {
                p.main_pid = Some(pid);
            } else {
                p.notice(&self.events, Cause::NotifyRefused { pid });
            }
        }
        if let Some(status) = &n.status {
            p.notify_status = (!status.is_empty()).then(|| status.clone());
            p.publish();
        }
        if let Some(usec) = n.watchdog_usec {
            let period = std::time::Duration::from_micros(usec);
            p.watchdog = Some(period);
            if p.state == State::Running {
                p.arm_watchdog(period, &mut self.tasks, &self.reports_tx);
            }
        }
        if let Some(usec) = n.extend_timeout_usec {
            // As systemd: the running timeout now ends no earlier than
            // `usec` from now (never, past what the clock can say).
            let until = now.checked_add(std::time::Duration::from_micros(usec));
            if p.state == State::Starting && p.start_deadline.is_some_and(|d| until.is_none_or(|u| d < u)) {
                p.start_deadline = until;
            }
        }
        // Something for the event log besides readiness and pings.
        let telling = n.status.is_some()
            || n.stopping
            || n.reloading
            || n.errno.is_some()
            || n.main_pid.is_some()
            || !n.ignored.is_empty();
        let (ready, ping) = (n.ready, n.watchdog);
        if telling {
            p.notice(&self.events, Cause::Notified(Arc::new(n)));
        }
        match ping {
            Some(WatchdogPing::Ping) if p.state == State::Running && p.watchdog.is_some() => {
                // The timer re-arms itself when it fires early.
                p.watchdog_deadline = p.watchdog.and_then(|period| now.checked_add(period));
            }
            Some(WatchdogPing::Trigger) if p.state == State::Running => {
                self.auto_stop(name, Exit::Watchdog, Cause::WatchdogMissed { triggered: true });
                return;
            }
            _ => {}
        }
        if ready {
            let incarnation = p.incarnation;
            self.ready(name, incarnation);
        }
    }

    /// As the supervisor's own unit: `READY=1` once there are programs and
    /// every autostart program is running, and a one-line `STATUS=`
    /// whenever it changes.
    pub(super) fn tell_systemd(&mut self) {
        let Some(systemd) = &mut self.systemd else { return };
        let mut counts = [0usize; 5];
        for p in self.programs.values() {
            let i = match p.state {
                State::Running => 0,
                State::Starting | State::Waiting => 1,
                State::Backoff | State::Stopping => 2,
                State::Failed => 3,
                _ => 4,
            };
            counts[i] += 1;
        }
        let status = format!(
            "{} running, {} starting, {} restarting or stopping, {} failed, {} stopped",
            counts[0], counts[1], counts[2], counts[3], counts[4]
        );
        let ready = !systemd.ready_sent
            && self.shutdown.is_none()
            && !self.programs.is_empty()
            && self.programs.values().filter(|p| p.spec.autostart).all(|p| p.state == State::Running);
        if status == systemd.status && !ready {
            return;
        }
        let message = if ready { format!("READY=1\nSTATUS={status}") } else { format!("STATUS={status}") };
        // Never waits: with systemd's queue full, the next wake-up tries
        // again (nothing is marked as said).
        if crate::notify::notify_now(&systemd.socket, &message).is_err() {
            return;
        }
        systemd.ready_sent |= ready;
        systemd.status = status;
    }
}

impl Program {
    /// Whether `pid` is a process of the live incarnation: its main
    /// process, a descendant of it, a member of its process group (group
    /// scope) or of its cgroup. `MAINPID=` may name no other: a program
    /// must not take over another's notifications, or a stranger's.
    fn owns(&self, pid: u32) -> bool {
        let Some(live) = &self.live else { return false };
        if pid == live.pid {
            return true;
        }
        let in_group = self.spec.stop.scope == StopScope::Group && Sender::lookup(pid).pgid == Some(live.pid);
        in_group || in_cgroup(pid, live.cgroup.as_deref()) || descends_from(pid, live.pid)
    }

    /// An event that changes no state (`from == to`).
    pub(super) fn notice(
        &mut self,
        events: &tokio::sync::broadcast::Sender<crate::event::Event>,
        cause: Cause,
    ) {
        let state = self.state;
        self.emit(events, state, cause);
    }
}

/// Whether `pid`'s parents, up to 64 of them, include `ancestor`.
fn descends_from(pid: u32, ancestor: u32) -> bool {
    let mut pid = pid;
    for _ in 0..64 {
        match parent_of(pid) {
            Some(parent) if parent == ancestor => return true,
            Some(parent) if parent > 1 => pid = parent,
            _ => return false,
        }
    }
    false
}

/// The parent pid, from `/proc/PID/stat` (the field after the name, which
/// may hold spaces and parentheses: read after the last `)`).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[after + 1..]).ok()?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` is in the cgroup at `dir` (`/proc/PID/cgroup`'s v2 line
/// names it relative to the cgroup v2 mount).
fn in_cgroup(pid: u32, dir: Option<&std::path::Path>) -> bool {
    let Some(dir) = dir else { return false };
    let Some(relative) =
        procwire_core::Cgroup::mount_point().and_then(|m| dir.strip_prefix(m).ok().map(|r| r.to_owned()))
    else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else { return false };
    text.lines()
        .filter_map(|l| l.strip_prefix("0::"))
        .any(|path| std::path::Path::new(path.trim_start_matches('/')) == relative)
}
