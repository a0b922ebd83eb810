//! One human line for each thing the supervisor tells, as a journal would
//! write it: `println!("{event}")` is the whole job.
//!
//! ```
//! # use procwire_supervisor::{Decision, State};
//! # use std::time::Duration;
//! assert_eq!(State::Backoff.to_string(), "Backoff");
//! assert_eq!(Decision::Restart { delay: Duration::from_secs(4) }.to_string(), "restart in 4 s");
//! ```

use std::fmt::{self, Display, Formatter};
use std::time::Duration;

use procwire_core::ExitStatus;

use crate::event::{Cause, Event, Status, StopOutcome, Trigger};
use crate::exit::Exit;
use crate::notify::{Notification, WatchdogPing};
use crate::policy::{Decision, ExitReason, FailCause};
use crate::state::{AfterStop, State};

/// A duration as a person reads it: `250 ms`, `4 s`, `1.5 s`, `5 min`,
/// `2 min 30 s`, `3 h`.
pub(crate) struct Human(pub(crate) Duration);

impl Display for Human {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let secs = d.as_secs();
        if d < Duration::from_millis(1) {
            return write!(f, "{} us", d.as_micros());
        }
        if d < Duration::from_secs(1) {
            return write!(f, "{} ms", d.as_millis());
        }
        if secs < 60 {
            // Tenths, without a trailing `.0`.
            let tenths = d.as_millis() / 100;
            return match tenths % 10 {
                0 => write!(f, "{} s", tenths / 10),
                t => write!(f, "{}.{t} s", tenths / 10),
            };
        }
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        match (h, m, s) {
            (0, m, 0) => write!(f, "{m} min"),
            (0, m, s) => write!(f, "{m} min {s} s"),
            (h, 0, _) => write!(f, "{h} h"),
            (h, m, _) => write!(f, "{h} h {m} min"),
        }
    }
}

/// How an incarnation ended, as a clause: `exited with code 1`, `killed
/// by signal 9 (SIGKILL)`.
struct Ended(ExitStatus);

impl Display for Ended {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0.code() {
            Some(code) => write!(f, "exited with code {code}"),
            None => write!(f, "killed by {}", self.0),
        }
    }
}

impl Display for State {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Display for Trigger {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trigger::Autostart => "autostart",
            Trigger::Command => "start asked",
            Trigger::Restart => "restart asked",
            Trigger::Backoff => "after the backoff delay",
            Trigger::RetryAfter => "retry after the start limit",
            Trigger::Strategy => "restarted with the program that failed",
        })
    }
}

impl Display for AfterStop {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AfterStop::Stay => "stop asked",
            AfterStop::Start => "restart asked",
            AfterStop::Remove => "remove asked",
        })
    }
}

impl Display for Decision {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Restart { delay } if delay.is_zero() => f.write_str("restart at once"),
            Decision::Restart { delay } => write!(f, "restart in {}", Human(*delay)),
            Decision::Exit { reason: ExitReason::Policy } => f.write_str("stays down (restart policy)"),
            Decision::Exit { reason: ExitReason::Prevented } => {
                f.write_str("stays down (the exit is in the prevent set)")
            }
            Decision::Fail { cause, retry_after } => {
                f.write_str(match cause {
                    FailCause::StartLimit => "gave up: start limit reached",
                    FailCause::Retries => "gave up: too many quick deaths in a row",
                })?;
                match retry_after {
                    Some(delay) => write!(f, "; retry in {}", Human(*delay)),
                    None => Ok(()),
                }
            }
        }
    }
}

impl Display for Exit {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Status(status) => Ended(*status).fmt(f),
            Exit::SpawnFailed => f.write_str("could not be spawned"),
            Exit::StartTimeout => f.write_str("not ready within the start timeout"),
            Exit::Watchdog => f.write_str("watchdog missed"),
            Exit::Liveness => f.write_str("liveness check failed"),
        }
    }
}

impl Display for StopOutcome {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => Ended(status).fmt(f)?,
            None => f.write_str("ended (its status could not be read)")?,
        }
        if self.final_signal_sent {
            f.write_str(" after the final signal")?;
        }
        Ok(())
    }
}

