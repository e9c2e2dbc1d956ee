//! Guard regions around every operand of every kernel. The shader modules are built
//! without wgpu's runtime bounds checks (src/rnn/gpu/kernels/registry.rs), so each kernel must keep its own
//! accesses inside the ranges its Params describe. Here every buffer holds its operand
//! between guard regions filled with a NaN of a distinctive bit pattern; after the
//! dispatch the guards must hold exactly those bits (nothing wrote outside its range) and
//! every result must be finite (nothing read a guard into a result: a NaN would spread).
//! Shapes are awkward (not multiples of any tile or workgroup size) and operands sit at
//! odd offsets where the kernel takes one. One test runs every kernel of the registry
//! and fails if any pipeline went untested.

mod common;

use common::{gpu, tokens, uniform};
use elman::rnn::gpu::buffers::Allocator;
use elman::rnn::gpu::kernels::dropout::DropoutParams;
use elman::rnn::gpu::kernels::embedding::EmbeddingParams;
use elman::rnn::gpu::kernels::matmul::{MatmulParams, MatmulTile, MatmulTiling};
use elman::rnn::gpu::kernels::optimizer::OptimizerParams;
use elman::rnn::gpu::kernels::prelude::StepParams;
use elman::rnn::gpu::kernels::reduce::{ReduceParams, NUM_PARTIALS};
use elman::rnn::gpu::kernels::rnn_wave::{RnnLane, RnnStepParams, WaveBuffers, ROWS_PER_TILE};
use elman::rnn::gpu::kernels::softmax_xent::SoftmaxParams;
use elman::rnn::gpu::kernels::transpose::TransposeParams;
use elman::rnn::gpu::kernels::mi_gates::MiGateParams;
use elman::rnn::gpu::kernels::registry::all_kernels;
use elman::rnn::gpu::kernels::Kernel;
use elman::rnn::gpu::program::ProgramBuilder;
use elman::rnn::gpu::recurrence::single_layer_wave;
use elman::rnn::model::Activation;
use elman::rnn::gpu::tokens::TokenLayout;
use elman::rnn::gpu::GpuContext;
use std::collections::HashSet;

/// A quiet NaN no kernel computes.
const GUARD_BITS: u32 = 0x7fc0_dead;
/// Guard elements before (where the kernel takes an offset) and after each operand.
const GUARD: usize = 37;

/// One operand inside its buffer: `pre` guard elements, the payload, then `GUARD` more.
struct Guarded {
    label: String,
    buffer: wgpu::Buffer,
    pre: usize,
    len: usize,
}

impl Guarded {
    fn new(alloc: &mut Allocator, label: &str, payload: &[f32], pre: usize) -> Guarded {
        let guard = f32::from_bits(GUARD_BITS);
        let data = [vec![guard; pre], payload.to_vec(), vec![guard; GUARD]].concat();
        Guarded { label: label.to_string(), buffer: alloc.init(label, &data), pre, len: payload.len() }
    }

    fn ids(alloc: &mut Allocator, label: &str, payload: &[u32], pre: usize) -> Guarded {
        let data = [vec![GUARD_BITS; pre], payload.to_vec(), vec![GUARD_BITS; GUARD]].concat();
        Guarded { label: label.to_string(), buffer: alloc.init(label, &data), pre, len: payload.len() }
    }

    fn off(&self) -> u32 {
        self.pre as u32
    }

    /// Fails unless both guards hold their bits; returns the payload.
    fn check(&self, ctx: &GpuContext, case: &str) -> Vec<f32> {
        let all = ctx.read_f32(&self.buffer, 0, self.pre + self.len + GUARD).unwrap();
        let bad = all
            .iter()
            .enumerate()
            .filter(|&(i, v)| (i < self.pre || i >= self.pre + self.len) && v.to_bits() != GUARD_BITS)
            .map(|(i, v)| (i as i64 - self.pre as i64, *v))
            .take(5)
            .collect::<Vec<_>>();
        assert!(bad.is_empty(), "{case}: wrote outside '{}' (index relative to its start, value): {bad:?}", self.label);
        all[self.pre..self.pre + self.len].to_vec()
    }

