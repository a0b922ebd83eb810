//! The configuration reader on text nobody checked: any text is read or
//! refused with a message, never a panic; a configuration written from
//! known settings reads back as those settings (the text written here by
//! `toml` from a model, not by the reader's own `Serialize`); what the
//! reader writes reads back as itself; a value of the wrong kind is
//! refused naming its program and its key.

use std::time::Duration;

use procwire_core::{Command, Signal};
use proptest::prelude::*;

use super::model::{config_model, BackoffModel, OutputModel, ProgramModel, ReadyModel, SupervisorModel};
use super::{format_duration, Builder, ConfigError, ProgramSpec, SupervisorConfig};
use crate::{Backoff, FileMode, LogSpec, NotifyAccess, Readiness, RestartSpec};

fn read(text: &str) -> Result<(SupervisorConfig, Builder, Vec<ProgramSpec>), ConfigError> {
    let config = SupervisorConfig::from_toml(text)?;
    let builder = config.builder()?;
    let specs = config.programs()?;
    Ok((config, builder, specs))
}

fn int(n: impl Into<i128>) -> toml::Value {
    toml::Value::Integer(i64::try_from(n.into()).expect("generated within TOML's integers"))
}

fn string(s: &str) -> toml::Value {
    toml::Value::String(s.to_owned())
}

fn dur(d: Duration) -> toml::Value {
    string(&format_duration(d))
}

/// A signal as the model writes it: `#15` as the TOML integer 15.
fn sig((text, _): &(String, i32)) -> toml::Value {
    match text.strip_prefix('#') {
        Some(n) => int(n.parse::<i64>().expect("a number")),
        None => string(text),
    }
}

fn table<const N: usize>(pairs: [(&str, Option<toml::Value>); N]) -> toml::Value {
    toml::Value::Table(pairs.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect())
}

/// The configuration file for the model, written by the `toml` crate (it
/// quotes and escapes what needs it).
fn render(sup: &SupervisorModel, programs: &[ProgramModel]) -> String {
    let s = table([
        ("strategy", sup.strategy.map(|(n, _)| string(n))),
        (
            "intensity",
            sup.intensity.map(|(r, p)| table([("restarts", Some(int(r))), ("period", Some(dur(p)))])),
        ),
        ("notify_systemd", sup.notify_systemd.map(toml::Value::Boolean)),
        ("event_capacity", sup.capacity.map(|(e, _)| int(e as i64))),
        ("log_capacity", sup.capacity.map(|(_, r)| int(r as i64))),
    ]);
    let all = programs.iter().map(|p| (p.name.clone(), program_table(p))).collect();
    let root =
        toml::Table::from_iter([("supervisor".into(), s), ("program".into(), toml::Value::Table(all))]);
    toml::to_string(&root).expect("a table renders")
}

