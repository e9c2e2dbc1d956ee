//! The estimation pass shared by every smoother: orders 1..N in turn, each n-gram's
//! interpolated probability from its α, its context's γ and its suffix's probability
//! one order down, and each context's γ stored as its back-off weight.
//!
//! Level n is in suffix order (newest token first), so the suffix (c′ w) of each n-gram
//! is found by one pointer moving forward through level n−1. Contexts are not monotone
//! in that order, so the n-grams are sorted once more by context (on all cores, the
//! context key and the n-gram's index packed into one `u128` when they fit); the groups
//! of equal context then meet level n−1 in its own order, again with one moving pointer.

use super::{ContextStats, CountKind, OrderCounts, Smoother};
use crate::error::{ElmanError, Result};
use crate::ngram::count::{CountLevel, NgramCounts};
use crate::ngram::key::KeyLayout;
use crate::ngram::model::{LogValue, ModelInfo, ModelLevel, NgramModel};
use crate::ngram::tokenize::NgramTokenizer;
use crate::ngram::vocab::{NgramVocab, BOS, EOS};
use rayon::slice::ParallelSliceMut;

/// Count pruning as lmplz's `--prune` and `--limit_vocab_file` do it: an n-gram of order
/// n ≥ 2 seen at most `thresholds[n − 1]` times goes, and so does every n-gram (unigrams
/// too) holding a word that `keep_word` (by id) refuses; `<unk>`, `<s>` and `</s>` always
/// stay. The discounts still count every n-gram; a pruned one's mass goes to its
/// context's γ (see [`super::kneser_ney`]). Thresholds must not decrease with the order,
/// so that the context and the suffix of a kept n-gram are kept.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prune {
    /// Per order, index n − 1 (the unigrams' is 0).
    pub thresholds: Vec<u64>,
    pub keep_word: Option<Vec<bool>>,
}

impl Prune {
    /// Which n-grams of `level` (order n) go; empty when none do.
    fn marks(&self, level: &CountLevel, layout: KeyLayout, n: usize) -> Vec<bool> {
        let threshold = if n >= 2 { self.thresholds.get(n - 1).copied().unwrap_or(0) } else { 0 };
        if threshold == 0 && self.keep_word.is_none() {
            return Vec::new();
        }
        let mut ids = Vec::with_capacity(n);
        level
            .keys
            .iter()
            .zip(&level.raw)
            .map(|(&key, &raw)| {
                let refused = self.keep_word.as_ref().is_some_and(|keep| {
                    layout.unpack(key, n, &mut ids);
                    ids.iter().any(|&id| id > EOS && !keep.get(id as usize).copied().unwrap_or(false))
                });
                (threshold > 0 && (raw as u64) <= threshold) || refused
            })
            .collect()
    }
}

/// Estimates a back-off model from `counts` with `smoother`, pruned by `prune` if given.
pub fn estimate<W: LogValue>(
    counts: NgramCounts,
    vocab: NgramVocab,
    tokenizer: NgramTokenizer,
    smoother: &mut dyn Smoother,
    prune: Option<&Prune>,
) -> Result<NgramModel<W>> {
    let NgramCounts { order, layout, markers, levels: mut count_levels, .. } = counts;
    let kind = smoother.count_kind();
    if prune.is_some() && kind != CountKind::Adjusted {
        return Err(ElmanError::Ngram("pruning needs Kneser-Ney smoothing (only its γ takes the pruned mass)".into()));
    }
    // (adjusted, raw) of each order's greatest key, for lmplz's counts-of-counts.
    let last_counts: Vec<Option<(u32, u32)>> = count_levels.iter().map(|l| l.adjusted.last().copied().zip(l.raw.last().copied())).collect();
    let marks: Vec<Vec<bool>> = match prune {
        Some(prune) => count_levels.iter().enumerate().map(|(i, level)| prune.marks(level, layout, i + 1)).collect(),
        None => vec![Vec::new(); order],
    };
    for level in &mut count_levels {
        kind.drop_other(level);
    }
    let bos_key = if markers { Some(BOS as u128) } else { None };
    let mut levels: Vec<ModelLevel<W>> = Vec::with_capacity(order);
    let mut lower_probs: Vec<f64> = Vec::new();
    for n in 1..=order {
        let mut level = std::mem::take(&mut count_levels[n - 1]);
        let counts = kind.of(&level);
        // `<s>` is never predicted (only the unigram key can be `<s>`'s: above, a key of the
        // same value is another n-gram, e.g. the bigram `<s> <unk>`).
        let predicted = level.keys.iter().zip(counts).filter(|(k, _)| n > 1 || Some(**k) != bos_key).map(|(_, &c)| c);
        let mut summary = OrderCounts::of(predicted);
        if let (CountKind::Adjusted, true, Some((adjusted, raw))) = (kind, n < order, last_counts[n - 1]) {
            if n > 1 || level.keys.last() != bos_key.as_ref() {
                summary.count_last_as_lmplz(adjusted, raw);
            }
        }
        smoother.prepare_order(n, &summary)?;
        let probs = if n == 1 {
            unigram_probs(&level.keys, counts, bos_key, &marks[0], smoother)
        } else {
            let lower = levels.last_mut().expect("order n-1 was estimated before order n");
            higher_order_probs(n, layout, (&level.keys, counts, &marks[n - 1]), lower, &lower_probs, smoother)?
        };
        let log10_prob = probs.iter().map(|&p| W::from_f64(p.log10())).collect();
        let log10_backoff = if n < order { vec![W::from_f64(0.0); level.keys.len()] } else { Vec::new() };
        levels.push(ModelLevel { keys: std::mem::take(&mut level.keys), log10_prob, log10_backoff });
        drop(level);
        // The highest order's linear probabilities are not needed again.
        lower_probs = if n < order { probs } else { Vec::new() };
    }
    // The pruned n-grams go last: until now their suffixes and contexts were needed.
    for (level, marked) in levels.iter_mut().zip(&marks) {
        if !marked.is_empty() {
            level.drop_marked(marked);
        }
    }
    let info = ModelInfo { tokenizer, markers, smoothing: smoother.describe() };
    Ok(NgramModel { vocab, layout, info, levels })
}

