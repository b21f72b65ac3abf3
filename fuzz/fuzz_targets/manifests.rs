#![no_main]
//! Fuzz target `manifests`: see `kscale_fuzzing::manifests`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kscale_fuzzing::manifests(data));
