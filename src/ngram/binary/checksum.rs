//! The binary format's checksum: four independent multiply-rotate lanes over the file's
//! little-endian 8-byte words (so it runs at memory speed), the checksum field read as 0.
//!
//! ```text
//! lane_j ← (rotl(lane_j, 23) ⊕ word_{4i+j}) · K      for every 32-byte block i
//! sum    = fold of the lanes, the tail (zero-padded) and the length, each mixed by · K
//! ```

use super::CHECKSUM_AT;

const K: u64 = 0x9e37_79b9_7f4a_7c15;
const SEEDS: [u64; 4] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344, 0xa409_3822_299f_31d0, 0x082e_fa98_ec4e_6c89];

#[inline]
fn mix(lane: u64, word: u64) -> u64 {
    (lane.rotate_left(23) ^ word).wrapping_mul(K)
}

fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(w)
}

/// The checksum of `bytes`, with the checksum field (bytes 24..32) taken as zeros.
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut lanes = SEEDS;
    let mut blocks = bytes.chunks_exact(32);
    for (i, block) in (&mut blocks).enumerate() {
        for (j, lane) in lanes.iter_mut().enumerate() {
            let at = j * 8;
            let value = if i == 0 && at == CHECKSUM_AT.start { 0 } else { word(&block[at..at + 8]) };
            *lane = mix(*lane, value);
        }
    }
    let tail = blocks.remainder();
    let full_blocks = bytes.len() / 32;
    let mut sum = bytes.len() as u64;
    for (j, piece) in tail.chunks(8).enumerate() {
        let inside_field = full_blocks == 0 && j * 8 == CHECKSUM_AT.start;
        sum = mix(sum, if inside_field { 0 } else { word(piece) });
    }
    for lane in lanes {
        sum = mix(sum, lane);
    }
    sum ^ (sum >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_field_is_ignored_and_any_flip_is_seen() {
        let mut bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let reference = checksum(&bytes);
        bytes[CHECKSUM_AT.start + 3] ^= 0xff;
        assert_eq!(checksum(&bytes), reference, "the checksum field must not count");
        for at in [0, 23, 32, 500, 999] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1;
            assert_ne!(checksum(&flipped), reference, "a flip at byte {at} went unseen");
        }
        assert_ne!(checksum(&bytes[..999]), reference, "truncation went unseen");
        assert_ne!(checksum(&bytes[..20]), checksum(&bytes[..21]));
    }
}