fn program_table(p: &ProgramModel) -> toml::Value {
    let strings = |v: &[String]| toml::Value::Array(v.iter().map(|s| string(s)).collect());
    let ints = |v: &[i64]| toml::Value::Array(v.iter().map(|&n| int(n)).collect());
    let codes = |v: &[u8]| ints(&v.iter().map(|&c| i64::from(c)).collect::<Vec<_>>());
    let sigs = |v: &[(String, i32)]| toml::Value::Array(v.iter().map(sig).collect());
    let backoff = p.backoff.as_ref().map(|b| match b {
        BackoffModel::Preset(name) => string(name),
        BackoffModel::Table { first, factor, max, stable, jitter } => table([
            ("first", Some(dur(*first))),
            ("factor", factor.map(toml::Value::Float)),
            ("max", Some(dur(*max))),
            ("stable", stable.map(dur)),
            ("jitter", jitter.map(toml::Value::Float)),
        ]),
    });
    let ready = p.ready.as_ref().map(|r| match r {
        ReadyModel::Spawned => string("spawned"),
        ReadyModel::Notify(None) => string("notify"),
        ReadyModel::Notify(Some((access, _))) => string(&format!("notify:{access}")),
        ReadyModel::Fd(fd) => string(&format!("notification-fd:{fd}")),
        ReadyModel::LogLine(prefix) => string(&format!("log-line:{prefix}")),
    });
    let env = p.env.iter().map(|(k, v)| (k.clone(), string(v))).collect::<toml::Table>();
    let b = toml::Value::Boolean;
    let output = |o: &OutputModel| match o {
        OutputModel::Log => string("log"),
        OutputModel::Null => string("null"),
        OutputModel::Inherit => string("inherit"),
        OutputModel::File(path, FileMode::Append) => string(&format!("append:{path}")),
        OutputModel::File(path, FileMode::Truncate) => string(&format!("truncate:{path}")),
    };
    table([
        ("command", Some(strings(&p.command))),
        ("arg0", p.arg0.as_deref().map(string)),
        ("env_remove", (!p.env_remove.is_empty()).then(|| strings(&p.env_remove))),
        ("env", (!env.is_empty()).then_some(toml::Value::Table(env))),
        ("env_clear", p.env_clear.map(b)),
        ("cwd", p.cwd.as_deref().map(string)),
        ("uid", p.ids.as_ref().map(|i| int(i.0))),
        ("gid", p.ids.as_ref().map(|i| int(i.1))),
        ("groups", p.ids.as_ref().map(|i| ints(&i.2.iter().map(|&g| i64::from(g)).collect::<Vec<_>>()))),
        ("restart", p.restart.map(|(n, _)| string(n))),
        ("success_codes", p.codes.as_ref().map(|c| codes(&c.0))),
        ("prevent_codes", p.codes.as_ref().map(|c| codes(&c.1))),
        ("success_signals", p.signals.as_ref().map(|s| sigs(&s.0))),
        ("prevent_signals", p.signals.as_ref().map(|s| sigs(&s.1))),
        ("min_uptime", p.min_uptime.map(dur)),
        ("backoff", backoff),
        (
            "start_limit",
            p.start_limit.map(|(burst, interval, retry)| {
                table([
                    ("burst", Some(int(burst))),
                    ("interval", Some(dur(interval))),
                    ("retry_after", retry.map(dur)),
                ])
            }),
        ),
        ("max_retries", p.max_retries.map(int)),
        ("ready", ready),
        ("start_timeout", p.start_timeout.map(dur)),
        ("watchdog", p.watchdog.map(dur)),
        (
            "liveness",
            p.liveness.as_ref().map(|(exec, interval, timeout, failures)| {
                table([
                    ("exec", Some(strings(exec))),
                    ("interval", interval.map(dur)),
                    ("timeout", timeout.map(dur)),
                    ("failures", failures.map(int)),
                ])
            }),
        ),
        ("after", (!p.after.is_empty()).then(|| strings(&p.after))),
        ("requires", p.requires.map(b)),
        ("autostart", p.autostart.map(b)),
        ("stop_signal", p.stop_signal.as_ref().map(sig)),
        ("stop_grace", p.stop_grace.map(dur)),
        ("stop_final_signal", p.stop_final_signal.as_ref().map(sig)),
        ("stop_scope", p.stop_scope.map(|(n, _)| string(n))),
        ("own_process_group", p.own_process_group.map(b)),
        ("parent_death_signal", p.parent_death_signal.as_ref().map(|s| s.as_ref().map_or(b(false), sig))),
        ("log_fds", p.log.as_ref().map(|l| ints(&l.0.iter().map(|&f| i64::from(f)).collect::<Vec<_>>()))),
        ("log_max_line", p.log.as_ref().map(|l| int(l.1 as i64))),
        ("stdout", p.stdout.as_ref().map(output)),
        ("stderr", p.stderr.as_ref().map(output)),
    ])
}

