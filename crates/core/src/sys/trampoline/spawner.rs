//! The spawner threads: where children with a parent-death signal are
//! cloned, since the kernel sends that signal when the creating *thread*
//! exits. One per CPU a spawn is asked from, pinned to it; the caller
//! waits on its own CPU meanwhile.

use std::io;
use std::sync::mpsc;

use nix::libc;

use super::{spawn_keeping, thread_mask, Failure, Request, Spawned};

/// Runs [`spawn`] on one of procwire's spawner threads, which live as
/// long as the process.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that created the child exits,
/// not the process: spawned from a tokio blocking-pool thread, which retires
/// after 10 s idle, the child would be killed at a random time. Spawning
/// from a thread that never exits makes the signal mean "the parent process
/// died".
///
/// The caller waits while the spawner thread works, so there is one
/// spawner thread per CPU a spawn was asked from, pinned to it, and the
/// caller hands its job to the one of the CPU it runs on: waking it there
/// is a switch on that CPU, where waking a thread on another CPU costs an
/// inter-processor wake-up each way (and re-pinning one thread to follow
/// the caller, a migration at most spawns, as tokio's workers move). The
/// child, which would inherit the pin, is given the caller's own CPU set
/// back before `execve`, as if the caller had spawned it.
pub(crate) fn spawn_on_spawner_thread(req: &Request<'_>) -> Result<Spawned, Failure> {
    let (reply, answer) = mpsc::sync_channel(1);
    let caller_mask = thread_mask().map_err(Failure::Parent)?;
    let (cpu, caller_cpus) = caller_cpu();
    let spawner = spawner_for(cpu)?;
    // This thread too stays on its CPU until the answer: woken by the
    // spawner thread, the scheduler would otherwise move it to an idle CPU
    // (an inter-processor wake-up, measured at about 40 µs on a 2-CPU VM)
    // rather than wait for the waker, which is about to sleep.
    let _stay = cpu.zip(caller_cpus.as_ref()).and_then(|(cpu, mine)| StayOn::cpu(cpu, mine));
    let job = Job { req: (req as *const Request<'_>).cast(), caller_mask, caller_cpus, reply };
    let gone = || Failure::Thread(io::Error::other("the procwire-spawner thread is gone"));
    spawner.send(job).map_err(|_| gone())?;
    answer.recv().map_err(|_| gone())?
}

/// This thread pinned to one CPU until dropped, when its own set is put
/// back.
struct StayOn<'a> {
    mine: &'a libc::cpu_set_t,
}

impl<'a> StayOn<'a> {
    /// Pins this thread to `cpu` (below CPU_SETSIZE); `mine` is its set
    /// now, put back on drop. `None` if the pin failed: nothing changed.
    fn cpu(cpu: usize, mine: &'a libc::cpu_set_t) -> Option<StayOn<'a>> {
        pin_this_thread(cpu).then_some(StayOn { mine })
    }
}

/// Pins this thread to `cpu` (below CPU_SETSIZE); whether it could be (a
/// cpuset without that CPU refuses).
fn pin_this_thread(cpu: usize) -> bool {
    // SAFETY: an all-zero cpu_set_t is an empty set.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE (`caller_cpu` checks it; CPU_SET
    // writes the bit without a check).
    unsafe { libc::CPU_SET(cpu, &mut one) };
    // SAFETY: sets this thread's set from a valid cpu_set_t.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) == 0 }
}

impl Drop for StayOn<'_> {
    fn drop(&mut self) {
        // SAFETY: puts back the set read from this thread, a valid cpu_set_t.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), self.mine) };
    }
}

/// A spawn for a spawner thread.
struct Job {
    req: *const Request<'static>,
    caller_mask: u64,
    caller_cpus: Option<libc::cpu_set_t>,
    reply: mpsc::SyncSender<Result<Spawned, Failure>>,
}

// SAFETY: the submitting thread blocks on `reply` until the job is done,
// so the `Request` behind the pointer (and everything it points to)
// outlives the job; the spawner thread only reads it.
unsafe impl Send for Job {}

/// The slot of the spawner thread for a caller whose CPU is unknown: not
/// pinned.
const UNPINNED: usize = libc::CPU_SETSIZE as usize;

/// The spawner thread of `cpu` (or the unpinned one), started if there is
/// none yet. A start that fails (EAGAIN under RLIMIT_NPROC, ENOMEM) is not
/// remembered: the next spawn tries again, and this one goes to any
/// spawner thread that exists, or fails if none does.
fn spawner_for(cpu: Option<usize>) -> Result<mpsc::Sender<Job>, Failure> {
    use std::sync::{Mutex, PoisonError};
    static SPAWNERS: Mutex<Vec<Option<mpsc::Sender<Job>>>> = Mutex::new(Vec::new());
    let slot = cpu.unwrap_or(UNPINNED);
    let mut spawners = SPAWNERS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(Some(tx)) = spawners.get(slot) {
        return Ok(tx.clone());
    }
    match start_spawner(cpu) {
        Ok(tx) => {
            if spawners.len() <= slot {
                spawners.resize_with(slot + 1, || None);
            }
            spawners[slot] = Some(tx.clone());
            Ok(tx)
        }
        Err(e) => spawners.iter().flatten().next().cloned().ok_or(Failure::Thread(e)),
    }
}

/// Starts a spawner thread, pinned to `cpu` if it can be (if not, it runs
/// anywhere: the children get their caller's set all the same).
fn start_spawner(cpu: Option<usize>) -> io::Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new().name("procwire-spawner".into()).spawn(move || {
        // Not pinned if the cpuset refuses: its children get their
        // caller's set all the same.
        if let Some(cpu) = cpu {
            pin_this_thread(cpu);
        }
        for job in rx {
            // SAFETY: see `Job`: the request is alive until we reply.
            let req = unsafe { &*job.req };
            let result = spawn_keeping(req, Some(job.caller_mask), job.caller_cpus.as_ref());
            let _ = job.reply.send(result);
        }
    })?;
    Ok(tx)
}

/// The CPU this thread runs on, and the set of CPUs it may run on, for
/// its child; `None` for what cannot be read (a set wider than
/// `cpu_set_t`'s 1,024 CPUs: the child then keeps the spawner thread's
/// set, and the job goes to the unpinned spawner thread).
fn caller_cpu() -> (Option<usize>, Option<libc::cpu_set_t>) {
    // SAFETY: an all-zero cpu_set_t is an empty set.
    let mut mine: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: reads this thread's set into a cpu_set_t of the size given.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut mine) } != 0 {
        return (None, None);
    }
    // SAFETY: sched_getcpu has no preconditions (-1 on error).
    let cpu = unsafe { libc::sched_getcpu() };
    let cpu = usize::try_from(cpu).ok().filter(|&c| c < UNPINNED);
    (cpu, Some(mine))
}