/// What an sd_notify datagram said, key by key.
struct Said<'a>(&'a Notification);

impl Display for Said<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let n = self.0;
        let mut parts: Vec<String> = Vec::new();
        if let Some(status) = &n.status {
            parts.push(format!("STATUS={status:?}"));
        }
        if n.ready {
            parts.push("READY=1".into());
        }
        if n.stopping {
            parts.push("STOPPING=1".into());
        }
        if n.reloading {
            parts.push("RELOADING=1".into());
        }
        if let Some(errno) = n.errno {
            parts.push(format!("ERRNO={errno}"));
        }
        if let Some(pid) = n.main_pid {
            parts.push(format!("MAINPID={pid}"));
        }
        match n.watchdog {
            Some(WatchdogPing::Ping) => parts.push("WATCHDOG=1".into()),
            Some(WatchdogPing::Trigger) => parts.push("WATCHDOG=trigger".into()),
            None => {}
        }
        if let Some(usec) = n.watchdog_usec {
            parts.push(format!("WATCHDOG_USEC={usec}"));
        }
        if let Some(usec) = n.extend_timeout_usec {
            parts.push(format!("EXTEND_TIMEOUT_USEC={usec}"));
        }
        if !n.ignored.is_empty() {
            parts.push(format!("{} line(s) ignored", n.ignored.len()));
        }
        write!(f, "sd_notify {}", parts.join(", "))
    }
}

impl Display for Cause {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Added => f.write_str("added"),
            Cause::Start(trigger) => write!(f, "starting ({trigger})"),
            Cause::Ready => f.write_str("ready"),
            Cause::Waiting { on } => write!(f, "waiting for {on} to be running"),
            Cause::StartTimeout => f.write_str("not ready within the start timeout: stopping it"),
            Cause::WatchdogMissed { triggered: false } => {
                f.write_str("watchdog missed: stopping it with SIGABRT")
            }
            Cause::WatchdogMissed { triggered: true } => {
                f.write_str("watchdog triggered by the program: stopping it with SIGABRT")
            }
            Cause::LivenessFailed { failures } => {
                write!(f, "liveness check failed {failures} time(s) in a row: stopping it")
            }
            Cause::Strategy { failed } => write!(f, "stopping it because {failed} failed (strategy)"),
            Cause::AutoStopped { exit, outcome, decision } => write!(f, "{exit}, {outcome}; {decision}"),
            Cause::Exited { status, decision } => write!(f, "{}; {decision}", Ended(*status)),
            Cause::SpawnFailed { error, decision } => write!(f, "could not be spawned: {error}; {decision}"),
            Cause::WaitFailed { error, decision } => write!(f, "waiting for it failed: {error}; {decision}"),
            Cause::StopRequested(after) => write!(f, "stopping it ({after})"),
            Cause::Stopped(outcome) => write!(f, "stopped: {outcome}"),
            Cause::Notified(n) => Said(n).fmt(f),
            Cause::NotifyRejected { pid: Some(pid), reason } => {
                write!(f, "sd_notify datagram from pid {pid} rejected: {reason}")
            }
            Cause::NotifyRejected { pid: None, reason } => write!(f, "sd_notify datagram rejected: {reason}"),
            Cause::NotifyRefused { pid } => {
                write!(f, "sd_notify from pid {pid} refused: not a process its access believes")
            }
            Cause::MainExited { pid } => {
                write!(f, "main process {pid} (MAINPID) exited: the spawned process is main again")
            }
            Cause::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// `web #3 (pid 812): Running -> Backoff: exited with code 1; restart in
/// 4 s`; `web #3 (pid 812): Running: sd_notify STATUS="..."` for an event
/// that changes no state.
impl Display for Event {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} #{}", self.program, self.incarnation)?;
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid})")?;
        }
        if self.from == self.to {
            write!(f, ": {}: {}", self.to, self.cause)
        } else {
            write!(f, ": {} -> {}: {}", self.from, self.to, self.cause)
        }
    }
}

