//! Text generation from a trained model: feed a prime, then repeatedly draw the next token
//! from softmax(logits / temperature) restricted to the top-k logits (k = 1 is greedy).
//! One token at a time with n = 1 and T = 1, through [`crate::rnn::backend::NextToken`]:
//! [`crate::rnn::cpu::CpuGenerator`] on the CPU path, [`crate::rnn::gpu::GpuGenerator`] on
//! the GPU.

use crate::rnn::backend::NextToken;
use crate::rnn::data::vocab::{TokenizerKind, Vocab, EOS};
use crate::error::{ElmanError, Result};
use crate::rng::Rng;

/// How to draw each token.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleOptions {
    /// > 0; below 1 sharpens the distribution, above 1 flattens it.
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = all; 1 = greedy argmax).
    pub top_k: usize,
}

impl SampleOptions {
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(ElmanError::Setting { key: "temperature", problem: format!("must be > 0, got {}", self.temperature) });
        }
        Ok(())
    }
}


/// Draws a token id from `logits` under `opts` (top-k 1 returns the first argmax).
pub fn pick(logits: &[f32], opts: SampleOptions, rng: &mut Rng) -> u32 {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    let k = if opts.top_k == 0 { order.len() } else { opts.top_k.min(order.len()) };
    let kept = &order[..k];
    let top = logits[kept[0]] as f64;
    let weights: Vec<f64> = kept.iter().map(|&i| ((logits[i] as f64 - top) / opts.temperature as f64).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.next_f64() * total;
    for (&i, &w) in kept.iter().zip(&weights) {
        if u < w {
            return i as u32;
        }
        u -= w;
    }
    kept[k - 1] as u32
}

/// Feeds `prime` to `generator`, then draws `len` tokens under `opts` from a generator
/// seeded with `seed`, handing each to `emit` as it is drawn (the same tokens on every
/// run with the same arguments). Before any token is fed the logits are zero. An error
/// from `emit` (a closed pipe, say) stops it and is returned as it is.
pub fn generate<E: From<ElmanError>>(
    generator: &mut dyn NextToken,
    vocab: usize,
    prime: &[u32],
    len: usize,
    opts: SampleOptions,
    seed: u64,
    mut emit: impl FnMut(u32) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    opts.validate()?;
    let mut logits = vec![0.0f32; vocab];
    let mut rng = Rng::new(seed);
    for &t in prime {
        logits.copy_from_slice(generator.advance(t)?);
    }
    for _ in 0..len {
        let next = pick(&logits, opts, &mut rng);
        emit(next)?;
        logits.copy_from_slice(generator.advance(next)?);
    }
    Ok(())
}

/// The prime as token ids; tokens outside the vocabulary are an error naming them.
/// An empty prime starts from a line break (char/byte) or `<eos>` (word), not printed.
pub fn encode_prime(vocab: &Vocab, prime: &str) -> Result<(Vec<u32>, bool)> {
    if prime.is_empty() {
        let start = match vocab.kind {
            TokenizerKind::Word => vocab.id(EOS),
            TokenizerKind::Byte => Some(b'\n' as u32),
            TokenizerKind::Char => vocab.id("\n").or(vocab.id(" ")),
        };
        return Ok((vec![start.unwrap_or(0)], false));
    }
    if vocab.kind == TokenizerKind::Word {
        let unseen: Vec<&str> = prime.split_whitespace().filter(|w| vocab.id(w).is_none()).collect();
        if !unseen.is_empty() {
            return Err(ElmanError::Data { what: "the prime text".into(), detail: format!("word(s) not in the model's vocabulary: {}", unseen.join(", ")) });
        }
        return Ok((prime.split_whitespace().map(|w| vocab.id(w).expect("checked above")).collect(), true));
    }
    let ids = vocab.encode(prime.as_bytes()).map_err(|e| match e {
        ElmanError::Data { detail, .. } => ElmanError::Data { what: "the prime text".into(), detail },
        other => other,
    })?;
    Ok((ids, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_one_is_argmax_and_sampling_follows_the_distribution() {
        let logits = [0.1f32, 2.0, -1.0, 2.0, 0.5];
        let mut rng = Rng::new(1);
        for t in [0.1f32, 1.0, 10.0] {
            assert_eq!(pick(&logits, SampleOptions { temperature: t, top_k: 1 }, &mut rng), 1);
        }
        let opts = SampleOptions { temperature: 1.0, top_k: 2 };
        for _ in 0..200 {
            let id = pick(&logits, opts, &mut rng);
            assert!(id == 1 || id == 3, "top-2 keeps only the two largest logits, got {id}");
        }
        let uniform = [0.0f32; 4];
        let mut counts = [0usize; 4];
        for _ in 0..40_000 {
            counts[pick(&uniform, SampleOptions { temperature: 1.0, top_k: 0 }, &mut rng) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (c as f64 - 10_000.0).abs() < 600.0), "{counts:?}");
    }
}
