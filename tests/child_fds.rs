//! childFDs: every mapping Twisted's `childFDs` can express (pipes both ways,
//! parent fds, swaps and cycles, sparse and empty maps, high fd numbers,
//! identity maps on close-on-exec fds), `ChildFd::Null` and `ChildFd::Fd`,
//! and the input errors. Each mapping is proved by the `pw-child` helper
//! reporting its own fd table, compared by dev/ino with the parent's ends.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use procwire::{Child, ChildFd, Command, Error, InputError, PtySize};
use procwire_tests::{guard, identity, parse_report, pw_child, FdEntry};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Guard against hangs only; every test waits on its events.
const LIMIT: u64 = 30;

// Mirrors Twisted's test_process.py FDTest.test_FD.
#[tokio::test]
async fn twisted_test_fd_six_descriptors() {
    guard(LIMIT, "test_FD", async {
        let mut cmd = helper(&[
            "report:1",
            "read:0:4:abcd",
            "write:1:righto",
            "read:3:4:efgh",
            "write:4:closed",
            "close:4",
            "expect-eof:5",
        ]);
        cmd.child_fds([
            (0, ChildFd::WritePipe),
            (1, ChildFd::ReadPipe),
            (2, ChildFd::Parent(2)),
            (3, ChildFd::WritePipe),
            (4, ChildFd::ReadPipe),
            (5, ChildFd::WritePipe),
        ]);
        let mut child = cmd.spawn().expect("spawn");
        let (mut w0, mut w3, mut w5) = (writer(&mut child, 0), writer(&mut child, 3), writer(&mut child, 5));
        let (r1, mut r4) = (reader(&mut child, 1), reader(&mut child, 4));
        let pipe_ids = [
            (0, id_of(&w0)),
            (1, identity(r1.as_fd().as_raw_fd())),
            (3, id_of(&w3)),
            (4, identity(r4.as_fd().as_raw_fd())),
            (5, id_of(&w5)),
        ];
        let mut out = BufReader::new(r1);

        let table = read_report(&mut out).await;
        assert_eq!(fds(&table), [0, 1, 2, 3, 4, 5], "{table:?}");
        for (fd, acc) in [(0, "r"), (1, "w"), (3, "r"), (4, "w"), (5, "r")] {
            assert_eq!((table[&fd].kind.as_str(), table[&fd].acc.as_str()), ("fifo", acc), "fd {fd}");
        }
        for (fd, id) in pipe_ids {
            assert_eq!(ident(&table[&fd]), id, "child fd {fd} is not the parent's pipe");
        }
        assert_same_as_parent(&table, 2, 2);
        assert!(table.values().all(|e| !e.cloexec), "{table:?}");

        w0.write_all(b"abcd").await.expect("write fd 0");
        let mut answer = [0u8; 6];
        out.read_exact(&mut answer).await.expect("read fd 1");
        assert_eq!(&answer, b"righto");

        w3.write_all(b"efgh").await.expect("write fd 3");
        let mut closed = Vec::new();
        r4.read_to_end(&mut closed).await.expect("read fd 4");
        assert_eq!(closed, b"closed");
        // The child blocks on fd 5 until we close it, so the EOF on fd 4
        // came from its `close:4`, not from its exit.
        assert!(child.try_wait().expect("try_wait").is_none(), "child exited before fd 5 was closed");

        w5.shutdown().await.expect("close fd 5");
        assert_eq!(exit_code(&mut child).await, 0);
        let mut rest = Vec::new();
        out.read_to_end(&mut rest).await.expect("read fd 1 to EOF");
        assert_eq!(rest, b"");
    })
    .await;
}

#[tokio::test]
async fn swap_and_three_cycle_of_stdio() {
    guard(LIMIT, "{0:1, 1:0} and {0:1, 1:2, 2:0}", async {
        if let Some(fd) = (0..3).find(|&fd| !parent_fd_open(fd)) {
            eprintln!("skipped: this test process has no fd {fd} to map");
            return;
        }
        if ident_acc(0) == ident_acc(1) || ident_acc(1) == ident_acc(2) || ident_acc(0) == ident_acc(2) {
            eprintln!(
                "note: this process's fds 0, 1, 2 are not all distinct, so only the pipe-fd swap test \
                 can tell which went where"
            );
        }
        let mut cmd = helper(&["report:3"]);
        cmd.child_fds([(0, ChildFd::Parent(1)), (1, ChildFd::Parent(0)), (3, ChildFd::ReadPipe)]);
        let run = spawn_run(&mut cmd, 3).await;
        assert_eq!(run.code, 0);
        assert_eq!(fds(&run.table), [0, 1, 3], "{:?}", run.table);
        assert_same_as_parent(&run.table, 0, 1);
        assert_same_as_parent(&run.table, 1, 0);

        let mut cmd = helper(&["report:3"]);
        cmd.child_fds([
            (0, ChildFd::Parent(1)),
            (1, ChildFd::Parent(2)),
            (2, ChildFd::Parent(0)),
            (3, ChildFd::ReadPipe),
        ]);
        let run = spawn_run(&mut cmd, 3).await;
        assert_eq!(run.code, 0);
        assert_eq!(fds(&run.table), [0, 1, 2, 3], "{:?}", run.table);
        assert_same_as_parent(&run.table, 0, 1);
        assert_same_as_parent(&run.table, 1, 2);
        assert_same_as_parent(&run.table, 2, 0);
    })
    .await;
}

