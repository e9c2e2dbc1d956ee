//! char-rnn batching: the token stream is cut into n contiguous streams; chunk k of every
//! stream (T inputs, the T next tokens as targets) forms batch k, so the hidden state
//! carried from batch k to k+1 continues the same text in every row.
//!
//! Stream i covers input positions [i·S, (i+1)·S) with S = ⌊(N−1)/n⌋; an epoch has ⌊S/T⌋
//! batches. Batches are time-major: `inputs[t·n + i]`.

use crate::error::{ElmanError, Result};

/// n streams × T time steps of inputs and their next-token targets, time-major:
/// `inputs[t * n + i]` is stream i's token at step t, `targets[t * n + i]` the token after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub n: usize,
    pub t: usize,
    pub inputs: Vec<u32>,
    pub targets: Vec<u32>,
}

/// Cuts a token stream into training batches, remembering where it is (for resume).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batcher {
    n: usize,
    t: usize,
    stream_len: usize,
    batches_per_epoch: u64,
    /// Batches handed out so far (across epochs).
    position: u64,
}

impl Batcher {
    /// Needs at least n·T + 1 tokens; the error says how many there are and what fits.
    pub fn new(num_tokens: usize, n: usize, t: usize) -> Result<Self> {
        if n == 0 {
            return Err(ElmanError::Setting { key: "batch", problem: "must be > 0".into() });
        }
        if t == 0 {
            return Err(ElmanError::Setting { key: "seq-len", problem: "must be > 0".into() });
        }
        let what = "training text".to_string();
        if t >= num_tokens {
            return Err(ElmanError::ShorterThanChunk { what, tokens: num_tokens, seq_len: t });
        }
        let needs = n.checked_mul(t).and_then(|nt| nt.checked_add(1));
        if needs.is_none_or(|needs| num_tokens < needs) {
            let needs = needs.unwrap_or(usize::MAX);
            return Err(ElmanError::TooFewTokensForBatch { what, tokens: num_tokens, n, seq_len: t, needs, fits: (num_tokens - 1) / t });
        }
        let stream_len = (num_tokens - 1) / n;
        Ok(Batcher { n, t, stream_len, batches_per_epoch: (stream_len / t) as u64, position: 0 })
    }

    pub fn batches_per_epoch(&self) -> u64 {
        self.batches_per_epoch
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// Continues from a stored position (resume).
    pub fn seek(&mut self, position: u64) {
        self.position = position;
    }

    /// The next batch, and whether it starts a new pass over the text (the carried hidden
    /// state should then restart from zero).
    pub fn next_batch(&mut self, tokens: &[u32]) -> (Batch, bool) {
        let k = (self.position % self.batches_per_epoch) as usize;
        self.position += 1;
        (self.batch_at(tokens, k), k == 0)
    }

    /// Batch k of an epoch.
    pub fn batch_at(&self, tokens: &[u32], k: usize) -> Batch {
        let (n, t) = (self.n, self.t);
        let mut inputs = vec![0; n * t];
        let mut targets = vec![0; n * t];
        for step in 0..t {
            for row in 0..n {
                let pos = row * self.stream_len + k * t + step;
                inputs[step * n + row] = tokens[pos];
                targets[step * n + row] = tokens[pos + 1];
            }
        }
        Batch { n, t, inputs, targets }
    }
}

/// The whole stream as one row (n = 1), in chunks of at most T steps, for scoring from a
/// zero state with the state carried across chunks: N−1 predictions in all.
pub fn stream_batches(tokens: &[u32], t: usize) -> Vec<Batch> {
    let predictions = tokens.len().saturating_sub(1);
    (0..predictions)
        .step_by(t.max(1))
        .map(|start| {
            let end = (start + t).min(predictions);
            Batch { n: 1, t: end - start, inputs: tokens[start..end].to_vec(), targets: tokens[start + 1..end + 1].to_vec() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_contiguous_across_batches() {
        let tokens: Vec<u32> = (0..23).collect();
        let mut b = Batcher::new(tokens.len(), 2, 3).unwrap();
        // S = 11, 3 batches per epoch; row 1 starts at 11.
        assert_eq!(b.batches_per_epoch(), 3);
        let (first, start) = b.next_batch(&tokens);
        assert!(start);
        assert_eq!(first.inputs, [0, 11, 1, 12, 2, 13]);
        assert_eq!(first.targets, [1, 12, 2, 13, 3, 14]);
        let (second, start) = b.next_batch(&tokens);
        assert!(!start);
        assert_eq!(second.inputs, [3, 14, 4, 15, 5, 16]);
        b.next_batch(&tokens);
        assert!(b.next_batch(&tokens).1, "the fourth batch starts epoch 2");
    }

    #[test]
    fn too_short_texts_are_refused_with_what_fits() {
        let flags = |e: crate::error::ElmanError| e.describe(&|k| format!("--{k}"));
        assert!(flags(Batcher::new(4, 1, 4).unwrap_err()).contains("shorter than --seq-len + 1"));
        assert!(flags(Batcher::new(20, 8, 4).unwrap_err()).contains("use --batch 4"));
    }

    #[test]
    fn stream_batches_score_every_next_token_once() {
        let tokens: Vec<u32> = (0..10).collect();
        let bs = stream_batches(&tokens, 4);
        assert_eq!(bs.iter().map(|b| b.t).collect::<Vec<_>>(), [4, 4, 1]);
        let targets: Vec<u32> = bs.iter().flat_map(|b| b.targets.clone()).collect();
        assert_eq!(targets, (1..10).collect::<Vec<_>>());
    }
}
