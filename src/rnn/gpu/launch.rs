//! One typed launcher per kernel: each computes its workgroup counts (`div_ceil` by the
//! shader's tile or workgroup size) and appends one dispatch to a [`ProgramBuilder`].
//! The constants mirror the `const`s at the top of each WGSL file.
//!
//! Shapes: n = rows per time step, R = n·T rows, h = width, V = vocabulary.

use super::kernels::{Kernel, MatmulTile, ELEMENTWISE_WG, RNN_ROWS_PER_TILE, TRANSPOSE_TILE};
use super::params::*;
use super::persistent::PersistentLaunch;
use super::program::{Bind, Cost, Grid, ProgramBuilder};

/// rnn_step.wgsl: output columns per workgroup.
pub const RNN_COLS: u32 = 16;
/// mi_gates.wgsl: columns per workgroup.
pub const MI_GATE_COLS: u32 = 16;
/// reduce.wgsl: workgroups (= partial sums) of grad_norm_partial.
pub const NUM_PARTIALS: u32 = 256;
/// Most workgroups along one dispatch dimension (WebGPU's guaranteed minimum).
const MAX_GROUPS_PER_DIM: u32 = 65535;
/// Workgroups each lane of a recurrent wave should launch where its shape allows, and the
/// most rows per workgroup: measured on an H200 (`bench --rnn`, docs/gpu.md), the fastest
/// tiling at n = 32..256, h = 512..2048 launches 256–1,024 workgroups per lane with at most
/// 32 rows each.
pub const RECURRENT_TARGET_WORKGROUPS: u32 = 256;
pub const RECURRENT_MAX_ROWS: u32 = 32;
/// The most K values one thread of a recurrent workgroup sums (h·ROWS/256: its 256 threads
/// split K into 256/ROWS slices). Measured on an H200 (`bench --rnn 128,2048`, docs/gpu.md):
/// at h = 2048, 16 rows (slices of 128) took 123 µs a step where 32 rows (slices of 256)
/// took 150; at every other measured size the fastest choice already met this bound.
pub const RECURRENT_MAX_K_PER_THREAD: u32 = 128;
/// Workgroups a batched product should launch: measured on an H200 (docs/gpu.md), large
/// tiles run fastest from about 1,000 workgroups on; K is split until a product has that
/// many, as far as K allows.
pub const MATMUL_TARGET_WORKGROUPS: u32 = 1024;
/// Below this many workgroups even with K split, small tiles replace large ones.
pub const MATMUL_MIN_LARGE_WORKGROUPS: u32 = 256;
/// Split-K: the fewest K values per split, the most splits, and the smallest K split at all
/// (a split costs a second dispatch, which a short K does not repay).
pub const MIN_K_PER_SPLIT: u32 = 256;
pub const MAX_SPLITS: u32 = 16;
pub const MIN_K_TO_SPLIT: u32 = 1024;
/// The largest split-K scratch buffer a program may allocate, in f32 elements (64 MiB).
const MAX_SCRATCH_ELEMENTS: u64 = 16 << 20;

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

/// C ← [C +] op(A)·op(B) [+ bias]: 2·m_eff·n·k FLOPs; A, B and C once (C twice when
/// accumulating).
fn matmul_cost(p: &MatmulParams) -> Cost {
    let (m, n, k) = (p.m_eff() as f64, p.n as f64, p.k as f64);
    let c_reads = if p.flags & MatmulParams::ACCUMULATE != 0 { m * n } else { 0.0 };
    Cost::new(2.0 * m * n * k, m * k + k * n + m * n + c_reads + n)
}

/// One wave: per lane 2·n·h·(k1 + h) FLOPs (the input and recurrent parts); its weights,
/// the rows it reads and the rows it writes.
fn rnn_wave_cost(p: &RnnStepParams) -> Cost {
    let n = p.rows as f64;
    p.lane[..p.lanes as usize].iter().fold(Cost::default(), |c, l| {
        let (h, k1) = (l.h as f64, l.k1 as f64);
        let k2 = if l.flags & RnnLane::HAS_RECURRENT != 0 { h } else { 0.0 };
        // The result, its masked copy, mi's P and R (forward) or dR and dP (backward), G.
        let writes = 1.0 + [RnnLane::DROP, RnnLane::MI, RnnLane::MI, RnnLane::RECORD].iter().filter(|&&f| l.flags & f != 0).count() as f64;
        let step = Cost::new(2.0 * n * h * (k1 + k2), (k1 + k2) * h + n * (k1 + k2) + (1.0 + writes) * n * h);
        Cost { flops: c.flops + step.flops, bytes: c.bytes + step.bytes }
    })
}

