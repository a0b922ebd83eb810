use super::*;

fn parse(bytes: &[u8]) -> Notification {
    Notification::parse(bytes)
        .unwrap_or_else(|r| panic!("{:?} rejected: {r}", String::from_utf8_lossy(bytes)))
}

fn reasons(n: &Notification) -> Vec<(&str, IgnoreReason)> {
    n.ignored.iter().map(|i| (i.line.as_str(), i.reason)).collect()
}

#[test]
fn each_key_alone() {
    assert!(parse(b"READY=1").ready);
    assert!(parse(b"RELOADING=1").reloading);
    assert!(parse(b"STOPPING=1").stopping);
    assert!(parse(b"BARRIER=1").barrier);
    assert_eq!(parse(b"STATUS=Completed 66% of fsck").status.as_deref(), Some("Completed 66% of fsck"));
    assert_eq!(parse(b"ERRNO=2").errno, Some(2));
    assert_eq!(parse(b"WATCHDOG=1").watchdog, Some(WatchdogPing::Ping));
    assert_eq!(parse(b"WATCHDOG=trigger").watchdog, Some(WatchdogPing::Trigger));
    assert_eq!(parse(b"WATCHDOG_USEC=20000000").watchdog_usec, Some(20_000_000));
    assert_eq!(parse(b"EXTEND_TIMEOUT_USEC=5000000").extend_timeout_usec, Some(5_000_000));
    assert_eq!(parse(b"MAINPID=4711").main_pid, Some(4711));
    assert_eq!(parse(b"MONOTONIC_USEC=18446744073709551615").monotonic_usec, Some(u64::MAX));
}

#[test]
fn a_key_alone_sets_nothing_else() {
    let n = parse(b"READY=1");
    assert_eq!(n, Notification { ready: true, ..Notification::default() });
}

#[test]
fn everything_at_once() {
    let n = parse(
        b"READY=1\nRELOADING=1\nSTOPPING=1\nSTATUS=ok\nERRNO=0\nWATCHDOG=1\nWATCHDOG_USEC=1\n\
          EXTEND_TIMEOUT_USEC=0\nMAINPID=1\nMONOTONIC_USEC=0\nBARRIER=1\n",
    );
    let want = Notification {
        ready: true,
        reloading: true,
        stopping: true,
        status: Some("ok".into()),
        errno: Some(0),
        watchdog: Some(WatchdogPing::Ping),
        watchdog_usec: Some(1),
        extend_timeout_usec: Some(0),
        main_pid: Some(1),
        monotonic_usec: Some(0),
        barrier: true,
        ignored: vec![],
    };
    assert_eq!(n, want);
}

#[test]
fn empty_datagrams_are_rejected() {
    for bytes in [&b""[..], b"\n", b"\n\n\r\n", b"\0", b"\n\0"] {
        assert_eq!(Notification::parse(bytes), Err(Rejection::Empty), "{bytes:?}");
    }
}

#[test]
fn trailing_newline_or_none_or_crlf_make_no_difference() {
    let want = parse(b"READY=1\nSTATUS=x");
    for bytes in [&b"READY=1\nSTATUS=x\n"[..], b"READY=1\r\nSTATUS=x\r\n", b"\n\nREADY=1\n\n\nSTATUS=x\n\n"] {
        assert_eq!(parse(bytes), want, "{bytes:?}");
    }
}

#[test]
fn one_trailing_nul_is_allowed_and_any_other_nul_rejects() {
    assert_eq!(parse(b"READY=1\n\0"), parse(b"READY=1\n"));
    assert_eq!(Notification::parse(b"READY=1\0\0"), Err(Rejection::EmbeddedNul { at: 7 }));
    assert_eq!(Notification::parse(b"\0READY=1"), Err(Rejection::EmbeddedNul { at: 0 }));
    assert_eq!(Notification::parse(b"STATUS=a\0b\n"), Err(Rejection::EmbeddedNul { at: 8 }));
}

