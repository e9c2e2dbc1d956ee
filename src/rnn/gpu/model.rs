//! `GpuModel`: the forward-only model on the GPU — parameters and the buffers of the
//! forward pass, resident — that evaluation, validation during training and sampling
//! share; [`super::GpuTrainer`] adds gradients, optimizer moments and the backward
//! buffers to one.
//!
//! Built for n rows and chunks of at most T steps; evaluation takes batches of n' ≤ n rows
//! (the same n' for every batch of one call) and T' ≤ T steps. The model owns its buffers
//! and its forward programs, built once per (mode, n', T') and cached; a trainer reaches
//! them through methods.
//!
//! Evaluation streams: the tokens of every chunk and a per-chunk uniform are uploaded
//! once, then chunks are recorded [`CHUNKS_PER_SUBMISSION`] to a command buffer, each as
//! GPU-side copies (its tokens into the token buffer, its uniform into the step uniform,
//! the carried state into H's first rows) around the Eval program; the chunk losses
//! collect in a GPU buffer that is read once, at the end — the same one-stream numbers as
//! a loop of single chunks, with no host wait or upload per chunk.

use super::buffer_plan::{self, Role, CHUNKS_PER_SUBMISSION};
use super::buffers::{Allocator, ParamOffsets};
use super::context::GpuContext;
use super::kernels::prelude::StepParams;
use super::limits;
use super::profile::{Timer, Timestamps};
use super::program::Program;
use super::program_cache::ProgramCache;
use super::recurrence::{ActivationLayout, RecurrenceDispatch};
use super::step_program::{self, ForwardBuffers, Mode, ProgramSpec};
use super::tokens::TokenLayout;
use crate::error::{ElmanError, Result};
use crate::rnn::backend::{check_token, Batch, Evaluate, RowScores, UpdateConfig};
use crate::rnn::model::{ModelConfig, ParamLayout, Params};
use std::sync::Arc;

pub struct GpuModel {
    ctx: Arc<GpuContext>,
    /// How this device dispatches the recurrence (shared by every model on it).
    recurrence: Arc<RecurrenceDispatch>,
    config: ModelConfig,
    n: usize,
    t: usize,
    layout: ParamOffsets,
    acts: ActivationLayout,
    tokens: TokenLayout,
    bufs: ForwardBuffers,
    programs: ProgramCache<(Mode, usize, usize)>,
    /// Bytes of the buffers allocated (the programs count their own).
    buffer_bytes: u64,
}

impl GpuModel {
    /// Uploads `params` and allocates the forward buffers for batches of n rows × up to
    /// T steps (evaluation, sampling), after checking each against the adapter's limits.
    pub fn new(ctx: Arc<GpuContext>, config: ModelConfig, params: &Params<f32>, n: usize, t: usize) -> Result<Self> {
        Self::build(ctx, config, params, n, t, None)
    }

