//! A shell pipeline built from procwire's own pieces:
//! `seq 1 100000 | grep 7 | wc -l`. Each child's output pipe becomes the
//! next child's stdin (`ChildFd::from(ChildReader)`, a blocking descriptor
//! for the child), and every child is waited for.
//!
//! Run it with `cargo run --example pipeline`; it prints
//!
//! ```text
//! 40951
//! ```
//!
//! and exits non-zero if any stage fails or the whole takes more than 30
//! seconds (the children are then killed: `kill_on_drop`).
//!
//! Lines of code (non-blank, non-comment; `benches/loc/count`): 29 here,
//! 36 for the same program with `tokio::process`
//! (`benches/loc/pipeline_tokio.rs`), whose default stdio is inherited,
//! so each stage names its pipes.

use std::time::Duration;

use procwire::{Child, ChildFd, Command};
use tokio::io::AsyncReadExt;

async fn pipeline() -> Result<String, Box<dyn std::error::Error>> {
    let mut seq =
        Command::new("seq").args(["1", "100000"]).stdin(ChildFd::Null).kill_on_drop(true).spawn()?;
    let seq_out = seq.take_reader(1).ok_or("seq has no stdout pipe")?;
    let mut grep = Command::new("grep").arg("7").stdin(seq_out.into()).kill_on_drop(true).spawn()?;
    let grep_out = grep.take_reader(1).ok_or("grep has no stdout pipe")?;
    let mut wc = Command::new("wc").arg("-l").stdin(grep_out.into()).kill_on_drop(true).spawn()?;

    let mut count = String::new();
    wc.take_reader(1).ok_or("wc has no stdout pipe")?.read_to_string(&mut count).await?;
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