#[tokio::test]
async fn swap_and_three_cycle_of_pipe_fds() {
    guard(LIMIT, "swap and 3-cycle of the test's own pipes", async {
        let pipes = [pipe(), pipe(), pipe()];
        let [a, b, c] = [0, 1, 2].map(|i| pipes[i].0.as_raw_fd());
        assert!(a > 1 && b > 1 && c > 1, "child fd 1 reports, so the pipes must sit above it");
        for (i, (_, w)) in pipes.iter().enumerate() {
            let text = [b"AAAA", b"BBBB", b"CCCC"][i];
            // Twice: one copy for each of the two children.
            std::fs::File::from(w.try_clone().expect("dup")).write_all(&text.repeat(2)).expect("fill");
        }

        // {a: b, b: a}: each target number holds the other's source.
        let mut cmd = helper(&["report:1", &format!("read:{a}:4:BBBB"), &format!("read:{b}:4:AAAA")]);
        cmd.child_fds([(1, ChildFd::ReadPipe), (a, ChildFd::Parent(b)), (b, ChildFd::Parent(a))]);
        let run = spawn_run(&mut cmd, 1).await;
        assert_eq!(run.code, 0, "the child read the wrong pipe");
        assert_eq!(fds(&run.table), sorted(&[1, a, b]), "{:?}", run.table);
        assert_same_as_parent(&run.table, a, b);
        assert_same_as_parent(&run.table, b, a);

        // {a: b, b: c, c: a}.
        let mut cmd = helper(&[
            "report:1",
            &format!("read:{a}:4:BBBB"),
            &format!("read:{b}:4:CCCC"),
            &format!("read:{c}:4:AAAA"),
        ]);
        cmd.child_fds([
            (1, ChildFd::ReadPipe),
            (a, ChildFd::Parent(b)),
            (b, ChildFd::Parent(c)),
            (c, ChildFd::Parent(a)),
        ]);
        let run = spawn_run(&mut cmd, 1).await;
        assert_eq!(run.code, 0, "the child read the wrong pipe");
        assert_eq!(fds(&run.table), sorted(&[1, a, b, c]), "{:?}", run.table);
        assert_same_as_parent(&run.table, a, b);
        assert_same_as_parent(&run.table, b, c);
        assert_same_as_parent(&run.table, c, a);
    })
    .await;
}

// Twisted's childFDs={}.
#[tokio::test]
async fn empty_map_leaves_the_child_no_descriptors() {
    guard(LIMIT, "childFDs={}", async {
        for fd in 0..3 {
            let mut cmd = helper(&[&format!("close:{fd}")]);
            cmd.clear_child_fds();
            let mut child = cmd.spawn().expect("spawn");
            assert_eq!(exit_code(&mut child).await, 104, "fd {fd} was open in the child");
        }
        // Control: with the default map the same steps succeed.
        let mut child = helper(&["close:0", "close:1", "close:2"]).spawn().expect("spawn");
        assert_eq!(exit_code(&mut child).await, 0);

        // Only fd 9 mapped: it is the child's only descriptor.
        let mut cmd = helper(&["report:9"]);
        cmd.clear_child_fds().child_fd(9, ChildFd::ReadPipe);
        let run = spawn_run(&mut cmd, 9).await;
        assert_eq!(run.code, 0);
        assert_eq!(fds(&run.table), [9], "{:?}", run.table);
        assert_eq!(ident(&run.table[&9]), run.report_id);
    })
    .await;
}

