#![no_main]
//! Fuzz target `scenario`: see `kscale_fuzzing::scenario`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kscale_fuzzing::scenario(data));
