//! Interpolated modified Kneser-Ney (Chen & Goodman 1998), the way KenLM's `lmplz`
//! builds it.
//!
//! Counts. The highest order N uses raw counts. Below it, a(g) is the continuation
//! count N1+(• g) = |{v : count(v g) > 0}|, except that n-grams starting with `<s>`
//! (nothing can precede them) keep their raw count (see [`crate::ngram::count`]).
//!
//! Discounts, per order n, from the counts-of-counts t_k = |{g of order n : a(g) = k}|:
//!
//! ```text
//! Y = t_1 / (t_1 + 2 t_2)
//! D_k = k − (k + 1) · Y · t_{k+1} / t_k      for k = 1, 2, 3   (D_3 is used for a ≥ 3)
//! ```
//!
//! When some t_k is 0 or a D_k falls outside [0, k] (tiny or artificial text) the order
//! falls back to D = (0.5, 1, 1.5), KenLM's `--discount_fallback` default.
//!
//! Probabilities, for a context c with continuations w:
//!
//! ```text
//! α(c w) = (a(c w) − D(a(c w))) / Σ_v a(c v)
//! γ(c)   = (D_1 · N_1(c •) + D_2 · N_2(c •) + D_3 · N_3+(c •)) / Σ_v a(c v)
//! p(w | c) = α(c w) + γ(c) · p(w | c′),       p_0(w) = 1 / |V|
//! ```
//!
//! N_k(c •) counts the continuations of c with a = k (3+: a ≥ 3). With count pruning
//! (lmplz's `--prune`, [`super::Prune`]) a pruned continuation still counts in
//! Σ_v a(c v) but not in N_k; its whole a(c w) is added to γ's numerator instead, so the
//! mass it had goes to the lower order and the model still sums to one. The unigrams
//! interpolate with the uniform distribution over |V| (`<unk>` included, `<s>`
//! excluded), so `<unk>` gets γ/|V| when the text has none.

use super::{ContextStats, CountKind, OrderCounts, Smoother};
use crate::error::Result;

/// KenLM's fallback discounts for orders whose counts-of-counts cannot give them.
pub const FALLBACK_DISCOUNTS: [f64; 3] = [0.5, 1.0, 1.5];

/// Modified Kneser-Ney with per-order discounts D_1, D_2, D_3+.
#[derive(Clone, Debug, Default)]
pub struct KneserNey {
    /// `discounts[n - 1]` = [0, D_1, D_2, D_3+] for order n.
    discounts: Vec<[f64; 4]>,
    /// Orders (1-based) that used [`FALLBACK_DISCOUNTS`].
    fallback_orders: Vec<usize>,
}

impl KneserNey {
    /// The discounts [0, D_1, D_2, D_3+] of each order, after estimation.
    pub fn discounts(&self) -> &[[f64; 4]] {
        &self.discounts
    }

    /// Orders that fell back to the default discounts.
    pub fn fallback_orders(&self) -> &[usize] {
        &self.fallback_orders
    }

    /// Chen & Goodman's estimate from counts-of-counts t[1..=4]; `None` if out of range.
    pub fn discounts_from_counts_of_counts(t: [u64; 5]) -> Option<[f64; 4]> {
        if t[1..=3].contains(&0) {
            return None;
        }
        let y = t[1] as f64 / (t[1] as f64 + 2.0 * t[2] as f64);
        let mut d = [0.0; 4];
        for k in 1..=3 {
            d[k] = k as f64 - (k + 1) as f64 * y * t[k + 1] as f64 / t[k] as f64;
            if !(0.0..=k as f64).contains(&d[k]) {
                return None;
            }
        }
        Some(d)
    }

    #[inline]
    fn discount(&self, n: usize, count: u32) -> f64 {
        self.discounts[n - 1][(count as usize).min(3)]
    }
}

impl Smoother for KneserNey {
    fn describe(&self) -> String {
        "kn".to_string()
    }

    fn count_kind(&self) -> CountKind {
        CountKind::Adjusted
    }

    fn prepare_order(&mut self, n: usize, counts: &OrderCounts) -> Result<()> {
        let d = Self::discounts_from_counts_of_counts(counts.of_count).unwrap_or_else(|| {
            self.fallback_orders.push(n);
            [0.0, FALLBACK_DISCOUNTS[0], FALLBACK_DISCOUNTS[1], FALLBACK_DISCOUNTS[2]]
        });
        self.discounts.truncate(n - 1);
        self.discounts.push(d);
        Ok(())
    }

    fn alpha(&self, n: usize, count: u32, stats: &ContextStats) -> f64 {
        if count == 0 {
            return 0.0;
        }
        (count as f64 - self.discount(n, count)) / stats.total as f64
    }

    fn gamma(&self, n: usize, stats: &ContextStats) -> f64 {
        let d = &self.discounts[n - 1];
        (d[1] * stats.n1 as f64 + d[2] * stats.n2 as f64 + d[3] * stats.n3_plus as f64 + stats.pruned as f64) / stats.total as f64
    }

    fn discounts(&self) -> (Vec<[f64; 4]>, Vec<usize>) {
        (self.discounts.clone(), self.fallback_orders.clone())
    }
}
