//! The settings the property tests generate (`props.rs`): a model of a
//! configuration, in the library's own types, and its strategies.

use std::collections::BTreeMap;
use std::time::Duration;

use procwire_core::StopScope;
use proptest::prelude::*;

use crate::{Builder, FileMode, LogSpec, NotifyAccess, RestartPolicy, StartLimit, Strategy as Supervision};

/// A signal as written (`"TERM"`, `"15"`; `"#15"` for the TOML integer
/// 15) and its number.
pub(super) type SignalModel = (String, i32);

/// `liveness`: exec, interval, timeout, failures.
pub(super) type LivenessModel = (Vec<String>, Option<Duration>, Option<Duration>, Option<u32>);

/// `[supervisor]`, as generated.
#[derive(Debug, Clone)]
pub(super) struct SupervisorModel {
    pub(super) strategy: Option<(&'static str, Supervision)>,
    pub(super) intensity: Option<(u32, Duration)>,
    pub(super) notify_systemd: Option<bool>,
    pub(super) capacity: Option<(usize, usize)>,
}

/// `[program.NAME]`, as generated.
#[derive(Debug, Clone)]
pub(super) struct ProgramModel {
    pub(super) name: String,
    pub(super) command: Vec<String>,
    pub(super) env: BTreeMap<String, String>,
    pub(super) env_clear: Option<bool>,
    pub(super) cwd: Option<String>,
    pub(super) ids: Option<(u32, u32, Vec<u32>)>,
    pub(super) restart: Option<(&'static str, RestartPolicy)>,
    pub(super) codes: Option<(Vec<u8>, Vec<u8>)>,
    pub(super) signals: Option<(Vec<SignalModel>, Vec<SignalModel>)>,
    pub(super) min_uptime: Option<Duration>,
    pub(super) backoff: Option<BackoffModel>,
    pub(super) start_limit: Option<(u32, Duration, Option<Duration>)>,
    pub(super) max_retries: Option<u32>,
    pub(super) ready: Option<ReadyModel>,
    pub(super) start_timeout: Option<Duration>,
    pub(super) watchdog: Option<Duration>,
    pub(super) liveness: Option<LivenessModel>,
    pub(super) after: Vec<String>,
    pub(super) requires: Option<bool>,
    pub(super) autostart: Option<bool>,
    pub(super) stop_signal: Option<(String, i32)>,
    pub(super) stop_grace: Option<Duration>,
    pub(super) stop_final_signal: Option<(String, i32)>,
    pub(super) stop_scope: Option<(&'static str, StopScope)>,
    pub(super) own_process_group: Option<bool>,
    pub(super) parent_death_signal: Option<Option<(String, i32)>>,
    pub(super) log: Option<(Vec<i32>, usize)>,
    pub(super) stdout: Option<OutputModel>,
    pub(super) stderr: Option<OutputModel>,
    pub(super) arg0: Option<String>,
    /// Names not in `env`.
    pub(super) env_remove: Vec<String>,
}

/// `stdout`, `stderr`: a file has an absolute path.
#[derive(Debug, Clone)]
pub(super) enum OutputModel {
    Log,
    Null,
    Inherit,
    File(String, FileMode),
}

#[derive(Debug, Clone)]
pub(super) enum BackoffModel {
    Preset(&'static str),
    Table {
        first: Duration,
        factor: Option<f64>,
        max: Duration,
        stable: Option<Duration>,
        jitter: Option<f64>,
    },
}

#[derive(Debug, Clone)]
pub(super) enum ReadyModel {
    Spawned,
    Notify(Option<(&'static str, NotifyAccess)>),
    Fd(i32),
    LogLine(String),
}

/// Any text, NUL bytes aside (refused: tested on their own).
fn word() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[^\\x00]{0,12}", 1 => "[\\x01-\\x1f\"\\\\'$]{0,4}"]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (0..100_000u64).prop_map(Duration::from_millis),
        (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

fn positive() -> impl Strategy<Value = Duration> {
    duration().prop_map(|d| d.max(Duration::from_nanos(1)))
}

fn signal() -> impl Strategy<Value = (String, i32)> {
    // procwire's one signal rule: names with or without SIG in any case,
    // numbers (written as text or as TOML integers), real-time offsets.
    let names = vec![("TERM", 15), ("SIGINT", 2), ("hup", 1), ("Usr1", 10), ("3", 3), ("SIGRTMIN+1", 35)];
    prop_oneof![
        prop::sample::select(names).prop_map(|(name, n)| (name.to_owned(), n)),
        (1..=64).prop_map(|n: i32| (n.to_string(), n)),
        (1..=64).prop_map(|n: i32| (format!("#{n}"), n)),
    ]
}

fn supervisor_model() -> impl Strategy<Value = SupervisorModel> {
    let strategy = prop::sample::select(vec![
        ("one-for-one", Supervision::OneForOne),
        ("one-for-all", Supervision::OneForAll),
        ("rest-for-one", Supervision::RestForOne),
    ]);
    (
        proptest::option::of(strategy),
        proptest::option::of((0..=Builder::MAX_INTENSITY, positive())),
        proptest::option::of(any::<bool>()),
        proptest::option::of((1..=Builder::MAX_EVENTS, 1..=Builder::MAX_READS)),
    )
        .prop_map(|(strategy, intensity, notify_systemd, capacity)| SupervisorModel {
            strategy,
            intensity,
            notify_systemd,
            capacity,
        })
}

fn backoff_model() -> impl Strategy<Value = BackoffModel> {
    let presets = vec!["growing", "procmon", "supervisord", "systemd", "pm2", "none"];
    let factor = proptest::option::of(prop_oneof![Just(1.0), 1.0..1000.0f64]);
    prop_oneof![
        prop::sample::select(presets).prop_map(BackoffModel::Preset),
        (
            duration(),
            factor,
            duration(),
            proptest::option::of(duration()),
            proptest::option::of(0.0..=1.0f64)
        )
            .prop_map(|(a, factor, b, stable, jitter)| BackoffModel::Table {
                first: a.min(b),
                factor,
                max: a.max(b),
                stable,
                jitter
            }),
    ]
}

fn ready_model() -> impl Strategy<Value = ReadyModel> {
    let access = prop::sample::select(vec![
        ("main", NotifyAccess::Main),
        ("group", NotifyAccess::Group),
        ("all", NotifyAccess::All),
    ]);
    prop_oneof![
        Just(ReadyModel::Spawned),
        proptest::option::of(access).prop_map(ReadyModel::Notify),
        prop_oneof![Just(3), Just(i32::MAX), 3..=i32::MAX].prop_map(ReadyModel::Fd),
        "[^\\x00]{0,12}".prop_map(ReadyModel::LogLine),
    ]
}

fn output_model() -> impl Strategy<Value = OutputModel> {
    let mode = prop::sample::select(vec![FileMode::Append, FileMode::Truncate]);
    prop_oneof![
        Just(OutputModel::Log),
        Just(OutputModel::Null),
        Just(OutputModel::Inherit),
        ("/[^\\x00]{0,12}", mode).prop_map(|(path, mode)| OutputModel::File(path, mode)),
    ]
}

fn program_model(name: String, others: Vec<String>) -> impl Strategy<Value = ProgramModel> {
    use proptest::option::of;
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
    let codes = prop::collection::vec(any::<u8>(), 0..3);
    let signals = || prop::collection::vec(signal(), 0..3);
    let env = prop::collection::btree_map("[^\\x00=]{1,8}", "[^\\x00]{0,12}", 0..3);
    let liveness = (prop::collection::vec(word(), 1..3), of(positive()), of(positive()), of(1..10u32));
    (
        (
            prop::collection::vec(word(), 1..4),
            env,
            of(any::<bool>()),
            of("/?[^\\x00]{0,12}"),
            of((any::<u32>(), any::<u32>(), prop::collection::vec(any::<u32>(), 0..3))),
            of(restart),
            of((codes.clone(), codes)),
            of((signals(), signals())),
            of(duration()),
        )
            .boxed(),
        (
            of(backoff_model()),
            of((1..=StartLimit::MAX_BURST, positive(), of(duration()))),
            of(any::<u32>()),
            of(ready_model()),
            of(duration()),
            of(duration()),
            of(liveness),
            after,
            of(any::<bool>()),
        )
            .boxed(),
        (
            of(any::<bool>()),
            of(signal()),
            of(duration()),
            of(signal()),
            of(scope),
            of(any::<bool>()),
            of(of(signal())),
            of((prop::collection::vec(0..100i32, 0..3), 1..=LogSpec::MAX_LINE_LIMIT)),
        )
            .boxed(),
        (of(output_model()), of(output_model()), of(word()), prop::collection::vec("[^\\x00=]{1,8}", 0..3))
            .boxed(),
    )
        .prop_map(move |(a, b, c, mut d)| {
            // A name set in `env` is refused in `env_remove`.
            d.3.retain(|n| !a.1.contains_key(n));
            ProgramModel {
                name: name.clone(),
                command: a.0,
                env: a.1,
                env_clear: a.2,
                cwd: a.3,
                ids: a.4,
                restart: a.5,
                codes: a.6,
                signals: a.7,
                min_uptime: a.8,
                backoff: b.0,
                start_limit: b.1,
                max_retries: b.2,
                ready: b.3,
                start_timeout: b.4,
                watchdog: b.5,
                liveness: b.6,
                after: b.7,
                requires: b.8,
                autostart: c.0,
                stop_signal: c.1,
                stop_grace: c.2,
                stop_final_signal: c.3,
                stop_scope: c.4,
                own_process_group: c.5,
                parent_death_signal: c.6,
                log: c.7,
                stdout: d.0,
                stderr: d.1,
                arg0: d.2,
                env_remove: d.3,
            }
        })
}

/// A whole configuration: programs with distinct names (any text: the
/// file quotes them), each running after some of those before it.
pub(super) fn config_model() -> impl Strategy<Value = (SupervisorModel, Vec<ProgramModel>)> {
    let names =
        prop::collection::vec(prop_oneof!["[a-z]{1,8}", "[^\\x00]{0,10}"], 0..4).prop_map(|mut names| {
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
