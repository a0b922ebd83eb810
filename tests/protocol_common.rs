// Helpers shared by `protocol.rs` and `protocol_handle.rs` (included in
// both with `include!`): recording protocols, the staged and random
// children, small commands.

/// Serialises the tests that move a lot of data: the flow-control test
/// measures the resident memory of the whole process.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// process_tester.py's stages as pw-child steps.
const STAGES: &str =
    "read:0:4:abcd write:1:abcd close:1 read:0:4:1234 write:2:1234 close:2 read:0:4:abcd exit:23";


/// The write buffer's high-water mark for the streaming test.
const HIGH: usize = 256 * 1024;
/// The order checker's children write less than this to each fd.
const MAX_FILL: usize = 200 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Made,
    /// One chunk on an fd (recorded once for consecutive chunks).
    Data(RawFd),
    Lost(RawFd),
    Exited,
    Ended,
}

/// What a [`Rec`] saw.
#[derive(Debug, Default)]
struct Log {
    events: Vec<Ev>,
    data: BTreeMap<RawFd, Vec<u8>>,
    exited_at: Option<Instant>,
    ended_at: Option<Instant>,
    stdin_lost_at: Option<Instant>,
    /// Results of transport calls a hook made.
    results: Vec<Result<(), Error>>,
    on_exit: Option<oneshot::Sender<()>>,
}

impl Log {
    fn out(&self, fd: RawFd) -> &[u8] {
        self.data.get(&fd).map_or(&[], Vec::as_slice)
    }
}

type Hook = Box<dyn FnMut(&mut Log, &mut Transport, Ev) + Send>;

/// Records every callback in its [`Log`], then lets its hook act on it.
#[derive(Default)]
struct Rec {
    log: Log,
    hook: Option<Hook>,
}

impl Rec {
    fn new(hook: impl FnMut(&mut Log, &mut Transport, Ev) + Send + 'static) -> Self {
        Rec { log: Log::default(), hook: Some(Box::new(hook)) }
    }

    fn on(&mut self, t: &mut Transport, ev: Ev) {
        if !(matches!(ev, Ev::Data(_)) && self.log.events.last() == Some(&ev)) {
            self.log.events.push(ev);
        }
        match ev {
            Ev::Made => assert!(t.pid().is_some(), "no pid in connection_made"),
            Ev::Exited => self.log.exited_at = Some(Instant::now()),
            Ev::Ended => self.log.ended_at = Some(Instant::now()),
            Ev::Lost(0) => self.log.stdin_lost_at = Some(Instant::now()),
            _ => {}
        }
        if matches!(ev, Ev::Exited | Ev::Ended) {
            assert_eq!(t.pid(), None, "a pid after the reap");
            assert!(matches!(t.signal_process("INT"), Err(Error::ProcessExitedAlready)));
        }
        if let Some(hook) = self.hook.as_mut() {
            hook(&mut self.log, t, ev);
        }
        if let Some(tx) = self.log.on_exit.take_if(|_| ev == Ev::Exited) {
            let _ = tx.send(());
        }
    }
}

impl ProcessProtocol for Rec {
    fn connection_made(&mut self, t: &mut Transport) {
        self.on(t, Ev::Made);
    }
    fn child_data_received(&mut self, t: &mut Transport, fd: RawFd, data: Bytes) {
        self.log.data.entry(fd).or_default().extend_from_slice(&data);
        self.on(t, Ev::Data(fd));
    }
    fn child_connection_lost(&mut self, t: &mut Transport, fd: RawFd) {
        self.on(t, Ev::Lost(fd));
    }
    fn process_exited(&mut self, t: &mut Transport, _status: ExitStatus) {
        self.on(t, Ev::Exited);
    }
    fn process_ended(&mut self, t: &mut Transport, _reason: EndReason) {
        self.on(t, Ev::Ended);
    }
}

/// Twisted's TestProcessProtocol: each stage's input only once the previous
/// stage's output pipe is lost; signal_process tried in process_ended.
fn staged() -> Rec {
    Rec::new(|log, t, ev| match ev {
        Ev::Made => t.write("abcd").expect("write stage 1"),
        Ev::Lost(1) => {
            assert_eq!(log.out(1), b"abcd", "stage 1 output");
            t.write("1234").expect("write stage 2");
        }
        Ev::Lost(2) => {
            assert_eq!(log.out(2), b"1234", "stage 2 output");
            t.write("abcd").expect("write stage 3");
        }
        Ev::Ended => log.results.push(t.signal_process("INT")),
        _ => {}
    })
}