#[tokio::test]
async fn sparse_map_one_and_seven() {
    guard(LIMIT, "{1:'r', 7:'w'}", async {
        let mut cmd = helper(&["report:1", "read:7:4:ping", "write:1:pong"]);
        cmd.child_fds([(1, ChildFd::ReadPipe), (7, ChildFd::WritePipe)]);
        let mut child = cmd.spawn().expect("spawn");
        let mut w7 = writer(&mut child, 7);
        let w7_id = id_of(&w7);
        w7.write_all(b"ping").await.expect("write fd 7");
        let run = finish(child, 1).await;
        assert_eq!(run.code, 0);
        assert_eq!(fds(&run.table), [1, 7], "{:?}", run.table);
        assert_eq!((run.table[&1].acc.as_str(), ident(&run.table[&1])), ("w", run.report_id));
        assert_eq!((run.table[&7].acc.as_str(), ident(&run.table[&7])), ("r", w7_id));
        assert!(run.table.values().all(|e| !e.cloexec), "{:?}", run.table);
        assert_eq!(run.rest, b"pong");
    })
    .await;
}

#[tokio::test]
async fn high_parent_fd_reaches_the_child_only_when_mapped() {
    guard(LIMIT, "parent fd >= 100", async {
        let (r, w) = pipe();
        let plain = RawGuard(fcntl(&r, FcntlArg::F_DUPFD(100)).expect("F_DUPFD"));
        let cloexec = RawGuard(fcntl(&r, FcntlArg::F_DUPFD_CLOEXEC(100)).expect("F_DUPFD_CLOEXEC"));
        assert!(plain.0 >= 100 && cloexec.0 >= 100);
        assert!(!fd_cloexec(plain.0) && fd_cloexec(cloexec.0));

        let run = spawn_run(&mut helper(&["report:1"]), 1).await;
        assert_eq!(run.code, 0);
        assert_eq!(fds(&run.table), [0, 1, 2], "an unmapped parent fd reached the child: {:?}", run.table);

        let mut w = std::fs::File::from(w);
        for high in [plain.0, cloexec.0] {
            w.write_all(b"hi").expect("fill pipe");
            let mut cmd = helper(&["report:1", "read:200:2:hi"]);
            cmd.child_fds([(1, ChildFd::ReadPipe), (200, ChildFd::Parent(high))]);
            let run = spawn_run(&mut cmd, 1).await;
            assert_eq!(run.code, 0, "child fd 200 is not the pipe (parent fd {high})");
            assert_eq!(fds(&run.table), [1, 200], "{:?}", run.table);
            assert_same_as_parent(&run.table, 200, high);
        }
    })
    .await;
}

#[tokio::test]
async fn identity_map_of_cloexec_fd_reaches_the_child() {
    guard(LIMIT, "{n: n} on a close-on-exec fd", async {
        let (r, w) = pipe();
        let n = r.as_raw_fd();
        assert!(n > 1 && fd_cloexec(n));
        std::fs::File::from(w).write_all(b"idem").expect("fill pipe");
        let mut cmd = helper(&["report:1", &format!("read:{n}:4:idem")]);
        cmd.child_fds([(1, ChildFd::ReadPipe), (n, ChildFd::Parent(n))]);
        let run = spawn_run(&mut cmd, 1).await;
        assert_eq!(run.code, 0, "child fd {n} is not the pipe");
        assert_eq!(fds(&run.table), sorted(&[1, n]), "{:?}", run.table);
        assert_same_as_parent(&run.table, n, n);
    })
    .await;
}

#[tokio::test]
async fn null_and_handed_over_fd() {
    guard(LIMIT, "ChildFd::Null and ChildFd::Fd", async {
        let path = TempPath(std::env::temp_dir().join(format!("procwire-child-fds-{}", std::process::id())));
        let _ = std::fs::remove_file(&path.0); // left by a killed run with a recycled pid
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&path.0)
            .expect("create temp file");
        let file_meta = file.metadata().expect("stat temp file");
        let null_meta = std::fs::metadata("/dev/null").expect("stat /dev/null");
        let mut cmd = helper(&["report:1", "expect-eof:0", "write:2:discarded", "write:5:via fd 5\\n"]);
        cmd.child_fds([
            (0, ChildFd::Null),
            (1, ChildFd::ReadPipe),
            (2, ChildFd::Null),
            (5, ChildFd::Fd(OwnedFd::from(file))),
        ]);
        let run = spawn_run(&mut cmd, 1).await;
        assert_eq!(run.code, 0);
        assert_eq!(fds(&run.table), [0, 1, 2, 5], "{:?}", run.table);
        for fd in [0, 2] {
            let e = &run.table[&fd];
            assert_eq!((e.kind.as_str(), e.acc.as_str()), ("chr", "rw"), "fd {fd}");
            assert_eq!(ident(e), (null_meta.dev(), null_meta.ino()), "fd {fd} is not /dev/null");
        }
        let e = &run.table[&5];
        assert_eq!((e.kind.as_str(), e.acc.as_str(), e.cloexec), ("reg", "rw", false));
        assert_eq!(ident(e), (file_meta.dev(), file_meta.ino()));

        // The command keeps the handed-over fd: a second child gets it too
        // (O_APPEND, so the two writes cannot land on each other).
        let again = run_code(&mut cmd).await;
        assert_eq!(again, 0);
        drop(cmd);
        assert_eq!(std::fs::read(&path.0).expect("read temp file"), b"via fd 5\nvia fd 5\n");
    })
    .await;
}

