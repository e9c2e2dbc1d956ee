//! `GpuGenerator`: text generation on the GPU, one token at a time (n = 1, T = 1), from a
//! [`GpuModel`]'s resident parameters and its own carried sampling state.
//!
//! Per token: one small queue write (the input id), one submission holding state → H's
//! first row, the Mode::Logits program (gather, the input GEMM of layer 0, L waves of one
//! lane each, the output GEMM), H_1 → state and the copy of the V logits into a mappable
//! buffer; then the host waits. That readback per token is inherent to sampling: the next
//! input is drawn on the host from these logits, so the GPU cannot run ahead.

use super::model::GpuModel;
use crate::error::Result;
use crate::rnn::backend::NextToken;

/// The GPU twin of [`crate::rnn::cpu::CpuGenerator`]: same math, state starting at zero.
pub struct GpuGenerator {
    model: GpuModel,
    logits: Vec<f32>,
}

impl GpuGenerator {
    /// Samples with `model`'s parameters from a zero sampling state (any n, T ≥ 1 works;
    /// n = T = 1 allocates least).
    pub fn new(model: GpuModel) -> Self {
        model.reset_sample_state();
        GpuGenerator { model, logits: Vec::new() }
    }

    /// Hands the model back (its sampling state keeps the last H).
    pub fn into_model(self) -> GpuModel {
        self.model
    }
}

impl NextToken for GpuGenerator {
    fn advance(&mut self, token: u32) -> Result<&[f32]> {
        self.logits = self.model.sample_step(token)?;
        Ok(&self.logits)
    }
}
