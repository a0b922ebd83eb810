//! Configurations in the library (issue 17): a TOML file with every key
//! reads as the same specs as the builder calls it stands for; a bad one
//! is one error naming the program and the key; a `liveness` table runs
//! its command. (The property tests are beside the reader, in
//! `crates/supervisor/src/config/props.rs`.)

use std::time::Duration;

use procwire::{ChildFd, Command, Signal, StopPolicy, StopScope};
use procwire_supervisor::{
    Backoff, Builder, Cause, ConfigError, FileMode, Liveness, LogSpec, NotifyAccess, ProgramSpec, Readiness,
    RestartPolicy, RestartSpec, StartLimit, State, Strategy, Supervisor, SupervisorConfig,
};
use procwire_tests::guard;

#[path = "supervise_common.rs"]
mod common;

use common::*;

/// Every key, each on a line of its own (so that a test can leave any one
/// out), none at its default.
const EVERY_KEY: &str = r#"
[supervisor]
strategy = "rest-for-one"
intensity = { restarts = 7, period = "1m30s" }
notify_systemd = true
event_capacity = 64
log_capacity = 32

[program.db]
command = ["postgres", "-D", "/var/lib/postgres"]
env_remove = ["PGDATA", "PGPORT"]
ready = "notify:group"
cgroup = "/sys/fs/cgroup/db"
stop_scope = "cgroup"
parent_death_signal = false
backoff = "procmon"
stdout = "null"
stderr = "inherit"

[program.web]
command = ["web", "--port", "8080"]
arg0 = "web-server"
env = { PORT = "8080", LANG = "C" }
env_clear = true
cwd = "/srv/web"
uid = 1000
gid = 100
groups = [100, 27]
restart = "on-failure"
success_codes = [0, 3]
success_signals = ["USR1", 12]
prevent_codes = [78]
prevent_signals = ["SIGRTMIN+1"]
min_uptime = "2s"
backoff = { first = "100ms", factor = 1.5, max = "30s", stable = "1s", jitter = 0.25 }
start_limit = { burst = 4, interval = "20s", retry_after = "5m" }
max_retries = 6
ready = "log-line:listening"
start_timeout = "30s"
watchdog = "10s"
liveness = { exec = ["curl", "-fs", "http://127.0.0.1:8080/health"], interval = "5s", timeout = "2s", failures = 2 }
after = ["db"]
requires = true
autostart = false
stop_signal = "INT"
stop_grace = "1.5s"
stop_final_signal = 3
stop_scope = "group"
own_process_group = false
parent_death_signal = "TERM"
log_fds = [1, 2, 3]
log_max_line = 4096
stdout = "append:/var/log/web.log"
stderr = "truncate:/var/log/web.err"

[program.cache]
command = ["cache"]
ready_probe = { exec = ["cache-cli", "ping"], interval = "500ms", timeout = "250ms" }
"#;

/// The builder calls `EVERY_KEY` stands for.
fn every_key_by_hand() -> (Builder, Vec<ProgramSpec>) {
    let (ms, s) = (Duration::from_millis, Duration::from_secs);
    let mut builder = Builder::new();
    builder.strategy(Strategy::RestForOne).intensity(7, s(90)).unwrap().notify_systemd(true).capacity(64, 32);

    let mut db = ProgramSpec::new(
        "db",
        Command::new("postgres")
            .args(["-D", "/var/lib/postgres"])
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .child_fd(1, ChildFd::Null)
            .child_fd(2, ChildFd::Parent(2))
            .clone(),
    );
    let mut restart = RestartSpec::new();
    restart.backoff(Backoff::procmon());
    db.ready(Readiness::Notify { access: NotifyAccess::Group })
        .cgroup("/sys/fs/cgroup/db")
        .stop(StopPolicy::new().with_scope(StopScope::Cgroup))
        .parent_death_signal(None)
        .restart(restart);

    let mut command = Command::new("web");
    command
        .args(["--port", "8080"])
        .arg0("web-server")
        .env_clear()
        .envs([("PORT", "8080"), ("LANG", "C")])
        .current_dir("/srv/web")
        .uid(1000)
        .gid(100)
        .groups(&[100, 27]);
    let mut restart = RestartSpec::new();
    restart
        .policy(RestartPolicy::OnFailure)
        .success_codes([0, 3])
        .success_signals([Signal::USR1, Signal::USR2])
        .prevent_codes([78])
        .prevent_signals(["SIGRTMIN+1".parse().unwrap()])
        .min_uptime(s(2))
        .backoff(
            Backoff::exponential(ms(100), 1.5, s(30)).unwrap().with_stable(s(1)).with_jitter(0.25).unwrap(),
        )
        .start_limit(Some(StartLimit::new(4, s(20)).unwrap().with_retry_after(s(300))))
        .max_retries(Some(6));
    let mut log = LogSpec::new();
    log.fds([1, 2, 3]).max_line(4096);
    let mut web = ProgramSpec::new("web", command);
    web.restart(restart)
        .ready(Readiness::log_line(|_| true))
        .start_timeout(s(30))
        .watchdog(s(10))
        .liveness(Liveness::new(|| async { true }).interval(s(5)).timeout(s(2)).failures(2))
        .after(["db"])
        .requires(true)
        .autostart(false)
        .stop(
            StopPolicy::new()
                .with_signal(Signal::INT)
                .with_grace(ms(1500))
                .with_final_signal(Signal::QUIT)
                .with_scope(StopScope::Group),
        )
        .own_process_group(false)
        .parent_death_signal(Some(Signal::TERM))
        .log(log)
        .output_file(1, "/var/log/web.log", FileMode::Append)
        .output_file(2, "/var/log/web.err", FileMode::Truncate);
    let mut cache = ProgramSpec::new("cache", Command::new("cache"));
    cache.ready(Readiness::probe(ms(500), || async { true }));
    (builder, vec![db, web, cache])
}

