//! The `childFDs` listings of Twisted's "Using Processes" howto ("Mapping
//! File Descriptors"):
//!
//! - `childFDs = {0: 0, 1: 1, 2: 2}`: the child reads and writes where this
//!   program does; `echo shared stdio` prints straight onto our stdout.
//! - `childFDs = {0: "w", 1: "r", 2: "r", 4: "w"}`: the default pipes plus
//!   an extra input pipe on fd 4, which the child (`sh -c 'cat <&4'`) reads
//!   and copies to its stdout, where the protocol collects it.
//!
//! Run it with `cargo run --example child_fds`; it prints
//!
//! ```text
//! {0: 0, 1: 1, 2: 2}: echo writes on our stdout
//! shared stdio
//! echo exited with exit code 0
//! {0: "w", 1: "r", 2: "r", 4: "w"}: the child read from fd 4
//! written by the parent on fd 4
//! sh exited with exit code 0
//! ```

use std::os::fd::RawFd;

use bytes::Bytes;
use procwire::{spawn_process, ChildFd, Command, Options, ProcessProtocol, Transport};

/// The protocol for `{0: 0, 1: 1, 2: 2}`: there is no pipe to read or
/// write, so the only events are the exit and the end.
#[derive(Debug)]
struct SharedStdio;

impl ProcessProtocol for SharedStdio {}

/// Writes `message` into the child's fd 4 and closes it (and stdin);
/// collects what the child writes on fds 1 and 2 (Twisted's
/// `childDataReceived`).
#[derive(Debug)]
struct ExtraFd {
    message: &'static str,
    out: Vec<u8>,
    err: Vec<u8>,
}

impl ProcessProtocol for ExtraFd {
    fn connection_made(&mut self, transport: &mut Transport) {
        // Twisted's writeToChild(4, ...) then closeChildFD(4): the child sees EOF.
        transport.write_to_child(4, self.message).expect("fd 4 is an input pipe");
        transport.close_child_fd(4);
        transport.close_stdin();
    }

    fn child_data_received(&mut self, _transport: &mut Transport, fd: RawFd, data: Bytes) {
        match fd {
            1 => self.out.extend_from_slice(&data),
            _ => self.err.extend_from_slice(&data),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // childFDs = {0: 0, 1: 1, 2: 2}
    println!("{{0: 0, 1: 1, 2: 2}}: echo writes on our stdout");
    let mut echo = Command::new("echo");
    echo.arg("shared stdio").child_fds([
        (0, ChildFd::Parent(0)),
        (1, ChildFd::Parent(1)),
        (2, ChildFd::Parent(2)),
    ]);
    let ended = spawn_process(SharedStdio, &mut echo, Options::new())?.await?;
    println!("echo exited with {}", ended.reason.status);
    if !ended.reason.status.success() {
        return Err("echo failed".into());
    }

    // childFDs = {0: "w", 1: "r", 2: "r", 4: "w"}
    println!("{{0: \"w\", 1: \"r\", 2: \"r\", 4: \"w\"}}: the child read from fd 4");
    let message = "written by the parent on fd 4\n";
    let mut sh = Command::new("/bin/sh");
    sh.args(["-c", "cat <&4"]).child_fds([
        (0, ChildFd::WritePipe),
        (1, ChildFd::ReadPipe),
        (2, ChildFd::ReadPipe),
        (4, ChildFd::WritePipe),
    ]);
    let protocol = ExtraFd { message, out: Vec::new(), err: Vec::new() };
    let ended = spawn_process(protocol, &mut sh, Options::new())?.await?;
    let ExtraFd { out, err, .. } = ended.protocol;
    print!("{}", String::from_utf8_lossy(&out));
    println!("sh exited with {}", ended.reason.status);
    if out != message.as_bytes() || !err.is_empty() || !ended.reason.status.success() {
        return Err(format!("the child did not echo fd 4: stderr {:?}", String::from_utf8_lossy(&err)).into());
    }
    Ok(())
}
