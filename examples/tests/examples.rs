//! The examples are part of the contract: each runs as a user would run it
//! (`cargo run --example NAME`) and prints what the howto says it prints.
//! Each test runs the built example binary to its end (killed and reaped
//! if it hangs) and checks its stdout and exit status.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use procwire::{ChildFd, Command};
use tokio::io::AsyncReadExt;

mod common;

use common::*;

/// The howto's verbose `wc` program (MyPP): ten verses of four lines are
/// written, stdin is closed, wc reports 40 lines, and every callback prints
/// its line, in an order that only varies where Twisted's does.
#[tokio::test]
async fn wc_example_counts_forty_lines() {
    let run = run_example("wc").await;
    run.assert_success();
    let lines: Vec<&str> = run.stdout.lines().collect();
    let stdout = &run.stdout;
    let n = lines.len();
    assert!(n >= 9, "{stdout}");
    // Fixed: first the connection, then our own close of stdin (reported as
    // it happens, so before wc can even see end of file); last the end.
    assert_eq!(lines[0], "connectionMade!", "{stdout}");
    assert_eq!(lines[1], "inConnectionLost! stdin is closed! (we probably did it)", "{stdout}");
    assert_eq!(lines[n - 2..], ["processEnded, status 0", "quitting"], "{stdout}");
    // Each of these exactly once.
    let pos = |s: &str| {
        let at: Vec<usize> = (0..n).filter(|&i| lines[i] == s).collect();
        assert_eq!(at.len(), 1, "{s:?} should be printed once: {stdout}");
        at[0]
    };
    let out_lost = pos("outConnectionLost! The child closed their stdout!");
    assert_eq!(lines[out_lost + 1], "I saw 40 lines", "{stdout}");
    let err_lost = pos("errConnectionLost! The child closed their stderr.");
    let exited = pos("processExited, status 0");
    // Everything else is stdout data (wc writes nothing on stderr), all of
    // it before stdout was lost, adding up to what wc prints for the verses.
    let fixed = [0, 1, out_lost, out_lost + 1, err_lost, exited, n - 2, n - 1];
    let mut received = 0;
    for (i, line) in lines.iter().enumerate().filter(|(i, _)| !fixed.contains(i)) {
        let bytes = line.strip_prefix("outReceived! with ").and_then(|l| l.strip_suffix(" bytes!"));
        let bytes: usize = bytes.and_then(|b| b.parse().ok()).unwrap_or_else(|| panic!("{line:?}: {stdout}"));
        assert!(i < out_lost && bytes > 0, "{line:?}: {stdout}");
        received += bytes;
    }
    assert_eq!(received, wc_output_len(&VERSE.repeat(10)), "{stdout}");
}

/// The howto's `WCProcessProtocol`: counts of one line of text.
#[tokio::test]
async fn wc_protocol_example_receives_counts() {
    let run = run_example("wc_protocol").await;
    run.assert_success();
    assert_eq!(run.stdout, "Received counts from wc.\nLines: 1\nWords: 6\nCharacters: 44\n");
    assert_eq!(run.stderr, "");
}

/// The howto's `childFDs` variants: `{0: 0, 1: 1, 2: 2}` puts `echo`'s
/// output straight into our stdout (the pipe this test reads), and an extra
/// input pipe on fd 4 reaches `sh -c 'cat <&4'`.
#[tokio::test]
async fn child_fds_example_shares_stdio_and_writes_fd_4() {
    let run = run_example("child_fds").await;
    run.assert_success();
    assert_eq!(
        run.stdout,
        "{0: 0, 1: 1, 2: 2}: echo writes on our stdout\n\
         shared stdio\n\
         echo exited with exit code 0\n\
         {0: \"w\", 1: \"r\", 2: \"r\", 4: \"w\"}: the child read from fd 4\n\
         written by the parent on fd 4\n\
         sh exited with exit code 0\n"
    );
    assert_eq!(run.stderr, "");
}

/// The howto's `getProcessValue` listing.
#[tokio::test]
async fn process_value_example_prints_exit_codes() {
    let run = run_example("process_value").await;
    run.assert_success();
    assert_eq!(run.stdout, "/bin/true exits with rc=0\n/bin/false exits with rc=1\n");
    assert_eq!(run.stderr, "");
}

/// `seq 1 100000 | grep 7 | wc -l` from procwire's pieces counts every
/// line (issue 9, defect 3: it counted 0 or 4188).
#[tokio::test]
async fn pipeline_example_counts_40951_lines() {
    let run = run_example("pipeline").await;
    run.assert_success();
    assert_eq!(run.stdout, "40951\n");
    assert_eq!(run.stderr, "");
}

