//! The gradient flow of one chunk measured on the CPU: the BPTT of a training step with the
//! per-step norms ‖∂L/∂H_t‖ recorded (src/rnn/train/gradflow.rs draws the records).

use super::bptt::loss_gradients_and_flow;
use super::ops::{clip_factor, grad_norm};
use crate::rnn::backend::{Batch, GradFlow, LayerFlow};
use crate::rnn::model::{ModelConfig, Params};

/// Measures the gradient flow of `batch` from state `h0` (no dropout), at `step`.
pub fn measure(config: &ModelConfig, params: &Params<f32>, h0: &[Vec<f32>], batch: &Batch, clip: Option<f32>, step: u64) -> GradFlow {
    let mut grads = params.zeros_like();
    let mut flow = Vec::new();
    let (loss, _) = loss_gradients_and_flow(config, params, h0, &batch.inputs, &batch.targets, batch.n, None, &mut grads, Some(&mut flow));
    let (norm, _) = grad_norm(&grads.tensors(), clip);
    let layers = flow
        .into_iter()
        .enumerate()
        .map(|(l, hidden_grad_norms)| LayerFlow { hidden_grad_norms, w_hh_grad_norm: grads.w_hh(l).iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt() })
        .collect();
    GradFlow { step, loss, layers, grad_norm: norm, clip_factor: clip_factor(norm, clip) }
}
