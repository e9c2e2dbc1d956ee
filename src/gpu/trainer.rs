//! `GpuTrainer`: [`Trainer`] on the GPU with every tensor resident for the whole run.
//!
//! Shapes: built for n rows and chunks of at most T steps. `step` accepts batches of
//! exactly n rows and 1 ≤ T' ≤ T steps; `evaluate` accepts batches of n' ≤ n rows
//! (the same n' for every batch of one call) and T' ≤ T steps. Programs (dispatch lists
//! with their bind groups) are built once per distinct (n', T') and cached.
//!
//! One `step` = two small queue writes (tokens, per-step uniform) and one submission:
//! copy the carried state into H's first n rows, the whole step program, copy H_T back to
//! the state. The host never waits inside a step; (loss, ‖g‖, clipped) land in a GPU
//! stats buffer, read only by `drain_stats` (or when its slots run out).

use super::buffers::{Allocator, ParamLayout};
use super::context::GpuContext;
use super::limits::{self, EVAL_SLOTS, STATS_SLOTS};
use super::params::StepParams;
use super::profile::{self, StepProfile, Timer, Timestamps};
use super::program::{DispatchInfo, Program};
use super::schedule::{self, Buffers, LayerBuffers, Mode, Shapes};
use super::tokens::TokenLayout;
use crate::error::{ElmanError, Result};
use crate::model::{ModelConfig, Params};
use crate::trainer::{Batch, Optimizer, OptimizerState, StepStats, Trainer, UpdateConfig};
use std::collections::HashMap;
use std::sync::Arc;

pub struct GpuTrainer {
    ctx: Arc<GpuContext>,
    config: ModelConfig,
    update: UpdateConfig,
    n: usize,
    t: usize,
    layout: ParamLayout,
    tokens: TokenLayout,
    bufs: Buffers,
    programs: HashMap<(Mode, usize, usize), Program>,
    /// Steps recorded since the last stats readback (= next stats slot).
    slot: usize,
    drained: Vec<StepStats>,
    updates: u64,
    bytes: u64,
}

impl GpuTrainer {
    /// Uploads `params` and allocates every buffer for batches of n rows × up to T steps,
    /// after checking each buffer against the adapter's limits.
    pub fn new(ctx: Arc<GpuContext>, config: ModelConfig, params: &Params<f32>, update: UpdateConfig, n: usize, t: usize) -> Result<Self> {
        config.validate()?;
        if n == 0 || t == 0 {
            return Err(ElmanError::Config(format!("the GPU trainer needs a batch of n ≥ 1 rows and T ≥ 1 steps, got n={n}, T={t}")));
        }
        let layout = ParamLayout::new(&config);
        layout.check(params, "initial parameters")?;
        let adam = matches!(update.optimizer, Optimizer::Adam { .. });
        let drops = update.dropout > 0.0;
        limits::check(ctx.limits(), &config, n, t, &update)?;
        let tokens = TokenLayout { capacity: n * t, vocab: config.vocab };
        let rows = n * t;
        let mut a = Allocator::new(&ctx.device);
        let total = layout.total;
        let layers = config
            .hidden
            .iter()
            .enumerate()
            .map(|(l, &h)| LayerBuffers {
                proj: a.zeros(&format!("layers.{l} projection"), rows * h),
                hidden: a.zeros(&format!("layers.{l} hidden"), (t + 1) * n * h),
                d_hidden: a.zeros(&format!("layers.{l} hidden grads"), rows * h),
                d_pre: a.zeros(&format!("layers.{l} pre-activation grads"), rows * h),
                state: a.zeros(&format!("layers.{l} state"), n * h),
                eval_state: a.zeros(&format!("layers.{l} eval state"), n * h),
                sample_state: a.zeros(&format!("layers.{l} sample state"), h),
                dropout_input: (drops && l > 0).then(|| a.zeros(&limits::dropout_input_label(l), rows * config.layer_input(l))),
            })
            .collect();
        let bufs = Buffers {
            params: a.init("params", &layout.flatten(params)),
            recurrent_t: a.zeros("recurrent weights transposed", layout.transposed_total),
            grads: a.zeros("grads", total),
            moment1: a.zeros("moment1", total),
            moment2: a.zeros("moment2", if adam { total } else { 1 }),
            tokens: a.zeros("tokens", tokens.len()),
            emb_rows: a.zeros("embedding rows", rows * config.embed),
            d_emb_rows: a.zeros("embedding row grads", rows * config.embed),
            logits: a.zeros("logits", rows * config.vocab),
            row_loss: a.zeros("row losses", rows),
            partials: a.zeros("norm partials", super::launch::NUM_PARTIALS as usize),
            clip: a.zeros("clip", 4),
            stats: a.zeros("stats", STATS_SLOTS * 4),
            eval_sums: a.zeros("eval sums", EVAL_SLOTS),
            step: a.uniform("step params", bytemuck::bytes_of(&StepParams::default())),
            layers,
            dropout_top: drops.then(|| a.zeros(limits::DROPOUT_TOP_LABEL, rows * config.top_hidden())),
        };
        let bytes = a.bytes;
        let mut trainer = GpuTrainer {
            ctx,
            config,
            update,
            n,
            t,
            layout,
            tokens,
            bufs,
            programs: HashMap::new(),
            slot: 0,
            drained: Vec::new(),
            updates: 0,
            bytes,
        };
        trainer.program(Mode::Train, n, t);
        Ok(trainer)
    }