/// The supervisor's settings the model stands for, written with the
/// library's own API.
fn expected_builder(sup: &SupervisorModel) -> Builder {
    let mut b = Builder::new();
    if let Some((_, strategy)) = sup.strategy {
        b.strategy(strategy);
    }
    if let Some((restarts, period)) = sup.intensity {
        b.intensity(restarts, period).expect("an intensity in range");
    }
    if let Some(on) = sup.notify_systemd {
        b.notify_systemd(on);
    }
    if let Some((events, reads)) = sup.capacity {
        b.capacity(events, reads);
    }
    b
}

fn signal_of((_, n): &(String, i32)) -> Signal {
    Signal::new(*n).expect("1 to 64")
}

/// The program the model stands for, written with the library's API.
fn expected_spec(p: &ProgramModel) -> ProgramSpec {
    let mut command = Command::new(&p.command[0]);
    command.args(&p.command[1..]);
    if let Some(arg0) = &p.arg0 {
        command.arg0(arg0);
    }
    if p.env_clear == Some(true) {
        command.env_clear();
    }
    for name in &p.env_remove {
        command.env_remove(name);
    }
    command.envs(&p.env);
    if let Some(cwd) = &p.cwd {
        command.current_dir(cwd);
    }
    if let Some((uid, gid, groups)) = &p.ids {
        command.uid(*uid).gid(*gid).groups(groups);
    }
    for (fd, output) in [(1, &p.stdout), (2, &p.stderr)] {
        match output {
            Some(OutputModel::Null) => drop(command.child_fd(fd, procwire_core::ChildFd::Null)),
            Some(OutputModel::Inherit) => drop(command.child_fd(fd, procwire_core::ChildFd::Parent(fd))),
            _ => {}
        }
    }
    let mut restart = RestartSpec::new();
    if let Some((_, policy)) = p.restart {
        restart.policy(policy);
    }
    if let Some((success, prevent)) = &p.codes {
        restart.success_codes(success.iter().copied()).prevent_codes(prevent.iter().copied());
    }
    if let Some((success, prevent)) = &p.signals {
        restart.success_signals(success.iter().map(signal_of)).prevent_signals(prevent.iter().map(signal_of));
    }
    if let Some(d) = p.min_uptime {
        restart.min_uptime(d);
    }
    let ms = Duration::from_millis;
    let backoff = p.backoff.as_ref().map(|b| match b {
        BackoffModel::Preset("growing") => Backoff::growing(),
        BackoffModel::Preset("procmon") => Backoff::procmon(),
        BackoffModel::Preset("supervisord") => Backoff::supervisord(),
        BackoffModel::Preset("systemd") => Backoff::systemd(ms(100), 0, ms(100)).expect("valid"),
        BackoffModel::Preset("pm2") => Backoff::pm2(ms(100)).expect("valid"),
        BackoffModel::Preset(_) => Backoff::none(),
        BackoffModel::Table { first, factor, max, stable, jitter } => {
            Backoff::exponential(*first, factor.unwrap_or(2.0), *max)
                .expect("generated valid")
                .with_stable(stable.unwrap_or_default())
                .with_jitter(jitter.unwrap_or_default())
                .expect("generated valid")
        }
    });
    if let Some(backoff) = backoff {
        restart.backoff(backoff);
    }
    if let Some((burst, interval, retry)) = p.start_limit {
        let limit = crate::StartLimit::new(burst, interval).expect("generated valid");
        restart.start_limit(Some(retry.map_or(limit, |r| limit.with_retry_after(r))));
    }
    if let Some(n) = p.max_retries {
        restart.max_retries(Some(n));
    }
    let mut stop = ProgramSpec::DEFAULT_STOP;
    if let Some(s) = &p.stop_signal {
        stop = stop.with_signal(signal_of(s));
    }
    if let Some(grace) = p.stop_grace {
        stop = stop.with_grace(grace);
    }
    if let Some(s) = &p.stop_final_signal {
        stop = stop.with_final_signal(signal_of(s));
    }
    if let Some((_, scope)) = p.stop_scope {
        stop = stop.with_scope(scope);
    }
    let mut spec = ProgramSpec::new(p.name.as_str(), command);
    spec.restart(restart).stop(stop).after(p.after.iter().map(String::as_str));
    match &p.ready {
        None | Some(ReadyModel::Spawned) => {}
        Some(ReadyModel::Notify(access)) => {
            spec.ready(Readiness::Notify { access: access.map_or(NotifyAccess::Main, |a| a.1) });
        }
        Some(ReadyModel::Fd(fd)) => drop(spec.ready(Readiness::NotificationFd(*fd))),
        // Only the kind is compared here (a predicate shows as `..`):
        // `log_line_readiness_matches_its_prefix` checks the predicate.
        Some(ReadyModel::LogLine(_)) => drop(spec.ready(Readiness::log_line(|_| true))),
    }
    if let Some(d) = p.start_timeout {
        spec.start_timeout(d);
    }
    if let Some(d) = p.watchdog {
        spec.watchdog(d);
    }
    if let Some((_, interval, timeout, failures)) = &p.liveness {
        let mut check = crate::Liveness::new(|| async { true });
        if let Some(i) = interval {
            check = check.interval(*i);
        }
        if let Some(t) = timeout {
            check = check.timeout(*t);
        }
        if let Some(f) = failures {
            check = check.failures(*f);
        }
        spec.liveness(check);
    }
    if let Some(on) = p.requires {
        spec.requires(on);
    }
    if let Some(on) = p.autostart {
        spec.autostart(on);
    }
    if let Some(on) = p.own_process_group {
        spec.own_process_group(on);
    }
    if let Some(s) = &p.parent_death_signal {
        spec.parent_death_signal(s.as_ref().map(signal_of));
    }
    let mut log = LogSpec::new();
    if let Some((fds, max_line)) = &p.log {
        log.fds(fds.iter().copied()).max_line(*max_line);
    }
    spec.log(log);
    for (fd, output) in [(1, &p.stdout), (2, &p.stderr)] {
        if let Some(OutputModel::File(path, mode)) = output {
            spec.output_file(fd, path, *mode);
        }
    }
    spec
}

