use proptest::prelude::*;

use super::*;

const MAX: usize = LogSpec::DEFAULT_MAX_LINE;

/// Every piece of `input` fed in `chunks`-sized chunks, then EOF.
fn split(max: usize, input: &[u8], chunk: usize) -> Vec<(Vec<u8>, bool)> {
    let mut s = LineSplitter::new(max);
    let mut out = Vec::new();
    for c in input.chunks(chunk.max(1)) {
        s.push(c);
        out.extend(std::iter::from_fn(|| s.next_line()).map(|l| (l.bytes.to_vec(), l.continued)));
    }
    s.finish();
    out.extend(std::iter::from_fn(|| s.next_line()).map(|l| (l.bytes.to_vec(), l.continued)));
    assert_eq!(s.buffered(), 0);
    out
}

/// The same through `take_lines`, a chunk of lines at a time; the lines
/// a subscriber finds again in each chunk are its spans.
fn split_in_batches(max: usize, input: &[u8], chunk: usize) -> Vec<(Vec<u8>, bool)> {
    let mut s = LineSplitter::new(max);
    let (mut out, mut spans) = (Vec::new(), Vec::new());
    let mut take = |s: &mut LineSplitter, out: &mut Vec<(Vec<u8>, bool)>| {
        if let Some(bytes) = s.take_lines(&mut spans) {
            out.extend(spans.iter().map(|sp| (bytes[sp.start..sp.end].to_vec(), sp.continued)));
            assert_eq!(recut(&bytes, max, spans.last().unwrap().continued), spans);
        } else {
            assert!(spans.is_empty());
        }
    };
    for c in input.chunks(chunk.max(1)) {
        s.push(c);
        take(&mut s, &mut out);
    }
    s.finish();
    take(&mut s, &mut out);
    assert_eq!(s.buffered(), 0);
    out
}

/// The lines of a chunk, as a subscriber finds them again.
fn recut(chunk: &[u8], max: usize, last_continued: bool) -> Vec<Span> {
    let (mut spans, mut at) = (Vec::new(), 0);
    while at < chunk.len() {
        let cut = line_in_chunk(chunk, at, max, last_continued);
        spans.push(Span { start: at, end: at + cut.end, continued: cut.continued });
        at += cut.next;
    }
    spans
}

#[test]
fn newline_finds_the_first_one_at_every_offset() {
    for len in 0..40 {
        for at in 0..=len {
            let mut bytes = vec![b'x'; len];
            if at < len {
                bytes[at] = b'\n';
                if at + 3 < len {
                    bytes[at + 3] = b'\n';
                }
            }
            assert_eq!(newline(&bytes), (at < len).then_some(at), "len {len} at {at}");
        }
    }
    // Bytes one off '\n' (0x0a) and with the high bit set are not one.
    assert_eq!(newline(&[0x0b, 0x09, 0x8a, 0x0a ^ 0x80, 0x00, 0xff, 0x0a]), Some(6));
}

fn line(bytes: &[u8]) -> (Vec<u8>, bool) {
    (bytes.to_vec(), false)
}

#[test]
fn a_100_kib_line_comes_as_7_pieces_and_logging_goes_on() {
    // procmon's bug 2: a line over 16 KiB ends that program's logging.
    let mut input = vec![b'x'; 100 * 1024];
    input.extend_from_slice(b"\nnext\nafter\n");
    for chunk in [1 << 20, 4096, 1000, 16 * 1024 + 1] {
        let pieces = split(MAX, &input, chunk);
        assert_eq!(split_in_batches(MAX, &input, chunk), pieces);
        let sizes: Vec<(usize, bool)> = pieces.iter().map(|(b, c)| (b.len(), *c)).collect();
        let mut want = vec![(16_384, true); 6];
        want.extend([(4096, false), (4, false), (5, false)]);
        assert_eq!(sizes, want, "chunk {chunk}");
        assert_eq!(pieces[7..], [line(b"next"), line(b"after")]);
    }
}

