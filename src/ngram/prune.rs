//! Entropy-based pruning of a back-off model (Stolcke 1998, what SRILM's `ngram -prune`
//! does): drop each explicit n-gram whose removal raises the model's perplexity by less
//! than a relative threshold θ, then renormalize the back-off weights.
//!
//! For a context h with explicit words E(h), back-off weight α(h) and lower-order context
//! h′ (h without its oldest token):
//!
//! ```text
//! num(h) = 1 − Σ_{w∈E(h)} P(w | h)        den(h) = 1 − Σ_{w∈E(h)} P(w | h′)        α(h) = num / den
//! removing (h, w):  α′(h) = (num + P(w | h)) / (den + P(w | h′))
//! ΔH(h, w) = −P(h) · [ P(w | h) · (ln P(w | h′) + ln α′(h) − ln P(w | h)) + num(h) · (ln α′(h) − ln α(h)) ]
//! prune when exp(ΔH) − 1 < θ
//! ```
//!
//! ΔH is the relative entropy between the model with and without the n-gram, in nats;
//! P(h) is the chain-rule probability of h under the model (`<s>` first: probability 1).
//! Every ΔH is computed on the unpruned model, order by order from the highest down, and
//! an n-gram that is the context of a kept longer one is kept (ARPA needs every context).
//! Unigrams are never pruned. Last, the back-off weight of every context the pruning
//! touched — one that lost an explicit word, or whose lower-order probabilities changed —
//! is recomputed as num / den, from order 1 up, so the model sums to one again.

use super::key::{KeyLayout, SortedKeys};
use super::model::{ModelLevel, NgramModel};
use super::vocab::{BOS, UNK};
use crate::error::{ElmanError, Result};
use rayon::prelude::*;

/// What pruning removed: n-grams per order before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PruneReport {
    pub before: Vec<usize>,
    pub after: Vec<usize>,
}

/// log10 P(w | context) in `model` by the back-off rule ([`NgramModel::score`]), the
/// context packed as a key of `len` tokens (oldest in the low bits).
fn log10_p(model: &NgramModel<f32>, context: u128, len: usize, word: u32) -> f64 {
    let mut ids = Vec::with_capacity(len);
    model.layout.unpack(context, len, &mut ids);
    model.score(&ids, word).log10
}

/// log10 P(h) of the context h (`len` tokens) by the chain rule; a leading `<s>` has
/// probability 1.
fn log10_context(model: &NgramModel<f32>, context: u128, len: usize) -> f64 {
    let layout = model.layout;
    let token = |i: usize| ((context >> (i as u32 * layout.bits())) & layout.mask(1)) as u32;
    let mut sum = 0.0;
    for i in 0..len {
        if i == 0 && token(0) == BOS {
            continue;
        }
        sum += log10_p(model, context & layout.mask(i), i, token(i));
    }
    sum
}

/// Indices of `level` (order n) grouped by context: (context key, indices) in key order.
fn groups_by_context(level: &ModelLevel<f32>, layout: KeyLayout, n: usize) -> Vec<(u128, Vec<u32>)> {
    let mut order: Vec<u32> = (0..level.keys.len() as u32).collect();
    order.sort_unstable_by_key(|&i| (layout.context(level.keys[i as usize], n), i));
    let mut groups: Vec<(u128, Vec<u32>)> = Vec::new();
    for i in order {
        let context = layout.context(level.keys[i as usize], n);
        match groups.last_mut() {
            Some((last, members)) if *last == context => members.push(i),
            _ => groups.push((context, vec![i])),
        }
    }
    groups
}

/// num(h) and den(h) of the context h (`n − 1` tokens) over its explicit words `members`
/// of order n, in `model`: 1 − Σ P(w | h) and 1 − Σ P(w | h′).
fn mass_left(model: &NgramModel<f32>, n: usize, context: u128, members: &[u32]) -> (f64, f64) {
    let level = &model.levels[n - 1];
    let layout = model.layout;
    let (mut explicit, mut lower) = (0.0f64, 0.0f64);
    for &i in members {
        let key = level.keys[i as usize];
        explicit += 10f64.powf(level.log10_prob[i as usize] as f64);
        lower += 10f64.powf(log10_p(model, layout.suffix(context), n - 2, layout.last(key, n)));
    }
    (1.0 - explicit, 1.0 - lower)
}

