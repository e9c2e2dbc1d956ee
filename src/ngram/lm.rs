//! What every n-gram model offers the commands that use one (eval, query, prob, sample),
//! whether it lives in memory (read from ARPA, or just trained) or in a memory-mapped
//! binary file: token ↔ id lookup and back-off scoring.

use super::model::ModelInfo;
use super::vocab::BOS;

/// Token ↔ id lookup of a model's vocabulary.
pub trait Lexicon: Sync {
    /// The id of `token`, if the vocabulary holds it.
    fn id(&self, token: &str) -> Option<u32>;
    /// The spelling of `id` (`""` for an id the vocabulary never handed out).
    fn token(&self, id: u32) -> &str;
    /// Number of ids, the specials `<unk>`, `<s>`, `</s>` included.
    fn size(&self) -> usize;
    /// The ids of `tokens` into `out` (cleared first): [`Lexicon::id`] of each, in order.
    /// A lexicon may look them up together to do it faster.
    fn ids_into(&self, tokens: &[&str], out: &mut Vec<Option<u32>>) {
        out.clear();
        out.extend(tokens.iter().map(|t| self.id(t)));
    }
}

/// One token's score: log10 P(w | history) and the length of the n-gram that gave it
/// (1 = the unigram, n = the word and n − 1 tokens of history; KenLM's `ngram_length`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    pub log10: f64,
    pub length: usize,
}

/// A back-off n-gram language model, as the scoring commands see it.
pub trait LanguageModel: Sync {
    /// The model's order N.
    fn order(&self) -> usize;
    /// How the model tokenizes text and how it was estimated.
    fn info(&self) -> &ModelInfo;
    /// The model's vocabulary.
    fn lexicon(&self) -> &dyn Lexicon;
    /// Whether the unigrams hold `id` (an id they do not hold is scored as `<unk>`).
    fn has_unigram(&self, id: u32) -> bool;
    /// log10 P(word | context) with the ARPA back-off rule; `context` is oldest first and
    /// may be longer than N − 1.
    fn score(&self, context: &[u32], word: u32) -> Score;
    /// Scores `tokens[from..]`, each after the (up to N − 1) tokens before it, into `out`
    /// (cleared first) — the same scores as [`LanguageModel::score`] token by token; a
    /// model may carry state from one token to the next to do it faster.
    fn score_run(&self, tokens: &[u32], from: usize, out: &mut Vec<Score>) {
        out.clear();
        let history = self.order() - 1;
        for t in from..tokens.len() {
            out.push(self.score(&tokens[t.saturating_sub(history)..t], tokens[t]));
        }
    }

    /// log10 b(context): the back-off weight of a stored context (0 for one the model does
    /// not hold); `context` is oldest first, at most N − 1 tokens.
    fn log10_backoff(&self, context: &[u32]) -> f64;

    /// Calls `visit(ids, log10 p)` for every stored n-gram (ids oldest first, the predicted
    /// token last), every order, in no particular order.
    fn for_each_ngram(&self, visit: &mut dyn FnMut(&[u32], f32));

    /// Stored n-grams per order, as the ARPA header counts them.
    fn ngram_counts(&self) -> Vec<usize>;

    /// Ids the model predicts: every unigram but `<s>`.
    fn predicted_ids(&self) -> Vec<u32> {
        (0..self.lexicon().size() as u32).filter(|&id| id != BOS && self.has_unigram(id)).collect()
    }
}
