//! The pipe ends over a real pipe whose growth the kernel refuses.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use nix::fcntl::OFlag;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::growth::Growth;
use super::{ChildReader, ChildWriter};
use crate::sys;

thread_local! {
    static REFUSED: Cell<usize> = const { Cell::new(0) };
}

/// `F_SETPIPE_SZ` as a user past `pipe-user-pages-soft` sees it.
fn refuse(_: BorrowedFd<'_>, _: usize) -> io::Result<usize> {
    REFUSED.set(REFUSED.get() + 1);
    Err(io::Error::from_raw_os_error(nix::libc::EPERM))
}

/// A pipe that cannot grow still carries everything, in order: 16 MiB,
/// 256 default pipe-fulls, with the writer finding it full again and
/// again. Each end asked once, and not again after the refusal.
#[tokio::test]
async fn a_pipe_refused_growth_still_transfers_everything() {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).expect("pipe2");
    let before = sys::io::pipe_capacity(r.as_fd()).expect("F_GETPIPE_SZ");
    let refusing = || Growth::with_kernel(sys::io::pipe_capacity, refuse);
    let mut writer = ChildWriter::with_growth(0, w, refusing()).expect("writer");
    let mut reader = ChildReader::with_growth(1, r, refusing()).expect("reader");
    let data: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
    let write = async {
        writer.write_all(&data).await.expect("write");
        writer.shutdown().await.expect("shutdown");
    };
    let mut back = Vec::with_capacity(data.len());
    let ((), read) = tokio::join!(write, reader.read_to_end(&mut back));
    read.expect("read");
    assert!(back == data, "read {} bytes, not the {} written", back.len(), data.len());
    assert_eq!(sys::io::pipe_capacity(reader.as_fd()).expect("F_GETPIPE_SZ"), before);
    assert_eq!(REFUSED.get(), 2, "one refusal per end, then no more asking");
}
