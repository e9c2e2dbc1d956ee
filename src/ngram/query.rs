//! Scoring a text line by line as it streams in (KenLM's `query`): each token's id, the
//! length of the n-gram that scored it and log10 P, with running totals — memory stays
//! that of one line however long the input.
//!
//! With markers each line is a sentence `<s> … </s>` scored on its own; without markers
//! the lines are one stream and the history runs on across them (at char level the
//! newline is a token). The totals equal [`super::eval::evaluate`] on the whole text.

use super::eval::Evaluation;
use super::lm::{LanguageModel, Score};
use super::tokenize::for_each_token;
use super::vocab::{BOS, EOS, SPECIALS, UNK};

/// One scored token.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenScore<'t> {
    /// The token as the text spells it (`</s>` for the sentence end).
    pub token: &'t str,
    /// Its id (`<unk>` = 0 for a token the model does not know).
    pub id: u32,
    /// Whether the model's vocabulary lacks the token.
    pub oov: bool,
    pub score: Score,
}

/// Scores lines one after another and keeps the totals.
pub struct LineScorer<'m> {
    model: &'m dyn LanguageModel,
    /// The stream's recent tokens (no markers), at most N − 1.
    history: Vec<u32>,
    totals: Evaluation,
}

impl<'m> LineScorer<'m> {
    pub fn new(model: &'m dyn LanguageModel) -> Self {
        LineScorer { model, history: Vec::new(), totals: Evaluation::default() }
    }

    /// Scores one line (with its trailing newline, if it had one) into `out`, which is
    /// cleared first; returns the line's totals.
    pub fn score_line<'t>(&mut self, line: &'t str, out: &mut Vec<TokenScore<'t>>) -> Evaluation {
        out.clear();
        let info = self.model.info();
        let lexicon = self.model.lexicon();
        let keep = self.model.order().saturating_sub(1);
        let text = if info.markers { line.strip_suffix('\n').map_or(line, |l| l.strip_suffix('\r').unwrap_or(l)) } else { line };
        let mut spelled: Vec<&'t str> = Vec::new();
        for_each_token(text, info.tokenizer, |token| spelled.push(token));
        let mut ids = Vec::with_capacity(spelled.len());
        lexicon.ids_into(&spelled, &mut ids);
        let mut tokens: Vec<(&'t str, u32, bool)> = spelled.iter().zip(&ids).map(|(&token, id)| (token, id.unwrap_or(UNK), id.is_none())).collect();
        if info.markers {
            self.history.clear();
            self.history.push(BOS);
            tokens.push((SPECIALS[EOS as usize], EOS, false));
        }
        let from = self.history.len();
        let mut ids = std::mem::take(&mut self.history);
        ids.extend(tokens.iter().map(|t| t.1));
        let mut scores = Vec::with_capacity(tokens.len());
        self.model.score_run(&ids, from, &mut scores);
        let mut line_totals = Evaluation::default();
        for ((token, id, oov), score) in tokens.into_iter().zip(scores) {
            line_totals.tokens += 1;
            line_totals.log10_sum += score.log10;
            if oov {
                line_totals.oov += 1;
                line_totals.log10_oov += score.log10;
            }
            out.push(TokenScore { token, id, oov, score });
        }
        ids.drain(..ids.len().saturating_sub(keep));
        self.history = ids;
        self.totals.tokens += line_totals.tokens;
        self.totals.oov += line_totals.oov;
        self.totals.log10_sum += line_totals.log10_sum;
        self.totals.log10_oov += line_totals.log10_oov;
        line_totals
    }

    /// Totals over every line so far.
    pub fn totals(&self) -> Evaluation {
        self.totals
    }
}
