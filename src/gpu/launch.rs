//! One typed launcher per kernel: each computes its workgroup counts (`div_ceil` by the
//! shader's tile or workgroup size) and appends one dispatch to a [`ProgramBuilder`].
//! The constants mirror the `const`s at the top of each WGSL file.
//!
//! Shapes: n = rows per time step, R = n·T rows, h = width, V = vocabulary.

use super::kernels::Kernel;
use super::params::*;
use super::program::{Bind, Cost, ProgramBuilder};

/// matmul.wgsl: output tile side.
pub const MATMUL_TILE: u32 = 64;
/// rnn_step.wgsl: output tile side.
pub const RNN_TILE: u32 = 32;
/// Threads per workgroup of the element-wise kernels (embedding, optimizer, dropout).
pub const ELEMENTWISE_WG: u32 = 256;
/// reduce.wgsl: columns per bias_grad workgroup.
pub const BIAS_COLS_PER_WG: u32 = 64;
/// reduce.wgsl: workgroups (= partial sums) of grad_norm_partial.
pub const NUM_PARTIALS: u32 = 256;
/// Most workgroups along one dispatch dimension (WebGPU's guaranteed minimum).
const MAX_GROUPS_PER_DIM: u32 = 65535;

/// A grid of at least `groups` workgroups, spilling into y past 65535 (kernels flatten
/// (x, y) back into one index and bounds-check it).
pub fn grid_1d(groups: u32) -> [u32; 3] {
    let groups = groups.max(1);
    let x = groups.min(MAX_GROUPS_PER_DIM);
    [x, groups.div_ceil(x), 1]
}

fn bytes<T: bytemuck::Pod>(p: &T) -> &[u8] {
    bytemuck::bytes_of(p)
}

/// C ← [C +] op(A)·op(B) [+ bias]: 2mnk FLOPs; A, B and C once (C twice when accumulating).
fn matmul_cost(p: &MatmulParams) -> Cost {
    let (m, n, k) = (p.m as f64, p.n as f64, p.k as f64);
    let c_reads = if p.flags & MatmulParams::ACCUMULATE != 0 { m * n } else { 0.0 };
    Cost::new(2.0 * m * n * k, m * k + k * n + m * n + c_reads + n)
}

/// One recurrent step: 2·n·h² FLOPs for the product; W_hh, the previous rows and
/// `row_blocks` other [n, h] blocks (P_t and H_t forward; dH_t, dZ_{t+1}, H_t, dZ_t back).
fn rnn_step_cost(p: &RnnStepParams, row_blocks: u32) -> Cost {
    let (n, h) = (p.rows as f64, p.h as f64);
    Cost::new(2.0 * n * h * h + 2.0 * n * h, h * h + row_blocks as f64 * n * h)
}

