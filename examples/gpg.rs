//! The GnuPG listing of Twisted's "Using Processes" howto (`GPGProtocol`):
//! `gpg --decrypt` reads the passphrase on fd 3 and writes machine-readable
//! status lines on fd 4, besides the ciphertext on stdin and the plaintext
//! on stdout, with `childFDs = {0: "w", 1: "r", 2: 2, 3: "w", 4: "r"}`.
//!
//! Run it with `cargo run --example gpg` (needs `gpg` and `gpg-agent`,
//! GnuPG 2.2 or later). It works in a fresh home directory under the
//! temporary directory, so no keyring is touched:
//!
//! 1. starts a `gpg-agent` of its own (GnuPG 2.2 cannot handle a passphrase
//!    without one), as a child of this program: `--supervised`, listening on
//!    a socket bound here and passed as its fd 3. Every `gpg` runs with
//!    `--no-autostart`, so no daemon is started behind our back;
//! 2. encrypts a message with `gpg --symmetric`, the passphrase written on
//!    fd 3 and the plaintext on stdin, stderr read through a pipe (the
//!    howto's "handle it within the ProcessProtocol" alternative);
//! 3. decrypts it with the howto's `GPGProtocol`, stderr shared with ours
//!    (`2: 2`), and prints the plaintext and the status lines from fd 4;
//! 4. stops the agent with SIGTERM, reaps it, and removes the home
//!    directory.
//!
//! It exits non-zero unless the plaintext comes back unchanged and the
//! status says `DECRYPTION_OKAY`; it also says whether `GOODMDC` (the
//! integrity check passed) was reported.

use std::collections::BTreeMap;
use std::error::Error;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use procwire::{spawn_process, ChildFd, Command, Options, ProcessHandle, ProcessProtocol, Transport};

type BoxError = Box<dyn Error>;

const PASSPHRASE: &str = "Aleph-null bottles of beer";
const MESSAGE: &str = "Take one down and pass it around,\n";

/// Twisted's `GPGProtocol`: passphrase on fd 3, ciphertext on fd 0, both
/// closed once written; plaintext from fd 1, status from fd 4.
#[derive(Debug)]
struct GPGProtocol {
    crypttext: Bytes,
    passphrase: &'static str,
    plaintext: Vec<u8>,
    status: Vec<u8>,
}

impl ProcessProtocol for GPGProtocol {
    fn connection_made(&mut self, transport: &mut Transport) {
        // Only fail if fds 3 and 0 are not input pipes; `decrypt` maps them so.
        transport.write_to_child(3, self.passphrase).expect("fd 3 is an input pipe");
        transport.close_child_fd(3);
        transport.write_to_child(0, self.crypttext.clone()).expect("fd 0 is an input pipe");
        transport.close_child_fd(0);
    }

    fn child_data_received(&mut self, _transport: &mut Transport, fd: RawFd, data: Bytes) {
        match fd {
            1 => self.plaintext.extend_from_slice(&data),
            4 => self.status.extend_from_slice(&data),
            _ => {}
        }
    }
}

/// Twisted's `decrypt(crypttext)`: what the Deferred fires with is what the
/// handle resolves to; a non-zero exit is the errback.
async fn decrypt(home: &Path, crypttext: Bytes) -> Result<GPGProtocol, BoxError> {
    let gp = GPGProtocol { crypttext, passphrase: PASSPHRASE, plaintext: Vec::new(), status: Vec::new() };
    let mut cmd = Command::new("gpg");
    cmd.args(["--decrypt", "--passphrase-fd", "3", "--status-fd", "4", "--batch"])
        .args(["--pinentry-mode", "loopback", "--no-autostart", "--no-symkey-cache", "--homedir"])
        .arg(home)
        .child_fds([
            (0, ChildFd::WritePipe),
            (1, ChildFd::ReadPipe),
            (2, ChildFd::Parent(2)),
            (3, ChildFd::WritePipe),
            (4, ChildFd::ReadPipe),
        ]);
    let ended = spawn_process(gp, &mut cmd, Options::new())?.await?;
    match ended.reason.status.code() {
        Some(0) => Ok(ended.protocol),
        _ => Err(format!("gpg --decrypt failed: {}", ended.reason.status).into()),
    }
}

