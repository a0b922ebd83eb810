//! Every public type is `Send`/`Sync`/`Unpin` where a tokio user needs it,
//! and the futures they return can move across tasks.

use procwire::{
    Child, ChildFd, ChildReader, ChildWriter, Command, Driver, Error, ExitStatus, Lines, ProcessEvents,
    ProcessHandle, ProcessProtocol, PtyMaster, PtyReadHalf, PtyWriteHalf, SignalHandle, Transport,
};

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn unpin<T: Unpin>() {}
fn send_future<F: std::future::Future + Send>(_: &F) {}

#[test]
fn public_types_are_send_sync_unpin() {
    send::<Command>();
    sync::<Command>();
    send::<Child>();
    sync::<Child>();
    unpin::<Child>();
    send::<ChildReader>();
    sync::<ChildReader>();
    unpin::<ChildReader>();
    send::<ChildWriter>();
    sync::<ChildWriter>();
    unpin::<ChildWriter>();
    send::<ChildFd>();
    sync::<ChildFd>();
    send::<SignalHandle>();
    sync::<SignalHandle>();
    send::<Error>();
    sync::<Error>();
    send::<ExitStatus>();
    sync::<ExitStatus>();
    send::<PtyMaster>();
    sync::<PtyMaster>();
    unpin::<PtyMaster>();
    send::<PtyReadHalf>();
    send::<PtyWriteHalf>();
    send::<Transport>();
    sync::<Transport>();
    send::<ProcessEvents>();
    unpin::<ProcessEvents>();
    send::<ProcessHandle<Nothing>>();
    unpin::<ProcessHandle<Nothing>>();
    send::<Driver<Nothing>>();
    unpin::<Driver<Nothing>>();
    send::<Driver<&mut Nothing>>();
    send::<Lines<Nothing>>();
}

/// A protocol with every default.
struct Nothing;
impl ProcessProtocol for Nothing {}
impl procwire::LineProtocol for Nothing {
    fn line_received(&mut self, _t: &mut Transport, _fd: i32, _line: String) {}
}

#[tokio::test]
async fn wait_future_is_send() {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let fut = child.wait();
    send_future(&fut);
    assert!(fut.await.expect("wait").success());
}
