//! Maximum likelihood: p(w | c) = count(c w) / Σ_v count(c v).
//!
//! γ = 0: a context that was seen gives unseen words probability 0 (its back-off weight
//! is log10 0, written `-99` in ARPA); a context never seen backs off to the shorter one.

use super::{ContextStats, CountKind, Smoother};

/// Unsmoothed relative frequencies.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mle;

impl Smoother for Mle {
    fn describe(&self) -> String {
        "mle".to_string()
    }

    fn count_kind(&self) -> CountKind {
        CountKind::Raw
    }

    fn alpha(&self, _n: usize, count: u32, stats: &ContextStats) -> f64 {
        count as f64 / stats.total as f64
    }

    fn gamma(&self, _n: usize, _stats: &ContextStats) -> f64 {
        0.0
    }
}