#[test]
fn no_empty_line_is_invented() {
    // procmon's bug 1: an extra empty line after output ending in "\n".
    assert_eq!(split(MAX, b"a\nb\n", 64), [line(b"a"), line(b"b")]);
    assert_eq!(split(MAX, b"a\nb", 64), [line(b"a"), line(b"b")]);
    assert_eq!(split(MAX, b"", 64), []);
    assert_eq!(split(MAX, b"\n\n", 64), [line(b""), line(b"")]); // real empty lines stay
                                                                 // A line of exactly the maximum, or a multiple of it, has no empty last piece.
    assert_eq!(split(4, b"abcd\n", 1), [line(b"abcd")]);
    assert_eq!(split(4, b"abcdefgh\n", 3), [(b"abcd".to_vec(), true), line(b"efgh")]);
    assert_eq!(split(4, b"abcdefgh", 3), [(b"abcd".to_vec(), true), line(b"efgh")]);
    assert_eq!(split(4, b"abcde\n", 2), [(b"abcd".to_vec(), true), line(b"e")]);
}

#[test]
fn raw_bytes_and_carriage_returns_are_kept() {
    assert_eq!(split(MAX, b"\xff\xfe\r\nok\r\n\r", 1), [line(b"\xff\xfe\r"), line(b"ok\r"), line(b"\r")]);
}

#[test]
fn a_long_unterminated_tail_comes_in_pieces_at_eof() {
    let pieces = split(MAX, &vec![b'y'; 20_000], 3000);
    let sizes: Vec<(usize, bool)> = pieces.iter().map(|(b, c)| (b.len(), *c)).collect();
    assert_eq!(sizes, [(16_384, true), (3616, false)]);
}

#[test]
fn a_million_lines_of_32_bytes_in_64_kib_chunks_in_order_exactly_once() {
    const N: usize = 1_000_000;
    let mut input = Vec::with_capacity(N * 32);
    for i in 0..N {
        input.extend_from_slice(format!("{i:031}\n").as_bytes());
    }
    let mut s = LineSplitter::new(MAX);
    let mut next = 0usize;
    let mut check = |l: Line| {
        assert!(!l.continued && l.bytes.len() == 31, "line {next}");
        let n = l.bytes.iter().fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
        assert_eq!(n, next);
        next += 1;
    };
    for chunk in input.chunks(64 * 1024) {
        s.push(chunk);
        while let Some(l) = s.next_line() {
            check(l);
        }
    }
    s.finish();
    assert_eq!(s.next_line(), None);
    assert_eq!(next, N);
}

/// Bytes rich in `\n` and in runs longer than a small maximum.
fn output() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![4 => Just(b'\n'), 2 => Just(b'\r'), 10 => any::<u8>()], 0..300)
}

proptest! {
    #[test]
    fn pieces_do_not_depend_on_chunking(
        input in output(),
        max in 1usize..12,
        cuts in prop::collection::vec(0usize..300, 0..20),
    ) {
        let whole = split(max, &input, input.len());
        // Feed at arbitrary cut points.
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        cuts.extend([0, input.len()]);
        cuts.sort_unstable();
        let mut s = LineSplitter::new(max);
        let mut pieces = Vec::new();
        for w in cuts.windows(2) {
            s.push(&input[w[0]..w[1]]);
            pieces.extend(std::iter::from_fn(|| s.next_line()).map(|l| (l.bytes.to_vec(), l.continued)));
        }
        s.finish();
        pieces.extend(std::iter::from_fn(|| s.next_line()).map(|l| (l.bytes.to_vec(), l.continued)));
        prop_assert_eq!(&pieces, &whole);
        prop_assert_eq!(&split(max, &input, 1), &whole);
        for chunk in [1, 7, input.len()] {
            prop_assert_eq!(&split_in_batches(max, &input, chunk), &whole);
        }

        // Nothing lost, nothing added: the pieces rebuild the input.
        let mut rebuilt = Vec::new();
        for (bytes, continued) in &whole {
            prop_assert!(bytes.len() <= max);
            prop_assert!(!(*continued && bytes.len() < max));
            rebuilt.extend_from_slice(bytes);
            if !continued {
                rebuilt.push(b'\n');
            }
        }
        let mut want = input.clone();
        if want.last().is_some_and(|&b| b != b'\n') {
            want.push(b'\n');
        }
        prop_assert_eq!(rebuilt, want);
    }
}

