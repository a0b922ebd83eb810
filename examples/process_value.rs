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
//! Where Twisted's `getProcessValue` gives `None` for a program killed by a
//! signal, `procwire::get_process_value` fails with `RunError::Signal`.

use procwire::get_process_value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), procwire::RunError> {
    let true_value = get_process_value("/bin/true", [""; 0]).await?;
    println!("/bin/true exits with rc={true_value}");
    let false_value = get_process_value("/bin/false", [""; 0]).await?;
    println!("/bin/false exits with rc={false_value}");
    Ok(())
}
