//! The framer's cases by name: each of its former users' (the supervisor's
//! `LineSplitter`, the protocol's `Framer`) regressions, on the one framer.

use super::*;

/// The supervisor's logs: `\n` only, pieces.
const LOGS: LineRules = LineRules::new(16 * 1024);

/// The protocol's `Lines` of at most `max` bytes: `\r\n`, cut short.
const fn text(max: usize) -> LineRules {
    LineRules::new(max).with_crlf(true).with_long_lines(LongLines::Truncate)
}

/// A line or piece as the tests compare them.
type Got = (Vec<u8>, bool);

fn line(bytes: &[u8]) -> Got {
    (bytes.to_vec(), false)
}

fn piece(bytes: &[u8]) -> Got {
    (bytes.to_vec(), true)
}

/// Every line of `reads`, then the end of output: pushed as copies and
/// taken through `next_line`, or (`shared`) pushed as `Bytes` and taken
/// through `take_lines`, as the protocol feeds it.
fn frame(rules: LineRules, reads: &[&[u8]], shared: bool) -> Vec<Got> {
    let mut framer = LineFramer::with_rules(rules);
    let (mut out, mut spans) = (Vec::new(), Vec::new());
    let mut take = |f: &mut LineFramer| {
        if !shared {
            out.extend(std::iter::from_fn(|| f.next_line()).map(|l| (l.bytes.to_vec(), l.continued)));
        }
        while let Some(chunk) = f.take_lines(&mut spans) {
            out.extend(spans.iter().map(|s| (chunk[s.start..s.end].to_vec(), s.continued)));
        }
    };
    for read in reads {
        if shared {
            framer.push_bytes(Bytes::copy_from_slice(read));
        } else {
            framer.push(read);
        }
        take(&mut framer);
    }
    framer.finish();
    take(&mut framer);
    assert_eq!(framer.buffered(), 0);
    out
}

/// Both ways, which must agree.
fn frames(rules: LineRules, reads: &[&[u8]]) -> Vec<Got> {
    let got = frame(rules, reads, false);
    assert_eq!(frame(rules, reads, true), got, "push_bytes and take_lines");
    got
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
            assert_eq!(find_newline(&bytes), (at < len).then_some(at), "len {len} at {at}");
        }
    }
    // Bytes one off '\n' (0x0a) and with the high bit set are not one.
    assert_eq!(find_newline(&[0x0b, 0x09, 0x8a, 0x0a ^ 0x80, 0x00, 0xff, 0x0a]), Some(6));
}

// procmon's bug 2: a line over 16 KiB ended that program's logging.
#[test]
fn a_100_kib_line_comes_as_7_pieces_and_logging_goes_on() {
    let mut input = vec![b'x'; 100 * 1024];
    input.extend_from_slice(b"\nnext\nafter\n");
    for chunk in [1 << 20, 4096, 1000, 16 * 1024 + 1] {
        let reads: Vec<&[u8]> = input.chunks(chunk).collect();
        let pieces = frames(LOGS, &reads);
        let sizes: Vec<(usize, bool)> = pieces.iter().map(|(b, c)| (b.len(), *c)).collect();
        let mut want = vec![(16_384, true); 6];
        want.extend([(4096, false), (4, false), (5, false)]);
        assert_eq!(sizes, want, "chunk {chunk}");
        assert_eq!(pieces[7..], [line(b"next"), line(b"after")]);
    }
}

// procmon's bug 1: an extra empty line after output ending in "\n".
#[test]
fn no_empty_line_is_invented() {
    assert_eq!(frames(LOGS, &[b"a\nb\n"]), [line(b"a"), line(b"b")]);
    assert_eq!(frames(LOGS, &[b"a\nb"]), [line(b"a"), line(b"b")]);
    assert_eq!(frames(LOGS, &[b""]), []);
    // Real empty lines stay.
    assert_eq!(frames(LOGS, &[b"\n\n"]), [line(b""), line(b"")]);
    assert_eq!(frames(text(4), &[b"\r\n\n"]), [line(b""), line(b"")]);
    // A line of exactly the maximum, or a multiple of it, has no empty last piece.
    let four = LineRules::new(4);
    assert_eq!(frames(four, &[b"abcd\n"]), [line(b"abcd")]);
    assert_eq!(frames(four, &[b"abc", b"def", b"gh\n"]), [piece(b"abcd"), line(b"efgh")]);
    assert_eq!(frames(four, &[b"abc", b"def", b"gh"]), [piece(b"abcd"), line(b"efgh")]);
    assert_eq!(frames(four, &[b"ab", b"cd", b"e\n"]), [piece(b"abcd"), line(b"e")]);
}

