//! `CpuTrainer`: the reference implementation of [`Trainer`] — forward, BPTT, global-norm
//! clipping and SGD/Adam on the CPU, with the hidden state carried between chunks.

use super::bptt::{forward, loss_and_gradients, mean_loss, ForwardCache};
use super::ops;
use crate::error::{ElmanError, Result};
use crate::rnn::model::{ModelConfig, Params};
use crate::rnn::backend::{Batch, Evaluate, Optimizer, OptimizerState, RowScores, StepStats, Trainer, UpdateConfig};

/// Trains in f32 on the CPU (GEMMs on faer's thread pool).
pub struct CpuTrainer {
    config: ModelConfig,
    update: UpdateConfig,
    n: usize,
    params: Params<f32>,
    grads: Params<f32>,
    first: Params<f32>,
    second: Params<f32>,
    updates: u64,
    hidden: Vec<Vec<f32>>,
    stats: Vec<StepStats>,
}

impl CpuTrainer {
    /// A trainer for batches of `n` rows, starting from `params` with a zero hidden state.
    pub fn new(config: ModelConfig, params: Params<f32>, update: UpdateConfig, n: usize) -> Result<Self> {
        config.validate()?;
        if n == 0 {
            return Err(ElmanError::Setting { key: "batch", problem: "must be > 0".into() });
        }
        let zeros = params.zeros_like();
        let hidden = config.hidden.iter().map(|&h| vec![0.0; n * h]).collect();
        Ok(CpuTrainer {
            update,
            n,
            grads: zeros.clone(),
            first: zeros.clone(),
            second: zeros,
            params,
            updates: 0,
            hidden,
            stats: Vec::new(),
            config,
        })
    }

    /// The gradient of the last step (before the clip factor the optimizer applied).
    pub fn last_gradients(&self) -> &Params<f32> {
        &self.grads
    }

    fn check_batch(&self, batch: &Batch) -> Result<()> {
        if batch.n != self.n || batch.inputs.len() != batch.n * batch.t || batch.targets.len() != batch.inputs.len() {
            return Err(ElmanError::Config(format!(
                "batch of {}×{} does not fit a trainer built for {} rows",
                batch.n, batch.t, self.n
            )));
        }
        Ok(())
    }

    /// One training step; returns its forward cache (the pass before the update).
    fn step_cached(&mut self, batch: &Batch, lr: f32) -> Result<ForwardCache<f32>> {
        self.check_batch(batch)?;
        let key = self.update.dropout_key(self.updates + 1);
        let (loss, cache) = loss_and_gradients(
            &self.config,
            &self.params,
            &self.hidden,
            &batch.inputs,
            &batch.targets,
            self.n,
            key.as_ref(),
            &mut self.grads,
        );
        // As on the GPU: the norm and the clip factor, then the optimizer scales by it.
        let (norm, scale) = ops::grad_norm(&[self.grads.as_flat()], self.update.clip);
        self.apply_update(lr, scale as f32);
        self.hidden = cache.final_hidden(&self.config, self.n);
        self.stats.push(StepStats { loss: loss as f32, grad_norm: norm as f32, clipped: scale < 1.0 });
        Ok(cache)
    }

    /// Applies the optimizer to every parameter with clip factor `scale`.
    fn apply_update(&mut self, lr: f32, scale: f32) {
        self.updates += 1;
        let wd = self.update.weight_decay;
        // One pass over the flat allocations, as the GPU's one dispatch (the pads stay zero).
        let (p, g) = (self.params.as_flat_mut(), self.grads.as_flat());
        let (m, v) = (self.first.as_flat_mut(), self.second.as_flat_mut());
        match self.update.optimizer {
            Optimizer::Sgd { momentum } => ops::sgd_update(p, g, m, lr, momentum, scale, wd),
            Optimizer::Adam { beta1, beta2, eps } => ops::adam_update(p, g, m, v, lr, beta1, beta2, eps, self.updates, scale, wd),
        }
    }
}

impl Evaluate for CpuTrainer {
    fn device_name(&self) -> String {
        cpu_device_name()
    }

    fn evaluate(&mut self, batches: &[Batch]) -> Result<f64> {
        evaluate_batches(&self.config, &self.params, batches)
    }

    fn score(&mut self, batches: &[Batch], top_hidden: bool) -> Result<RowScores> {
        score_batches(&self.config, &self.params, batches, top_hidden)
    }
}

/// "cpu (AMD EPYC, AVX-512, 2 threads)".
fn cpu_device_name() -> String {
    format!("cpu ({})", super::machine::describe(rayon_threads()))
}

/// Mean nats/token over `batches` in order, from a zero state carried across them.
fn evaluate_batches(config: &ModelConfig, params: &Params<f32>, batches: &[Batch]) -> Result<f64> {
    let mut total = 0.0;
    let mut count = 0usize;
    let mut state: Option<Vec<Vec<f32>>> = None;
    for batch in batches {
        let h0 = state.take().unwrap_or_else(|| config.hidden.iter().map(|&h| vec![0.0; batch.n * h]).collect());
        let cache = forward(config, params, &h0, &batch.inputs, batch.n, None);
        total += mean_loss(&cache, &batch.targets, config.vocab) * batch.targets.len() as f64;
        count += batch.targets.len();
        state = Some(cache.final_hidden(config, batch.n));
    }
    if count == 0 {
        return Err(ElmanError::Config("nothing to evaluate: no tokens".into()));
    }
    Ok(total / count as f64)
}

