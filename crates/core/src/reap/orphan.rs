//! Children dropped before they were reaped go to one background thread,
//! which reaps them when they exit, with or without a tokio runtime.
//!
//! A thread rather than a task: a runtime may shut down before the child
//! exits, and a zombie must never outlive that. The thread starts on the
//! first abandoned child and then sleeps in `poll(2)` on the orphans'
//! pidfds (or, in the SIGCHLD fallback, re-checks its pids every 50 ms).
//! A child found exited when its `Child` is dropped is reaped there and
//! never adopted, so whether a given drop starts the thread depends on the
//! child's timing (a child sent SIGKILL by the drop may be dead already).
//!
//! Starting it takes a wake pipe and a thread, and either can fail for a
//! while (`EMFILE`, `EAGAIN` under `RLIMIT_NPROC`). A failed start is not
//! remembered: the next adoption, and every spawn while orphans wait, try
//! again. Until then a child that was sent SIGKILL is reaped on the spot
//! (it dies in bounded time), and one left running stays on the list, to be
//! reaped by the first thread that starts.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::Target;

struct State {
    /// Children to reap.
    list: Vec<Target>,
    /// The running thread's wake pipe; `None` while no thread runs.
    wake_tx: Option<OwnedFd>,
}

static STATE: Mutex<State> = Mutex::new(State { list: Vec::new(), wake_tx: None });

/// Orphans are listed but no thread runs to reap them.
static STRANDED: AtomicBool = AtomicBool::new(false);

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adopts a running child whose `Child` was dropped; `killed` says it was
/// sent SIGKILL, so it can be waited for here if no thread can be started.
pub(super) fn adopt(target: Target, killed: bool) {
    let mut state = state();
    if state.wake_tx.is_none() {
        let _ = start(&mut state);
    }
    if state.wake_tx.is_none() && killed {
        // No thread, and none can be started now: SIGKILL ends the child
        // in bounded time, so wait for it here rather than leave a zombie.
        drop(state);
        wait_blocking(&target);
        return;
    }
    state.list.push(target);
    notify(&state);
}

/// Tries again to start the thread if orphans are waiting for one; cheap
/// (one atomic load) when none are.
pub(crate) fn retry_stranded() {
    if STRANDED.load(Ordering::Relaxed) {
        let mut state = state();
        if state.wake_tx.is_none() {
            let _ = start(&mut state);
        }
        notify(&state);
    }
}

/// Wakes the thread, or records that the listed orphans have none.
fn notify(state: &State) {
    match &state.wake_tx {
        Some(tx) => {
            STRANDED.store(false, Ordering::Relaxed);
            // A full pipe means a wake-up is already pending.
            let _ = nix::unistd::write(tx, &[1]);
        }
        None => STRANDED.store(true, Ordering::Relaxed),
    }
}

/// Starts the thread; nothing is kept on failure, so the next call tries
/// again.
fn start(state: &mut State) -> std::io::Result<()> {
    let (wake_rx, wake_tx) = crate::sys::io::pipe_cloexec()?;
    for end in [&wake_rx, &wake_tx] {
        nix::fcntl::fcntl(end, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    }
    std::thread::Builder::new().name("procwire-reaper".into()).spawn(move || run(wake_rx))?;
    state.wake_tx = Some(wake_tx);
    Ok(())
}

/// Waits for `target` to exit and reaps it, blocking this thread.
fn wait_blocking(target: &Target) {
    let _ = target.reap_blocking();
}

/// Whether `target` has been reaped (or can never be: then it is dropped).
fn reaped(target: &Target) -> bool {
    !matches!(target.try_reap(), Ok(None))
}

fn run(wake_rx: OwnedFd) {
    loop {
        let pending: Vec<Target> = {
            let mut state = state();
            state.list.retain(|t| !reaped(t));
            state.list.clone()
        };
        let mut fds = vec![PollFd::new(wake_rx.as_fd(), PollFlags::POLLIN)];
        let mut timeout = PollTimeout::NONE;
        for target in &pending {
            match target {
                Target::Pidfd(fd, _) => fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN)),
                Target::Pid(_) => timeout = PollTimeout::from(50u8),
            }
        }
        let _ = poll(&mut fds, timeout);
        let mut buf = [0u8; 64];
        while matches!(nix::unistd::read(&wake_rx, &mut buf), Ok(n) if n > 0) {}
    }
}
