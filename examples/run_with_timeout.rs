//! Run a program with a timeout and get its output as a `String`, or a
//! typed error that says what went wrong: `Run::checked_string`, the call a
//! service makes to `git`, a compiler or `ffmpeg`.
//!
//! Run it with `cargo run --example run_with_timeout`; it prints
//!
//! ```text
//! git version 2.47.3
//! error: `git` failed (exit code 128): fatal: cannot change to '/no/such/dir': No such file or directory
//! error: `sleep` timed out after 100ms (stopped by signal 15 (SIGTERM))
//! ```
//!
//! A non-zero exit is `RunError::Failed` with the child's stderr in its
//! message; a child past its timeout gets SIGTERM, then SIGKILL after a
//! grace period, and is reaped before `RunError::Timeout` is returned.
//!
//! Lines of code (non-blank, non-comment; `benches/loc/count`): 21 here,
//! 32 for the same program with `tokio::process`
//! (`benches/loc/run_with_timeout_tokio.rs`), which kills with SIGKILL
//! only and cannot say how the child ended.

use std::time::Duration;

use procwire::{Run, RunError};

/// `program args`, stopped after `timeout`; its stdout if it exited 0.
async fn run(program: &str, args: &[&str], timeout: Duration) -> Result<String, RunError> {
    Run::new(program).args(args).timeout(timeout).checked_string().await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let version = run("git", &["--version"], Duration::from_secs(10)).await?;
    println!("{}", version.trim());

    let failing = [
        ("git", &["-C", "/no/such/dir", "status"][..], Duration::from_secs(10)),
        ("sleep", &["10"][..], Duration::from_millis(100)),
    ];
    for (program, args, timeout) in failing {
        match run(program, args, timeout).await {
            Err(err @ (RunError::Failed { .. } | RunError::Timeout { .. })) => println!("error: {err}"),
            other => return Err(format!("{program} should have failed: {other:?}").into()),
        }
    }
    Ok(())
}