/// `web #3 (pid 812): Running; last exit code 1; 2 quick deaths in a
/// row; status "serving"`.
impl Display for Status {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} #{}", self.name, self.incarnation)?;
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid})")?;
        }
        write!(f, ": {}", self.state)?;
        if let Some(started) = self.started_at {
            write!(f, ", up {}", Human(started.elapsed()))?;
        }
        if self.restarts > 0 {
            write!(f, ", {} restart(s)", self.restarts)?;
        }
        if let Some(delay) = self.next_start_in {
            write!(f, ", next start in {}", Human(delay))?;
        }
        if let Some(status) = self.last_exit {
            write!(f, "; last {}", Ended(status))?;
        }
        if self.attempts > 0 {
            write!(f, "; {} quick death(s) in a row", self.attempts)?;
        }
        if let Some(status) = &self.notify_status {
            write!(f, "; status {status:?}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_says_them() {
        let cases = [
            (Duration::from_micros(250), "250 us"),
            (Duration::from_millis(100), "100 ms"),
            (Duration::from_secs(1), "1 s"),
            (Duration::from_millis(1500), "1.5 s"),
            (Duration::from_millis(59_990), "59.9 s"),
            (Duration::from_secs(300), "5 min"),
            (Duration::from_secs(150), "2 min 30 s"),
            (Duration::from_secs(3 * 3600), "3 h"),
            (Duration::from_secs(3 * 3600 + 120), "3 h 2 min"),
            (Duration::MAX, "5124095576030431 h"),
        ];
        for (d, text) in cases {
            assert_eq!(Human(d).to_string(), text, "{d:?}");
        }
    }

    fn event(from: State, to: State, cause: Cause) -> Event {
        Event {
            program: "web".into(),
            incarnation: 3,
            pid: Some(812),
            from,
            to,
            cause,
            at: tokio::time::Instant::now(),
        }
    }

    /// One event of every `Cause`, and the line it prints.
    #[test]
    fn every_cause_prints_one_line_for_a_person() {
        use std::sync::Arc;
        use State::*;
        let code = |c: i32| ExitStatus::from_raw(c << 8);
        let killed = |s: i32| ExitStatus::from_raw(s);
        let secs = Duration::from_secs;
        let spawn_error = procwire_core::Error::Spawn {
            program: "web".into(),
            step: procwire_core::SpawnStep::Exec,
            source: std::io::Error::from_raw_os_error(2),
        };
        let golden: Vec<(Event, &str)> = vec![
            (event(Removed, Stopped, Cause::Added), "web #3 (pid 812): Removed -> Stopped: added"),
            (
                event(Stopped, Starting, Cause::Start(Trigger::Autostart)),
                "web #3 (pid 812): Stopped -> Starting: starting (autostart)",
            ),
            (event(Starting, Running, Cause::Ready), "web #3 (pid 812): Starting -> Running: ready"),
            (
                event(Stopped, Waiting, Cause::Waiting { on: "db".into() }),
                "web #3 (pid 812): Stopped -> Waiting: waiting for db to be running",
            ),
            (
                event(Starting, Stopping, Cause::StartTimeout),
                "web #3 (pid 812): Starting -> Stopping: not ready within the start timeout: stopping it",
            ),
            (
                event(Running, Stopping, Cause::WatchdogMissed { triggered: false }),
                "web #3 (pid 812): Running -> Stopping: watchdog missed: stopping it with SIGABRT",
            ),
            (
                event(Running, Stopping, Cause::LivenessFailed { failures: 3 }),
                "web #3 (pid 812): Running -> Stopping: liveness check failed 3 time(s) in a row: stopping it",
            ),
            (
                event(Running, Stopping, Cause::Strategy { failed: "db".into() }),
                "web #3 (pid 812): Running -> Stopping: stopping it because db failed (strategy)",
            ),
            (
                event(
                    Stopping,
                    Backoff,
                    Cause::AutoStopped {
                        exit: Exit::StartTimeout,
                        outcome: StopOutcome { status: Some(killed(15)), final_signal_sent: false },
                        decision: Decision::Restart { delay: secs(1) },
                    },
                ),
                "web #3 (pid 812): Stopping -> Backoff: not ready within the start timeout, \
                 killed by signal 15 (SIGTERM); restart in 1 s",
            ),
            (
                event(Running, Backoff, Cause::Exited { status: code(1), decision: Decision::Restart { delay: secs(4) } }),
                "web #3 (pid 812): Running -> Backoff: exited with code 1; restart in 4 s",
            ),
            (
                event(
                    Running,
                    Exited,
                    Cause::Exited { status: code(0), decision: Decision::Exit { reason: ExitReason::Policy } },
                ),
                "web #3 (pid 812): Running -> Exited: exited with code 0; stays down (restart policy)",
            ),
            (
                event(
                    Starting,
                    Failed,
                    Cause::SpawnFailed {
                        error: Arc::new(spawn_error),
                        decision: Decision::Fail { cause: FailCause::StartLimit, retry_after: Some(secs(300)) },
                    },
                ),
                "web #3 (pid 812): Starting -> Failed: could not be spawned: failed to spawn `web`: \
                 exec: No such file or directory (os error 2); gave up: start limit reached; retry in 5 min",
            ),
            (
                event(
                    Running,
                    Failed,
                    Cause::WaitFailed {
                        error: Arc::new(std::io::Error::from_raw_os_error(10)),
                        decision: Decision::Fail { cause: FailCause::Retries, retry_after: None },
                    },
                ),
                "web #3 (pid 812): Running -> Failed: waiting for it failed: No child processes (os error 10); \
                 gave up: too many quick deaths in a row",
            ),
            (
                event(Running, Stopping, Cause::StopRequested(AfterStop::Start)),
                "web #3 (pid 812): Running -> Stopping: stopping it (restart asked)",
            ),
            (
                event(
                    Stopping,
                    Stopped,
                    Cause::Stopped(StopOutcome { status: Some(killed(9)), final_signal_sent: true }),
                ),
                "web #3 (pid 812): Stopping -> Stopped: stopped: killed by signal 9 (SIGKILL) after the final signal",
            ),
            (
                event(
                    Running,
                    Running,
                    Cause::Notified(Arc::new(
                        Notification::parse(b"STATUS=serving 3 clients\nMAINPID=900").unwrap(),
                    )),
                ),
                "web #3 (pid 812): Running: sd_notify STATUS=\"serving 3 clients\", MAINPID=900",
            ),
            (
                event(
                    Starting,
                    Starting,
                    Cause::NotifyRejected { pid: Some(812), reason: crate::Rejection::TooLarge { len: 65536 } },
                ),
                "web #3 (pid 812): Starting: sd_notify datagram from pid 812 rejected: \
                 notification of 65536 bytes is over the 4096-byte limit",
            ),
            (
                event(Starting, Starting, Cause::NotifyRefused { pid: 813 }),
                "web #3 (pid 812): Starting: sd_notify from pid 813 refused: not a process its access believes",
            ),
            (
                event(Running, Running, Cause::MainExited { pid: 900 }),
                "web #3 (pid 812): Running: main process 900 (MAINPID) exited: the spawned process is main again",
            ),
            (event(Backoff, Stopped, Cause::Cancelled), "web #3 (pid 812): Backoff -> Stopped: cancelled"),
        ];
        for (event, line) in &golden {
            assert_eq!(event.to_string(), *line);
        }
    }

    #[test]
    fn a_status_is_one_line() {
        let status = Status {
            name: "web".into(),
            state: State::Backoff,
            incarnation: 3,
            pid: None,
            last_exit: Some(ExitStatus::from_raw(1 << 8)),
            last_exit_at: None,
            started_at: None,
            restarts: 5,
            attempts: 2,
            next_start_in: Some(Duration::from_secs(4)),
            notify_status: Some("draining".into()),
        };
        assert_eq!(
            status.to_string(),
            "web #3: Backoff, 5 restart(s), next start in 4 s; last exited with code 1; 2 quick death(s) in a row; \
             status \"draining\""
        );
    }
}
