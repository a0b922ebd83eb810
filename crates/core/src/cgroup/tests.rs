use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;
use crate::Command;

#[test]
fn the_cgroup2_line_of_mountinfo_gives_the_mount_point() {
    let hybrid = b"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    assert_eq!(cgroup2_mount(hybrid), Some(PathBuf::from("/sys/fs/cgroup/unified")));
    // Optional fields before the separator, and an escaped space.
    let unified =
        b"25 1 0:22 / /my\\040cgroups rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw,nsdelegate\n";
    assert_eq!(cgroup2_mount(unified), Some(PathBuf::from("/my cgroups")));
    let v1_only = b"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n";
    assert_eq!(cgroup2_mount(v1_only), None);
    assert_eq!(cgroup2_mount(b""), None);
}

#[test]
fn the_own_cgroup_is_found_under_the_mount_that_shows_it() {
    let own = own_cgroup(b"4:memory:/x\n0::/system.slice/web.service\n").unwrap();
    assert_eq!(own, PathBuf::from("/system.slice/web.service"));
    assert_eq!(own_cgroup(b"0::/gone (deleted)\n"), None);
    assert_eq!(own_cgroup(b"4:memory:/x\n"), None);
    let mount = b"41 31 0:38 /system.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    let (dir, root) = cgroup2_mount_and_root(mount).unwrap();
    assert_eq!((dir.as_path(), root.as_path()), (Path::new("/sys/fs/cgroup"), Path::new("/system.slice")));
    // A bind mount of a subtree shows what is below it, not what is beside.
    assert_eq!(cgroup_dir(&dir, &root, &own), Some(PathBuf::from("/sys/fs/cgroup/web.service")));
    assert_eq!(cgroup_dir(&dir, &root, Path::new("/user.slice")), None);
    assert_eq!(cgroup_dir(&dir, Path::new("/"), Path::new("/")), Some(dir.clone()));
    // This process's own, where cgroup v2 is mounted: a cgroup v2 directory.
    if let Some(current) = Cgroup::current() {
        assert!(check_cgroup2(&current).is_ok(), "{}", current.display());
    }
}

#[test]
fn octal_escapes_are_decoded_and_the_rest_kept() {
    assert_eq!(unescape(b"a\\040b\\011c\\134d"), b"a b\tc\\d");
    assert_eq!(unescape(b"trailing\\04"), b"trailing\\04");
    assert_eq!(unescape(b"\\9xy"), b"\\9xy");
}

#[test]
fn names_that_are_not_one_path_component_are_refused() {
    for name in ["", ".", "..", "a/b", "nul\0"] {
        assert!(
            matches!(Cgroup::create(Path::new("/proc"), name), Err(CgroupError::InvalidName(_))),
            "{name:?}"
        );
    }
}

#[test]
fn a_directory_off_cgroup2_is_not_a_cgroup() {
    let err = Cgroup::open("/proc").unwrap_err();
    assert!(matches!(&err, CgroupError::NotCgroup2 { path } if path == Path::new("/proc")), "{err}");
    assert!(matches!(Cgroup::check_writable(Path::new("/proc")), Err(CgroupError::NotCgroup2 { .. })));
    let err = Cgroup::open("/no/such/dir").unwrap_err();
    assert!(
        matches!(&err, CgroupError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
        "{err}"
    );
}

/// A fresh cgroup under the cgroup v2 mount, killed and removed when
/// dropped; `None` (with the reason printed) where there is none to write.
struct Scratch(Cgroup);

impl Scratch {
    fn new() -> Option<Scratch> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let Some(root) = Cgroup::mount_point() else {
            println!("skipped: cgroup v2 is not mounted");
            return None;
        };
        if let Err(e) = Cgroup::check_writable(&root) {
            println!("skipped: {e}");
            return None;
        }
        let name = format!("procwire-core-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        Some(Scratch(Cgroup::create(&root, &name).expect("create a cgroup")))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        for _ in 0..500 {
            if !self.0.is_populated().unwrap_or(false) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.0.remove();
    }
}

#[test]
fn create_open_check_and_remove() {
    let Some(scratch) = Scratch::new() else { return };
    let cgroup = &scratch.0;
    assert_eq!(Cgroup::open(cgroup.path()).unwrap(), *cgroup);
    Cgroup::check_writable(cgroup.path()).unwrap();
    assert_eq!(cgroup.procs().unwrap(), Vec::<u32>::new());
    assert!(!cgroup.is_populated().unwrap());
    let parent = cgroup.path().parent().unwrap();
    let name = cgroup.path().file_name().unwrap().to_str().unwrap();
    let err = Cgroup::create(parent, name).unwrap_err();
    assert!(matches!(&err, CgroupError::Io { source, .. } if source.kind() == io::ErrorKind::AlreadyExists));
    cgroup.remove().unwrap();
    // Gone: empty, and nothing to kill.
    assert!(!cgroup.is_populated().unwrap());
    assert_eq!(cgroup.procs().unwrap(), Vec::<u32>::new());
    cgroup.kill().unwrap();
}

/// The root cgroup holds the whole system: signalling "its members" is
/// refused (signal 0, so nothing would happen even if it were not).
#[test]
fn the_root_cgroup_is_not_signalled() {
    let Some(root) = Cgroup::mount_point() else { return println!("skipped: cgroup v2 is not mounted") };
    let err = Cgroup::open(root).unwrap().signal(0).unwrap_err();
    assert!(matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::InvalidInput), "{err}");
}

/// In the default mode on x86_64 with Linux >= 5.7, the child is started
/// inside the cgroup by clone3; under `procwire_force_posix_spawn` it
/// writes to cgroup.procs itself. Either way it is in the cgroup.
#[tokio::test]
async fn the_engine_path_follows_the_kernel_and_the_cfg() {
    let Some(scratch) = Scratch::new() else { return };
    let mut child = Command::new("true").cgroup(scratch.0.path()).spawn().unwrap();
    assert!(child.wait().await.unwrap().success());
    let release = nix::sys::utsname::uname().unwrap().release().to_string_lossy().into_owned();
    let mut parts = release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let expected = cfg!(target_arch = "x86_64")
        && !cfg!(any(procwire_force_posix_spawn, procwire_portable))
        && version >= (5, 7);
    assert_eq!(crate::sys::clone3::used(), expected, "kernel {release}");
}

/// `kill` where the kernel has no `cgroup.kill`: a shell, its child, and a
/// `setsid`'d grandchild all die, frozen first or not.
#[tokio::test]
async fn the_sweep_kills_every_member_frozen_or_not() {
    for freeze in [true, false] {
        let Some(scratch) = Scratch::new() else { return };
        let cgroup = &scratch.0;
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "setsid sleep 100 & sleep 100 & wait"]).cgroup(cgroup.path());
        let mut child = cmd.spawn().unwrap();
        let members = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let procs = cgroup.procs().unwrap();
                if procs.len() == 3 {
                    return procs;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("three members within 10 s");
        cgroup.kill_by_sweep(freeze).unwrap();
        tokio::time::timeout(Duration::from_secs(10), cgroup.wait_empty()).await.expect("empty").unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(9));
        for pid in members {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = state.rsplit_once(')').map_or("", |(_, rest)| rest.trim_start());
            assert!(state.is_empty() || state.starts_with('Z') || state.starts_with('X'), "{pid}: {state}");
        }
        assert_eq!(
            std::fs::read_to_string(cgroup.path().join("cgroup.freeze")).unwrap().trim(),
            "0",
            "thawed"
        );
        cgroup.remove().unwrap();
    }
}
