//! A back-off n-gram model as an ARPA file holds it, and scoring with it.
//!
//! Each order keeps its n-grams as sorted packed keys (suffix order, see [`super::key`])
//! with log10 p(w | c) — interpolation already folded in — and, below the highest
//! order, the log10 back-off weight b(c w) (0 when the n-gram is no context). A query
//! takes the longest n-gram the model holds:
//!
//! ```text
//! log10 P(w | c_1 … c_k) = log10 p(c_1 … c_k w)                       if stored
//!                        = log10 b(c_1 … c_k) + log10 P(w | c_2 … c_k)  otherwise
//! ```
//!
//! with b = 1 (log 0) for a context the model does not hold, and a word the unigrams do
//! not hold scored as `<unk>`. That is the ARPA semantics KenLM's `query` and SRILM's
//! `ngram -ppl` use, so scores agree.

use super::key::{KeyLayout, SortedKeys};
use super::lm::{LanguageModel, Lexicon, Score};
use super::tokenize::{TokenizeOptions, NgramTokenizer};
use super::vocab::{NgramVocab, BOS, UNK};

/// Storage for log10 values: `f32` for real models (what ARPA files carry, like KenLM),
/// `f64` where tests check sums to 1e-9.
pub trait LogValue: Copy + Send + Sync + std::fmt::Debug + PartialEq + 'static {
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl LogValue for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl LogValue for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// The n-grams of one order.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelLevel<W> {
    /// Sorted packed keys.
    pub keys: Vec<u128>,
    /// log10 p(w | c), `-inf` for probability 0.
    pub log10_prob: Vec<W>,
    /// log10 back-off weight; empty at the highest order.
    pub log10_backoff: Vec<W>,
}

impl<W: Copy> ModelLevel<W> {
    /// Removes the entries whose `marked` flag is set (order kept); `marked` is as long as
    /// the level.
    pub fn drop_marked(&mut self, marked: &[bool]) {
        fn kept<T: Copy>(values: &[T], marked: &[bool]) -> Vec<T> {
            values.iter().zip(marked).filter(|(_, &m)| !m).map(|(&v, _)| v).collect()
        }
        self.keys = kept(&self.keys, marked);
        self.log10_prob = kept(&self.log10_prob, marked);
        if !self.log10_backoff.is_empty() {
            self.log10_backoff = kept(&self.log10_backoff, marked);
        }
    }
}

impl<W> SortedKeys for ModelLevel<W> {
    fn keys(&self) -> &[u128] {
        &self.keys
    }
}

/// How the model reads text and how it was estimated (carried in the ARPA header comment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    pub tokenizer: NgramTokenizer,
    pub markers: bool,
    /// Free-form description of the smoothing, e.g. `kn` or `add-k k=0.5`.
    pub smoothing: String,
}

impl ModelInfo {
    pub fn tokenize_options(&self) -> TokenizeOptions {
        TokenizeOptions { tokenizer: self.tokenizer, markers: self.markers }
    }
}

/// A back-off n-gram model of order `levels.len()`.
#[derive(Clone, Debug, PartialEq)]
pub struct NgramModel<W = f32> {
    pub vocab: NgramVocab,
    pub layout: KeyLayout,
    pub info: ModelInfo,
    /// `levels[n - 1]` holds the n-grams.
    pub levels: Vec<ModelLevel<W>>,
}

impl<W: LogValue> NgramModel<W> {
    /// The model's order N.
    pub fn order(&self) -> usize {
        self.levels.len()
    }

    /// Ids the model predicts: every unigram but `<s>`.
    pub fn predicted_ids(&self) -> Vec<u32> {
        self.levels[0].keys.iter().map(|&k| k as u32).filter(|&id| id != BOS).collect()
    }

    /// log10 P(word | context); `context` is oldest first and may be longer than N − 1.
    pub fn log10_prob(&self, context: &[u32], word: u32) -> f64 {
        self.score(context, word).log10
    }