    /// [`Guarded::check`], and every payload value (or those at `written`) finite.
    fn check_finite(&self, ctx: &GpuContext, case: &str, written: std::ops::Range<usize>) {
        let payload = self.check(ctx, case);
        let bad: Vec<(usize, f32)> = payload[written.clone()].iter().enumerate().filter(|(_, v)| !v.is_finite()).map(|(i, v)| (i + written.start, *v)).take(5).collect();
        assert!(bad.is_empty(), "{case}: '{}' holds non-finite results (a guard was read?): {bad:?}", self.label);
    }
}

/// Runs one program and records which pipelines it used.
struct Runner {
    ctx: std::sync::Arc<GpuContext>,
    seen: HashSet<Kernel>,
}

impl Runner {
    fn run(&mut self, step: Option<&wgpu::Buffer>, build: impl FnOnce(&mut ProgramBuilder)) {
        let mut b = ProgramBuilder::new(&self.ctx, "guards", step);
        build(&mut b);
        let program = b.finish();
        self.seen.extend(program.dispatches().iter().map(|d| d.kernel));
        program.submit(&self.ctx);
    }
}

fn matmuls(r: &mut Runner) {
    let ctx = r.ctx.clone();
    let tiles: Vec<MatmulTile> = MatmulTile::ALL.into_iter().filter(|&t| ctx.kernels.has(t.kernel())).collect();
    for &(m, k, n) in &[(1usize, 1usize, 1usize), (67, 33, 129), (130, 70, 65)] {
        for flags in [0, MatmulParams::TRANS_A | MatmulParams::ONES_ROW | MatmulParams::BIAS, MatmulParams::TRANS_B | MatmulParams::ACCUMULATE] {
            for &tile in &tiles {
                for splits in [1, 3] {
                    let plan = MatmulTiling::with_splits(tile, k as u32, splits);
                    let mut alloc = Allocator::new(&ctx.device);
                    let a = Guarded::new(&mut alloc, "a", &uniform(1, m * k, -1.0, 1.0), 3);
                    let b = Guarded::new(&mut alloc, "b", &uniform(2, k * n, -1.0, 1.0), 5);
                    let bias = Guarded::new(&mut alloc, "bias", &uniform(3, n, -1.0, 1.0), 7);
                    let c = Guarded::new(&mut alloc, "c", &uniform(4, m * n, -1.0, 1.0), 2);
                    let ones = Guarded::new(&mut alloc, "ones row", &uniform(5, n, -1.0, 1.0), 11);
                    // C and the ones row are two ranges of one output buffer in the trainer;
                    // here they are two buffers, so the product writes C and the ones-row
                    // case is run again into `ones` alone (m = 0 rows of C).
                    let p = MatmulParams {
                        m: m as u32,
                        n: n as u32,
                        k: k as u32,
                        flags: flags & !MatmulParams::ONES_ROW,
                        a_off: a.off(),
                        b_off: b.off(),
                        c_off: c.off(),
                        bias_off: bias.off(),
                        ..Default::default()
                    };
                    r.run(None, |pb| pb.matmul_tiled(&a.buffer, &b.buffer, &c.buffer, Some(&bias.buffer), p, plan));
                    let case = format!("matmul m={m} k={k} n={n} flags={flags} {plan:?}");
                    for g in [&a, &b, &bias] {
                        g.check(&ctx, &case);
                    }
                    c.check_finite(&ctx, &case, 0..m * n);
                    if flags & MatmulParams::ONES_ROW != 0 {
                        // m = 0: op(A) is just the row of ones, so the whole result is that row.
                        let p = MatmulParams { m: 0, flags, a_off: a.off(), ones_off: ones.off(), ..p };
                        let plan = MatmulTiling::with_splits(tile, k as u32, splits);
                        r.run(None, |pb| pb.matmul_tiled(&a.buffer, &b.buffer, &ones.buffer, Some(&bias.buffer), p, plan));
                        ones.check_finite(&ctx, &format!("{case} ones row"), 0..n);
                    }
                }
            }
        }
    }
}