/// `model` pruned at relative perplexity threshold `threshold` (θ > 0), and what it
/// removed.
pub fn prune_entropy(model: &NgramModel<f32>, threshold: f64) -> Result<(NgramModel<f32>, PruneReport)> {
    if !(threshold.is_finite() && threshold >= 0.0) {
        return Err(ElmanError::Ngram(format!("the pruning threshold must be a finite number ≥ 0, not {threshold}")));
    }
    if model.levels[0].find(UNK as u128).is_none() {
        return Err(ElmanError::Ngram("the model has no <unk> unigram to prune against".into()));
    }
    let order = model.order();
    let layout = model.layout;
    let before = model.ngram_counts();
    let mut out = model.clone();
    // Pruned keys per order (index n − 1), sorted.
    let mut pruned: Vec<Vec<u128>> = vec![Vec::new(); order];
    for n in (2..=order).rev() {
        // Contexts of the kept (n+1)-grams must stay.
        let mut needed: Vec<u128> = out.levels.get(n).map_or_else(Vec::new, |above| above.keys.iter().map(|&k| layout.context(k, n + 1)).collect());
        needed.sort_unstable();
        needed.dedup();
        let level = &model.levels[n - 1];
        let groups = groups_by_context(level, layout, n);
        let drop: Vec<u32> = groups
            .par_iter()
            .flat_map_iter(|(context, members)| {
                let (num, den) = mass_left(model, n, *context, members);
                let mut dropped = Vec::new();
                if num > 0.0 && den > 0.0 {
                    let p_context = 10f64.powf(log10_context(model, *context, n - 1));
                    let alpha = num / den;
                    for &i in members {
                        let key = level.keys[i as usize];
                        if needed.binary_search(&key).is_ok() {
                            continue;
                        }
                        let p = 10f64.powf(level.log10_prob[i as usize] as f64);
                        let q = 10f64.powf(log10_p(model, layout.suffix(*context), n - 2, layout.last(key, n)));
                        let alpha_after = (num + p) / (den + q);
                        // An n-gram of probability 0, or in a context of probability 0,
                        // changes nothing: ΔH = 0 (the formula would give 0 · ∞).
                        let delta = if p == 0.0 || p_context == 0.0 {
                            0.0
                        } else {
                            -p_context * (p * (q.ln() + alpha_after.ln() - p.ln()) + num * (alpha_after.ln() - alpha.ln()))
                        };
                        if delta.exp_m1() < threshold {
                            dropped.push(i);
                        }
                    }
                }
                dropped
            })
            .collect();
        let mut gone = vec![false; level.keys.len()];
        for &i in &drop {
            gone[i as usize] = true;
        }
        pruned[n - 1] = level.keys.iter().zip(&gone).filter(|(_, &g)| g).map(|(&k, _)| k).collect();
        out.levels[n - 1].drop_marked(&gone);
    }
    renormalize(&mut out, &pruned);
    let after = out.ngram_counts();
    Ok((out, PruneReport { before, after }))
}

/// Recomputes α(h) = num / den for every context the pruning touched, from order 1 up:
/// h lost an explicit word, or a shorter suffix of one of its n-grams went, or a shorter
/// suffix of h was recomputed.
fn renormalize(model: &mut NgramModel<f32>, pruned: &[Vec<u128>]) {
    let layout = model.layout;
    let order = model.order();
    // Recomputed contexts per order (index k − 1), sorted.
    let mut touched: Vec<Vec<u128>> = vec![Vec::new(); order];
    for k in 1..order {
        let n = k + 1;
        let groups = groups_by_context(&model.levels[n - 1], layout, n);
        let mut lost: Vec<u128> = pruned[n - 1].iter().map(|&key| layout.context(key, n)).collect();
        lost.sort_unstable();
        lost.dedup();
        let children: std::collections::HashMap<u128, &[u32]> = groups.iter().map(|(c, m)| (*c, m.as_slice())).collect();
        let level = &model.levels[k - 1];
        let above = &model.levels[n - 1].keys;
        let bits = layout.bits();
        let updates: Vec<(usize, Option<f32>)> = (0..level.keys.len())
            .into_par_iter()
            .filter_map(|at| {
                let context = level.keys[at];
                let members: &[u32] = children.get(&context).copied().unwrap_or(&[]);
                // Any shorter suffix of h recomputed, or any shorter suffix of (h, w) pruned,
                // changes P(w | h′) (a suffix the model does not store passes the change on).
                let lower_changed = (1..k).any(|j| touched[k - 1 - j].binary_search(&(context >> (j as u32 * bits))).is_ok());
                let suffix_gone =
                    members.iter().any(|&i| (1..n).any(|j| pruned[n - 1 - j].binary_search(&(above[i as usize] >> (j as u32 * bits))).is_ok()));
                if !(lost.binary_search(&context).is_ok() || lower_changed || suffix_gone) {
                    return None;
                }
                let (num, den) = mass_left(model, n, context, members);
                let alpha = if members.is_empty() { 1.0 } else { num / den };
                Some((at, (alpha.is_finite() && alpha > 0.0).then(|| alpha.log10() as f32)))
            })
            .collect();
        let level = &mut model.levels[k - 1];
        for &(at, log10) in &updates {
            if let Some(log10) = log10 {
                level.log10_backoff[at] = log10;
            }
        }
        touched[k - 1] = updates.iter().map(|&(at, _)| level.keys[at]).collect();
    }
}
