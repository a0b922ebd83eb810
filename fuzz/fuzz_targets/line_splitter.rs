//! `LineSplitter` (procwire-core's `LineFramer` under its default rules)
//! on any output, in reads of any size, some repeated many
//! times (a long stream from a short input): never a panic; the pieces
//! are the documented ones, through `next_line` and `take_lines` alike;
//! no more than `max` bytes wait once the lines are taken, `max` plus the
//! read before.
//!
//! `max` is 1 to 65535, or `usize::MAX` (no limit: the splitter's own
//! meaning of it since issue 16's defect 6 was fixed).

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use procwire_supervisor::LineSplitter;

#[derive(Arbitrary, Debug)]
struct Input {
    /// The maximum, less one (`u16::MAX`: no limit).
    max: u16,
    /// Each read, and how many more times it comes (0 to 15).
    reads: Vec<(Vec<u8>, u8)>,
}

/// The pieces the splitter must give for the whole of `input`: each line
/// (`\n`-ended, or the tail when not empty) in pieces of `max` bytes, all
/// but the last of its line continued; an empty line is one empty piece.
fn model(max: usize, input: &[u8]) -> Vec<(&[u8], bool)> {
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|tail| tail.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::new();
    for line in lines {
        if line.is_empty() {
            out.push((line, false));
        }
        let n = line.len().div_ceil(max);
        out.extend(line.chunks(max).enumerate().map(|(i, p)| (p, i + 1 < n)));
    }
    out
}

fuzz_target!(|input: Input| {
    let max = if input.max == u16::MAX { usize::MAX } else { usize::from(input.max) + 1 };
    let mut one = LineSplitter::new(max);
    let mut batch = LineSplitter::new(max);
    let (mut all, mut pieces, mut batched, mut spans) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut take = |s: &mut LineSplitter, batched: &mut Vec<(Vec<u8>, bool)>| {
        if let Some(chunk) = s.take_lines(&mut spans) {
            let mut at = 0;
            for span in &spans {
                assert_eq!(span.start, at, "lines of a chunk follow each other");
                at = span.end + usize::from(!span.continued && span.end < chunk.len());
                assert_eq!(span.next, at, "a span's next is after its newline");
                batched.push((chunk[span.start..span.end].to_vec(), span.continued));
            }
            assert_eq!(at, chunk.len(), "a chunk is its lines and their newlines");
        } else {
            assert!(spans.is_empty());
        }
    };
    for (read, again) in &input.reads {
        for _ in 0..=again % 16 {
            all.extend_from_slice(read);
            let before = one.buffered();
            one.push(read);
            assert!(before <= max && one.buffered() == before + read.len());
            pieces.extend(std::iter::from_fn(|| one.next_line()).map(|l| (l.bytes.to_vec(), l.continued)));
            assert!(one.buffered() <= max, "{} bytes wait, max {max}", one.buffered());
            batch.push(read);
            take(&mut batch, &mut batched);
            assert_eq!(batch.buffered(), one.buffered());
        }
    }
    one.finish();
    pieces.extend(std::iter::from_fn(|| one.next_line()).map(|l| (l.bytes.to_vec(), l.continued)));
    batch.finish();
    take(&mut batch, &mut batched);
    let want = model(max, &all);
    assert!(pieces.iter().map(|(b, c)| (&b[..], *c)).eq(want.iter().copied()), "next_line pieces");
    assert!(batched.iter().map(|(b, c)| (&b[..], *c)).eq(want.iter().copied()), "take_lines pieces");
    one.finish();
    assert_eq!(one.next_line(), None, "the tail comes once");
    assert_eq!((one.buffered(), batch.buffered()), (0, 0));
});