/// `Run::checked_string` with a timeout: `git --version` as a string, a
/// failing `git` as `RunError::Failed` with git's stderr in the message, a
/// `sleep` past its timeout stopped by SIGTERM and reported as such.
#[tokio::test]
async fn run_with_timeout_example_returns_strings_and_typed_errors() {
    if !in_path("git") {
        println!("SKIPPED: git is not installed");
        return;
    }
    let run = run_example("run_with_timeout").await;
    run.assert_success();
    let stdout = &run.stdout;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("git version "), "{stdout}");
    // git's own words may be translated; the program, status and path are not.
    assert!(lines[1].starts_with("error: `git` failed (exit code 128): "), "{stdout}");
    assert!(lines[1].contains("/no/such/dir"), "{stdout}");
    assert_eq!(lines[2], "error: `sleep` timed out after 100ms (stopped by signal 15 (SIGTERM))");
    assert_eq!(run.stderr, "");
}

/// `spawn_lines` over stdout and stderr: every line once, tagged with its
/// stream, each stream in order, then the exit status.
#[tokio::test]
async fn stream_lines_example_logs_both_streams_in_order() {
    let run = run_example("stream_lines").await;
    run.assert_success();
    let stdout = &run.stdout;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{stdout}");
    let tagged = |tag: &str| lines.iter().filter_map(|l| l.strip_prefix(tag)).collect::<Vec<_>>();
    assert_eq!(tagged("[out] "), ["step 1", "step 2", "step 3"], "{stdout}");
    assert_eq!(tagged("[err] "), ["warning 1", "warning 2", "warning 3"], "{stdout}");
    assert_eq!(lines[6], "sh ended: exit code 0", "{stdout}");
    assert_eq!(run.stderr, "");
}

/// A conversation with `bc` over the raw pipes: three questions, three
/// answers, then end of input and a clean exit.
#[tokio::test]
async fn interactive_example_talks_to_bc() {
    if !in_path("bc") {
        println!("SKIPPED: bc is not installed");
        return;
    }
    let run = run_example("interactive").await;
    run.assert_success();
    assert_eq!(
        run.stdout,
        "2 + 3 = 5\n\
         2 ^ 64 = 18446744073709551616\n\
         scale = 5; 22 / 7 = 3.14285\n\
         bc exited with exit code 0\n"
    );
    assert_eq!(run.stderr, "");
}

/// The howto's `FortuneQuoter` as a TCP server: 100 clients connect at
/// once and each gets the whole output of its own run of the program (the
/// pid in it tells the runs apart); with no program given it quotes
/// `fortune` or `date`. SIGINT stops the server cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fortune_quoter_answers_100_concurrent_clients() {
    let quoter = Quoter::start(&["sh", "-c", "echo quote from $$"]).await;
    let clients = (0..100).map(|_| tokio::spawn(fetch(quoter.addr.clone())));
    let mut pids = std::collections::BTreeSet::new();
    for answer in join_tasks(clients).await {
        let answer = answer.expect("client task");
        let pid = answer.strip_prefix("quote from ").and_then(|a| a.strip_suffix('\n'));
        let pid: u32 = pid.and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("answer {answer:?}"));
        pids.insert(pid);
    }
    assert_eq!(pids.len(), 100, "each client got its own run");
    quoter.stop().await;

    let quoter = Quoter::start(&[]).await;
    let answer = fetch(quoter.addr.clone()).await;
    assert!(answer.len() > 1 && answer.ends_with('\n'), "default quote {answer:?}");
    quoter.stop().await;
}

/// The howto's `GPGProtocol` against the real gpg: a message encrypted with
/// `gpg --symmetric` decrypts with the passphrase on fd 3 and
/// `DECRYPTION_OKAY` on the status fd 4; the example's own gpg-agent is
/// stopped and reaped, and its temporary home is gone.
#[tokio::test]
async fn gpg_example_decrypts_with_status_on_fd_4() {
    for tool in ["gpg", "gpg-agent", "gpgconf"] {
        if !in_path(tool) {
            println!("SKIPPED: {tool} is not installed");
            return;
        }
    }
    let run = run_example("gpg").await;
    run.assert_success();
    let stdout = &run.stdout;
    let lines: Vec<&str> = stdout.lines().collect();
    for line in [
        "plaintext (fd 1): \"Take one down and pass it around,\\n\"",
        "[GNUPG:] DECRYPTION_OKAY",
        "DECRYPTION_OKAY: yes",
        "plaintext matches: yes",
        "homedir removed",
    ] {
        assert!(lines.contains(&line), "no {line:?} in: {stdout}");
    }
    let home = lines[0].strip_prefix("homedir: ").unwrap_or_else(|| panic!("no homedir: {stdout}"));
    assert!(!Path::new(home).exists(), "{home} was left behind");
    let stopped = lines.iter().find(|l| l.starts_with("gpg-agent (pid ") && l.contains(") stopped: "));
    let stopped = stopped.unwrap_or_else(|| panic!("the agent was not stopped: {stdout}"));
    assert!(stopped.ends_with(") stopped: exit code 0"), "{stdout}");
    // No agent (ours, or one gpg might have autostarted) survives for that home.
    let survivors = processes_mentioning(home);
    assert!(survivors.is_empty(), "left running for {home}: {survivors:?}");
}