fn rnn_waves(r: &mut Runner) {
    let ctx = r.ctx.clone();
    for &(rows, h) in &[(1, 7), (5, 33), (9, 40), (33, 20)] {
        for &tile_rows in &ROWS_PER_TILE {
            // W_hh at a multiple of 4 (the vec4 path when h is too) or at an odd offset.
            for w_pre in [8, 9] {
                let steps = 3;
                let block = rows * h;
                let mut alloc = Allocator::new(&ctx.device);
                let w = Guarded::new(&mut alloc, "w", &uniform(1, h * h, -0.5, 0.5), w_pre);
                let p_all = Guarded::new(&mut alloc, "p", &uniform(2, steps * block, -1.0, 1.0), 0);
                let hs = Guarded::new(&mut alloc, "h", &uniform(3, (steps + 1) * block, -1.0, 1.0), 0);
                let dh = Guarded::new(&mut alloc, "dh", &uniform(4, steps * block, -1.0, 1.0), 0);
                let dz = Guarded::new(&mut alloc, "dz", &uniform(5, steps * block, -1.0, 1.0), 0);
                let step = alloc.uniform("step", bytemuck::bytes_of(&StepParams::default()));
                let case = format!("rnn_step rows={rows} h={h} rows/tile={tile_rows} w_off={w_pre}");
                // W_hhᵀ into a guarded buffer of its own.
                let wt = Guarded::new(&mut alloc, "w transposed", &vec![0.0; h * h], w_pre + 2);
                let tp = TransposeParams { rows: h as u32, cols: h as u32, src_off: w.off(), dst_off: wt.off() };
                r.run(None, |pb| pb.transpose(&w.buffer, &wt.buffer, tp));
                wt.check_finite(&ctx, &case, 0..h * h);
                let wave = |back: bool, t: usize, recurrent: bool, w_off: u32| single_layer_wave(back, Activation::Tanh, rows as u32, h as u32, t as u32, recurrent, w_off);
                r.run(Some(&step), |pb| {
                    // The last step: forward writes block T, backward reads block T of H.
                    pb.rnn_wave(WaveBuffers { x_in: &p_all.buffer, y_out: &hs.buffer, w: &w.buffer, backward_hidden: None }, wave(false, steps - 1, true, w.off()), tile_rows);
                    pb.rnn_wave(WaveBuffers { x_in: &dh.buffer, y_out: &dz.buffer, w: &wt.buffer, backward_hidden: Some(&hs.buffer) }, wave(true, steps - 1, false, wt.off()), tile_rows);
                    pb.rnn_wave(WaveBuffers { x_in: &dh.buffer, y_out: &dz.buffer, w: &wt.buffer, backward_hidden: Some(&hs.buffer) }, wave(true, 0, true, wt.off()), tile_rows);
                });
                w.check(&ctx, &case);
                p_all.check(&ctx, &case);
                dh.check(&ctx, &case);
                hs.check_finite(&ctx, &case, 0..(steps + 1) * block);
                dz.check_finite(&ctx, &case, 0..steps * block);
            }
        }
    }
}

