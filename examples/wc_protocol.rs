//! `WCProcessProtocol`, the first listing of Twisted's "Using Processes"
//! howto: write a line of text into `wc`, close its stdin, and report the
//! counts it prints.
//!
//! Run it with `cargo run --example wc_protocol`; it prints
//!
//! ```text
//! Received counts from wc.
//! Lines: 1
//! Words: 6
//! Characters: 44
//! ```
//!
//! The howto parses the counts in `outReceived`, assuming they arrive in
//! one chunk; as its own advice says ("`outReceived` ought to simply
//! accumulate the data"), this twin accumulates and parses once `wc`
//! closes its stdout.

use bytes::Bytes;
use procwire::{spawn_process, Command, EndReason, Options, ProcessProtocol, Transport};

/// Twisted's `WCProcessProtocol`.
#[derive(Debug)]
struct WCProcessProtocol {
    text: &'static str,
    data: Vec<u8>,
    /// `(lines, words, chars)` once `wc` reported them.
    counts: Option<(u64, u64, u64)>,
}

impl WCProcessProtocol {
    fn new(text: &'static str) -> Self {
        WCProcessProtocol { text, data: Vec::new(), counts: None }
    }

    /// Where Twisted's users override `receiveCounts`; here it prints, and
    /// the counts stay on the protocol, which the awaited handle hands back.
    fn receive_counts(&mut self, lines: u64, words: u64, chars: u64) {
        println!("Received counts from wc.");
        println!("Lines: {lines}");
        println!("Words: {words}");
        println!("Characters: {chars}");
        self.counts = Some((lines, words, chars));
    }
}

impl ProcessProtocol for WCProcessProtocol {
    fn connection_made(&mut self, transport: &mut Transport) {
        // Only fails if fd 0 is not an input pipe; the default map makes it one.
        transport.write(self.text).expect("stdin is a pipe");
        transport.close_stdin();
    }

    fn out_received(&mut self, _transport: &mut Transport, data: Bytes) {
        self.data.extend_from_slice(&data);
    }

    fn out_connection_lost(&mut self, transport: &mut Transport) {
        let report = String::from_utf8_lossy(&self.data).into_owned();
        let fields: Vec<u64> = report.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        transport.lose_connection();
        match fields[..] {
            [lines, words, chars] => self.receive_counts(lines, words, chars),
            _ => eprintln!("wc printed {report:?}, not three counts"),
        }
    }

    fn process_ended(&mut self, _transport: &mut Transport, reason: EndReason) {
        if !reason.status.success() {
            eprintln!("wc failed: {}", reason.status);
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let wc = WCProcessProtocol::new("accessing protocols through Twisted is fun!\n");
    // reactor.spawnProcess(wcProcess, 'wc', ['wc']): Twisted's default env is {}.
    let ended = spawn_process(wc, Command::new("wc").env_clear(), Options::new())?.await?;
    if ended.protocol.counts != Some((1, 6, 44)) || !ended.reason.status.success() {
        return Err(format!("wc did not count 1 line, 6 words, 44 characters: {ended:?}").into());
    }
    Ok(())
}