impl ProgramBuilder<'_> {
    /// C ← [C +] op(A)·op(B) [+ bias]; `bias` is bound only when `p.flags` has BIAS.
    pub fn matmul(&mut self, a: &wgpu::Buffer, b: &wgpu::Buffer, c: &wgpu::Buffer, bias: Option<&wgpu::Buffer>, p: MatmulParams) {
        let bias = bias.unwrap_or(b);
        let groups = [p.n.div_ceil(MATMUL_TILE), p.m.div_ceil(MATMUL_TILE), 1];
        self.push(
            Kernel::Matmul,
            &[(0, Bind::Buffer(a)), (1, Bind::Buffer(b)), (2, Bind::Buffer(c)), (3, Bind::Buffer(bias)), (4, Bind::Params)],
            bytes(&p),
            groups,
            matmul_cost(&p),
        );
    }

    /// H_t = φ(P_t + H_{t-1}·W_hh): `p_all` [T·n, h], `hs` [(T+1)·n, h], W_hh in `w` at p.w_off.
    pub fn rnn_step_forward(&mut self, p_all: &wgpu::Buffer, hs: &wgpu::Buffer, w: &wgpu::Buffer, p: RnnStepParams) {
        let groups = [p.h.div_ceil(RNN_TILE), p.rows.div_ceil(RNN_TILE), 1];
        self.push(
            Kernel::RnnStepForward,
            &[(0, Bind::Buffer(p_all)), (1, Bind::Buffer(hs)), (2, Bind::Buffer(w)), (4, Bind::Params)],
            bytes(&p),
            groups,
            rnn_step_cost(&p, 3),
        );
    }

    /// dZ_t = (dH_t + dZ_{t+1}·W_hhᵀ) ⊙ φ'(H_t): `dh` [T·n, h], `dz` [T·n, h], `hs` [(T+1)·n, h].
    pub fn rnn_step_backward(&mut self, dh: &wgpu::Buffer, dz: &wgpu::Buffer, w: &wgpu::Buffer, hs: &wgpu::Buffer, p: RnnStepParams) {
        let groups = [p.h.div_ceil(RNN_TILE), p.rows.div_ceil(RNN_TILE), 1];
        self.push(
            Kernel::RnnStepBackward,
            &[(0, Bind::Buffer(dh)), (1, Bind::Buffer(dz)), (2, Bind::Buffer(w)), (3, Bind::Buffer(hs)), (4, Bind::Params)],
            bytes(&p),
            groups,
            rnn_step_cost(&p, 4),
        );
    }

    /// rows[r, :] = table[tokens[r], :].
    pub fn embedding_gather(&mut self, table: &wgpu::Buffer, tokens: &wgpu::Buffer, rows: &wgpu::Buffer, p: EmbeddingParams) {
        let groups = grid_1d((p.rows * p.d).div_ceil(ELEMENTWISE_WG));
        self.push(
            Kernel::EmbeddingGather,
            &[(0, Bind::Buffer(table)), (1, Bind::Buffer(tokens)), (2, Bind::Buffer(rows)), (3, Bind::Params)],
            bytes(&p),
            groups,
            Cost::new(0.0, (p.rows + 2 * p.rows * p.d) as f64),
        );
    }

    /// grad_table[v, :] = Σ_{r: tokens[r] = v} d_rows[r, :] (order/offsets in `tokens`).
    pub fn embedding_scatter_add(&mut self, d_rows: &wgpu::Buffer, tokens: &wgpu::Buffer, grad: &wgpu::Buffer, p: EmbeddingParams) {
        let groups = grid_1d((p.vocab * p.d).div_ceil(ELEMENTWISE_WG));
        self.push(
            Kernel::EmbeddingScatterAdd,
            &[(0, Bind::Buffer(d_rows)), (1, Bind::Buffer(tokens)), (2, Bind::Buffer(grad)), (3, Bind::Params)],
            bytes(&p),
            groups,
            Cost::new((p.rows * p.d) as f64, (p.rows * p.d + p.rows + p.vocab + 1 + p.vocab * p.d) as f64),
        );
    }

    fn softmax(&mut self, kernel: Kernel, logits: &wgpu::Buffer, tokens: &wgpu::Buffer, row_loss: &wgpu::Buffer, p: SoftmaxParams) {
        let (rows, vocab) = (p.rows as f64, p.vocab as f64);
        // Logits read (and dlogits written in training), targets read, losses written.
        let passes = if kernel == Kernel::SoftmaxXent { 2.0 } else { 1.0 };
        self.push(
            kernel,
            &[(0, Bind::Buffer(logits)), (1, Bind::Buffer(tokens)), (2, Bind::Buffer(row_loss)), (3, Bind::Params)],
            bytes(&p),
            grid_1d(p.rows),
            Cost::new(4.0 * rows * vocab, passes * rows * vocab + 2.0 * rows),
        );
    }

    /// Per-row loss, and logits overwritten by dlogits = (softmax − onehot)·scale.
    pub fn softmax_xent(&mut self, logits: &wgpu::Buffer, tokens: &wgpu::Buffer, row_loss: &wgpu::Buffer, p: SoftmaxParams) {
        self.softmax(Kernel::SoftmaxXent, logits, tokens, row_loss, p)
    }

    /// Per-row loss only (evaluation).
    pub fn softmax_xent_loss(&mut self, logits: &wgpu::Buffer, tokens: &wgpu::Buffer, row_loss: &wgpu::Buffer, p: SoftmaxParams) {
        self.softmax(Kernel::SoftmaxXentLoss, logits, tokens, row_loss, p)
    }

    /// dst[dst_off + j] = Σ_r src[src_off + r·cols + j], `p.count` rows.
    pub fn bias_grad(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, p: ReduceParams) {
        self.push(
            Kernel::BiasGrad,
            &[(0, Bind::Buffer(src)), (1, Bind::Buffer(dst)), (3, Bind::Params)],
            bytes(&p),
            [p.cols.div_ceil(BIAS_COLS_PER_WG), 1, 1],
            Cost::new((p.count * p.cols) as f64, (p.count * p.cols + p.cols) as f64),
        );
    }

    /// Both passes of ‖g‖ over `count` gradients, then the clip factor into clip[0] and
    /// (‖g‖, clipped) into stats[step.slot]. `partials` holds [`NUM_PARTIALS`] values.
    pub fn grad_norm(&mut self, grads: &wgpu::Buffer, partials: &wgpu::Buffer, clip: &wgpu::Buffer, stats: &wgpu::Buffer, count: u32, theta: Option<f32>) {
        let p = ReduceParams { count, ..Default::default() };
        self.push(
            Kernel::GradNormPartial,
            &[(0, Bind::Buffer(grads)), (1, Bind::Buffer(partials)), (3, Bind::Params)],
            bytes(&p),
            [NUM_PARTIALS, 1, 1],
            Cost::new(2.0 * count as f64, count as f64),
        );
        let p = ReduceParams { count: NUM_PARTIALS, clip: theta.unwrap_or(0.0), ..Default::default() };
        self.push(
            Kernel::GradNormFinish,
            &[(0, Bind::Buffer(partials)), (1, Bind::Buffer(clip)), (2, Bind::Buffer(stats)), (3, Bind::Params), (4, Bind::Step)],
            bytes(&p),
            [1, 1, 1],
            Cost::new(NUM_PARTIALS as f64, NUM_PARTIALS as f64 + 3.0),
        );
    }

    /// stats[step.slot·stride + field] = scale · Σ row_loss[0..count].
    pub fn loss_sum(&mut self, row_loss: &wgpu::Buffer, stats: &wgpu::Buffer, p: ReduceParams) {
        self.push(
            Kernel::LossSum,
            &[(0, Bind::Buffer(row_loss)), (2, Bind::Buffer(stats)), (3, Bind::Params), (4, Bind::Step)],
            bytes(&p),
            [1, 1, 1],
            Cost::new(p.count as f64, p.count as f64 + 1.0),
        );
    }

    /// buf ← μ·buf + c·g; p ← p − lr·buf over `p.count` elements.
    pub fn sgd_update(&mut self, param: &wgpu::Buffer, grad: &wgpu::Buffer, m: &wgpu::Buffer, clip: &wgpu::Buffer, p: OptimizerParams) {
        self.push(
            Kernel::SgdUpdate,
            &[(0, Bind::Buffer(param)), (1, Bind::Buffer(grad)), (2, Bind::Buffer(m)), (4, Bind::Buffer(clip)), (5, Bind::Params), (6, Bind::Step)],
            bytes(&p),
            grid_1d(p.count.div_ceil(ELEMENTWISE_WG)),
            // Reads p, g, m; writes p, m.
            Cost::new(4.0 * p.count as f64, 5.0 * p.count as f64),
        );
    }

    /// Adam with bias corrections from the step uniform, over `p.count` elements.
    #[allow(clippy::too_many_arguments)]
    pub fn adam_update(&mut self, param: &wgpu::Buffer, grad: &wgpu::Buffer, m: &wgpu::Buffer, v: &wgpu::Buffer, clip: &wgpu::Buffer, p: OptimizerParams) {
        self.push(
            Kernel::AdamUpdate,
            &[
                (0, Bind::Buffer(param)),
                (1, Bind::Buffer(grad)),
                (2, Bind::Buffer(m)),
                (3, Bind::Buffer(v)),
                (4, Bind::Buffer(clip)),
                (5, Bind::Params),
                (6, Bind::Step),
            ],
            bytes(&p),
            grid_1d(p.count.div_ceil(ELEMENTWISE_WG)),
            // Reads p, g, m, v; writes p, m, v.
            Cost::new(12.0 * p.count as f64, 7.0 * p.count as f64),
        );
    }

    /// x[dst_off + i] ← x[dst_off + i]·M_i for i < p.count (the mask of `p.site` at the
    /// step uniform's update number; see dropout.wgsl).
    pub fn dropout_apply(&mut self, x: &wgpu::Buffer, p: DropoutParams) {
        self.push(
            Kernel::DropoutApply,
            &[(1, Bind::Buffer(x)), (2, Bind::Params), (3, Bind::Step)],
            bytes(&p),
            grid_1d(p.count.div_ceil(ELEMENTWISE_WG)),
            Cost::new(p.count as f64, 2.0 * p.count as f64),
        );
    }

    /// dst[dst_off + i] = src[src_off + i]·M_i for i < p.count (a masked copy).
    pub fn dropout_copy(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, p: DropoutParams) {
        self.push(
            Kernel::DropoutCopy,
            &[(0, Bind::Buffer(src)), (1, Bind::Buffer(dst)), (2, Bind::Params), (3, Bind::Step)],
            bytes(&p),
            grid_1d(p.count.div_ceil(ELEMENTWISE_WG)),
            Cost::new(p.count as f64, 2.0 * p.count as f64),
        );
    }
}