/// p_1(w) = α(w) + γ · 1/|V|; `<s>` gets 0. |V| counts the kept unigrams (`marked`:
/// the pruned ones, empty when none are).
pub(crate) fn unigram_probs(keys: &[u128], counts: &[u32], bos_key: Option<u128>, marked: &[bool], smoother: &dyn Smoother) -> Vec<f64> {
    let mut stats = ContextStats::default();
    let mut vocab_size = 0usize;
    for (i, (key, &c)) in keys.iter().zip(counts).enumerate() {
        if Some(*key) != bos_key {
            if marked.get(i).copied().unwrap_or(false) {
                stats.add_pruned(c);
            } else {
                stats.add(c);
                vocab_size += 1;
            }
        }
    }
    let gamma = smoother.gamma(1, &stats);
    let uniform = 1.0 / vocab_size as f64;
    keys.iter()
        .zip(counts)
        .map(|(key, &c)| if Some(*key) == bos_key { 0.0 } else { smoother.alpha(1, c, &stats) + gamma * uniform })
        .collect()
}

/// Probabilities of order n ≥ 2 from its (keys, counts, pruned marks); writes γ of every
/// context into `lower.log10_backoff`.
fn higher_order_probs<W: LogValue>(
    n: usize,
    layout: KeyLayout,
    (keys, counts, marked): (&[u128], &[u32], &[bool]),
    lower: &mut ModelLevel<W>,
    lower_probs: &[f64],
    smoother: &dyn Smoother,
) -> Result<Vec<f64>> {
    let suffixes = suffix_indices(layout, keys, &lower.keys).ok_or_else(|| missing(n, "suffix"))?;
    let by_context = sorted_by_context(n, layout, keys);
    let mut probs = vec![0.0f64; keys.len()];
    let mut lower_at = 0usize;
    let mut group_start = 0usize;
    while group_start < by_context.len() {
        let (context, _) = by_context.get(group_start);
        let mut group_end = group_start;
        let mut stats = ContextStats::default();
        while group_end < by_context.len() && by_context.get(group_end).0 == context {
            let i = by_context.get(group_end).1;
            if marked.get(i).copied().unwrap_or(false) {
                stats.add_pruned(counts[i]);
            } else {
                stats.add(counts[i]);
            }
            group_end += 1;
        }
        while lower_at < lower.keys.len() && lower.keys[lower_at] < context {
            lower_at += 1;
        }
        if lower.keys.get(lower_at) != Some(&context) {
            return Err(missing(n, "context"));
        }
        let gamma = smoother.gamma(n, &stats);
        lower.log10_backoff[lower_at] = W::from_f64(gamma.log10());
        for g in group_start..group_end {
            let i = by_context.get(g).1;
            probs[i] = smoother.alpha(n, counts[i], &stats) + gamma * lower_probs[suffixes[i] as usize];
        }
        group_start = group_end;
    }
    Ok(probs)
}

/// For each n-gram, the index of its suffix among the (n−1)-grams (`None` if one is missing).
fn suffix_indices(layout: KeyLayout, keys: &[u128], lower: &[u128]) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(keys.len());
    let mut at = 0usize;
    for &key in keys {
        let suffix = layout.suffix(key);
        while at < lower.len() && lower[at] < suffix {
            at += 1;
        }
        if lower.get(at) != Some(&suffix) {
            return None;
        }
        out.push(at as u32);
    }
    Some(out)
}

/// The n-grams' (context key, index) pairs sorted by context.
enum ByContext {
    /// `context << index_bits | index` in one word.
    Packed { pairs: Vec<u128>, index_bits: u32 },
    /// Context and index side by side, when they do not fit in 128 bits together.
    Wide(Vec<(u128, u32)>),
}

impl ByContext {
    fn len(&self) -> usize {
        match self {
            ByContext::Packed { pairs, .. } => pairs.len(),
            ByContext::Wide(pairs) => pairs.len(),
        }
    }

    #[inline]
    fn get(&self, at: usize) -> (u128, usize) {
        match self {
            ByContext::Packed { pairs, index_bits } => {
                (pairs[at] >> index_bits, (pairs[at] & ((1u128 << index_bits) - 1)) as usize)
            }
            ByContext::Wide(pairs) => (pairs[at].0, pairs[at].1 as usize),
        }
    }
}

fn sorted_by_context(n: usize, layout: KeyLayout, keys: &[u128]) -> ByContext {
    let index_bits = (usize::BITS - keys.len().leading_zeros()).max(1);
    let context_bits = (n as u32 - 1) * layout.bits();
    if context_bits + index_bits <= 128 {
        let mut pairs: Vec<u128> =
            keys.iter().enumerate().map(|(i, &k)| (layout.context(k, n) << index_bits) | i as u128).collect();
        pairs.par_sort_unstable();
        ByContext::Packed { pairs, index_bits }
    } else {
        let mut pairs: Vec<(u128, u32)> = keys.iter().enumerate().map(|(i, &k)| (layout.context(k, n), i as u32)).collect();
        pairs.par_sort_unstable();
        ByContext::Wide(pairs)
    }
}

fn missing(n: usize, what: &str) -> ElmanError {
    ElmanError::Ngram(format!("internal: the {what} of a {n}-gram is missing from order {}", n - 1))
}