    /// [`GpuModel::new`] for a trainer: checks the trainer's buffers too and lays out
    /// room for the dropout copies when `update` drops.
    pub(super) fn build(ctx: Arc<GpuContext>, config: ModelConfig, params: &Params<f32>, n: usize, t: usize, update: Option<&UpdateConfig>) -> Result<Self> {
        config.validate()?;
        let recurrence = RecurrenceDispatch::of(&ctx)?;
        if n == 0 || t == 0 {
            return Err(ElmanError::Config(format!("the GPU model needs a batch of n ≥ 1 rows and T ≥ 1 steps, got n={n}, T={t}")));
        }
        params.check_layout(&ParamLayout::new(&config), "initial parameters")?;
        let layout = ParamOffsets::new(params.layout().clone(), &config);
        limits::check(ctx.limits(), &config, n, t, update)?;
        let acts = ActivationLayout::new(&config, n, t, update.is_some_and(|u| u.dropout > 0.0));
        let tokens = TokenLayout { capacity: n * t, vocab: config.vocab };
        let mut a = Allocator::new(&ctx.device);
        let mut made = buffer_plan::allocate(&mut a, &buffer_plan::plan(&config, n, t, update), Role::is_forward);
        let layers = 0..config.layers();
        let bufs = ForwardBuffers {
            params: made.take(Role::Params),
            tokens: made.take(Role::Tokens),
            emb_rows: made.take(Role::EmbRows),
            proj0: made.take(Role::Proj0),
            hidden: made.take(Role::Hidden),
            logits: made.take(Role::Logits),
            row_loss: made.take(Role::RowLoss),
            eval_sums: made.take(Role::EvalSums),
            step: a.uniform("step params", bytemuck::bytes_of(&StepParams::default())),
            eval_states: layers.clone().map(|l| made.take(Role::EvalState(l))).collect(),
            sample_states: layers.map(|l| made.take(Role::SampleState(l))).collect(),
        };
        ctx.write(&bufs.params, 0, params.as_flat());
        let buffer_bytes = a.bytes;
        Ok(GpuModel { ctx, recurrence, config, n, t, layout, acts, tokens, bufs, programs: ProgramCache::new(), buffer_bytes })
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// n, the rows the model was built for.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// T, the longest chunk the model was built for.
    pub fn max_steps(&self) -> usize {
        self.t
    }

    /// The shapes every program of this model is built from (a trainer's with its update).
    pub(super) fn spec<'a>(&'a self, update: Option<&'a UpdateConfig>) -> ProgramSpec<'a> {
        ProgramSpec { config: &self.config, layout: &self.layout, acts: &self.acts, tokens: self.tokens, update, recurrence: &self.recurrence }
    }

    /// The buffers of the forward pass, which a trainer's programs read and write too.
    pub(super) fn forward_buffers(&self) -> &ForwardBuffers {
        &self.bufs
    }

    /// The cached forward-only program (Eval or Logits) for (mode, n, T), built on first use.
    fn program(&mut self, mode: Mode, n: usize, t: usize) -> &Program {
        debug_assert!(mode != Mode::Train, "training programs belong to the trainer");
        // The fields borrowed apart: the spec reads some while the cache grows.
        let GpuModel { ctx, recurrence, config, layout, acts, tokens, bufs, programs, .. } = self;
        let spec = ProgramSpec { config, layout, acts, tokens: *tokens, update: None, recurrence };
        programs.get_or_build((mode, n, t), || step_program::build(ctx, &spec, bufs, None, None, n, t, mode))
    }

    /// When a persistent grid barrier on this device gave up (the fallback kept every
    /// result exact, but slow) and this model's programs, or the caller's (`others`), use
    /// it: drops this model's programs, to be rebuilt with per-wave dispatches, and says
    /// so, for the caller to drop its own.
    pub(super) fn recurrence_gave_up(&mut self, others: bool) -> Result<bool> {
        if !(others || self.programs.uses_persistent()) || !self.recurrence.gave_up(&self.ctx)? {
            return Ok(false);
        }
        self.programs.clear();
        Ok(true)
    }

    /// Checks that a batch's tokens are in the vocabulary and its lengths agree.
    pub(super) fn check_tokens(&self, batch: &Batch) -> Result<()> {
        if batch.inputs.len() != batch.n * batch.t || batch.targets.len() != batch.inputs.len() {
            return Err(ElmanError::Config(format!("batch of {}×{} holds {} inputs and {} targets", batch.n, batch.t, batch.inputs.len(), batch.targets.len())));
        }
        batch.inputs.iter().chain(&batch.targets).try_for_each(|&v| check_token(v, self.config.vocab))
    }

    /// Uploads a batch's tokens (with the scatter order the embedding's gradient reads).
    pub(super) fn upload_batch(&self, batch: &Batch) {
        self.ctx.write(&self.bufs.tokens, 0, &self.tokens.pack(&batch.inputs, &batch.targets));
    }

    /// Rewrites the per-step uniform (ordered before the next submission).
    pub(super) fn write_step(&self, step: StepParams) {
        self.ctx.write(&self.bufs.step, 0, &[step]);
    }

    /// Appends to `enc`: `states` (one per layer) → H's first n rows, `program` (timed when
    /// `timing` is given), H_T → `states`.
    pub(super) fn encode(&self, enc: &mut wgpu::CommandEncoder, program: &Program, states: &[wgpu::Buffer], n: usize, t: usize, timing: Option<(Timer, &Timestamps)>) {
        self.load_states(enc, states, n);
        match timing {
            Some((Timer::PassPerDispatch, stamps)) => program.record_pass_per_dispatch(&self.ctx, enc, &stamps.set, 0),
            _ => {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("program"), timestamp_writes: None });
                match timing {
                    Some((Timer::InsidePasses, stamps)) => program.record_timed(&self.ctx, &mut pass, &stamps.set, 0),
                    _ => program.record(&self.ctx, &mut pass),
                }
            }
        }
        for (l, (state, &h)) in states.iter().zip(&self.config.hidden).enumerate() {
            let at = self.acts.hidden_block(&self.config, n, l, t);
            enc.copy_buffer_to_buffer(&self.bufs.hidden, (at * 4) as u64, state, 0, (n * h * 4) as u64);
        }
    }

    /// Appends to `enc`: `states` → H's first n rows, then `program`; the states are not
    /// written back (a measurement that must not advance them).
    pub(super) fn encode_from(&self, enc: &mut wgpu::CommandEncoder, program: &Program, states: &[wgpu::Buffer], n: usize) {
        self.load_states(enc, states, n);
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("program"), timestamp_writes: None });
        program.record(&self.ctx, &mut pass);
    }

    fn load_states(&self, enc: &mut wgpu::CommandEncoder, states: &[wgpu::Buffer], n: usize) {
        for (l, (state, &h)) in states.iter().zip(&self.config.hidden).enumerate() {
            let at = self.acts.hidden_block(&self.config, n, l, 0);
            enc.copy_buffer_to_buffer(state, 0, &self.bufs.hidden, (at * 4) as u64, (n * h * 4) as u64);
        }
    }

    /// Checks evaluation batches (the same row count n ≤ N, 1 ≤ T' ≤ T, tokens in the
    /// vocabulary), builds their programs and uploads every chunk's inputs then targets
    /// and its uniform (slot = its place in its group of [`CHUNKS_PER_SUBMISSION`]).
    fn upload_eval_stream(&mut self, batches: &[Batch]) -> Result<EvalStream> {
        let Some(first) = batches.first() else {
            return Err(ElmanError::Config("nothing to evaluate: no batches".into()));
        };
        let n = first.n;
        for b in batches {
            if b.n != n || n > self.n || b.t == 0 || b.t > self.t {
                return Err(ElmanError::Config(format!(
                    "evaluation batch of {}×{} does not fit a GPU model built for {} rows × up to {} steps (all batches need the same row count)",
                    b.n, b.t, self.n, self.t
                )));
            }
            self.check_tokens(b)?;
        }
        for b in batches {
            self.program(Mode::Eval, b.n, b.t);
        }
        let mut stream: Vec<u32> = Vec::with_capacity(batches.iter().map(|b| 2 * b.inputs.len()).sum());
        let mut starts = Vec::with_capacity(batches.len());
        for b in batches {
            starts.push(stream.len());
            stream.extend_from_slice(&b.inputs);
            stream.extend_from_slice(&b.targets);
        }
        let uniforms: Vec<StepParams> = (0..batches.len()).map(|c| StepParams { slot: (c % CHUNKS_PER_SUBMISSION) as u32, ..Default::default() }).collect();
        let mut alloc = Allocator::new(&self.ctx.device);
        let tokens = alloc.init("eval stream", &stream);
        let uniforms = alloc.init("eval uniforms", &uniforms);
        Ok(EvalStream { tokens, uniforms, starts })
    }

    /// A command encoder that starts by zeroing the evaluation state.
    fn eval_encoder(&self, zero_state: bool) -> wgpu::CommandEncoder {
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("eval") });
        if zero_state {
            for state in &self.bufs.eval_states {
                enc.clear_buffer(state, 0, None);
            }
        }
        enc
    }

    /// Appends chunk `c` (batch `b`) of an uploaded stream to `enc`: GPU-side copies of its
    /// tokens and uniform, then the Eval program from and back into the evaluation state.
    fn encode_eval_chunk(&self, enc: &mut wgpu::CommandEncoder, stream: &EvalStream, c: usize, b: &Batch) {
        let step_size = std::mem::size_of::<StepParams>() as u64;
        let len = (b.inputs.len() * 4) as u64;
        let at = (stream.starts[c] * 4) as u64;
        enc.copy_buffer_to_buffer(&stream.tokens, at, &self.bufs.tokens, (self.tokens.inputs_off() * 4) as u64, len);
        enc.copy_buffer_to_buffer(&stream.tokens, at + len, &self.bufs.tokens, (self.tokens.targets_off() * 4) as u64, len);
        enc.copy_buffer_to_buffer(&stream.uniforms, c as u64 * step_size, &self.bufs.step, 0, step_size);
        let program = self.programs.get((Mode::Eval, b.n, b.t));
        self.encode(enc, program, &self.bufs.eval_states, b.n, b.t, None);
    }

    /// Mean nats/token over `batches` scored in order as one stream from a zero state
    /// (see the module doc for how the chunks are streamed).
    pub fn evaluate(&mut self, batches: &[Batch]) -> Result<f64> {
        let stream = self.upload_eval_stream(batches)?;
        let totals = Allocator::new(&self.ctx.device).zeros("eval chunk losses", batches.len());
        let mut enc = self.eval_encoder(true);
        for (g, group) in batches.chunks(CHUNKS_PER_SUBMISSION).enumerate() {
            let first = g * CHUNKS_PER_SUBMISSION;
            for (i, b) in group.iter().enumerate() {
                self.encode_eval_chunk(&mut enc, &stream, first + i, b);
            }
            enc.copy_buffer_to_buffer(&self.bufs.eval_sums, 0, &totals, (first * 4) as u64, (group.len() * 4) as u64);
            self.ctx.queue.submit([std::mem::replace(&mut enc, self.eval_encoder(false)).finish()]);
        }
        // The one wait: the chunk losses, summed in f64 in stream order.
        let sums = self.ctx.submit_and_read(enc, &totals, 0, batches.len())?;
        let count: usize = batches.iter().map(|b| b.targets.len()).sum();
        self.recurrence_gave_up(false)?;
        // The step uniform now holds an eval slot; a trainer rewrites it before its next step.
        Ok(sums.iter().map(|&s| s as f64).sum::<f64>() / count as f64)
    }

    /// Every row's −ln p (and with `top_hidden` the top layer's outputs) over `batches`,
    /// streamed as [`GpuModel::evaluate`] streams them: after each chunk its row losses
    /// and outputs are copied into a readback buffer, read once per group of chunks that
    /// fits [`SCORE_READBACK_BYTES`] (at most [`CHUNKS_PER_SUBMISSION`] chunks).
    pub fn score(&mut self, batches: &[Batch], top_hidden: bool) -> Result<RowScores> {
        let stream = self.upload_eval_stream(batches)?;
        let h = self.config.top_hidden();
        let per_row = 1 + if top_hidden { h } else { 0 };
        let max_rows = SCORE_READBACK_BYTES / 4 / per_row;
        let mut out = RowScores::default();
        let mut enc = self.eval_encoder(true);
        let mut c = 0;
        while c < batches.len() {
            let (mut e, mut rows) = (c, 0);
            while e < batches.len() && e - c < CHUNKS_PER_SUBMISSION && (e == c || rows + batches[e].inputs.len() <= max_rows) {
                rows += batches[e].inputs.len();
                e += 1;
            }
            let readback = Allocator::new(&self.ctx.device).zeros("scores", rows * per_row);
            let mut at = 0;
            for (i, b) in batches[c..e].iter().enumerate() {
                self.encode_eval_chunk(&mut enc, &stream, c + i, b);
                self.copy_chunk_scores(&mut enc, &readback, b.n, b.t, at, top_hidden.then_some(rows + at * h));
                at += b.inputs.len();
            }
            let data = self.ctx.submit_and_read(std::mem::replace(&mut enc, self.eval_encoder(false)), &readback, 0, rows * per_row)?;
            out.nats.extend_from_slice(&data[..rows]);
            out.hidden.extend_from_slice(&data[rows..]);
            c = e;
        }
        self.recurrence_gave_up(false)?;
        Ok(out)
    }

    /// Appends to `enc` copies of the last chunk's (n rows × T steps) row losses into
    /// `readback` from element `nats_at`, and its top-layer outputs [rows, h] from element
    /// `hidden_at` when given.
    pub(super) fn copy_chunk_scores(&self, enc: &mut wgpu::CommandEncoder, readback: &wgpu::Buffer, n: usize, t: usize, nats_at: usize, hidden_at: Option<usize>) {
        let (rows, h) = (n * t, self.config.top_hidden());
        enc.copy_buffer_to_buffer(&self.bufs.row_loss, 0, readback, (nats_at * 4) as u64, (rows * 4) as u64);
        if let Some(at) = hidden_at {
            let top = self.acts.hidden_block(&self.config, n, self.config.layers() - 1, 1);
            enc.copy_buffer_to_buffer(&self.bufs.hidden, (top * 4) as u64, readback, (at * 4) as u64, (rows * h * 4) as u64);
        }
    }

    /// Zeroes the sampling state, leaving the training and evaluation states alone.
    pub fn reset_sample_state(&self) {
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("sample reset") });
        for state in &self.bufs.sample_states {
            enc.clear_buffer(state, 0, None);
        }
        self.ctx.queue.submit([enc.finish()]);
    }

    /// One sampling step from the sampling state: H_t = φ(x_t W_xh + b_h + H_{t-1} W_hh)
    /// per layer for the single input `token` (n = 1, T = 1), logits = H^L_t W_q + b_q.
    /// The step and the readback of the V logits are one submission; the host waits for it.
    pub fn sample_step(&mut self, token: u32) -> Result<Vec<f32>> {
        crate::rnn::backend::check_token(token, self.config.vocab)?;
        self.ctx.write(&self.bufs.tokens, self.tokens.inputs_off() as usize, &[token]);
        self.program(Mode::Logits, 1, 1);
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("sample") });
        self.encode(&mut enc, self.programs.get((Mode::Logits, 1, 1)), &self.bufs.sample_states, 1, 1, None);
        self.ctx.submit_and_read(enc, &self.bufs.logits, 0, self.config.vocab)
    }

    /// The current parameters (a GPU readback; with tied weights output.w is set to Eᵀ,
    /// which the GPU never reads).
    pub fn params(&self) -> Result<Params<f32>> {
        let mut p = self.read_tensor_set(&self.bufs.params)?;
        if self.config.tied {
            p.tie_output();
        }
        Ok(p)
    }

    /// A buffer of the parameter layout read back as tensors.
    pub(super) fn read_tensor_set(&self, buffer: &wgpu::Buffer) -> Result<Params<f32>> {
        let flat = self.ctx.read_f32(buffer, 0, self.layout.total())?;
        Ok(Params::from_flat(self.layout.layout().clone(), flat))
    }

    /// Writes tensors of the parameter layout (`what` names them in the error when their
    /// shapes differ) into `buffer`.
    pub(super) fn write_tensor_set(&self, buffer: &wgpu::Buffer, tensors: &Params<f32>, what: &str) -> Result<()> {
        tensors.check_layout(self.layout.layout(), what)?;
        self.ctx.write(buffer, 0, tensors.as_flat());
        Ok(())
    }

    /// Bytes of GPU memory this model allocated (storage and uniform buffers, programs).
    pub fn bytes_allocated(&self) -> u64 {
        self.buffer_bytes + self.programs.bytes()
    }
}

impl Evaluate for GpuModel {
    fn device_name(&self) -> String {
        self.ctx.describe()
    }

    fn evaluate(&mut self, batches: &[Batch]) -> Result<f64> {
        GpuModel::evaluate(self, batches)
    }

    fn score(&mut self, batches: &[Batch], top_hidden: bool) -> Result<RowScores> {
        GpuModel::score(self, batches, top_hidden)
    }
}

/// Bytes of scores (row losses, top-layer outputs) one readback of [`GpuModel::score`]
/// gathers at most (a single chunk may exceed it).
pub const SCORE_READBACK_BYTES: usize = 64 << 20;

/// An evaluation stream on the GPU: every chunk's inputs then targets, its uniform, and
/// where each chunk's tokens start.
struct EvalStream {
    tokens: wgpu::Buffer,
    uniforms: wgpu::Buffer,
    starts: Vec<usize>,
}
