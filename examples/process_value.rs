//! The `getProcessValue` listing of Twisted's "Using Processes" howto: run
//! `/bin/true`, then `/bin/false`, and print each exit code.
//!
//! Run it with `cargo run --example process_value`; it prints
//!
//! ```text
//! /bin/true exits with rc=0
//! /bin/false exits with rc=1
//! ```
//!
//! `procwire::get_process_value` is still to come (issue #5); until then
//! this is what it will do: spawn with the output thrown away, wait, and
//! give the exit code.

use procwire::{ChildFd, Command};

/// Twisted's `utils.getProcessValue(executable)`: the exit code, or the
/// exit status as an error if a signal ended the program.
async fn process_value(program: &str) -> Result<i32, Box<dyn std::error::Error>> {
    let mut child =
        Command::new(program).stdin(ChildFd::Null).stdout(ChildFd::Null).stderr(ChildFd::Null).spawn()?;
    let status = child.wait().await?;
    Ok(status.code().ok_or_else(|| format!("{program} ended by {status}"))?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let true_value = process_value("/bin/true").await?;
    println!("/bin/true exits with rc={true_value}");
    let false_value = process_value("/bin/false").await?;
    println!("/bin/false exits with rc={false_value}");
    if (true_value, false_value) != (0, 1) {
        return Err("expected rc=0 from /bin/true and rc=1 from /bin/false".into());
    }
    Ok(())
}
