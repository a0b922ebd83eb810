//! Properties of the line framer, which reads whatever a child writes:
//! the frames are the documented ones however the reads fall, each fd is
//! framed on its own, and no more than `max_length + 1` bytes are held.

use proptest::prelude::*;

use super::*;

/// A frame as the tests compare it: a line's bytes, or `None` for
/// [`Frame::TooLong`].
type Got = Option<Vec<u8>>;

fn got(frame: Frame) -> Got {
    match frame {
        Frame::Line(line) => Some(line.to_vec()),
        Frame::TooLong => None,
    }
}

/// The frames of the whole of `input`, as [`Lines`] documents them: a
/// line ends at `\n`, a `\r` just before it is part of the terminator;
/// the unterminated tail, when not empty, is a line as it is; a line
/// longer than `max` is one `TooLong`.
fn model(max: usize, input: &[u8]) -> Vec<Got> {
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let tail = lines.pop().unwrap_or_default();
    let mut contents: Vec<&[u8]> = lines.into_iter().map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
    if !tail.is_empty() {
        contents.push(tail);
    }
    contents.into_iter().map(|c| (c.len() <= max).then(|| c.to_vec())).collect()
}

/// Output rich in `\n`, `\r` and `\r\n`, with lines around any small
/// maximum.
fn output() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![3 => Just(b'\n'), 2 => Just(b'\r'), 1 => Just(0xff), 10 => b'a'..=b'z'];
    let run =
        prop_oneof![3 => prop::collection::vec(byte, 0..12), 1 => prop::collection::vec(b'a'..=b'z', 0..60)];
    prop::collection::vec(run, 0..12).prop_map(|runs| runs.concat())
}

/// Lines of `max - 1` to `max + 1` bytes, ended by `\n`, `\r\n`, `\r` or
/// nothing: where the maximum and the `\r` of `\r\n` meet.
fn near(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let line = (max.saturating_sub(1)..=max + 1, prop::sample::select(vec![&b"\n"[..], b"\r\n", b"\r", b""]));
    prop::collection::vec(line, 0..10).prop_map(|lines| {
        lines.into_iter().flat_map(|(len, end)| [&vec![b'x'; len][..], end].concat()).collect()
    })
}

/// A maximum, and output made for it.
fn max_and_output() -> impl Strategy<Value = (usize, Vec<u8>)> {
    (0usize..24).prop_flat_map(|max| (Just(max), prop_oneof![output(), near(max)]))
}

/// `input` cut at `cuts` (any positions, in any order), and after each
/// `\r` if `at_cr`: the reads.
fn reads(input: &[u8], cuts: &[usize], at_cr: bool) -> Vec<Bytes> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    if at_cr {
        cuts.extend(input.iter().enumerate().filter(|(_, &b)| b == b'\r').map(|(i, _)| i + 1));
    }
    cuts.extend([0, input.len()]);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| Bytes::copy_from_slice(&input[w[0]..w[1]])).collect()
}

/// The bytes `framer` holds for `fd`.
fn held(framer: &Framer, fd: RawFd) -> usize {
    framer.fds.iter().find(|(f, _)| *f == fd).map_or(0, |(_, p)| p.buf.len())
}

proptest! {
    /// Whatever the bytes and however the reads split them, the frames
    /// are the documented ones, and at most `max + 1` bytes wait.
    #[test]
    fn frames_are_the_documented_ones_however_the_reads_fall(
        (max, input) in max_and_output(),
        cuts in prop::collection::vec(0usize..800, 0..30),
        at_cr in any::<bool>(),
    ) {
        let mut framer = Framer { max_length: max, fds: Vec::new() };
        let mut frames = Vec::new();
        for read in reads(&input, &cuts, at_cr) {
            framer.feed(1, read, |f| frames.push(got(f)));
            prop_assert!(held(&framer, 1) <= max + 1, "{} bytes held, max {max}", held(&framer, 1));
        }
        framer.finish(1, |f| frames.push(got(f)));
        prop_assert_eq!(frames, model(max, &input));
        prop_assert!(framer.fds.is_empty(), "nothing is kept of a finished fd");
    }

    /// Reads of several fds, interleaved in any order and each finished
    /// at any point: each fd's frames are those of its own bytes.
    #[test]
    fn each_fd_is_framed_on_its_own(
        inputs in prop::collection::vec((output(), prop::collection::vec(0usize..800, 0..8)), 1..4),
        max in 0usize..24,
        order in prop::collection::vec(any::<prop::sample::Index>(), 0..80),
    ) {
        let mut pending: Vec<(RawFd, std::collections::VecDeque<Bytes>)> = inputs
            .iter()
            .enumerate()
            .map(|(i, (input, cuts))| (i as RawFd + 1, reads(input, cuts, true).into()))
            .collect();
        let mut framer = Framer { max_length: max, fds: Vec::new() };
        let mut frames: Vec<Vec<Got>> = vec![Vec::new(); inputs.len()];
        // One read of the fd `order` picks, or its end once it has none.
        let mut order = order.into_iter();
        while !pending.is_empty() {
            let at = order.next().map_or(0, |i| i.index(pending.len()));
            let fd = pending[at].0;
            let out = &mut frames[fd as usize - 1];
            match pending[at].1.pop_front() {
                Some(read) => framer.feed(fd, read, |f| out.push(got(f))),
                None => {
                    framer.finish(fd, |f| out.push(got(f)));
                    pending.remove(at);
                }
            }
            for (fd, _) in &pending {
                prop_assert!(held(&framer, *fd) <= max + 1);
            }
        }
        for (i, (input, _)) in inputs.iter().enumerate() {
            prop_assert_eq!(&frames[i], &model(max, input), "fd {}", i + 1);
        }
        prop_assert!(framer.fds.is_empty());
    }

    /// A line that runs on for many reads of any size: reported once as
    /// too long as soon as it passes `max` (a line, if it never does),
    /// never more than `max + 1` bytes held; the line after its `\n`
    /// comes through.
    #[test]
    fn an_endless_line_is_reported_once_and_not_kept(
        (max, sizes) in prop_oneof![0usize..64, 0usize..=64 * 1024].prop_flat_map(|max| {
            (Just(max), prop::collection::vec(prop_oneof![1usize..16, 1..=3 * max + 1], 1..24))
        }),
        cr in any::<bool>(),
    ) {
        let stream = Bytes::from(vec![b'x'; (3 * max + 1).max(16)]);
        let mut framer = Framer { max_length: max, fds: Vec::new() };
        let (mut frames, mut total) = (Vec::new(), 0);
        for size in sizes {
            framer.feed(1, stream.slice(..size), |f| frames.push(got(f)));
            total += size;
            prop_assert!(held(&framer, 1) <= max + 1);
        }
        let end: &[u8] = if cr { b"\r\nnext\n" } else { b"\nnext\n" };
        framer.feed(1, Bytes::copy_from_slice(end), |f| frames.push(got(f)));
        let mut want = vec![if total <= max { Some(vec![b'x'; total]) } else { None }];
        want.push((max >= 4).then(|| b"next".to_vec()));
        prop_assert_eq!(frames, want);
    }
}
