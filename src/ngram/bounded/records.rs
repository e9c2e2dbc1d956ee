//! The records the bounded pipeline keeps on disk between its passes, each with its sort
//! order (keys in [`crate::ngram::key`]'s suffix order unless it says otherwise).

use super::external::{f32_at, f64_at, u128_at, u32_at, Record};
use std::cmp::Ordering;

/// A token id of the tokenized text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenId(pub u32);

impl Record for TokenId {
    const BYTES: usize = 4;
    fn encode(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.0.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        TokenId(u32_at(b, 0))
    }
}

/// A key and how often it occurred (counting; sorted by key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyCount {
    pub key: u128,
    pub count: u32,
}

impl Record for KeyCount {
    const BYTES: usize = 20;
    fn encode(&self, out: &mut [u8]) {
        out[..16].copy_from_slice(&self.key.to_le_bytes());
        out[16..20].copy_from_slice(&self.count.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        KeyCount { key: u128_at(b, 0), count: u32_at(b, 16) }
    }
}

/// Sums the counts of equal neighbours of a sorted run in place.
pub fn combine_counts(run: &mut Vec<KeyCount>) -> crate::error::Result<()> {
    let mut kept = 0usize;
    for i in 0..run.len() {
        if kept > 0 && run[kept - 1].key == run[i].key {
            run[kept - 1].count = crate::ngram::spill::add_counts(run[kept - 1].count, run[i].count)?;
        } else {
            run[kept] = run[i];
            kept += 1;
        }
    }
    run.truncate(kept);
    Ok(())
}

/// One n-gram of a level with its raw and adjusted counts (sorted by key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LevelEntry {
    pub key: u128,
    pub raw: u32,
    pub adjusted: u32,
}

impl Record for LevelEntry {
    const BYTES: usize = 24;
    fn encode(&self, out: &mut [u8]) {
        out[..16].copy_from_slice(&self.key.to_le_bytes());
        out[16..20].copy_from_slice(&self.raw.to_le_bytes());
        out[20..24].copy_from_slice(&self.adjusted.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        LevelEntry { key: u128_at(b, 0), raw: u32_at(b, 16), adjusted: u32_at(b, 20) }
    }
}

/// An n-gram grouped under its context: sorted by (context, predicted word); its count
/// and p_{n−1} of its suffix.
#[derive(Clone, Copy, Debug)]
pub struct ContextEntry {
    pub context: u128,
    pub word: u32,
    pub count: u32,
    pub lower: f64,
}

impl PartialEq for ContextEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ContextEntry {}
impl PartialOrd for ContextEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ContextEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.context, self.word).cmp(&(other.context, other.word))
    }
}

impl Record for ContextEntry {
    const BYTES: usize = 32;
    fn encode(&self, out: &mut [u8]) {
        out[..16].copy_from_slice(&self.context.to_le_bytes());
        out[16..20].copy_from_slice(&self.word.to_le_bytes());
        out[20..24].copy_from_slice(&self.count.to_le_bytes());
        out[24..32].copy_from_slice(&self.lower.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        ContextEntry { context: u128_at(b, 0), word: u32_at(b, 16), count: u32_at(b, 20), lower: f64_at(b, 24) }
    }
}

/// An n-gram's interpolated probability (for the order above) and its log10 in the
/// model's precision (for the ARPA file); sorted by key.
#[derive(Clone, Copy, Debug)]
pub struct ProbEntry {
    pub key: u128,
    pub prob: f64,
    pub log10: f32,
}

impl PartialEq for ProbEntry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for ProbEntry {}
impl PartialOrd for ProbEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ProbEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl Record for ProbEntry {
    const BYTES: usize = 28;
    fn encode(&self, out: &mut [u8]) {
        out[..16].copy_from_slice(&self.key.to_le_bytes());
        out[16..24].copy_from_slice(&self.prob.to_le_bytes());
        out[24..28].copy_from_slice(&self.log10.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        ProbEntry { key: u128_at(b, 0), prob: f64_at(b, 16), log10: f32_at(b, 24) }
    }
}

/// A context's log10 back-off weight; written in context order, which is the key order
/// of the level below.
#[derive(Clone, Copy, Debug)]
pub struct BackoffEntry {
    pub key: u128,
    pub log10: f32,
}

impl PartialEq for BackoffEntry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for BackoffEntry {}
impl PartialOrd for BackoffEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for BackoffEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl Record for BackoffEntry {
    const BYTES: usize = 20;
    fn encode(&self, out: &mut [u8]) {
        out[..16].copy_from_slice(&self.key.to_le_bytes());
        out[16..20].copy_from_slice(&self.log10.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        BackoffEntry { key: u128_at(b, 0), log10: f32_at(b, 16) }
    }
}
