use std::ffi::OsStr;

use super::*;
use crate::notify::Notification;

#[test]
fn notify_to_takes_absolute_paths_and_abstract_names_only() {
    for bad in ["", "relative/path", "vsock:2:1234", "x@y"] {
        let e = notify_to(OsStr::new(bad), "READY=1").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
    }
    let e = notify_to(OsStr::new("@procwire/notify/nobody-listens-here"), "READY=1").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    let e = notify_to(OsStr::new("/nonexistent/procwire/notify"), "READY=1").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
}

#[test]
fn notify_to_a_path() {
    let dir = std::env::temp_dir().join(format!("procwire-notify-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify");
    let _ = std::fs::remove_file(&path);
    let receiver = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    notify_to(path.as_os_str(), "READY=1\nSTATUS=by path").unwrap();
    let mut buf = [0; 64];
    let n = receiver.recv(&mut buf).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let parsed = Notification::parse(&buf[..n]).unwrap();
    assert!(parsed.ready);
    assert_eq!(parsed.status.as_deref(), Some("by path"));
    assert!(parsed.ignored.is_empty());
}
