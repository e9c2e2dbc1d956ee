//! Training an n-gram model from text: validate, tokenize, count, smooth.

use super::count::{count_ngrams, require_complete_ngram};
use super::model::{LogValue, NgramModel};
use super::smoothing::Prune;
use super::smoothing::{estimate, AddK, Smoothing};
use super::spill::SpillStats;
use super::tokenize::{tokenize_training, NgramCorpus, TokenizeOptions};
use super::vocab::NgramVocab;
use crate::error::{ElmanError, Result};
use std::time::{Duration, Instant};

/// Everything `elman ngram train` decides.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    pub order: usize,
    pub tokenize: TokenizeOptions,
    pub smoothing: Smoothing,
    /// Add-k's pseudo-count (ignored by the other methods).
    pub k: f64,
    /// Bytes of highest-order keys to buffer before spilling sorted runs (`None`: no limit).
    pub memory_bytes: Option<u64>,
    /// Count thresholds per order, lmplz's `--prune` (empty: no pruning; the last value
    /// repeats for the orders after it).
    pub prune: Vec<u64>,
    /// The vocabulary the model may use, lmplz's `--limit_vocab_file` (`None`: all).
    pub limit_vocab: Option<Vec<String>>,
}

impl TrainOptions {
    /// Options with add-k's k = 0.5 (unused by the other methods) and no memory limit.
    pub fn new(order: usize, tokenize: TokenizeOptions, smoothing: Smoothing) -> Self {
        TrainOptions { order, tokenize, smoothing, k: 0.5, memory_bytes: None, prune: Vec::new(), limit_vocab: None }
    }

    /// The same options with add-k's pseudo-count `k`.
    pub fn with_k(self, k: f64) -> Self {
        TrainOptions { k, ..self }
    }

    /// The same options with a counting memory limit in bytes.
    pub fn with_memory(self, memory_bytes: Option<u64>) -> Self {
        TrainOptions { memory_bytes, ..self }
    }

    /// The same options pruned at count `thresholds` per order (lmplz's `--prune`).
    pub fn with_prune(self, prune: Vec<u64>) -> Self {
        TrainOptions { prune, ..self }
    }

    /// The same options limited to the words of `vocab` (lmplz's `--limit_vocab_file`).
    pub fn with_limit_vocab(self, limit_vocab: Option<Vec<String>>) -> Self {
        TrainOptions { limit_vocab, ..self }
    }

    /// Whether the model is pruned (by counts or by vocabulary).
    pub fn prunes(&self) -> bool {
        self.prune.iter().any(|&t| t > 0) || self.limit_vocab.is_some()
    }

    /// Refuses order 0, a bad k, and pruning that lmplz would refuse (thresholds for more
    /// orders than the model has, decreasing ones, or a unigram threshold) or that only
    /// Kneser-Ney supports.
    pub fn validate(&self) -> Result<()> {
        if self.order == 0 {
            return Err(ElmanError::Setting { key: "order", problem: "must be at least 1 (got 0)".to_string() });
        }
        if self.smoothing == Smoothing::AddK {
            AddK::validate(self.k)?;
        }
        let bad = |problem: String| Err(ElmanError::Setting { key: "prune", problem });
        if self.prune.len() > self.order {
            return bad(format!("gives {} thresholds for a model of order {}", self.prune.len(), self.order));
        }
        if self.prune.first().is_some_and(|&t| t > 0) {
            return bad("must start with 0: unigrams are not pruned by count (as lmplz)".to_string());
        }
        if self.prune.windows(2).any(|w| w[1] < w[0]) {
            return bad("thresholds must not decrease with the order (a kept n-gram's context and suffix must stay)".to_string());
        }
        if self.prunes() && self.smoothing != Smoothing::Kn {
            return bad("pruning and --limit-vocab need Kneser-Ney smoothing (--smoothing kn)".to_string());
        }
        Ok(())
    }

    /// The pruning to estimate with over `vocab`, if any.
    fn pruning(&self, vocab: &NgramVocab) -> Option<Prune> {
        if !self.prunes() {
            return None;
        }
        let mut thresholds = self.prune.clone();
        thresholds.resize(self.order, thresholds.last().copied().unwrap_or(0));
        let keep_word = self.limit_vocab.as_ref().map(|words| {
            let mut keep = vec![false; vocab.len()];
            for word in words {
                if let Some(id) = vocab.get(word) {
                    keep[id as usize] = true;
                }
            }
            keep
        });
        Some(Prune { thresholds, keep_word })
    }
}

