//! procwire-supervisor's configuration reader (`SupervisorConfig`, the
//! `config` feature) on any text: never a panic; a refusal always says
//! something; no more programs than the text has room for; a
//! configuration that converts, written back by serde, reads back as
//! itself. (`-dict=dict/supervise_config.dict` and
//! `examples/supervise.toml` as a seed help it past TOML's syntax.)

#![no_main]

use libfuzzer_sys::fuzz_target;
use procwire_supervisor::SupervisorConfig;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let read = SupervisorConfig::from_toml(text).and_then(|config| {
        config.builder()?;
        let programs = config.programs()?;
        Ok((config, programs))
    });
    match read {
        // Nothing made from nothing: a program takes at least 15 bytes
        // (`b.command=[""]` and a newline, under `[program]`).
        Ok((config, programs)) => {
            assert!(programs.len() * 8 <= text.len(), "{} programs", programs.len());
            let again = toml::to_string(&config).expect("a configuration writes");
            assert_eq!(SupervisorConfig::from_toml(&again).as_ref(), Ok(&config), "{again}");
        }
        Err(e) => assert!(!e.message.trim().is_empty(), "an empty message: {e:?}"),
    }
});
