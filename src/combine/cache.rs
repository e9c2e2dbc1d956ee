//! The neural cache (Grave, Joulin and Usunier 2017): a pointer distribution over the
//! tokens that followed the last N top-layer outputs of the stream.
//!
//! With h_k the top layer's output that predicts token y_k, the cache at position k holds
//! the pairs (h_i, y_i) for k − N ≤ i < k, and
//!
//!   p_cache(w | h_k) = Σ_{i : y_i = w} exp(θ·h_k·h_i) / Σ_i exp(θ·h_k·h_i),
//!
//! mixed into the model as (1 − λc)·p_rnn + λc·p_cache (the model alone while the cache
//! is empty). The dot products come from one GEMM per block of positions against the
//! window the block sees; each position's two sums are taken in f32 lanes, relative to
//! the window's largest term.

use crate::rnn::cpu::ops::matmul;
use crate::rnn::cpu::simd::pointer_sums;
use rayon::prelude::*;

/// The cache's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeuralCache {
    /// N: how many recent outputs it holds.
    pub size: usize,
    /// θ: the inverse temperature of the pointer softmax.
    pub theta: f64,
    /// λc: the weight of the cache in the mixture.
    pub lambda: f64,
}

/// Positions scored per GEMM.
const BLOCK: usize = 256;

impl NeuralCache {
    /// log10 p_cache(y_k | h_k) for every position k of a stream whose outputs are
    /// `hidden` ([K, h] row-major) and whose predicted tokens are `targets` [K]: None while
    /// the cache is empty (k = 0 or N = 0), −∞ when y_k is not in it.
    pub fn log10_probs(&self, hidden: &[f32], h: usize, targets: &[u32]) -> Vec<Option<f64>> {
        let k_all = targets.len();
        debug_assert_eq!(hidden.len(), k_all * h);
        let mut out = Vec::with_capacity(k_all);
        let mut scores = Vec::new();
        for first in (0..k_all).step_by(BLOCK) {
            let end = (first + BLOCK).min(k_all);
            let from = first.saturating_sub(self.size);
            // S = H_block · H_windowᵀ: [end − first, first.. end − from].
            let (rows, cols) = (end - first, end - from);
            scores.clear();
            scores.resize(rows * cols, 0.0f32);
            matmul(&mut scores, &hidden[first * h..end * h], &hidden[from * h..end * h], rows, h, cols, false, true, false);
            // Position k sees i in [max(k − N, 0), k); positions in parallel.
            let block: Vec<Option<f64>> = (first..end)
                .into_par_iter()
                .map(|k| {
                    let row = &scores[(k - first) * cols..(k - first + 1) * cols];
                    let lo = k.saturating_sub(self.size);
                    self.pointer(&row[lo - from..k - from], &targets[lo..k], targets[k])
                })
                .collect();
            out.extend(block);
        }
        out
    }

    /// log10 of the pointer probability of `target` given the dot products `dots` with the
    /// window's outputs and the tokens that followed them (sums of e^{θ·(d − max d)} in
    /// f32 lanes; θ < 0 is taken through the minimum instead).
    fn pointer(&self, dots: &[f32], followers: &[u32], target: u32) -> Option<f64> {
        if dots.is_empty() {
            return None;
        }
        let (all, hit) = if self.theta >= 0.0 {
            pointer_sums(dots, followers, target, self.theta as f32)
        } else {
            let flipped: Vec<f32> = dots.iter().map(|d| -d).collect();
            pointer_sums(&flipped, followers, target, -self.theta as f32)
        };
        Some((hit as f64 / all as f64).log10())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one position at a time in f64.
    fn direct(cache: &NeuralCache, hidden: &[f32], h: usize, targets: &[u32], k: usize) -> Option<f64> {
        let lo = k.saturating_sub(cache.size);
        if lo == k {
            return None;
        }
        let dot = |i: usize| (0..h).map(|j| hidden[k * h + j] as f64 * hidden[i * h + j] as f64).sum::<f64>();
        let all: f64 = (lo..k).map(|i| (cache.theta * dot(i)).exp()).sum();
        let hit: f64 = (lo..k).filter(|&i| targets[i] == targets[k]).map(|i| (cache.theta * dot(i)).exp()).sum();
        Some((hit / all).log10())
    }

    #[test]
    fn blocked_pointer_matches_the_definition() {
        let (h, k_all) = (5, 700);
        let mut rng = crate::rng::Rng::new(7);
        let hidden: Vec<f32> = (0..k_all * h).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
        let targets: Vec<u32> = (0..k_all).map(|_| rng.below(9) as u32).collect();
        let cache = NeuralCache { size: 300, theta: 0.7, lambda: 0.1 };
        let got = cache.log10_probs(&hidden, h, &targets);
        for (k, &got_k) in got.iter().enumerate() {
            match (got_k, direct(&cache, &hidden, h, &targets, k)) {
                (None, None) => {}
                (Some(a), Some(b)) if a == b || (a - b).abs() < 1e-5 => {}
                other => panic!("position {k}: {other:?}"),
            }
        }
        assert_eq!(got[0], None);
        assert!(got[1..].iter().all(Option::is_some));
    }
}
