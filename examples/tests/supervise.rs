//! The `supervise` example, a small supervisord: its sample's order at
//! start and stop, a terminal's ^C, a bad configuration, and a reload on
//! SIGHUP. Each test runs the built example binary.

use std::path::Path;
use std::time::Duration;

use procwire::{ChildFd, Command};

mod common;

use common::*;

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
        ("restart = \"sometimes\"", "key \"restart\""),
        ("stop_grace_ms = 5000", "key \"stop_grace_ms\": unknown field"),
        ("stop_grace = 5", "key \"stop_grace\": a duration is text with its unit: write \"5s\""),
        ("start_timeout = \"soon\"", "key \"start_timeout\""),
        ("ready = \"whenever\"", "key \"ready\""),
        ("backoff = \"fast\"", "key \"backoff\""),
        ("backoff = { first = \"1s\", max = \"1m\", factor = 0.5 }", "key \"backoff\": backoff factor 0.5"),
        ("stop_signal = \"TREM\"", "key \"stop_signal\""),
        // One signal parser everywhere (issue 21): no surrounding space.
        ("stop_signal = \" TERM\"", "key \"stop_signal\""),
        ("stop_signal = 0", "key \"stop_signal\""),
        ("after = [\"cache\"]", "key \"after\""),
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

/// A running `supervise` and the lines it printed so far.
struct Running {
    child: procwire::Child,
    stdout: tokio::io::Lines<tokio::io::BufReader<procwire::ChildReader>>,
    stderr: tokio::io::Lines<tokio::io::BufReader<procwire::ChildReader>>,
    lines: Vec<String>,
}

impl Running {
    fn start(config: &Path) -> Running {
        use tokio::io::AsyncBufReadExt;
        let mut child = Command::new(example("supervise"))
            .arg(config)
            .stdin(ChildFd::Null)
            .stderr(ChildFd::ReadPipe)
            .kill_on_drop(true)
            .spawn()
            .expect("start supervise");
        let stdout = tokio::io::BufReader::new(child.take_reader(1).expect("stdout")).lines();
        let stderr = tokio::io::BufReader::new(child.take_reader(2).expect("stderr")).lines();
        Running { child, stdout, stderr, lines: Vec::new() }
    }

    /// Reads stdout until `done` holds for the lines read so far (from
    /// `from`); a minute at most.
    async fn until(&mut self, from: usize, what: &str, done: impl Fn(&[String]) -> bool) {
        let read = async {
            while !done(&self.lines[from.min(self.lines.len())..]) {
                match self.stdout.next_line().await.expect("read") {
                    Some(line) => self.lines.push(line),
                    None => panic!("supervise ended early"),
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(60), read).await.is_err() {
            panic!("{what}: not seen in {:#?}", self.lines);
        }
    }

    /// The pid of the last `-> Running` event of `program`.
    fn pid(&self, program: &str) -> u32 {
        let line = self.lines.iter().rev().find(|l| is_event(l, program, "-> Running"));
        let line = line.unwrap_or_else(|| panic!("{program} never ran: {:#?}", self.lines));
        line.split_once(" (pid ")
            .and_then(|(_, r)| r.split_once(')'))
            .and_then(|(p, _)| p.parse().ok())
            .expect("a pid")
    }
}

/// SIGHUP applies the file again, as `supervisorctl update`: a program
/// added, one removed, one whose command changed restarted, one whose
/// backoff changed and one untouched kept with their pids; then a file
/// with a cycle changes nothing; then SIGTERM ends it with exit 0.
#[tokio::test]
async fn supervise_example_reloads_its_file_on_sighup() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("supervise-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let config = dir.join("supervise.toml");
    let program = |name: &str, secs: u32, extra: &str| {
        format!("[program.{name}]\ncommand = [\"sleep\", \"{secs}\"]\n{extra}\n")
    };
    let first = [
        program("a", 1000, ""),
        program("b", 1000, ""),
        program("c", 1000, ""),
        program("d", 1000, "backoff = \"procmon\""),
    ]
    .concat();
    std::fs::write(&config, first).expect("write the config");
    let mut run = Running::start(&config);
    let all_running = |lines: &[String]| {
        ["a", "b", "c", "d"].iter().all(|p| lines.iter().any(|l| is_event(l, p, "-> Running")))
    };
    run.until(0, "all four running", all_running).await;
    let (a, b, c, d) = (run.pid("a"), run.pid("b"), run.pid("c"), run.pid("d"));

    let second = [
        program("a", 1000, ""),
        program("c", 2000, ""),
        program("d", 1000, "backoff = \"supervisord\""),
        program("e", 1000, ""),
    ]
    .concat();
    std::fs::write(&config, second).expect("write the config");
    let from = run.lines.len();
    run.child.signal("HUP").expect("SIGHUP");
    let reloaded = |lines: &[String]| lines.iter().any(|l| l.starts_with("[supervise] reloaded"));
    run.until(from, "the reload", reloaded).await;
    let report = run.lines[from..].iter().find(|l| l.starts_with("[supervise] reloaded")).unwrap().clone();
    assert_eq!(
        report, "[supervise] reloaded: added e; removed b; restarted c; kept a, d",
        "{:#?}",
        run.lines
    );
    let at =
        |lines: &[String], program: &str, what: &str| lines.iter().position(|l| is_event(l, program, what));
    let up =
        |lines: &[String]| at(lines, "e", "-> Running").is_some() && at(lines, "c", "-> Running").is_some();
    run.until(from, "e and the new c running", up).await;
    assert!(at(&run.lines[from..], "b", "-> Removed").is_some(), "{:#?}", run.lines);
    assert_eq!((run.pid("a"), run.pid("d")), (a, d), "untouched and policy-only keep their pids");
    assert_ne!(run.pid("c"), c, "a new command, a new incarnation");
    let gone = live_processes_of(&[b, c]);
    assert!(gone.is_empty(), "b and c's old incarnation still run: {gone:?}");

    // A file with a cycle: refused, nothing changes.
    let third = [program("a", 1000, "after = [\"c\"]"), program("c", 3000, "after = [\"a\"]")].concat();
    std::fs::write(&config, third).expect("write the config");
    let from = run.lines.len();
    run.child.signal("HUP").expect("SIGHUP");
    run.until(from, "the second SIGHUP", |lines| lines.iter().any(|l| l.starts_with("[supervise] SIGHUP")))
        .await;
    let refused = tokio::time::timeout(Duration::from_secs(60), run.stderr.next_line()).await;
    let refused = refused.expect("a message").expect("read").expect("a line");
    assert!(refused.contains("a -> c -> a") && refused.contains("nothing changed"), "{refused}");

    let from = run.lines.len();
    run.child.signal("TERM").expect("SIGTERM");
    run.until(from, "the end", |lines| lines.iter().any(|l| l == "[supervise] stopped")).await;
    let status =
        tokio::time::timeout(Duration::from_secs(30), run.child.wait()).await.expect("exit").expect("wait");
    assert!(status.success(), "{status}: {:#?}", run.lines);
    // No event of the third file's programs after the refusal but the stops.
    assert!(!run.lines[from..].iter().any(|l| l.contains("-> Starting")), "{:#?}", run.lines);
    let pids = [run.pid("a"), run.pid("c"), run.pid("d"), run.pid("e")];
    assert!(live_processes_of(&pids).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
