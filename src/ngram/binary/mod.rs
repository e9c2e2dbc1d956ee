//! elman's binary n-gram format: a back-off trie laid out so that a memory map of the file
//! *is* the model — opening it checks the header, the checksum and every offset, and
//! parses nothing.
//!
//! All integers and floats are little-endian; every section starts at a multiple of 8.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "ELMNGRAM"
//!      8     4  format version (3; 2 had no unary child pointers and still reads; version 1
//!                 took a token's slot from the hash's low bits)
//!     12     4  order N
//!     16     4  vocabulary size V (ids 0..V; 0 <unk>, 1 <s>, 2 </s>)
//!     20     4  flags: bit 0 char tokenizer (else word), bit 1 <s> … </s> markers,
//!                 bit 2 compact layout (below)
//!     24     8  checksum of the whole file with these 8 bytes read as 0 (see checksum)
//!     32     8  file length in bytes
//!     40     4  length S of the smoothing description (UTF-8)
//!     44     4  number of sections: 3 + 2N (hashed layout), 5 + 3N (compact)
//!     48   16·k section table: (offset u64, length in bytes u64) per section
//!      …     S  smoothing description, then sections in table order:
//!
//!   0  ngram counts        u64 × N        n-grams per order as the ARPA header counts them
//!   1  token offsets       u32 × (V+1)    token i is bytes [off[i], off[i+1]) of section 2
//!   2  token bytes         u8             the tokens' UTF-8, back to back
//!   3  token hash table    u32 × 2^k      open addressing, slot = id + 1 (0 = empty), first
//!                                          probe the top k bits of FxHash of the token's
//!                                          bytes, linear probing
//!
//! The hashed layout (the default) goes on:
//!
//!   then one section per order n = 1 … N:
//!      n < N   node × (L_n + 1)   node = (oldest token u32, log10 p f32, log10 back-off
//!                                 f32, first child u32): entries [child_i, child_{i+1}) of
//!                                 order n + 1 extend entry i by one older token; the last
//!                                 node is a sentinel holding only the final child bound
//!      n = N   leaf × L_N         leaf = (oldest token u32, log10 p f32)
//!   then one section per order n = 2 … N:
//!      u32 × ⌈1.5·E_n⌉    hash table of order n's entries that sit in child ranges longer
//!                         than 8 (E_n of them): slot = entry index + 1 (0 = empty), first
//!                         probe multiply-shift of (parent index << 32 | token), linear
//!                         probing; shorter ranges are scanned
//!   Order 1 is dense: entry i is token i (L_1 = V). log10 p NaN marks a blank entry.
//! ```
//!
//! The compact layout (flag bit 2) goes on with the same trie, bit-packed
//! (see [`compact`]):
//!
//! ```text
//!   4  parameters          u64 × 8N       per order: records (sentinel included), bits of
//!                                          token, log10 p, log10 back-off and pointer;
//!                                          codings of log10 p and back-off; log2 block size,
//!                                          or 64 for unary pointers
//!   then three sections per order n = 1 … N:
//!      records            u8             the bit-packed records, 8 zero bytes after them
//!      pointer bases      u32 × blocks   each block's first child pointer (may be empty);
//!                         u64 × ⌈B/64⌉   unary pointers: the bit vector, B = L_n + 1 + L_{n+1}
//!      centers            f32            the coded values' tables, log10 p's then back-offs'
//! ```
//!
//! The trie is KenLM's *reversed* trie: the root's children are the words w, their
//! children the bigrams (c₁, w), then (c₂, c₁, w) and so on, each child range sorted by
//! its oldest token — which is exactly the suffix order elman's in-memory models keep
//! ([`super::key`]), so building it from a model is one linear pass per order. Looking up
//! (c_k … c_1, w) is one step per order: a scan of a short child range, or for a long one
//! one hash probe (checked against the range and the token) in the hashed layout, a
//! bisection in the compact one.
//!
//! An ARPA model may hold an n-gram whose suffix it does not hold (a pruned foreign model);
//! the trie then holds a *blank* entry for the suffix (log10 p NaN, back-off 0): a query
//! walks through it but never takes its probability, so scores stay those of the ARPA
//! rule (see [`walk`]). elman's own models never need blanks.
//!
//! The checksum is a multiply-rotate hash of the file in 1 MiB blocks (see [`checksum`]; a short tail
//! zero-padded): it catches a corrupted or truncated copy, not a forgery; every offset is
//! bounds-checked at open regardless.

mod bits;
pub mod checksum;
pub mod compact;
mod lexicon;
mod open;
pub mod pack;
mod quantize;
mod verify;
pub mod trie;
mod trie_check;
pub mod walk;
mod write;

pub use lexicon::{OwnedTokenTable, TokenTable};
pub use open::{BinaryFile, BinaryModel, TrieLayout};
pub use walk::Levels;
pub use pack::Quantization;
pub use write::{write_binary, write_binary_as, write_binary_file, write_binary_file_as};

use std::io::Read;
use std::path::Path;

/// The first 8 bytes of every binary model.
pub const MAGIC: [u8; 8] = *b"ELMNGRAM";
/// The layout version this build writes; it reads this one and back to
/// [`OLDEST_READ_VERSION`].
pub const VERSION: u32 = 3;
/// The oldest layout version this build reads: version 2 is version 3 without unary child
/// pointers in the compact layout, so it reads as it is.
pub const OLDEST_READ_VERSION: u32 = 2;
/// Bytes before the section table.
pub const HEADER_BYTES: usize = 48;
/// Highest order the format accepts (a query keeps one back-off per order on the stack).
pub const MAX_ORDER: usize = 64;
/// Byte range of the checksum field.
pub const CHECKSUM_AT: std::ops::Range<usize> = 24..32;

/// Flag bit: char-level tokenizer.
pub const FLAG_CHAR: u32 = 1;
/// Flag bit: `<s>` … `</s>` markers per line.
pub const FLAG_MARKERS: u32 = 2;
/// Flag bit: the compact layout (sections 4 … as [`compact`] lays them out).
pub const FLAG_COMPACT: u32 = 4;

/// How the trie is laid out in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BinaryLayout {
    /// Fixed 16- and 8-byte entries and hash tables for long child ranges: the fastest.
    #[default]
    Hashed,
    /// Bit-packed records searched by bisection, optionally quantized: the smallest.
    Compact(Option<Quantization>),
}

/// Whether the file at `path` starts with the binary format's magic (false for ARPA text,
/// or a file shorter than the magic).
pub fn is_binary_file(path: &Path) -> std::io::Result<bool> {
    let mut head = [0u8; 8];
    let mut file = std::fs::File::open(path)?;
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..])? {
            0 => return Ok(false),
            n => got += n,
        }
    }
    Ok(head == MAGIC)
}

/// Asks the CPU to start loading the cache line at `p` (a hint: no access is made, so
/// any address is allowed).
#[inline]
pub(super) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 reads nothing architecturally and cannot fault, whatever `p` is.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
