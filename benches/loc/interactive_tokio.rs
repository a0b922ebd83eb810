//! `examples/interactive.rs` with `tokio::process`.

use std::io::ErrorKind;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // bc's errors, if any, go straight to our stderr.
    let mut bc = Command::new("bc");
    bc.arg("-q").stdin(Stdio::piped()).stdout(Stdio::piped()).kill_on_drop(true);
    let mut bc = match bc.spawn() {
        Err(err) if err.kind() == ErrorKind::NotFound => {
            println!("bc is not installed: nothing to talk to");
            return Ok(());
        }
        bc => bc?,
    };
    let mut stdin = bc.stdin.take().ok_or("bc has no stdin pipe")?;
    let mut answers = BufReader::new(bc.stdout.take().ok_or("bc has no stdout pipe")?).lines();
    for question in ["2 + 3", "2 ^ 64", "scale = 5; 22 / 7"] {
        stdin.write_all(format!("{question}\n").as_bytes()).await?;
        let answer = answers.next_line().await?.ok_or("bc closed its stdout")?;
        println!("{question} = {answer}");
    }
    drop(stdin); // end of input: bc exits
    println!("bc exited with {}", bc.wait().await?);
    Ok(())
}
