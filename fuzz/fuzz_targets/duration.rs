#![no_main]
//! Fuzz target `duration`: see `kscale_fuzzing::duration`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kscale_fuzzing::duration(data));
