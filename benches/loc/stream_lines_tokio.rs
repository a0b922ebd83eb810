//! `examples/stream_lines.rs` with `tokio::process`: two line readers
//! polled side by side with `select!` until both pipes are closed.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const SCRIPT: &str = "for i in 1 2 3; do echo step $i; echo warning $i >&2; done";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sh = Command::new("sh");
    sh.args(["-c", SCRIPT]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = sh.spawn()?;
    let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let mut err = BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            line = out.next_line(), if out_open => match line? {
                Some(line) => println!("[out] {line}"),
                None => out_open = false,
            },
            line = err.next_line(), if err_open => match line? {
                Some(line) => println!("[err] {line}"),
                None => err_open = false,
            },
        }
    }
    println!("sh ended: {}", child.wait().await?);
    Ok(())
}