    /// The cached program for (mode, n, T), built on first use.
    fn program(&mut self, mode: Mode, n: usize, t: usize) -> &Program {
        if !self.programs.contains_key(&(mode, n, t)) {
            let shapes = Shapes { config: &self.config, layout: &self.layout, tokens: self.tokens, update: &self.update };
            let program = schedule::build(&self.ctx, &shapes, &self.bufs, n, t, mode);
            self.bytes += program.bytes;
            self.programs.insert((mode, n, t), program);
        }
        &self.programs[&(mode, n, t)]
    }

    /// Dispatches in one training step of the full chunk length T.
    pub fn dispatches_per_step(&self) -> usize {
        self.programs[&(Mode::Train, self.n, self.t)].len()
    }

    /// Every dispatch of one training step of the full chunk length T, in order.
    pub fn step_dispatches(&self) -> Vec<DispatchInfo> {
        self.programs[&(Mode::Train, self.n, self.t)].dispatches()
    }

    /// Of those, the recurrent ones that depend on each other in sequence (2·L·T).
    pub fn recurrent_dispatches_per_step(&self) -> usize {
        schedule::recurrent_dispatches(self.config.layers(), self.t)
    }

    /// Bytes of GPU memory this trainer allocated (storage and uniform buffers).
    pub fn bytes_allocated(&self) -> u64 {
        self.bytes
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    fn check_tokens(&self, batch: &Batch) -> Result<()> {
        if batch.inputs.len() != batch.n * batch.t || batch.targets.len() != batch.inputs.len() {
            return Err(ElmanError::Config(format!("batch of {}×{} holds {} inputs and {} targets", batch.n, batch.t, batch.inputs.len(), batch.targets.len())));
        }
        batch.inputs.iter().chain(&batch.targets).try_for_each(|&v| crate::sample::check_token(v, self.config.vocab))
    }

    fn write_step_params(&self, lr: f32, slot: usize) {
        let (bc1, bc2) = match self.update.optimizer {
            Optimizer::Adam { beta1, beta2, .. } => {
                let k = self.updates as i32;
                ((1.0 - (beta1 as f64).powi(k)) as f32, (1.0 - (beta2 as f64).powi(k)) as f32)
            }
            Optimizer::Sgd { .. } => (1.0, 1.0),
        };
        let update = self.updates as u32;
        self.ctx.write(&self.bufs.step, 0, &[StepParams { lr, bc1, bc2, slot: slot as u32, update, ..Default::default() }]);
    }

    /// Encodes: the mode's carried state → H's first rows, the program, H_T → that state.
    /// With `timing`, the dispatches also write timestamps into its query set (profile).
    fn encode(&self, key: (Mode, usize, usize), timing: Option<(Timer, &Timestamps)>) -> wgpu::CommandEncoder {
        let (mode, n, t) = key;
        let program = &self.programs[&key];
        let label = format!("{mode:?} step");
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(&label) });
        for (lb, &h) in self.bufs.layers.iter().zip(&self.config.hidden) {
            enc.copy_buffer_to_buffer(lb.state_for(mode), 0, &lb.hidden, 0, (n * h * 4) as u64);
        }
        match timing {
            Some((Timer::PassPerDispatch, stamps)) => program.record_pass_per_dispatch(&self.ctx, &mut enc, &stamps.set, 0),
            _ => {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(&label), timestamp_writes: None });
                match timing {
                    Some((Timer::InsidePasses, stamps)) => program.record_timed(&self.ctx, &mut pass, &stamps.set, 0),
                    _ => program.record(&self.ctx, &mut pass),
                }
            }
        }
        for (lb, &h) in self.bufs.layers.iter().zip(&self.config.hidden) {
            let block = (n * h * 4) as u64;
            enc.copy_buffer_to_buffer(&lb.hidden, t as u64 * block, lb.state_for(mode), 0, block);
        }
        enc
    }

    /// [`Self::encode`], then one submission (no wait).
    fn submit(&self, key: (Mode, usize, usize)) {
        self.ctx.queue.submit([self.encode(key, None).finish()]);
    }

    /// Zeroes the sampling state (Mode::Logits), leaving the training and evaluation
    /// states alone.
    pub(super) fn reset_sample_state(&self) {
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("sample reset") });
        for lb in &self.bufs.layers {
            enc.clear_buffer(&lb.sample_state, 0, None);
        }
        self.ctx.queue.submit([enc.finish()]);
    }

    /// One sampling step from the sampling state: H_t = φ(x_t W_xh + b_h + H_{t-1} W_hh)
    /// per layer for the single input `token` (n = 1, T = 1), logits = H^L_t W_q + b_q.
    /// The step and the readback of the V logits are one submission; the host waits for it.
    pub(super) fn sample_step(&mut self, token: u32) -> Result<Vec<f32>> {
        crate::sample::check_token(token, self.config.vocab)?;
        let key = (Mode::Logits, 1, 1);
        self.ctx.write(&self.bufs.tokens, self.tokens.inputs_off() as usize, &[token]);
        self.program(key.0, key.1, key.2);
        let enc = self.encode(key, None);
        self.ctx.submit_and_read(enc, &self.bufs.logits, 0, self.config.vocab)
    }

    /// Training steps on `batches` (n × T each), each one submitted alone and waited for,
    /// its dispatches timed with the best [`Timer`] the device has: the median time of
    /// each dispatch and of the whole step. The steps train as [`Trainer::step`] would.
    pub fn profile(&mut self, batches: &[Batch], lr: f32) -> Result<StepProfile> {
        let timer = Timer::of(&self.ctx);
        let key = (Mode::Train, self.n, self.t);
        let dispatches = self.program(key.0, key.1, key.2).dispatches();
        let stamps = match timer {
            Timer::WholeSubmission => None,
            _ => Some(Timestamps::new(&self.ctx, timer.queries(dispatches.len()))?),
        };
        let (mut per_step, mut walls) = (Vec::new(), Vec::new());
        for batch in batches {
            if (batch.n, batch.t) != (self.n, self.t) {
                return Err(ElmanError::Config(format!("profile batches must be {}×{}, got {}×{}", self.n, self.t, batch.n, batch.t)));
            }
            self.check_tokens(batch)?;
            if self.slot == STATS_SLOTS {
                self.read_stats()?;
            }
            self.updates += 1;
            self.ctx.write(&self.bufs.tokens, 0, &self.tokens.pack(&batch.inputs, &batch.targets));
            self.write_step_params(lr, self.slot);
            let start = std::time::Instant::now();
            let enc = self.encode(key, stamps.as_ref().map(|s| (timer, s)));
            let ns = match &stamps {
                Some(s) => profile::durations(timer, &s.submit_and_read(&self.ctx, enc)?, dispatches.len()),
                None => {
                    self.ctx.submit_and_read(enc, &self.bufs.clip, 0, 1)?;
                    vec![0.0; dispatches.len()]
                }
            };
            walls.push(vec![start.elapsed().as_secs_f64() * 1e6]);
            per_step.push(ns);
            self.slot += 1;
        }
        let step_wall_us = profile::median_rows(&walls).first().copied().unwrap_or(0.0);
        Ok(StepProfile { timer, dispatches, ns: profile::median_rows(&per_step), step_wall_us })
    }

    /// Reads stats slots [0, slot) into `drained` (a sync point).
    fn read_stats(&mut self) -> Result<()> {
        let raw = self.ctx.read_f32(&self.bufs.stats, 0, self.slot * 4)?;
        self.drained
            .extend(raw.chunks_exact(4).map(|s| StepStats { loss: s[0], grad_norm: s[1], clipped: s[2] > 0.5 }));
        self.slot = 0;
        Ok(())
    }

    fn read_tensor_set(&self, buffer: &wgpu::Buffer) -> Result<Params<f32>> {
        let flat = self.ctx.read_f32(buffer, 0, self.layout.total)?;
        let mut p = Params::zeros(&self.config);
        self.layout.unflatten(&flat, &mut p);
        Ok(p)
    }
}

