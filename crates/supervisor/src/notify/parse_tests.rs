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