/// What a configuration reads as, in `{:#?}` (every setting, the
/// command's included; a `log-line` predicate and a liveness probe show
/// as `..`).
fn debug(text: &str) -> Result<(String, Vec<String>), ConfigError> {
    let config = SupervisorConfig::from_toml(text)?;
    let builder = config.builder()?;
    let specs = config.programs()?;
    Ok((format!("{builder:#?}"), specs.iter().map(|s| format!("{s:#?}")).collect()))
}

#[test]
fn every_key_reads_as_the_builder_calls_it_stands_for() {
    let (builder, specs) = every_key_by_hand();
    let by_hand = (format!("{builder:#?}"), specs.iter().map(|s| format!("{s:#?}")).collect::<Vec<_>>());
    assert_eq!(debug(EVERY_KEY).unwrap(), by_hand);
    // Written back by serde, it reads the same.
    let config = SupervisorConfig::from_toml(EVERY_KEY).unwrap();
    let again = toml::to_string(&config).unwrap();
    assert_eq!(SupervisorConfig::from_toml(&again).unwrap(), config, "{again}");
    assert_eq!(debug(&again).unwrap(), by_hand);
}

/// Each key has an effect the spec shows: left out, the specs differ.
/// (So no key is read and dropped, and `ProgramSpec`'s `Debug` shows
/// every setting a configuration can hold.)
#[test]
fn every_key_is_seen_in_the_specs() {
    let all = debug(EVERY_KEY).unwrap();
    let lines: Vec<&str> = EVERY_KEY.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if !line.contains(" = ") || line.starts_with("command") {
            continue;
        }
        let without: Vec<&str> = lines.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, l)| *l).collect();
        match debug(&without.join("\n")) {
            Ok(fewer) => assert_ne!(fewer, all, "{line} changes nothing"),
            // `stop_scope = "cgroup"` needs `cgroup`.
            Err(e) => {
                assert_eq!((line.starts_with("cgroup"), e.key.as_deref()), (true, Some("stop_scope")), "{e}")
            }
        }
    }
}

/// A key left out is the library's default: a program with only its
/// command is `ProgramSpec::new`'s, an empty file `Builder::new`'s.
#[test]
fn a_key_left_out_is_the_librarys_default() {
    let (builder, specs) = debug("[program.a]\ncommand = [\"a\"]").unwrap();
    assert_eq!(builder, format!("{:#?}", Builder::new()));
    assert_eq!(specs, [format!("{:#?}", ProgramSpec::new("a", Command::new("a")))]);
    assert_eq!(debug("").unwrap(), (format!("{:#?}", Builder::new()), vec![]));
}

/// The programs keep the file's order (not their names').
#[test]
fn programs_keep_the_files_order() {
    let config = SupervisorConfig::from_toml(
        "[program.zeta]\ncommand = [\"z\"]\n[program.alpha]\ncommand = [\"a\"]\n[program.mid]\ncommand = [\"m\"]",
    )
    .unwrap();
    let names: Vec<String> = config.programs().unwrap().iter().map(|s| s.get_name().to_owned()).collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
}

