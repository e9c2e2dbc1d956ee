//! Using the models together: per-token RNN scores, linear interpolation of an RNN with an
//! n-gram model, the neural cache, dynamic evaluation and n-best rescoring
//! (docs/combining.md).
//!
//! One pipeline scores a text token by token: the RNN's log10 p of every predicted token
//! ([`rnn_scores`], from a stream, a dynamically evaluated stream or independent
//! sentences), mixed with the neural cache ([`cache`]), then with the n-gram model over
//! the RNN's outcomes ([`mixture`]):
//!
//!   p = λ·[(1 − λc)·p_rnn + λc·p_cache] + (1 − λ)·p'_ng.

pub mod cache;
pub mod mixture;
pub mod nbest;
pub mod rnn_scores;
pub mod text;

use crate::error::{ElmanError, Result};
use crate::ngram::eval::Evaluation;
use crate::ngram::lm::LanguageModel;
use crate::rnn::backend::{Optimizer, RowScores, UpdateConfig};
use crate::rnn::devices::{make_evaluator_on, make_trainer_on};
use crate::rnn::gpu::GpuContext;
use crate::rnn::model::{ModelConfig, Params};
use cache::NeuralCache;
use mixture::{log10_mix, Bridge};
use std::sync::Arc;
use text::{Place, Text};

/// An RNN checkpoint ready to score, on the CPU or on a GPU.
pub struct Rnn<'a> {
    pub config: &'a ModelConfig,
    pub params: &'a Params<f32>,
    /// The GPU to run on; None for the CPU.
    pub gpu: Option<Arc<GpuContext>>,
}

/// How a text is scored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Chunk length T (the state is carried across chunks).
    pub seq_len: usize,
    /// Score each line on its own from a fresh state, this many lines per batch; None:
    /// the text is one stream.
    pub sentences: Option<usize>,
    pub cache: Option<NeuralCache>,
    /// Dynamic evaluation: after scoring each chunk, an SGD step on it at this rate.
    pub dynamic_lr: Option<f32>,
}

/// An n-gram model to mix in, with the RNN's weight λ.
pub struct NgramMix<'m> {
    pub model: &'m dyn LanguageModel,
    pub bridge: &'m Bridge,
    pub lambda: f64,
}

/// Every predicted token's scores, in text order.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenScores {
    pub places: Vec<Place>,
    /// log10 p of the RNN, with the cache when there is one.
    pub rnn: Vec<f64>,
    /// log10 p'_ng of the n-gram model on the RNN's outcomes, when one is mixed in.
    pub ngram: Option<Vec<f64>>,
    /// log10 p of the whole combination.
    pub mixed: Vec<f64>,
    /// The device the RNN ran on.
    pub device: String,
}

impl TokenScores {
    /// Totals over every token (OOV: a word the RNN's vocabulary lacks).
    pub fn totals(&self, text: &Text) -> Evaluation {
        let mut e = Evaluation::default();
        for (place, &log10) in self.places.iter().zip(&self.mixed) {
            e.tokens += 1;
            e.log10_sum += log10;
            if text.lines[place.line].oov[place.index] {
                e.oov += 1;
                e.log10_oov += log10;
            }
        }
        e
    }
}

/// Refuses settings that cannot go together, in one line.
pub fn check(settings: &Settings) -> Result<()> {
    if settings.seq_len == 0 {
        return Err(ElmanError::Setting { key: "seq-len", problem: "must be > 0".into() });
    }
    if settings.sentences.is_some() && (settings.cache.is_some() || settings.dynamic_lr.is_some()) {
        return Err(ElmanError::Config("--sentences scores each line on its own, and the cache and dynamic evaluation carry what they learn across lines; use one or the other".into()));
    }
    if settings.sentences == Some(0) {
        return Err(ElmanError::Setting { key: "batch", problem: "must be > 0".into() });
    }
    if let Some(c) = settings.cache {
        if c.size == 0 || !(0.0..=1.0).contains(&c.lambda) || !c.theta.is_finite() {
            return Err(ElmanError::Config("the cache needs --cache-size ≥ 1, a finite --cache-theta and 0 ≤ --cache-lambda ≤ 1".into()));
        }
    }
    if let Some(lr) = settings.dynamic_lr {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(ElmanError::Setting { key: "dynamic-lr", problem: format!("must be a finite rate ≥ 0, got {lr}") });
        }
    }
    Ok(())
}

