//! The examples are part of the contract: each runs as a user would run it
//! (`cargo run --example NAME`) and prints what the howto says it prints.

use std::path::PathBuf;
use std::process::Command;

/// `cargo test` builds every example next to the test binaries:
/// `target/<profile>/examples/NAME`, one level above `deps/`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let path = dir.join("examples").join(name);
    assert!(path.exists(), "{} not built; run the suite with `cargo test --workspace`", path.display());
    path
}

/// The howto's verbose `wc` program (MyPP): ten verses of four lines are
/// written, stdin is closed, and wc reports 40 lines.
#[test]
fn wc_example_counts_forty_lines() {
    let out = Command::new(example("wc")).output().expect("run the wc example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wc example failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"connectionMade!"));
    assert!(lines.contains(&"inConnectionLost! stdin is closed! (we probably did it)"), "{stdout}");
    assert!(lines.contains(&"I saw 40 lines"), "{stdout}");
    assert!(lines.contains(&"processEnded, status 0"), "{stdout}");
    assert_eq!(lines.last(), Some(&"quitting"));
    // Output is reported before the pipe is lost, and the pipe before the end.
    let pos =
        |s: &str| lines.iter().position(|l| l.starts_with(s)).unwrap_or_else(|| panic!("no {s}: {stdout}"));
    assert!(pos("outReceived!") < pos("outConnectionLost!"));
    assert!(pos("outConnectionLost!") < pos("processEnded"));
}
