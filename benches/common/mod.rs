//! Helpers shared by the bench targets (each includes this file with
//! `#[path = "common/mod.rs"] mod common;`).

/// The median of `v`; NaN when empty.
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The count in the environment variable `key`, or `default` when unset.
///
/// # Panics
///
/// If the variable is set to something that is not a count.
pub(crate) fn env_usize(key: &str, default: usize) -> usize {
    match std::env::var(key) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{key}={v:?} is not a count")),
        Err(_) => default,
    }
}

/// A pipe with both ends close-on-exec: `pipe2(O_CLOEXEC)`, or on macOS,
/// which has no `pipe2`, `pipe` and then `FD_CLOEXEC`.
#[allow(dead_code)] // Not every bench spawns by hand.
pub(crate) fn pipe_cloexec() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    #[cfg(not(target_os = "macos"))]
    return nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
    #[cfg(target_os = "macos")]
    {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        let (r, w) = nix::unistd::pipe().expect("pipe");
        for end in [&r, &w] {
            fcntl(end, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("FD_CLOEXEC");
        }
        (r, w)
    }
}