/// Scores `text` with the RNN (and the cache, dynamic evaluation and the n-gram model as
/// `settings` and `ngram` ask).
pub fn score(rnn: &Rnn, text: &Text, settings: &Settings, ngram: Option<&NgramMix>) -> Result<TokenScores> {
    check(settings)?;
    let (places, nats, hidden, device) = match settings.sentences {
        Some(rows) => {
            let mut model = make_evaluator_on(rnn.gpu.clone(), rnn.config, rnn.params.clone(), rows, settings.seq_len)?;
            let nats = rnn_scores::sentences(model.as_mut(), text, rows, settings.seq_len)?;
            (text.places().collect::<Vec<_>>(), nats, Vec::new(), model.device_name())
        }
        None => {
            let ids = text.stream_ids();
            let want_hidden = settings.cache.is_some();
            let (scores, device): (RowScores, String) = match settings.dynamic_lr {
                Some(lr) => {
                    let update = UpdateConfig::new(Optimizer::Sgd { momentum: 0.0 }, None);
                    let mut trainer = make_trainer_on(rnn.gpu.clone(), rnn.config, rnn.params.clone(), update, 1, settings.seq_len)?;
                    (rnn_scores::stream_dynamic(trainer.as_mut(), &ids, settings.seq_len, lr, want_hidden)?, trainer.device_name())
                }
                None => {
                    let mut model = make_evaluator_on(rnn.gpu.clone(), rnn.config, rnn.params.clone(), 1, settings.seq_len)?;
                    (rnn_scores::stream(model.as_mut(), &ids, settings.seq_len, want_hidden)?, model.device_name())
                }
            };
            (text.stream_places(), scores.nats, scores.hidden, device)
        }
    };
    if places.is_empty() {
        return Err(ElmanError::Data { what: "text".into(), detail: "has no tokens to score".into() });
    }
    debug_assert_eq!(places.len(), nats.len());
    let mut rnn_log10: Vec<f64> = nats.iter().map(|&x| -(x as f64) / std::f64::consts::LN_10).collect();
    if let Some(c) = settings.cache {
        let targets: Vec<u32> = places.iter().map(|p| text.lines[p.line].ids[p.index]).collect();
        let pointer = c.log10_probs(&hidden, rnn.config.top_hidden(), &targets);
        for (r, p) in rnn_log10.iter_mut().zip(pointer) {
            if let Some(p) = p {
                *r = log10_mix(&[(1.0 - c.lambda, *r), (c.lambda, p)]);
            }
        }
    }
    let ngram_log10 = ngram.map(|m| m.bridge.line_log10s(m.model, text));
    let mixed = match (&ngram_log10, ngram) {
        (Some(ng), Some(m)) => rnn_log10.iter().zip(ng).map(|(&r, &g)| log10_mix(&[(m.lambda, r), (1.0 - m.lambda, g)])).collect(),
        _ => rnn_log10.clone(),
    };
    Ok(TokenScores { places, rnn: rnn_log10, ngram: ngram_log10, mixed, device })
}

/// The λ that maximises the likelihood of `tune` (EM over the two components, each
/// scored as `settings` ask).
pub fn tune_lambda(rnn: &Rnn, tune: &Text, settings: &Settings, model: &dyn LanguageModel, bridge: &Bridge) -> Result<f64> {
    let scores = score(rnn, tune, settings, Some(&NgramMix { model, bridge, lambda: 0.5 }))?;
    let ngram = scores.ngram.expect("scored with the n-gram model");
    Ok(mixture::tune_weights(&[scores.rnn, ngram])[0])
}
