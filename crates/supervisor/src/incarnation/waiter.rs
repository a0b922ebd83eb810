//! An incarnation's waiter: the exit or the stop asked for, the stop
//! ladder, the signals for its group or cgroup meanwhile, and what is left
//! of its cgroup after.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use procwire_core::{Cgroup, Child, ExitStatus, Signal, StopLadder, StopPolicy, StopScope, Stopped};
use tokio::sync::{mpsc, oneshot};

use crate::command::Reply;
use crate::error::Error;

/// How an incarnation ended.
#[derive(Debug)]
pub(crate) enum End {
    /// By itself (in group scope, after the members that outlived it were
    /// swept).
    Exited(io::Result<ExitStatus>),
    /// Stopped because the actor asked.
    Stopped(io::Result<Stopped>),
}

/// A signal for a program's whole group, and who waits for the answer.
pub(crate) type GroupSignal = (Signal, Reply<()>);

/// What is known of an incarnation's cgroup once it is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// Nothing: look.
    Unknown,
    /// It got `cgroup.kill`: never used again.
    Killed,
    /// Seen empty after the reap, and never killed.
    Empty,
}

/// Waits for the exit, or for a stop request (the sender sending or being
/// dropped), then runs the stop ladder. All along, ladder included, in
/// group and cgroup scope, sends the signals asked for to the whole group
/// or cgroup: an operator's `signal(KILL)` cuts a stuck stop short.
/// Says too whether the cgroup got `cgroup.kill`.
pub(super) async fn run(
    child: &mut Child,
    cgroup: Option<&Cgroup>,
    mut stop: oneshot::Receiver<StopPolicy>,
    mut signals: Option<mpsc::UnboundedReceiver<GroupSignal>>,
    policy: StopPolicy,
    program: &str,
) -> (End, After) {
    let mut killed = false;
    // In group and cgroup scope the exit is seen, not reaped, and the
    // ladder sweeps what is left before the reap.
    let group = matches!(policy.scope, StopScope::Group | StopScope::Cgroup);
    let step = std::future::poll_fn(|cx| {
        serve_signals(child, policy.scope, &mut signals, &mut killed, cx, program);
        // The exit: reaped in process scope; seen and not reaped in group
        // scope.
        let exit = if group { child.poll_exited(cx) } else { child.poll_wait(cx) };
        if let Poll::Ready(status) = exit {
            return Poll::Ready(Err(status));
        }
        // Sent, or the sender dropped: both ask for the stop.
        Pin::new(&mut stop).poll(cx).map(|asked| Ok(asked.unwrap_or(policy)))
    })
    .await;
    let mut after = After::Unknown;
    let end = match step {
        Ok(policy) => End::Stopped(stop_serving(child, policy, &mut signals, &mut killed, program).await),
        // The common end of a program in cgroup scope: it exited and left
        // nothing behind. The leader is reaped at once (the ladder would
        // signal the zombie, arm the grace's timer and read
        // `cgroup.events` a second time), and the cgroup goes to the next
        // incarnation as it is.
        Err(Ok(status))
            if policy.scope == StopScope::Cgroup
                && cgroup.is_some_and(|c| c.is_populated().ok() == Some(false)) =>
        {
            after = After::Empty;
            End::Exited(child.try_wait().map(|reaped| reaped.unwrap_or(status)))
        }
        // The leader is a zombie still: its group id cannot be reused while
        // the members that outlived it are swept.
        Err(Ok(status)) if group => End::Exited(
            stop_serving(child, policy, &mut signals, &mut killed, program)
                .await
                .map(|s| s.status)
                .or(Ok(status)),
        ),
        Err(exited) => End::Exited(exited),
    };
    refuse(signals, program);
    if killed {
        after = After::Killed;
    }
    (end, after)
}

/// The stop ladder for `policy`, serving the signals asked for meanwhile.
async fn stop_serving(
    child: &mut Child,
    policy: StopPolicy,
    signals: &mut Option<mpsc::UnboundedReceiver<GroupSignal>>,
    killed: &mut bool,
    program: &str,
) -> io::Result<Stopped> {
    let scope = policy.scope;
    let mut ladder = StopLadder::new(policy);
    let stopped = std::future::poll_fn(|cx| {
        serve_signals(child, scope, signals, killed, cx, program);
        ladder.poll(child, cx)
    })
    .await;
    // In cgroup scope the final step is `cgroup.kill`.
    *killed |= scope == StopScope::Cgroup && stopped.as_ref().is_ok_and(|s| s.final_signal_sent);
    stopped
}