#[test]
fn raw_bytes_and_carriage_returns_are_kept_by_default() {
    let reads: Vec<&[u8]> = b"\xff\xfe\r\nok\r\n\r".chunks(1).collect();
    assert_eq!(frames(LOGS, &reads), [line(b"\xff\xfe\r"), line(b"ok\r"), line(b"\r")]);
    // With `\r\n` rules the `\r` before `\n` goes; the one at the end stays.
    assert_eq!(frames(text(80), &reads), [line(b"\xff\xfe"), line(b"ok"), line(b"\r")]);
}

#[test]
fn a_long_unterminated_tail_comes_in_pieces_at_eof() {
    let input = vec![b'y'; 20_000];
    let reads: Vec<&[u8]> = input.chunks(3000).collect();
    let sizes: Vec<(usize, bool)> = frames(LOGS, &reads).iter().map(|(b, c)| (b.len(), *c)).collect();
    assert_eq!(sizes, [(16_384, true), (3616, false)]);
}

// Issue 9, defect 4: a line of exactly `max_length` was rejected when it
// ended in `\r\n`; the length is the content's, without the terminator.
#[test]
fn max_length_counts_content_not_crlf() {
    let got = frames(text(4), &[b"abcd\r\nabcd\nabcde\r\nabcde\nok\r\n"]);
    let want = [line(b"abcd"), line(b"abcd"), piece(b"abcd"), piece(b"abcd"), line(b"ok")];
    assert_eq!(got, want);
    // A `\r` not before `\n` is content, and counts.
    assert_eq!(frames(text(4), &[b"ab\rc\nabc\rd\n"]), [line(b"ab\rc"), piece(b"abc\r")]);
    // Split, the same line gives every byte back.
    let split = LineRules::new(4).with_crlf(true);
    assert_eq!(frames(split, &[b"abcd\r\nabcde\r\n"]), [line(b"abcd"), piece(b"abcd"), line(b"e")]);
}

// Issue 9, defect 4: the same when `\r` and `\n` come in separate reads.
#[test]
fn crlf_split_across_reads() {
    let got = frames(text(4), &[b"abcd\r", b"\nef\r", b"\n", b"abcd\r", b"x\n"]);
    assert_eq!(got, [line(b"abcd"), line(b"ef"), piece(b"abcd")]);
    // At the end of output a last `\r` is content: one byte too many.
    assert_eq!(frames(text(4), &[b"abcd\r"]), [piece(b"abcd")]);
    assert_eq!(frames(LineRules::new(4).with_crlf(true), &[b"abcd\r"]), [piece(b"abcd"), line(b"\r")]);
}

/// Every way of splitting a text into two or three reads frames it as one
/// read does.
#[test]
fn lines_do_not_depend_on_how_reads_split_them() {
    let all: &[u8] = b"one\r\n\r\ntoo long here\r\nfour\n\xff\xfe\r\nsixsix\r\r\nseven\r";
    let once = frames(text(6), &[all]);
    assert_eq!(
        once,
        [
            line(b"one"),
            line(b""),
            piece(b"too lo"),
            line(b"four"),
            line(b"\xff\xfe"),
            // Only the `\r` before `\n` is terminator: 7 bytes of content.
            piece(b"sixsix"),
            // At the end there is no terminator: all 6 bytes are content.
            line(b"seven\r"),
        ]
    );
    for i in 0..=all.len() {
        for j in i..=all.len() {
            assert_eq!(
                frames(text(6), &[&all[..i], &all[i..j], &all[j..]]),
                once,
                "reads split at {i} and {j}"
            );
        }
    }
}

/// Twisted's `lineLengthExceeded`: a line over the maximum is reported
/// once, as soon as it is known, and dropped through its newline; the rest
/// of the same read, and the reads after, are delivered.
#[test]
fn a_truncated_line_costs_only_itself_and_comes_when_known() {
    let reads: &[&[u8]] = &[b"ok\nxxxx", b"xxxx", b"xxxx", b"x\nnext\nla", b"st"];
    assert_eq!(frames(text(4), reads), [line(b"ok"), piece(b"xxxx"), line(b"next"), line(b"last")]);
    // Known at the read that passed the maximum, before its end arrived.
    let mut framer = LineFramer::with_rules(text(4));
    framer.push_bytes(Bytes::from_static(b"xxxx"));
    assert_eq!(framer.next_line(), None);
    framer.push_bytes(Bytes::from_static(b"x"));
    assert_eq!(framer.next_line(), Some(Line::new(Bytes::from_static(b"xxxx"), true)));
    // Nothing of its rest is held.
    framer.push_bytes(Bytes::from(vec![b'x'; 100]));
    assert_eq!((framer.next_line(), framer.buffered()), (None, 0));
}