/// `twistd procmon`'s twin: a program that dies at once is restarted
/// after 100, 200, 400, 400 ms (min 0.1 s, max 0.4 s, doubling), its lines
/// are logged under its name, and SIGINT stops everything: exit 0, no
/// child left.
#[tokio::test]
async fn procmon_example_restarts_with_doubling_delays_and_stops_on_sigint() {
    use tokio::io::AsyncBufReadExt;
    let marker = "procmon-example-marker";
    let script = format!("echo {marker}; exit 1");
    let mut child = Command::new(example("procmon"))
        .args([
            "--minrestartdelay",
            "0.1",
            "--maxrestartdelay",
            "0.4",
            "--killtime",
            "2",
            "sh",
            "-c",
            &script,
        ])
        .stdin(ChildFd::Null)
        .stderr(ChildFd::Parent(2))
        .kill_on_drop(true)
        .spawn()
        .expect("start procmon");
    let mut stdout = tokio::io::BufReader::new(child.take_reader(1).expect("stdout")).lines();
    let (mut delays, mut logged) = (Vec::new(), 0);
    let read = async {
        // A run's line and its exit travel apart (the pipe, the reap):
        // either may come first, so read until both counts are there.
        while delays.len() < 4 || logged < 4 {
            let line = stdout.next_line().await.expect("read").expect("procmon ended early");
            if line == format!("[sh] {marker}") {
                logged += 1;
            }
            if let Some(delay) = line.strip_prefix("[sh] exit code 1; restarting in ") {
                delays.push(delay.to_owned());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read).await.expect("procmon never restarted 4 times");
    assert_eq!(delays[..4], ["100ms", "200ms", "400ms", "400ms"]);
    assert!(logged >= 4, "{logged} lines logged");
    child.signal("INT").expect("signal procmon");
    let rest = async {
        let mut rest = Vec::new();
        while let Some(line) = stdout.next_line().await.expect("read") {
            rest.push(line);
        }
        rest
    };
    let rest = tokio::time::timeout(Duration::from_secs(30), rest).await.expect("procmon did not stop");
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
    let status =
        tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("exit").expect("wait");
    assert!(status.success(), "{status}");
    assert!(processes_mentioning(marker).is_empty(), "{:?}", processes_mentioning(marker));
}

/// Every example file is built and run: it is listed as an `[[example]]`
/// in this package's `Cargo.toml` (cargo does not find examples kept beside
/// the manifest on its own) and a test in this file runs it by name.
#[test]
fn every_example_is_listed_and_tested() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("read Cargo.toml");
    let tests = [include_str!("examples.rs"), include_str!("supervise.rs")].concat();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the examples directory").flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".rs") {
            names.push(name.to_owned());
        }
    }
    names.sort();
    assert!(names.len() >= 7, "examples found: {names:?}");
    for name in &names {
        assert!(
            manifest.contains(&format!("path = \"{name}.rs\"")),
            "{name}.rs is not an [[example]] in Cargo.toml"
        );
        let runs = [format!("run_example(\"{name}\")"), format!("example(\"{name}\")")];
        assert!(runs.iter().any(|run| tests.contains(run.as_str())), "no test runs the {name} example");
    }
}

/// The fortune_quoter example, running, and the address it listens on.
struct Quoter {
    child: procwire::Child,
    addr: String,
}

impl Quoter {
    async fn start(program: &[&str]) -> Quoter {
        use tokio::io::AsyncBufReadExt;
        let mut child = Command::new(example("fortune_quoter"))
            .arg("127.0.0.1:0")
            .args(program)
            .stdin(ChildFd::Null)
            .stderr(ChildFd::Parent(2))
            .kill_on_drop(true)
            .spawn()
            .expect("start fortune_quoter");
        let mut stdout = tokio::io::BufReader::new(child.take_reader(1).expect("stdout"));
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(60), stdout.read_line(&mut line));
        read.await.expect("fortune_quoter never listened").expect("read its stdout");
        let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}"));
        Quoter { addr: addr.to_owned(), child }
    }

    /// SIGINT, as a user's ^C: the server exits 0.
    async fn stop(mut self) {
        self.child.signal("INT").expect("signal the quoter");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        assert!(status.expect("the quoter did not stop").expect("wait").success());
    }
}

/// One client: connect, read until the server closes.
async fn fetch(addr: String) -> String {
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect to the quoter");
    let mut answer = String::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_string(&mut answer));
    read.await.expect("the quoter did not answer").expect("read the answer");
    answer
}

async fn join_tasks<T>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut results = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        results.push(task.await);
    }
    results
}

/// Four lines of the `wc` example's verse.
const VERSE: &str = "Aleph-null bottles of beer on the wall,\n\
                     Aleph-null bottles of beer,\n\
                     Take one down and pass it around,\n\
                     Aleph-null bottles of beer on the wall.\n";

/// How many bytes `wc` (with an empty environment, as in the example)
/// prints for `input`, asked through std so the answer does not depend on
/// procwire.
fn wc_output_len(input: &str) -> usize {
    let mut wc = std::process::Command::new("wc")
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wc");
    wc.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write to wc");
    let out = wc.wait_with_output().expect("wait for wc");
    assert!(out.status.success());
    out.stdout.len()
}