#[test]
fn unknown_keys_are_ignored_silently() {
    let n = parse(b"FDSTORE=1\nFDNAME=x\nNOTIFYACCESS=all\nX_MINE=\xff\xfe\nready=1\nREADY=1\n");
    assert!(n.ready);
    // X_MINE's value is not UTF-8: the line is skipped before its key is
    // looked at, and says so.
    assert_eq!(reasons(&n), [("X_MINE=\u{fffd}\u{fffd}", IgnoreReason::NotUtf8)]);
    let n = parse(b"FDSTORE=1\nready=1\nStatus=x\n=\n=1\n");
    assert_eq!(n, Notification::default(), "nothing known, nothing bad");
}

#[test]
fn lines_without_equals_are_ignored_and_the_rest_applies() {
    let n = parse(b"hello\nREADY=1\nREADY\n");
    assert!(n.ready);
    assert_eq!(reasons(&n), [("hello", IgnoreReason::NoEquals), ("READY", IgnoreReason::NoEquals)]);
}

#[test]
fn non_utf8_lines_are_ignored_and_the_rest_applies() {
    let n = parse(b"STATUS=caf\xe9\nREADY=1");
    assert!(n.ready);
    assert_eq!(n.status, None, "systemd drops a status that is not UTF-8");
    assert_eq!(reasons(&n), [("STATUS=caf\u{fffd}", IgnoreReason::NotUtf8)]);
    // Valid UTF-8 beyond ASCII is fine.
    assert_eq!(parse("STATUS=café ✓".as_bytes()).status.as_deref(), Some("café ✓"));
}

#[test]
fn flags_take_only_1() {
    for bad in ["0", "", "yes", "true", "1 ", " 1", "01", "2"] {
        for key in ["READY", "RELOADING", "STOPPING", "BARRIER"] {
            let line = format!("{key}={bad}");
            let n = parse(line.as_bytes());
            assert_eq!(reasons(&n), [(line.as_str(), IgnoreReason::InvalidValue)]);
            assert!(!n.ready && !n.reloading && !n.stopping && !n.barrier, "{line}");
        }
    }
}

#[test]
fn a_flag_set_anywhere_stays_set() {
    // systemd asks strv_contains(tags, "READY=1"): any line will do.
    assert!(parse(b"READY=0\nREADY=1").ready);
    assert!(parse(b"READY=1\nREADY=0").ready);
    assert!(parse(b"READY=1\nREADY=1").ignored.is_empty(), "a repeated flag is not a duplicate");
}

#[test]
fn numbers_are_plain_decimal() {
    for bad in ["", "-1", "+1", " 1", "1 ", "0x10", "1e3", "1.5", "١", "18446744073709551616"] {
        let line = format!("EXTEND_TIMEOUT_USEC={bad}");
        let n = parse(line.as_bytes());
        assert_eq!(n.extend_timeout_usec, None, "{line}");
        assert_eq!(reasons(&n), [(line.as_str(), IgnoreReason::InvalidValue)]);
    }
    assert_eq!(parse(b"EXTEND_TIMEOUT_USEC=007").extend_timeout_usec, Some(7));
}

#[test]
fn mainpid_is_a_positive_pid() {
    assert_eq!(parse(b"MAINPID=2147483647").main_pid, Some(i32::MAX as u32));
    for bad in ["0", "-5", "2147483648", "abc", ""] {
        let n = parse(format!("MAINPID={bad}").as_bytes());
        assert_eq!(n.main_pid, None, "MAINPID={bad}");
        assert_eq!(n.ignored[0].reason, IgnoreReason::InvalidValue);
    }
}

#[test]
fn watchdog_values() {
    assert_eq!(parse(b"WATCHDOG_USEC=0").watchdog_usec, Some(0), "0 turns the watchdog off, as in systemd");
    for bad in ["0", "2", "Trigger", "TRIGGER", "ping", ""] {
        let n = parse(format!("WATCHDOG={bad}").as_bytes());
        assert_eq!(n.watchdog, None, "WATCHDOG={bad}");
        assert_eq!(n.ignored[0].reason, IgnoreReason::InvalidValue);
    }
    // WATCHDOG= and WATCHDOG_USEC= are different keys.
    let n = parse(b"WATCHDOG_USEC=5\nWATCHDOG=1");
    assert_eq!((n.watchdog, n.watchdog_usec), (Some(WatchdogPing::Ping), Some(5)));
}