/// The keys of a `[program.NAME]` table.
#[rustfmt::skip]
const PROGRAM_KEYS: [&str; 37] = [
    "command", "arg0", "env", "env_clear", "env_remove", "cwd", "uid", "gid", "groups", "restart", "success_codes",
    "success_signals", "prevent_codes", "prevent_signals", "min_uptime", "backoff", "start_limit",
    "max_retries", "ready", "ready_probe", "start_timeout", "watchdog", "liveness", "after", "requires", "autostart",
    "stop_signal", "stop_grace", "stop_final_signal", "stop_scope", "cgroup", "own_process_group",
    "parent_death_signal", "log_fds", "log_max_line", "stdout", "stderr",
];

/// Values, right and wrong, for the keys the reader knows.
#[rustfmt::skip]
const VALUES: [&str; 34] = [
    "0", "-1", "9223372036854775807", "1e308", "nan", "-inf", "0.5", "true", "false", "[]", "{}",
    "[\"\"]", "[\"$SELF\", \"--x\"]", "\"notification-fd:2\"", "\"log-line:\"", "\"notify:all\"",
    "\"systemd\"", "\"5s\"", "\"0s\"", "\"infinity\"", "\"1.5ns\"", "\"SIG\"", "\"65\"", "\"cgroup\"",
    "\"rest-for-one\"", "{ first = \"10s\", factor = 0.5, max = \"1s\" }",
    "{ first = \"1s\", factor = inf, max = \"infinity\" }", "{ restarts = -1, period = \"1s\" }",
    "{ burst = 0, interval = \"0s\" }", "{ exec = [], interval = \"0s\" }",
    "\"append:/tmp/x\"", "\"truncate:x\"", "\"null\"", "\"inherit\"",
];