/// How a product is tiled: the tile, and how many slices K is split into (1: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulPlan {
    pub tile: MatmulTile,
    pub splits: u32,
    /// K per split (the last split may get less).
    pub k_chunk: u32,
}

impl MatmulPlan {
    /// The plan for an [m_eff, n] result with inner dimension k: large tiles when they
    /// alone launch [`MATMUL_TARGET_WORKGROUPS`]; else, when K is long (≥
    /// [`MIN_K_TO_SPLIT`]: the weight gradients, whose K is n·T, and products over the
    /// vocabulary), large tiles with K split toward the target (each split keeping ≥
    /// [`MIN_K_PER_SPLIT`], the partials within `max_scratch` elements) if that reaches
    /// [`MATMUL_MIN_LARGE_WORKGROUPS`], small tiles split the same way if not; short K:
    /// small tiles, unsplit.
    pub fn choose(m_eff: u32, n: u32, k: u32, large_available: bool, max_scratch: u64) -> MatmulPlan {
        let tiles = |t: MatmulTile| m_eff.div_ceil(t.side()) * n.div_ceil(t.side());
        let large = tiles(MatmulTile::Large);
        if large_available && large >= MATMUL_TARGET_WORKGROUPS {
            return MatmulPlan::with_splits(MatmulTile::Large, k, 1);
        }
        if k < MIN_K_TO_SPLIT {
            return MatmulPlan::with_splits(MatmulTile::Small, k, 1);
        }
        let by_scratch = (max_scratch / (m_eff as u64 * n as u64).max(1)).min(MAX_SPLITS as u64) as u32;
        let most = (k / MIN_K_PER_SPLIT).min(by_scratch).clamp(1, MAX_SPLITS);
        let splits = |tiles: u32| MATMUL_TARGET_WORKGROUPS.div_ceil(tiles.max(1)).next_power_of_two().min(most);
        if large_available && large * splits(large) >= MATMUL_MIN_LARGE_WORKGROUPS {
            return MatmulPlan::with_splits(MatmulTile::Large, k, splits(large));
        }
        let small = tiles(MatmulTile::Small);
        MatmulPlan::with_splits(MatmulTile::Small, k, splits(small))
    }

    /// `tile` with K cut into at most `splits` chunks of a multiple of 16.
    pub fn with_splits(tile: MatmulTile, k: u32, splits: u32) -> MatmulPlan {
        let k = k.max(1);
        let k_chunk = k.div_ceil(splits.max(1)).div_ceil(16) * 16;
        MatmulPlan { tile, splits: k.div_ceil(k_chunk), k_chunk }
    }

    /// Workgroups of the product dispatch: [column tiles, row tiles, splits].
    pub fn grid(&self, m_eff: u32, n: u32) -> [u32; 3] {
        let side = self.tile.side();
        [n.div_ceil(side), m_eff.div_ceil(side), self.splits]
    }
}

/// Rows of the result per workgroup of a recurrent wave with n rows whose lanes are
/// `widths` wide: the most rows (fewest re-reads of the weights), up to
/// [`RECURRENT_MAX_ROWS`] and to [`RECURRENT_MAX_K_PER_THREAD`] K values per thread for the
/// widest lane, with which a lane of the average width still launches
/// [`RECURRENT_TARGET_WORKGROUPS`]; never more than n rounds up to (at least 4, a thread's
/// rows). When no choice reaches the target, the fewest rows (the most workgroups).
pub fn rnn_rows_per_tile(n: u32, widths: &[u32]) -> u32 {
    let cols = widths.iter().map(|h| h.div_ceil(RNN_COLS)).sum::<u32>().div_ceil(widths.len().max(1) as u32);
    let widest = widths.iter().copied().max().unwrap_or(0);
    let fewest = RNN_ROWS_PER_TILE[0];
    let k_per_thread = |r: u32| widest * r / super::kernels::ELEMENTWISE_WG;
    let fits = |r: u32| r <= RECURRENT_MAX_ROWS && k_per_thread(r) <= RECURRENT_MAX_K_PER_THREAD && r <= n.max(1).next_power_of_two().max(fewest);
    RNN_ROWS_PER_TILE
        .iter()
        .rev()
        .copied()
        .find(|&r| fits(r) && cols * n.div_ceil(r) >= RECURRENT_TARGET_WORKGROUPS)
        .unwrap_or(fewest)
}

