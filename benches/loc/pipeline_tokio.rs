//! `examples/pipeline.rs` with `tokio::process`: `seq 1 100000 | grep 7 |
//! wc -l`, each child's stdout turned into the next one's stdin
//! (`ChildStdout` into `Stdio`, which makes the descriptor blocking).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

async fn pipeline() -> Result<String, Box<dyn std::error::Error>> {
    let mut seq = Command::new("seq")
        .args(["1", "100000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let seq_out: Stdio = seq.stdout.take().ok_or("seq has no stdout pipe")?.try_into()?;
    let mut grep =
        Command::new("grep").arg("7").stdin(seq_out).stdout(Stdio::piped()).kill_on_drop(true).spawn()?;
    let grep_out: Stdio = grep.stdout.take().ok_or("grep has no stdout pipe")?.try_into()?;
    let mut wc =
        Command::new("wc").arg("-l").stdin(grep_out).stdout(Stdio::piped()).kill_on_drop(true).spawn()?;

    let mut count = String::new();
    wc.stdout.take().ok_or("wc has no stdout pipe")?.read_to_string(&mut count).await?;
    let stages: [(&str, &mut Child); 3] = [("seq", &mut seq), ("grep", &mut grep), ("wc", &mut wc)];
    for (name, child) in stages {
        let status = child.wait().await?;
        if !status.success() {
            return Err(format!("{name} failed: {status}").into());
        }
    }
    Ok(count.trim().to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count = tokio::time::timeout(Duration::from_secs(30), pipeline())
        .await
        .map_err(|_| "the pipeline hung")??;
    println!("{count}");
    Ok(())
}
