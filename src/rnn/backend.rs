//! The device-agnostic training interface: CPU and GPU meet here, at the level of a
//! whole step (docs/design.md, "CPU and GPU meet at the step"), never per op.
//!
//! Shapes: a [`Batch`] holds n rows × T steps of token ids, time-major (index t·n + i).

use crate::choice::Choice;
use crate::error::{ElmanError, Result};
pub use crate::rnn::data::batcher::Batch;
pub use crate::rnn::model::OptimizerState;
use crate::rnn::model::Params;
use serde::{Deserialize, Serialize};


/// Which update rule, with its hyper-parameters (the learning rate comes per step).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Optimizer {
    /// buf ← μ·buf + g;  p ← p − lr·buf  (μ = 0 is plain SGD).
    Sgd { momentum: f32 },
    /// m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
    /// p ← p − lr · (m / (1−β1^k)) / (√(v / (1−β2^k)) + ε)   at update number k ≥ 1.
    Adam { beta1: f32, beta2: f32, eps: f32 },
}

impl Optimizer {
    pub fn adam() -> Self {
        Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

/// Everything about the update that is not the model's shape.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateConfig {
    pub optimizer: Optimizer,
    /// θ for global gradient-norm clipping g ← min(1, θ/‖g‖)·g; `None` = off.
    pub clip: Option<f32>,
    /// Dropout probability on the non-recurrent connections (0 = off); see [`crate::rnn::dropout`].
    #[serde(default)]
    pub dropout: f32,
    /// Seed of the dropout mask stream (masks also depend on the update number).
    #[serde(default)]
    pub dropout_seed: u32,
    /// Weight decay: L2 for SGD (g ← g + wd·p), decoupled for Adam (AdamW: p ← p − lr·wd·p
    /// beside the Adam step); 0 = off.
    #[serde(default)]
    pub weight_decay: f32,
}

impl UpdateConfig {
    /// No dropout.
    pub fn new(optimizer: Optimizer, clip: Option<f32>) -> Self {
        UpdateConfig { optimizer, clip, dropout: 0.0, dropout_seed: 0, weight_decay: 0.0 }
    }

    /// The mask key for update number `update` (1-based), or None without dropout.
    pub fn dropout_key(&self, update: u64) -> Option<crate::rnn::dropout::DropoutKey> {
        (self.dropout > 0.0).then_some(crate::rnn::dropout::DropoutKey { p: self.dropout, seed: self.dropout_seed, update: update as u32 })
    }
}

/// What one step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Mean cross-entropy over the n·T predictions, nats/token.
    pub loss: f32,
    /// ‖g‖₂ over every gradient, before clipping.
    pub grad_norm: f32,
    /// Whether clipping scaled the gradient down.
    pub clipped: bool,
}


/// A model that scores text on some device (evaluation and validation).
pub trait Evaluate {
    /// Human-readable device name ("cpu (AMD EPYC, AVX-512, 2 threads)", adapter name, ...).
    fn device_name(&self) -> String;
    /// Mean nats/token over `batches` scored in order from a zero hidden state, carried
    /// across batches. Leaves any training state (parameters, carried hidden) untouched.
    fn evaluate(&mut self, batches: &[Batch]) -> Result<f64>;
    /// The same pass as [`Evaluate::evaluate`], reporting every prediction: per row of
    /// every batch (in batch order, rows time-major within a batch) −ln p(target), and with
    /// `top_hidden` the top layer's output H^L_t that made it. Same state rules.
    fn score(&mut self, batches: &[Batch], top_hidden: bool) -> Result<RowScores>;
}

/// Per-prediction results of a forward pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowScores {
    /// −ln p(target_r | history), nats, one per row.
    pub nats: Vec<f32>,
    /// The top layer's output per row, [rows, h_top] row-major; empty unless asked for.
    pub hidden: Vec<f32>,
}