/// A trained model and what it took.
#[derive(Clone, Debug)]
pub struct Trained<W: LogValue> {
    pub model: NgramModel<W>,
    /// Tokens predicted in the training text (`</s>` included, `<s>` not).
    pub predicted_tokens: usize,
    pub spill: SpillStats,
    /// Kneser-Ney discounts [0, D1, D2, D3+] per order (empty for other methods).
    pub discounts: Vec<[f64; 4]>,
    /// Orders whose Kneser-Ney discounts fell back to the defaults.
    pub fallback_orders: Vec<usize>,
    /// Wall time of each phase, in order.
    pub phases: Vec<(&'static str, Duration)>,
}

/// Trains a model on `text`; `source` names the text in error messages.
pub fn train<W: LogValue>(text: &str, source: &str, options: &TrainOptions) -> Result<Trained<W>> {
    options.validate()?;
    let clock = Instant::now();
    let (vocab, corpus) = tokenize_training(text, options.tokenize);
    let mut trained = train_tokens(vocab, corpus, source, options)?;
    trained.phases.insert(0, ("tokenize", clock.elapsed() - trained.phases.iter().map(|p| p.1).sum::<Duration>()));
    Ok(trained)
}

/// Trains a model on already tokenized text (lets a caller free the text first).
pub fn train_tokens<W: LogValue>(vocab: NgramVocab, corpus: NgramCorpus, source: &str, options: &TrainOptions) -> Result<Trained<W>> {
    options.validate()?;
    let mut phases = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &'static str, phases: &mut Vec<(&'static str, Duration)>| {
        phases.push((name, clock.elapsed()));
        clock = Instant::now();
    };
    if corpus.word_count() == 0 {
        return Err(ElmanError::Ngram(format!("{source} contains no tokens (only whitespace)")));
    }
    let counts = count_ngrams(&corpus, vocab.len(), options.order, options.tokenize.markers, options.memory_bytes)?;
    require_complete_ngram(&counts, source)?;
    lap("count", &mut phases);
    let sentence_starts = if options.tokenize.markers { corpus.sentence_ends.len() } else { 0 };
    let predicted_tokens = corpus.tokens.len() - sentence_starts;
    drop(corpus);
    let spill = counts.spill.clone();
    let mut smoother = options.smoothing.smoother(options.k);
    let prune = options.pruning(&vocab);
    let model = estimate(counts, vocab, options.tokenize.tokenizer, smoother.as_mut(), prune.as_ref())?;
    let (discounts, fallback_orders) = smoother.discounts();
    lap("smooth", &mut phases);
    Ok(Trained { model, predicted_tokens, spill, discounts, fallback_orders, phases })
}

/// Bytes the in-memory path is expected to need for a training text of `text_bytes` at
/// order `order`: the text, its tokens and every order's counts and model tables. Measured
/// (docs/ngram.md): 18× the text for the PTB 5-gram, 22× for a 20M-word Zipf text; this
/// estimate, (2 + 4.5·N) × the text, is a little above both.
pub fn in_memory_estimate(text_bytes: u64, order: usize) -> u64 {
    (text_bytes as f64 * (2.0 + 4.5 * order as f64)) as u64
}

/// Which pipeline `ngram train` runs, and why.
#[derive(Clone, Debug, PartialEq)]
pub enum Pipeline {
    /// Everything in memory (the fast path).
    InMemory { estimate: u64, limit: Option<u64> },
    /// Sorted runs through disk, the sorters holding `budget` bytes ([`super::bounded`]).
    Bounded { estimate: u64, budget: u64 },
}

impl Pipeline {
    /// In memory when the estimate fits `--memory` (or, without it, 80 % of the memory
    /// available); otherwise bounded, with `--memory` or half the available memory.
    pub fn choose(text_bytes: u64, order: usize, memory: Option<u64>, available: Option<u64>) -> Pipeline {
        let estimate = in_memory_estimate(text_bytes, order);
        match memory {
            Some(limit) if estimate <= limit => Pipeline::InMemory { estimate, limit: Some(limit) },
            Some(budget) => Pipeline::Bounded { estimate, budget },
            None => match available {
                Some(free) if estimate > free / 5 * 4 => Pipeline::Bounded { estimate, budget: (free / 2).max(64 << 20) },
                _ => Pipeline::InMemory { estimate, limit: available },
            },
        }
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        let h = |b: u64| crate::host::memory::human_bytes(b as f64);
        match self {
            Pipeline::InMemory { estimate, limit: Some(limit) } => format!("in memory (estimated {} of {} allowed)", h(*estimate), h(*limit)),
            Pipeline::InMemory { estimate, limit: None } => format!("in memory (estimated {})", h(*estimate)),
            Pipeline::Bounded { estimate, budget } => format!("bounded memory: sorted runs on disk, sorters within {} (in memory it would need about {})", h(*budget), h(*estimate)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_follows_the_memory_bound_and_what_is_available() {
        let need = in_memory_estimate(100 << 20, 5);
        assert!(need > 2 << 30, "a 100 MiB text at order 5 needs gigabytes in memory: {need}");
        // --memory: in memory when the estimate fits it, else bounded within it.
        assert!(matches!(Pipeline::choose(100 << 20, 5, Some(need), None), Pipeline::InMemory { .. }));
        assert_eq!(Pipeline::choose(100 << 20, 5, Some(256 << 20), None), Pipeline::Bounded { estimate: need, budget: 256 << 20 });
        // No --memory: in memory up to 80 % of what is available, else half of it.
        assert!(matches!(Pipeline::choose(100 << 20, 5, None, Some(need * 2)), Pipeline::InMemory { .. }));
        assert_eq!(Pipeline::choose(100 << 20, 5, None, Some(need)), Pipeline::Bounded { estimate: need, budget: need / 2 });
        assert!(matches!(Pipeline::choose(100 << 20, 5, None, None), Pipeline::InMemory { limit: None, .. }));
        assert!(Pipeline::choose(100 << 20, 5, Some(1 << 20), None).describe().starts_with("bounded memory"));
    }
}
