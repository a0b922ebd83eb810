//! What the property tests do not look at: the predicate of a `log-line:`
//! readiness (a spec shows it as `..`), toml's line and column in a
//! syntax error, and a configuration read through `Deserialize`.

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::event::LogLine;
use crate::lines::Line;
use crate::readiness::Readiness;

fn line(bytes: &'static [u8]) -> LogLine {
    let line = Line::new(Bytes::from_static(bytes), false);
    LogLine { program: Arc::from("web"), incarnation: 1, pid: 1, fd: 1, line }
}

#[test]
fn log_line_readiness_matches_its_prefix_as_bytes() {
    let config = SupervisorConfig::from_toml(
        "[program.web]\ncommand = [\"web\"]\nready = \"log-line:listening on \\u00e9\"",
    )
    .expect("reads");
    let specs = config.programs().expect("converts");
    let Readiness::LogLine(predicate) = specs[0].get_ready() else {
        panic!("{:?}", specs[0].get_ready());
    };
    assert!((predicate.0)(&line("listening on \u{e9}:8080".as_bytes())));
    assert!((predicate.0)(&line("listening on \u{e9}".as_bytes())));
    assert!(!(predicate.0)(&line(b"listening on e")));
    assert!(!(predicate.0)(&line(b" listening on")));
    // An empty prefix: the first line.
    let any = ReadyConfig::LogLine(String::new()).to_readiness().expect("valid");
    let Readiness::LogLine(predicate) = any else { panic!("{any:?}") };
    assert!((predicate.0)(&line(b"")));
}

#[test]
fn a_syntax_error_keeps_tomls_line_and_column() {
    let err = SupervisorConfig::from_toml("[program.web]\ncommand = [\"web\"\n").unwrap_err();
    assert_eq!((err.program, err.key), (None, None));
    assert!(err.message.starts_with("TOML parse error at line 2, column"), "{}", err.message);
}

/// Through `Deserialize` (here from a `toml::Value`, a serde format of
/// its own): the same configuration, and an error whose text is the
/// `ConfigError`'s.
#[test]
fn any_serde_format_reads_through_deserialize() {
    let text = "[program.web]\ncommand = [\"web\"]\nstop_grace = \"2s\"";
    let value = toml::Value::Table(toml::from_str(text).unwrap());
    let config: SupervisorConfig = value.try_into().unwrap();
    assert_eq!(config, SupervisorConfig::from_toml(text).unwrap());
    let bad =
        toml::Value::Table(toml::from_str("[program.web]\ncommand = [\"web\"]\nstop_grace = 2").unwrap());
    let err = bad.try_into::<SupervisorConfig>().unwrap_err();
    let want = "program \"web\", key \"stop_grace\": a duration is text with its unit: write \"2s\" (or ms, m, h ...), not 2";
    assert_eq!(err.message(), want);
}
