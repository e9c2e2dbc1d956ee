//! `GpuTrainer`: [`Trainer`] on the GPU with every tensor resident for the whole run — a
//! [`GpuModel`] (parameters, forward buffers) plus gradients, optimizer moments, the
//! backward buffers and the carried training state.
//!
//! Shapes: built for n rows and chunks of at most T steps. `step` accepts batches of
//! exactly n rows and 1 ≤ T' ≤ T steps; `evaluate` is the model's (n' ≤ n rows). The
//! training program is built once per T' and cached.
//!
//! One `step` = two small queue writes (tokens, per-step uniform) and one submission:
//! copy the carried state into H's first n rows, the whole step program, copy H_T back to
//! the state. The host never waits inside a step; (loss, ‖g‖, clipped) land in a GPU
//! stats buffer, read only by `drain_stats` (or when its slots run out).

use super::buffer_plan::{self, Role, STATS_SLOTS};
use super::buffers::Allocator;
use super::context::GpuContext;
use super::kernels::prelude::StepParams;
use super::model::GpuModel;
use super::profile::{self, StepProfile, Timer, Timestamps};
use super::program::{DispatchInfo, Program};
use super::program_cache::ProgramCache;
use super::recurrence::{self, ActivationLayout};
use super::step_program::{self, FlowBuffers, Mode, TrainBuffers};
use crate::error::{ElmanError, Result};
use crate::rnn::backend::{Batch, Evaluate, GradFlow, LayerFlow, Optimizer, OptimizerState, RowScores, StepStats, Trainer, UpdateConfig};
use crate::rnn::model::{ModelConfig, Params};
use std::sync::Arc;

pub struct GpuTrainer {
    model: GpuModel,
    update: UpdateConfig,
    train: TrainBuffers,
    /// Bytes of the training buffers (the model and the programs count their own).
    buffer_bytes: u64,
    /// The training program per chunk length T'.
    programs: ProgramCache<usize>,
    /// Steps recorded since the last stats readback (= next stats slot).
    slot: usize,
    drained: Vec<StepStats>,
    updates: u64,
    /// The gradient-flow buffers (made on the first `gradient_flow`) and program per T'.
    flow: Option<FlowBuffers>,
    flow_programs: ProgramCache<usize>,
}

impl GpuTrainer {
    /// Uploads `params` and allocates every buffer for batches of n rows × up to T steps,
    /// after checking each buffer against the adapter's limits.
    pub fn new(ctx: Arc<GpuContext>, config: ModelConfig, params: &Params<f32>, update: UpdateConfig, n: usize, t: usize) -> Result<Self> {
        let model = GpuModel::build(ctx, config, params, n, t, Some(&update))?;
        let mut a = Allocator::new(&model.context().device);
        let mut made = buffer_plan::allocate(&mut a, &buffer_plan::plan(model.config(), n, t, Some(&update)), |role| !role.is_forward());
        let train = TrainBuffers {
            recurrent_t: made.take(Role::RecurrentT),
            grads: made.take(Role::Grads),
            moment1: made.take(Role::Moment1),
            moment2: made.take(Role::Moment2),
            d_emb_rows: made.take(Role::DEmbRows),
            d_top: made.take(Role::DTop),
            d_pre: made.take(Role::DPre),
            partials: made.take(Role::Partials),
            clip: made.take(Role::Clip),
            stats: made.take(Role::Stats),
            states: (0..model.config().layers()).map(|l| made.take(Role::State(l))).collect(),
        };
        let buffer_bytes = a.bytes;
        let mut trainer = GpuTrainer {
            model,
            update,
            train,
            buffer_bytes,
            programs: ProgramCache::new(),
            slot: 0,
            drained: Vec::new(),
            updates: 0,
            flow: None,
            flow_programs: ProgramCache::new(),
        };
        trainer.program(t);
        Ok(trainer)
    }