/// The buffers of one direction of the recurrence (see [`ProgramBuilder::rnn_wave`]):
/// forward x_in = P^0, y_out = the hidden buffer, w = the parameters; backward x_in = dH^L,
/// y_out = the dZ buffer, w = the transposed weights, `backward_hidden` = the hidden buffer.
#[derive(Clone, Copy)]
pub struct WaveBuffers<'a> {
    pub x_in: &'a wgpu::Buffer,
    pub y_out: &'a wgpu::Buffer,
    pub w: &'a wgpu::Buffer,
    pub backward_hidden: Option<&'a wgpu::Buffer>,
}

/// `p` with each lane's workgroup range and the wave's total set, `rows` rows per workgroup.
pub fn place_lanes(mut p: RnnStepParams, rows: u32) -> RnnStepParams {
    let mut groups = 0;
    for lane in &mut p.lane[..p.lanes as usize] {
        lane.first_group = groups;
        lane.groups_x = lane.h.div_ceil(RNN_COLS);
        groups += rnn_lane_groups(p.rows, lane.h, rows);
    }
    p.groups = groups;
    p
}

/// Workgroups of one lane of h columns over n rows, `rows` rows per workgroup.
pub fn rnn_lane_groups(n: u32, h: u32, rows: u32) -> u32 {
    h.div_ceil(RNN_COLS) * n.div_ceil(rows)
}

