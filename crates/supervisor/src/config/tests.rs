//! What the property tests cannot see from outside a spec: the predicate
//! of a `log-line:` readiness, and the liveness check a `liveness` table
//! runs.

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::event::LogLine;
use crate::lines::Line;
use crate::readiness::Readiness;

fn line(bytes: &'static [u8]) -> LogLine {
    let line = Line { bytes: Bytes::from_static(bytes), continued: false };
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
