//! Turning counts into a back-off model. Every method here has the interpolated form
//!
//! ```text
//! p_n(w | c) = α_n(c w) + γ_n(c) · p_{n−1}(w | c′),     p_0(w) = 1 / |V|
//! ```
//!
//! where c′ drops the oldest token of c, α comes from the count of (c w) and the
//! statistics of context c, and γ(c) is the mass left over, so Σ_w p_n(w | c) =
//! Σ_{w seen} α + γ = 1. The ARPA file stores p_n(c w) for every seen (c w) and
//! b(c) = γ_n(c) as the back-off weight of c: for an unseen (c w) the back-off rule
//! b(c) · p(w | c′) gives back exactly the interpolated value.
//!
//! |V| counts every predictable token: the unigrams without `<s>`, `<unk>` included.

mod addk;
mod estimate;
mod kneser_ney;
mod mle;

pub use addk::AddK;
pub use estimate::{estimate, Prune};
pub(crate) use estimate::unigram_probs;
pub use kneser_ney::KneserNey;
pub use mle::Mle;

use super::count::CountLevel;
use crate::error::Result;

/// Which of a [`CountLevel`]'s counts a smoother reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountKind {
    /// Occurrences in the text.
    Raw,
    /// Kneser-Ney adjusted (continuation) counts.
    Adjusted,
}

impl CountKind {
    /// The chosen counts of `level`.
    pub fn of(self, level: &CountLevel) -> &[u32] {
        match self {
            CountKind::Raw => &level.raw,
            CountKind::Adjusted => &level.adjusted,
        }
    }

    /// Frees the counts this kind does not read.
    pub fn drop_other(self, level: &mut CountLevel) {
        match self {
            CountKind::Raw => level.adjusted = Vec::new(),
            CountKind::Adjusted => level.raw = Vec::new(),
        }
    }
}

/// What a smoother sees of one context c at order n: the counts of its continuations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextStats {
    /// Σ_w count(c w).
    pub total: u64,
    /// Continuations with count 1, 2 and ≥ 3.
    pub n1: u32,
    pub n2: u32,
    pub n3_plus: u32,
    /// Σ count(c w) over the continuations pruned away (their mass goes to γ).
    pub pruned: u64,
}

impl ContextStats {
    /// A pruned continuation: in the total, and its whole count in `pruned`.
    #[inline]
    pub fn add_pruned(&mut self, count: u32) {
        self.total += count as u64;
        self.pruned += count as u64;
    }

    #[inline]
    pub fn add(&mut self, count: u32) {
        self.total += count as u64;
        match count {
            0 => {}
            1 => self.n1 += 1,
            2 => self.n2 += 1,
            _ => self.n3_plus += 1,
        }
    }

    /// True when c has at least one continuation.
    pub fn is_context(&self) -> bool {
        self.n1 + self.n2 + self.n3_plus > 0
    }
}

/// What a smoother learns of one order before estimating it: how many n-grams it has, and
/// how many have count 1, 2, 3 and 4 (`of_count[k]`; Kneser-Ney's counts-of-counts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderCounts {
    pub ngrams: u64,
    pub of_count: [u64; 5],
}

impl OrderCounts {
    #[inline]
    pub fn add(&mut self, count: u32) {
        self.ngrams += 1;
        if (1..=4).contains(&count) {
            self.of_count[count as usize] += 1;
        }
    }

    pub fn of(counts: impl Iterator<Item = u32>) -> OrderCounts {
        let mut out = OrderCounts::default();
        counts.for_each(|c| out.add(c));
        out
    }

    /// Counts one n-gram of the order with `raw` instead of `adjusted`: what lmplz does
    /// for an order below the highest with its last n-gram in suffix order (the greatest
    /// key). Its adjust_counts flushes the n-grams still open at the end of its stream
    /// with the occurrence count it tracks for pruning, not the continuation count, so
    /// that one n-gram enters the counts-of-counts with its raw count. Doing the same keeps
    /// the discounts, and so every probability, equal to lmplz's.
    pub fn count_last_as_lmplz(&mut self, adjusted: u32, raw: u32) {
        if (1..=4).contains(&adjusted) {
            self.of_count[adjusted as usize] -= 1;
        }
        if (1..=4).contains(&raw) {
            self.of_count[raw as usize] += 1;
        }
    }
}

/// One smoothing method: which counts it reads, α and γ.
pub trait Smoother {
    /// Name for reports and the ARPA header, e.g. `kn` or `add-k k=0.5`.
    fn describe(&self) -> String;

    /// Which counts this method reads.
    fn count_kind(&self) -> CountKind;

    /// Called once per order n (1-based) before any α or γ of that order, with the
    /// summary of the counts of every n-gram of the order (the unigram `<s>` excluded).
    fn prepare_order(&mut self, _n: usize, _counts: &OrderCounts) -> Result<()> {
        Ok(())
    }

    /// α_n(c w) for an n-gram with `count` in a context with `stats`.
    fn alpha(&self, n: usize, count: u32, stats: &ContextStats) -> f64;

    /// γ_n(c): the interpolation weight of the lower order.
    fn gamma(&self, n: usize, stats: &ContextStats) -> f64;

    /// For the report, after estimation: the discounts [0, D1, D2, D3+] per order and the
    /// orders that fell back to defaults (empty for methods without discounts).
    fn discounts(&self) -> (Vec<[f64; 4]>, Vec<usize>) {
        (Vec::new(), Vec::new())
    }
}

/// The smoothing methods on offer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Smoothing {
    Mle,
    AddK,
    Kn,
}

impl crate::choice::Choice for Smoothing {
    const WHAT: &'static str = "smoothing";
    const TABLE: &'static [(Self, &'static str, &'static str)] = &[
        (Smoothing::Mle, "mle", "Maximum likelihood: count / context count, zero for unseen n-grams"),
        (Smoothing::AddK, "add-k", "Add k to every count (Laplace when k = 1)"),
        (Smoothing::Kn, "kn", "Interpolated modified Kneser-Ney (Chen & Goodman 1998), as KenLM's lmplz"),
    ];
}

impl Smoothing {
    /// A boxed smoother; `k` is used by add-k only.
    pub fn smoother(self, k: f64) -> Box<dyn Smoother> {
        match self {
            Smoothing::Mle => Box::new(Mle),
            Smoothing::AddK => Box::new(AddK::new(k)),
            Smoothing::Kn => Box::new(KneserNey::default()),
        }
    }
}
