//! Shared benchmark pieces for `elman bench` and benches/step.rs: the default model sizes,
//! seeded random batches, and a timed run of training steps with the device drained.
//!
//! Shapes: V, d, h (every layer), L layers, n rows, T steps per chunk.

use crate::error::{ElmanError, Result};
use crate::rnn::model::{Activation, ModelConfig};
use crate::rng::Rng;
use crate::rnn::backend::{Batch, Trainer};
use std::time::{Duration, Instant};

/// One benchmark configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BenchSize {
    pub vocab: usize,
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
    pub n: usize,
    pub t: usize,
}

impl BenchSize {
    /// The default sizes: (V=65, d=64, h=512, L=1, n=32, T=64), the same with L=2, and
    /// (h=1024, n=64, T=128).
    pub fn defaults() -> Vec<BenchSize> {
        let base = BenchSize { vocab: 65, embed: 64, hidden: 512, layers: 1, n: 32, t: 64 };
        vec![base, BenchSize { layers: 2, ..base }, BenchSize { hidden: 1024, n: 64, t: 128, ..base }]
    }

    /// Parses "VxdxhxLxnxT", e.g. "65x64x512x1x32x64".
    pub fn parse(s: &str) -> Result<BenchSize> {
        let v: Vec<usize> = s.split('x').map(|p| p.trim().parse::<usize>()).collect::<std::result::Result<_, _>>().map_err(|_| bad(s))?;
        match v[..] {
            [vocab, embed, hidden, layers, n, t] if v.iter().all(|&x| x > 0) => Ok(BenchSize { vocab, embed, hidden, layers, n, t }),
            _ => Err(bad(s)),
        }
    }

    pub fn config(&self) -> ModelConfig {
        ModelConfig { vocab: self.vocab, embed: self.embed, hidden: vec![self.hidden; self.layers], activation: Activation::Tanh, tied: false, cell: Default::default() }
    }

    pub fn tokens_per_step(&self) -> usize {
        self.n * self.t
    }

    /// "V=65 d=64 h=512 L=1 n=32 T=64".
    pub fn label(&self) -> String {
        format!("V={} d={} h={} L={} n={} T={}", self.vocab, self.embed, self.hidden, self.layers, self.n, self.t)
    }

    /// Short id for bench names: "h512_l1_n32_t64".
    pub fn id(&self) -> String {
        format!("h{}_l{}_n{}_t{}", self.hidden, self.layers, self.n, self.t)
    }
}

fn bad(s: &str) -> ElmanError {
    ElmanError::Config(format!("size '{s}' is not VxdxhxLxnxT with six positive integers (e.g. 65x64x512x1x32x64)"))
}

/// `count` batches of uniformly random tokens (the speed does not depend on the text).
pub fn random_batches(size: &BenchSize, count: usize, seed: u64) -> Vec<Batch> {
    let mut rng = Rng::new(seed);
    let len = size.n * size.t;
    (0..count)
        .map(|_| {
            let mut draw = || (0..len).map(|_| rng.below(size.vocab as u64) as u32).collect::<Vec<u32>>();
            Batch { n: size.n, t: size.t, inputs: draw(), targets: draw() }
        })
        .collect()
}

/// Wall time of one step per batch, the device drained (stats read back) inside the timing.
pub fn time_steps(trainer: &mut dyn Trainer, batches: &[Batch], lr: f32) -> Result<Duration> {
    let start = Instant::now();
    for b in batches {
        trainer.step(b, lr)?;
    }
    let stats = trainer.drain_stats()?;
    let elapsed = start.elapsed();
    if let Some(s) = stats.iter().find(|s| !s.loss.is_finite()) {
        return Err(ElmanError::Gpu(format!("benchmark produced a non-finite loss {}", s.loss)));
    }
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_reject() {
        assert_eq!(BenchSize::parse("65x64x512x1x32x64").unwrap(), BenchSize::defaults()[0]);
        assert!(BenchSize::parse("65x64x512").is_err());
        assert!(BenchSize::parse("65x64x0x1x32x64").is_err());
        assert_eq!(random_batches(&BenchSize::defaults()[0], 2, 1)[1].inputs.len(), 32 * 64);
    }
}
