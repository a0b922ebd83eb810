//! A conversation with a child: write a line to `bc`, read its answer,
//! repeat, then close its stdin and wait for it. The raw pipes of a
//! [`Child`](procwire::Child): `take_writer(0)` is an `AsyncWrite`,
//! `take_reader(1)` an `AsyncRead`, so tokio's `BufReader::lines` reads the
//! answers.
//!
//! Run it with `cargo run --example interactive`; it prints
//!
//! ```text
//! 2 + 3 = 5
//! 2 ^ 64 = 18446744073709551616
//! scale = 5; 22 / 7 = 3.14285
//! bc exited with exit code 0
//! ```
//!
//! or, where `bc` is not installed, says so and exits 0.
//!
//! Lines of code (non-blank, non-comment; `benches/loc/count`): 23 here,
//! 26 for the same program with `tokio::process`
//! (`benches/loc/interactive_tokio.rs`).

use std::io::ErrorKind;

use procwire::{ChildFd, Command, Error};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // bc's errors, if any, go straight to our stderr.
    let mut bc = match Command::new("bc").arg("-q").stderr(ChildFd::Parent(2)).kill_on_drop(true).spawn() {
        Err(Error::Spawn { source, .. }) if source.kind() == ErrorKind::NotFound => {
            println!("bc is not installed: nothing to talk to");
            return Ok(());
        }
        bc => bc?,
    };
    let mut stdin = bc.take_writer(0).ok_or("bc has no stdin pipe")?;
    let mut answers = BufReader::new(bc.take_reader(1).ok_or("bc has no stdout pipe")?).lines();
    for question in ["2 + 3", "2 ^ 64", "scale = 5; 22 / 7"] {
        stdin.write_all(format!("{question}\n").as_bytes()).await?;
        let answer = answers.next_line().await?.ok_or("bc closed its stdout")?;
        println!("{question} = {answer}");
    }
    stdin.shutdown().await?; // end of input: bc exits
    println!("bc exited with {}", bc.wait().await?);
    Ok(())
}
