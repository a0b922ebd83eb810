//! Properties of the framer, which reads whatever a child writes, under
//! every rule set (the supervisor's: `\n`, pieces; the protocol's: `\r\n`,
//! cut short; and the two others): the lines are the documented ones
//! however the reads fall and whichever way bytes go in and lines come
//! out, nothing is lost or added, and no more than the maximum is held.

use proptest::prelude::*;

use super::*;

/// A line or piece as the tests compare them.
type Got = (Vec<u8>, bool);

/// The lines of the whole of `input`, as [`LineRules`] and [`LineFramer`]
/// document them: a line ends at `\n` (with crlf, a `\r` just before it is
/// part of the terminator); the unterminated tail, when not empty, is a
/// line as it is; an empty line is a line; a line longer than the maximum
/// comes in pieces of the maximum, every one but the last continued
/// (`Split`), or as its first maximum bytes, continued (`Truncate`).
fn model(rules: LineRules, input: &[u8]) -> Vec<Got> {
    let max = rules.max_length();
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let tail = lines.pop().unwrap_or_default();
    let strip = rules.crlf();
    let mut contents: Vec<&[u8]> =
        lines.into_iter().map(|l| if strip { l.strip_suffix(b"\r").unwrap_or(l) } else { l }).collect();
    if !tail.is_empty() {
        contents.push(tail);
    }
    let mut out = Vec::new();
    for c in contents {
        if c.len() <= max {
            out.push((c.to_vec(), false));
        } else if rules.long_lines() == LongLines::Truncate {
            out.push((c[..max].to_vec(), true));
        } else {
            let n = c.len().div_ceil(max);
            out.extend(c.chunks(max).enumerate().map(|(i, p)| (p.to_vec(), i + 1 < n)));
        }
    }
    out
}

/// Any of the four rule sets, with a small maximum (where lines cross
/// it), a large one, or none.
fn rules() -> impl Strategy<Value = LineRules> {
    let max = prop_oneof![8 => 0usize..24, 2 => 0usize..200, 1 => Just(usize::MAX)];
    let long = prop_oneof![Just(LongLines::Split), Just(LongLines::Truncate)];
    (max, any::<bool>(), long)
        .prop_map(|(max, crlf, long)| LineRules::new(max).with_crlf(crlf).with_long_lines(long))
}

/// Output rich in `\n`, `\r` and bytes that are not UTF-8, with runs
/// longer than a small maximum.
fn output() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![3 => Just(b'\n'), 2 => Just(b'\r'), 1 => Just(0xff), 10 => any::<u8>()];
    let run =
        prop_oneof![3 => prop::collection::vec(byte, 0..12), 1 => prop::collection::vec(b'a'..=b'z', 0..60)];
    prop::collection::vec(run, 0..12).prop_map(|runs| runs.concat())
}

/// Lines of `max - 1` to `max + 1` bytes, ended by `\n`, `\r\n`, `\r` or
/// nothing: where the maximum and the `\r` of `\r\n` meet.
fn near(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let max = max.min(300);
    let line = (max.saturating_sub(1)..=max + 1, prop::sample::select(vec![&b"\n"[..], b"\r\n", b"\r", b""]));
    prop::collection::vec(line, 0..10).prop_map(|lines| {
        lines.into_iter().flat_map(|(len, end)| [&vec![b'x'; len][..], end].concat()).collect()
    })
}

/// Rules, and output made for them.
fn rules_and_output() -> impl Strategy<Value = (LineRules, Vec<u8>)> {
    rules().prop_flat_map(|rules| (Just(rules), prop_oneof![output(), near(rules.max_length())]))
}

/// `input` cut at `cuts` (any positions, in any order), and after each
/// `\r` if `at_cr`: the reads.
fn reads<'a>(input: &'a [u8], cuts: &[usize], at_cr: bool) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    if at_cr {
        cuts.extend(input.iter().enumerate().filter(|(_, &b)| b == b'\r').map(|(i, _)| i + 1));
    }
    cuts.extend([0, input.len()]);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| &input[w[0]..w[1]]).collect()
}