    /// log10 P(word | context) and the length of the n-gram that gave it.
    pub fn score(&self, context: &[u32], word: u32) -> Score {
        let order = self.order();
        let word = if self.levels[0].find(word as u128).is_some() { word } else { UNK };
        let context = &context[context.len().saturating_sub(order - 1)..];
        let bits = self.layout.bits();
        let mut backoff = 0.0;
        // Try the longest history first: hist = context[start..].
        for start in 0..=context.len() {
            let hist = &context[start..];
            let m = hist.len();
            let hist_key = self.layout.pack(hist);
            let key = hist_key | ((word as u128) << (m as u32 * bits));
            if let Some(at) = self.levels[m].find(key) {
                return Score { log10: self.levels[m].log10_prob[at].to_f64() + backoff, length: m + 1 };
            }
            if m >= 1 {
                if let Some(at) = self.levels[m - 1].find(hist_key) {
                    backoff += self.levels[m - 1].log10_backoff[at].to_f64();
                }
            }
        }
        // Unreachable for a model whose unigrams hold `<unk>`; a foreign model without it
        // gives the word probability 0.
        Score { log10: f64::NEG_INFINITY, length: 0 }
    }

    /// Checks the model's invariants: per order strictly increasing keys over ids in the
    /// vocabulary, one probability per key (never NaN), back-offs below the highest order.
    pub fn check(&self) -> crate::error::Result<()> {
        let bad = |detail: String| crate::error::ElmanError::Ngram(detail);
        let order = self.order();
        if order == 0 || KeyLayout::new(self.vocab.len(), order)? != self.layout {
            return Err(bad(format!("order {order} does not fit the key layout")));
        }
        let mut ids = Vec::with_capacity(order);
        for (i, level) in self.levels.iter().enumerate() {
            let n = i + 1;
            let backoffs = if n < order { level.keys.len() } else { 0 };
            if level.log10_prob.len() != level.keys.len() || level.log10_backoff.len() != backoffs {
                return Err(bad(format!("order {n} has {} keys but {} probabilities and {} back-offs", level.keys.len(), level.log10_prob.len(), level.log10_backoff.len())));
            }
            if !level.keys.windows(2).all(|w| w[0] < w[1]) {
                return Err(bad(format!("order {n}'s keys are not strictly increasing")));
            }
            if level.log10_prob.iter().chain(&level.log10_backoff).any(|v| v.to_f64().is_nan()) {
                return Err(bad(format!("order {n} holds a NaN")));
            }
            for &key in &level.keys {
                let width = n as u32 * self.layout.bits();
                if width < 128 && key >> width != 0 {
                    return Err(bad(format!("an order-{n} key has bits past its {n} ids")));
                }
                self.layout.unpack(key, n, &mut ids);
                if ids.iter().any(|&id| id as usize >= self.vocab.len()) {
                    return Err(bad(format!("an order-{n} key holds an id past the vocabulary")));
                }
            }
        }
        Ok(())
    }

    /// Number of n-grams per order.
    pub fn ngram_counts(&self) -> Vec<usize> {
        self.levels.iter().map(ModelLevel::len).collect()
    }

    /// Bytes held by keys and values.
    pub fn bytes(&self) -> usize {
        let w = std::mem::size_of::<W>();
        self.levels
            .iter()
            .map(|l| l.keys.len() * 16 + (l.log10_prob.len() + l.log10_backoff.len()) * w)
            .sum()
    }
}

impl<W: LogValue> LanguageModel for NgramModel<W> {
    fn order(&self) -> usize {
        self.levels.len()
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn lexicon(&self) -> &dyn Lexicon {
        &self.vocab
    }

    fn has_unigram(&self, id: u32) -> bool {
        self.levels[0].find(id as u128).is_some()
    }

    fn score(&self, context: &[u32], word: u32) -> Score {
        NgramModel::score(self, context, word)
    }

    fn ngram_counts(&self) -> Vec<usize> {
        NgramModel::ngram_counts(self)
    }

    fn log10_backoff(&self, context: &[u32]) -> f64 {
        let m = context.len();
        if m == 0 || m >= self.order() || context.iter().any(|&id| id as usize >= self.vocab.len()) {
            return 0.0;
        }
        let level = &self.levels[m - 1];
        level.find(self.layout.pack(context)).and_then(|at| level.log10_backoff.get(at)).map_or(0.0, |b| b.to_f64())
    }

    fn for_each_ngram(&self, visit: &mut dyn FnMut(&[u32], f32)) {
        let mut ids = Vec::with_capacity(self.order());
        for (i, level) in self.levels.iter().enumerate() {
            for (&key, p) in level.keys.iter().zip(&level.log10_prob) {
                self.layout.unpack(key, i + 1, &mut ids);
                visit(&ids, p.to_f64() as f32);
            }
        }
    }
}

/// 10^x with log10(0) = -inf mapping back to 0.
pub fn exp10(log10: f64) -> f64 {
    10f64.powf(log10)
}