/// Sends each signal waiting in `signals` to the child's group, or in
/// cgroup scope to its cgroup (noting in `killed` a SIGKILL, which is a
/// `cgroup.kill`), and answers; registers `cx` for the next.
fn serve_signals(
    child: &Child,
    scope: StopScope,
    signals: &mut Option<mpsc::UnboundedReceiver<GroupSignal>>,
    killed: &mut bool,
    cx: &mut std::task::Context<'_>,
    program: &str,
) {
    let Some(rx) = signals else { return };
    loop {
        match rx.poll_recv(cx) {
            Poll::Ready(Some((sig, reply))) => {
                let sent = if scope == StopScope::Cgroup {
                    *killed |= sig == Signal::KILL;
                    child.signal_cgroup(sig)
                } else {
                    child.signal_group(sig)
                };
                let _ = reply.send(sent.map_err(|e| Error::signal(program, e)));
            }
            Poll::Ready(None) => {
                *signals = None;
                return;
            }
            Poll::Pending => return,
        }
    }
}

/// The child, and its cgroup if it has one of its own. If the waiter is
/// dropped before the incarnation is over (the runtime torn down without
/// `shutdown`, the supervisor's task aborted), the whole cgroup gets
/// `cgroup.kill` and is removed once empty, by one thread for all of them
/// (the members die asynchronously; nothing waits on the runtime). The child's
/// own `kill_on_drop` takes the child and, in group scope, its group; a
/// cgroup, which a core `Command` may share between children, is the
/// supervisor's to kill.
pub(super) struct Waiter {
    pub(super) child: Child,
    pub(super) cgroup: Option<Cgroup>,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let Some(cgroup) = self.cgroup.take() else { return };
        let _ = cgroup.kill();
        if cgroup.remove().is_ok() {
            return;
        }
        remove_when_empty(cgroup);
    }
}

/// Hands a killed cgroup to one thread, started at the first need, that
/// removes each once its members are gone (a runtime torn down with a
/// thousand programs sends a thousand: one thread, not one each). It
/// looks every 10 ms while it has any, gives each 10 s, and sleeps on its
/// channel otherwise. (If the thread cannot start, the cgroups stay.)
fn remove_when_empty(cgroup: Cgroup) {
    use std::sync::{mpsc as std_mpsc, Mutex, OnceLock};
    static REMOVER: OnceLock<Option<Mutex<std_mpsc::Sender<Cgroup>>>> = OnceLock::new();
    let remover = REMOVER.get_or_init(|| {
        let (tx, rx) = std_mpsc::channel::<Cgroup>();
        let run = move || {
            let mut pending: Vec<(Cgroup, std::time::Instant)> = Vec::new();
            loop {
                let next = if pending.is_empty() {
                    rx.recv().map_err(|_| std_mpsc::RecvTimeoutError::Disconnected)
                } else {
                    rx.recv_timeout(Duration::from_millis(10))
                };
                match next {
                    Ok(cgroup) => pending.push((cgroup, std::time::Instant::now())),
                    Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std_mpsc::RecvTimeoutError::Disconnected) if pending.is_empty() => return,
                    Err(std_mpsc::RecvTimeoutError::Disconnected) => {}
                }
                pending.retain(|(cgroup, since)| {
                    let done =
                        !cgroup.is_populated().unwrap_or(false) || since.elapsed() > Duration::from_secs(10);
                    if done {
                        let _ = cgroup.remove();
                    }
                    !done
                });
            }
        };
        let started = std::thread::Builder::new().name("procwire-cgroup-rm".into()).spawn(run);
        started.ok().map(|_| Mutex::new(tx))
    });
    if let Some(tx) = remover {
        let _ = tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).send(cgroup);
    }
}

/// Once the incarnation is ending: signals still asked for find nobody.
fn refuse(signals: Option<mpsc::UnboundedReceiver<GroupSignal>>, program: &str) {
    let Some(mut rx) = signals else { return };
    rx.close();
    while let Ok((_, reply)) = rx.try_recv() {
        let _ = reply.send(Err(Error::NotRunning(program.into())));
    }
}
