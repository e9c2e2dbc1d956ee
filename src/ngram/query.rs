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
    /// Buffers kept from line to line, so that a scorer allocates nothing once warm: the
    /// line's tokens (empty between lines), their ids and their scores.
    spelled: Vec<&'static str>,
    found: Vec<Option<u32>>,
    scores: Vec<Score>,
}

impl<'m> LineScorer<'m> {
    pub fn new(model: &'m dyn LanguageModel) -> Self {
        LineScorer { model, history: Vec::new(), totals: Evaluation::default(), spelled: Vec::new(), found: Vec::new(), scores: Vec::new() }
    }

    /// Scores one line (with its trailing newline, if it had one) into `out`, which is
    /// cleared first; returns the line's totals.
    pub fn score_line<'t>(&mut self, line: &'t str, out: &mut Vec<TokenScore<'t>>) -> Evaluation {
        out.clear();
        let info = self.model.info();
        let keep = self.model.order().saturating_sub(1);
        let text = if info.markers { line.strip_suffix('\n').map_or(line, |l| l.strip_suffix('\r').unwrap_or(l)) } else { line };
        let mut spelled = reuse(std::mem::take(&mut self.spelled));
        for_each_token(text, info.tokenizer, |token| spelled.push(token));
        self.model.lexicon().ids_into(&spelled, &mut self.found);
        if info.markers {
            self.history.clear();
            self.history.push(BOS);
        }
        let from = self.history.len();
        let mut ids = std::mem::take(&mut self.history);
        ids.extend(self.found.iter().map(|id| id.unwrap_or(UNK)));
        if info.markers {
            ids.push(EOS);
        }
        self.model.score_run(&ids, from, &mut self.scores);
        let mut line_totals = Evaluation::default();
        for (k, &score) in self.scores.iter().enumerate() {
            // The spelled tokens, then `</s>` with markers.
            let (token, oov) = match spelled.get(k) {
                Some(&token) => (token, self.found[k].is_none()),
                None => (SPECIALS[EOS as usize], false),
            };
            line_totals.tokens += 1;
            line_totals.log10_sum += score.log10;
            if oov {
                line_totals.oov += 1;
                line_totals.log10_oov += score.log10;
            }
            out.push(TokenScore { token, id: ids[from + k], oov, score });
        }
        ids.drain(..ids.len().saturating_sub(keep));
        self.history = ids;
        self.spelled = reuse(spelled);
        self.totals.add(&line_totals);
        line_totals
    }

    /// The model scoring.
    pub fn model(&self) -> &'m dyn LanguageModel {
        self.model
    }

    /// Totals over every line so far.
    pub fn totals(&self) -> Evaluation {
        self.totals
    }
}

/// `buffer`'s allocation, emptied, for references of another lifetime (an empty vector
/// holds no references; collecting in place keeps the allocation).
fn reuse<'a, 'b>(mut buffer: Vec<&'a str>) -> Vec<&'b str> {
    buffer.clear();
    buffer.into_iter().map(|_| -> &'b str { unreachable!("the vector is empty") }).collect()
}