#[test]
fn errno_is_0_to_4095() {
    assert_eq!(parse(b"ERRNO=0").errno, Some(0));
    assert_eq!(parse(b"ERRNO=4095").errno, Some(4095));
    for bad in ["4096", "-1", "ENOENT", ""] {
        let n = parse(format!("ERRNO={bad}").as_bytes());
        assert_eq!(n.errno, None, "ERRNO={bad}");
        assert_eq!(n.ignored[0].reason, IgnoreReason::InvalidValue);
    }
}

#[test]
fn status_keeps_everything_after_the_first_equals() {
    assert_eq!(parse(b"STATUS=a=b=c").status.as_deref(), Some("a=b=c"));
    assert_eq!(parse(b"STATUS=  spaced  ").status.as_deref(), Some("  spaced  "));
    assert_eq!(parse(b"STATUS=").status.as_deref(), Some(""), "STATUS= clears the status");
}

#[test]
fn duplicate_value_keys_first_wins_as_in_systemd() {
    let n = parse(b"STATUS=first\nMAINPID=10\nSTATUS=second\nMAINPID=20\n");
    assert_eq!((n.status.as_deref(), n.main_pid), (Some("first"), Some(10)));
    assert_eq!(
        reasons(&n),
        [("STATUS=second", IgnoreReason::Duplicate), ("MAINPID=20", IgnoreReason::Duplicate)]
    );
}

#[test]
fn a_bad_first_value_is_not_replaced_by_a_later_good_one() {
    // strv_find_startswith finds the first MAINPID= line; systemd fails to
    // parse it and never looks at the second.
    let n = parse(b"MAINPID=abc\nMAINPID=20");
    assert_eq!(n.main_pid, None);
    assert_eq!(
        reasons(&n),
        [("MAINPID=abc", IgnoreReason::InvalidValue), ("MAINPID=20", IgnoreReason::Duplicate)]
    );
}

#[test]
fn the_size_limit_is_4096_bytes() {
    let mut exact = b"STATUS=".to_vec();
    exact.resize(MAX_DATAGRAM, b'x');
    assert_eq!(parse(&exact).status.map(|s| s.len()), Some(MAX_DATAGRAM - 7));
    exact.push(b'x');
    assert_eq!(Notification::parse(&exact), Err(Rejection::TooLarge { len: 4097 }));
    let big = vec![b'\n'; 64 * 1024];
    assert_eq!(Notification::parse(&big), Err(Rejection::TooLarge { len: 65536 }));
}

#[test]
fn many_lines_at_the_limit() {
    // 4096 bytes of "READY=1\n" (512 lines) and of "a\n" (2048 ignored lines).
    let ready = b"READY=1\n".repeat(MAX_DATAGRAM / 8);
    assert!(parse(&ready).ready);
    let junk = b"a\n".repeat(MAX_DATAGRAM / 2);
    assert_eq!(parse(&junk).ignored.len(), 2048);
}

#[test]
fn rejections_say_what_happened() {
    assert_eq!(
        Rejection::TooLarge { len: 5000 }.to_string(),
        "notification of 5000 bytes is over the 4096-byte limit"
    );
    assert_eq!(Rejection::EmbeddedNul { at: 3 }.to_string(), "notification with a NUL byte at offset 3");
    assert_eq!(Rejection::Empty.to_string(), "empty notification");
}

proptest::proptest! {
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..6000)) {
        let _ = Notification::parse(&bytes);
    }

    #[test]
    fn garbage_lines_never_panic(lines in proptest::collection::vec("[A-Z_=01a-z\\r\\n\u{0}-\u{ff}]{0,30}", 0..50)) {
        let text = lines.join("\n");
        if let Ok(n) = Notification::parse(text.as_bytes()) {
            // Every skipped line is a line of the input.
            for i in &n.ignored {
                proptest::prop_assert!(text.contains(i.line.as_str()));
            }
        }
    }
}

// Properties. The parser reads datagrams from any local process that can
// reach the socket: whatever the bytes, it must answer (never panic), and
// say exactly why it refuses a datagram.

use proptest::prelude::*;

