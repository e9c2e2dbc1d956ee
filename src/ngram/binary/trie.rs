//! The hashed layout of the reversed back-off trie: 16-byte entries below the highest
//! order, 8-byte leaves, and a hash table per order for the long child ranges. Built from
//! an in-memory model in one pass per order, and queried in place (from a memory map or
//! from the builder's vectors) by the walks of [`super::walk`].

use super::walk::{Levels, Prefetch};
use super::{prefetch, MAX_ORDER};
use crate::error::{ElmanError, Result};
use crate::ngram::key::SortedKeys;
use crate::ngram::model::NgramModel;
use std::borrow::Cow;
use std::ops::Range;

/// An entry below the highest order: its oldest token, log10 p (NaN: blank), log10
/// back-off, and where its children start in the next order (they end where the next
/// entry's start; each order below the highest ends with a sentinel entry holding only
/// the child count). One entry is 16 bytes, so a lookup's search, probability, back-off
/// and child range share a cache line.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Node {
    pub word: u32,
    pub prob: f32,
    pub backoff: f32,
    pub child: u32,
}

/// An entry of the highest order: its oldest token and log10 p.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Leaf {
    pub word: u32,
    pub prob: f32,
}

/// Something a child range can be searched in by oldest token.
trait Entry {
    fn word(&self) -> u32;
}

impl Entry for Node {
    fn word(&self) -> u32 {
        self.word
    }
}

impl Entry for Leaf {
    fn word(&self) -> u32 {
        self.word
    }
}

/// A trie of order N: `inner[n − 1]` holds the n-grams of order n < N (order 1 dense:
/// entry i is token i), each with its sentinel; `top` the highest order (for N = 1 the
/// unigrams, dense).
#[derive(Clone, Debug, Default)]
pub struct Trie<'a> {
    pub inner: Vec<&'a [Node]>,
    pub top: &'a [Leaf],
    /// `tables[n − 2]`: the hash table of order n's entries in long child ranges.
    pub tables: Vec<&'a [u32]>,
}

/// Child ranges up to this long are scanned (one or two cache lines); longer ones are
/// found through the order's hash table, one probe instead of a chain of dependent misses.
pub const SCAN_LIMIT: usize = 8;

/// The slot where the entry extending `parent` by `word` starts its probe, in a table of
/// `slots` slots (multiply-shift of a multiplicative hash, no power of two needed).
#[inline]
pub fn child_slot(parent: usize, word: u32, slots: usize) -> usize {
    let key = ((parent as u64) << 32 | word as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((key as u128 * slots as u128) >> 64) as usize
}

impl Levels for Trie<'_> {
    fn order(&self) -> usize {
        self.inner.len() + 1
    }

    fn unigrams(&self) -> usize {
        self.inner.first().map_or(self.top.len(), |nodes| nodes.len().saturating_sub(1))
    }

    #[inline]
    fn prob(&self, level: usize, at: usize) -> f32 {
        match self.inner.get(level) {
            Some(nodes) => nodes.get(at).map_or(f32::NAN, |n| n.prob),
            None => self.top.get(at).map_or(f32::NAN, |l| l.prob),
        }
    }

    #[inline]
    fn backoff(&self, level: usize, at: usize) -> f32 {
        self.inner.get(level).and_then(|nodes| nodes.get(at)).map_or(0.0, |n| n.backoff)
    }

    fn word(&self, level: usize, at: usize) -> Option<u32> {
        match self.inner.get(level) {
            Some(nodes) => nodes.get(at).map(|n| n.word),
            None => self.top.get(at).map(|l| l.word),
        }
    }

    #[inline]
    fn children(&self, level: usize, parent: usize) -> Option<Range<usize>> {
        let nodes = self.inner.get(level)?;
        Some(nodes.get(parent)?.child as usize..nodes.get(parent + 1)?.child as usize)
    }

    /// A scan of a short child range, or probes of the order's hash table for a long one.
    #[inline]
    fn child_in(&self, level: usize, parent: usize, range: Range<usize>, word: u32) -> Option<usize> {
        let (start, end) = (range.start, range.end);
        let table = if end.saturating_sub(start) > SCAN_LIMIT { self.tables.get(level).copied() } else { None };
        fn search<E: Entry>(entries: &[E], start: usize, end: usize, word: u32, table: Option<&[u32]>, parent: usize) -> Option<usize> {
            let Some(table) = table else {
                let range = entries.get(start..end)?;
                return range.iter().position(|e| e.word() == word).map(|at| start + at);
            };
            let mut slot = child_slot(parent, word, table.len());
            for _ in 0..table.len() {
                let held = *table.get(slot)? as usize;
                if held == 0 {
                    return None;
                }
                let at = held - 1;
                if (start..end).contains(&at) && entries.get(at)?.word() == word {
                    return Some(at);
                }
                slot = if slot + 1 == table.len() { 0 } else { slot + 1 };
            }
            None
        }
        match self.inner.get(level + 1) {
            Some(next) => search(next, start, end, word, table, parent),
            None => search(self.top, start, end, word, table, parent),
        }
    }

    /// Loads the start of a short child range; for a long one, its hash slot
    /// ([`Prefetch::Slot`]), then (the slot read) the entry the slot names
    /// ([`Prefetch::Entry`]).
    #[inline]
    fn prefetch_child(&self, level: usize, parent: usize, range: Range<usize>, word: u32, stage: Prefetch) {
        let (start, end) = (range.start, range.end);
        let entry = |at: usize| match self.inner.get(level + 1) {
            Some(next) => prefetch(next.as_ptr().wrapping_add(at)),
            None => prefetch(self.top.as_ptr().wrapping_add(at)),
        };
        match (self.tables.get(level), stage) {
            (Some(table), _) if end.saturating_sub(start) > SCAN_LIMIT && !table.is_empty() => {
                let slot = child_slot(parent, word, table.len());
                match stage {
                    Prefetch::Slot => prefetch(table.as_ptr().wrapping_add(slot)),
                    Prefetch::Entry => {
                        if let Some(&held) = table.get(slot).filter(|&&held| held != 0) {
                            // The entry, and the one after it, whose child field ends the
                            // entry's own child range (the next order's lookup reads it).
                            entry(held as usize - 1);
                            entry(held as usize);
                        }
                    }
                }
            }
            (_, Prefetch::Slot) => {
                entry(start);
                entry(end);
            }
            (_, Prefetch::Entry) => {}
        }
    }
}

