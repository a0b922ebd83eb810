//! The pipe ends as building blocks: shell pipelines made of procwire's
//! own pieces.

use procwire::{ChildFd, Command};
use procwire_tests::guard;
use tokio::io::AsyncReadExt;

/// Guard against hangs only; every test waits on its events.
const LIMIT: u64 = 60;

/// `seq 1 100000 | grep 7 | wc -l`, and what grep said on stderr.
async fn seq_grep_wc() -> (String, String) {
    let mut seq = Command::new("seq").args(["1", "100000"]).stdin(ChildFd::Null).spawn().expect("spawn seq");
    let mut grep = Command::new("grep")
        .arg("7")
        .stdin(seq.take_reader(1).expect("seq's stdout").into())
        .spawn()
        .expect("spawn grep");
    let mut wc = Command::new("wc")
        .arg("-l")
        .stdin(grep.take_reader(1).expect("grep's stdout").into())
        .spawn()
        .expect("spawn wc");
    let mut count = String::new();
    wc.take_reader(1).expect("wc's stdout").read_to_string(&mut count).await.expect("read wc");
    let mut complaint = String::new();
    grep.take_reader(2)
        .expect("grep's stderr")
        .read_to_string(&mut complaint)
        .await
        .expect("read grep's stderr");
    for (name, child) in [("seq", &mut seq), ("grep", &mut grep), ("wc", &mut wc)] {
        let status = child.wait().await.expect("wait");
        assert!(status.success(), "{name}: {status} ({complaint})");
    }
    (count, complaint)
}

/// Issue 9, defect 3: the pipe ends handed from one child to the next were
/// left non-blocking, so grep got EAGAIN ("Resource temporarily
/// unavailable") and the pipeline counted 0 or 4188 lines, not 40951.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_from_procwire_pieces_is_exact() {
    guard(LIMIT, "20 pipelines", async {
        for round in 0..20 {
            let (count, complaint) = seq_grep_wc().await;
            assert_eq!((count.trim(), complaint.as_str()), ("40951", ""), "round {round}");
        }
    })
    .await;
}

/// The other direction: a child writing straight into another child's
/// input pipe (`ChildFd::try_from(ChildWriter)`).
#[tokio::test]
async fn child_writes_into_another_childs_input_pipe() {
    guard(LIMIT, "seq > wc's stdin", async {
        let mut wc = Command::new("wc").arg("-l").spawn().expect("spawn wc");
        let stdin = wc.take_writer(0).expect("wc's stdin");
        let mut seq = Command::new("seq")
            .args(["1", "100000"])
            .stdout(stdin.try_into().expect("open writer"))
            .spawn()
            .expect("spawn seq");
        let mut count = String::new();
        wc.take_reader(1).expect("wc's stdout").read_to_string(&mut count).await.expect("read wc");
        assert_eq!(count.trim(), "100000");
        assert!(seq.wait().await.expect("wait seq").success());
        assert!(wc.wait().await.expect("wait wc").success());
    })
    .await;
}
