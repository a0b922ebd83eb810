//! The verbose `wc` example of Twisted's "Using Processes" howto (`MyPP`),
//! on procwire-core's pipes: write ten verses to `wc`, close its stdin, read
//! what it reports on stdout and stderr, and print each event as it happens.
//!
//! Run it with `cargo run --example wc`. It prints, among timing-dependent
//! lines, `I saw 40 lines` and `processEnded, status 0`.

use procwire::{ChildReader, Command};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VERSE: &str = "Aleph-null bottles of beer on the wall,\n\
                     Aleph-null bottles of beer,\n\
                     Take one down and pass it around,\n\
                     Aleph-null bottles of beer on the wall.\n";

/// Reads one of the child's output pipes to its end, printing each chunk the
/// way `outReceived` / `errReceived` do, and returns everything read.
async fn drain(mut pipe: ChildReader, name: &str) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = pipe.read(&mut buf).await?;
        if n == 0 {
            let lost = if name == "out" {
                "outConnectionLost! The child closed their stdout!"
            } else {
                "errConnectionLost! The child closed their stderr."
            };
            println!("{lost}");
            return Ok(all);
        }
        println!("{name}Received! with {n} bytes!");
        all.extend_from_slice(&buf[..n]);
    }
}

/// Parses `wc`'s output (`lines words chars`) into its line count.
fn lines_counted(report: &[u8]) -> Option<u64> {
    std::str::from_utf8(report).ok()?.split_whitespace().next()?.parse().ok()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verses = 10;
    // reactor.spawnProcess(pp, "wc", ["wc"], {}): an empty environment.
    let mut child = Command::new("wc").env_clear().spawn()?;
    println!("connectionMade!");

    let mut stdin = child.take_writer(0).ok_or("no stdin pipe")?;
    let out = tokio::spawn(drain(child.take_reader(1).ok_or("no stdout pipe")?, "out"));
    let err = tokio::spawn(drain(child.take_reader(2).ok_or("no stderr pipe")?, "err"));

    for _ in 0..verses {
        stdin.write_all(VERSE.as_bytes()).await?;
    }
    stdin.shutdown().await?; // closeStdin(): tell them we're done
    println!("inConnectionLost! stdin is closed! (we probably did it)");

    let report = out.await??;
    err.await??;
    let lines = lines_counted(&report).ok_or("wc printed no count")?;
    println!("I saw {lines} lines");

    let status = child.wait().await?;
    let code = status.code().map_or_else(|| status.to_string(), |c| c.to_string());
    println!("processExited, status {code}");
    println!("processEnded, status {code}");
    println!("quitting");
    if lines != 4 * verses {
        return Err(format!("expected {} lines, wc saw {lines}", 4 * verses).into());
    }
    Ok(())
}
