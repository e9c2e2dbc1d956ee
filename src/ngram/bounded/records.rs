//! The records the bounded pipeline keeps on disk between its passes, each with its sort
//! order (keys in [`crate::ngram::key`]'s suffix order unless it says otherwise). Keys are
//! written in the bytes their order needs ([`super::external::key_bytes`]).

use super::external::{f32_at, f64_at, get_key, put_key, u32_at, Record, Sorted};
use crate::error::Result;
use std::cmp::Ordering;

/// A token id of the tokenized text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenId(pub u32);

impl Record for TokenId {
    fn size(_key_bytes: usize) -> usize {
        4
    }
    fn encode(&self, out: &mut [u8], _key_bytes: usize) {
        out[..4].copy_from_slice(&self.0.to_le_bytes());
    }
    fn decode(b: &[u8], _key_bytes: usize) -> Self {
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
    fn size(key_bytes: usize) -> usize {
        key_bytes + 4
    }
    fn encode(&self, out: &mut [u8], k: usize) {
        put_key(out, self.key, k);
        out[k..k + 4].copy_from_slice(&self.count.to_le_bytes());
    }
    fn decode(b: &[u8], k: usize) -> Self {
        KeyCount { key: get_key(b, k), count: u32_at(b, k) }
    }
}

/// Sums the counts of equal neighbours of a sorted run in place.
pub fn combine_counts(run: &mut Vec<KeyCount>) -> Result<()> {
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

/// A sorted (key, count) stream with equal keys (from different runs) summed.
pub struct Summed {
    sorted: Sorted<KeyCount>,
    next: Option<KeyCount>,
}

impl Summed {
    pub fn new(mut sorted: Sorted<KeyCount>) -> Result<Self> {
        let next = sorted.next_record()?;
        Ok(Summed { sorted, next })
    }

    /// The next key's first record (its count may be partial: use [`Summed::next_sum`]).
    pub fn peek(&self) -> Option<KeyCount> {
        self.next
    }

    /// The next key with its count summed over every run.
    pub fn next_sum(&mut self) -> Result<Option<KeyCount>> {
        let Some(mut current) = self.next else { return Ok(None) };
        loop {
            self.next = self.sorted.next_record()?;
            match self.next {
                Some(r) if r.key == current.key => current.count = crate::ngram::spill::add_counts(current.count, r.count)?,
                _ => return Ok(Some(current)),
            }
        }
    }
}

/// One n-gram of a level with its raw and adjusted counts (sorted by key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LevelEntry {
    pub key: u128,
    pub raw: u32,
    pub adjusted: u32,
}

impl Record for LevelEntry {
    fn size(key_bytes: usize) -> usize {
        key_bytes + 8
    }
    fn encode(&self, out: &mut [u8], k: usize) {
        put_key(out, self.key, k);
        out[k..k + 4].copy_from_slice(&self.raw.to_le_bytes());
        out[k + 4..k + 8].copy_from_slice(&self.adjusted.to_le_bytes());
    }
    fn decode(b: &[u8], k: usize) -> Self {
        LevelEntry { key: get_key(b, k), raw: u32_at(b, k), adjusted: u32_at(b, k + 4) }
    }
}

/// Implements equality and order on the fields `$($f),*` only.
macro_rules! order_by {
    ($t:ty, $($f:ident),*) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == Ordering::Equal
            }
        }
        impl Eq for $t {}
        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $t {
            fn cmp(&self, other: &Self) -> Ordering {
                ($(self.$f),*).cmp(&($(other.$f),*))
            }
        }
    };
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

order_by!(ContextEntry, context, word);

impl Record for ContextEntry {
    fn size(key_bytes: usize) -> usize {
        key_bytes + 16
    }
    fn encode(&self, out: &mut [u8], k: usize) {
        put_key(out, self.context, k);
        out[k..k + 4].copy_from_slice(&self.word.to_le_bytes());
        out[k + 4..k + 8].copy_from_slice(&self.count.to_le_bytes());
        out[k + 8..k + 16].copy_from_slice(&self.lower.to_le_bytes());
    }
    fn decode(b: &[u8], k: usize) -> Self {
        ContextEntry { context: get_key(b, k), word: u32_at(b, k), count: u32_at(b, k + 4), lower: f64_at(b, k + 8) }
    }
}

/// An n-gram's interpolated probability (sorted by key); the ARPA file gets its log10.
#[derive(Clone, Copy, Debug)]
pub struct ProbEntry {
    pub key: u128,
    pub prob: f64,
}

order_by!(ProbEntry, key);

impl Record for ProbEntry {
    fn size(key_bytes: usize) -> usize {
        key_bytes + 8
    }
    fn encode(&self, out: &mut [u8], k: usize) {
        put_key(out, self.key, k);
        out[k..k + 8].copy_from_slice(&self.prob.to_le_bytes());
    }
    fn decode(b: &[u8], k: usize) -> Self {
        ProbEntry { key: get_key(b, k), prob: f64_at(b, k) }
    }
}

/// A context's log10 back-off weight; written in context order, which is the key order
/// of the level below.
#[derive(Clone, Copy, Debug)]
pub struct BackoffEntry {
    pub key: u128,
    pub log10: f32,
}

order_by!(BackoffEntry, key);

impl Record for BackoffEntry {
    fn size(key_bytes: usize) -> usize {
        key_bytes + 4
    }
    fn encode(&self, out: &mut [u8], k: usize) {
        put_key(out, self.key, k);
        out[k..k + 4].copy_from_slice(&self.log10.to_le_bytes());
    }
    fn decode(b: &[u8], k: usize) -> Self {
        BackoffEntry { key: get_key(b, k), log10: f32_at(b, k) }
    }
}
