//! The only place in procwire with `unsafe`: thin wrappers over the
//! syscalls that neither std nor nix expose safely.
//!
//! Each public function here forwards to one C call, named and linked in its
//! doc; each `unsafe` block states the invariant it relies on.

#[cfg(target_os = "linux")]
pub(crate) mod clone3;
pub(crate) mod io;
pub(crate) mod process;
pub(crate) mod pty;
pub(crate) mod registration;
pub(crate) mod spawn;
#[cfg(target_os = "linux")]
pub(crate) mod trampoline;
