//! Issue #17: with the `tracing` feature, each incarnation has a span
//! (program, incarnation, pid) around its output lines, and every state
//! change is an event of target `procwire_supervisor::event` at a level
//! that says how bad it is. Each test installs a global subscriber, so
//! each runs in a re-executed copy of this binary.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use procwire_supervisor::{Backoff, ProgramSpec, RestartPolicy, RestartSpec, State, Supervisor};
use procwire_tests::{guard, in_own_process};

#[path = "supervise_common.rs"]
mod common;

use common::*;

/// One event as the subscriber saw it.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    level: tracing::Level,
    fields: BTreeMap<String, String>,
    /// The fields of the spans it was in, innermost last.
    spans: Vec<(String, BTreeMap<String, String>)>,
}

#[derive(Default)]
struct Record {
    seen: Vec<Seen>,
    spans: BTreeMap<u64, (String, BTreeMap<String, String>)>,
    next: u64,
}

/// A subscriber that records every event of the supervisor's targets with
/// the spans it was in (tracked per thread).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Record>>);

thread_local! {
    static STACK: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        meta.target().starts_with("procwire_supervisor")
    }
    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let mut record = self.0.lock().unwrap();
        record.next += 1;
        let id = record.next;
        record.spans.insert(id, (attrs.metadata().name().to_string(), fields.0));
        tracing::span::Id::from_u64(id)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut record = self.0.lock().unwrap();
        let stack = STACK.with(|s| s.borrow().clone());
        let spans = stack.iter().filter_map(|id| record.spans.get(id).cloned()).collect();
        let meta = event.metadata();
        record.seen.push(Seen {
            target: meta.target().into(),
            level: *meta.level(),
            fields: fields.0,
            spans,
        });
    }
    fn enter(&self, id: &tracing::span::Id) {
        STACK.with(|s| s.borrow_mut().push(id.into_u64()));
    }
    fn exit(&self, id: &tracing::span::Id) {
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            if let Some(at) = s.iter().rposition(|x| *x == id.into_u64()) {
                s.remove(at);
            }
        });
    }
}

impl Capture {
    fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().seen.clone()
    }
}

/// Runs `body` on a two-thread runtime with `capture` as the global
/// subscriber.
fn with_capture(capture: &Capture, body: impl std::future::Future<Output = ()>) {
    tracing::subscriber::set_global_default(capture.clone()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(body);
}

fn never() -> RestartSpec {
    let mut restart = RestartSpec::new();
    restart.policy(RestartPolicy::Never);
    restart
}

/// A program's lines are events inside its incarnation's span (name,
/// incarnation, pid), with stdout and stderr told apart by `stream`.
#[test]
fn output_lines_are_inside_the_incarnations_span() {
    in_own_process("output_lines_are_inside_the_incarnations_span", || {
        let capture = Capture::default();
        let mut pid = 0;
        with_capture(&capture, async {
            let (sup, _task) = Supervisor::new();
            let mut events = sup.events().await.unwrap();
            let mut program = ProgramSpec::new("greeter", sh("echo hello; echo world >&2"));
            program.restart(never());
            pid = sup.add(program).await.unwrap().pid.unwrap();
            next(&mut events, "greeter", |e| e.to == State::Exited).await;
            guard(10, "both lines logged", async {
                while capture.seen().iter().filter(|s| s.target == "procwire_supervisor::log").count() < 2 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await;
            sup.shutdown().await.unwrap();
        });
        let mut lines: Vec<Seen> =
            capture.seen().into_iter().filter(|s| s.target == "procwire_supervisor::log").collect();
        lines.sort_by(|a, b| a.fields["message"].cmp(&b.fields["message"]));
        assert_eq!(lines.len(), 2, "{lines:?}");
        for (line, (message, stream)) in
            lines.iter().zip([("[greeter] hello", "stdout"), ("[greeter] world", "stderr")])
        {
            assert_eq!(line.level, tracing::Level::INFO);
            assert_eq!(line.fields["message"], message);
            assert_eq!(line.fields["stream"], stream);
            let (name, span) = line.spans.last().expect("inside a span");
            assert_eq!(name, "program");
            assert_eq!(span["name"], "greeter");
            assert_eq!(span["incarnation"], "1");
            assert_eq!(span["pid"], pid.to_string());
        }
    });
}

/// Every state change is an event of target `procwire_supervisor::event`
/// with its `Display` line: INFO for a start, inside the span while the
/// incarnation lives; WARN for a restart after a failure (`Backoff`);
/// ERROR for `Failed`.
#[test]
fn state_changes_are_events_with_a_level_that_says_how_bad() {
    in_own_process("state_changes_are_events_with_a_level_that_says_how_bad", || {
        let capture = Capture::default();
        with_capture(&capture, async {
            let (sup, _task) = Supervisor::new();
            let mut events = sup.events().await.unwrap();
            let mut restart = RestartSpec::new();
            restart
                .backoff(Backoff::none())
                .start_limit(Some(procwire_supervisor::StartLimit::new(2, Duration::from_secs(60)).unwrap()));
            let mut program = ProgramSpec::new("crasher", sh("exit 3"));
            program.restart(restart);
            sup.add(program).await.unwrap();
            next(&mut events, "crasher", |e| e.to == State::Failed).await;
            sup.shutdown().await.unwrap();
        });
        let seen: Vec<Seen> =
            capture.seen().into_iter().filter(|s| s.target == "procwire_supervisor::event").collect();
        let at = |to: &str| {
            seen.iter().find(|s| s.fields["to"] == to).unwrap_or_else(|| panic!("no {to}: {seen:?}"))
        };
        let running = at("Running");
        assert_eq!(running.level, tracing::Level::INFO);
        assert!(running.fields["message"].starts_with("crasher #1"), "{running:?}");
        assert_eq!(running.spans.last().map(|(_, f)| f["name"].as_str()), Some("crasher"));
        let backoff = at("Backoff");
        assert_eq!(backoff.level, tracing::Level::WARN, "{backoff:?}");
        assert!(backoff.fields["message"].contains("exited with code 3"), "{backoff:?}");
        assert_eq!(at("Failed").level, tracing::Level::ERROR);
    });
}