/// Each bad input is one error: its program, its key (a dotted path
/// within the program's table, or from the top without a program), and a
/// message that says what is wrong.
#[test]
fn a_bad_config_is_one_error_naming_program_and_key() {
    let web = |rest: &str| {
        format!("[program.db]\ncommand = [\"db\"]\n\n[program.web]\ncommand = [\"web\"]\n{rest}\n")
    };
    #[rustfmt::skip]
    let cases: Vec<(String, Option<&str>, Option<&str>, &str)> = vec![
        (web("stop_grace_ms = 5000"), Some("web"), Some("stop_grace_ms"), "unknown field `stop_grace_ms`, expected one of"),
        (web("autostart = \"no\""), Some("web"), Some("autostart"), "invalid type: string \"no\", expected a boolean"),
        (web("stop_grace = 5"), Some("web"), Some("stop_grace"), "a duration is text with its unit: write \"5s\" (or ms, m, h ...), not 5"),
        (web("stop_grace = \"5 s\""), Some("web"), Some("stop_grace"), "\"5 s\" has a blank"),
        (web("min_uptime = \"-1s\""), Some("web"), Some("min_uptime"), "\"-1s\" is negative"),
        (web("watchdog = \"5sec\""), Some("web"), Some("watchdog"), "unknown unit \"sec\""),
        (web("stop_signal = \"TERMM\""), Some("web"), Some("stop_signal"), "unknown signal name \"TERMM\""),
        (web("stop_signal = 65"), Some("web"), Some("stop_signal"), "invalid signal number 65"),
        (web("ready = \"whenever\""), Some("web"), Some("ready"), "\"whenever\" is not one of \"spawned\""),
        (web("ready = \"notify:everyone\""), Some("web"), Some("ready"), "notify access: \"everyone\" is not one of \"main\", \"group\", \"all\""),
        (web("ready = \"notification-fd:2\""), Some("web"), Some("ready"), "\"2\" is not a file descriptor of 3 or more"),
        (web("restart = \"sometimes\""), Some("web"), Some("restart"), "\"sometimes\" is not one of \"always\", \"never\""),
        (web("backoff = { first = \"1s\", max = \"1m\", fist = 1 }"), Some("web"), Some("backoff.fist"), "unknown field `fist`"),
        (web("backoff = { first = 1, max = \"1m\" }"), Some("web"), Some("backoff.first"), "not 1"),
        (web("backoff = { first = \"1s\" }"), Some("web"), Some("backoff.max"), "missing field `max`"),
        (web("backoff = { first = \"1m\", max = \"1s\" }"), Some("web"), Some("backoff"), "backoff maximum 1s is below its first delay 60s"),
        (web("start_limit = { burst = 0, interval = \"10s\" }"), Some("web"), Some("start_limit"), "start limit burst is 0"),
        (web("liveness = { exec = [\"true\"], failures = 0 }"), Some("web"), Some("liveness.failures"), "0: at least one failure"),
        (web("liveness = { exec = [] }"), Some("web"), Some("liveness.exec"), "empty"),
        (web("ready_probe = { exec = [] }"), Some("web"), Some("ready_probe.exec"), "empty"),
        (web("ready_probe = { exec = [\"true\"], interval = \"0s\" }"), Some("web"), Some("ready_probe.interval"), "0s: it must be longer"),
        (web("ready_probe = { exec = [\"true\"], timeout = \"0s\" }"), Some("web"), Some("ready_probe.timeout"), "0s: it must be longer"),
        (web("ready_probe = { exec = [\"true\"], retries = 3 }"), Some("web"), Some("ready_probe.retries"), "unknown field `retries`"),
        (web("ready = \"notify\"\nready_probe = { exec = [\"true\"] }"), Some("web"), Some("ready_probe"), "`ready` is given too"),
        (web("env = { A = 1 }"), Some("web"), Some("env.A"), "invalid type: integer `1`, expected a string"),
        (web("env = { \"A=B\" = \"c\" }"), Some("web"), Some("env"), "\"A=B\" is not a variable's name"),
        (web("env_remove = [\"A=B\"]"), Some("web"), Some("env_remove"), "\"A=B\" is not a variable's name"),
        (web("env_remove = [\"\"]"), Some("web"), Some("env_remove"), "\"\" is not a variable's name"),
        (web("env = { PORT = \"1\" }\nenv_remove = [\"PORT\"]"), Some("web"), Some("env_remove"), "\"PORT\" is set in `env` too"),
        (web("env_remove = \"PORT\""), Some("web"), Some("env_remove"), "invalid type: string \"PORT\", expected a sequence"),
        (web("arg0 = \"a\\u0000b\""), Some("web"), Some("arg0"), "holds a NUL byte"),
        (web("arg0 = [\"a\"]"), Some("web"), Some("arg0"), "invalid type: sequence, expected a string"),
        (web("stop_scope = \"cgroup\""), Some("web"), Some("stop_scope"), "\"cgroup\" needs a `cgroup` directory"),
        (web("log_max_line = 0"), Some("web"), Some("log_max_line"), "maximum log line length is 0"),
        (web("after = [\"cache\"]"), Some("web"), Some("after"), "\"cache\" is not a program of this configuration"),
        (web("parent_death_signal = true"), Some("web"), Some("parent_death_signal"), "true names no signal"),
        (web("stdout = \"append:relative\""), Some("web"), Some("stdout"), "\"relative\" is not an absolute path"),
        (web("stderr = \"truncate:\""), Some("web"), Some("stderr"), "\"\" is not an absolute path"),
        (web("stdout = \"bogus\""), Some("web"), Some("stdout"), "\"bogus\" is not one of \"log\", \"null\", \"inherit\""),
        (web("stdout = \"file:/tmp/x\""), Some("web"), Some("stdout"), "is not one of"),
        (web("stderr = 2"), Some("web"), Some("stderr"), "invalid type: integer `2`"),
        ("[program.web]\nautostart = false".to_owned(), Some("web"), Some("command"), "missing field `command`"),
        ("[program.web]\ncommand = []".to_owned(), Some("web"), Some("command"), "empty: it needs at least the program"),
        ("[program.web]\ncommand = [\"a\\u0000b\"]".to_owned(), Some("web"), Some("command"), "holds a NUL byte"),
        ("[program]\nweb = 1".to_owned(), Some("web"), None, "expected a [program.web] table, found integer"),
        ("[supervisor]\nstrategy = \"one-for-some\"".to_owned(), None, Some("supervisor.strategy"), "\"one-for-some\" is not one of"),
        ("[supervisor]\nintensity = { restarts = 10001, period = \"1s\" }".to_owned(), None, Some("supervisor.intensity"), "Builder::intensity restarts is 10001"),
        ("[supervisor]\nintensity = { restarts = 1 }".to_owned(), None, Some("supervisor.intensity.period"), "missing field `period`"),
        ("[supervisor]\nevent_capacity = 0".to_owned(), None, Some("supervisor.event_capacity"), "0: allowed 1..="),
        ("[programs.web]\ncommand = [\"web\"]".to_owned(), None, Some("programs"), "unknown key"),
    ];
    for (text, program, key, message) in cases {
        let err =
            SupervisorConfig::from_toml(&text).and_then(|c| c.builder().and(c.programs())).expect_err(&text);
        assert_eq!((err.program.as_deref(), err.key.as_deref()), (program, key), "{text}\n{err}");
        assert!(err.message.contains(message), "{text}\n{err}");
        let shown = match (program, key) {
            (Some(p), Some(k)) => format!("program {p:?}, key {k:?}: {}", err.message),
            (Some(p), None) => format!("program {p:?}: {}", err.message),
            (None, Some(k)) => format!("key {k:?}: {}", err.message),
            (None, None) => err.message.clone(),
        };
        assert_eq!(err.to_string(), shown);
    }
}

