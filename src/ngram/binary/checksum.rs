//! The binary format's checksum: the file cut into 1 MiB blocks, each hashed by four
//! independent multiply-rotate lanes over its little-endian 8-byte words (so it runs at
//! memory speed, the blocks on all cores), the block digests folded in order with the
//! length; the checksum field (bytes 24..32) reads as 0.
//!
//! ```text
//! lane_j ← (rotl(lane_j, 23) ⊕ word_{4i+j}) · K      for every 32-byte group i of a block
//! digest = fold of the lanes and the block's zero-padded tail, each mixed in by · K
//! sum    = fold of (length, digest_0, digest_1, …)
//! ```

use super::CHECKSUM_AT;
use rayon::prelude::*;
use std::ops::Range;

const K: u64 = 0x9e37_79b9_7f4a_7c15;
const SEEDS: [u64; 4] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344, 0xa409_3822_299f_31d0, 0x082e_fa98_ec4e_6c89];
const BLOCK: usize = 1 << 20;

#[inline]
fn mix(lane: u64, word: u64) -> u64 {
    (lane.rotate_left(23) ^ word).wrapping_mul(K)
}

fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(w)
}

/// Bytes of a block digested between two calls of the piece callback (a multiple of 32).
pub const PIECE: usize = 1 << 17;

/// One block's digest; `first` when it holds the checksum field. `after_piece` is called
/// with each piece of the block (`PIECE` bytes, the last one shorter) once it has been
/// digested, while it is still in cache.
fn block_digest(block: &[u8], first: bool, mut after_piece: impl FnMut(Range<usize>)) -> u64 {
    let mut lanes = SEEDS;
    let whole = block.len() / 32 * 32;
    let mut done = 0;
    while done < whole {
        let end = (done + PIECE).min(whole);
        for (i, group) in block[done..end].chunks_exact(32).enumerate() {
            for (j, lane) in lanes.iter_mut().enumerate() {
                let at = j * 8;
                let value = if first && done == 0 && i == 0 && at == CHECKSUM_AT.start { 0 } else { word(&group[at..at + 8]) };
                *lane = mix(*lane, value);
            }
        }
        after_piece(done..end);
        done = end;
    }
    let mut digest = block.len() as u64;
    for (j, piece) in block[whole..].chunks(8).enumerate() {
        let inside_field = first && whole + j * 8 == CHECKSUM_AT.start;
        digest = mix(digest, if inside_field { 0 } else { word(piece) });
    }
    if whole < block.len() {
        after_piece(whole..block.len());
    }
    lanes.iter().fold(digest, |d, &lane| mix(d, lane))
}

/// Folds the blocks' digests, in order, with the length.
fn fold(len: u64, digests: impl IntoIterator<Item = u64>) -> u64 {
    let sum = digests.into_iter().fold(len, mix);
    sum ^ (sum >> 29)
}

/// The checksum of `bytes`, with the checksum field (bytes 24..32) taken as zeros.
pub fn checksum(bytes: &[u8]) -> u64 {
    checksum_checking::<()>(bytes, &|_| Ok(())).0
}

/// The checksum of `bytes` as [`checksum`], and `check` called on every piece of the
/// file (its byte range) right after the piece was digested, on the same core: one pass
/// over memory for both. Returns the checksum and the first piece's failure, in file
/// order.
pub fn checksum_checking<E: Send>(bytes: &[u8], check: &(dyn Fn(Range<usize>) -> Result<(), E> + Sync)) -> (u64, Result<(), E>) {
    let blocks: Vec<(u64, Result<(), E>)> = bytes
        .par_chunks(BLOCK)
        .enumerate()
        .map(|(i, block)| {
            let mut failure = Ok(());
            let digest = block_digest(block, i == 0, |piece| {
                if failure.is_ok() {
                    failure = check(i * BLOCK + piece.start..i * BLOCK + piece.end);
                }
            });
            (digest, failure)
        })
        .collect();
    let mut first_failure = Ok(());
    let mut digests = Vec::with_capacity(blocks.len());
    for (digest, failure) in blocks {
        digests.push(digest);
        if first_failure.is_ok() {
            first_failure = failure;
        }
    }
    (fold(bytes.len() as u64, digests), first_failure)
}

/// The same checksum fed as a stream of bytes (for writing a file without holding it).
pub struct StreamingChecksum {
    block: Vec<u8>,
    digests: Vec<u64>,
    len: u64,
}

impl Default for StreamingChecksum {
    fn default() -> Self {
        StreamingChecksum { block: Vec::with_capacity(BLOCK), digests: Vec::new(), len: 0 }
    }
}

impl StreamingChecksum {
    /// Adds the next bytes of the file.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (BLOCK - self.block.len()).min(bytes.len());
            self.block.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.block.len() == BLOCK {
                self.digests.push(block_digest(&self.block, self.digests.is_empty(), |_| {}));
                self.block.clear();
            }
        }
    }

    /// The checksum of everything added.
    pub fn finish(mut self) -> u64 {
        if !self.block.is_empty() {
            self.digests.push(block_digest(&self.block, self.digests.is_empty(), |_| {}));
        }
        fold(self.len, self.digests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_field_is_ignored_and_any_flip_is_seen() {
        for len in [1000usize, 3 * BLOCK + 77] {
            let mut bytes: Vec<u8> = (0..len as u32).map(|i| (i.wrapping_mul(7) + 3) as u8).collect();
            let reference = checksum(&bytes);
            bytes[CHECKSUM_AT.start + 3] ^= 0xff;
            assert_eq!(checksum(&bytes), reference, "the checksum field must not count");
            for at in [0, 23, 32, 500, 999, len - 1] {
                let mut flipped = bytes.clone();
                flipped[at] ^= 1;
                assert_ne!(checksum(&flipped), reference, "a flip at byte {at} went unseen");
            }
            assert_ne!(checksum(&bytes[..len - 1]), reference, "truncation went unseen");
        }
        for len in [0usize, 31, BLOCK, 2 * BLOCK + 5] {
            let bytes: Vec<u8> = (0..len as u32).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect();
            let mut streamed = StreamingChecksum::default();
            for piece in bytes.chunks(7777) {
                streamed.update(piece);
            }
            assert_eq!(streamed.finish(), checksum(&bytes), "length {len}");
        }
        let short: Vec<u8> = (0..30u8).collect();
        assert_ne!(checksum(&short[..20]), checksum(&short[..21]));
        let mut field_only = short.clone();
        field_only[25] ^= 9;
        assert_eq!(checksum(&field_only), checksum(&short));
    }
}
