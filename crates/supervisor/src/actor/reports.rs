//! What the actor's tasks tell it: a timer passed, an incarnation is
//! ready or over, a liveness check failed, a `MAINPID=` process exited.

use std::sync::Arc;

use tokio::time::Instant;

use super::program::Program;
use super::Actor;
use crate::error::Error;
use crate::event::{Cause, StopOutcome, Trigger};
use crate::exit::Exit;
use crate::incarnation::{End, Report, SpareCgroup, TimerKind};
use crate::policy::{decide, StartKind};
use crate::state::{AfterStop, State};

impl Actor {
    pub(super) fn report(&mut self, report: Report) {
        match report {
            Report::Timer { program, kind, generation } => {
                let Some(p) = self.programs.get(&program) else { return };
                if !p.is_current(kind, generation) {
                    return;
                }
                self.timer(&program, kind);
            }
            Report::Ready { program, incarnation } => self.ready(&program, incarnation),
            Report::Ended { program, incarnation, end, cgroup } => {
                self.ended(&program, incarnation, end, cgroup)
            }
            Report::LivenessFailed { program, incarnation, failures } => {
                let Some(p) = self.programs.get(&program) else { return };
                if p.incarnation == incarnation && p.state == State::Running {
                    self.auto_stop(&program, Exit::Liveness, Cause::LivenessFailed { failures });
                }
            }
            Report::MainExited { program, incarnation, pid } => {
                let Some(p) = self.programs.get_mut(&program) else { return };
                if p.incarnation == incarnation && p.main.as_ref().is_some_and(|m| m.ident.pid == pid) {
                    p.main = None;
                    p.notice(&self.events, Cause::MainExited { pid });
                }
            }
        }
    }

    /// A program's timer passed.
    fn timer(&mut self, name: &str, kind: TimerKind) {
        let Some(p) = self.programs.get_mut(name) else { return };
        let now = Instant::now();
        match (kind, p.state) {
            _ if self.shutdown.is_some() && kind == TimerKind::Start => {}
            (TimerKind::Start, State::Backoff) => {
                let _ = self.spawn(name, Trigger::Backoff, StartKind::Automatic);
            }
            (TimerKind::Start, State::Failed) => {
                let _ = self.spawn(name, Trigger::RetryAfter, StartKind::Manual);
            }
            (TimerKind::StartTimeout, State::Starting) => match p.start_deadline {
                // Extended meanwhile (`EXTEND_TIMEOUT_USEC=`).
                Some(deadline) if deadline > now => {
                    p.arm_timer(kind, deadline - now, &mut self.tasks, &self.reports_tx);
                }
                Some(_) => self.auto_stop(name, Exit::StartTimeout, Cause::StartTimeout),
                // Extended past what the clock can say: never.
                None => {}
            },
            (TimerKind::Watchdog, State::Running) => match p.watchdog_deadline {
                // Pinged meanwhile.
                Some(deadline) if deadline > now => {
                    p.arm_timer(kind, deadline - now, &mut self.tasks, &self.reports_tx);
                }
                Some(_) => self.auto_stop(name, Exit::Watchdog, Cause::WatchdogMissed { triggered: false }),
                None => {}
            },
            _ => {}
        }
    }

    /// An incarnation is over.
    fn ended(&mut self, name: &Arc<str>, incarnation: u64, end: End, cgroup: Option<SpareCgroup>) {
        let Some(p) = self.programs.get_mut(name) else { return };
        if p.incarnation != incarnation {
            return;
        }
        p.spare = cgroup;
        p.incarnation_over();
        let now = Instant::now();
        if p.state == State::Stopping {
            let outcome = match end {
                End::Stopped(Ok(stopped)) => {
                    StopOutcome { status: Some(stopped.status), final_signal_sent: stopped.final_signal_sent }
                }
                // It exited by itself as the stop was asked for.
                End::Exited(Ok(status)) => StopOutcome { status: Some(status), final_signal_sent: false },
                End::Stopped(Err(_)) | End::Exited(Err(_)) => {
                    StopOutcome { status: None, final_signal_sent: false }
                }
            };
            p.last_exit = outcome.status.or(p.last_exit);
            p.last_exit_at = Some(now);
            if let Some(exit) = p.auto_stop.take() {
                let decision = decide(&p.spec.restart, &mut p.history, exit, now);
                self.decided(name, decision, Cause::AutoStopped { exit, outcome, decision }, true);
            } else {
                self.stopped(name, outcome);
            }
            return;
        }
        let (exit, status) = match &end {
            End::Exited(Ok(status)) | End::Stopped(Ok(procwire_core::Stopped { status, .. })) => {
                (Exit::Status(*status), Some(*status))
            }
            _ => (Exit::SpawnFailed, None),
        };
        p.last_exit = status.or(p.last_exit);
        p.last_exit_at = Some(now);
        let decision = decide(&p.spec.restart, &mut p.history, exit, now);
        let cause = match (status, end) {
            (Some(status), _) => Cause::Exited { status, decision },
            (None, End::Exited(Err(e)) | End::Stopped(Err(e))) => {
                Cause::WaitFailed { error: Arc::new(e), decision }
            }
            (None, _) => unreachable!("a status or an error"),
        };
        self.decided(name, decision, cause, true);
    }

    /// A stop that was asked for is complete.
    fn stopped(&mut self, name: &Arc<str>, outcome: StopOutcome) {
        if let Some((_, report)) = &mut self.shutdown {
            report.stopped.push((name.clone(), outcome));
        }
        let Some(p) = self.programs.get_mut(name) else { return };
        let starts = p.resolve_stops(outcome);
        let after =
            if self.shutdown.is_some() && p.after == AfterStop::Start { AfterStop::Stay } else { p.after };
        match after {
            AfterStop::Start => {
                let result = self.spawn(name, Trigger::Restart, StartKind::Manual);
                Program::resolve_starts(starts, &result);
            }
            AfterStop::Remove => {
                p.set(&self.events, State::Removed, Cause::Stopped(outcome));
                self.programs.remove(name);
                Program::resolve_starts(starts, &Err(Error::UnknownProgram(name.to_string())));
            }
            _ => {
                p.set(&self.events, State::Stopped, Cause::Stopped(outcome));
                let status = Ok(p.snapshot());
                let status = if self.shutdown.is_some() { Err(Error::ShutDown) } else { status };
                Program::resolve_starts(starts, &status);
            }
        }
        if let Some(group) = &mut self.group {
            if group.stopping.as_ref() == Some(name) {
                group.stopping = None;
                self.group_step();
            }
        }
        self.continue_shutdown();
    }
}