/// A trie being built: the vectors [`Trie`] borrows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OwnedTrie {
    pub inner: Vec<Vec<Node>>,
    pub top: Vec<Leaf>,
    pub tables: Vec<Vec<u32>>,
}

impl OwnedTrie {
    pub fn view(&self) -> Trie<'_> {
        Trie { inner: self.inner.iter().map(Vec::as_slice).collect(), top: &self.top, tables: self.tables.iter().map(Vec::as_slice).collect() }
    }
}

/// An order's n-grams with blanks added for missing suffixes of the order above.
struct Closed<'m> {
    keys: Cow<'m, [u128]>,
    probs: Cow<'m, [f32]>,
    backoffs: Cow<'m, [f32]>,
}

/// Adds blank entries to `level` for the keys of `suffixes` (sorted, may repeat) it lacks.
fn close_level<'m>(level: Closed<'m>, suffixes: impl Iterator<Item = u128>) -> Closed<'m> {
    let mut missing: Vec<u128> = Vec::new();
    let mut at = 0;
    for suffix in suffixes {
        while at < level.keys.len() && level.keys[at] < suffix {
            at += 1;
        }
        let present = at < level.keys.len() && level.keys[at] == suffix;
        if !present && missing.last() != Some(&suffix) {
            missing.push(suffix);
        }
    }
    if missing.is_empty() {
        return level;
    }
    let len = level.keys.len() + missing.len();
    let (mut keys, mut probs, mut backoffs) = (Vec::with_capacity(len), Vec::with_capacity(len), Vec::with_capacity(len));
    let (mut i, mut j) = (0, 0);
    while i < level.keys.len() || j < missing.len() {
        if j == missing.len() || (i < level.keys.len() && level.keys[i] < missing[j]) {
            keys.push(level.keys[i]);
            probs.push(level.probs[i]);
            backoffs.push(level.backoffs.get(i).copied().unwrap_or(0.0));
            i += 1;
        } else {
            keys.push(missing[j]);
            probs.push(f32::NAN);
            backoffs.push(0.0);
            j += 1;
        }
    }
    Closed { keys: keys.into(), probs: probs.into(), backoffs: backoffs.into() }
}

/// The trie of `model`: order 1 dense over the vocabulary, orders ≥ 2 in the model's
/// suffix order with blanks for missing suffixes, child ranges from one merge per order.
pub fn build(model: &NgramModel<f32>) -> Result<OwnedTrie> {
    let (levels, top) = build_levels(model)?;
    let tables = (1..levels.len() + 1)
        .map(|n| child_table(&levels[n - 1], |at| levels.get(n).map_or_else(|| top.get(at).map_or(0, |l| l.word), |next| next[at].word)))
        .collect();
    Ok(OwnedTrie { inner: levels, top, tables })
}