/// The persistent kernel (every wave of a chunk in one dispatch, rnn_persistent.wgsl) on
/// the single-lane shapes above: T forward waves, then T backward waves, with the grid
/// barrier on 2 workgroups and the counter reset; then a barrier made to give up at its
/// first poll, so that the one-workgroup fallback runs too.
fn rnn_persistent_waves(r: &mut Runner) {
    use elman::rnn::gpu::kernels::rnn_persistent::Polling;
    use elman::rnn::gpu::recurrence::{Recurrence, RecurrenceDispatch};
    let ctx = r.ctx.clone();
    let dispatch = RecurrenceDispatch::of(&ctx).unwrap();
    let steps = 4;
    for (give_up, &(rows, h)) in [(false, &(5, 33)), (false, &(9, 40)), (true, &(3, 20))] {
        let polling = if ctx.is_software() { Polling::SOFTWARE } else { Polling::HARDWARE };
        dispatch.force_persistent(&ctx, 2, if give_up { Polling::GIVE_UP_AT_ONCE } else { polling });
        for &tile_rows in &ROWS_PER_TILE {
            let block = rows * h;
            let mut alloc = Allocator::new(&ctx.device);
            let w = Guarded::new(&mut alloc, "w", &uniform(1, h * h, -0.5, 0.5), 9);
            let p_all = Guarded::new(&mut alloc, "p", &uniform(2, steps * block, -1.0, 1.0), 0);
            let hs = Guarded::new(&mut alloc, "h", &uniform(3, (steps + 1) * block, -1.0, 1.0), 0);
            let dh = Guarded::new(&mut alloc, "dh", &uniform(4, steps * block, -1.0, 1.0), 0);
            let dz = Guarded::new(&mut alloc, "dz", &uniform(5, steps * block, -1.0, 1.0), 0);
            let step = alloc.uniform("step", bytemuck::bytes_of(&StepParams::default()));
            let case = format!("rnn_persistent rows={rows} h={h} rows/tile={tile_rows} give_up={give_up}");
            let wave = |back: bool, t: usize| single_layer_wave(back, Activation::Tanh, rows as u32, h as u32, t as u32, back && t + 1 < steps, w.off());
            let forward: Vec<RnnStepParams> = (0..steps).map(|t| wave(false, t)).collect();
            let backward: Vec<RnnStepParams> = (0..steps).rev().map(|t| wave(true, t)).collect();
            let launch = dispatch.persistent_launch(&ctx, 64, tile_rows).expect("forced on");
            r.run(Some(&step), |pb| {
                let fwd = WaveBuffers { x_in: &p_all.buffer, y_out: &hs.buffer, w: &w.buffer, backward_hidden: None };
                pb.rnn_persistent(fwd, &forward, tile_rows, &launch);
                // W itself stands in for Wᵀ: only where the kernel reads and writes matters here.
                let bwd = WaveBuffers { x_in: &dh.buffer, y_out: &dz.buffer, w: &w.buffer, backward_hidden: Some(&hs.buffer) };
                pb.rnn_persistent(bwd, &backward, tile_rows, &launch);
            });
            w.check(&ctx, &case);
            p_all.check(&ctx, &case);
            dh.check(&ctx, &case);
            hs.check_finite(&ctx, &case, 0..(steps + 1) * block);
            dz.check_finite(&ctx, &case, 0..steps * block);
        }
        // A barrier held, or gave up (the fallback then ran): both must stay inside the
        // guards. One made to give up at once must have.
        if give_up {
            assert!(dispatch.persistent_failed(&ctx).unwrap(), "rows={rows} h={h}: no barrier gave up");
        }
    }
    // The failure is sticky for the context: nothing else here runs persistent.
    dispatch.give_up_persistent(&ctx);
    assert_eq!(dispatch.current(), Recurrence::Waves);
}

/// Training steps through the trainer's own buffers, which the schedule fills with
/// multi-lane waves (two layers side by side, dropout copies and masks): every buffer of
/// the trainer is created with a guard tail (Allocator pads to 16 bytes only), so here the
/// check is that a few steps stay finite and match the parity tests' CPU run (in
/// gpu_parity.rs); the single-lane cases above put guards around every operand.
fn wave_lanes_in_a_trainer(r: &mut Runner) {
    use elman::rnn::gpu::GpuTrainer;
    use elman::rnn::model::{init::init_params, ModelConfig};
    use elman::rnn::backend::{Batch, Optimizer, Trainer, UpdateConfig};
    let config = ModelConfig { vocab: 13, embed: 8, hidden: vec![20, 9], activation: Activation::Relu, tied: false, cell: Default::default() };
    let update = UpdateConfig { dropout: 0.3, dropout_seed: 3, ..UpdateConfig::new(Optimizer::adam(), Some(1.0)) };
    let mut trainer = GpuTrainer::new(r.ctx.clone(), config.clone(), &init_params::<f32>(&config, 2), update, 3, 4).unwrap();
    r.seen.extend(trainer.step_dispatches().iter().map(|d| d.kernel));
    for k in 0..3 {
        let batch = Batch { n: 3, t: 4, inputs: tokens(k, 12, 13), targets: tokens(k + 10, 12, 13) };
        trainer.step(&batch, 0.01).unwrap();
    }
    let stats = trainer.drain_stats().unwrap();
    assert!(stats.iter().all(|s| s.loss.is_finite() && s.grad_norm.is_finite()), "{stats:?}");
}