/// A forward-only CPU model for evaluation: the parameters alone, no gradient or optimizer
/// buffers (a trainer would hold three more copies of the parameters).
pub struct CpuModel {
    config: ModelConfig,
    params: Params<f32>,
}

impl CpuModel {
    pub fn new(config: ModelConfig, params: Params<f32>) -> Result<Self> {
        config.validate()?;
        Ok(CpuModel { config, params })
    }
}

impl Evaluate for CpuModel {
    fn device_name(&self) -> String {
        cpu_device_name()
    }

    fn evaluate(&mut self, batches: &[Batch]) -> Result<f64> {
        evaluate_batches(&self.config, &self.params, batches)
    }

    fn score(&mut self, batches: &[Batch], top_hidden: bool) -> Result<RowScores> {
        score_batches(&self.config, &self.params, batches, top_hidden)
    }
}

/// Appends one chunk's scores to `out`: −ln p per row by the evaluation formula
/// ([`ops::softmax_xent_loss`]), and the top layer's outputs when `top_hidden`.
fn append_scores(config: &ModelConfig, cache: &ForwardCache<f32>, targets: &[u32], n: usize, top_hidden: bool, out: &mut RowScores) {
    out.nats.extend(ops::softmax_xent_loss(&cache.logits, targets, config.vocab));
    if top_hidden {
        out.hidden.extend_from_slice(cache.outputs(config.layers() - 1, n, config.top_hidden()));
    }
}

/// Every row's score over `batches` in order, from a zero state carried across them: the
/// forward of [`evaluate_batches`].
fn score_batches(config: &ModelConfig, params: &Params<f32>, batches: &[Batch], top_hidden: bool) -> Result<RowScores> {
    let mut out = RowScores::default();
    let mut state: Option<Vec<Vec<f32>>> = None;
    for batch in batches {
        let h0 = state.take().unwrap_or_else(|| config.hidden.iter().map(|&h| vec![0.0; batch.n * h]).collect());
        let cache = forward(config, params, &h0, &batch.inputs, batch.n, None);
        append_scores(config, &cache, &batch.targets, batch.n, top_hidden, &mut out);
        state = Some(cache.final_hidden(config, batch.n));
    }
    if out.nats.is_empty() {
        return Err(ElmanError::Config("nothing to score: no tokens".into()));
    }
    Ok(out)
}

impl Trainer for CpuTrainer {
    fn step(&mut self, batch: &Batch, lr: f32) -> Result<()> {
        self.step_cached(batch, lr).map(|_| ())
    }

    fn step_scored(&mut self, batch: &Batch, lr: f32, top_hidden: bool) -> Result<RowScores> {
        let cache = self.step_cached(batch, lr)?;
        let mut out = RowScores::default();
        append_scores(&self.config, &cache, &batch.targets, self.n, top_hidden, &mut out);
        Ok(out)
    }

    fn drain_stats(&mut self) -> Result<Vec<StepStats>> {
        Ok(std::mem::take(&mut self.stats))
    }

    fn params(&mut self) -> Result<Params<f32>> {
        // Tied weights: output.w is no parameter of its own. Its slot is updated like the
        // GPU's (a zero gradient, so only weight decay moves it) but never read; readers get Eᵀ.
        let mut p = self.params.clone();
        if self.config.tied {
            p.tie_output();
        }
        Ok(p)
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        Ok(OptimizerState { updates: self.updates, first: self.first.clone(), second: self.second.clone() })
    }

    fn set_optimizer_state(&mut self, state: &OptimizerState) -> Result<()> {
        self.updates = state.updates;
        self.first = state.first.clone();
        self.second = state.second.clone();
        Ok(())
    }

    fn hidden(&mut self) -> Result<Vec<Vec<f32>>> {
        Ok(self.hidden.clone())
    }

    fn set_hidden(&mut self, hidden: &[Vec<f32>]) -> Result<()> {
        let fits = hidden.len() == self.config.layers() && hidden.iter().zip(&self.config.hidden).all(|(s, &h)| s.len() == self.n * h);
        if !fits {
            return Err(ElmanError::Config("hidden state does not match the model's layers and batch".into()));
        }
        self.hidden = hidden.to_vec();
        Ok(())
    }

    fn gradient_flow(&mut self, batch: &Batch, step: u64) -> Result<crate::rnn::backend::GradFlow> {
        self.check_batch(batch)?;
        Ok(crate::rnn::cpu::flow::measure(&self.config, &self.params, &self.hidden, batch, self.update.clip, step))
    }
}

/// Threads of the rayon pool the CPU path runs on (RAYON_NUM_THREADS, else every CPU).
fn rayon_threads() -> usize {
    rayon::current_num_threads()
}