/// Tables of TOML, right and wrong, made of the keys the reader knows
/// and values of every kind.
fn toml_ish() -> impl Strategy<Value = String> {
    let inner_keys = vec![
        "strategy",
        "intensity",
        "notify_systemd",
        "restarts",
        "period",
        "first",
        "factor",
        "max",
        "stable",
        "jitter",
        "burst",
        "interval",
        "retry_after",
        "exec",
        "timeout",
        "failures",
    ];
    let key = prop_oneof![
        8 => prop::sample::select(PROGRAM_KEYS.to_vec()).prop_map(str::to_owned),
        4 => prop::sample::select(inner_keys).prop_map(str::to_owned),
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
        "[program]", "[[program.c]]", "[program.a.env]", "[program.b.backoff]", "[program.a.liveness]", "[x]",
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

    /// Any text: a configuration, or an error saying what is wrong;
    /// never a panic.
    #[test]
    fn any_text_is_read_or_refused_never_a_panic(text in prop_oneof![4 => toml_ish(), 1 => "\\PC{0,200}"]) {
        if let Err(e) = read(&text) {
            prop_assert!(!e.message.trim().is_empty(), "an empty message for {text:?}");
        }
    }

    /// A configuration written from known settings reads back as them:
    /// the supervisor's, and every program's, in the file's order.
    #[test]
    fn a_written_configuration_reads_back_as_written((sup, programs) in config_model()) {
        let text = render(&sup, &programs);
        let (_, builder, specs) = read(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(format!("{builder:?}"), format!("{:?}", expected_builder(&sup)));
        prop_assert_eq!(specs.len(), programs.len());
        for (spec, model) in specs.iter().zip(&programs) {
            // `{:#?}`: every setting, the command's included.
            prop_assert_eq!(format!("{spec:#?}"), format!("{:#?}", expected_spec(model)), "{}", text);
        }
    }

    /// What the reader writes (`Serialize`) reads back as the same
    /// configuration.
    #[test]
    fn a_configuration_written_by_serde_reads_back_as_itself((sup, programs) in config_model()) {
        let config = SupervisorConfig::from_toml(&render(&sup, &programs)).expect("a valid model");
        let text = toml::to_string(&config).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again = SupervisorConfig::from_toml(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(again, config, "{}", text);
    }

    /// A value of the wrong kind for any key of a program is refused,
    /// and the error names the program and the key.
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
        // Only the wrong kind must be refused: not a string for a path,
        // a boolean for a flag, a list of small numbers for codes, fds,
        // groups or signals.
        let takes = matches!(
            (key, &wrong_value),
            ("cwd" | "cgroup" | "arg0", toml::Value::String(_))
                | ("env_clear" | "requires" | "autostart" | "own_process_group", toml::Value::Boolean(_))
                | ("success_codes" | "prevent_codes" | "success_signals" | "prevent_signals" | "groups"
                    | "log_fds" | "env_remove", toml::Value::Array(_))
        );
        prop_assume!(!takes);
        let (name, mut table) = (&programs[at].name, program_table(&programs[at]));
        if let toml::Value::Table(t) = &mut table {
            t.insert(key.to_owned(), wrong_value);
        }
        let mut all: Vec<ProgramModel> = programs.clone();
        all.truncate(at);
        let it = toml::Table::from_iter([(name.clone(), table)]);
        let it = toml::Table::from_iter([("program".to_owned(), toml::Value::Table(it))]);
        let text = format!("{}\n{}", render(&sup, &all), toml::to_string(&it).expect("renders"));
        match read(&text) {
            Ok(_) => prop_assert!(false, "accepted {key} = {wrong}:\n{text}"),
            Err(e) => {
                prop_assert_eq!(e.program.as_deref(), Some(name.as_str()), "{}\n{}", e, text);
                let named = e.key.as_deref().is_some_and(|k| k == key || k.starts_with(&format!("{key}.")));
                prop_assert!(named, "{e}\n{text}");
                prop_assert!(e.to_string().starts_with(&format!("program {name:?}, key \"{key}")), "{}", e);
            }
        }
    }
}
