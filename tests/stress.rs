//! Many children at once: 2,000 `cat`s in flight together, each echoing
//! 64 KiB of its own pseudo-random bytes, every byte checked. Under the
//! SIGCHLD fallback every exit wakes every waiter, so this is also the
//! fallback's worst case.

use std::time::Instant;

use procwire::{Child, ChildFd, ChildReader, ChildWriter, Command, ExitStatus};
use procwire_tests::{guard, raise_nofile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHILDREN: usize = 2000;
const BYTES: usize = 64 * 1024;
/// Parent descriptors per child while all are in flight: the stdin writer,
/// the stdout reader and the pidfd; plus slack for what a spawn holds
/// briefly (the child's pipe ends, /dev/null) and for the runtime.
const FDS_PER_CHILD: u64 = 3;
const FDS_SLACK: u64 = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_children_echo_64_kib_each_through_cat() {
    let limit = raise_nofile();
    let fit = usize::try_from(limit.saturating_sub(FDS_SLACK) / FDS_PER_CHILD).unwrap_or(usize::MAX);
    let n = CHILDREN.min(fit);
    if n < CHILDREN {
        println!("RLIMIT_NOFILE hard limit {limit} fits only {n} children at once (want {CHILDREN})");
    }
    assert!(n >= CHILDREN, "the hard RLIMIT_NOFILE ({limit}) is too low for {CHILDREN} children");

    guard(120, "2,000 children echoing through cat", async {
        let started = Instant::now();
        // Spawn them all first, so all are in flight at once.
        let mut children = Vec::with_capacity(n);
        for i in 0..n {
            let mut child = Command::new("cat")
                .stderr(ChildFd::Null)
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn cat #{i}: {e}"));
            let stdin = child.take_writer(0).expect("stdin");
            let stdout = child.take_reader(1).expect("stdout");
            children.push((child, stdin, stdout));
        }
        let spawned = started.elapsed();

        let mut tasks = tokio::task::JoinSet::new();
        for (i, (child, stdin, stdout)) in children.into_iter().enumerate() {
            tasks.spawn(async move { (i, echo(i, child, stdin, stdout).await) });
        }
        let mut done = vec![false; n];
        while let Some(joined) = tasks.join_next().await {
            let (i, (sent, got, status)) = joined.expect("echo task panicked");
            assert_eq!(got.len(), sent.len(), "child {i}: byte count");
            if let Some(at) = sent.iter().zip(&got).position(|(s, g)| s != g) {
                panic!("child {i}: first wrong byte at offset {at}");
            }
            assert_eq!(status.code(), Some(0), "child {i}: {status:?}");
            done[i] = true;
        }
        assert!(done.iter().all(|&d| d), "some children never reported");
        println!(
            "{n} children x {BYTES} bytes: spawned in {spawned:?}, all echoed and reaped in {:?} ({})",
            started.elapsed(),
            if cfg!(any(procwire_force_sigchld, procwire_portable)) { "SIGCHLD fallback" } else { "pidfd" },
        );
    })
    .await;
}

/// Writes child `i`'s bytes to `cat` while reading all it echoes back,
/// then waits: (sent, received, status).
async fn echo(
    i: usize,
    mut child: Child,
    mut stdin: ChildWriter,
    mut stdout: ChildReader,
) -> (Vec<u8>, Vec<u8>, ExitStatus) {
    let sent = pseudo_random(i as u64, BYTES);
    let write = async {
        stdin.write_all(&sent).await?;
        stdin.shutdown().await
    };
    let mut got = Vec::with_capacity(BYTES);
    let (written, read) = tokio::join!(write, stdout.read_to_end(&mut got));
    written.unwrap_or_else(|e| panic!("child {i}: write: {e}"));
    read.unwrap_or_else(|e| panic!("child {i}: read: {e}"));
    let status = child.wait().await.unwrap_or_else(|e| panic!("child {i}: wait: {e}"));
    (sent, got, status)
}

/// `len` bytes of xorshift64 output seeded by `seed`: different per child,
/// so a child that got another's bytes is caught too.
fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
