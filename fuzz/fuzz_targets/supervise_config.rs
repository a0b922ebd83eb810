//! The `supervise` example's configuration reader on any text: never a
//! panic; a refusal always says something. (`-dict=fuzz/supervise_config.dict`
//! and `examples/supervise.toml` as a seed help it past TOML's syntax.)

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

#[path = "../../examples/supervise/config.rs"]
mod config;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Err(message) = config::parse(text, Path::new("/opt/supervise/bin/supervise")) {
        assert!(!message.trim().is_empty(), "an empty message");
    }
});