/// The entries of [`build`]'s trie without its hash tables: the orders below the highest,
/// each with its sentinel, and the highest.
pub fn build_levels(model: &NgramModel<f32>) -> Result<(Vec<Vec<Node>>, Vec<Leaf>)> {
    let order = model.order();
    let vocab = model.vocab.len();
    if order > MAX_ORDER {
        return Err(ElmanError::Ngram(format!("order {order} is above the binary format's limit of {MAX_ORDER}")));
    }
    if model.levels.iter().any(|l| l.len() >= u32::MAX as usize) || vocab >= u32::MAX as usize {
        return Err(ElmanError::Ngram("a level with 2^32 n-grams or more does not fit the binary format".into()));
    }
    let layout = model.layout;
    // Orders ≥ 2, closed under suffixes from the top down.
    let mut closed: Vec<Closed> = model.levels[1..]
        .iter()
        .map(|l| Closed { keys: Cow::Borrowed(&l.keys), probs: Cow::Borrowed(&l.log10_prob), backoffs: Cow::Borrowed(&l.log10_backoff) })
        .collect();
    for upper in (1..closed.len()).rev() {
        let (lower, above) = closed.split_at_mut(upper);
        let empty = Closed { keys: Cow::Borrowed(&[]), probs: Cow::Borrowed(&[]), backoffs: Cow::Borrowed(&[]) };
        let level = std::mem::replace(&mut lower[upper - 1], empty);
        lower[upper - 1] = close_level(level, above[0].keys.iter().map(|&k| layout.suffix(k)));
    }
    // Every order as (oldest token, log10 p, log10 back-off), and each entry's parent.
    let unigrams = &model.levels[0];
    let mut dense = vec![Node { prob: f32::NAN, ..Node::default() }; vocab];
    for (id, node) in dense.iter_mut().enumerate() {
        node.word = id as u32;
    }
    for (i, &key) in unigrams.keys.iter().enumerate() {
        let node = dense.get_mut(key as usize).ok_or_else(|| ElmanError::Ngram(format!("unigram id {key} is outside the vocabulary of {vocab}")))?;
        node.prob = unigrams.log10_prob[i];
        node.backoff = unigrams.log10_backoff.get(i).copied().unwrap_or(0.0);
    }
    let mut levels: Vec<Vec<Node>> = vec![dense];
    let mut child_counts: Vec<Vec<u32>> = Vec::with_capacity(order);
    for (index, level) in closed.iter().enumerate() {
        let n = index + 2;
        let parents: &[u128] = if n == 2 { &[] } else { &closed[index - 1].keys };
        let parent_len = levels[n - 2].len();
        let mut counts = vec![0u32; parent_len + 1];
        let mut nodes = Vec::with_capacity(level.keys.len());
        let mut at = 0usize;
        for (i, &key) in level.keys.iter().enumerate() {
            let suffix = layout.suffix(key);
            let parent = if n == 2 {
                suffix as usize
            } else {
                while at < parents.len() && parents[at] < suffix {
                    at += 1;
                }
                at
            };
            if parent >= parent_len || (n > 2 && parents[parent] != suffix) {
                return Err(ElmanError::Ngram(format!("a {n}-gram's suffix is missing after closing the trie (a bug)")));
            }
            counts[parent + 1] += 1;
            let backoff = level.backoffs.get(i).copied().unwrap_or(0.0);
            nodes.push(Node { word: (key & layout.mask(1)) as u32, prob: level.probs[i], backoff, child: 0 });
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        child_counts.push(counts);
        levels.push(nodes);
    }
    // Child starts, and a sentinel after each order below the highest.
    for (nodes, starts) in levels.iter_mut().zip(&child_counts) {
        for (node, &start) in nodes.iter_mut().zip(starts) {
            node.child = start;
        }
        nodes.push(Node { child: *starts.last().expect("len + 1 bounds"), ..Node::default() });
    }
    let top_nodes = levels.pop().expect("order ≥ 1");
    let top = top_nodes.iter().map(|n| Leaf { word: n.word, prob: n.prob }).collect();
    Ok((levels, top))
}

/// The hash table of the children of `parents` that sit in ranges longer than
/// [`SCAN_LIMIT`]: 1.5 slots per entry, slot = entry index + 1, linear probing.
fn child_table(parents: &[Node], word_of: impl Fn(usize) -> u32) -> Vec<u32> {
    let ranges = || parents.windows(2).enumerate().map(|(p, w)| (p, w[0].child as usize..w[1].child as usize));
    let long = || ranges().filter(|(_, r)| r.len() > SCAN_LIMIT);
    let entries: usize = long().map(|(_, r)| r.len()).sum();
    let mut table = vec![0u32; entries + entries / 2];
    for (parent, range) in long() {
        for at in range {
            let mut slot = child_slot(parent, word_of(at), table.len());
            while table[slot] != 0 {
                slot = if slot + 1 == table.len() { 0 } else { slot + 1 };
            }
            table[slot] = at as u32 + 1;
        }
    }
    table
}
