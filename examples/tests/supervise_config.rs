//! The `supervise` example's configuration reader, on text nobody
//! checked: any text is read or refused with a message, never a panic; a
//! configuration written from known settings reads back as those
//! settings; a value of the wrong kind is refused naming its program and
//! its key.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use procwire::supervisor::{
    Backoff, Builder, ProgramSpec, Readiness, RestartPolicy, RestartSpec, Strategy as Supervision,
};
use procwire::{Command, Signal, StopPolicy, StopScope};
use proptest::prelude::*;

#[path = "../supervise/config.rs"]
mod config;

/// What `$SELF` stands for in these tests.
const THIS: &str = "/opt/supervise/bin/supervise";

fn parse(text: &str) -> Result<(Builder, Vec<ProgramSpec>), String> {
    config::parse(text, Path::new(THIS))
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// TOML integers are `i64`: the largest a file can hold.
const MAX_INT: u64 = i64::MAX as u64;

/// `[supervisor]`, as generated.
#[derive(Debug, Clone)]
struct SupervisorModel {
    strategy: Option<(&'static str, Supervision)>,
    intensity: Option<(u32, u64)>,
    notify_systemd: Option<bool>,
}

/// `[program.NAME]`, as generated.
#[derive(Debug, Clone)]
struct ProgramModel {
    name: String,
    command: Vec<String>,
    restart: Option<(&'static str, RestartPolicy)>,
    backoff: Option<BackoffModel>,
    ready: Option<ReadyModel>,
    start_timeout_ms: Option<u64>,
    watchdog_ms: Option<u64>,
    after: Vec<String>,
    requires: Option<bool>,
    stop_signal: Option<(String, i32)>,
    stop_grace_ms: Option<u64>,
    stop_scope: Option<(&'static str, StopScope)>,
    autostart: Option<bool>,
    env: BTreeMap<String, String>,
    cwd: Option<String>,
}

#[derive(Debug, Clone)]
enum BackoffModel {
    Preset(&'static str),
    Table { first_ms: u64, factor: f64, max_ms: u64 },
}

#[derive(Debug, Clone)]
enum ReadyModel {
    Spawned,
    Notify,
    Fd(i32),
    LogLine(String),
}

/// Any text, `$SELF` often.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,12}",
        1 => Just("$SELF".to_owned()),
        1 => "[a-z-]{0,6}\\$SELF[a-z/]{0,6}",
        1 => "[\\x00-\\x1f\"\\\\']{0,4}",
    ]
}

fn millis() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), Just(MAX_INT), 0..100_000u64, 0..=MAX_INT]
}

fn supervisor_model() -> impl Strategy<Value = SupervisorModel> {
    let strategy = prop::sample::select(vec![
        ("one-for-one", Supervision::OneForOne),
        ("one-for-all", Supervision::OneForAll),
        ("rest-for-one", Supervision::RestForOne),
    ]);
    (
        proptest::option::of(strategy),
        // Within what `Builder::intensity` takes (wider is refused: below).
        proptest::option::of((0..=Builder::MAX_INTENSITY, 1..=i64::MAX as u64)),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(strategy, intensity, notify_systemd)| SupervisorModel {
            strategy,
            intensity,
            notify_systemd,
        })
}

fn backoff_model() -> impl Strategy<Value = BackoffModel> {
    prop_oneof![
        prop::sample::select(vec!["procmon", "supervisord", "systemd", "pm2", "none"])
            .prop_map(BackoffModel::Preset),
        (millis(), prop_oneof![Just(1.0), 1.0..1000.0f64], millis()).prop_map(|(a, factor, b)| {
            BackoffModel::Table { first_ms: a.min(b), factor, max_ms: a.max(b) }
        }),
    ]
}

fn ready_model() -> impl Strategy<Value = ReadyModel> {
    prop_oneof![
        Just(ReadyModel::Spawned),
        Just(ReadyModel::Notify),
        prop_oneof![Just(3), Just(i32::MAX), 3..=i32::MAX].prop_map(ReadyModel::Fd),
        "\\PC{0,12}".prop_map(ReadyModel::LogLine),
    ]
}

