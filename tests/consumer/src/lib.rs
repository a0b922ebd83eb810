//! A library that depends on `procwire` with its default features and
//! runs a program with `get_process_output`, as a user's library would.
//! It has no tests of its own: CI type-checks it (and lints it) for
//! Linux, macOS (x86_64 and aarch64) and FreeBSD, so that the facade's
//! default build stays portable (`.ci/run`, "other targets").
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The first line `uname` prints: the kernel's name (`Linux`, `Darwin`,
/// `FreeBSD`).
///
/// # Errors
///
/// What [`procwire::get_process_output`] fails with: `uname` not found,
/// or anything written to its stderr.
pub async fn kernel_name() -> Result<String, procwire::RunError> {
    let out = procwire::get_process_output("uname", ["-s"]).await?;
    Ok(String::from_utf8_lossy(&out).lines().next().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn names_the_kernel_it_runs_on() {
        let name = super::kernel_name().await.expect("uname -s");
        let expected = if cfg!(target_os = "linux") {
            "Linux"
        } else if cfg!(target_os = "macos") {
            "Darwin"
        } else {
            "FreeBSD"
        };
        assert_eq!(name, expected);
    }
}