fn embeddings_and_softmax(r: &mut Runner) {
    let ctx = r.ctx.clone();
    for &(vocab, d, rows) in &[(1, 1, 1), (11, 5, 37), (70, 3, 7)] {
        let layout = TokenLayout { capacity: rows, vocab };
        let toks = tokens(rows as u64, rows, vocab);
        let mut alloc = Allocator::new(&ctx.device);
        let table = Guarded::new(&mut alloc, "table", &uniform(1, vocab * d, -1.0, 1.0), 6);
        let tok = Guarded::ids(&mut alloc, "tokens", &layout.pack(&toks, &toks), 4);
        let x = Guarded::new(&mut alloc, "rows", &vec![0.0; rows * d], 0);
        let dx = Guarded::new(&mut alloc, "row grads", &uniform(2, rows * d, -1.0, 1.0), 0);
        let grad = Guarded::new(&mut alloc, "table grads", &vec![0.0; vocab * d], 9);
        let logits = Guarded::new(&mut alloc, "logits", &uniform(3, rows * vocab, -3.0, 3.0), 0);
        let logits2 = Guarded::new(&mut alloc, "logits (loss only)", &uniform(3, rows * vocab, -3.0, 3.0), 0);
        let loss = Guarded::new(&mut alloc, "row loss", &vec![0.0; rows], 0);
        let loss2 = Guarded::new(&mut alloc, "row loss 2", &vec![0.0; rows], 0);
        let at = |off: u32| tok.off() + off;
        let p = EmbeddingParams {
            rows: rows as u32,
            d: d as u32,
            vocab: vocab as u32,
            src_off: table.off(),
            dst_off: grad.off(),
            tok_off: at(layout.inputs_off()),
            order_off: at(layout.order_off()),
            offsets_off: at(layout.offsets_off()),
        };
        let sp = SoftmaxParams { rows: rows as u32, vocab: vocab as u32, tgt_off: at(layout.targets_off()), scale: 0.5 };
        r.run(None, |pb| {
            pb.embedding_gather(&table.buffer, &tok.buffer, &x.buffer, EmbeddingParams { dst_off: 0, ..p });
            pb.embedding_scatter_add(&dx.buffer, &tok.buffer, &grad.buffer, EmbeddingParams { src_off: 0, ..p });
            pb.softmax_xent(&logits.buffer, &tok.buffer, &loss.buffer, sp);
            pb.softmax_xent_loss(&logits2.buffer, &tok.buffer, &loss2.buffer, sp);
        });
        let case = format!("embedding/softmax V={vocab} d={d} rows={rows}");
        for g in [&table, &tok, &dx] {
            g.check(&ctx, &case);
        }
        for (g, len) in [(&x, rows * d), (&grad, vocab * d), (&logits, rows * vocab), (&logits2, rows * vocab), (&loss, rows), (&loss2, rows)] {
            g.check_finite(&ctx, &case, 0..len);
        }
    }
}

fn reductions_optimizers_and_dropout(r: &mut Runner) {
    let ctx = r.ctx.clone();
    for &count in &[1usize, 1037, 70_001] {
        let mut alloc = Allocator::new(&ctx.device);
        let grads = Guarded::new(&mut alloc, "grads", &uniform(1, count, -0.1, 0.1), 0);
        let partials = Guarded::new(&mut alloc, "partials", &vec![0.0; NUM_PARTIALS as usize], 0);
        let clip = Guarded::new(&mut alloc, "clip", &[0.0; 4], 0);
        let stats = Guarded::new(&mut alloc, "stats", &[0.0; 12], 0);
        let params = Guarded::new(&mut alloc, "params", &uniform(2, count, -1.0, 1.0), 0);
        let params2 = Guarded::new(&mut alloc, "params (sgd)", &uniform(2, count, -1.0, 1.0), 0);
        let m = Guarded::new(&mut alloc, "m", &vec![0.0; count], 0);
        let m2 = Guarded::new(&mut alloc, "m (sgd)", &vec![0.0; count], 0);
        let v = Guarded::new(&mut alloc, "v", &vec![0.0; count], 0);
        let src = Guarded::new(&mut alloc, "dropout src", &uniform(3, count, -1.0, 1.0), 13);
        let dst = Guarded::new(&mut alloc, "dropout dst", &vec![0.0; count], 17);
        let step = alloc.uniform("step", bytemuck::bytes_of(&StepParams { lr: 0.01, bc1: 0.1, bc2: 0.001, slot: 1, update: 3, ..Default::default() }));
        let key = elman::rnn::dropout::DropoutKey { p: 0.3, seed: 9, update: 3 };
        let dp = DropoutParams::new(&key, 1, count as u32);
        let op = OptimizerParams { count: count as u32, momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8, ..Default::default() };
        r.run(Some(&step), |pb| {
            pb.grad_norm(&grads.buffer, &partials.buffer, &clip.buffer, &stats.buffer, count as u32, Some(0.5));
            pb.loss_sum(&grads.buffer, &stats.buffer, ReduceParams { count: count as u32, stride: 4, field: 0, scale: 1.0, ..Default::default() });
            pb.adam_update(&params.buffer, &grads.buffer, &m.buffer, &v.buffer, &clip.buffer, op);
            pb.sgd_update(&params2.buffer, &grads.buffer, &m2.buffer, &clip.buffer, op);
            pb.dropout_copy(&src.buffer, &dst.buffer, DropoutParams { src_off: src.off(), dst_off: dst.off(), ..dp });
            pb.dropout_apply(&src.buffer, DropoutParams { dst_off: src.off(), ..dp });
        });
        let case = format!("reduce/optimizer/dropout count={count}");
        // Block sums of squares: three blocks of count/3 (the last element unread), at an
        // odd offset, into an odd offset.
        let block = (count / 3).max(1);
        let blocks = if count >= 3 { 3 } else { 1 };
        let sums = Guarded::new(&mut alloc, "block sums", &vec![0.0; blocks], 5);
        let squares = Guarded::new(&mut alloc, "squares src", &uniform(4, count, -1.0, 1.0), 3);
        r.run(None, |pb| pb.sum_squares(&squares.buffer, &sums.buffer, squares.off(), block as u32, blocks as u32, sums.off()));
        squares.check(&ctx, &case);
        sums.check_finite(&ctx, &case, 0..blocks);
        grads.check(&ctx, &case);
        clip.check_finite(&ctx, &case, 0..1);
        stats.check_finite(&ctx, &case, 0..12);
        for (g, len) in [(&partials, NUM_PARTIALS as usize), (&params, count), (&params2, count), (&m, count), (&m2, count), (&v, count), (&src, count), (&dst, count)] {
            g.check_finite(&ctx, &case, 0..len);
        }
    }
}

