//! The estimation pass shared by every smoother: orders 1..N in turn, each n-gram's
//! interpolated probability from its α, its context's γ and its suffix's probability
//! one order down, and each context's γ stored as its back-off weight.
//!
//! Level n is in suffix order (newest token first), so the suffix (c′ w) of each n-gram
//! is found by one pointer moving forward through level n−1. Contexts are not monotone
//! over the whole level, but within a block of equal newest token they are increasing,
//! so each context is found by a galloping search from the previous one.

use super::{ContextStats, Smoother};
use crate::error::{ElmanError, Result};
use crate::ngram::count::NgramCounts;
use crate::ngram::key::KeyLayout;
use crate::ngram::model::{LogValue, ModelInfo, ModelLevel, NgramModel};
use crate::ngram::tokenize::Tokenizer;
use crate::ngram::vocab::{Vocab, BOS};

/// Estimates a back-off model from `counts` with `smoother`.
pub fn estimate<W: LogValue>(
    counts: NgramCounts,
    vocab: Vocab,
    tokenizer: Tokenizer,
    smoother: &mut dyn Smoother,
) -> Result<NgramModel<W>> {
    let NgramCounts { order, layout, markers, levels: mut count_levels, .. } = counts;
    let bos_key = if markers { Some(BOS as u128) } else { None };
    let mut levels: Vec<ModelLevel<W>> = Vec::with_capacity(order);
    let mut lower_probs: Vec<f64> = Vec::new();
    for n in 1..=order {
        let level = std::mem::take(&mut count_levels[n - 1]);
        let counts = smoother.counts(&level);
        let keys = &level.keys;
        let mut predicted = keys.iter().zip(counts).filter(|(k, _)| Some(**k) != bos_key).map(|(_, &c)| c);
        smoother.prepare_order(n, &mut predicted)?;
        let probs = if n == 1 {
            unigram_probs(keys, counts, bos_key, smoother)
        } else {
            let lower = levels.last_mut().expect("order n-1 was estimated before order n");
            higher_order_probs(n, layout, keys, counts, lower, &lower_probs, smoother)?
        };
        let log10_prob = probs.iter().map(|&p| W::from_f64(p.log10())).collect();
        let log10_backoff = if n < order { vec![W::from_f64(0.0); keys.len()] } else { Vec::new() };
        levels.push(ModelLevel { keys: level.keys, log10_prob, log10_backoff });
        lower_probs = probs;
    }
    let info = ModelInfo { tokenizer, markers, smoothing: smoother.describe() };
    Ok(NgramModel { vocab, layout, info, levels })
}

/// p_1(w) = α(w) + γ · 1/|V|; `<s>` gets 0.
fn unigram_probs(keys: &[u128], counts: &[u32], bos_key: Option<u128>, smoother: &dyn Smoother) -> Vec<f64> {
    let mut stats = ContextStats::default();
    let mut vocab_size = 0usize;
    for (key, &c) in keys.iter().zip(counts) {
        if Some(*key) != bos_key {
            stats.add(c);
            vocab_size += 1;
        }
    }
    let gamma = smoother.gamma(1, &stats);
    let uniform = 1.0 / vocab_size as f64;
    keys.iter()
        .zip(counts)
        .map(|(key, &c)| if Some(*key) == bos_key { 0.0 } else { smoother.alpha(1, c, &stats) + gamma * uniform })
        .collect()
}

/// Probabilities of order n ≥ 2; writes γ of every context into `lower.log10_backoff`.
fn higher_order_probs<W: LogValue>(
    n: usize,
    layout: KeyLayout,
    keys: &[u128],
    counts: &[u32],
    lower: &mut ModelLevel<W>,
    lower_probs: &[f64],
    smoother: &dyn Smoother,
) -> Result<Vec<f64>> {
    let contexts = context_indices(n, layout, keys, &lower.keys)?;
    let mut stats = vec![ContextStats::default(); lower.keys.len()];
    for (&ctx, &c) in contexts.iter().zip(counts) {
        stats[ctx as usize].add(c);
    }
    let gammas: Vec<f64> = stats.iter().map(|s| if s.is_context() { smoother.gamma(n, s) } else { 0.0 }).collect();
    for (j, s) in stats.iter().enumerate() {
        if s.is_context() {
            lower.log10_backoff[j] = W::from_f64(gammas[j].log10());
        }
    }
    let mut probs = Vec::with_capacity(keys.len());
    let mut suffix_at = 0usize;
    for (i, &key) in keys.iter().enumerate() {
        let suffix = layout.suffix(key);
        while suffix_at < lower.keys.len() && lower.keys[suffix_at] < suffix {
            suffix_at += 1;
        }
        if lower.keys.get(suffix_at) != Some(&suffix) {
            return Err(missing(n, "suffix"));
        }
        let ctx = contexts[i] as usize;
        probs.push(smoother.alpha(n, counts[i], &stats[ctx]) + gammas[ctx] * lower_probs[suffix_at]);
    }
    Ok(probs)
}

/// For each n-gram, the index of its context among the (n−1)-grams.
fn context_indices(n: usize, layout: KeyLayout, keys: &[u128], lower: &[u128]) -> Result<Vec<u32>> {
    let mut out = Vec::with_capacity(keys.len());
    let mut block_word = u32::MAX;
    let mut from = 0usize;
    for &key in keys {
        let word = layout.last(key, n);
        if word != block_word {
            block_word = word;
            from = 0;
        }
        let ctx = layout.context(key, n);
        let at = gallop(lower, from, ctx).ok_or_else(|| missing(n, "context"))?;
        out.push(at as u32);
        from = at + 1;
    }
    Ok(out)
}

/// Index of `target` in sorted `keys[from..]`, searching 1, 2, 4, … steps ahead first.
fn gallop(keys: &[u128], from: usize, target: u128) -> Option<usize> {
    let mut lo = from;
    let mut step = 1usize;
    let mut hi = from;
    while hi < keys.len() && keys[hi] < target {
        lo = hi + 1;
        hi = from + step;
        step *= 2;
    }
    let hi = hi.min(keys.len());
    let at = lo + keys[lo..hi.max(lo)].partition_point(|&k| k < target);
    (keys.get(at) == Some(&target)).then_some(at)
}

fn missing(n: usize, what: &str) -> ElmanError {
    ElmanError::Ngram(format!("internal: the {what} of a {n}-gram is missing from order {}", n - 1))
}

#[cfg(test)]
mod tests {
    use super::gallop;

    #[test]
    fn gallop_finds_present_keys_and_rejects_absent_ones() {
        let keys: Vec<u128> = (0..100).map(|i| i * 3).collect();
        for from in [0, 5, 40] {
            for target in (from as u128 * 3)..300 {
                let want = (target % 3 == 0).then_some(target as usize / 3);
                assert_eq!(gallop(&keys, from, target), want, "from {from} target {target}");
            }
        }
    }
}
