#![no_main]
//! Fuzz target `kubectl_args`: see `kscale_fuzzing::kubectl_args`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kscale_fuzzing::kubectl_args(data));