/// Writes fixed input into the child's input pipes (closing each once
/// written) and collects what every output pipe gives, per fd.
#[derive(Debug, Default)]
struct Feed {
    inputs: Vec<(RawFd, Bytes)>,
    outputs: BTreeMap<RawFd, Vec<u8>>,
}

impl ProcessProtocol for Feed {
    fn connection_made(&mut self, transport: &mut Transport) {
        for (fd, data) in std::mem::take(&mut self.inputs) {
            // Only fails if the command did not map `fd` to an input pipe.
            transport.write_to_child(fd, data).expect("an input pipe");
            transport.close_child_fd(fd);
        }
    }

    fn child_data_received(&mut self, _transport: &mut Transport, fd: RawFd, data: Bytes) {
        self.outputs.entry(fd).or_default().extend_from_slice(&data);
    }
}

impl Feed {
    fn new(inputs: impl IntoIterator<Item = (RawFd, &'static [u8])>) -> Self {
        Feed {
            inputs: inputs.into_iter().map(|(fd, d)| (fd, Bytes::from_static(d))).collect(),
            ..Feed::default()
        }
    }

    fn take(&mut self, fd: RawFd) -> Vec<u8> {
        self.outputs.remove(&fd).unwrap_or_default()
    }
}

/// Runs `cmd` to its end with `feed`; an error (with its stderr) unless it
/// exits 0.
async fn run(cmd: &mut Command, feed: Feed) -> Result<Feed, BoxError> {
    let what = cmd.get_args().take(2).map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>();
    let mut ended = spawn_process(feed, cmd, Options::new())?.await?;
    if !ended.reason.status.success() {
        let stderr = ended.protocol.take(2);
        let program = cmd.get_program().to_string_lossy();
        let stderr = String::from_utf8_lossy(&stderr);
        return Err(format!("{program} {} failed ({}): {stderr}", what.join(" "), ended.reason.status).into());
    }
    Ok(ended.protocol)
}

/// Encrypts `MESSAGE` with `PASSPHRASE`: `gpg --symmetric`, passphrase on
/// fd 3, plaintext on stdin, ciphertext on stdout.
async fn encrypt(home: &Path) -> Result<Bytes, BoxError> {
    let mut cmd = Command::new("gpg");
    cmd.args(["--batch", "--symmetric", "--pinentry-mode", "loopback", "--passphrase-fd", "3"])
        .args(["--no-autostart", "--no-symkey-cache", "--homedir"])
        .arg(home)
        .child_fd(3, ChildFd::WritePipe);
    let mut feed = run(&mut cmd, Feed::new([(3, PASSPHRASE.as_bytes()), (0, MESSAGE.as_bytes())])).await?;
    Ok(feed.take(1).into())
}

/// Starts `gpg-agent --supervised` as our own child, serving the socket
/// `gpg` looks for in `home` (bound here and handed over as its fd 3), so
/// that it is reaped like any child instead of daemonizing.
async fn start_agent(home: &Path) -> Result<ProcessHandle<Feed>, BoxError> {
    let mut gpgconf = Command::new("gpgconf");
    gpgconf.arg("--homedir").arg(home).args(["--list-dirs", "agent-socket"]);
    let mut dirs = run(&mut gpgconf, Feed::new([(0, &b""[..])])).await?;
    let socket = PathBuf::from(String::from_utf8(dirs.take(1))?.trim_end());
    let listener = UnixListener::bind(&socket).map_err(|e| format!("bind {}: {e}", socket.display()))?;
    let mut agent = Command::new("gpg-agent");
    // Should this program die first, the agent gets SIGTERM instead of living on.
    agent.arg("--homedir").arg(home).arg("--supervised").parent_death_signal("TERM").child_fds([
        (0, ChildFd::Null),
        (1, ChildFd::Null),
        (2, ChildFd::ReadPipe), // its log, shown if it fails
        (3, ChildFd::Fd(OwnedFd::from(listener))),
    ]);
    let handle = spawn_process(Feed::default(), &mut agent, Options::new())?;
    println!("gpg-agent (pid {}) serving {}", handle.pid().unwrap_or(0), socket.display());
    Ok(handle)
}

/// Stops the agent as Twisted would stop any child, `signalProcess("TERM")`
/// (on SIGTERM with no client connected it shuts down cleanly and exits 0;
/// `gpgconf --kill gpg-agent` also works but leaves a supervised agent
/// exiting 2), and reaps it; kills it if it has not quit within ten seconds.
async fn stop_agent(mut agent: ProcessHandle<Feed>) -> Result<(), BoxError> {
    let pid = agent.pid().unwrap_or(0);
    agent.signal_process("TERM")?;
    let mut ended = match tokio::time::timeout(Duration::from_secs(10), &mut agent).await {
        Ok(ended) => ended?,
        Err(_) => {
            eprintln!("gpg-agent did not quit on SIGTERM; killing it");
            agent.signal_process("KILL")?;
            agent.await?
        }
    };
    println!("gpg-agent (pid {pid}) stopped: {}", ended.reason.status);
    if !ended.reason.status.success() {
        let log = ended.protocol.take(2);
        return Err(format!("gpg-agent failed: {}", String::from_utf8_lossy(&log)).into());
    }
    Ok(())
}

/// Encrypts, decrypts, prints; an error unless it all checks out.
async fn round_trip(home: &Path) -> Result<(), BoxError> {
    let crypttext = encrypt(home).await?;
    println!(
        "gpg --symmetric: {} bytes of plaintext -> {} bytes of ciphertext",
        MESSAGE.len(),
        crypttext.len()
    );
    let gp = decrypt(home, crypttext).await?;
    println!("gpg --decrypt, childFDs {{0: \"w\", 1: \"r\", 2: 2, 3: \"w\", 4: \"r\"}}");
    println!("plaintext (fd 1): {:?}", String::from_utf8_lossy(&gp.plaintext));
    println!("status (fd 4):");
    let status = String::from_utf8_lossy(&gp.status);
    print!("{status}");
    let has = |keyword: &str| {
        status.lines().any(|l| l.strip_prefix("[GNUPG:] ").and_then(|l| l.split(' ').next()) == Some(keyword))
    };
    let yes = |b: bool| if b { "yes" } else { "no" };
    let (okay, mdc, matches) = (has("DECRYPTION_OKAY"), has("GOODMDC"), gp.plaintext == MESSAGE.as_bytes());
    println!("DECRYPTION_OKAY: {}", yes(okay));
    println!("GOODMDC: {}", yes(mdc));
    println!("plaintext matches: {}", yes(matches));
    if !(okay && matches) {
        return Err("decryption did not give back the message with DECRYPTION_OKAY".into());
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let home = std::env::temp_dir().join(format!("procwire-gpg-example.{}", std::process::id()));
    println!("homedir: {}", home.display());
    let result = async {
        std::fs::DirBuilder::new().mode(0o700).create(&home)?;
        let agent = start_agent(&home).await?;
        let result = round_trip(&home).await;
        let stopped = stop_agent(agent).await;
        result.and(stopped)
    }
    .await;
    let removed = std::fs::remove_dir_all(&home);
    match (result, removed) {
        (Ok(()), Ok(())) => {
            println!("homedir removed");
            ExitCode::SUCCESS
        }
        (Err(e), _) => {
            eprintln!("gpg example failed: {e}");
            ExitCode::FAILURE
        }
        (Ok(()), Err(e)) => {
            eprintln!("could not remove {}: {e}", home.display());
            ExitCode::FAILURE
        }
    }
}