/// Bytes rich in what the parser looks at: NUL, line ends, `=`, known
/// keys' letters, and any byte at all.
fn datagram_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        1 => Just(0u8),
        4 => Just(b'\n'),
        1 => Just(b'\r'),
        3 => Just(b'='),
        8 => prop::sample::select(b"READYSTATUSMAINPID1_".to_vec()),
        8 => any::<u8>(),
    ];
    let short = prop::collection::vec(byte, 0..200);
    // Around the limit: a short one repeated, or padded with one line
    // (cheaper than 4096 draws).
    let around = MAX_DATAGRAM - 4..MAX_DATAGRAM + 4;
    let repeated = (short.clone(), around.clone()).prop_map(|(s, len)| {
        let s = if s.is_empty() { vec![b'\n'] } else { s };
        s.iter().copied().cycle().take(len).collect()
    });
    let padded = (short.clone(), around).prop_map(|(mut s, len)| {
        s.resize(len, b'x');
        s
    });
    prop_oneof![8 => short, 1 => repeated, 1 => padded]
}

/// What a datagram sets, as generated: the [`Notification`] it must give.
fn known_values() -> impl Strategy<Value = Notification> {
    let usec = prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()];
    (
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        proptest::option::of("[^\r\n\0]{0,40}"),
        proptest::option::of(0i32..=4095),
        proptest::option::of(prop_oneof![Just(WatchdogPing::Ping), Just(WatchdogPing::Trigger)]),
        proptest::option::of(prop_oneof![Just(u64::MAX), 1..=u64::MAX]),
        proptest::option::of(usec.clone()),
        proptest::option::of(prop_oneof![Just(1u32), Just(i32::MAX as u32), 1..=i32::MAX as u32]),
        proptest::option::of(usec),
    )
        .prop_map(
            |((ready, reloading, stopping, barrier), status, errno, watchdog, wd, extend, pid, mono)| {
                Notification {
                    ready,
                    reloading,
                    stopping,
                    status,
                    errno,
                    watchdog,
                    watchdog_usec: wd,
                    extend_timeout_usec: extend,
                    main_pid: pid,
                    monotonic_usec: mono,
                    barrier,
                    ignored: vec![],
                }
            },
        )
}