#[test]
fn a_million_lines_of_32_bytes_in_64_kib_reads_in_order_exactly_once() {
    const N: usize = 1_000_000;
    let mut input = Vec::with_capacity(N * 32);
    for i in 0..N {
        input.extend_from_slice(format!("{i:031}\n").as_bytes());
    }
    for rules in [LOGS, text(16 * 1024)] {
        let mut framer = LineFramer::with_rules(rules);
        let mut next = 0usize;
        for read in input.chunks(64 * 1024 - 7) {
            framer.push_bytes(Bytes::copy_from_slice(read));
            while let Some(l) = framer.next_line() {
                assert!(!l.continued && l.bytes.len() == 31, "line {next}");
                let n = l.bytes.iter().fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
                assert_eq!(n, next);
                next += 1;
            }
        }
        framer.finish();
        assert_eq!((framer.next_line(), next), (None, N));
    }
}

#[tokio::test]
async fn reads_go_straight_into_chunks_of_their_own_size() {
    // Lines of 1,000 bytes, read 4 KiB, then 8 KiB ... up to 64 KiB at a
    // time: the start of a line is carried from one read to the next.
    let input: Vec<u8> =
        (0..200u8).flat_map(|i| std::iter::repeat_n(b'a' + i % 26, 999).chain([b'\n'])).collect();
    let mut reader = &input[..];
    let mut framer = LineFramer::with_rules(LOGS);
    let (mut got, mut spans, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    while framer.read_from(&mut reader).await.unwrap() > 0 {
        let chunk = framer.take_lines(&mut spans).unwrap();
        sizes.push(chunk.len());
        got.extend_from_slice(&chunk);
        // What keeps the chunk keeps its bytes and nothing more.
        let len = chunk.len();
        assert_eq!(chunk.try_into_mut().expect("the only reference").capacity(), len);
    }
    assert_eq!(got, input);
    assert_eq!(framer.buffered(), 0);
    // 4096 bytes read, 4000 in lines, 96 carried; 8192 read ...
    assert_eq!(sizes, [4000, 8000, 16000, 33000, 65000, 66000, 8000]);
}

#[test]
fn whole_lines_of_a_shared_read_are_slices_of_it() {
    let read = Bytes::from_static(b"one\ntwo\nthr");
    let mut framer = LineFramer::with_rules(text(80));
    framer.push_bytes(read.clone());
    let mut spans = Vec::new();
    let chunk = framer.take_lines(&mut spans).unwrap();
    assert_eq!(chunk.as_ptr(), read.as_ptr(), "no copy");
    assert_eq!((chunk.len(), spans.len(), framer.buffered()), (8, 2, 3));
    // The line begun is finished from the next read: a chunk of its own,
    // then the next read's own lines.
    framer.push_bytes(Bytes::from_static(b"ee\nfour\n"));
    let first = framer.take_lines(&mut spans).unwrap();
    assert_eq!((&first[..], spans[0].end), (&b"three\n"[..], 5));
    let second = framer.take_lines(&mut spans).unwrap();
    assert_eq!((&second[..], spans.len()), (&b"four\n"[..], 1));
    assert_eq!(framer.take_lines(&mut spans), None);
}

// Issue 16, defect 6: `max_line(usize::MAX)` overflowed in `max + 1`.
#[test]
fn a_maximum_of_usize_max_is_no_limit() {
    for rules in [LineRules::new(usize::MAX), text(usize::MAX)] {
        assert_eq!(frames(rules, &[b"ab\ncd"]), [line(b"ab"), line(b"cd")]);
    }
}

#[test]
fn a_maximum_of_0_is_1_for_pieces_and_only_empty_lines_when_truncating() {
    assert_eq!(frames(LineRules::new(0), &[b"ab\n\n"]), [piece(b"a"), line(b"b"), line(b"")]);
    assert_eq!(frames(text(0), &[b"ab\n\r\nc"]), [piece(b""), line(b""), piece(b"")]);
}
