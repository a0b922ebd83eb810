//! Every public type is `Send`/`Sync`/`Unpin` where a tokio user needs it,
//! and the futures they return can move across tasks.

use procwire::{Child, ChildFd, ChildReader, ChildWriter, Command, Error, ExitStatus, SignalHandle};

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
}

#[tokio::test]
async fn wait_future_is_send() {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let fut = child.wait();
    send_future(&fut);
    assert!(fut.await.expect("wait").success());
}