fn signal() -> impl Strategy<Value = (String, i32)> {
    // procwire's one signal rule: names with or without SIG in any case,
    // numbers, real-time offsets; no surrounding blanks (" QUIT " is refused).
    let names = vec![
        ("TERM", 15),
        ("SIGINT", 2),
        ("hup", 1),
        ("Usr1", 10),
        ("SIGKILL", 9),
        ("3", 3),
        ("SIGRTMIN+1", 35),
    ];
    prop_oneof![
        prop::sample::select(names).prop_map(|(name, n)| (name.to_owned(), n)),
        (1..=64).prop_map(|n: i32| (n.to_string(), n)),
    ]
}

fn program_model(name: String, others: Vec<String>) -> impl Strategy<Value = ProgramModel> {
    let restart = prop::sample::select(vec![
        ("always", RestartPolicy::Always),
        ("never", RestartPolicy::Never),
        ("on-failure", RestartPolicy::OnFailure),
        ("on-abnormal", RestartPolicy::OnAbnormal),
        ("on-watchdog", RestartPolicy::OnWatchdog),
    ]);
    let scope = prop::sample::select(vec![("process", StopScope::Process), ("group", StopScope::Group)]);
    let after = if others.is_empty() {
        Just(Vec::new()).boxed()
    } else {
        prop::sample::subsequence(others.clone(), 0..=others.len()).boxed()
    };
    (
        (
            prop::collection::vec(word(), 1..4),
            proptest::option::of(restart),
            proptest::option::of(backoff_model()),
            proptest::option::of(ready_model()),
            proptest::option::of(millis()),
            proptest::option::of(millis()),
            after,
        ),
        (
            proptest::option::of(any::<bool>()),
            proptest::option::of(signal()),
            proptest::option::of(millis()),
            proptest::option::of(scope),
            proptest::option::of(any::<bool>()),
            prop::collection::btree_map("\\PC{0,8}", "\\PC{0,12}", 0..3),
            proptest::option::of("/?\\PC{0,12}"),
        ),
    )
        .prop_map(move |(a, b)| ProgramModel {
            name: name.clone(),
            command: a.0,
            restart: a.1,
            backoff: a.2,
            ready: a.3,
            start_timeout_ms: a.4,
            watchdog_ms: a.5,
            after: a.6,
            requires: b.0,
            stop_signal: b.1,
            stop_grace_ms: b.2,
            stop_scope: b.3,
            autostart: b.4,
            env: b.5,
            cwd: b.6,
        })
}

/// A whole configuration: the supervisor's settings and programs with
/// distinct names (any text: the file quotes them), each running after
/// some of those before it.
fn config_model() -> impl Strategy<Value = (SupervisorModel, Vec<ProgramModel>)> {
    let names = prop::collection::vec(prop_oneof!["[a-z]{1,8}", "\\PC{0,10}"], 0..5).prop_map(|mut names| {
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    });
    let programs = names.prop_flat_map(|names| {
        let programs: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, name)| program_model(name.clone(), names[..i].to_vec()))
            .collect();
        programs
    });
    (supervisor_model(), programs)
}

fn int(n: impl Into<i128>) -> toml::Value {
    toml::Value::Integer(i64::try_from(n.into()).expect("generated within TOML's integers"))
}

fn string(s: &str) -> toml::Value {
    toml::Value::String(s.to_owned())
}

/// The configuration file for the model, written by the `toml` crate (it
/// quotes and escapes what needs it).
fn render(sup: &SupervisorModel, programs: &[ProgramModel]) -> String {
    let mut root = toml::Table::new();
    let mut s = toml::Table::new();
    if let Some((name, _)) = sup.strategy {
        s.insert("strategy".into(), string(name));
    }
    if let Some((restarts, period_ms)) = sup.intensity {
        let table = toml::Table::from_iter([
            ("restarts".into(), int(restarts)),
            ("period_ms".into(), int(period_ms)),
        ]);
        s.insert("intensity".into(), toml::Value::Table(table));
    }
    if let Some(on) = sup.notify_systemd {
        s.insert("notify_systemd".into(), toml::Value::Boolean(on));
    }
    root.insert("supervisor".into(), toml::Value::Table(s));
    let mut all = toml::Table::new();
    for p in programs {
        all.insert(p.name.clone(), toml::Value::Table(program_table(p)));
    }
    root.insert("program".into(), toml::Value::Table(all));
    toml::to_string(&root).expect("a table renders")
}

