//! Additive (add-k) smoothing, Laplace when k = 1, in a form an ARPA file can hold:
//!
//! ```text
//! p_n(w | c) = (count(c w) + k·|V|·p_{n−1}(w | c′)) / (Σ_v count(c v) + k·|V|)
//! α = count(c w) / (total + k|V|),   γ = k|V| / (total + k|V|)
//! ```
//!
//! At the unigram level p_0 = 1/|V|, so p_1(w) = (count(w) + k) / (N + k|V|): textbook
//! add-k. Above it the k pseudo-counts are spread over the vocabulary by the next lower
//! order instead of uniformly — textbook add-k whenever the lower order is uniform, and
//! unlike textbook add-k it can be written as an ARPA back-off model (uniform spreading
//! would need all |V| continuations of every seen context in the file).

use super::{OrderCounts, ContextStats, CountKind, Smoother};
use crate::error::{ElmanError, Result};

/// Add-k with pseudo-count `k` per vocabulary entry.
#[derive(Clone, Copy, Debug)]
pub struct AddK {
    k: f64,
    vocab_size: f64,
}

impl AddK {
    pub fn new(k: f64) -> Self {
        AddK { k, vocab_size: 0.0 }
    }

    /// Refuses k ≤ 0 or non-finite k.
    pub fn validate(k: f64) -> Result<()> {
        if !(k.is_finite() && k > 0.0) {
            return Err(ElmanError::Setting { key: "k", problem: format!("must be a positive number (got {k})") });
        }
        Ok(())
    }
}

impl Smoother for AddK {
    fn describe(&self) -> String {
        format!("add-k k={}", self.k)
    }

    fn count_kind(&self) -> CountKind {
        CountKind::Raw
    }

    fn prepare_order(&mut self, n: usize, counts: &OrderCounts) -> Result<()> {
        if n == 1 {
            self.vocab_size = counts.ngrams as f64;
        }
        Ok(())
    }

    fn alpha(&self, _n: usize, count: u32, stats: &ContextStats) -> f64 {
        count as f64 / (stats.total as f64 + self.k * self.vocab_size)
    }

    fn gamma(&self, _n: usize, stats: &ContextStats) -> f64 {
        let pseudo = self.k * self.vocab_size;
        pseudo / (stats.total as f64 + pseudo)
    }
}