/// The most the framer may hold once its lines are taken.
fn bound(rules: LineRules) -> usize {
    rules.max_length().saturating_add(usize::from(rules.crlf()))
}

/// Takes every line `framer` has, one by one or in chunks; checks each
/// chunk against its spans (and, for pieces, against the spans found
/// again from its bytes); the chunks go to `chunks`.
fn take(
    framer: &mut LineFramer,
    one_by_one: bool,
    out: &mut Vec<Got>,
    chunks: &mut Vec<u8>,
) -> Result<(), TestCaseError> {
    if one_by_one {
        out.extend(std::iter::from_fn(|| framer.next_line()).map(|l| (l.bytes.to_vec(), l.continued)));
        return Ok(());
    }
    let rules = framer.rules();
    let mut spans = Vec::new();
    while let Some(chunk) = framer.take_lines(&mut spans) {
        prop_assert!(!spans.is_empty());
        let mut at = 0;
        for span in &spans {
            prop_assert!(at <= span.start && span.start <= span.end && span.end <= span.next);
            if rules.long_lines() == LongLines::Split {
                // The chunk is exactly its lines and their terminators, and
                // they can be found again from its bytes.
                prop_assert_eq!(span.start, at);
                prop_assert_eq!(rules.span_at(&chunk, at, spans.last().unwrap().continued), *span);
            }
            at = span.next;
            out.push((chunk[span.start..span.end].to_vec(), span.continued));
        }
        prop_assert!(at <= chunk.len());
        if rules.long_lines() == LongLines::Split {
            prop_assert_eq!(at, chunk.len());
        }
        chunks.extend_from_slice(&chunk);
    }
    prop_assert!(spans.is_empty());
    Ok(())
}