#[tokio::test]
async fn reads_go_straight_into_chunks_of_their_own_size() {
    // Lines of 1,000 bytes, read 4 KiB, then 8 KiB ... up to 64 KiB at a
    // time: the start of a line is carried from one read to the next.
    let input: Vec<u8> =
        (0..200u8).flat_map(|i| std::iter::repeat_n(b'a' + i % 26, 999).chain([b'\n'])).collect();
    let mut reader = &input[..];
    let mut s = LineSplitter::new(MAX);
    let (mut got, mut spans, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    while s.read_from(&mut reader).await.unwrap() > 0 {
        let chunk = s.take_lines(&mut spans).unwrap();
        sizes.push(chunk.len());
        got.extend_from_slice(&chunk);
        // What keeps the chunk keeps its bytes and nothing more.
        let len = chunk.len();
        assert_eq!(chunk.try_into_mut().expect("the only reference").capacity(), len);
    }
    assert_eq!(got, input);
    assert_eq!(s.buffered(), 0);
    // 4096 bytes read, 4000 in lines, 96 carried; 8192 read ...
    assert_eq!(sizes, [4000, 8000, 16000, 33000, 65000, 66000, 8000]);
}

// Issue 16, defect 6: `max_line(usize::MAX)` passed validation, then
// `max + 1` overflowed in the drain task (a panic in debug builds, no line
// ever in release builds, and a buffer growing without end).
#[test]
fn max_line_of_usize_max_is_refused_by_validate() {
    for max in [usize::MAX, LogSpec::MAX_LINE_LIMIT + 1] {
        let err = LogSpec::new().max_line(max).validate().unwrap_err();
        assert_eq!(
            err,
            SpecError::OutOfRange {
                setting: "LogSpec::max_line",
                value: max.to_string(),
                allowed: "1..=1048576 (1 MiB)"
            }
        );
    }
    assert_eq!(LogSpec::new().max_line(0).validate(), Err(SpecError::ZeroLineLength));
    for max in [1, LogSpec::MAX_LINE_LIMIT] {
        assert_eq!(LogSpec::new().max_line(max).validate(), Ok(()));
    }
    // The splitter itself takes any maximum but 0: `usize::MAX` is no limit.
    assert_eq!(split(usize::MAX, b"ab\ncd", 1), [line(b"ab"), line(b"cd")]);
    assert_eq!(split_in_batches(usize::MAX, b"ab\ncd", 1), [line(b"ab"), line(b"cd")]);
}

/// The pieces the splitter must give for the whole of `input`, as its
/// documentation says: each line, `\n`-ended or the unterminated tail
/// when it is not empty, in pieces of `max` bytes, every piece but the
/// last of its line marked continued; an empty line is one empty piece;
/// every other byte (`\r` too) kept as it is.
fn model(max: usize, input: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    // What follows the last `\n`: a line only if something is there.
    if lines.last().is_some_and(|tail| tail.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::new();
    for line in lines {
        if line.is_empty() {
            out.push((Vec::new(), false));
        }
        let pieces = line.chunks(max);
        let n = pieces.len();
        out.extend(pieces.enumerate().map(|(i, p)| (p.to_vec(), i + 1 < n)));
    }
    out
}

/// Output made of lines of 0 to 150 bytes (any byte but `\n`, `\r`
/// often), each ended by `\n`, `\r\n` or nothing (then it runs into the
/// next one).
fn long_lines() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![1 => Just(b'\r'), 8 => any::<u8>().prop_filter("a newline", |&b| b != b'\n')];
    let end = prop::sample::select(vec![&b"\n"[..], b"\r\n", b""]);
    prop::collection::vec((prop::collection::vec(byte, 0..150), end), 0..8).prop_map(|lines| {
        lines
            .into_iter()
            .flat_map(|(mut line, end)| {
                line.extend_from_slice(end);
                line
            })
            .collect()
    })
}

/// `input` cut at `cuts` (any positions, in any order): the reads.
fn reads<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.extend([0, input.len()]);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| &input[w[0]..w[1]]).collect()
}