fn check_staged(log: &Log, reason: EndReason) {
    use Ev::*;
    // The child reads stdin until it exits: stdin is lost then, just before or after the reap.
    let without_stdin: Vec<Ev> = log.events.iter().copied().filter(|e| *e != Lost(0)).collect();
    assert_eq!(without_stdin, [Made, Data(1), Lost(1), Data(2), Lost(2), Exited, Ended], "{:?}", log.events);
    let stdin_lost = log.events.iter().position(|e| *e == Lost(0));
    assert!(stdin_lost.is_some_and(|at| at > 4), "stdin lost before stage 3: {:?}", log.events);
    assert_eq!(reason.status.code(), Some(23), "{reason:?}");
    let terminated = reason.status.reason().expect_err("exit 23 is ProcessTerminated");
    assert_eq!(terminated.exit_code(), Some(23));
    assert!(!reason.pipes_force_closed);
    assert!(matches!(log.results[..], [Err(Error::ProcessExitedAlready)]), "{:?}", log.results);
}

/// One random child: `Err` says what went wrong. Every guarantee is checked
/// on the recorded callbacks, and every byte against what the child wrote.
async fn checked_child(seed: u64) -> Result<(), String> {
    let (steps, expected, code) = random_script(&mut Rng(seed));
    let mut command = pw(&steps);
    command.child_fd(3, ChildFd::ReadPipe);
    let handle = spawn_process(Rec::default(), &mut command, Options::new()).map_err(|e| e.to_string())?;
    let ended = guard(60, "checked child", handle).await.map_err(|e| e.to_string())?;
    let log = &ended.protocol.log;
    let mut problems = order_violations(&log.events, &[0, 1, 2, 3]);
    static PATTERN: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| (0..MAX_FILL).map(|i| (i % 251) as u8).collect());
    for (fd, n) in expected {
        if log.out(fd) != &pattern[..n] {
            problems.push(format!("fd {fd}: {} bytes back, child wrote {n}", log.out(fd).len()));
        }
    }
    if ended.reason.status.code() != Some(code) {
        problems.push(format!("status {:?}, want exit {code}", ended.reason.status));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{steps:?}: {}", problems.join("; ")))
    }
}

/// The ordering guarantees, checked on a callback log: connection_made
/// first and once; process_exited once; process_ended once and last; each
/// of `fds` lost once, and no data on it after.
fn order_violations(events: &[Ev], fds: &[RawFd]) -> Vec<String> {
    let count = |ev: Ev| events.iter().filter(|e| **e == ev).count();
    let mut bad = Vec::new();
    if events.first() != Some(&Ev::Made) || count(Ev::Made) != 1 {
        bad.push("connection_made not first, or not once".to_owned());
    }
    if events.last() != Some(&Ev::Ended) || count(Ev::Ended) != 1 || count(Ev::Exited) != 1 {
        bad.push("process_exited not once, or process_ended not last and once".to_owned());
    }
    for &fd in fds {
        match events.iter().position(|e| *e == Ev::Lost(fd)) {
            Some(at) if events[at..].contains(&Ev::Data(fd)) => {
                bad.push(format!("data on fd {fd} after lost"))
            }
            Some(_) if count(Ev::Lost(fd)) == 1 => {}
            _ => bad.push(format!("fd {fd} lost {} times", count(Ev::Lost(fd)))),
        }
    }
    if !bad.is_empty() {
        bad.push(format!("{events:?}"));
    }
    bad
}

