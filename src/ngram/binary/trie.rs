//! The reversed back-off trie: built from an in-memory model in one pass per order, and
//! queried in place (from a memory map or from the builder's vectors).
//!
//! A query for w after the context c_1 … c_k (c_k the newest) makes two walks down the
//! trie, each one step per order (a short child range scanned, a long one hashed):
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

use super::{prefetch, MAX_ORDER};
use crate::error::{ElmanError, Result};
use crate::ngram::key::SortedKeys;
use crate::ngram::lm::Score;
use crate::ngram::model::NgramModel;
use crate::ngram::vocab::UNK;
use std::borrow::Cow;

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

impl Trie<'_> {
    /// The model's order N.
    pub fn order(&self) -> usize {
        self.inner.len() + 1
    }

    /// log10 p of entry `at` of order `level + 1` (NaN when blank or absent).
    #[inline]
    fn prob(&self, level: usize, at: usize) -> f32 {
        match self.inner.get(level) {
            Some(nodes) => nodes.get(at).map_or(f32::NAN, |n| n.prob),
            None => self.top.get(at).map_or(f32::NAN, |l| l.prob),
        }
    }

    /// log10 back-off of entry `at` of order `level + 1` (0 at the highest order).
    #[inline]
    fn backoff(&self, level: usize, at: usize) -> f32 {
        self.inner.get(level).and_then(|nodes| nodes.get(at)).map_or(0.0, |n| n.backoff)
    }

    /// Number of unigram entries (the vocabulary's size; the sentinel not counted).
    fn unigrams(&self) -> usize {
        self.inner.first().map_or(self.top.len(), |nodes| nodes.len().saturating_sub(1))
    }

    /// Whether token `id` has a (non-blank) unigram.
    pub fn has_unigram(&self, id: u32) -> bool {
        (id as usize) < self.unigrams() && !self.prob(0, id as usize).is_nan()
    }

    /// Index in order `level + 2` of the entry that extends entry `parent` of order
    /// `level + 1` by the older token `word`.
    #[inline]
    fn child(&self, level: usize, parent: usize, word: u32) -> Option<usize> {
        let nodes = self.inner.get(level)?;
        let (start, end) = (nodes.get(parent)?.child as usize, nodes.get(parent + 1)?.child as usize);
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

    /// log10 P(word | context) by the ARPA back-off rule (see the module's doc).
    pub fn score(&self, context: &[u32], word: u32) -> Score {
        let context = &context[context.len().saturating_sub(self.order().saturating_sub(1))..];
        let backoffs = self.context_backoffs(context);
        self.score_after(context, word, &backoffs)
    }

    /// Scores `tokens[from..]`, each after the N − 1 tokens before it. Walk 1 for a word
    /// passes through the very entries whose back-offs the next token's context needs, so
    /// walk 2 runs only for the first token (and after a token the unigrams lack).
    ///
    /// The tokens' walks 1 are independent of each other, so they run together, one order
    /// at a time: every walk's next entry is prefetched, then looked up, so that the cache
    /// misses of one order overlap instead of following one another. The scores are those
    /// of [`Trie::score`] token by token, to the bit.
    pub fn score_run(&self, tokens: &[u32], from: usize, out: &mut Vec<Score>) {
        out.clear();
        let history = self.order().saturating_sub(1);
        // Walk i's back-offs for the next token's context: next[i·stride + j], j < N.
        let stride = self.order();
        let count = tokens.len().saturating_sub(from);
        let mut next = vec![0.0f32; count * stride];
        let mut walks: Vec<Walk> = (from..tokens.len())
            .zip(next.chunks_exact_mut(stride))
            .map(|(t, next)| self.walk_start(tokens[t], t.min(history).min(MAX_ORDER - 1), next))
            .collect();
        for m in 1..=history.min(MAX_ORDER - 1) {
            for stage in [Prefetch::Slot, Prefetch::Entry] {
                for (walk, t) in walks.iter().zip(from..) {
                    if walk.alive && m <= walk.k {
                        self.prefetch_child(m - 1, walk.at, tokens[t - m], stage);
                    }
                }
            }
            for ((walk, t), next) in walks.iter_mut().zip(from..).zip(next.chunks_exact_mut(stride)) {
                if walk.alive && m <= walk.k {
                    self.walk_step(walk, m, tokens[t - m], next);
                }
            }
        }
        // The walk whose back-offs are this token's context's, if the last one gave them.
        let mut carried: Option<usize> = None;
        for (i, (walk, t)) in walks.iter().zip(from..).enumerate() {
            out.push(match carried {
                Some(j) => walk.score(&next[j * stride..(j + 1) * stride], walks[j].next_len),
                None => {
                    let backoffs = self.context_backoffs(&tokens[t.saturating_sub(history)..t]);
                    walk.score(&backoffs.weights, backoffs.len)
                }
            });
            carried = walk.own.then_some(i);
        }
    }

    /// log10 b(context) of a stored context (0 otherwise; blanks hold 0).
    pub fn log10_backoff(&self, context: &[u32]) -> f64 {
        let m = context.len();
        if m == 0 || m >= self.order() {
            return 0.0;
        }
        let found = self.context_backoffs(context);
        if found.len == m {
            found.weights[m] as f64
        } else {
            0.0
        }
    }

    /// Calls `visit(ids, log10 p)` for every non-blank entry (ids oldest first): a walk
    /// down from every unigram through its child ranges.
    pub fn for_each_ngram(&self, visit: &mut dyn FnMut(&[u32], f32)) {
        let mut newest_first = Vec::with_capacity(self.order());
        let mut ids = Vec::with_capacity(self.order());
        for id in 0..self.unigrams() {
            newest_first.push(id as u32);
            self.visit_from(0, id, &mut newest_first, &mut ids, visit);
            newest_first.pop();
        }
    }

    fn visit_from(&self, level: usize, at: usize, newest_first: &mut Vec<u32>, ids: &mut Vec<u32>, visit: &mut dyn FnMut(&[u32], f32)) {
        let p = self.prob(level, at);
        if !p.is_nan() {
            ids.clear();
            ids.extend(newest_first.iter().rev());
            visit(ids, p);
        }
        let Some(nodes) = self.inner.get(level) else { return };
        let (Some(start), Some(end)) = (nodes.get(at).map(|n| n.child as usize), nodes.get(at + 1).map(|n| n.child as usize)) else { return };
        for child in start..end {
            let word = match self.inner.get(level + 1) {
                Some(next) => next.get(child).map(|n| n.word),
                None => self.top.get(child).map(|l| l.word),
            };
            let Some(word) = word else { return };
            newest_first.push(word);
            self.visit_from(level + 1, child, newest_first, ids, visit);
            newest_first.pop();
        }
    }

    /// Walk 2: the back-offs of the stored suffixes of `context` (at most N − 1 tokens).
    fn context_backoffs(&self, context: &[u32]) -> Backoffs {
        let mut found = Backoffs::default();
        let k = context.len().min(MAX_ORDER - 1);
        let Some(&newest) = context.last().filter(|&&id| (id as usize) < self.unigrams()) else { return found };
        let Some(b) = self.inner.first().and_then(|nodes| nodes.get(newest as usize)).map(|n| n.backoff) else { return found };
        found.weights[1] = b;
        found.len = 1;
        let mut at = newest as usize;
        for j in 2..=k {
            match self.child(j - 2, at, context[k - j]) {
                Some(next) => {
                    at = next;
                    found.weights[j] = self.backoff(j - 1, at);
                    found.len = j;
                }
                None => break,
            }
        }
        found
    }

    /// Walk 1 for `word` after `context` (at most N − 1 tokens) whose suffixes' back-offs
    /// are `backoffs`.
    fn score_after(&self, context: &[u32], word: u32, backoffs: &Backoffs) -> Score {
        let k = context.len().min(MAX_ORDER - 1);
        let context = &context[context.len() - k..];
        let mut next = [0.0f32; MAX_ORDER];
        let mut walk = self.walk_start(word, k, &mut next);
        for m in 1..=k {
            if !walk.alive {
                break;
            }
            self.walk_step(&mut walk, m, context[k - m], &mut next);
        }
        walk.score(&backoffs.weights, backoffs.len)
    }

    /// Walk 1 at its first entry: `word`'s unigram (`<unk>`'s for a word the unigrams
    /// lack), with `k` tokens of history to go; `next[1]` gets the entry's back-off.
    fn walk_start(&self, word: u32, k: usize, next: &mut [f32]) -> Walk {
        let own = self.has_unigram(word);
        let word = if own { word } else { UNK };
        let found = self.has_unigram(word);
        let mut walk = Walk { at: word as usize, k, found, alive: found, own: own && found, best: f32::NAN, best_m: 0, next_len: 0 };
        if found {
            walk.best = self.prob(0, walk.at);
            if self.order() > 1 {
                next[1] = self.backoff(0, walk.at);
                walk.next_len = 1;
            }
        }
        walk
    }

    /// Walk 1's step to order m + 1: the entry extending the current one by the older
    /// token `older` (the walk ends where there is none); `next[m + 1]` gets its back-off.
    #[inline]
    fn walk_step(&self, walk: &mut Walk, m: usize, older: u32, next: &mut [f32]) {
        match self.child(m - 1, walk.at, older) {
            Some(found) => {
                walk.at = found;
                let p = self.prob(m, found);
                if !p.is_nan() {
                    (walk.best, walk.best_m) = (p, m);
                }
                if m + 1 < self.order() {
                    next[m + 1] = self.backoff(m, found);
                    walk.next_len = m + 1;
                }
            }
            None => walk.alive = false,
        }
    }

    /// Starts loading what [`Trie::child`] will read for the same arguments: the start of
    /// a short child range; for a long one, its hash slot ([`Prefetch::Slot`]), then (the
    /// slot read) the entry the slot names ([`Prefetch::Entry`]).
    #[inline]
    fn prefetch_child(&self, level: usize, parent: usize, word: u32, stage: Prefetch) {
        let Some(nodes) = self.inner.get(level) else { return };
        let (Some(start), Some(end)) = (nodes.get(parent), nodes.get(parent + 1)) else { return };
        let (start, end) = (start.child as usize, end.child as usize);
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

/// What [`Trie::prefetch_child`] loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prefetch {
    /// The hash slot of a long child range, or the start of a short one.
    Slot,
    /// The entry a long range's hash slot names.
    Entry,
}

/// One token's walk 1 in progress: the entry reached, the history still to walk, the
/// longest n-gram matched so far, and the back-offs found for the next token's context.
#[derive(Clone, Copy, Debug)]
struct Walk {
    at: usize,
    /// Tokens of history the walk may use.
    k: usize,
    /// Whether the word, or `<unk>` in its place, has a unigram (a model without `<unk>`
    /// gives an unknown word probability 0).
    found: bool,
    /// Whether the walk can go on (a child was found at every step so far).
    alive: bool,
    /// Whether the word has its own unigram (its walk then gives the next token's
    /// context back-offs).
    own: bool,
    /// log10 p of the longest stored n-gram so far, and its history length.
    best: f32,
    best_m: usize,
    /// How many back-offs the walk found for the next token's context (1 ..= next_len,
    /// kept by the caller).
    next_len: usize,
}

impl Walk {
    /// log10 P by the back-off rule, given the back-offs of the context's suffixes
    /// (`weights[j]`, j = 1 ..= len).
    fn score(&self, weights: &[f32], len: usize) -> Score {
        if !self.found {
            return Score { log10: f64::NEG_INFINITY, length: 0 };
        }
        let mut backoff = 0.0f64;
        for j in (self.best_m + 1..=len).rev() {
            backoff += weights[j] as f64;
        }
        Score { log10: self.best as f64 + backoff, length: self.best_m + 1 }
    }
}

/// The log10 back-off weights of a context's stored suffixes: `weights[j]` for the newest
/// j tokens, j = 1 ..= len (a suffix the model does not hold ends the list).
#[derive(Clone, Copy, Debug)]
struct Backoffs {
    weights: [f32; MAX_ORDER],
    len: usize,
}

impl Default for Backoffs {
    fn default() -> Self {
        Backoffs { weights: [0.0; MAX_ORDER], len: 0 }
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
    let tables = (1..order).map(|n| child_table(&levels[n - 1], |at| levels.get(n).map_or(top_nodes[at].word, |next| next[at].word))).collect();
    let top = top_nodes.iter().map(|n| Leaf { word: n.word, prob: n.prob }).collect();
    Ok(OwnedTrie { inner: levels, top, tables })
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
