//! The protocol's line framer (`Lines`, `ByteLines`) on reads of up to
//! three fds, interleaved, some repeated many times, each fd ended at any
//! point: never a panic; each fd's frames are the documented ones for its
//! own bytes; no more than `max + 1` bytes are held for any fd, and
//! nothing once it has ended.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use procwire_protocol::__fuzz::Framer;

#[derive(Arbitrary, Debug)]
struct Input {
    /// The maximum line length: 0 to 65535.
    max: u16,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// A read of fd `fd % 3 + 1`, and how many more times it comes (0 to 15).
    Read { fd: u8, bytes: Vec<u8>, again: u8 },
    /// The end of fd `fd % 3 + 1`.
    End { fd: u8 },
}

/// The frames of the whole of `input`: a line ends at `\n`, a `\r` just
/// before it is part of the terminator; the tail, when not empty, is a
/// line as it is; a line longer than `max` is one `None`.
fn model(max: usize, input: &[u8]) -> Vec<Option<&[u8]>> {
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let tail = lines.pop().unwrap_or_default();
    let mut contents: Vec<&[u8]> = lines.into_iter().map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
    if !tail.is_empty() {
        contents.push(tail);
    }
    contents.into_iter().map(|c| (c.len() <= max).then_some(c)).collect()
}

fn check(max: usize, input: &[u8], frames: &[Option<Bytes>]) {
    let want = model(max, input);
    assert!(frames.iter().map(Option::as_deref).eq(want.iter().copied()), "frames of {input:?}: {frames:?}");
}

fuzz_target!(|input: Input| {
    let max = usize::from(input.max);
    let mut framer = Framer::new(max);
    // Per fd: its bytes since its last end, and its frames.
    let mut fds: [(Vec<u8>, Vec<Option<Bytes>>); 3] = Default::default();
    for op in input.ops {
        match op {
            Op::Read { fd, bytes, again } => {
                let (i, bytes) = (usize::from(fd % 3), Bytes::from(bytes));
                let (sent, frames) = &mut fds[i];
                for _ in 0..=again % 16 {
                    sent.extend_from_slice(&bytes);
                    framer.feed(i as i32 + 1, bytes.clone(), |f| frames.push(f));
                    assert!(framer.held(i as i32 + 1) <= max + 1, "{} bytes held", framer.held(i as i32 + 1));
                }
            }
            Op::End { fd } => {
                let i = usize::from(fd % 3);
                let (sent, frames) = &mut fds[i];
                framer.finish(i as i32 + 1, |f| frames.push(f));
                assert_eq!(framer.held(i as i32 + 1), 0);
                check(max, sent, frames);
                sent.clear();
                frames.clear();
            }
        }
        assert!(framer.open_fds() <= 3);
    }
    for (i, (sent, frames)) in fds.iter_mut().enumerate() {
        framer.finish(i as i32 + 1, |f| frames.push(f));
        check(max, sent, frames);
    }
    assert_eq!(framer.open_fds(), 0);
});