/// A path for a test's file, in the target's scratch directory, not there.
fn scratch(what: &str) -> std::path::PathBuf {
    let file =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{what}-{}", std::process::id()));
    let _ = std::fs::remove_file(&file);
    file
}

/// A supervisor running the programs of the configuration `text`, and
/// its events from before they were added.
async fn supervise(
    text: &str,
) -> (Supervisor, procwire_supervisor::Subscription<procwire_supervisor::Event>) {
    let specs = SupervisorConfig::from_toml(text).unwrap().programs().unwrap();
    let (sup, _task) = Supervisor::new();
    let events = sup.events().await.unwrap();
    sup.add_all(specs).await.unwrap();
    (sup, events)
}

/// `liveness = { exec = [...] }`: the command's exit status is the
/// check. While `test -e FILE` finds its file the program runs on;
/// once the file is gone, two failures in a row stop it.
#[tokio::test]
async fn a_liveness_command_that_exits_non_zero_stops_the_program() {
    let file = scratch("alive");
    std::fs::write(&file, "").unwrap();
    let text = format!(
        "[program.live]\ncommand = [\"sleep\", \"1000\"]\n\
         liveness = {{ exec = [\"test\", \"-e\", {:?}], interval = \"20ms\", timeout = \"5s\", failures = 2 }}",
        file.to_str().unwrap()
    );
    let (sup, mut events) = supervise(&text).await;
    next(&mut events, "live", |e| e.to == State::Running).await;
    // Ten checks or so, every one passing: no stop.
    none_within(&mut events, "live", ms(300), |e| e.to == State::Stopping).await;
    std::fs::remove_file(&file).unwrap();
    let stopping = next(&mut events, "live", |e| e.to == State::Stopping).await;
    assert!(matches!(stopping.cause, Cause::LivenessFailed { failures: 2 }), "{stopping:?}");
    sup.shutdown().await.unwrap();
}

