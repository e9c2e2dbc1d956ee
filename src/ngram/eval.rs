//! Perplexity of a model on a text, counted as KenLM's `query` counts it: every token
//! after `<s>` is scored, `</s>` included, an unknown token as `<unk>`.
//!
//! ```text
//! H10 = −(1/T) Σ_t log10 P(w_t | history),   nats/token = H10 · ln 10,   PPL = 10^H10
//! ```

use super::lm::LanguageModel;
use super::tokenize::tokenize_with_vocab;
use rayon::prelude::*;

/// Totals of scoring one text.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Tokens scored (`</s>` included, `<s>` not).
    pub tokens: u64,
    /// Tokens the model's vocabulary does not know (scored as `<unk>`).
    pub oov: u64,
    /// Σ log10 P over all scored tokens.
    pub log10_sum: f64,
    /// Σ log10 P over the OOV tokens alone.
    pub log10_oov: f64,
}

impl Evaluation {
    /// Adds `other`'s counts and sums (a text's totals are its lines' or pieces' added in
    /// order).
    pub fn add(&mut self, other: &Evaluation) {
        self.tokens += other.tokens;
        self.oov += other.oov;
        self.log10_sum += other.log10_sum;
        self.log10_oov += other.log10_oov;
    }

    /// Cross-entropy in log10 units per token.
    pub fn log10_per_token(&self) -> f64 {
        -self.log10_sum / self.tokens as f64
    }

    /// Cross-entropy in nats per token.
    pub fn nats_per_token(&self) -> f64 {
        self.log10_per_token() * std::f64::consts::LN_10
    }

    /// 10^(cross-entropy), OOVs included (KenLM's "Perplexity including OOVs").
    pub fn perplexity(&self) -> f64 {
        10f64.powf(self.log10_per_token())
    }

    /// Perplexity over in-vocabulary tokens only (KenLM's "excluding OOVs").
    pub fn perplexity_excluding_oov(&self) -> f64 {
        let tokens = self.tokens - self.oov;
        10f64.powf(-(self.log10_sum - self.log10_oov) / tokens as f64)
    }
}

/// Scores every token of `text` after its sentence start (sentences in parallel, summed
/// in order so the result does not depend on scheduling).
pub fn evaluate<M: LanguageModel + ?Sized>(model: &M, text: &str) -> Evaluation {
    let mut eval = Evaluation::default();
    evaluate_into(model, text, &mut eval);
    eval
}

/// [`evaluate`], adding into `eval`: a text scored in pieces cut at line ends (with
/// `<s>` … `</s>` markers, where lines are independent) sums to the very bits of the
/// whole text scored at once.
pub fn evaluate_into<M: LanguageModel + ?Sized>(model: &M, text: &str, eval: &mut Evaluation) {
    let corpus = tokenize_with_vocab(text, model.info().tokenize_options(), model.lexicon());
    let first_scored = usize::from(model.info().markers);
    let mut spans = Vec::with_capacity(corpus.sentence_ends.len());
    let mut start = 0usize;
    for &end in &corpus.sentence_ends {
        spans.push(start..end);
        start = end;
    }
    let per_sentence: Vec<(u64, f64, f64)> = spans
        .into_par_iter()
        .map(|span| {
            let sentence = &corpus.tokens[span.clone()];
            let (mut tokens, mut sum, mut oov_sum) = (0u64, 0.0f64, 0.0f64);
            let mut scores = Vec::with_capacity(sentence.len());
            model.score_run(sentence, first_scored.min(sentence.len()), &mut scores);
            for (t, score) in (first_scored..).zip(&scores) {
                let lp = score.log10;
                tokens += 1;
                sum += lp;
                if corpus.oov_positions.binary_search(&(span.start + t)).is_ok() {
                    oov_sum += lp;
                }
            }
            (tokens, sum, oov_sum)
        })
        .collect();
    eval.oov += corpus.oov_positions.len() as u64;
    for (tokens, sum, oov_sum) in per_sentence {
        eval.tokens += tokens;
        eval.log10_sum += sum;
        eval.log10_oov += oov_sum;
    }
}
