//! Linear interpolation of an RNN with a word n-gram model over one set of outcomes.
//!
//! The outcomes are the RNN's vocabulary: its words, `<eos>` and `<unk>`, the class of
//! every other word. The n-gram model is brought onto them by [`Bridge`]: the RNN's
//! `<eos>` is the n-gram's `</s>`, each RNN word is the same n-gram word, and the RNN's
//! `<unk>` is the n-gram's `<unk>` plus every n-gram word the RNN lacks, so that
//!
//!   p'_ng(<unk> | c) = p_ng(<unk> | c) + Σ_{w ∈ V_ng ∖ V_rnn} p_ng(w | c),
//!
//! and p'_ng sums to 1 over the RNN's outcomes as p_ng does over its own. The mixture is
//! p = Σ_c w_c·p_c (weights summing to 1), computed in log10 as
//! m + log10 Σ_c 10^{log10 w_c + log10 p_c − m}, m the largest term; a weight of 1 gives
//! its component's log10 p unchanged, a weight of 0 drops the component.

use super::text::Text;
use crate::error::{ElmanError, Result};
use crate::ngram::lm::LanguageModel;
use crate::ngram::tokenize::NgramTokenizer;
use crate::ngram::vocab::{BOS, EOS, UNK};
use crate::rnn::data::vocab::{TokenizerKind, Vocab, EOS as RNN_EOS, UNK as RNN_UNK};

/// log10 Σ_c w_c·10^{l_c} over (weight, log10 p) terms; terms of weight 0 are left out
/// (−∞ when every term is).
pub fn log10_mix(terms: &[(f64, f64)]) -> f64 {
    let logs = terms.iter().filter(|(w, _)| *w > 0.0).map(|&(w, l)| w.log10() + l);
    let max = logs.clone().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + logs.map(|x| 10f64.powf(x - max)).sum::<f64>().log10()
}

/// How an RNN's outcomes map onto a word n-gram model's ids.
pub struct Bridge {
    /// The n-gram id of each RNN id (`<unk>`'s entry unused: see `unk_class`).
    to_ngram: Vec<u32>,
    rnn_unk: Option<u32>,
    /// The n-gram ids that make up the RNN's `<unk>`.
    unk_class: Vec<u32>,
}

impl Bridge {
    /// Checks that `rnn` and `ngram` can be mixed and maps one onto the other; the error
    /// says in one line why they cannot.
    pub fn new(rnn: &Vocab, ngram: &dyn LanguageModel) -> Result<Bridge> {
        let refuse = |why: String| Err(ElmanError::Config(format!("cannot mix this RNN with this n-gram model: {why}")));
        if rnn.kind != TokenizerKind::Word {
            return refuse(format!("the RNN is {}-level and the mixture is over words; train the RNN with --tokenizer word", kind_name(rnn.kind)));
        }
        let info = ngram.info();
        if info.tokenizer != NgramTokenizer::Word {
            return refuse("the n-gram model is char-level and the RNN word-level".into());
        }
        if !info.markers {
            return refuse("the n-gram model was built without sentence markers, so it never predicts the line end that the RNN predicts as <eos>".into());
        }
        let lexicon = ngram.lexicon();
        let rnn_unk = rnn.id(RNN_UNK);
        let mut missing = Vec::new();
        let mut to_ngram = Vec::with_capacity(rnn.len());
        for (id, symbol) in rnn.symbols.iter().enumerate() {
            let mapped = match symbol.as_str() {
                RNN_EOS => EOS,
                RNN_UNK => UNK,
                word => match lexicon.id(word).filter(|&g| ngram.has_unigram(g) && g != BOS) {
                    Some(g) => g,
                    None => {
                        missing.push(word);
                        UNK
                    }
                },
            };
            debug_assert!(id == to_ngram.len());
            to_ngram.push(mapped);
        }
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().take(3).map(|w| format!("{w:?}")).collect();
            return refuse(format!(
                "{} of the RNN's words ({}{}) are not in the n-gram model, which would give them its <unk> probability as well; build both from the same training text",
                missing.len(),
                shown.join(", "),
                if missing.len() > 3 { ", …" } else { "" }
            ));
        }
        let known: std::collections::HashSet<u32> = to_ngram.iter().copied().collect();
        let unk_class: Vec<u32> = ngram.predicted_ids().into_iter().filter(|g| *g == UNK || !known.contains(g)).collect();
        Ok(Bridge { to_ngram, rnn_unk, unk_class })
    }

    /// n-gram words folded into the RNN's `<unk>` (its own `<unk>` not counted).
    pub fn folded_words(&self) -> usize {
        self.unk_class.iter().filter(|&&g| g != UNK).count()
    }

    /// log10 p'_ng of every token of every line of `text` (its RNN ids the outcomes), each
    /// line a sentence `<s> … </s>` whose context is the n-gram ids of its words.
    pub fn line_log10s(&self, ngram: &dyn LanguageModel, text: &Text) -> Vec<f64> {
        let lexicon = ngram.lexicon();
        let keep = ngram.order() - 1;
        let mut out = Vec::with_capacity(text.token_count());
        let mut scores = Vec::new();
        for line in &text.lines {
            // <s>, the words (a word line's tokens but its last, the line end), </s>.
            let mut ids = Vec::with_capacity(line.ids.len() + 1);
            ids.push(BOS);
            ids.extend(line.shown[..line.shown.len() - 1].iter().map(|w| lexicon.id(w).unwrap_or(UNK)));
            ids.push(EOS);
            let folds = line.ids.iter().any(|&r| Some(r) == self.rnn_unk);
            if !folds {
                // Outcome ids are the context ids here: one run of the model's own scorer.
                let outcomes: Vec<u32> = line.ids.iter().map(|&r| self.to_ngram[r as usize]).collect();
                if outcomes[..] == ids[1..] {
                    ngram.score_run(&ids, 1, &mut scores);
                    out.extend(scores.iter().map(|s| s.log10));
                    continue;
                }
            }
            for (j, &r) in line.ids.iter().enumerate() {
                let context = &ids[(j + 1).saturating_sub(keep)..j + 1];
                let log10 = if Some(r) == self.rnn_unk {
                    let mass: f64 = self.unk_class.iter().map(|&g| 10f64.powf(ngram.score(context, g).log10)).sum();
                    mass.log10()
                } else {
                    ngram.score(context, self.to_ngram[r as usize]).log10
                };
                out.push(log10);
            }
        }
        out
    }
}