#[tokio::test]
async fn bad_child_fd_maps_are_input_errors() {
    let err = helper(&[]).child_fds([(1, ChildFd::ReadPipe), (1, ChildFd::WritePipe)]).spawn().unwrap_err();
    assert!(matches!(err, Error::InvalidInput(InputError::DuplicateChildFd(1))), "{err:?}");

    let err = helper(&[]).child_fd(-1, ChildFd::Null).spawn().unwrap_err();
    assert!(matches!(err, Error::InvalidInput(InputError::NegativeChildFd(-1))), "{err:?}");
    let err = helper(&[]).child_fds([(0, ChildFd::Null), (-3, ChildFd::ReadPipe)]).spawn().unwrap_err();
    assert!(matches!(err, Error::InvalidInput(InputError::NegativeChildFd(-3))), "{err:?}");

    assert!(!parent_fd_open(999), "fd 999 is open in the test process");
    let err = helper(&[]).child_fds([(1, ChildFd::ReadPipe), (3, ChildFd::Parent(999))]).spawn().unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput(InputError::ParentFdNotOpen { child_fd: 3, parent_fd: 999 })),
        "{err:?}"
    );
}

/// Serialises the tests that read or change `RLIMIT_NOFILE`, a
/// process-wide setting.
static NOFILE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn soft_nofile() -> u64 {
    // (`rlim_t` is signed on FreeBSD.)
    #[allow(clippy::useless_conversion)]
    u64::try_from(getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit").0).unwrap_or(u64::MAX)
}

// Issue 9: `child_fd(i32::MAX, ..)` made spawn() allocate 24 GiB and abort
// (an add overflow panic in debug builds). The leak checks of these inputs
// are in `tests/leaks.rs` (`bad_input_leaks_nothing`).
#[tokio::test]
async fn child_fd_i32_max_is_a_typed_error() {
    let _nofile = NOFILE.lock().await;
    let limit = soft_nofile().min(i32::MAX as u64);
    for pty in [false, true] {
        let mut cmd = helper(&[]);
        cmd.child_fd(i32::MAX, ChildFd::Null);
        if pty {
            cmd.pty(PtySize::default());
        }
        let started = std::time::Instant::now();
        let err = cmd.spawn().unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(err, Error::InvalidInput(InputError::ChildFdTooLarge { child_fd: i32::MAX, limit: l }) if l == limit),
            "pty {pty}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("2147483647") && text.contains(&limit.to_string()), "{text}");
        // At once: no plan of two billion steps (a guard, not a benchmark).
        assert!(took < std::time::Duration::from_secs(1), "pty {pty}: took {took:?}");
    }
}

// Issue 9: the first number the soft RLIMIT_NOFILE forbids is refused at
// once; the last one it allows reaches the child, with either engine.
#[tokio::test]
async fn child_fd_at_the_nofile_limit_is_a_typed_error() {
    let _nofile = NOFILE.lock().await;
    let soft = soft_nofile();
    let Ok(limit) = RawFd::try_from(soft) else {
        eprintln!("skipped: the soft RLIMIT_NOFILE {soft} is no fd number");
        return;
    };
    let err = helper(&[]).child_fd(limit, ChildFd::Null).spawn().unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput(InputError::ChildFdTooLarge { child_fd, limit: l }) if child_fd == limit && l == soft),
        "{err:?}"
    );

    guard(LIMIT, "child fd limit - 1", async {
        let (r, w) = pipe();
        std::fs::File::from(w).write_all(b"last").expect("fill pipe");
        let last = limit - 1;
        let mut cmd = helper(&["report:1", &format!("read:{last}:4:last")]);
        cmd.child_fds([(1, ChildFd::ReadPipe), (last, ChildFd::Parent(r.as_raw_fd()))]);
        let run = spawn_run(&mut cmd, 1).await;
        assert_eq!(run.code, 0, "child fd {last} is not the pipe");
        assert_eq!(fds(&run.table), [1, last], "{:?}", run.table);
        assert_same_as_parent(&run.table, last, r.as_raw_fd());

        // With a cycle ({a: b, b: a}) beside it.
        let (pipe_a, pipe_b) = (pipe(), pipe());
        let (a, b) = (pipe_a.0.as_raw_fd(), pipe_b.0.as_raw_fd());
        let mut cmd = helper(&["report:1"]);
        cmd.child_fds([
            (1, ChildFd::ReadPipe),
            (a, ChildFd::Parent(b)),
            (b, ChildFd::Parent(a)),
            (last, ChildFd::Parent(a)),
        ]);
        let run = spawn_run(&mut cmd, 1).await;
        assert_eq!(run.code, 0);
        assert_eq!(fds(&run.table), sorted(&[1, a, b, last]), "{:?}", run.table);
        assert_same_as_parent(&run.table, a, b);
        assert_same_as_parent(&run.table, b, a);
        assert_same_as_parent(&run.table, last, a);
    })
    .await;
}

