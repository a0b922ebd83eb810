//! The examples are part of the contract: each runs as a user would run it
//! (`cargo run --example NAME`) and prints what the howto says it prints.
//! Each test runs the built example binary to its end (killed and reaped
//! if it hangs) and checks its stdout and exit status.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use procwire::{ChildFd, ChildReader, Command, ExitStatus};
use tokio::io::AsyncReadExt;

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

/// The small supervisord on its sample configuration: "db" (the example's
/// own binary, ready through sd_notify after 300 ms) is `Running` before
/// "web", which runs after it, starts; SIGTERM stops web before db, then
/// supervise exits 0 and no process of the run (nor of web's group) is
/// left alive.
#[tokio::test]
async fn supervise_example_starts_db_then_web_and_stops_web_first_on_sigterm() {
    supervise_example_until(false).await;
}

/// A terminal's ^C: SIGINT to the whole foreground process group, which
/// the supervisor leads here. With the defaults, each program leads a
/// group of its own, so the signal reaches the supervisor only, and the
/// programs stop in order, web first, by its hand (#17).
#[tokio::test]
async fn supervise_example_stops_in_order_on_a_terminals_sigint() {
    supervise_example_until(true).await;
}

/// Runs the sample until web is up, then stops it with SIGTERM, or with
/// SIGINT to its process group (`group_sigint`); checks the order.
async fn supervise_example_until(group_sigint: bool) {
    use tokio::io::AsyncBufReadExt;
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("supervise.toml");
    let mut child = Command::new(example("supervise"))
        .arg(&sample)
        .stdin(ChildFd::Null)
        .stderr(ChildFd::Parent(2))
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("start supervise");
    let mut stdout = tokio::io::BufReader::new(child.take_reader(1).expect("stdout")).lines();
    let mut lines = Vec::new();
    let up = async {
        // Up: web ready, and its lines printed.
        let web_running = |lines: &[String]| lines.iter().any(|l| is_event(l, "web", "-> Running"));
        while !(web_running(&lines) && lines.iter().any(|l| l.starts_with("[web] serving"))) {
            match stdout.next_line().await.expect("read") {
                Some(line) => lines.push(line),
                None => panic!("supervise ended early: {lines:#?}"),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), up).await.is_err() {
        panic!("web never ran: {lines:#?}");
    }
    if group_sigint {
        child.signal_group("INT").expect("SIGINT to the group of supervise");
    } else {
        child.signal("TERM").expect("signal supervise");
    }
    let rest = async {
        while let Some(line) = stdout.next_line().await.expect("read") {
            lines.push(line);
        }
    };
    if tokio::time::timeout(Duration::from_secs(30), rest).await.is_err() {
        panic!("supervise did not stop: {lines:#?}");
    }
    let status =
        tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("exit").expect("wait");
    assert!(status.success(), "{status}: {lines:#?}");

    let at = |program: &str, what: &str| {
        let at = lines.iter().position(|l| is_event(l, program, what));
        at.unwrap_or_else(|| panic!("no {program} {what:?} event: {lines:#?}"))
    };
    assert!(at("db", "-> Running: ready") < at("web", "-> Starting"), "{lines:#?}");
    assert!(at("web", "Stopping -> Stopped") < at("db", "-> Stopping"), "{lines:#?}");
    assert!(at("db", "-> Stopping") < at("db", "Stopping -> Stopped"), "{lines:#?}");
    assert_eq!(lines.last().map(String::as_str), Some("[supervise] stopped"), "{lines:#?}");
    // Both incarnations' pids, from the events; web led a group (its
    // `sleep` in it).
    let mut pids: Vec<u32> = lines
        .iter()
        .filter(|l| l.starts_with("[event] "))
        .filter_map(|l| l.split_once(" (pid ")?.1.split_once(')')?.0.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 2, "{lines:#?}");
    let left = live_processes_of(&pids);
    assert!(left.is_empty(), "left running: {left:?}");
}

/// A bad configuration is refused before anything runs: exit 2, nothing
/// on stdout, and the message names the program and the key.
#[tokio::test]
async fn supervise_example_refuses_a_bad_config_naming_program_and_key() {
    let cases = [
        ("restart = \"sometimes\"", "key `restart`"),
        ("stop_grace = 5", "`stop_grace`"),
        ("start_timeout_ms = \"soon\"", "key `start_timeout_ms`"),
        ("ready = \"whenever\"", "key `ready`"),
        ("backoff = \"fast\"", "key `backoff`"),
        ("stop_signal = \"TREM\"", "key `stop_signal`"),
        // One signal parser everywhere (issue 21): no surrounding space.
        ("stop_signal = \" TERM\"", "key `stop_signal`"),
        ("stop_signal = 0", "key `stop_signal`"),
    ];
    for (i, (bad, key)) in cases.into_iter().enumerate() {
        let config = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("supervise-bad-{i}.toml"));
        let text =
            format!("[program.db]\ncommand = [\"true\"]\n\n[program.web]\ncommand = [\"true\"]\n{bad}\n");
        std::fs::write(&config, text).expect("write the config");
        let run = run_example_with("supervise", &[config.as_os_str()]).await;
        assert_eq!(run.status.code(), Some(2), "{bad}: {run:?}");
        assert_eq!(run.stdout, "", "{bad}");
        assert!(run.stderr.contains("program \"web\""), "{bad}: {}", run.stderr);
        assert!(run.stderr.contains(key), "{bad}: {}", run.stderr);
        let _ = std::fs::remove_file(&config);
    }
}