fn kind_name(kind: TokenizerKind) -> &'static str {
    match kind {
        TokenizerKind::Char => "char",
        TokenizerKind::Byte => "byte",
        TokenizerKind::Word => "word",
    }
}

/// The weights of a mixture that maximise the likelihood of held-out tokens, by EM:
/// given component log10 probabilities `components[c][k]` for tokens k, repeat
/// w_c ← mean_k w_c·p_c(k) / Σ_j w_j·p_j(k) from equal weights until no weight moves by
/// more than 1e-7 (at most 500 rounds). The likelihood never decreases from round to round.
pub fn tune_weights(components: &[Vec<f64>]) -> Vec<f64> {
    let c = components.len();
    let k_all = components.first().map_or(0, Vec::len);
    let mut weights = vec![1.0 / c as f64; c];
    // Each token's probabilities, scaled by its largest (the ratios EM needs survive
    // however small the probabilities are).
    let tokens: Vec<Vec<f64>> = (0..k_all)
        .map(|k| {
            let max = components.iter().map(|comp| comp[k]).fold(f64::NEG_INFINITY, f64::max);
            components.iter().map(|comp| if max.is_finite() { 10f64.powf(comp[k] - max) } else { 0.0 }).collect()
        })
        .collect();
    for _ in 0..500 {
        let mut next = vec![0.0; c];
        for p in &tokens {
            let total: f64 = p.iter().zip(&weights).map(|(p, w)| p * w).sum();
            if total > 0.0 {
                for ((n, p), w) in next.iter_mut().zip(p).zip(&weights) {
                    *n += w * p / total;
                }
            }
        }
        let sum: f64 = next.iter().sum();
        if sum <= 0.0 {
            break;
        }
        let next: Vec<f64> = next.iter().map(|x| x / sum).collect();
        let moved = next.iter().zip(&weights).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        weights = next;
        if moved < 1e-7 {
            break;
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_one_and_zero_are_exact() {
        let (a, b) = (-1.234567891234, -3.5);
        assert_eq!(log10_mix(&[(1.0, a), (0.0, b)]), a);
        assert_eq!(log10_mix(&[(0.0, a), (1.0, b)]), b);
        let half = log10_mix(&[(0.5, a), (0.5, b)]);
        assert!((10f64.powf(half) - 0.5 * (10f64.powf(a) + 10f64.powf(b))).abs() < 1e-15);
        assert_eq!(log10_mix(&[(0.5, f64::NEG_INFINITY), (0.5, b)]), 0.5f64.log10() + b);
    }

    #[test]
    fn em_finds_the_better_component() {
        // Component 0 gives every token 0.5, component 1 gives 0.1: all weight on 0.
        let w = tune_weights(&[vec![0.5f64.log10(); 50], vec![0.1f64.log10(); 50]]);
        assert!(w[0] > 0.999, "{w:?}");
        // Each better on half the tokens: an interior optimum, the weights sum to 1.
        let a: Vec<f64> = (0..100).map(|k| if k % 2 == 0 { -0.3 } else { -2.0 }).collect();
        let b: Vec<f64> = (0..100).map(|k| if k % 2 == 0 { -2.0 } else { -0.3 }).collect();
        let w = tune_weights(&[a, b]);
        assert!((w[0] - 0.5).abs() < 1e-6 && (w.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{w:?}");
    }
}
