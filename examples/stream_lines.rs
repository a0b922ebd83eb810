//! A child's stdout and stderr, line by line, into a log as they come:
//! [`Lines`] frames every output pipe into lines (a line cut across two
//! reads is joined, bytes that are not UTF-8 are decoded lossily, a line
//! longer than the limit is dropped instead of growing memory) and calls
//! `line_received` with the fd it came from.
//!
//! Run it with `cargo run --example stream_lines`; it prints something like
//!
//! ```text
//! [out] step 1
//! [err] warning 1
//! [out] step 2
//! [err] warning 2
//! [out] step 3
//! [err] warning 3
//! sh ended: exit code 0
//! ```
//!
//! Each stream's lines are in order; how the two interleave depends on
//! when the reads happen, as with any two pipes.
//!
//! Lines of code (non-blank, non-comment; `benches/loc/count`): 19 here,
//! 27 for the same program with `tokio::process`
//! (`benches/loc/stream_lines_tokio.rs`), whose `lines()` fails on the
//! first byte that is not UTF-8 and has no bound on a line's length.

use std::os::fd::RawFd;

use procwire::{spawn_process, ChildFd, Command, LineProtocol, Lines, Options, ProcessProtocol, Transport};

const SCRIPT: &str = "for i in 1 2 3; do echo step $i; echo warning $i >&2; done";

/// Logs each line with the stream it came from.
#[derive(Debug)]
struct Log;

impl ProcessProtocol for Log {}

impl LineProtocol for Log {
    fn line_received(&mut self, _transport: &mut Transport, fd: RawFd, line: String) {
        println!("[{}] {line}", if fd == 1 { "out" } else { "err" });
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sh = Command::new("sh");
    sh.args(["-c", SCRIPT]).stdin(ChildFd::Null);
    let ended = spawn_process(Lines::new(Log, 64 * 1024), &mut sh, Options::new())?.await?;
    println!("sh ended: {}", ended.reason.status);
    Ok(())
}