/// A model being trained on some device. Hidden state is carried between `step` calls
/// (truncated BPTT: chunk k+1 starts from chunk k's final state, no gradient across).
pub trait Trainer: Evaluate {
    /// One forward + BPTT + clip + update on `batch` with learning rate `lr`. May only
    /// record work (GPU); results arrive through [`Trainer::drain_stats`].
    fn step(&mut self, batch: &Batch, lr: f32) -> Result<()>;
    /// [`Trainer::step`], returning what its forward pass (before the update) scored, as
    /// [`Evaluate::score`] does: the per-row −ln p and, with `top_hidden`, the top layer's
    /// outputs. Waits for the device. Dynamic evaluation scores a chunk then learns from it.
    fn step_scored(&mut self, batch: &Batch, lr: f32, top_hidden: bool) -> Result<RowScores>;
    /// Per-step stats of every step since the last drain, oldest first (a GPU sync point).
    fn drain_stats(&mut self) -> Result<Vec<StepStats>>;
    /// Current parameters (a GPU readback).
    fn params(&mut self) -> Result<Params<f32>>;
    /// Current optimizer state (a GPU readback).
    fn optimizer_state(&mut self) -> Result<OptimizerState>;
    /// Replaces the optimizer state (resume).
    fn set_optimizer_state(&mut self, state: &OptimizerState) -> Result<()>;
    /// The carried hidden state, one [n·h_l] row-major buffer per layer.
    fn hidden(&mut self) -> Result<Vec<Vec<f32>>>;
    /// Overwrites the carried hidden state (resume, or zeros to restart streams).
    fn set_hidden(&mut self, hidden: &[Vec<f32>]) -> Result<()>;
    /// The gradient flow of `batch` from the carried state with the current parameters
    /// (src/rnn/train/gradflow.rs): forward and backward without dropout, norms before clipping.
    /// Trains nothing: parameters, optimizer state and carried state stay as they are.
    /// `step` is the training step the record is labelled with.
    fn gradient_flow(&mut self, batch: &Batch, step: u64) -> Result<GradFlow>;
}

/// One layer's share of a gradient-flow record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerFlow {
    /// ‖∂L/∂H_t‖ (Frobenius over the batch rows) for t = 0 … T − 1.
    pub hidden_grad_norms: Vec<f64>,
    /// ‖∂L/∂W_hh‖ of this layer.
    pub w_hh_grad_norm: f64,
}

/// The gradient flow of one chunk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradFlow {
    /// The training step the chunk was taken at (0 for a standalone measurement).
    pub step: u64,
    /// Mean cross-entropy of the chunk, nats/token.
    pub loss: f64,
    pub layers: Vec<LayerFlow>,
    /// ‖g‖ over every parameter, before clipping.
    pub grad_norm: f64,
    /// min(1, θ/‖g‖): what clipping would scale the update by (1 without clipping).
    pub clip_factor: f64,
}

/// A model with a carried hidden state that reads one token at a time.
pub trait NextToken {
    /// Advances the state by one input token x_t: H^l_t = φ(H^{l-1}_t W_xh + b_h +
    /// H^l_{t-1} W_hh) for each layer l (H^0_t = E[x_t]), and returns the logits
    /// H^L_t W_q + b_q [V] for the next token.
    fn advance(&mut self, token: u32) -> Result<&[f32]>;
}

/// Errors unless `token` < `vocab`.
pub fn check_token(token: u32, vocab: usize) -> Result<()> {
    if token as usize >= vocab {
        return Err(ElmanError::Config(format!("token id {token} is outside the vocabulary of {vocab}")));
    }
    Ok(())
}

/// Where to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    Auto,
    Cpu,
    Gpu,
}

impl Choice for DeviceChoice {
    const WHAT: &'static str = "device";
    const TABLE: &'static [(Self, &'static str, &'static str)] = &[
        (DeviceChoice::Auto, "auto", "A hardware GPU when wgpu finds one, else the CPU"),
        (DeviceChoice::Cpu, "cpu", "The CPU"),
        (DeviceChoice::Gpu, "gpu", "A GPU adapter, software ones (lavapipe) included"),
    ];
}