fn program_table(p: &ProgramModel) -> toml::Table {
    let mut t = toml::Table::new();
    let strings = |v: &[String]| toml::Value::Array(v.iter().map(|s| string(s)).collect());
    t.insert("command".into(), strings(&p.command));
    if let Some((name, _)) = p.restart {
        t.insert("restart".into(), string(name));
    }
    match &p.backoff {
        Some(BackoffModel::Preset(name)) => drop(t.insert("backoff".into(), string(name))),
        Some(BackoffModel::Table { first_ms, factor, max_ms }) => {
            let table = toml::Table::from_iter([
                ("first_ms".into(), int(*first_ms)),
                ("factor".into(), toml::Value::Float(*factor)),
                ("max_ms".into(), int(*max_ms)),
            ]);
            t.insert("backoff".into(), toml::Value::Table(table));
        }
        None => {}
    }
    let ready = p.ready.as_ref().map(|r| match r {
        ReadyModel::Spawned => "spawned".to_owned(),
        ReadyModel::Notify => "notify".to_owned(),
        ReadyModel::Fd(fd) => format!("notification-fd:{fd}"),
        ReadyModel::LogLine(prefix) => format!("log-line:{prefix}"),
    });
    let numbers = [
        ("start_timeout_ms", p.start_timeout_ms),
        ("watchdog_ms", p.watchdog_ms),
        ("stop_grace_ms", p.stop_grace_ms),
    ];
    for (key, value) in numbers {
        if let Some(v) = value {
            t.insert(key.into(), int(v));
        }
    }
    let texts = [
        ("ready", ready),
        ("stop_signal", p.stop_signal.as_ref().map(|(s, _)| s.clone())),
        ("stop_scope", p.stop_scope.map(|(s, _)| s.to_owned())),
        ("cwd", p.cwd.clone()),
    ];
    for (key, value) in texts {
        if let Some(v) = value {
            t.insert(key.into(), string(&v));
        }
    }
    if !p.after.is_empty() {
        t.insert("after".into(), strings(&p.after));
    }
    for (key, value) in [("requires", p.requires), ("autostart", p.autostart)] {
        if let Some(v) = value {
            t.insert(key.into(), toml::Value::Boolean(v));
        }
    }
    if !p.env.is_empty() {
        let env = p.env.iter().map(|(k, v)| (k.clone(), string(v))).collect();
        t.insert("env".into(), toml::Value::Table(env));
    }
    t
}

/// The supervisor's settings the model stands for, written with the
/// library's own API (what `supervise.toml` documents each key to mean).
fn expected_builder(sup: &SupervisorModel) -> Builder {
    let mut b = Builder::new();
    if let Some((_, strategy)) = sup.strategy {
        b.strategy(strategy);
    }
    if let Some((restarts, period)) = sup.intensity {
        b.intensity(restarts, ms(period)).expect("an intensity in range");
    }
    b.notify_systemd(sup.notify_systemd.unwrap_or(false));
    b
}