/// A pw-child script filling fds 1, 2 and 3 (under 200 KiB each, random
/// order), closing some, and exiting with a random code at a random step:
/// the steps, the bytes each fd gets, the exit code.
fn random_script(rng: &mut Rng) -> (Vec<String>, Vec<(RawFd, usize)>, i32) {
    let mut fds = [1, 2, 3];
    for i in (1..fds.len()).rev() {
        fds.swap(i, rng.below(i + 1));
    }
    // (fd, Some(n)): fill n bytes; (fd, None): close.
    let mut steps: Vec<(RawFd, Option<usize>)> =
        fds.iter().map(|&fd| (fd, Some(rng.below(MAX_FILL)))).collect();
    for fd in fds {
        if rng.below(2) == 0 {
            let after = steps.iter().position(|s| s.0 == fd).expect("fill") + 1;
            steps.insert(after + rng.below(steps.len() - after + 1), (fd, None));
        }
    }
    steps.truncate(rng.below(steps.len() + 1));
    let code = rng.below(256) as i32;
    let filled = |fd| steps.iter().filter(|s| s.0 == fd).find_map(|s| s.1).unwrap_or(0);
    let expected = fds.iter().map(|&fd| (fd, filled(fd))).collect();
    let mut args: Vec<String> = steps
        .iter()
        .map(|&(fd, fill)| fill.map_or(format!("close:{fd}"), |n| format!("fill:{fd}:{n}")))
        .collect();
    args.push(format!("exit:{code}"));
    (args, expected, code)
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// Streams `left` bytes into the child in fresh 64 KiB chunks (so a
/// runaway queue would show in memory), driven by connection_made and
/// resume_producing, and counts what comes back.
#[derive(Debug, Default)]
struct Streamer {
    left: u64,
    paused: bool,
    received: u64,
    pauses: u32,
    resumes: u32,
    calls: u64,
    rss_max: u64,
    progress: Arc<AtomicU64>,
}

impl Streamer {
    /// Writes until the buffer passes the high-water mark, so the driver
    /// must call pause_producing, and later resume_producing.
    fn produce(&mut self, t: &mut Transport) {
        while !self.paused && self.left > 0 && t.buffered() <= HIGH {
            let n = self.left.min(64 * 1024) as usize;
            t.write(vec![b'x'; n]).expect("write");
            self.left -= n as u64;
        }
        if self.left == 0 {
            t.close_stdin();
        }
        self.rss_max = self.rss_max.max(rss_kib());
    }
}

impl ProcessProtocol for Streamer {
    fn connection_made(&mut self, t: &mut Transport) {
        self.produce(t);
    }
    fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
        self.received += data.len() as u64;
        self.progress.store(self.received, Ordering::Relaxed);
        self.calls += 1;
        if self.calls.is_multiple_of(64) {
            self.rss_max = self.rss_max.max(rss_kib());
        }
    }
    fn pause_producing(&mut self, _t: &mut Transport) {
        self.paused = true;
        self.pauses += 1;
    }
    fn resume_producing(&mut self, t: &mut Transport) {
        self.paused = false;
        self.resumes += 1;
        self.produce(t);
    }
}

/// Stops reading at 1 MiB; only process_exited resumes.
#[derive(Debug, Default)]
struct ReadPause {
    received: u64,
    paused_at: Option<u64>,
    data_while_paused: u64,
    exited: bool,
    on_pause: Option<oneshot::Sender<u64>>,
}

impl ProcessProtocol for ReadPause {
    fn out_received(&mut self, t: &mut Transport, data: Bytes) {
        if self.paused_at.is_some() && !self.exited {
            self.data_while_paused += data.len() as u64;
        }
        self.received += data.len() as u64;
        if self.paused_at.is_none() && self.received >= 1 << 20 {
            t.pause_producing();
            self.paused_at = Some(self.received);
            let _ = self.on_pause.take().expect("once").send(self.received);
        }
    }
    fn process_exited(&mut self, t: &mut Transport, _status: ExitStatus) {
        self.exited = true;
        t.resume_producing();
    }
}

/// After process_exited: lost(0), lost(1) and lost(2) in some order (the
/// grandchild holds all three), then process_ended.
fn assert_lost_between_exit_and_end(events: &[Ev]) {
    let exited = events.iter().position(|e| *e == Ev::Exited).expect("exited");
    // Data may be read just before or after the reap; only the lost ones are ordered here.
    let mut tail: Vec<Ev> =
        events[exited + 1..].iter().copied().filter(|e| !matches!(e, Ev::Data(_))).collect();
    assert_eq!(tail.pop(), Some(Ev::Ended), "{events:?}");
    tail.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(tail, [Ev::Lost(0), Ev::Lost(1), Ev::Lost(2)], "{events:?}");
}

/// Awaits `handle`, failing if `progress` stands still for 10 s.
async fn watch<P>(mut handle: ProcessHandle<P>, progress: &AtomicU64, what: &str) -> procwire::Ended<P> {
    let mut last = u64::MAX;
    loop {
        tokio::select! {
            ended = &mut handle => return ended.expect("driver"),
            _ = tokio::time::sleep(Duration::from_secs(10)) => {
                let now = progress.load(Ordering::Relaxed);
                assert_ne!(now, last, "{what}: stalled at {now} bytes for 10 s");
                last = now;
            }
        }
    }
}

fn pw<S: AsRef<std::ffi::OsStr>>(steps: impl IntoIterator<Item = S>) -> Command {
    let mut command = Command::new(pw_child!());
    command.args(steps).kill_on_drop(true);
    command
}

fn cat() -> Command {
    let mut command = Command::new("cat");
    command.kill_on_drop(true);
    command
}

/// This process's resident set size in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).expect("VmRSS");
    line.trim().trim_end_matches("kB").trim().parse().expect("VmRSS in kB")
}

fn read_to_end(fd: std::os::fd::OwnedFd) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut out).expect("read");
    out
}

