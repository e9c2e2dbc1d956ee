//! Drawing text from a model by walking the back-off chain: at each step only the explicit
//! successors of the longest matching context are looked at, with the model's own
//! probabilities, and the back-off mass sends the draw to the next shorter context, where
//! the words already covered are excluded. Exactly the model's distribution (normalised
//! over the vocabulary, `<s>` never drawn), at a cost independent of |V|.
//!
//! With P(w | c) the model's score, S(c) the words stored after context c, c′ = c without
//! its oldest token and b(c) its back-off weight, the mass of c is
//!
//! ```text
//! M(c) = Σ_w P(w | c) = E(c) + b(c)·(M(c′) − X(c)),   E(c) = Σ_{w∈S(c)} P(w | c),
//!                                                       X(c) = Σ_{w∈S(c)} P(w | c′)
//! ```
//!
//! (M(∅) = Σ over the unigrams). A draw from c picks an explicit successor with
//! probability E(c)/M(c), in proportion to P(w | c); otherwise it draws from c′ and rejects
//! words in S(c), so a word outside S(c) comes out with probability
//! b(c)·P(w | c′)/M(c) = P(w | c)/M(c). After 64 rejections in a row (a context whose
//! successors cover nearly all of c′'s mass) it draws from the exact restricted
//! distribution over the whole vocabulary instead. M, E, X are precomputed in f64 when the
//! sampler is built (one score per stored n-gram). The project's seeded RNG makes a seed
//! always give the same text.

use super::key::KeyLayout;
use super::lm::LanguageModel;
use super::model::exp10;
use super::tokenize::NgramTokenizer;
use super::vocab::{BOS, EOS};
use crate::error::{ElmanError, Result};
use crate::rng::Rng;
use rayon::prelude::*;

/// Rejections in a row before a draw falls back to the exact restricted distribution.
const MAX_REJECTIONS: usize = 64;

/// The stored successors of every context of one length, grouped by context.
#[derive(Default)]
struct ContextTable {
    /// Packed contexts, sorted.
    contexts: Vec<u128>,
    /// Successors of context i are entries starts[i]..starts[i + 1].
    starts: Vec<u32>,
    /// Successor ids, ascending within a context.
    words: Vec<u32>,
    /// Running Σ P(w | c) within a context (the last is E(c)).
    cumulative: Vec<f64>,
    /// M(c) per context.
    mass: Vec<f64>,
}

impl ContextTable {
    fn find(&self, key: u128) -> Option<usize> {
        self.contexts.binary_search(&key).ok()
    }

    fn successors(&self, i: usize) -> std::ops::Range<usize> {
        self.starts[i] as usize..self.starts[i + 1] as usize
    }
}

/// A model prepared for sampling by its back-off chain.
pub struct BackoffSampler<'m> {
    model: &'m dyn LanguageModel,
    layout: KeyLayout,
    /// `tables[m]`: contexts of m tokens (tables[0] holds the empty context: the unigrams).
    tables: Vec<ContextTable>,
}

impl<'m> BackoffSampler<'m> {
    /// Groups the model's n-grams by context and computes every context's mass.
    pub fn new(model: &'m dyn LanguageModel) -> Result<Self> {
        let order = model.order();
        let layout = KeyLayout::new(model.lexicon().size(), order)?;
        let mut grouped: Vec<Vec<(u128, u32, f64)>> = (0..order).map(|_| Vec::new()).collect();
        model.for_each_ngram(&mut |ids, log10| {
            let (context, word) = ids.split_at(ids.len() - 1);
            let p = exp10(log10 as f64);
            if word[0] != BOS && p > 0.0 {
                grouped[context.len()].push((layout.pack(context), word[0], p));
            }
        });
        let mut sampler = BackoffSampler { model, layout, tables: Vec::with_capacity(order) };
        for (m, mut entries) in grouped.into_iter().enumerate() {
            entries.sort_unstable_by_key(|e| (e.0, e.1));
            let mut table = ContextTable::default();
            for (i, &(context, word, p)) in entries.iter().enumerate() {
                let new_context = table.contexts.last() != Some(&context);
                if new_context {
                    table.contexts.push(context);
                    table.starts.push(i as u32);
                }
                let before = if new_context { 0.0 } else { *table.cumulative.last().expect("an entry of this context") };
                table.words.push(word);
                table.cumulative.push(before + p);
            }
            table.starts.push(entries.len() as u32);
            // M(c) = E(c) + b(c)·(M(c′) − X(c)), the shorter contexts' masses known already;
            // the contexts of one length on all cores.
            let masses: Vec<f64> = (0..table.contexts.len())
                .into_par_iter()
                .map(|i| {
                    let range = table.successors(i);
                    let explicit = table.cumulative[range.end - 1];
                    if m == 0 {
                        return explicit;
                    }
                    let mut ids = Vec::with_capacity(m);
                    layout.unpack(table.contexts[i], m, &mut ids);
                    let shorter = &ids[1..];
                    let covered: f64 = table.words[range].iter().map(|&w| exp10(model.score(shorter, w).log10)).sum();
                    explicit + exp10(model.log10_backoff(&ids)) * (sampler.mass(shorter) - covered).max(0.0)
                })
                .collect();
            table.mass = masses;
            sampler.tables.push(table);
        }
        if sampler.mass(&[]) <= 0.0 {
            return Err(ElmanError::Ngram("the model gives every token probability 0".into()));
        }
        Ok(sampler)
    }

