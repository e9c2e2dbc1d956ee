//! `CpuGenerator`: the model with its carried hidden state (n = 1) on the CPU, reading one
//! token at a time for sampling; the twin of [`crate::rnn::gpu::GpuGenerator`].

use super::bptt::forward;
use crate::error::Result;
use crate::rnn::backend::{check_token, NextToken};
use crate::rnn::model::{ModelConfig, Params};

/// The model with its carried hidden state (n = 1), on the CPU.
pub struct CpuGenerator<'a> {
    config: &'a ModelConfig,
    params: &'a Params<f32>,
    hidden: Vec<Vec<f32>>,
    logits: Vec<f32>,
}

impl<'a> CpuGenerator<'a> {
    pub fn new(config: &'a ModelConfig, params: &'a Params<f32>) -> Self {
        let hidden = config.hidden.iter().map(|&h| vec![0.0; h]).collect();
        Self::from_state(config, params, hidden)
    }

    /// Starts from `hidden` (one [h_l] per layer), as [`CpuGenerator::state`] gave it.
    pub fn from_state(config: &'a ModelConfig, params: &'a Params<f32>, hidden: Vec<Vec<f32>>) -> Self {
        CpuGenerator { config, params, hidden, logits: vec![0.0; config.vocab] }
    }

    /// The carried state H^l_t, one [h_l] per layer.
    pub fn state(&self) -> &[Vec<f32>] {
        &self.hidden
    }

    /// Advances the state by one input token; the logits for the next token are kept.
    pub fn feed(&mut self, token: u32) {
        let cache = forward(self.config, self.params, &self.hidden, &[token], 1, None);
        self.hidden = cache.final_hidden(self.config, 1);
        self.logits = cache.logits;
    }

    pub fn logits(&self) -> &[f32] {
        &self.logits
    }
}

impl NextToken for CpuGenerator<'_> {
    /// Errors on a token outside the vocabulary (the GPU twin's check).
    fn advance(&mut self, token: u32) -> Result<&[f32]> {
        check_token(token, self.config.vocab)?;
        self.feed(token);
        Ok(&self.logits)
    }
}