    /// The cached training program for chunks of T' steps, built on first use.
    fn program(&mut self, t: usize) -> &Program {
        let GpuTrainer { model, update, train, programs, .. } = self;
        programs.get_or_build(t, || step_program::build(model.context(), &model.spec(Some(update)), model.forward_buffers(), Some(train), None, model.rows(), t, Mode::Train))
    }

    /// The forward model (evaluation, sampling) inside this trainer.
    pub fn model(&mut self) -> &mut GpuModel {
        &mut self.model
    }

    /// Dispatches in one training step of the full chunk length T.
    pub fn dispatches_per_step(&self) -> usize {
        self.programs.get(self.model.max_steps()).len()
    }

    /// Every dispatch of one training step of the full chunk length T, in order.
    pub fn step_dispatches(&self) -> Vec<DispatchInfo> {
        self.programs.get(self.model.max_steps()).dispatches()
    }

    /// Of those, the recurrent ones that depend on each other in sequence: the waves of
    /// the layer wavefront, T + L − 1 each way.
    pub fn recurrent_dispatches_per_step(&self) -> usize {
        recurrence::recurrent_dispatches(self.model.config().layers(), self.model.max_steps())
    }

    /// Bytes of GPU memory this trainer allocated (storage and uniform buffers, programs).
    pub fn bytes_allocated(&self) -> u64 {
        self.model.bytes_allocated() + self.buffer_bytes + self.programs.bytes() + self.flow_programs.bytes()
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        self.model.context()
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
        self.model.write_step(StepParams { lr, bc1, bc2, slot: slot as u32, update, ..Default::default() });
    }

    /// Refuses a batch whose shape or tokens do not fit this trainer.
    fn check_batch(&self, batch: &Batch) -> Result<()> {
        let (n, t) = (self.model.rows(), self.model.max_steps());
        if batch.n != n || batch.t == 0 || batch.t > t {
            return Err(ElmanError::Config(format!("batch of {}×{} does not fit a GPU trainer built for {n} rows × up to {t} steps", batch.n, batch.t)));
        }
        self.model.check_tokens(batch)
    }

    /// Checks the batch, uploads its tokens and the step uniform, and counts the update.
    fn prepare(&mut self, batch: &Batch, lr: f32) -> Result<()> {
        self.check_batch(batch)?;
        if self.slot == STATS_SLOTS {
            self.read_stats()?;
        }
        self.updates += 1;
        self.model.upload_batch(batch);
        self.write_step_params(lr, self.slot);
        self.program(batch.t);
        Ok(())
    }