proptest! {
    /// Whatever the bytes and however they are split into reads, the
    /// pieces are the documented ones (so the pieces and their `\n`s
    /// rebuild the input; no empty line is invented; a piece is at most
    /// `max` and is continued exactly when its line goes on; the tail
    /// comes once, at the end), through `next_line` and `take_lines`
    /// alike; and no more than `max` bytes wait once the lines are taken.
    #[test]
    fn pieces_are_the_documented_ones_however_the_reads_fall(
        input in prop_oneof![output(), long_lines()],
        max in prop_oneof![1usize..8, 1usize..200],
        cuts in prop::collection::vec(0usize..1200, 0..30),
    ) {
        let want = model(max, &input);
        let mut s = LineSplitter::new(max);
        let mut batches = LineSplitter::new(max);
        let (mut pieces, mut batched, mut spans) = (Vec::new(), Vec::new(), Vec::new());
        let mut take = |s: &mut LineSplitter, batched: &mut Vec<(Vec<u8>, bool)>| {
            if let Some(chunk) = s.take_lines(&mut spans) {
                // The chunk is exactly the lines and their `\n`s.
                let mut at = 0;
                for sp in &spans {
                    prop_assert_eq!(sp.start, at);
                    at = sp.end + usize::from(!sp.continued && sp.end < chunk.len());
                    batched.push((chunk[sp.start..sp.end].to_vec(), sp.continued));
                }
                prop_assert_eq!(at, chunk.len());
            }
            Ok(())
        };
        for read in reads(&input, &cuts) {
            s.push(read);
            pieces.extend(std::iter::from_fn(|| s.next_line()).map(|l| (l.bytes.to_vec(), l.continued)));
            prop_assert!(s.buffered() <= max, "{} bytes wait, max {max}", s.buffered());
            batches.push(read);
            take(&mut batches, &mut batched)?;
            prop_assert_eq!(batches.buffered(), s.buffered());
        }
        s.finish();
        pieces.extend(std::iter::from_fn(|| s.next_line()).map(|l| (l.bytes.to_vec(), l.continued)));
        batches.finish();
        take(&mut batches, &mut batched)?;
        prop_assert_eq!(&pieces, &want);
        prop_assert_eq!(&batched, &want);
        // The tail came once: finished and drained, nothing more.
        s.finish();
        prop_assert_eq!(s.next_line(), None);
        prop_assert_eq!((s.buffered(), batches.buffered()), (0, 0));
    }

    /// A stream without a single `\n`, in reads of any size: the splitter
    /// never holds more than `max` plus the read just pushed, and gives
    /// every byte back in pieces of exactly `max` (the tail at the end).
    #[test]
    fn a_stream_without_newlines_holds_at_most_max_plus_a_read(
        (max, sizes) in prop_oneof![1usize..64, 1usize..=64 * 1024].prop_flat_map(|max| {
            // Reads of a few bytes to three times the maximum.
            (Just(max), prop::collection::vec(prop_oneof![1usize..16, 1..=3 * max], 1..24))
        }),
    ) {
        let stream = vec![b'x'; (3 * max).max(16)];
        let mut s = LineSplitter::new(max);
        let (mut total, mut given) = (0usize, 0usize);
        for size in sizes {
            let before = s.buffered();
            s.push(&stream[..size]);
            total += size;
            prop_assert!(s.buffered() == before + size && before <= max);
            while let Some(piece) = s.next_line() {
                prop_assert!(piece.continued && piece.bytes.len() == max);
                given += max;
            }
            prop_assert!(s.buffered() <= max);
            prop_assert_eq!(given + s.buffered(), total);
        }
        s.finish();
        if let Some(tail) = s.next_line() {
            prop_assert!(!tail.continued && (1..=max).contains(&tail.bytes.len()));
            given += tail.bytes.len();
        }
        prop_assert_eq!((given, s.next_line(), s.buffered()), (total, None, 0));
    }
}