proptest! {
    /// Whatever the rules and the bytes, however the reads split them,
    /// whether they are copied in or shared, and whether the lines are
    /// taken one by one or in chunks: the lines are the documented ones;
    /// split lines and their terminators give the input back; at most the
    /// maximum (and a `\r`) waits once the lines are taken, nothing after
    /// the end; the tail comes once.
    #[test]
    fn lines_are_the_documented_ones_however_the_reads_fall(
        (rules, input) in rules_and_output(),
        cuts in prop::collection::vec(0usize..800, 0..30),
        at_cr in any::<bool>(),
        ways in prop::collection::vec((any::<bool>(), any::<bool>()), 1..8),
    ) {
        let mut framer = LineFramer::with_rules(rules);
        let (mut got, mut chunks) = (Vec::new(), Vec::new());
        let mut ways = ways.iter().cycle();
        for read in reads(&input, &cuts, at_cr) {
            let &(shared, one_by_one) = ways.next().unwrap();
            if shared {
                framer.push_bytes(Bytes::copy_from_slice(read));
            } else {
                framer.push(read);
            }
            take(&mut framer, one_by_one, &mut got, &mut chunks)?;
            prop_assert!(framer.buffered() <= bound(rules), "{} bytes held, {rules:?}", framer.buffered());
        }
        framer.finish();
        take(&mut framer, ways.next().unwrap().1, &mut got, &mut Vec::new())?;
        prop_assert_eq!(framer.buffered(), 0);
        prop_assert_eq!(&got, &model(rules, &input));
        framer.finish();
        prop_assert_eq!(framer.next_line(), None, "the tail comes once");

        if rules.long_lines() == LongLines::Split {
            // The pieces and their `\n`s give the input back.
            let mut rebuilt = Vec::new();
            for (bytes, continued) in &got {
                prop_assert!(bytes.len() <= rules.max_length());
                prop_assert!(!(*continued && bytes.len() < rules.max_length()));
                rebuilt.extend_from_slice(bytes);
                if !continued {
                    rebuilt.push(b'\n');
                }
            }
            let mut want = input.clone();
            if want.last().is_some_and(|&b| b != b'\n') {
                want.push(b'\n');
            }
            if !rules.crlf() {
                prop_assert_eq!(rebuilt, want);
            }
        }
    }

    /// Taken only in chunks, split lines' chunks are the input, byte for
    /// byte, whatever the rules say a terminator is.
    #[test]
    fn split_chunks_are_the_input(
        (rules, input) in rules_and_output(),
        cuts in prop::collection::vec(0usize..800, 0..30),
        shared in any::<bool>(),
    ) {
        let rules = rules.with_long_lines(LongLines::Split);
        let mut framer = LineFramer::with_rules(rules);
        let (mut got, mut chunks) = (Vec::new(), Vec::new());
        for read in reads(&input, &cuts, true) {
            if shared {
                framer.push_bytes(Bytes::copy_from_slice(read));
            } else {
                framer.push(read);
            }
            take(&mut framer, false, &mut got, &mut chunks)?;
        }
        framer.finish();
        take(&mut framer, false, &mut got, &mut chunks)?;
        prop_assert_eq!(chunks, input);
    }

    /// A line that runs on for many reads of any size: in pieces of
    /// exactly the maximum (split), or once, as soon as it passes the
    /// maximum (truncated); never more than the maximum (and a `\r`) held,
    /// whatever the reads; the line after its end comes through.
    #[test]
    fn an_endless_line_is_never_kept(
        (max, sizes) in prop_oneof![1usize..64, 1usize..=64 * 1024].prop_flat_map(|max| {
            (Just(max), prop::collection::vec(prop_oneof![1usize..16, 1..=3 * max + 1], 1..24))
        }),
        crlf in any::<bool>(),
        truncate in any::<bool>(),
        shared in any::<bool>(),
    ) {
        let long = if truncate { LongLines::Truncate } else { LongLines::Split };
        let rules = LineRules::new(max).with_crlf(crlf).with_long_lines(long);
        let stream = Bytes::from(vec![b'x'; (3 * max + 1).max(16)]);
        let mut framer = LineFramer::with_rules(rules);
        let (mut got, mut total) = (Vec::new(), 0);
        for size in sizes {
            let before = framer.buffered();
            if shared {
                framer.push_bytes(stream.slice(..size));
            } else {
                framer.push(&stream[..size]);
            }
            total += size;
            prop_assert!(before <= max && framer.buffered() <= before + size);
            while let Some(line) = framer.next_line() {
                prop_assert!(line.continued && line.bytes.len() == max);
                got.push(line.bytes.len());
            }
            prop_assert!(framer.buffered() <= max);
            if !truncate {
                prop_assert_eq!(got.len() * max + framer.buffered(), total);
            }
        }
        let most = if truncate { 1 } else { total / max };
        prop_assert!(got.len() <= most);
        framer.push(b"\r\nnext\n");
        let rest: Vec<Got> = std::iter::from_fn(|| framer.next_line()).map(|l| (l.bytes.to_vec(), l.continued)).collect();
        prop_assert!(rest.ends_with(&model(rules, b"next\n")), "{rest:?}");
    }

    #[test]
    fn counted_chunks_are_the_listed_ones(
        max in prop_oneof![0usize..24, 100usize..400, Just(usize::MAX)],
        crlf in any::<bool>(),
        input in prop_oneof![output(), near(150), near(300)],
        cuts in prop::collection::vec(0usize..1200, 0..6),
        tail in any::<bool>(),
    ) {
        let rules = LineRules::new(max).with_crlf(crlf);
        let (mut listed, mut counted) = (LineFramer::with_rules(rules), LineFramer::with_rules(rules));
        let mut spans = Vec::new();
        let reads = reads(&input, &cuts, false);
        for (i, read) in reads.iter().enumerate() {
            listed.push(read);
            counted.push(read);
            if tail && i + 1 == reads.len() {
                listed.finish();
                counted.finish();
            }
            loop {
                let (a, b) = (listed.take_lines(&mut spans), counted.take_counted());
                let want = a.map(|chunk| {
                    let last = spans.last().is_some_and(|s| s.continued);
                    (chunk, spans.len(), last)
                });
                let got = b.map(|(chunk, c)| (chunk, c.lines, c.last_continued));
                prop_assert_eq!(&got, &want);
                if want.is_none() {
                    break;
                }
            }
        }
    }
}