// Issue 9, in a parent whose soft RLIMIT_NOFILE is 64 (`pw-spawn nofile`,
// so this process keeps its own): the highest child fd the limit allows,
// with holes few enough that the plan closes everything above it with one
// step starting at the limit itself (which glibc's `addclosefrom_np`
// refuses), alone and beside a cycle.
#[tokio::test]
async fn child_fd_below_a_low_nofile_limit() {
    guard(LIMIT, "pw-spawn nofile 64", async {
        // (map, the child's fds: whether each is pw-spawn's fd 1 or its fd 2)
        let cases: [(&str, &[(RawFd, bool)]); 2] = [
            ("1=1,63=1", &[(1, true), (63, true)]),
            ("1=2,2=1,63=1,62=2", &[(1, false), (2, true), (62, false), (63, true)]),
        ];
        for (map, want) in cases {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_pw-spawn"));
            cmd.args(["nofile", "64", map, pw_child!(), "report:1"]).kill_on_drop(true);
            cmd.child_fds([(0, ChildFd::Null), (1, ChildFd::ReadPipe), (2, ChildFd::ReadPipe)]);
            let mut child = cmd.spawn().expect("spawn pw-spawn");
            let (out, err) = (reader(&mut child, 1), reader(&mut child, 2));
            let (out_id, err_id) = (identity(out.as_fd().as_raw_fd()), identity(err.as_fd().as_raw_fd()));
            // pw-spawn's outcome comes on its fd 1, the child's report on
            // whichever of the two its fd 1 is.
            let (mut out_text, mut err_text) = (String::new(), String::new());
            let (mut out, mut err) = (out, err);
            let (read_out, read_err) =
                tokio::join!(out.read_to_string(&mut out_text), err.read_to_string(&mut err_text));
            read_out.and(read_err).expect("read pw-spawn's output");
            assert_eq!(exit_code(&mut child).await, 0, "{out_text}{err_text}");
            let (report, outcome) = match out_text.split_once("end\n") {
                Some((report, outcome)) => (report, outcome),
                None => (err_text.strip_suffix("end\n").unwrap_or(&err_text), out_text.as_str()),
            };
            assert_eq!(outcome, "ok exit code 0\n", "{map}: {out_text}{err_text}");
            let table = parse_report(&format!("{report}end\n"));
            let got: Vec<(RawFd, (u64, u64), bool)> =
                table.iter().map(|(&fd, e)| (fd, ident(e), e.cloexec)).collect();
            let want: Vec<(RawFd, (u64, u64), bool)> =
                want.iter().map(|&(fd, stdout)| (fd, if stdout { out_id } else { err_id }, false)).collect();
            assert_eq!(got, want, "{map}");
        }
    })
    .await;
}

