#![no_main]
//! Fuzz target `quantity`: see `kscale_fuzzing::quantity`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kscale_fuzzing::quantity(data));
