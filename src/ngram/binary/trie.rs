//! The reversed back-off trie: built from an in-memory model in one pass per order, and
//! queried in place (from a memory map or from the builder's vectors).
//!
//! A query for w after the context c_1 … c_k (c_k the newest) makes two walks down the
//! trie, each one binary search per order inside a child range:
//!
//! ```text
//! walk 1:  w → (c_k, w) → (c_{k−1}, c_k, w) → …   the longest stored n-gram, m tokens of history
//! walk 2:  c_k → (c_{k−1}, c_k) → …                b(c_{k−j+1} … c_k) for every stored context
//! log10 P = log10 p(c_{k−m+1} … c_k w) + Σ_{j = k … m+1} log10 b(c_{k−j+1} … c_k)
//! ```
//!
//! The sum runs from the longest context down, in f64, exactly as
//! [`NgramModel::score`] adds it, so both give the same bits. Blank entries (log10 p NaN)
//! are walked through but never matched; their back-off is 0, as for a context the ARPA
//! file does not hold.

use super::MAX_ORDER;
use crate::error::{ElmanError, Result};
use crate::ngram::key::SortedKeys;
use crate::ngram::lm::Score;
use crate::ngram::model::NgramModel;
use crate::ngram::vocab::UNK;
use std::borrow::Cow;

/// One order of the trie, borrowed.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrieLevel<'a> {
    /// The oldest token of each entry (empty at order 1, where entry i is token i).
    pub words: &'a [u32],
    /// log10 p; NaN marks a blank entry.
    pub probs: &'a [f32],
    /// log10 back-off weights (empty at the highest order).
    pub backoffs: &'a [f32],
    /// Child ranges into the next order, `len + 1` bounds (empty at the highest order).
    pub children: &'a [u32],
}

/// A trie of any order, `levels[n − 1]` holding the n-grams.
#[derive(Clone, Debug, Default)]
pub struct Trie<'a> {
    pub levels: Vec<TrieLevel<'a>>,
}

impl Trie<'_> {
    /// The model's order N.
    pub fn order(&self) -> usize {
        self.levels.len()
    }

    /// Whether token `id` has a (non-blank) unigram.
    pub fn has_unigram(&self, id: u32) -> bool {
        self.levels.first().and_then(|l| l.probs.get(id as usize)).is_some_and(|p| !p.is_nan())
    }

    /// Index in order `level + 2` of the entry that extends entry `parent` of order
    /// `level + 1` by the older token `word`.
    #[inline]
    fn child(&self, level: usize, parent: usize, word: u32) -> Option<usize> {
        let bounds = self.levels.get(level)?.children;
        let (start, end) = (*bounds.get(parent)? as usize, *bounds.get(parent + 1)? as usize);
        let words = self.levels.get(level + 1)?.words.get(start..end)?;
        words.binary_search(&word).ok().map(|at| start + at)
    }

    /// log10 P(word | context) by the ARPA back-off rule (see the module's doc).
    pub fn score(&self, context: &[u32], word: u32) -> Score {
        let order = self.order();
        let context = &context[context.len().saturating_sub(order.saturating_sub(1))..];
        let k = context.len().min(MAX_ORDER - 1);
        let word = if self.has_unigram(word) { word } else { UNK };
        if !self.has_unigram(word) {
            return Score { log10: f64::NEG_INFINITY, length: 0 };
        }
        let prob_at = |level: usize, at: usize| self.levels[level].probs.get(at).copied().unwrap_or(f32::NAN);
        // Walk 1: the longest stored (history, word).
        let (mut best, mut best_m) = (prob_at(0, word as usize), 0);
        let mut at = word as usize;
        for m in 1..=k {
            match self.child(m - 1, at, context[k - m]) {
                Some(next) => {
                    at = next;
                    let p = prob_at(m, at);
                    if !p.is_nan() {
                        (best, best_m) = (p, m);
                    }
                }
                None => break,
            }
        }
        // Walk 2: back-offs of the stored contexts, backoffs[j] for the newest j tokens.
        let mut backoffs = [0f32; MAX_ORDER];
        let mut found = 0;
        if k > best_m {
            let newest = context[k - 1] as usize;
            if let Some(&b) = self.levels[0].backoffs.get(newest) {
                backoffs[1] = b;
                found = 1;
                let mut at = newest;
                for j in 2..=k {
                    match self.child(j - 2, at, context[k - j]) {
                        Some(next) => {
                            at = next;
                            backoffs[j] = self.levels[j - 1].backoffs.get(at).copied().unwrap_or(0.0);
                            found = j;
                        }
                        None => break,
                    }
                }
            }
        }
        let mut backoff = 0.0f64;
        for j in (best_m + 1..=found).rev() {
            backoff += backoffs[j] as f64;
        }
        Score { log10: best as f64 + backoff, length: best_m + 1 }
    }
}

/// One order of a trie being built.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OwnedLevel {
    pub words: Vec<u32>,
    pub probs: Vec<f32>,
    pub backoffs: Vec<f32>,
    pub children: Vec<u32>,
}

impl OwnedLevel {
    pub fn view(&self) -> TrieLevel<'_> {
        TrieLevel { words: &self.words, probs: &self.probs, backoffs: &self.backoffs, children: &self.children }
    }
}

/// The trie of `levels`, borrowed.
pub fn view(levels: &[OwnedLevel]) -> Trie<'_> {
    Trie { levels: levels.iter().map(OwnedLevel::view).collect() }
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
pub fn build(model: &NgramModel<f32>) -> Result<Vec<OwnedLevel>> {
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
    let unigrams = &model.levels[0];
    let mut levels = Vec::with_capacity(order);
    let mut first = OwnedLevel { probs: vec![f32::NAN; vocab], ..OwnedLevel::default() };
    if order > 1 {
        first.backoffs = vec![0.0; vocab];
    }
    for (i, &key) in unigrams.keys.iter().enumerate() {
        let id = key as usize;
        if id >= vocab {
            return Err(ElmanError::Ngram(format!("unigram id {id} is outside the vocabulary of {vocab}")));
        }
        first.probs[id] = unigrams.log10_prob[i];
        if order > 1 {
            first.backoffs[id] = unigrams.log10_backoff.get(i).copied().unwrap_or(0.0);
        }
    }
    levels.push(first);
    for (index, level) in closed.iter().enumerate() {
        let n = index + 2;
        let parents: &[u128] = if n == 2 { &[] } else { &closed[index - 1].keys };
        let parent_len = levels[n - 2].probs.len();
        let mut counts = vec![0u32; parent_len + 1];
        let mut words = Vec::with_capacity(level.keys.len());
        let mut at = 0usize;
        for &key in level.keys.iter() {
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
            words.push((key & layout.mask(1)) as u32);
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        levels[n - 2].children = counts;
        let top = n == order;
        levels.push(OwnedLevel {
            words,
            probs: level.probs.to_vec(),
            backoffs: if top { Vec::new() } else { level.backoffs.to_vec() },
            children: Vec::new(),
        });
    }
    Ok(levels)
}