/// Whether `line` is an event of `program` that mentions `what`.
fn is_event(line: &str, program: &str, what: &str) -> bool {
    line.strip_prefix("[event] ").and_then(|l| l.strip_prefix(program)).is_some_and(|l| l.starts_with(' '))
        && line.contains(what)
}

/// Live processes (not zombies) that are one of `pids` or in the process
/// group of one, from `/proc/PID/stat`.
fn live_processes_of(pids: &[u32]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        // Numbers only: not `self` and `thread-self`, which are this process.
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) S ppid pgrp ...": comm may hold spaces, so split after ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let mut fields = rest.split_whitespace();
        let (Some(state), Some(_ppid), Some(pgrp)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let ours = pids.contains(&pid) || pgrp.parse().is_ok_and(|g: u32| pids.contains(&g));
        if ours && !matches!(state, "Z" | "X") {
            found.push(stat);
        }
    }
    found
}

/// Every example file is built and run: it is listed as an `[[example]]`
/// in this package's `Cargo.toml` (cargo does not find examples kept beside
/// the manifest on its own) and a test in this file runs it by name.
#[test]
fn every_example_is_listed_and_tested() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("read Cargo.toml");
    let tests = include_str!("examples.rs");
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

/// What a finished example printed.
#[derive(Debug)]
struct Run {
    name: &'static str,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_success(&self) {
        assert!(
            self.status.success(),
            "{} example: {}\n{}\n{}",
            self.name,
            self.status,
            self.stdout,
            self.stderr
        );
    }
}

/// Runs an example to its end; a hang fails the test after a minute, and
/// the example is then killed and reaped (`kill_on_drop`).
async fn run_example(name: &'static str) -> Run {
    run_example_with(name, &[]).await
}

/// [`run_example`] with arguments.
async fn run_example_with(name: &'static str, args: &[&std::ffi::OsStr]) -> Run {
    let mut child = Command::new(example(name))
        .args(args)
        .stdin(ChildFd::Null)
        .stderr(ChildFd::ReadPipe)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("run the {name} example: {e}"));
    let out = read_all(child.take_reader(1).expect("stdout"));
    let err = read_all(child.take_reader(2).expect("stderr"));
    let run = async {
        let (stdout, stderr) = tokio::join!(out, err);
        (stdout, stderr, child.wait().await.expect("wait"))
    };
    let (stdout, stderr, status) = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("the {name} example hung"));
    Run { name, status, stdout, stderr }
}

async fn read_all(mut pipe: ChildReader) -> String {
    let mut text = String::new();
    pipe.read_to_string(&mut text).await.expect("read the example's output");
    text
}

/// The example's binary, `target/<profile>/examples/NAME`, one level above
/// the test's `deps/`. `cargo test` builds examples only when no target is
/// selected, so under `cargo test --test examples` they could be missing or
/// stale: the first call builds them all with the cargo running this test,
/// into the same target directory and with the same `RUSTFLAGS`.
fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    BUILT.call_once(|| build_examples(profile_dir));
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} not built", path.display());
    path
}

fn build_examples(profile_dir: &Path) {
    let Some(cargo) = std::env::var_os("CARGO") else {
        println!("CARGO is not set (not run by cargo): using the examples as built");
        return;
    };
    let target_dir = profile_dir.parent().expect("target dir");
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--quiet", "-p", "procwire-examples", "--examples", "--target-dir"]).arg(target_dir);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build --examples");
    assert!(status.success(), "cargo build --examples: {status}");
}

fn in_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

/// Live processes (not zombies: those have no command line) whose command
/// line mentions `text`, as `(pid, command line)`.
fn processes_mentioning(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(text) {
            found.push((pid, cmdline));
        }
    }
    found
}