// Issue #9, defect 10: a chain of 8,000 entries (f_i <- f_(i+1)) took 8.5 s inside
// spawn(), the plan being super-quadratic.
#[tokio::test]
async fn fd_plan_is_not_quadratic() {
    const N: usize = 8_000;
    let _nofile = NOFILE.lock().await;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if hard < (2 * N) as nix::libc::rlim_t {
        eprintln!("skipped: the hard RLIMIT_NOFILE {hard} cannot hold a chain of {N} beside the other tests");
        return;
    }
    let _restore = RestoreNofile(soft, hard);
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    guard(LIMIT, "a chain of 8,000 child fds", async {
        // /dev/null and /dev/zero in turn, so the child's table shows
        // whether each fd got its neighbour's file.
        let files = [
            std::fs::File::open("/dev/null").expect("null"),
            std::fs::File::open("/dev/zero").expect("zero"),
        ];
        let owned: Vec<OwnedFd> =
            (0..=N).map(|i| OwnedFd::from(files[i % 2].try_clone().expect("dup"))).collect();
        let mut chain: Vec<RawFd> = owned.iter().map(AsRawFd::as_raw_fd).collect();
        chain.sort_unstable();
        assert!(chain[0] > 1, "fd 1 reports, so the chain must sit above it");
        let mut cmd = helper(&["report:1"]);
        cmd.clear_child_fds().child_fd(1, ChildFd::ReadPipe);
        for pair in chain.windows(2) {
            cmd.child_fd(pair[0], ChildFd::Parent(pair[1]));
        }
        let started = std::time::Instant::now();
        let child = cmd.spawn().expect("spawn");
        let took = started.elapsed();
        let run = finish(child, 1).await;
        assert_eq!(run.code, 0);
        let mut want = chain[..N].to_vec();
        want.insert(0, 1);
        assert_eq!(fds(&run.table), want);
        for pair in chain.windows(2) {
            let e = &run.table[&pair[0]];
            assert_eq!(
                (ident(e), e.cloexec),
                (identity(pair[1]), false),
                "child fd {} is not parent fd {}",
                pair[0],
                pair[1]
            );
        }
        // A guard only (a debug build on a shared machine): it took 8.5 s.
        assert!(took < std::time::Duration::from_secs(2), "spawn() took {took:?}");
        drop(owned);
    })
    .await;
}

/// Puts `RLIMIT_NOFILE` back as it was when dropped.
struct RestoreNofile(nix::libc::rlim_t, nix::libc::rlim_t);

impl Drop for RestoreNofile {
    fn drop(&mut self) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, self.0, self.1);
    }
}

/// A `pw-child` command running `steps`, killed if the test drops it.
fn helper(steps: &[&str]) -> Command {
    let mut cmd = Command::new(pw_child!());
    cmd.args(steps).kill_on_drop(true);
    cmd
}

/// What a child reported and how it ended.
struct Run {
    table: BTreeMap<RawFd, FdEntry>,
    /// What the child wrote on the report fd after the report.
    rest: Vec<u8>,
    /// `(dev, ino)` of the parent's end of the report pipe.
    report_id: (u64, u64),
    code: i32,
}

/// Spawns `cmd` and runs it to its exit, collecting the report on `fd`.
async fn spawn_run(cmd: &mut Command, fd: RawFd) -> Run {
    finish(cmd.spawn().expect("spawn"), fd).await
}

/// Reads the report on `fd` to EOF, then reaps the child.
async fn finish(mut child: Child, fd: RawFd) -> Run {
    let mut out = reader(&mut child, fd);
    let report_id = identity(out.as_fd().as_raw_fd());
    let mut text = Vec::new();
    out.read_to_end(&mut text).await.expect("read report");
    let code = exit_code(&mut child).await;
    let text = String::from_utf8(text).expect("utf-8 report");
    let (report, rest) =
        text.split_once("end\n").unwrap_or_else(|| panic!("no report (exit {code}): {text:?}"));
    Run { table: parse_report(&format!("{report}end\n")), rest: rest.as_bytes().to_vec(), report_id, code }
}

/// Spawns `cmd`, leaves its pipes alone, and returns its exit code.
async fn run_code(cmd: &mut Command) -> i32 {
    exit_code(&mut cmd.spawn().expect("spawn")).await
}

/// Reads report lines up to `end`, leaving what follows in `out`.
async fn read_report<R: tokio::io::AsyncRead + Unpin>(out: &mut BufReader<R>) -> BTreeMap<RawFd, FdEntry> {
    let mut text = String::new();
    while !text.ends_with("end\n") {
        let n = out.read_line(&mut text).await.expect("read report");
        assert!(n > 0, "EOF inside the report: {text:?}");
    }
    parse_report(&text)
}

async fn exit_code(child: &mut Child) -> i32 {
    let status = child.wait().await.expect("wait");
    status.code().unwrap_or_else(|| panic!("child did not exit normally: {status:?}"))
}

fn reader(child: &mut Child, fd: RawFd) -> procwire::ChildReader {
    child.take_reader(fd).unwrap_or_else(|| panic!("no reader for fd {fd}"))
}

fn writer(child: &mut Child, fd: RawFd) -> procwire::ChildWriter {
    child.take_writer(fd).unwrap_or_else(|| panic!("no writer for fd {fd}"))
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    procwire_tests::pipe_cloexec()
}

/// The open child fd numbers of a report.
fn fds(table: &BTreeMap<RawFd, FdEntry>) -> Vec<RawFd> {
    table.keys().copied().collect()
}

