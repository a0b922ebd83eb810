//! Properties of the wrappers' bookkeeping around the framer (whose own
//! properties are `procwire_core::lines`'): each fd is framed on its own,
//! however reads of several fds interleave and whenever each one ends, and
//! no more than `max_length + 1` bytes are held per fd.

use proptest::prelude::*;

use super::*;

/// A line's bytes, or `None` for one too long.
type Got = Option<Vec<u8>>;

/// What one fd's bytes give, alone, through a framer of the wrappers' rules.
fn alone(max: usize, input: &[u8]) -> Vec<Got> {
    let mut framer = Framer::new(max);
    let mut frames = Vec::new();
    framer.feed(1, Bytes::copy_from_slice(input), |chunk, span| frames.push(got(chunk, span)));
    framer.finish(1, |chunk, span| frames.push(got(chunk, span)));
    frames
}

fn got(chunk: &Bytes, span: &Span) -> Got {
    (!span.continued).then(|| chunk[span.start..span.end].to_vec())
}

/// Output rich in `\n`, `\r` and `\r\n`.
fn output() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![3 => Just(b'\n'), 2 => Just(b'\r'), 1 => Just(0xff), 10 => b'a'..=b'z'];
    prop::collection::vec(byte, 0..120)
}

/// `input` cut at `cuts` (any positions, in any order): the reads.
fn reads(input: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.extend([0, input.len()]);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| Bytes::copy_from_slice(&input[w[0]..w[1]])).collect()
}

/// The bytes `framer` holds for `fd`.
fn held(framer: &Framer, fd: RawFd) -> usize {
    framer.fds.iter().find(|(f, _)| *f == fd).map_or(0, |(_, f)| f.buffered())
}

proptest! {
    /// Reads of several fds, interleaved in any order and each finished
    /// at any point: each fd's frames are those of its own bytes alone.
    #[test]
    fn each_fd_is_framed_on_its_own(
        inputs in prop::collection::vec((output(), prop::collection::vec(0usize..120, 0..8)), 1..4),
        max in 0usize..24,
        order in prop::collection::vec(any::<prop::sample::Index>(), 0..80),
    ) {
        let mut pending: Vec<(RawFd, std::collections::VecDeque<Bytes>)> = inputs
            .iter()
            .enumerate()
            .map(|(i, (input, cuts))| (i as RawFd + 1, reads(input, cuts).into()))
            .collect();
        let mut framer = Framer::new(max);
        let mut frames: Vec<Vec<Got>> = vec![Vec::new(); inputs.len()];
        // One read of the fd `order` picks, or its end once it has none.
        let mut order = order.into_iter();
        while !pending.is_empty() {
            let at = order.next().map_or(0, |i| i.index(pending.len()));
            let fd = pending[at].0;
            let out = &mut frames[fd as usize - 1];
            match pending[at].1.pop_front() {
                Some(read) => framer.feed(fd, read, |chunk, span| out.push(got(chunk, span))),
                None => {
                    framer.finish(fd, |chunk, span| out.push(got(chunk, span)));
                    pending.remove(at);
                }
            }
            for (fd, _) in &pending {
                prop_assert!(held(&framer, *fd) <= max + 1);
            }
        }
        for (i, (input, _)) in inputs.iter().enumerate() {
            prop_assert_eq!(&frames[i], &alone(max, input), "fd {}", i + 1);
        }
        prop_assert!(framer.fds.is_empty(), "nothing is kept of a finished fd");
    }
}