/// A payload of several regions with `GUARD` guard elements between them (one buffer the
/// kernel writes at several offsets): (buffer, offset of each region).
fn regions(alloc: &mut Allocator, label: &str, parts: &[Vec<f32>]) -> (Guarded, Vec<u32>) {
    let guard = f32::from_bits(GUARD_BITS);
    let (mut data, mut offs) = (Vec::new(), Vec::new());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            data.extend(std::iter::repeat_n(guard, GUARD));
        }
        offs.push((GUARD + data.len()) as u32);
        data.extend_from_slice(part);
    }
    (Guarded::new(alloc, label, &data, GUARD), offs)
}

/// [`Guarded::check`] for a [`regions`] buffer: the guards between regions hold their
/// bits and every region is finite.
fn check_regions(g: &Guarded, ctx: &GpuContext, case: &str, offs: &[u32], lens: &[usize]) {
    let payload = g.check(ctx, case);
    for (i, v) in payload.iter().enumerate() {
        let at = (i + g.pre) as u32;
        let inside = offs.iter().zip(lens).any(|(&o, &l)| at >= o && at < o + l as u32);
        if inside {
            assert!(v.is_finite(), "{case}: '{}' holds a non-finite result at {i}", g.label);
        } else {
            assert_eq!(v.to_bits(), GUARD_BITS, "{case}: wrote between the regions of '{}' at {i}", g.label);
        }
    }
}

