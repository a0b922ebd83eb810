//! Finding `\n`s in a read, without a dependency: the first one eight
//! bytes at a time while the search is short (a line's length: no call,
//! inlined into the framer's loop), then through std's
//! `BufRead::skip_until` on a slice (std's `memchr`, which is the C
//! library's on Unix, vectorised); counts through a loop the compiler
//! vectorises.

use std::io::BufRead;

/// How far the inline search looks before it hands the rest to the C
/// library's `memchr`: past a line or two, a call costs less than it saves.
const INLINE: usize = 128;

/// The index of the first `\n` in `bytes`.
///
/// The framer's own search, for code that cuts again the lines of a chunk
/// the framer took (the supervisor's `logs()` subscribers).
///
/// ```
/// use procwire_core::lines::find_newline;
///
/// assert_eq!(find_newline(b"one\ntwo\n"), Some(3));
/// assert_eq!(find_newline(b"no end"), None);
/// ```
#[inline]
pub fn find_newline(bytes: &[u8]) -> Option<usize> {
    // A word's bytes equal to `\n` become zero; the lowest byte whose
    // borrow sets its high bit is the first zero (bytes above it may be
    // false hits, never bytes below).
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = LOW * b'\n' as u64;
    let head = &bytes[..bytes.len().min(INLINE)];
    let mut words = head.chunks_exact(8);
    for (i, word) in (&mut words).enumerate() {
        let mut le = [0u8; 8];
        le.copy_from_slice(word);
        let x = u64::from_le_bytes(le) ^ NEWLINES;
        let zeros = x.wrapping_sub(LOW) & !x & HIGH;
        if zeros != 0 {
            return Some(i * 8 + (zeros.trailing_zeros() / 8) as usize);
        }
    }
    let tail = head.len() - words.remainder().len();
    if let Some(i) = words.remainder().iter().position(|&b| b == b'\n') {
        return Some(tail + i);
    }
    if bytes.len() <= INLINE {
        return None;
    }
    let rest = &bytes[INLINE..];
    let mut reader = rest;
    // Reading from a slice cannot fail; it takes up to and with the `\n`,
    // or everything when there is none.
    let taken = reader.skip_until(b'\n').unwrap_or(0);
    (taken > 0 && rest[taken - 1] == b'\n').then(|| INLINE + taken - 1)
}

/// The index of the last `\n` in `bytes`: a backward look, which stops
/// within the read's last line.
#[inline]
pub(crate) fn last_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n')
}

/// The indices of the `\n`s in `bytes`, in order.
#[inline]
pub(crate) fn newlines(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = from + find_newline(&bytes[from..])?;
        from = at + 1;
        Some(at)
    })
}

/// How many `\n`s `bytes` holds.
#[inline]
pub(crate) fn count_newlines(bytes: &[u8]) -> usize {
    // Sixteen byte-wide counters over blocks of sixteen bytes (a compare
    // and a subtract of one vector each), added up before they can
    // overflow: 3 to 5 ns a 32-byte line here, against 15 to 20 for a
    // `filter().count()`, whose `usize` the compiler widens every lane to.
    let mut blocks = bytes.chunks_exact(16);
    let (mut total, mut lanes, mut held) = (0, [0u8; 16], 0);
    for block in &mut blocks {
        // An array, not a slice: its length known, the loop is one vector.
        let mut block16 = [0u8; 16];
        block16.copy_from_slice(block);
        for (lane, b) in lanes.iter_mut().zip(block16) {
            *lane = lane.wrapping_add(u8::from(b == b'\n'));
        }
        held += 1;
        if held == u8::MAX {
            total += lanes.iter().map(|&n| usize::from(n)).sum::<usize>();
            (lanes, held) = ([0; 16], 0);
        }
    }
    total += lanes.iter().map(|&n| usize::from(n)).sum::<usize>();
    total + blocks.remainder().iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_search_agrees_with_a_plain_loop() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in (0..300).chain([1000, 4096 + 13]) {
            for density in [0u64, 1, 8, 64] {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        if density > 0 && state.is_multiple_of(density) {
                            b'\n'
                        } else {
                            (state >> 8) as u8 | 0x80
                        }
                    })
                    .collect();
                let plain: Vec<usize> = (0..len).filter(|&i| bytes[i] == b'\n').collect();
                assert_eq!(find_newline(&bytes), plain.first().copied(), "{bytes:?}");
                assert_eq!(last_newline(&bytes), plain.last().copied(), "{bytes:?}");
                assert_eq!(newlines(&bytes).collect::<Vec<_>>(), plain, "{bytes:?}");
                assert_eq!(count_newlines(&bytes), plain.len(), "{bytes:?}");
            }
        }
    }
}
