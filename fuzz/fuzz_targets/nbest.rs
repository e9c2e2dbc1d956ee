//! cargo-fuzz target: `elman::untrusted::nbest` must return Ok or an error for any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = elman::untrusted::nbest(data);
});