/// The lines that say what `n` holds, flags once or twice.
fn lines_of(n: &Notification) -> Vec<String> {
    let num = |key: &str, v: Option<u64>| v.map(|v| format!("{key}={v}"));
    let mut lines: Vec<String> = [
        num("ERRNO", n.errno.map(|e| e as u64)),
        num("WATCHDOG_USEC", n.watchdog_usec),
        num("EXTEND_TIMEOUT_USEC", n.extend_timeout_usec),
        num("MAINPID", n.main_pid.map(u64::from)),
        num("MONOTONIC_USEC", n.monotonic_usec),
        n.status.as_ref().map(|s| format!("STATUS={s}")),
        n.watchdog.map(|w| format!("WATCHDOG={}", if w == WatchdogPing::Ping { "1" } else { "trigger" })),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (set, key) in
        [(n.ready, "READY"), (n.reloading, "RELOADING"), (n.stopping, "STOPPING"), (n.barrier, "BARRIER")]
    {
        if set {
            lines.push(format!("{key}=1"));
            if lines.len().is_multiple_of(2) {
                lines.push(format!("{key}=1"));
            }
        }
    }
    lines
}

/// `lines` joined by line ends picked from `ends` (`\n`, `\r\n`, `\r`,
/// `\n\n`), with or without a last one and a trailing NUL.
fn join(lines: &[String], ends: &[u8], last_end: bool, nul: bool) -> Vec<u8> {
    const ENDS: [&str; 4] = ["\n", "\r\n", "\r", "\n\n"];
    let mut ends = ends.iter().cycle().map(|e| ENDS[usize::from(e % 4)]);
    let mut text = String::new();
    for (i, line) in lines.iter().enumerate() {
        text.push_str(line);
        if i + 1 < lines.len() || last_end {
            text.push_str(ends.next().unwrap_or("\n"));
        }
    }
    let mut bytes = text.into_bytes();
    if nul {
        bytes.push(0);
    }
    bytes
}

/// A key procwire does not know: unknown keys are ignored silently.
fn unknown_line() -> impl Strategy<Value = String> {
    ("[A-Za-z_][A-Za-z0-9_]{0,15}", "[^\r\n\0]{0,20}")
        .prop_filter("a known key", |(key, _)| {
            !["READY", "RELOADING", "STOPPING", "BARRIER"].contains(&key.as_str()) && value_key(key).is_none()
        })
        .prop_map(|(key, value)| format!("{key}={value}"))
}

proptest! {
    /// The whole datagram is refused exactly when it is over 4096 bytes,
    /// holds a NUL before its last byte, or has no line; otherwise it is
    /// read, and every line it skipped is one of its lines, in order.
    #[test]
    fn rejections_are_exactly_size_nul_and_no_line(bytes in datagram_bytes()) {
        let got = Notification::parse(&bytes);
        let body = bytes.strip_suffix(b"\0").unwrap_or(&bytes);
        let lines: Vec<&[u8]> = body.split(|&b| b == b'\n' || b == b'\r').filter(|l| !l.is_empty()).collect();
        if bytes.len() > MAX_DATAGRAM {
            prop_assert_eq!(got, Err(Rejection::TooLarge { len: bytes.len() }));
        } else if let Some(at) = body.iter().position(|&b| b == 0) {
            prop_assert_eq!(got, Err(Rejection::EmbeddedNul { at }));
        } else if lines.is_empty() {
            prop_assert_eq!(got, Err(Rejection::Empty));
        } else {
            let n = got.expect("a datagram of at most 4096 bytes, no NUL, some line");
            let mut lines = lines.iter().map(|l| String::from_utf8_lossy(l));
            for skipped in &n.ignored {
                prop_assert!(lines.any(|l| l == skipped.line), "{:?} is not a line, in order", skipped.line);
            }
        }
    }

    /// A datagram made of known keys, in any order, with any line ends,
    /// gives back exactly what it was made from, and skips nothing.
    #[test]
    fn known_keys_parse_to_their_values(
        (want, lines) in known_values().prop_flat_map(|n| {
            let lines = lines_of(&n);
            (Just(n), Just(lines).prop_shuffle())
        }),
        zeros in prop::collection::vec(any::<u8>(), 1..8),
        ends in prop::collection::vec(any::<u8>(), 1..8),
        last_end in any::<bool>(),
        nul in any::<bool>(),
    ) {
        // Leading zeros are put back in (the shuffle kept them out).
        let lines: Vec<String> = lines.iter().map(|l| add_zeros(l, &zeros)).collect();
        let bytes = join(&lines, &ends, last_end, nul);
        match Notification::parse(&bytes) {
            Err(Rejection::Empty) => prop_assert!(lines.is_empty()),
            got => prop_assert_eq!(got, Ok(want)),
        }
    }

    /// Unknown keys, anywhere, change nothing: neither the values nor the
    /// list of skipped lines.
    #[test]
    fn unknown_keys_change_nothing(
        want in known_values(),
        unknown in prop::collection::vec((unknown_line(), any::<prop::sample::Index>()), 1..10),
        ends in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        let mut lines = lines_of(&want);
        for (line, at) in unknown {
            lines.insert(at.index(lines.len() + 1), line);
        }
        prop_assert_eq!(Notification::parse(&join(&lines, &ends, true, false)), Ok(want));
    }

    /// A readable datagram stays readable up to exactly 4096 bytes, and
    /// one byte more refuses it whatever it holds.
    #[test]
    fn the_limit_is_4096_bytes_whatever_the_content(want in known_values(), ends in prop::collection::vec(any::<u8>(), 1..8)) {
        let mut bytes = join(&lines_of(&want), &ends, true, false);
        bytes.extend_from_slice(b"X_PAD=");
        bytes.resize(MAX_DATAGRAM, b'p');
        prop_assert_eq!(Notification::parse(&bytes), Ok(want));
        bytes.push(b'\n');
        prop_assert_eq!(Notification::parse(&bytes), Err(Rejection::TooLarge { len: MAX_DATAGRAM + 1 }));
    }
}

/// A number's line (`MAINPID=123`) with up to two leading zeros added
/// (how many taken from `zeros` by the line's length); other lines as
/// they are.
fn add_zeros(line: &str, zeros: &[u8]) -> String {
    match line.split_once('=') {
        Some((key, value))
            if !matches!(value_key(key), None | Some(ValueKey::Status | ValueKey::Watchdog)) =>
        {
            let z = usize::from(zeros[line.len() % zeros.len()] % 3);
            format!("{key}={}{value}", "0".repeat(z))
        }
        _ => line.to_owned(),
    }
}
