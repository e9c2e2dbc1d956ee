//! `GpuGenerator`: text generation on the GPU, one token at a time (n = 1, T = 1), from a
//! [`GpuTrainer`]'s resident parameters and its own carried sampling state.
//!
//! Per token: one small queue write (the input id), one submission holding state → H's
//! first row, the Mode::Logits program (gather, per layer the input GEMM and one recurrent
//! step, the output GEMM), H_1 → state and the copy of the V logits into a mappable buffer;
//! then the host waits. That readback per token is inherent to sampling: the next input is
//! drawn on the host from these logits, so the GPU cannot run ahead.

use super::trainer::GpuTrainer;
use crate::error::Result;
use crate::sample::NextToken;

/// The GPU twin of [`crate::sample::Generator`]: same math, state starting at zero.
pub struct GpuGenerator {
    trainer: GpuTrainer,
    logits: Vec<f32>,
}

impl GpuGenerator {
    /// Samples with `trainer`'s current parameters from a zero state; the trainer's
    /// training and evaluation states are left untouched (any n, T ≥ 1 works; n = T = 1
    /// allocates least).
    pub fn new(trainer: GpuTrainer) -> Self {
        trainer.reset_sample_state();
        GpuGenerator { trainer, logits: Vec::new() }
    }

    /// Hands the trainer back (its sampling state keeps the last H).
    pub fn into_trainer(self) -> GpuTrainer {
        self.trainer
    }
}

impl NextToken for GpuGenerator {
    fn advance(&mut self, token: u32) -> Result<&[f32]> {
        self.logits = self.trainer.sample_step(token)?;
        Ok(&self.logits)
    }
}
