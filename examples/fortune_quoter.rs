//! The `FortuneQuoter` of Twisted's "Using Processes" howto, as a real TCP
//! server: each connection gets the output of one run of a program, then
//! the connection is closed (Twisted's `getProcessOutput` listing).
//!
//! ```text
//! cargo run --example fortune_quoter                      # fortune if installed, else date, on 127.0.0.1:10999
//! cargo run --example fortune_quoter -- 127.0.0.1:0 uname -a
//! ```
//!
//! The first argument is the address to listen on (port 0 picks a free
//! one); the rest are the program and its arguments. It prints
//! `listening on ADDRESS` once bound, then serves until interrupted.
//!
//! Past Twisted's listing: each run has a timeout and an output limit, so a
//! stuck or chatty program cannot hold a connection or the server's memory;
//! and at most 64 programs run at once (more connections wait their turn).

use std::sync::Arc;
use std::time::Duration;

use procwire::Run;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Twisted's `FortuneQuoter.fortune`, and the fallback when it is missing.
const FORTUNE: &str = "/usr/games/fortune";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:10999".to_owned());
    let mut program: Vec<String> = args.collect();
    if program.is_empty() {
        let fortune = std::path::Path::new(FORTUNE).exists();
        program.push(if fortune { FORTUNE } else { "date" }.to_owned());
    }
    let program: Arc<[String]> = program.into();

    let listener = TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let running = Arc::new(Semaphore::new(64));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else { continue };
                let (program, running) = (program.clone(), running.clone());
                tokio::spawn(async move { quote(stream, &program, &running).await });
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// `connectionMade`: run the program; `writeResponse` on success,
/// `noResponse` (just hang up) on failure.
async fn quote(mut stream: TcpStream, program: &[String], running: &Semaphore) {
    let Ok(_permit) = running.acquire().await else { return };
    let mut run = Run::new(&program[0]);
    run.args(&program[1..]).timeout(Duration::from_secs(10)).max_output(1 << 20);
    match run.get_process_output().await {
        Ok(response) => {
            let _ = stream.write_all(&response).await;
        }
        Err(err) => eprintln!("no response: {err}"),
    }
    let _ = stream.shutdown().await;
}
