//! The `supervise` example's configuration reader on any text: never a
//! panic; a refusal always says something; no more programs than the
//! text has room for. (`-dict=dict/supervise_config.dict` and
//! `examples/supervise.toml` as a seed help it past TOML's syntax.)

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

#[path = "../../examples/supervise/config.rs"]
mod config;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    match config::parse(text, Path::new("/opt/supervise/bin/supervise")) {
        // Nothing made from nothing: a program takes at least 15 bytes
        // (`b.command=[""]` and a newline, under `[program]`).
        Ok((_, programs)) => assert!(programs.len() * 8 <= text.len(), "{} programs", programs.len()),
        Err(message) => assert!(!message.trim().is_empty(), "an empty message"),
    }
});
