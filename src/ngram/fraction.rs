//! The exact maximum-likelihood fraction count(c w) / Σ_v count(c v) straight from the
//! counts — the worked examples of docs/ngram.md, e.g. P(Jeffrey | is) = 1/2.

use super::count::NgramCounts;
use super::vocab::BOS;

/// One MLE probability as a fraction of counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fraction {
    /// count(c w).
    pub numerator: u64,
    /// Σ_v count(c v): how often the context c is followed by a token.
    pub denominator: u64,
    /// The context actually used (oldest first): the longest suffix of the one asked
    /// for, at most N − 1 tokens, that is followed by some token in the text.
    pub context: Vec<u32>,
}

impl Fraction {
    pub fn value(&self) -> f64 {
        self.numerator as f64 / self.denominator as f64
    }
}

/// The MLE fraction for `word` after `context` (oldest first); `None` when not even
/// the unigram distribution has mass (an empty text).
pub fn mle_fraction(counts: &NgramCounts, context: &[u32], word: u32) -> Option<Fraction> {
    let context = &context[context.len().saturating_sub(counts.order - 1)..];
    let layout = counts.layout;
    for start in 0..=context.len() {
        let hist = &context[start..];
        let n = hist.len() + 1;
        let level = &counts.levels[n - 1];
        let hist_key = layout.pack(hist);
        let mut denominator = 0u64;
        let mut numerator = 0u64;
        for (&key, &raw) in level.keys.iter().zip(&level.raw) {
            if n == 1 && key == BOS as u128 && counts.markers {
                continue;
            }
            if layout.context(key, n) == hist_key {
                denominator += raw as u64;
                if layout.last(key, n) == word {
                    numerator = raw as u64;
                }
            }
        }
        if denominator > 0 {
            return Some(Fraction { numerator, denominator, context: hist.to_vec() });
        }
    }
    None
}
