//! sd_notify datagrams, from the programs to the supervisor, and from the
//! supervisor to its own systemd.

use std::io;
use std::sync::Arc;

use procwire_core::PidFd;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use super::{Actor, Program};
use crate::event::Cause;
use crate::exit::Exit;
use crate::incarnation::Report;
use crate::notify::{
    attribute, tie, Attribution, Claim, Datagram, Ident, Notification, Sender, WatchdogPing,
};
use crate::readiness::Readiness;
use crate::state::State;

/// The process an accepted `MAINPID=` named, believed as the program's
/// main process until it exits (or the incarnation ends).
#[derive(Debug)]
pub(super) struct MainProcess {
    pub(super) ident: Ident,
    /// The task that waits for its end on a pidfd (none where the kernel
    /// has no pidfds: the start time alone then tells it from a process
    /// that reuses its pid).
    watch: Option<AbortHandle>,
}

impl Drop for MainProcess {
    fn drop(&mut self) {
        if let Some(watch) = &self.watch {
            watch.abort();
        }
    }
}

impl Actor {
    /// One datagram on the notification socket: attributed to a program by
    /// what the kernel says of its sender, then applied, or told as an
    /// event that changes nothing. A datagram from a process that belongs
    /// to no program is dropped without a trace.
    pub(super) fn datagram(&mut self, datagram: io::Result<Datagram>) {
        let (pid, received) = match datagram {
            Ok(Datagram::Received(received)) => (received.pid, Ok(received)),
            Ok(Datagram::Rejected(rejected)) => match rejected.pid {
                Some(pid) => (pid, Err(rejected)),
                None => return,
            },
            // The socket is not ours to repair; nothing to attribute.
            Err(_) => return,
        };
        // The common case, a program's spawned process (unreaped: its pid
        // is its own), needs no look at `/proc`.
        let spawned = self.programs.values().any(|p| {
            p.main.is_none() && p.live.as_ref().is_some_and(|l| l.pid == pid) && p.claim_kind().is_some()
        });
        let sender = if spawned { Sender { pid, facts: None } } else { Sender::lookup(pid) };
        let name = match attribute(&sender, self.claims()) {
            Attribution::Accepted(name) => name,
            Attribution::Refused(name) => {
                if let Some(p) = self.programs.get_mut(&name) {
                    p.notice(&self.events, Cause::NotifyRefused { pid });
                }
                return;
            }
            Attribution::Unknown | Attribution::Ambiguous => return,
        };
        match received {
            Ok(received) => self.notified(&name, received.notification),
            Err(rejected) => {
                if let Some(p) = self.programs.get_mut(&name) {
                    let cause = Cause::NotifyRejected { pid: rejected.pid, reason: rejected.reason };
                    p.notice(&self.events, cause);
                }
            }
        }
    }

    /// What places a sender: each live program that reads sd_notify.
    fn claims(&self) -> impl Iterator<Item = Claim<Arc<str>>> + '_ {
        self.programs.values().filter_map(Program::claim)
    }

    /// A notification the program is held to.
    fn notified(&mut self, name: &Arc<str>, n: Notification) {
        let Some(p) = self.programs.get_mut(name) else { return };
        let now = Instant::now();
        if let Some(pid) = n.main_pid {
            if !p.take_main(pid, &mut self.tasks, &self.reports_tx) {
                p.notice(&self.events, Cause::NotifyRefused { pid });
            }
        }
        if let Some(status) = &n.status {
            p.notify_status = (!status.is_empty()).then(|| status.clone());
            p.publish();
        }
        if let Some(usec) = n.watchdog_usec {
            // As systemd: 0 turns the watchdog off.
            let period = Some(std::time::Duration::from_micros(usec)).filter(|p| !p.is_zero());
            p.watchdog = period;
            match period {
                Some(period) if p.state == State::Running => {
                    p.arm_watchdog(period, &mut self.tasks, &self.reports_tx)
                }
                Some(_) => {}
                None => {
                    p.cancel(crate::incarnation::TimerKind::Watchdog);
                    p.watchdog_deadline = None;
                }
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
    /// What places a sender for this program, while it has a live
    /// incarnation and reads sd_notify.
    fn claim(&self) -> Option<Claim<Arc<str>>> {
        let access = self.claim_kind()?;
        let live = self.live.as_ref()?;
        Some(Claim {
            key: self.name().clone(),
            access,
            spawned: live.pid,
            main: self.main.as_ref().map(|m| m.ident),
            cgroup: live.cgroup.as_deref().and_then(cgroup_relative),
        })
    }

    /// The access of a program that reads sd_notify.
    fn claim_kind(&self) -> Option<crate::NotifyAccess> {
        match self.spec.ready {
            Readiness::Notify { access } => Some(access),
            _ => None,
        }
    }

    /// `MAINPID=pid`: believed if `pid` is a living process of the live
    /// incarnation (the spawned one, which makes it main again; a member
    /// of its group or session; a descendant; a member of its cgroup), as
    /// systemd asks. It is then held: by a pidfd, whose end is awaited
    /// (`Report::MainExited`), and by its start time, checked at each
    /// datagram. Returns whether it was believed.
    fn take_main(
        &mut self,
        pid: u32,
        tasks: &mut JoinSet<()>,
        reports: &mpsc::UnboundedSender<Report>,
    ) -> bool {
        let Some(claim) = self.claim() else { return false };
        if pid == claim.spawned {
            self.main = None;
            return true;
        }
        let target = Sender::lookup(pid);
        let Some(start) = target.facts.as_ref().map(|f| f.start) else { return false };
        if tie(&target, &claim).is_none() {
            return false;
        }
        let pidfd = match PidFd::open(pid) {
            Ok(pidfd) => Some(pidfd),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => None,
            Err(_) => return false,
        };
        // The pidfd holds the process that was checked: its start time is
        // still the one read.
        if Sender::lookup(pid).facts.map(|f| f.start) != Some(start) {
            return false;
        }
        let watch = pidfd.map(|mut pidfd| {
            let (program, incarnation, reports) = (self.name().clone(), self.incarnation, reports.clone());
            tasks.spawn(async move {
                if pidfd.exited().await.is_ok() {
                    let _ = reports.send(Report::MainExited { program, incarnation, pid });
                }
            })
        });
        self.main = Some(MainProcess { ident: Ident { pid, start: Some(start) }, watch });
        true
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

/// `dir` relative to the cgroup v2 mount, as `/proc/PID/cgroup` names it.
fn cgroup_relative(dir: &std::path::Path) -> Option<String> {
    let mount = procwire_core::Cgroup::mount_point()?;
    Some(dir.strip_prefix(mount).ok()?.to_str()?.to_owned())
}