fn sorted(fds: &[RawFd]) -> Vec<RawFd> {
    let mut v = fds.to_vec();
    v.sort_unstable();
    v
}

fn ident(e: &FdEntry) -> (u64, u64) {
    (e.dev, e.ino)
}

fn id_of(writer: &procwire::ChildWriter) -> (u64, u64) {
    identity(writer.fd().expect("writer still open").as_raw_fd())
}

/// Asserts that child fd `child_fd` is the parent's `parent_fd`: same
/// file, same access mode, and not close-on-exec.
fn assert_same_as_parent(table: &BTreeMap<RawFd, FdEntry>, child_fd: RawFd, parent_fd: RawFd) {
    let e = table.get(&child_fd).unwrap_or_else(|| panic!("child fd {child_fd} missing: {table:?}"));
    assert_eq!(
        (ident(e), e.acc.as_str(), e.cloexec),
        ident_acc(parent_fd).map(|(id, acc)| (id, acc, false)).expect("parent fd open"),
        "child fd {child_fd} is not the parent's fd {parent_fd}"
    );
}

/// `(dev, ino)` and access mode (`r`, `w`, `rw`) of this process's `fd`.
fn ident_acc(fd: RawFd) -> Option<((u64, u64), &'static str)> {
    let acc = match fdinfo_flags(fd)? & 0o3 {
        0 => "r",
        1 => "w",
        _ => "rw",
    };
    Some((identity(fd), acc))
}

fn fd_cloexec(fd: RawFd) -> bool {
    fdinfo_flags(fd).expect("fd open") & 0o2000000 != 0
}

/// The `flags:` line of `/proc/self/fdinfo/FD` (open flags, `O_CLOEXEC`
/// included), or `None` if `fd` is not open.
fn fdinfo_flags(fd: RawFd) -> Option<u32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
    Some(u32::from_str_radix(flags.trim(), 8).expect("octal flags"))
}

fn parent_fd_open(fd: RawFd) -> bool {
    std::fs::symlink_metadata(format!("/proc/self/fd/{fd}")).is_ok()
}

/// A raw fd this test owns (made by `F_DUPFD`, which nix returns raw).
struct RawGuard(RawFd);

impl Drop for RawGuard {
    fn drop(&mut self) {
        let _ = nix::unistd::close(self.0);
    }
}

/// A file removed when the test ends, pass or fail.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `pipe_capacity` enlarges every pipe of the command: the output pipe
/// reports the size, and a whole MiB fits in the input pipe of a child that
/// never reads it (with the default 64 KiB the write could not complete).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn pipe_capacity_enlarges_every_pipe() {
    const MIB: usize = 1 << 20;
    let mut cmd = Command::new(pw_child!());
    cmd.args(["sleep-ms:30000"]).stderr(ChildFd::Null).pipe_capacity(MIB).kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.take_writer(0).expect("stdin");
    let stdout = child.take_reader(1).expect("stdout");
    let out_size = fcntl(stdout.as_fd(), FcntlArg::F_GETPIPE_SZ).expect("F_GETPIPE_SZ stdout");
    assert_eq!(out_size as usize, MIB, "stdout pipe");
    guard(10, "1 MiB into a pipe nobody reads", stdin.write_all(&vec![7u8; MIB])).await.expect("write");
    child.signal("KILL").expect("kill");
    assert_eq!(guard(10, "wait", child.wait()).await.expect("wait").signal(), Some(9));
}