/// `ready_probe = { exec = [...] }`: the program is `Starting` while the
/// command exits non-zero, and `Running` at its first exit with 0.
#[tokio::test]
async fn a_ready_probe_command_makes_the_program_running_when_it_exits_0() {
    let file = scratch("ready");
    let text = format!(
        "[program.db]\ncommand = [\"sleep\", \"1000\"]\n\
         ready_probe = {{ exec = [\"test\", \"-e\", {:?}], interval = \"20ms\" }}",
        file.to_str().unwrap()
    );
    let (sup, mut events) = supervise(&text).await;
    next(&mut events, "db", |e| e.to == State::Starting).await;
    // Ten probes or so, every one failing: still starting.
    none_within(&mut events, "db", ms(300), |e| e.to == State::Running).await;
    std::fs::write(&file, "").unwrap();
    next(&mut events, "db", |e| e.to == State::Running).await;
    std::fs::remove_file(&file).unwrap();
    sup.shutdown().await.unwrap();
}

/// A probe run past its `timeout` is killed and counts as not ready, and
/// the next one starts: a command that never ends is run again and again
/// (each run adds a line to a file), never making the program ready.
#[tokio::test]
async fn a_ready_probe_run_past_its_timeout_is_killed_and_run_again() {
    let file = scratch("probe-runs");
    let text = format!(
        "[program.db]\ncommand = [\"sleep\", \"1000\"]\n\
         ready_probe = {{ exec = [\"sh\", \"-c\", \"echo run >> \\\"$0\\\"; exec sleep 1000\", {:?}], interval = \"10ms\", timeout = \"50ms\" }}",
        file.to_str().unwrap()
    );
    let (sup, mut events) = supervise(&text).await;
    next(&mut events, "db", |e| e.to == State::Starting).await;
    // Three runs: each one ended by its timeout, since none ends by itself.
    guard(20, "three probe runs", async {
        while std::fs::read_to_string(&file).map_or(0, |t| t.lines().count()) < 3 {
            tokio::time::sleep(ms(10)).await;
        }
    })
    .await;
    assert_eq!(sup.status("db").await.unwrap().state, State::Starting);
    sup.shutdown().await.unwrap();
    std::fs::remove_file(&file).unwrap();
}

/// `stdout = "append:PATH"`: the program's lines go to the file, after
/// what it held.
#[tokio::test]
async fn a_stdout_file_gets_the_programs_lines() {
    let file = scratch("stdout");
    std::fs::write(&file, "before\n").unwrap();
    let text = format!(
        "[program.echo]\ncommand = [\"sh\", \"-c\", \"echo one; echo two\"]\nrestart = \"never\"\nstdout = {:?}",
        format!("append:{}", file.to_str().unwrap())
    );
    let (sup, mut events) = supervise(&text).await;
    next(&mut events, "echo", |e| e.to == State::Exited).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "before\none\ntwo\n");
    sup.shutdown().await.unwrap();
    std::fs::remove_file(&file).unwrap();
}

/// `env_remove = [NAME]`: the program does not get the variable, which
/// the supervisor has (cargo sets `CARGO_MANIFEST_DIR` for the tests it
/// runs).
#[tokio::test]
async fn env_remove_takes_a_variable_out_of_the_programs_environment() {
    const NAME: &str = "CARGO_MANIFEST_DIR";
    if std::env::var_os(NAME).is_none() {
        eprintln!("skipped: {NAME} is not set (not run by cargo)");
        return;
    }
    let file = scratch("env-remove");
    let text = format!(
        "[program.env]\ncommand = [\"/bin/sh\", \"-c\", \"echo ${{{NAME}-unset}} > \\\"$0\\\"\", {:?}]\n\
         restart = \"never\"\nenv_remove = [\"{NAME}\"]",
        file.to_str().unwrap()
    );
    let (sup, mut events) = supervise(&text).await;
    next(&mut events, "env", |e| e.to == State::Exited).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "unset\n");
    sup.shutdown().await.unwrap();
    std::fs::remove_file(&file).unwrap();
}