    /// The encoder of one training step of T' steps (timed with `timing`).
    fn encode_step(&self, t: usize, timing: Option<(Timer, &Timestamps)>) -> wgpu::CommandEncoder {
        let m = &self.model;
        let mut enc = m.context().device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("train step") });
        m.encode(&mut enc, self.programs.get(t), &self.train.states, m.rows(), t, timing);
        enc
    }

    /// Training steps on `batches` (n × T each), each one submitted alone and waited for,
    /// its dispatches timed with the best [`Timer`] the device has: the median time of
    /// each dispatch and of the whole step. The steps train as [`Trainer::step`] would.
    pub fn profile(&mut self, batches: &[Batch], lr: f32) -> Result<StepProfile> {
        let ctx = self.model.context().clone();
        let timer = Timer::of(&ctx);
        let t = self.model.max_steps();
        let dispatches = self.program(t).dispatches();
        let stamps = match timer {
            Timer::WholeSubmission => None,
            _ => Some(Timestamps::new(&ctx, timer.queries(dispatches.len()))?),
        };
        let (mut per_step, mut walls) = (Vec::new(), Vec::new());
        for batch in batches {
            if batch.t != t {
                return Err(ElmanError::Config(format!("profile batches must be {}×{t}, got {}×{}", self.model.rows(), batch.n, batch.t)));
            }
            self.prepare(batch, lr)?;
            if self.programs.get(t).len() != dispatches.len() {
                return Err(ElmanError::Gpu("the step program was rebuilt while profiling (a persistent grid barrier gave up); profile again".into()));
            }
            let start = std::time::Instant::now();
            let enc = self.encode_step(t, stamps.as_ref().map(|s| (timer, s)));
            let ns = match &stamps {
                Some(s) => profile::durations(timer, &s.submit_and_read(&ctx, enc)?, dispatches.len()),
                None => {
                    ctx.submit_and_read(enc, &self.train.clip, 0, 1)?;
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

    /// The gradient-flow buffers, made (after a check against the adapter's limits) on
    /// first use.
    fn flow_buffers(&mut self) -> Result<&FlowBuffers> {
        if self.flow.is_none() {
            let m = &self.model;
            let (config, n, t) = (m.config(), m.rows(), m.max_steps());
            let dropout = self.update.dropout > 0.0;
            let planned = buffer_plan::flow_plan(config, n, t, dropout);
            super::limits::check_buffers(m.context().limits(), &planned)?;
            let mut a = Allocator::new(&m.context().device);
            let mut made = buffer_plan::allocate(&mut a, &planned, |_| true);
            let acts = ActivationLayout::for_flow(config, n, t, dropout);
            self.flow = Some(FlowBuffers { acts, d_pre: made.take(Role::FlowDPre), sums: made.take(Role::FlowSums) });
            self.buffer_bytes += a.bytes;
        }
        Ok(self.flow.as_ref().expect("made above"))
    }

    /// Reads stats slots [0, slot) into `drained` (a sync point).
    fn read_stats(&mut self) -> Result<()> {
        let raw = self.model.context().read_f32(&self.train.stats, 0, self.slot * 4)?;
        self.drained
            .extend(raw.chunks_exact(4).map(|s| StepStats { loss: s[0], grad_norm: s[1], clipped: s[2] > 0.5 }));
        self.slot = 0;
        self.check_persistent()
    }

    /// When a persistent grid barrier on this device gave up (its fallback kept every step
    /// exact, but slow) and this trainer's programs or its model's use it: rebuilds them
    /// with per-wave dispatches.
    fn check_persistent(&mut self) -> Result<()> {
        let mine = self.programs.uses_persistent() || self.flow_programs.uses_persistent();
        if self.model.recurrence_gave_up(mine)? {
            self.programs.clear();
            self.flow_programs.clear();
            self.program(self.model.max_steps());
        }
        Ok(())
    }
}

impl Evaluate for GpuTrainer {
    fn device_name(&self) -> String {
        self.model.context().describe()
    }

    /// The model's streamed evaluation (its own carried state; training state untouched).
    fn evaluate(&mut self, batches: &[Batch]) -> Result<f64> {
        self.model.evaluate(batches)
    }

    fn score(&mut self, batches: &[Batch], top_hidden: bool) -> Result<RowScores> {
        self.model.score(batches, top_hidden)
    }
}

impl Trainer for GpuTrainer {
    fn step(&mut self, batch: &Batch, lr: f32) -> Result<()> {
        self.prepare(batch, lr)?;
        let enc = self.encode_step(batch.t, None);
        self.model.context().queue.submit([enc.finish()]);
        self.slot += 1;
        Ok(())
    }

    /// The step with copies of its row losses (the training softmax writes them as the
    /// evaluation one does) and top-layer outputs after it, in one submission and readback.
    fn step_scored(&mut self, batch: &Batch, lr: f32, top_hidden: bool) -> Result<RowScores> {
        self.prepare(batch, lr)?;
        let mut enc = self.encode_step(batch.t, None);
        let (rows, h) = (batch.inputs.len(), self.model.config().top_hidden());
        let per_row = 1 + if top_hidden { h } else { 0 };
        let readback = Allocator::new(&self.model.context().device).zeros("step scores", rows * per_row);
        self.model.copy_chunk_scores(&mut enc, &readback, batch.n, batch.t, 0, top_hidden.then_some(rows));
        let data = self.model.context().submit_and_read(enc, &readback, 0, rows * per_row)?;
        self.slot += 1;
        Ok(RowScores { nats: data[..rows].to_vec(), hidden: data[rows..].to_vec() })
    }

    fn drain_stats(&mut self) -> Result<Vec<StepStats>> {
        if self.slot > 0 {
            self.read_stats()?;
        }
        Ok(std::mem::take(&mut self.drained))
    }

    fn params(&mut self) -> Result<Params<f32>> {
        self.model.params()
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        let first = self.model.read_tensor_set(&self.train.moment1)?;
        let second = match self.update.optimizer {
            Optimizer::Adam { .. } => self.model.read_tensor_set(&self.train.moment2)?,
            Optimizer::Sgd { .. } => Params::zeros(self.model.config()),
        };
        Ok(OptimizerState { updates: self.updates, first, second })
    }

    fn set_optimizer_state(&mut self, state: &OptimizerState) -> Result<()> {
        self.model.write_tensor_set(&self.train.moment1, &state.first, "optimizer state (first moment)")?;
        if matches!(self.update.optimizer, Optimizer::Adam { .. }) {
            self.model.write_tensor_set(&self.train.moment2, &state.second, "optimizer state (second moment)")?;
        }
        self.updates = state.updates;
        Ok(())
    }

    fn hidden(&mut self) -> Result<Vec<Vec<f32>>> {
        let m = &self.model;
        self.train.states.iter().zip(&m.config().hidden).map(|(s, &h)| m.context().read_f32(s, 0, m.rows() * h)).collect()
    }

    fn set_hidden(&mut self, hidden: &[Vec<f32>]) -> Result<()> {
        let m = &self.model;
        let fits = hidden.len() == m.config().layers() && hidden.iter().zip(&m.config().hidden).all(|(s, &h)| s.len() == m.rows() * h);
        if !fits {
            return Err(ElmanError::Config("hidden state does not match the model's layers and batch".into()));
        }
        for (state, s) in self.train.states.iter().zip(hidden) {
            m.context().write(state, 0, s);
        }
        Ok(())
    }

    /// The flow program (forward, backward with G^l_t stored, the norms summed on the GPU)
    /// from a copy of the carried state; one readback of the sums.
    fn gradient_flow(&mut self, batch: &Batch, step: u64) -> Result<GradFlow> {
        self.check_batch(batch)?;
        self.flow_buffers()?;
        let t = batch.t;
        let GpuTrainer { model, update, train, flow, flow_programs, .. } = self;
        let flow = flow.as_ref().expect("made above");
        let program = flow_programs.get_or_build(t, || {
            step_program::build(model.context(), &model.spec(Some(update)), model.forward_buffers(), Some(train), Some(flow), model.rows(), t, Mode::Flow)
        });
        let m = &self.model;
        m.upload_batch(batch);
        let mut enc = m.context().device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("gradient flow") });
        m.encode_from(&mut enc, program, &self.train.states, m.rows());
        let layers = m.config().layers();
        let sums = m.context().submit_and_read(enc, &flow.sums, 0, FlowBuffers::sums_len(layers, t))?;
        let root = |s: f32| (s as f64).sqrt();
        let grad_norm = root(sums[1]);
        let layers = (0..layers)
            .map(|l| LayerFlow { hidden_grad_norms: sums[2 + layers + l * t..][..t].iter().map(|&s| root(s)).collect(), w_hh_grad_norm: root(sums[2 + l]) })
            .collect();
        Ok(GradFlow { step, loss: sums[0] as f64, layers, grad_norm, clip_factor: crate::rnn::cpu::ops::clip_factor(grad_norm, self.update.clip) })
    }
}
