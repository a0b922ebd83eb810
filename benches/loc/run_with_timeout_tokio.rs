//! `examples/run_with_timeout.rs` with `tokio::process`: the same calls and
//! the same messages, except that a child past its timeout is killed with
//! SIGKILL (tokio has no SIGTERM) when the future is dropped and reaped in
//! the background, so the message cannot say how it ended.

use std::time::Duration;

use tokio::process::Command;

type BoxError = Box<dyn std::error::Error>;

/// `program args`, killed after `timeout`; its stdout if it exited 0.
async fn run(program: &str, args: &[&str], timeout: Duration) -> Result<String, BoxError> {
    let mut cmd = Command::new(program);
    cmd.args(args).kill_on_drop(true);
    let Ok(output) = tokio::time::timeout(timeout, cmd.output()).await else {
        return Err(format!("`{program}` timed out after {timeout:?}").into());
    };
    let output = output?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("`{program}` failed ({}): {}", output.status, stderr.trim()).into());
    }
    Ok(String::from_utf8(output.stdout)?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let version = run("git", &["--version"], Duration::from_secs(10)).await?;
    println!("{}", version.trim());

    let failing = [
        ("git", &["-C", "/no/such/dir", "status"][..], Duration::from_secs(10)),
        ("sleep", &["10"][..], Duration::from_millis(100)),
    ];
    for (program, args, timeout) in failing {
        match run(program, args, timeout).await {
            Err(err) => println!("error: {err}"),
            Ok(out) => return Err(format!("{program} should have failed: {out:?}").into()),
        }
    }
    Ok(())
}