/// The multiplicative cell's lanes (P and R stored forward; dR and dP backward), with G
/// recorded, and its gate gradients: every region between guards.
fn mi_waves_and_gates(r: &mut Runner) {
    let ctx = r.ctx.clone();
    for &(rows, h) in &[(1, 7), (5, 33), (9, 40)] {
        for &tile_rows in &[ROWS_PER_TILE[0], ROWS_PER_TILE[2]] {
            let steps = 3;
            let block = rows * h;
            let mut alloc = Allocator::new(&ctx.device);
            // w: W_hh, then α, β_h, β_x at a stride of h + 3, then b.
            let stride = h + 3;
            let gates: Vec<f32> = uniform(6, 3 * stride, 0.2, 1.0);
            let (w, w_offs) = regions(&mut alloc, "w", &[uniform(1, h * h, -0.5, 0.5), gates, uniform(7, h, -0.5, 0.5)]);
            let p_all = Guarded::new(&mut alloc, "p", &uniform(2, steps * block, -1.0, 1.0), 0);
            let dh = Guarded::new(&mut alloc, "dh", &uniform(4, steps * block, -1.0, 1.0), 0);
            // hidden: H [(T+1)·n, h], P, R [T·n, h] each.
            let (hs, h_offs) = regions(&mut alloc, "hidden", &[uniform(3, (steps + 1) * block, -1.0, 1.0), vec![0.0; steps * block], vec![0.0; steps * block]]);
            // d_pre: dZ, dR, dP, G.
            let (dz, d_offs) = regions(&mut alloc, "d_pre", &[vec![0.0; steps * block], uniform(8, steps * block, -1.0, 1.0), vec![0.0; steps * block], vec![0.0; steps * block]]);
            // grads: db, dα, dβ_h, dβ_x (so the gates' stride is h + GUARD).
            let (grads, g_offs) = regions(&mut alloc, "grads", &[vec![0.0; h], vec![0.0; h], vec![0.0; h], vec![0.0; h]]);
            let step = alloc.uniform("step", bytemuck::bytes_of(&StepParams::default()));
            let case = format!("mi rnn_step rows={rows} h={h} rows/tile={tile_rows}");
            let at = |base: u32, t: usize| base + (t * block) as u32;
            let lane = |back: bool, t: usize, recurrent: bool| {
                let mut p = single_layer_wave(back, Activation::Tanh, rows as u32, h as u32, t as u32, recurrent, w_offs[0]);
                let l = &mut p.lane[0];
                l.flags |= RnnLane::MI;
                (l.gate_off, l.gate_stride, l.bias_off) = (w_offs[1], stride as u32, w_offs[2]);
                (l.p_off, l.r_off) = (at(h_offs[1], t), at(h_offs[2], t));
                if back {
                    l.flags |= RnnLane::RECORD;
                    (l.out_off, l.dr_off, l.dp_off, l.flow_off) = (at(d_offs[0], t), at(d_offs[1], t), at(d_offs[2], t), at(d_offs[3], t));
                    l.aux_off = at(h_offs[0], t + 1);
                    if recurrent {
                        l.a2_off = at(d_offs[1], t + 1);
                    }
                } else {
                    (l.a2_off, l.out_off) = (at(h_offs[0], t), at(h_offs[0], t + 1));
                }
                l.flags &= !RnnLane::VEC4;
                *l = l.with_vec4_if_aligned();
                p
            };
            let g = MiGateParams {
                rows: (steps * rows) as u32,
                h: h as u32,
                dz_off: d_offs[0],
                p_off: h_offs[1],
                r_off: h_offs[2],
                gate_off: g_offs[1],
                gate_stride: g_offs[2] - g_offs[1],
                bias_off: g_offs[0],
            };
            r.run(Some(&step), |pb| {
                for t in 0..steps {
                    pb.rnn_wave(WaveBuffers { x_in: &p_all.buffer, y_out: &hs.buffer, w: &w.buffer, backward_hidden: None }, lane(false, t, true), tile_rows);
                }
                for t in (0..steps).rev() {
                    pb.rnn_wave(WaveBuffers { x_in: &dh.buffer, y_out: &dz.buffer, w: &w.buffer, backward_hidden: Some(&hs.buffer) }, lane(true, t, t + 1 < steps), tile_rows);
                }
                pb.mi_gate_grads(&dz.buffer, &hs.buffer, &grads.buffer, g);
            });
            w.check(&ctx, &case);
            p_all.check(&ctx, &case);
            dh.check(&ctx, &case);
            check_regions(&hs, &ctx, &case, &h_offs, &[(steps + 1) * block, steps * block, steps * block]);
            check_regions(&dz, &ctx, &case, &d_offs, &[steps * block; 4]);
            check_regions(&grads, &ctx, &case, &g_offs, &[h; 4]);
        }
    }
}

#[test]
fn every_kernel_stays_inside_its_operands() {
    let Some(ctx) = gpu() else { return };
    let mut r = Runner { ctx: ctx.clone(), seen: HashSet::new() };
    matmuls(&mut r);
    rnn_waves(&mut r);
    mi_waves_and_gates(&mut r);
    wave_lanes_in_a_trainer(&mut r);
    rnn_persistent_waves(&mut r);
    embeddings_and_softmax(&mut r);
    reductions_optimizers_and_dropout(&mut r);
    let missing: Vec<Kernel> = all_kernels().into_iter().filter(|k| ctx.kernels.has(k) && !r.seen.contains(k)).collect();
    assert!(missing.is_empty(), "kernels without a guard-region test: {missing:?}");
}
