//! `Notification::parse` on any datagram: never a panic; the datagram is
//! refused exactly when it is over 4096 bytes, holds a NUL before its last
//! byte, or has no line; a datagram read lists as skipped only lines of
//! its own, in order, and keeps no more than it was given.

#![no_main]

use libfuzzer_sys::fuzz_target;
use procwire_supervisor::{Notification, Rejection};

const MAX_DATAGRAM: usize = 4096;

fuzz_target!(|bytes: &[u8]| {
    let got = Notification::parse(bytes);
    let body = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n' || b == b'\r').filter(|l| !l.is_empty()).collect();
    if bytes.len() > MAX_DATAGRAM {
        assert_eq!(got, Err(Rejection::TooLarge { len: bytes.len() }));
        return;
    }
    if let Some(at) = body.iter().position(|&b| b == 0) {
        assert_eq!(got, Err(Rejection::EmbeddedNul { at }));
        return;
    }
    if lines.is_empty() {
        assert_eq!(got, Err(Rejection::Empty));
        return;
    }
    let n = got.expect("at most 4096 bytes, no NUL, some line: read");
    let mut rest = lines.iter().map(|l| String::from_utf8_lossy(l));
    let mut kept = n.status.as_ref().map_or(0, String::len);
    for skipped in &n.ignored {
        assert!(
            rest.any(|l| l == skipped.line),
            "{:?} is not a line of the datagram, in order",
            skipped.line
        );
        kept += skipped.line.len();
    }
    // Each byte kept at most once; U+FFFD (3 bytes) for an invalid one.
    assert!(kept <= 3 * bytes.len(), "{kept} bytes kept of {}", bytes.len());
});