/// Waits until `pid` is gone from `/proc`: dead and reaped (by procwire's
/// background reaper, which has no event to await), never left a zombie.
async fn until_reaped(pid: u32, what: &str) {
    until_dead(pid, what).await;
    guard(10, what, async {
        while process_exists(pid) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(!zombie_children().contains(&pid), "{what}: a zombie");
}

/// Tells the test about each callback, and counts those that start once
/// the test's `aborted` flag is set (none may).
#[derive(Debug)]
struct Tell {
    tx: mpsc::UnboundedSender<&'static str>,
    aborted: Arc<AtomicBool>,
    late: Arc<AtomicUsize>,
    /// Aborts this handle at the first data, then sets `aborted`.
    abort_on_data: Option<Arc<std::sync::Mutex<Option<ProcessHandle<Tell>>>>>,
}

impl Tell {
    #[allow(clippy::type_complexity)]
    fn new() -> (Tell, mpsc::UnboundedReceiver<&'static str>, Arc<AtomicBool>, Arc<AtomicUsize>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (aborted, late) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        (Tell { tx, aborted: aborted.clone(), late: late.clone(), abort_on_data: None }, rx, aborted, late)
    }

    fn on(&self, what: &'static str) {
        if self.aborted.load(Ordering::SeqCst) {
            self.late.fetch_add(1, Ordering::SeqCst);
        }
        let _ = self.tx.send(what);
    }
}

impl ProcessProtocol for Tell {
    fn connection_made(&mut self, _t: &mut Transport) {
        self.on("made");
    }
    fn child_data_received(&mut self, t: &mut Transport, _fd: RawFd, _data: Bytes) {
        self.on("data");
        if let Some(slot) = self.abort_on_data.take() {
            slot.lock().expect("slot").as_ref().expect("the handle").abort();
            self.aborted.store(true, Ordering::SeqCst);
            // Without the abort, the driver would report this in the same poll.
            t.close_stdout();
        }
    }
    fn child_connection_lost(&mut self, _t: &mut Transport, _fd: RawFd) {
        self.on("lost");
    }
    fn process_exited(&mut self, _t: &mut Transport, _status: ExitStatus) {
        self.on("exited");
    }
    fn process_ended(&mut self, _t: &mut Transport, _reason: EndReason) {
        self.on("ended");
    }
}

/// Writes a line to `cat` and reports what came back at `process_ended`.
#[derive(Debug, Default)]
struct Detached {
    out: Vec<u8>,
    done: Option<oneshot::Sender<(Vec<u8>, EndReason)>>,
}

impl ProcessProtocol for Detached {
    fn connection_made(&mut self, t: &mut Transport) {
        if t.write("written after the handle was dropped\n").is_ok() {
            t.close_stdin();
        }
    }
    fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
        self.out.extend_from_slice(&data);
    }
    fn process_ended(&mut self, _t: &mut Transport, reason: EndReason) {
        if let Some(done) = self.done.take() {
            let _ = done.send((std::mem::take(&mut self.out), reason));
        }
    }
}

/// The producer's write size.
const CHUNK: usize = 64 * 1024;

/// Writes `total` bytes of a pattern in `CHUNK`s while the write buffer is
/// not full, and checks every byte that comes back against the pattern.
#[derive(Debug, Default)]
struct Producer {
    total: usize,
    sent: usize,
    max_buffered: usize,
    received: usize,
    mismatches: usize,
    pauses: u32,
    resumes: u32,
}

fn pattern(at: usize) -> u8 {
    (at % 251) as u8
}

impl Producer {
    fn produce(&mut self, t: &mut Transport) {
        while self.sent < self.total && !t.write_buffer_full() {
            let n = CHUNK.min(self.total - self.sent);
            t.write((self.sent..self.sent + n).map(pattern).collect::<Vec<u8>>()).expect("write");
            self.sent += n;
            self.max_buffered = self.max_buffered.max(t.buffered());
        }
        if self.sent == self.total {
            t.close_stdin();
        }
    }
}

impl ProcessProtocol for Producer {
    fn connection_made(&mut self, t: &mut Transport) {
        self.produce(t);
    }
    fn out_received(&mut self, _t: &mut Transport, data: Bytes) {
        let at = self.received;
        self.mismatches += data.iter().enumerate().filter(|&(i, &b)| b != pattern(at + i)).count();
        self.received += data.len();
    }
    fn pause_producing(&mut self, _t: &mut Transport) {
        self.pauses += 1;
    }
    fn resume_producing(&mut self, t: &mut Transport) {
        self.resumes += 1;
        self.produce(t);
    }
}