/// Issue 9, defect 3: a non-blocking pipe given to a child reached it
/// non-blocking (`O_NONBLOCK` belongs to the open file description, which
/// a copy shares), and the child failed with EAGAIN. The child now gets a
/// blocking description of the same pipe, for `ChildFd::Parent` and
/// `ChildFd::Fd` alike, and the parent's own stays non-blocking.
#[tokio::test]
async fn nonblocking_pipe_given_to_a_child_is_blocking_in_it() {
    guard(LIMIT, "non-blocking pipes as ChildFd::Parent and ChildFd::Fd", async {
        for handed_over in [false, true] {
            let (r, w) = pipe();
            for end in [&r, &w] {
                fcntl(end, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).expect("set O_NONBLOCK");
            }
            let (r_raw, w_raw) = (r.as_raw_fd(), w.as_raw_fd());
            // The child reads fd 3 after its report, before we write to the
            // pipe: non-blocking, that read would fail at once (exit 101).
            let mut cmd = helper(&["report:1", "read:3:4:ping", "write:4:pong"]);
            let (to_read, to_write) = if handed_over {
                (ChildFd::Fd(r.try_clone().expect("dup")), ChildFd::Fd(w.try_clone().expect("dup")))
            } else {
                (ChildFd::Parent(r_raw), ChildFd::Parent(w_raw))
            };
            cmd.child_fds([(1, ChildFd::ReadPipe), (3, to_read), (4, to_write)]);
            let mut child = cmd.spawn().expect("spawn");
            drop(cmd);
            let mut out = BufReader::new(reader(&mut child, 1));
            let table = read_report(&mut out).await;
            for (fd, parent, acc) in [(3, r_raw, "r"), (4, w_raw, "w")] {
                let e = &table[&fd];
                assert_eq!(
                    (e.kind.as_str(), e.acc.as_str(), ident(e)),
                    ("fifo", acc, identity(parent)),
                    "fd {fd}"
                );
                assert!(!e.nonblock, "child fd {fd} is non-blocking (handed over: {handed_over})");
            }
            std::fs::File::from(w.try_clone().expect("dup")).write_all(b"ping").expect("write ping");
            assert_eq!(exit_code(&mut child).await, 0, "the child's blocking read failed");
            let mut pong = [0u8; 4];
            std::fs::File::from(r.try_clone().expect("dup")).read_exact(&mut pong).expect("read pong");
            assert_eq!(&pong, b"pong");
            for (end, name) in [(&r, "read"), (&w, "write")] {
                let flags = OFlag::from_bits_retain(fcntl(end, FcntlArg::F_GETFL).expect("F_GETFL"));
                assert!(flags.contains(OFlag::O_NONBLOCK), "the parent's {name} end lost O_NONBLOCK");
            }
        }
    })
    .await;
}

/// The documented limit of the fix above: a non-blocking socket cannot be
/// opened again, so it reaches the child as it is, non-blocking.
#[tokio::test]
async fn nonblocking_socket_reaches_the_child_as_it_is() {
    guard(LIMIT, "non-blocking socket as ChildFd::Parent", async {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        theirs.set_nonblocking(true).expect("set_nonblocking");
        let mut cmd = helper(&["report:1"]);
        cmd.child_fds([(1, ChildFd::ReadPipe), (3, ChildFd::Parent(theirs.as_raw_fd()))]);
        let run = spawn_run(&mut cmd, 1).await;
        assert_eq!(run.code, 0);
        let e = &run.table[&3];
        assert_eq!((e.kind.as_str(), e.nonblock), ("sock", true), "{:?}", run.table);
        drop(ours);
    })
    .await;
}

/// Issue 9, defect 3: `ChildFd::from(ChildReader)` and
/// `ChildFd::try_from(ChildWriter)` hand another child's pipe ends over as
/// blocking descriptors, while the parent's ends are non-blocking.
#[tokio::test]
async fn child_pipe_ends_handed_to_another_child_are_blocking() {
    guard(LIMIT, "ChildReader and ChildWriter as ChildFd", async {
        let mut producer = helper(&["write:1:data"]).stdin(ChildFd::Null).spawn().expect("spawn producer");
        let mut consumer = helper(&["read:0:4:data"]).stdout(ChildFd::Null).spawn().expect("spawn consumer");
        let produced = reader(&mut producer, 1);
        let consumed = writer(&mut consumer, 0);
        for fd in [produced.as_fd(), consumed.fd().expect("open")] {
            let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL).expect("F_GETFL"));
            assert!(flags.contains(OFlag::O_NONBLOCK), "the parent's own end is blocking");
        }
        // The middle child copies its fd 0 (the producer's output) to its
        // fd 5 (the consumer's input).
        let mut cmd = helper(&["report:1", "echo:0:5"]);
        cmd.child_fds([
            (0, ChildFd::from(produced)),
            (1, ChildFd::ReadPipe),
            (5, ChildFd::try_from(consumed).expect("open writer")),
        ]);
        let middle = cmd.spawn().expect("spawn middle");
        drop(cmd); // the command's copies: the consumer must see EOF
        let run = finish(middle, 1).await;
        assert_eq!(run.code, 0);
        for fd in [0, 5] {
            assert!(!run.table[&fd].nonblock, "child fd {fd} is non-blocking: {:?}", run.table);
        }
        assert_eq!(exit_code(&mut producer).await, 0);
        assert_eq!(exit_code(&mut consumer).await, 0, "the consumer did not get the data");

        // A closed writer has no descriptor to give.
        let mut child = helper(&["drain:0"]).spawn().expect("spawn");
        let mut w = writer(&mut child, 0);
        w.close();
        assert!(matches!(ChildFd::try_from(w), Err(Error::PipeClosed { fd: 0 })));
        assert_eq!(exit_code(&mut child).await, 0);
    })
    .await;
}
