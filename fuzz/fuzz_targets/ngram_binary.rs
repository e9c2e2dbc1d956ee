//! cargo-fuzz target: `elman::untrusted::ngram_binary` must return Ok or an error for any
//! bytes. Inputs of header size get their checksum (and, for odd first bytes, their length
//! field) fixed first, so the fuzzer reaches the range checks behind the checksum.
#![no_main]

use elman::ngram::binary::checksum::checksum;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = elman::untrusted::ngram_binary(data);
    if data.len() >= 48 {
        let mut fixed = data.to_vec();
        if data[0] & 1 == 1 {
            let len = fixed.len() as u64;
            fixed[32..40].copy_from_slice(&len.to_le_bytes());
        }
        let sum = checksum(&fixed);
        fixed[24..32].copy_from_slice(&sum.to_le_bytes());
        let _ = elman::untrusted::ngram_binary(&fixed);
    }
});
