#![no_main]
//! Fuzz target `run`: see `kscale_fuzzing::run`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kscale_fuzzing::run(data));
