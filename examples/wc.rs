//! The verbose example of Twisted's "Using Processes" howto (`MyPP`): a
//! [`ProcessProtocol`] that writes ten verses into `wc`, closes its stdin,
//! and prints each callback as it fires, in the howto's words.
//!
//! Run it with `cargo run --example wc`. One possible transcript:
//!
//! ```text
//! connectionMade!
//! inConnectionLost! stdin is closed! (we probably did it)
//! outReceived! with 24 bytes!
//! outConnectionLost! The child closed their stdout!
//! I saw 40 lines
//! errConnectionLost! The child closed their stderr.
//! processExited, status 0
//! processEnded, status 0
//! quitting
//! ```
//!
//! As in Twisted, the order of the stdout / stderr / exit events depends on
//! timing; `connectionMade!` is always first and `processEnded` (then
//! `quitting`) always last. The example exits non-zero unless `wc` counted
//! 40 lines.

use bytes::Bytes;
use procwire::{spawn_process, Command, EndReason, ExitStatus, Options, ProcessProtocol, Transport};

const VERSE: &str = "Aleph-null bottles of beer on the wall,\n\
                     Aleph-null bottles of beer,\n\
                     Take one down and pass it around,\n\
                     Aleph-null bottles of beer on the wall.\n";

/// Twisted's `MyPP`.
#[derive(Debug)]
struct MyPP {
    verses: usize,
    data: Vec<u8>,
    /// What `wc` reported, parsed when it closed its stdout.
    lines: Option<usize>,
}

impl MyPP {
    fn new(verses: usize) -> Self {
        MyPP { verses, data: Vec::new(), lines: None }
    }
}

impl ProcessProtocol for MyPP {
    fn connection_made(&mut self, transport: &mut Transport) {
        println!("connectionMade!");
        for _ in 0..self.verses {
            // Only fails if fd 0 is not an input pipe; the default map makes it one.
            transport.write(VERSE).expect("stdin is a pipe");
        }
        transport.close_stdin(); // tell them we're done
    }

    fn out_received(&mut self, _transport: &mut Transport, data: Bytes) {
        println!("outReceived! with {} bytes!", data.len());
        self.data.extend_from_slice(&data);
    }

    fn err_received(&mut self, _transport: &mut Transport, data: Bytes) {
        println!("errReceived! with {} bytes!", data.len());
    }

    fn in_connection_lost(&mut self, _transport: &mut Transport) {
        println!("inConnectionLost! stdin is closed! (we probably did it)");
    }

    fn out_connection_lost(&mut self, _transport: &mut Transport) {
        println!("outConnectionLost! The child closed their stdout!");
        // now is the time to examine what they wrote: "lines words chars"
        let report = String::from_utf8_lossy(&self.data);
        self.lines = report.split_whitespace().next().and_then(|n| n.parse().ok());
        match self.lines {
            Some(lines) => println!("I saw {lines} lines"),
            None => println!("I saw no line count in {report:?}"),
        }
    }

    fn err_connection_lost(&mut self, _transport: &mut Transport) {
        println!("errConnectionLost! The child closed their stderr.");
    }

    fn process_exited(&mut self, _transport: &mut Transport, status: ExitStatus) {
        println!("processExited, status {}", exit_code(status));
    }

    fn process_ended(&mut self, _transport: &mut Transport, reason: EndReason) {
        println!("processEnded, status {}", exit_code(reason.status));
        println!("quitting");
    }
}

/// Twisted's `reason.value.exitCode`; a signal has none, so say which.
fn exit_code(status: ExitStatus) -> String {
    status.code().map_or_else(|| status.to_string(), |code| code.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verses = 10;
    // reactor.spawnProcess(pp, "wc", ["wc"], {}): an empty environment.
    let handle = spawn_process(MyPP::new(verses), Command::new("wc").env_clear(), Options::new())?;
    let ended = handle.await?;
    if ended.protocol.lines != Some(4 * verses) || !ended.reason.status.success() {
        return Err(format!("expected wc to count {} lines and exit 0: {:?}", 4 * verses, ended).into());
    }
    Ok(())
}