/// The program the model stands for.
fn expected_spec(p: &ProgramModel) -> ProgramSpec {
    let mut argv = p.command.iter().map(|a| a.replace("$SELF", THIS));
    let mut command = Command::new(argv.next().expect("a program"));
    // No group asked for: each program leads its own by the supervisor's
    // default.
    command.args(argv).envs(&p.env);
    if let Some(cwd) = &p.cwd {
        command.current_dir(cwd);
    }
    let mut restart = RestartSpec::new();
    if let Some((_, policy)) = p.restart {
        restart.policy(policy);
    }
    let backoff = p.backoff.as_ref().map(|b| match b {
        BackoffModel::Preset("procmon") => Backoff::procmon(),
        BackoffModel::Preset("supervisord") => Backoff::supervisord(),
        BackoffModel::Preset("systemd") => Backoff::systemd(ms(100), 0, ms(100)).expect("valid"),
        BackoffModel::Preset("pm2") => Backoff::pm2(ms(100)).expect("valid"),
        BackoffModel::Preset(_) => Backoff::none(),
        BackoffModel::Table { first_ms, factor, max_ms } => {
            Backoff::exponential(ms(*first_ms), *factor, ms(*max_ms)).expect("generated valid")
        }
    });
    if let Some(backoff) = backoff {
        restart.backoff(backoff);
    }
    let mut stop = StopPolicy::new();
    if let Some((_, n)) = p.stop_signal {
        stop = stop.with_signal(Signal::new(n).expect("1 to 64"));
    }
    if let Some(grace) = p.stop_grace_ms {
        stop = stop.with_grace(ms(grace));
    }
    if let Some((_, scope)) = p.stop_scope {
        stop = stop.with_scope(scope);
    }
    let mut spec = ProgramSpec::new(p.name.as_str(), command);
    spec.restart(restart).stop(stop).after(p.after.iter().map(String::as_str)).no_sink();
    spec.requires(p.requires.unwrap_or(false));
    match &p.ready {
        None | Some(ReadyModel::Spawned) => {}
        Some(ReadyModel::Notify) => drop(spec.ready(Readiness::notify())),
        Some(ReadyModel::Fd(fd)) => drop(spec.ready(Readiness::NotificationFd(*fd))),
        // Only the kind is compared: a predicate cannot be called from
        // outside the library (no `LogLine` can be made here).
        Some(ReadyModel::LogLine(_)) => drop(spec.ready(Readiness::log_line(|_| true))),
    }
    if let Some(timeout) = p.start_timeout_ms {
        spec.start_timeout(ms(timeout));
    }
    if let Some(period) = p.watchdog_ms {
        spec.watchdog(ms(period));
    }
    if let Some(autostart) = p.autostart {
        spec.autostart(autostart);
    }
    spec
}

/// The keys of a `[program.NAME]` table.
#[rustfmt::skip]
const PROGRAM_KEYS: [&str; 14] = [
    "command", "restart", "backoff", "ready", "start_timeout_ms", "watchdog_ms", "after", "requires",
    "stop_signal", "stop_grace_ms", "stop_scope", "autostart", "env", "cwd",
];

/// Values, right and wrong, for the keys the reader knows.
#[rustfmt::skip]
const VALUES: [&str; 31] = [
    "0", "-1", "9223372036854775807", "1e308", "nan", "-inf", "0.5", "true", "[]", "{}", "[\"\"]",
    "[\"$SELF\", \"--notify-ready-after\", \"300\"]", "\"notification-fd:2\"",
    "\"notification-fd:99999999999\"", "\"log-line:\"", "\"notify\"", "\"systemd\"", "\"procmon\"",
    "\"SIG\"", "\"0\"", "\"65\"", "\"-9\"", "\"group\"", "\"on-failure\"", "\"rest-for-one\"",
    "{ first_ms = 10, factor = 0.5, max_ms = 1 }", "{ first_ms = 10, factor = nan, max_ms = 100 }",
    "{ first_ms = 1, factor = inf, max_ms = 9223372036854775807 }", "{ restarts = -1, period_ms = 1 }",
    "{ restarts = 4294967296, period_ms = 1 }", "{ A = \"b\" }",
];

