#![no_main]
//! Fuzz target `patch`: see `kscale_fuzzing::patch`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kscale_fuzzing::patch(data));