impl ProgramBuilder<'_> {
    /// The largest split-K scratch this device allows a program.
    fn max_scratch(&self) -> u64 {
        let l = self.context().limits();
        (l.max_storage_buffer_binding_size.min(l.max_buffer_size) / 4).min(MAX_SCRATCH_ELEMENTS)
    }

    /// C ← [C +] op(A)·op(B) [+ bias] [with the ONES_ROW row]: one dispatch, or with
    /// split-K a dispatch into the scratch buffer and a `matmul_reduce` into C. `bias` is
    /// read only when `p.flags` has BIAS.
    pub fn matmul(&mut self, a: &wgpu::Buffer, b: &wgpu::Buffer, c: &wgpu::Buffer, bias: Option<&wgpu::Buffer>, p: MatmulParams) {
        let large = self.context().kernels.has(Kernel::Matmul(MatmulTile::Large));
        let plan = MatmulPlan::choose(p.m_eff(), p.n, p.k, large, self.max_scratch());
        self.matmul_planned(a, b, c, bias, p, plan);
    }

    /// [`ProgramBuilder::matmul`] with the tiling given (tests and `bench --gemm` try each).
    pub fn matmul_planned(&mut self, a: &wgpu::Buffer, b: &wgpu::Buffer, c: &wgpu::Buffer, bias: Option<&wgpu::Buffer>, p: MatmulParams, plan: MatmulPlan) {
        let bias = bias.unwrap_or(b);
        let m_eff = p.m_eff();
        let p = MatmulParams { k_chunk: plan.k_chunk, splits: plan.splits, split_stride: m_eff * p.n, ..p };
        let grid = plan.grid(m_eff, p.n);
        let kernel = Kernel::Matmul(plan.tile);
        let cost = matmul_cost(&p);
        if plan.splits == 1 {
            let binds = [(0, Bind::Buffer(a)), (1, Bind::Buffer(b)), (2, Bind::Buffer(c)), (3, Bind::Buffer(bias)), (4, Bind::Params)];
            self.push(kernel, &binds, bytes(&p), grid, cost);
            return;
        }
        let partials = plan.splits as usize * (m_eff as usize * p.n as usize);
        self.need_scratch(partials);
        let binds = [(0, Bind::Buffer(a)), (1, Bind::Buffer(b)), (2, Bind::Scratch), (3, Bind::Buffer(bias)), (4, Bind::Params)];
        // The partials: the product's FLOPs, its operands read and the partial blocks written.
        let partial_cost = Cost { bytes: cost.bytes + 4.0 * partials as f64, ..cost };
        self.push(kernel, &binds, bytes(&p), grid, partial_cost);
        let reduce = [(0, Bind::Scratch), (2, Bind::Buffer(c)), (3, Bind::Buffer(bias)), (4, Bind::Params)];
        let out = m_eff as f64 * p.n as f64;
        self.push(
            Kernel::MatmulReduce,
            &reduce,
            bytes(&p),
            grid_1d((m_eff * p.n).div_ceil(ELEMENTWISE_WG)),
            Cost::new(partials as f64, partials as f64 + out),
        );
    }

    /// One wave of the recurrence (rnn_step.wgsl): `p.lanes` lanes side by side, `rows`
    /// rows per workgroup. Forward: x_in = P^0, y_out = the hidden buffer, w = the
    /// parameters. Backward (`backward_hidden` = the hidden buffer, for φ'): x_in = dH^L,
    /// y_out = the dZ buffer, w = the transposed weights. Sets each lane's workgroup range.
    pub fn rnn_wave(&mut self, x_in: &wgpu::Buffer, y_out: &wgpu::Buffer, w: &wgpu::Buffer, backward_hidden: Option<&wgpu::Buffer>, p: RnnStepParams, rows: u32) {
        let back = backward_hidden.is_some();
        let p = place_lanes(p, rows);
        let kernel = if back { Kernel::RnnStepBackward(rows) } else { Kernel::RnnStepForward(rows) };
        // The forward reads nothing from aux; x_in is bound there again (read-only).
        let aux = backward_hidden.unwrap_or(x_in);
        self.push(
            kernel,
            &[(0, Bind::Buffer(x_in)), (1, Bind::Buffer(y_out)), (2, Bind::Buffer(w)), (3, Bind::Buffer(aux)), (4, Bind::Params), (5, Bind::Step)],
            bytes(&p),
            grid_1d(p.groups),
            rnn_wave_cost(&p),
        );
    }

    /// Every wave of `waves` (one direction of a chunk's recurrence, in order) in one
    /// persistent dispatch of `launch.grid` workgroups (rnn_persistent.wgsl), `bufs` bound
    /// as [`ProgramBuilder::rnn_wave`] binds them. Three dispatches: the arrival
    /// counters zeroed, the persistent one, and the fallback, an indirect dispatch of one
    /// workgroup that runs only when a grid barrier gave up (its count is 0 otherwise).
    pub fn rnn_persistent(&mut self, bufs: WaveBuffers, waves: &[RnnStepParams], rows: u32, launch: &PersistentLaunch) {
        let WaveBuffers { x_in, y_out, w, backward_hidden } = bufs;
        let waves: Vec<RnnStepParams> = waves.iter().map(|&p| place_lanes(p, rows)).collect();
        let cost = waves.iter().map(rnn_wave_cost).fold(Cost::default(), |a, c| Cost { flops: a.flops + c.flops, bytes: a.bytes + c.bytes });
        let list = self.storage_data("recurrent waves", bytemuck::cast_slice(&waves));
        let back = backward_hidden.is_some();
        let mi = waves.first().is_some_and(|p| p.lane[0].flags & RnnLane::MI != 0);
        let slow = if launch.polling.slow { PersistentRun::SLOW_POLL } else { 0 };
        let flags = if back { PersistentRun::BACK } else { 0 } | if mi { PersistentRun::MI } else { 0 } | slow;
        let run = PersistentRun {
            count: waves.len() as u32,
            arrivals: PersistentRun::PERSISTENT_ARRIVALS,
            flags,
            spin_limit: launch.polling.spin_limit,
            poll_budget: launch.polling.poll_budget,
            ..Default::default()
        };
        self.push(Kernel::RnnPersistentReset, &[(7, Bind::Buffer(&launch.sync))], &[], [1, 1, 1], Cost::default());
        let aux = backward_hidden.unwrap_or(x_in);
        let binds = |args| {
            [
                (0, Bind::Buffer(x_in)),
                (1, Bind::Buffer(y_out)),
                (2, Bind::Buffer(w)),
                (3, Bind::Buffer(aux)),
                (4, Bind::Params),
                (5, Bind::Step),
                (6, Bind::Buffer(&list)),
                (7, Bind::Buffer(&launch.sync)),
                (8, Bind::Buffer(args)),
            ]
        };
        let kernel = Kernel::RnnPersistent(rows);
        self.push(kernel, &binds(&launch.args), bytes(&run), grid_1d(launch.grid), cost);
        // The fallback never gives up, so its `args` binding is a spare (the real one is
        // its indirect buffer, which a dispatch may not also write).
        let fallback = PersistentRun { arrivals: PersistentRun::FALLBACK_ARRIVALS, flags: flags | PersistentRun::FALLBACK, ..run };
        self.push_grid(kernel, &binds(&launch.spare_args), bytes(&fallback), Grid::Indirect(launch.args.clone()), Cost::default());
    }

    /// One direction of a chunk's recurrence: `waves` in order, as one persistent dispatch
    /// when the context runs them so ([`super::GpuContext::persistent_launch`]; there are at
    /// least two waves), else one [`ProgramBuilder::rnn_wave`] each.
    pub fn rnn_waves(&mut self, bufs: WaveBuffers, waves: &[RnnStepParams], rows: u32) {
        let widest = waves.iter().map(|&p| place_lanes(p, rows).groups).max().unwrap_or(0);
        let launch = if waves.len() >= 2 { self.context().persistent_launch(widest, rows) } else { None };
        match launch {
            Some(launch) => self.rnn_persistent(bufs, waves, rows, &launch),
            None => {
                for &wave in waves {
                    self.rnn_wave(bufs.x_in, bufs.y_out, bufs.w, bufs.backward_hidden, wave, rows);
                }
            }
        }
    }

    /// dst[dst_off..] = srcᵀ: src [rows, cols] at src_off, dst [cols, rows] at dst_off.
    pub fn transpose(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, p: TransposeParams) {
        self.push(
            Kernel::Transpose,
            &[(0, Bind::Buffer(src)), (1, Bind::Buffer(dst)), (2, Bind::Params)],
            bytes(&p),
            [p.cols.div_ceil(TRANSPOSE_TILE), p.rows.div_ceil(TRANSPOSE_TILE), 1],
            Cost::new(0.0, 2.0 * p.rows as f64 * p.cols as f64),
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

    /// Both passes of ‖g‖ over `count` gradients, then the clip factor into clip[0] and
    /// (‖g‖, clipped) into stats[step.slot]. `partials` holds [`NUM_PARTIALS`] values.
    pub fn grad_norm(&mut self, grads: &wgpu::Buffer, partials: &wgpu::Buffer, clip: &wgpu::Buffer, stats: &wgpu::Buffer, count: u32, theta: Option<f32>) {
        self.square_sum_partials(grads, partials, count);
        let p = ReduceParams { count: NUM_PARTIALS, clip: theta.unwrap_or(0.0), ..Default::default() };
        self.push(
            Kernel::GradNormFinish,
            &[(0, Bind::Buffer(partials)), (1, Bind::Buffer(clip)), (2, Bind::Buffer(stats)), (3, Bind::Params), (4, Bind::Step)],
            bytes(&p),
            [1, 1, 1],
            Cost::new(NUM_PARTIALS as f64, NUM_PARTIALS as f64 + 3.0),
        );
    }

    /// dst[dst_off + b] = Σ_k src[src_off + b·len + k]² for blocks b < `blocks`, k < `len`.
    pub fn sum_squares(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, src_off: u32, len: u32, blocks: u32, dst_off: u32) {
        let p = ReduceParams { count: len, field: blocks, src_off, dst_off, ..Default::default() };
        let elements = len as f64 * blocks as f64;
        self.push(Kernel::SumSquares, &[(0, Bind::Buffer(src)), (1, Bind::Buffer(dst)), (3, Bind::Params)], bytes(&p), grid_1d(blocks), Cost::new(2.0 * elements, elements + blocks as f64));
    }

    /// The multiplicative cell's db, dα, dβ_h, dβ_x of one layer (mi_gates.wgsl): column
    /// sums over `p.rows` rows of dZ (in `d_pre`) with P and R (in `hidden`), into `grads`.
    pub fn mi_gate_grads(&mut self, d_pre: &wgpu::Buffer, hidden: &wgpu::Buffer, grads: &wgpu::Buffer, p: MiGateParams) {
        let elements = p.rows as f64 * p.h as f64;
        self.push(
            Kernel::MiGateGrads,
            &[(0, Bind::Buffer(d_pre)), (1, Bind::Buffer(hidden)), (2, Bind::Buffer(grads)), (3, Bind::Params)],
            bytes(&p),
            grid_1d(p.h.div_ceil(MI_GATE_COLS)),
            Cost::new(6.0 * elements, 3.0 * elements + 4.0 * p.h as f64),
        );
    }

    /// The first pass of ‖g‖²: [`NUM_PARTIALS`] partial sums of squares of `count` values
    /// into `partials` (their sum is ‖g‖²).
    pub fn square_sum_partials(&mut self, grads: &wgpu::Buffer, partials: &wgpu::Buffer, count: u32) {
        let p = ReduceParams { count, ..Default::default() };
        self.push(
            Kernel::GradNormPartial,
            &[(0, Bind::Buffer(grads)), (1, Bind::Buffer(partials)), (3, Bind::Params)],
            bytes(&p),
            [NUM_PARTIALS, 1, 1],
            Cost::new(2.0 * count as f64, count as f64),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(m: u32, n: u32, k: u32) -> (MatmulTile, u32) {
        let p = MatmulPlan::choose(m, n, k, true, u64::MAX);
        (p.tile, p.splits)
    }

    #[test]
    fn plans_follow_the_h200_measurements() {
        use MatmulTile::*;
        // Output layer of the PTB-like size: 1,422 large tiles, no split.
        assert_eq!(plan(2240, 10000, 1024), (Large, 1));
        // dH = dlogits·W_qᵀ (K = V): 144 large tiles × 8 splits.
        assert_eq!(plan(2240, 1024, 10000), (Large, 8));
        // [dW_hh; db] at h = 1024, K = n·T = 2240: 72 × 8 (K/8 = 280 ≥ 256).
        assert_eq!(plan(1025, 1024, 2240), (Large, 8));
        // [dW_hh; db] at h = 512, K = 2048: 20 large × 8 = 160 < 256, so 72 small × 8.
        assert_eq!(plan(513, 512, 2048), (Small, 8));
        // The input projection (K = d = 64) never splits.
        assert_eq!(plan(2048, 512, 64), (Small, 1));
        // Without the large pipeline, small tiles.
        assert_eq!(MatmulPlan::choose(2240, 10000, 1024, false, u64::MAX).tile, Small);
        // Scratch too small for two partial blocks: no split.
        assert_eq!(MatmulPlan::choose(513, 512, 2048, true, 513 * 512).splits, 1);
    }

    #[test]
    fn splits_cover_k_exactly() {
        for (k, s) in [(1, 1), (100, 3), (2048, 8), (2240, 8), (10000, 16)] {
            let p = MatmulPlan::with_splits(MatmulTile::Small, k, s);
            assert!(p.k_chunk.is_multiple_of(16) && p.k_chunk * p.splits >= k && p.k_chunk * (p.splits - 1) < k, "{p:?} for k={k}");
        }
    }

    #[test]
    fn recurrent_waves_launch_at_least_256_workgroups_per_lane_at_the_bench_sizes() {
        // (n, lane widths) of the six bench sizes (steady-state waves): rows per workgroup
        // and workgroups per recurrent dispatch (the H200's fastest at each, docs/gpu.md;
        // h = 2048 takes 16 rows since the K-per-thread bound, untimed in a whole step yet).
        let sizes: [(u32, &[u32], u32, u32); 6] = [
            (32, &[512], 4, 256),
            (32, &[512, 512], 4, 512),
            (64, &[1024], 16, 256),
            (64, &[1024, 1024], 16, 512),
            (128, &[2048], 16, 1024),
            (256, &[512], 32, 256),
        ];
        for (n, widths, rows, groups) in sizes {
            let r = rnn_rows_per_tile(n, widths);
            let g: u32 = widths.iter().map(|&h| rnn_lane_groups(n, h, r)).sum();
            assert_eq!((r, g), (rows, groups), "n={n} widths={widths:?}");
            assert!(g >= 128, "the issue's floor: at least 128 workgroups per recurrent dispatch");
        }
        // One row (evaluation, sampling): the fewest rows per workgroup, h/16 workgroups.
        assert_eq!(rnn_rows_per_tile(1, &[1024]), 4);
        assert_eq!(rnn_lane_groups(1, 1024, 4), 64);
    }
}
