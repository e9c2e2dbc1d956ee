//! The RNN's share of a combined score: −ln p of every predicted token (and the top
//! layer's outputs, for the neural cache) from a stream, from a stream with dynamic
//! evaluation, or from independent sentences batched as rows.

use super::text::Text;
use crate::error::{ElmanError, Result};
use crate::rnn::backend::{Batch, Evaluate, RowScores, Trainer};
use crate::rnn::data::batcher::stream_batches;

/// The stream `ids` (n = 1, chunks of `seq_len`, state carried): one score per token
/// after the first, in order.
pub fn stream(model: &mut dyn Evaluate, ids: &[u32], seq_len: usize, top_hidden: bool) -> Result<RowScores> {
    model.score(&nonempty(stream_batches(ids, seq_len))?, top_hidden)
}

/// The stream scored by dynamic evaluation: each chunk is scored by the weights as they
/// are, then `trainer` (built for n = 1) takes a step on it with learning rate `lr`, so a
/// token's score never depends on its own gradient. The trainer starts from a zero state.
pub fn stream_dynamic(trainer: &mut dyn Trainer, ids: &[u32], seq_len: usize, lr: f32, top_hidden: bool) -> Result<RowScores> {
    let mut out = RowScores::default();
    for batch in nonempty(stream_batches(ids, seq_len))? {
        let scored = trainer.step_scored(&batch, lr, top_hidden)?;
        out.nats.extend(scored.nats);
        out.hidden.extend(scored.hidden);
    }
    Ok(out)
}

fn nonempty(batches: Vec<Batch>) -> Result<Vec<Batch>> {
    if batches.is_empty() {
        return Err(ElmanError::Data { what: "text".into(), detail: "needs at least 2 tokens to score".into() });
    }
    Ok(batches)
}

/// Every line of `text` as an independent sentence from a zero state, its first token
/// predicted from the sentence start: lines of similar length are batched `rows` at a time
/// (each row one line, padded at its end with the start token, whose scores are dropped),
/// in chunks of `seq_len`. Scores come back in text order ([`Text::places`]).
pub fn sentences(model: &mut dyn Evaluate, text: &Text, rows: usize, seq_len: usize) -> Result<Vec<f32>> {
    let start = text.sentence_start()?;
    if rows == 0 || seq_len == 0 {
        return Err(ElmanError::Config("sentence batches need at least one row and one step".into()));
    }
    let mut offsets = Vec::with_capacity(text.lines.len());
    let mut total = 0;
    for line in &text.lines {
        offsets.push(total);
        total += line.ids.len();
    }
    let mut out = vec![0.0f32; total];
    // Longest first, so that a group's rows have similar lengths.
    let mut order: Vec<usize> = (0..text.lines.len()).filter(|&i| !text.lines[i].ids.is_empty()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(text.lines[i].ids.len()));
    for group in order.chunks(rows) {
        let n = group.len();
        let steps = text.lines[group[0]].ids.len();
        // Row i's sequence: start, then its tokens, then padding.
        let token = |i: usize, s: usize| -> u32 {
            let ids = &text.lines[group[i]].ids;
            match s {
                0 => start,
                s if s <= ids.len() => ids[s - 1],
                _ => start,
            }
        };
        let batches: Vec<Batch> = (0..steps)
            .step_by(seq_len)
            .map(|first| {
                let t = seq_len.min(steps - first);
                let inputs = (first..first + t).flat_map(|s| (0..n).map(move |i| (i, s))).map(|(i, s)| token(i, s)).collect();
                let targets = (first..first + t).flat_map(|s| (0..n).map(move |i| (i, s + 1))).map(|(i, s)| token(i, s)).collect();
                Batch { n, t, inputs, targets }
            })
            .collect();
        let nats = model.score(&batches, false)?.nats;
        // Chunk c holds steps c·T.., rows time-major: step s of row i at (s − c·T)·n + i.
        let mut at = 0;
        for b in &batches {
            for s in 0..b.t {
                for (i, &line) in group.iter().enumerate() {
                    let step = at / n + s;
                    if step < text.lines[line].ids.len() {
                        out[offsets[line] + step] = nats[at + s * n + i];
                    }
                }
            }
            at += b.t * n;
        }
    }
    Ok(out)
}