impl Trainer for GpuTrainer {
    fn device_name(&self) -> String {
        self.ctx.describe()
    }

    fn step(&mut self, batch: &Batch, lr: f32) -> Result<()> {
        if batch.n != self.n || batch.t == 0 || batch.t > self.t {
            return Err(ElmanError::Config(format!(
                "batch of {}×{} does not fit a GPU trainer built for {} rows × up to {} steps",
                batch.n, batch.t, self.n, self.t
            )));
        }
        self.check_tokens(batch)?;
        if self.slot == STATS_SLOTS {
            self.read_stats()?;
        }
        self.updates += 1;
        self.ctx.write(&self.bufs.tokens, 0, &self.tokens.pack(&batch.inputs, &batch.targets));
        self.write_step_params(lr, self.slot);
        self.program(Mode::Train, batch.n, batch.t);
        self.submit((Mode::Train, batch.n, batch.t));
        self.slot += 1;
        Ok(())
    }

    fn drain_stats(&mut self) -> Result<Vec<StepStats>> {
        if self.slot > 0 {
            self.read_stats()?;
        }
        Ok(std::mem::take(&mut self.drained))
    }

    fn evaluate(&mut self, batches: &[Batch]) -> Result<f64> {
        let Some(first) = batches.first() else {
            return Err(ElmanError::Config("nothing to evaluate: no batches".into()));
        };
        let n = first.n;
        for b in batches {
            if b.n != n || n > self.n || b.t == 0 || b.t > self.t {
                return Err(ElmanError::Config(format!(
                    "evaluation batch of {}×{} does not fit a GPU trainer built for {} rows × up to {} steps (all batches need the same row count)",
                    b.n, b.t, self.n, self.t
                )));
            }
            self.check_tokens(b)?;
        }
        // Stats of training steps already recorded keep their slots; evaluation uses its own.
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("eval reset") });
        for lb in &self.bufs.layers {
            enc.clear_buffer(&lb.eval_state, 0, None);
        }
        self.ctx.queue.submit([enc.finish()]);
        let mut total = 0.0f64;
        let mut count = 0usize;
        for chunk in batches.chunks(EVAL_SLOTS) {
            for (slot, b) in chunk.iter().enumerate() {
                self.ctx.write(&self.bufs.tokens, 0, &self.tokens.pack(&b.inputs, &b.targets));
                self.write_step_params(0.0, slot);
                self.program(Mode::Eval, b.n, b.t);
                self.submit((Mode::Eval, b.n, b.t));
                count += b.targets.len();
            }
            total += self.ctx.read_f32(&self.bufs.eval_sums, 0, chunk.len())?.iter().map(|&s| s as f64).sum::<f64>();
        }
        // The per-step uniform now holds an eval slot; the next step rewrites it.
        Ok(total / count as f64)
    }

    fn params(&mut self) -> Result<Params<f32>> {
        self.read_tensor_set(&self.bufs.params)
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        let first = self.read_tensor_set(&self.bufs.moment1)?;
        let second = match self.update.optimizer {
            Optimizer::Adam { .. } => self.read_tensor_set(&self.bufs.moment2)?,
            Optimizer::Sgd { .. } => Params::zeros(&self.config),
        };
        Ok(OptimizerState { updates: self.updates, first, second })
    }

    fn set_optimizer_state(&mut self, state: &OptimizerState) -> Result<()> {
        self.layout.check(&state.first, "optimizer state (first moment)")?;
        self.layout.check(&state.second, "optimizer state (second moment)")?;
        self.ctx.write(&self.bufs.moment1, 0, &self.layout.flatten(&state.first));
        if matches!(self.update.optimizer, Optimizer::Adam { .. }) {
            self.ctx.write(&self.bufs.moment2, 0, &self.layout.flatten(&state.second));
        }
        self.updates = state.updates;
        Ok(())
    }

    fn hidden(&mut self) -> Result<Vec<Vec<f32>>> {
        self.bufs.layers.iter().zip(&self.config.hidden).map(|(lb, &h)| self.ctx.read_f32(&lb.state, 0, self.n * h)).collect()
    }

    fn set_hidden(&mut self, hidden: &[Vec<f32>]) -> Result<()> {
        let fits = hidden.len() == self.config.layers() && hidden.iter().zip(&self.config.hidden).all(|(s, &h)| s.len() == self.n * h);
        if !fits {
            return Err(ElmanError::Config("hidden state does not match the model's layers and batch".into()));
        }
        for (lb, s) in self.bufs.layers.iter().zip(hidden) {
            self.ctx.write(&lb.state, 0, s);
        }
        Ok(())
    }
}
