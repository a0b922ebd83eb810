//! Every public type is `Send`/`Sync`/`Unpin` where a tokio user needs it,
//! and the futures they return can move across tasks.

use procwire::{
    Child, ChildFd, ChildReader, ChildWriter, Command, Driver, Error, ExitStatus, Lines, ProcessEvents,
    ProcessHandle, ProcessProtocol, PtyMaster, PtyReadHalf, PtyWriteHalf, SignalHandle, Transport,
};
use procwire::{Output, Run, RunError};

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
    send::<procwire::ByteLines<Nothing>>();
    send::<procwire::Control>();
    sync::<procwire::Control>();
    send::<procwire::Deadline>();
    sync::<procwire::Deadline>();
    unpin::<procwire::Deadline>();
    send::<Run>();
    sync::<Run>();
    unpin::<Run>();
    send::<RunError>();
    sync::<RunError>();
    send::<Output>();
    sync::<Output>();
    send::<procwire::StopLadder>();
    sync::<procwire::StopLadder>();
    unpin::<procwire::StopLadder>();
    send::<procwire::StopPolicy>();
    sync::<procwire::StopPolicy>();
    send::<procwire::Stopped>();
    sync::<procwire::Stopped>();
    send::<procwire::Subreaper>();
    sync::<procwire::Subreaper>();
    unpin::<procwire::Subreaper>();
    send::<procwire::Adopted>();
    sync::<procwire::Adopted>();
}

/// The utilities' futures can be spawned as tasks, also `Run`'s methods.
#[tokio::test]
async fn utils_futures_are_send() {
    let args = [String::from("x")];
    let output = procwire::get_process_output("echo", &args);
    send_future(&output);
    drop(args); // the future owns what it needs: 'static
    let out = tokio::spawn(output).await.unwrap().unwrap();
    assert_eq!(out, b"x\n");
    send_future(&procwire::get_process_value("true", [""; 0]));
    send_future(&procwire::get_process_output_and_value("true", [""; 0]));
    let mut run = Run::new("true");
    send_future(&run.output());
    send_future(&run.get_process_output());
    send_future(&run.get_process_value());
    send_future(&run.get_process_output_and_value());
    send_future(&run.checked_output());
    send_future(&run.checked_string());
}

/// A protocol with every default.
struct Nothing;
impl ProcessProtocol for Nothing {}
impl procwire::LineProtocol for Nothing {
    fn line_received(&mut self, _t: &mut Transport, _fd: i32, _line: String) {}
}
impl procwire::ByteLineProtocol for Nothing {
    fn line_received(&mut self, _t: &mut Transport, _fd: i32, _line: procwire::Bytes) {}
}

#[tokio::test]
async fn wait_future_is_send() {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let fut = child.wait();
    send_future(&fut);
    assert!(fut.await.expect("wait").success());
}

#[tokio::test]
async fn stop_future_is_send() {
    let mut child = Command::new("sleep").arg("100").spawn().expect("spawn sleep");
    let policy = procwire::StopPolicy::new();
    let fut = child.stop(&policy);
    send_future(&fut);
    assert_eq!(fut.await.expect("stop").status.signal(), Some(15));
}