/// Tables of TOML, right and wrong, made of the keys the reader knows
/// and values of every kind.
fn toml_ish() -> impl Strategy<Value = String> {
    let supervisor_keys = vec!["strategy", "intensity", "notify_systemd", "restarts", "period_ms"];
    let backoff_keys = vec!["first_ms", "factor", "max_ms"];
    let key = prop_oneof![
        8 => prop::sample::select(PROGRAM_KEYS.to_vec()).prop_map(str::to_owned),
        2 => prop::sample::select(supervisor_keys).prop_map(str::to_owned),
        2 => prop::sample::select(backoff_keys).prop_map(str::to_owned),
        1 => "[a-z_]{1,8}",
    ];
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        prop::sample::select(VALUES.to_vec()).prop_map(str::to_owned),
        "\"[a-zA-Z0-9:$ ._-]{0,12}\"",
    ];
    let pair = (key, value).prop_map(|(k, v)| format!("{k} = {v}"));
    #[rustfmt::skip]
    let header = prop::sample::select(vec![
        "", "[supervisor]", "[supervisor.intensity]", "[program.a]", "[program.b]", "[program.\"a.b\"]",
        "[program]", "[[program.c]]", "[program.a.env]", "[program.b.backoff]", "[x]",
    ]);
    // A table, often with a command so that the rest of it is read.
    let table =
        (header, any::<bool>(), prop::collection::vec(pair, 0..6)).prop_map(|(header, command, pairs)| {
            let command = if command { "command = [\"true\"]" } else { "" };
            format!("{header}\n{command}\n{}", pairs.join("\n"))
        });
    prop::collection::vec(table, 0..5).prop_map(|tables| tables.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any text: a configuration, or a message saying what is wrong;
    /// never a panic.
    #[test]
    fn any_text_is_read_or_refused_never_a_panic(text in prop_oneof![4 => toml_ish(), 1 => "\\PC{0,200}"]) {
        if let Err(message) = parse(&text) {
            prop_assert!(!message.trim().is_empty(), "an empty message for {text:?}");
        }
    }

    /// A configuration written from known settings reads back as them:
    /// the supervisor's, and every program's, in the file's order.
    #[test]
    fn a_written_configuration_reads_back_as_written((sup, programs) in config_model()) {
        let text = render(&sup, &programs);
        let (builder, specs) = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(format!("{builder:?}"), format!("{:?}", expected_builder(&sup)));
        prop_assert_eq!(specs.len(), programs.len());
        for (spec, model) in specs.iter().zip(&programs) {
            // `{:#?}`: every setting, the command's included.
            prop_assert_eq!(format!("{spec:#?}"), format!("{:#?}", expected_spec(model)), "{}", text);
        }
    }

    /// A value of the wrong kind for any key of a program is refused,
    /// and the message names the program and the key.
    #[test]
    fn a_wrong_value_is_refused_naming_program_and_key(
        (sup, programs, at) in config_model()
            .prop_filter("a program", |(_, p)| !p.is_empty())
            .prop_flat_map(|(s, p)| {
                let n = p.len();
                (Just(s), Just(p), 0..n)
            }),
        key in prop::sample::select(PROGRAM_KEYS.to_vec()),
        wrong in prop::sample::select(vec!["-1", "true", "1.5", "[1]", "{ x = 1 }", "\"nonsense\""]),
    ) {
        let wrong_value = toml::from_str::<toml::Table>(&format!("v = {wrong}")).expect("valid TOML")["v"].clone();
        // Only the wrong kind must be refused: not a string for `cwd`,
        // nor a boolean for a flag.
        let takes = matches!(
            (key, &wrong_value),
            ("cwd", toml::Value::String(_)) | ("requires" | "autostart", toml::Value::Boolean(_))
        );
        prop_assume!(!takes);
        // The programs before it, then it with the wrong value.
        let (name, mut table) = (&programs[at].name, program_table(&programs[at]));
        table.insert(key.to_owned(), wrong_value);
        let it = toml::Table::from_iter([(name.clone(), toml::Value::Table(table))]);
        let it = toml::Table::from_iter([("program".to_owned(), toml::Value::Table(it))]);
        let text = format!("{}\n{}", render(&sup, &programs[..at]), toml::to_string(&it).expect("renders"));
        match parse(&text) {
            Ok(_) => prop_assert!(false, "accepted {key} = {wrong}:\n{text}"),
            Err(message) => {
                prop_assert!(message.contains(&format!("program {name:?}")), "{message}\n{text}");
                // A table's key may be named down to its own key (`env.x`).
                let named = [format!("`{key}`"), format!("`{key}.")];
                prop_assert!(named.iter().any(|k| message.contains(k.as_str())), "{message}\n{text}");
            }
        }
    }
}
