//! Scoring by walking a reversed back-off trie, whatever its layout: the walks need only
//! an entry's probability, back-off and children ([`Levels`]), so the hashed layout
//! ([`super::trie`]) and the bit-packed one ([`super::compact`]) share them.
//!
//! A query for w after the context c_1 … c_k (c_k the newest) makes two walks down the
//! trie, each one step per order:
//!
//! ```text
//! walk 1:  w → (c_k, w) → (c_{k−1}, c_k, w) → …   the longest stored n-gram, m tokens of history
//! walk 2:  c_k → (c_{k−1}, c_k) → …                b(c_{k−j+1} … c_k) for every stored context
//! log10 P = log10 p(c_{k−m+1} … c_k w) + Σ_{j = k … m+1} log10 b(c_{k−j+1} … c_k)
//! ```
//!
//! The sum runs from the longest context down, in f64, exactly as
//! [`crate::ngram::model::NgramModel::score`] adds it, so both give the same bits. Blank
//! entries (log10 p NaN) are walked through but never matched; their back-off is 0, as for
//! a context the ARPA file does not hold.

use super::MAX_ORDER;
use crate::ngram::lm::Score;
use crate::ngram::vocab::UNK;
use std::cell::RefCell;
use std::ops::Range;

thread_local! {
    /// [`Levels::score_run`]'s buffers, kept per thread: scoring line after line then
    /// allocates nothing once the longest line has been seen.
    static RUN_BUFFERS: RefCell<(Vec<f32>, Vec<Walk>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// What [`Levels::prefetch_child`] loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefetch {
    /// The first thing a child lookup reads: a hash slot, or the start of a child range.
    Slot,
    /// What that first read names: the entry a hash slot points at, or the middle of a
    /// range searched by bisection.
    Entry,
}

/// A reversed trie's levels: level `l` holds the n-grams of order l + 1; level 0 is dense
/// over the vocabulary. Every accessor answers NaN, 0 or `None` for an index out of range,
/// so a damaged file gives wrong numbers at worst, never a panic.
pub trait Levels {
    /// The model's order N.
    fn order(&self) -> usize;

    /// Number of unigram entries (the vocabulary's size).
    fn unigrams(&self) -> usize;

    /// log10 p of entry `at` of level `level` (NaN when blank or absent).
    fn prob(&self, level: usize, at: usize) -> f32;

    /// log10 back-off of entry `at` of level `level` (0 at the highest order).
    fn backoff(&self, level: usize, at: usize) -> f32;

    /// The oldest token of entry `at` of level `level` ≥ 1.
    fn word(&self, level: usize, at: usize) -> Option<u32>;

    /// The entries of level `level + 1` that extend entry `parent` of level `level`.
    fn children(&self, level: usize, parent: usize) -> Option<Range<usize>>;

    /// Index in level `level + 1` of the entry that extends entry `parent` of level
    /// `level` by the older token `word`, among `parent`'s children `range`.
    fn child_in(&self, level: usize, parent: usize, range: Range<usize>, word: u32) -> Option<usize>;

    /// Starts loading what [`Levels::child_in`] will read for the same arguments.
    fn prefetch_child(&self, level: usize, parent: usize, range: Range<usize>, word: u32, stage: Prefetch);

    /// Starts loading what [`Levels::children`] will read for the same arguments, where
    /// that is not the parent's own entry (read already).
    fn prefetch_children(&self, _level: usize, _parent: usize) {}

    /// Index in level `level + 1` of the entry that extends entry `parent` of level
    /// `level` by the older token `word`.
    #[inline]
    fn child(&self, level: usize, parent: usize, word: u32) -> Option<usize> {
        let range = self.children(level, parent)?;
        self.child_in(level, parent, range, word)
    }

    /// Whether token `id` has a (non-blank) unigram.
    fn has_unigram(&self, id: u32) -> bool {
        (id as usize) < self.unigrams() && !self.prob(0, id as usize).is_nan()
    }

    /// log10 P(word | context) by the ARPA back-off rule (see the module's doc).
    fn score(&self, context: &[u32], word: u32) -> Score {
        let context = &context[context.len().saturating_sub(self.order().saturating_sub(1))..];
        let backoffs = context_backoffs(self, context);
        score_after(self, context, word, &backoffs)
    }

    /// Scores `tokens[from..]`, each after the N − 1 tokens before it. Walk 1 for a word
    /// passes through the very entries whose back-offs the next token's context needs, so
    /// walk 2 runs only for the first token (and after a token the unigrams lack).
    ///
    /// The tokens' walks 1 are independent of each other, so they run together, one order
    /// at a time: every walk's next entry is prefetched, then looked up, so that the cache
    /// misses of one order overlap instead of following one another. The scores are those
    /// of [`Levels::score`] token by token, to the bit.
    fn score_run(&self, tokens: &[u32], from: usize, out: &mut Vec<Score>) {
        out.clear();
        let history = self.order().saturating_sub(1);
        // Walk i's back-offs for the next token's context: next[i·stride + j], j < N.
        let stride = self.order();
        let count = tokens.len().saturating_sub(from);
        // This thread's buffers from its last run (none if a run is under way on it).
        let (mut next, mut walks) = RUN_BUFFERS.with(|buffers| buffers.try_borrow_mut().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default());
        next.clear();
        next.resize(count * stride, 0.0);
        walks.clear();
        walks.extend((from..tokens.len()).zip(next.chunks_exact_mut(stride)).map(|(t, next)| walk_start(self, tokens[t], t.min(history).min(MAX_ORDER - 1), next)));
        for m in 1..=history.min(MAX_ORDER - 1) {
            // Each walk's child range, found once, then its entries prefetched in two waves.
            for walk in walks.iter() {
                if walk.alive && m <= walk.k {
                    self.prefetch_children(m - 1, walk.at);
                }
            }
            for walk in walks.iter_mut() {
                if walk.alive && m <= walk.k {
                    match self.children(m - 1, walk.at) {
                        Some(range) => walk.range = range,
                        None => walk.alive = false,
                    }
                }
            }
            for stage in [Prefetch::Slot, Prefetch::Entry] {
                for (walk, t) in walks.iter().zip(from..) {
                    if walk.alive && m <= walk.k {
                        self.prefetch_child(m - 1, walk.at, walk.range.clone(), tokens[t - m], stage);
                    }
                }
            }
            for ((walk, t), next) in walks.iter_mut().zip(from..).zip(next.chunks_exact_mut(stride)) {
                if walk.alive && m <= walk.k {
                    let range = walk.range.clone();
                    walk_step(self, walk, m, tokens[t - m], range, next);
                }
            }
        }
        // The walk whose back-offs are this token's context's, if the last one gave them.
        let mut carried: Option<usize> = None;
        for (i, (walk, t)) in walks.iter().zip(from..).enumerate() {
            out.push(match carried {
                Some(j) => walk.score(&next[j * stride..(j + 1) * stride], walks[j].next_len),
                None => {
                    let backoffs = context_backoffs(self, &tokens[t.saturating_sub(history)..t]);
                    walk.score(&backoffs.weights, backoffs.len)
                }
            });
            carried = walk.own.then_some(i);
        }
        RUN_BUFFERS.with(|buffers| {
            if let Ok(mut b) = buffers.try_borrow_mut() {
                *b = (next, walks);
            }
        });
    }

    /// log10 b(context) of a stored context (0 otherwise; blanks hold 0).
    fn log10_backoff(&self, context: &[u32]) -> f64 {
        let m = context.len();
        if m == 0 || m >= self.order() {
            return 0.0;
        }
        let found = context_backoffs(self, context);
        if found.len == m {
            found.weights[m] as f64
        } else {
            0.0
        }
    }

    /// Calls `visit(ids, log10 p)` for every non-blank entry (ids oldest first): a walk
    /// down from every unigram through its child ranges.
    fn for_each_ngram(&self, visit: &mut dyn FnMut(&[u32], f32)) {
        let mut newest_first = Vec::with_capacity(self.order());
        let mut ids = Vec::with_capacity(self.order());
        for id in 0..self.unigrams() {
            newest_first.push(id as u32);
            visit_from(self, 0, id, &mut newest_first, &mut ids, visit);
            newest_first.pop();
        }
    }
}

fn visit_from<L: Levels + ?Sized>(levels: &L, level: usize, at: usize, newest_first: &mut Vec<u32>, ids: &mut Vec<u32>, visit: &mut dyn FnMut(&[u32], f32)) {
    let p = levels.prob(level, at);
    if !p.is_nan() {
        ids.clear();
        ids.extend(newest_first.iter().rev());
        visit(ids, p);
    }
    if level + 1 >= levels.order() {
        return;
    }
    let Some(children) = levels.children(level, at) else { return };
    for child in children {
        let Some(word) = levels.word(level + 1, child) else { return };
        // Opening checks offsets, not tokens: a token past the vocabulary (a hostile
        // file's) is skipped, as no text can reach it.
        if word as usize >= levels.unigrams() {
            continue;
        }
        newest_first.push(word);
        visit_from(levels, level + 1, child, newest_first, ids, visit);
        newest_first.pop();
    }
}

/// Walk 2: the back-offs of the stored suffixes of `context` (at most N − 1 tokens).
fn context_backoffs<L: Levels + ?Sized>(levels: &L, context: &[u32]) -> Backoffs {
    let mut found = Backoffs::default();
    let k = context.len().min(MAX_ORDER - 1);
    if levels.order() < 2 {
        return found;
    }
    let Some(&newest) = context.last().filter(|&&id| (id as usize) < levels.unigrams()) else { return found };
    found.weights[1] = levels.backoff(0, newest as usize);
    found.len = 1;
    let mut at = newest as usize;
    for j in 2..=k {
        match levels.child(j - 2, at, context[k - j]) {
            Some(next) => {
                at = next;
                found.weights[j] = levels.backoff(j - 1, at);
                found.len = j;
            }
            None => break,
        }
    }
    found
}

/// Walk 1 for `word` after `context` (at most N − 1 tokens) whose suffixes' back-offs
/// are `backoffs`.
fn score_after<L: Levels + ?Sized>(levels: &L, context: &[u32], word: u32, backoffs: &Backoffs) -> Score {
    let k = context.len().min(MAX_ORDER - 1);
    let context = &context[context.len() - k..];
    let mut next = [0.0f32; MAX_ORDER];
    let mut walk = walk_start(levels, word, k, &mut next);
    for m in 1..=k {
        if !walk.alive {
            break;
        }
        match levels.children(m - 1, walk.at) {
            Some(range) => walk_step(levels, &mut walk, m, context[k - m], range, &mut next),
            None => walk.alive = false,
        }
    }
    walk.score(&backoffs.weights, backoffs.len)
}

/// Walk 1 at its first entry: `word`'s unigram (`<unk>`'s for a word the unigrams
/// lack), with `k` tokens of history to go; `next[1]` gets the entry's back-off.
fn walk_start<L: Levels + ?Sized>(levels: &L, word: u32, k: usize, next: &mut [f32]) -> Walk {
    let own = levels.has_unigram(word);
    let word = if own { word } else { UNK };
    let found = levels.has_unigram(word);
    let mut walk = Walk { at: word as usize, range: 0..0, k, found, alive: found, own: own && found, best: f32::NAN, best_m: 0, next_len: 0 };
    if found {
        walk.best = levels.prob(0, walk.at);
        if levels.order() > 1 {
            next[1] = levels.backoff(0, walk.at);
            walk.next_len = 1;
        }
    }
    walk
}

/// Walk 1's step to order m + 1: the entry extending the current one by the older
/// token `older`, among the current one's children `range` (the walk ends where there is
/// none); `next[m + 1]` gets its back-off.
#[inline]
fn walk_step<L: Levels + ?Sized>(levels: &L, walk: &mut Walk, m: usize, older: u32, range: Range<usize>, next: &mut [f32]) {
    match levels.child_in(m - 1, walk.at, range, older) {
        Some(found) => {
            walk.at = found;
            let p = levels.prob(m, found);
            if !p.is_nan() {
                (walk.best, walk.best_m) = (p, m);
            }
            if m + 1 < levels.order() {
                next[m + 1] = levels.backoff(m, found);
                walk.next_len = m + 1;
            }
        }
        None => walk.alive = false,
    }
}

/// One token's walk 1 in progress: the entry reached, the history still to walk, the
/// longest n-gram matched so far, and the back-offs found for the next token's context.
#[derive(Clone, Debug)]
struct Walk {
    at: usize,
    /// The children of `at` (in [`Levels::score_run`], found before they are prefetched).
    range: Range<usize>,
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
