//! Drawing text from a model: each token from P(· | history) over the whole predicted
//! vocabulary, with the project's seeded RNG so a seed always gives the same text.

use super::lm::LanguageModel;
use super::model::exp10;
use super::tokenize::Tokenizer;
use super::vocab::{BOS, EOS};
use crate::error::{ElmanError, Result};
use crate::rng::Rng;

/// Draws `len` tokens (with markers a `</s>` ends a sentence and counts as a token).
pub fn sample<M: LanguageModel + ?Sized>(model: &M, len: usize, seed: u64) -> Result<Vec<u32>> {
    let mut rng = Rng::new(seed);
    let candidates = model.predicted_ids();
    let history = model.order() - 1;
    let fresh = || if model.info().markers { vec![BOS] } else { Vec::new() };
    let mut context = fresh();
    let mut out = Vec::with_capacity(len);
    let mut weights = vec![0.0f64; candidates.len()];
    while out.len() < len {
        let recent = &context[context.len().saturating_sub(history)..];
        let mut total = 0.0;
        for (w, &id) in weights.iter_mut().zip(&candidates) {
            *w = exp10(model.score(recent, id).log10);
            total += *w;
        }
        if total <= 0.0 || !total.is_finite() {
            return Err(ElmanError::Ngram(format!(
                "the model gives every token probability 0 after {:?}",
                recent.iter().map(|&id| model.lexicon().token(id)).collect::<Vec<_>>()
            )));
        }
        let mut target = rng.next_f64() * total;
        let mut chosen = *candidates.last().expect("a model predicts at least <unk>");
        for (&w, &id) in weights.iter().zip(&candidates) {
            if target < w {
                chosen = id;
                break;
            }
            target -= w;
        }
        out.push(chosen);
        if chosen == EOS && model.info().markers {
            context = fresh();
        } else {
            context.push(chosen);
        }
    }
    Ok(out)
}

/// Renders sampled ids as text: words joined by spaces, chars concatenated, `</s>` as a
/// line break.
pub fn render<M: LanguageModel + ?Sized>(model: &M, ids: &[u32]) -> String {
    let mut text = String::new();
    let mut line_start = true;
    for &id in ids {
        if id == EOS {
            text.push('\n');
            line_start = true;
            continue;
        }
        if model.info().tokenizer == Tokenizer::Word && !line_start {
            text.push(' ');
        }
        text.push_str(model.lexicon().token(id));
        line_start = false;
    }
    text
}