    /// M(context): Σ_w P(w | context) (a context without successors of its own passes its
    /// shorter context's mass on, scaled by its back-off weight).
    fn mass(&self, context: &[u32]) -> f64 {
        match self.indexed(context) {
            Some(i) => self.tables[context.len()].mass[i],
            None if context.is_empty() => 0.0,
            None => exp10(self.model.log10_backoff(context)) * self.mass(&context[1..]),
        }
    }

    /// The index of `context` among the contexts with stored successors.
    fn indexed(&self, context: &[u32]) -> Option<usize> {
        self.tables.get(context.len())?.find(self.layout.pack(context))
    }

    /// One token drawn from P(· | context) (`context` oldest first; only its last N − 1
    /// tokens count).
    pub fn draw(&self, context: &[u32], rng: &mut Rng) -> u32 {
        let context = &context[context.len().saturating_sub(self.tables.len() - 1)..];
        self.draw_from(context, rng)
    }

    fn draw_from(&self, context: &[u32], rng: &mut Rng) -> u32 {
        let Some(i) = self.indexed(context) else {
            // No successors of its own: P(· | c) ∝ P(· | c′).
            return self.draw_from(&context[1..], rng);
        };
        let table = &self.tables[context.len()];
        let range = table.successors(i);
        let cumulative = &table.cumulative[range.clone()];
        let target = rng.next_f64() * table.mass[i];
        let explicit = *cumulative.last().expect("a context with successors");
        if target < explicit || context.is_empty() {
            let at = cumulative.partition_point(|&c| c <= target).min(cumulative.len() - 1);
            return table.words[range.start + at];
        }
        let words = &table.words[range];
        for _ in 0..MAX_REJECTIONS {
            let w = self.draw_from(&context[1..], rng);
            if words.binary_search(&w).is_err() {
                return w;
            }
        }
        self.draw_exactly_outside(context, words, rng)
    }

    /// The rare fallback: P(w | context) over every token outside `excluded`, by scores.
    fn draw_exactly_outside(&self, context: &[u32], excluded: &[u32], rng: &mut Rng) -> u32 {
        let candidates: Vec<(u32, f64)> = (0..self.model.lexicon().size() as u32)
            .filter(|&w| w != BOS && excluded.binary_search(&w).is_err())
            .map(|w| (w, exp10(self.model.score(context, w).log10)))
            .collect();
        let total: f64 = candidates.iter().map(|c| c.1).sum();
        let mut target = rng.next_f64() * total;
        for &(w, p) in &candidates {
            if target < p {
                return w;
            }
            target -= p;
        }
        candidates.last().map_or(excluded[0], |c| c.0)
    }
}

/// Draws `len` tokens (with markers a `</s>` ends a sentence and counts as a token).
pub fn sample(model: &dyn LanguageModel, len: usize, seed: u64) -> Result<Vec<u32>> {
    sample_with(&BackoffSampler::new(model)?, model.info().markers, len, seed)
}

/// Draws `len` tokens with a prepared sampler.
pub fn sample_with(sampler: &BackoffSampler, markers: bool, len: usize, seed: u64) -> Result<Vec<u32>> {
    let mut rng = Rng::new(seed);
    let history = sampler.tables.len() - 1;
    let fresh = || if markers { vec![BOS] } else { Vec::new() };
    let mut context = fresh();
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let chosen = sampler.draw(&context[context.len().saturating_sub(history)..], &mut rng);
        out.push(chosen);
        if chosen == EOS && markers {
            context = fresh();
        } else {
            context.push(chosen);
            if context.len() > 4 * history.max(1) {
                context.drain(..context.len() - history);
            }
        }
    }
    Ok(out)
}

/// Renders sampled ids as text: words joined by spaces, chars concatenated, `</s>` as a
/// line break.
pub fn render<M: LanguageModel + ?Sized>(model: &M, ids: &[u32]) -> String {
    let mut text = String::new();
    let mut line_start = true;
    for &id in ids {
        if id == EOS {
            text.push('\n');
            line_start = true;
            continue;
        }
        if model.info().tokenizer == NgramTokenizer::Word && !line_start {
            text.push(' ');
        }
        text.push_str(model.lexicon().token(id));
        line_start = false;
    }
    text
}
