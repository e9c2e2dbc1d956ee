//! rnn_wave.wgsl: the recurrent kernels' shared body (one wave's tiles), joined after the
//! prelude before rnn_step.wgsl (one dispatch per wave) and rnn_persistent.wgsl (every
//! wave of a chunk in one dispatch), which declare the wave's `p`. Here: the wave's
//! uniform ([`RnnStepParams`] of up to [`RnnLane::MAX`] lanes), the host's constants, the
//! rows-per-workgroup choice, and where each lane's workgroups start.
//!
//! Shapes: n = rows per time step, h = a lane's width.

use super::{UniformMirror, Wgsl};
use crate::rnn::gpu::program::Cost;

uniform! {
    /// One lane of a wave (one layer at one time step). Offsets are element offsets into
    /// the bound buffers (see rnn_wave.wgsl's header); `first_group` and `groups_x` are set
    /// by the launcher.
    pub struct RnnLane {
        pub h: u32,
        /// Width of the input part's rows (0: no input part).
        pub k1: u32,
        pub t: u32,
        /// [`RnnLane::HAS_RECURRENT`] | VEC4 | DROP | X_TERM | MI | RECORD.
        pub flags: u32,
        pub first_group: u32,
        pub groups_x: u32,
        pub a1_off: u32,
        pub a2_off: u32,
        pub w1_off: u32,
        pub w2_off: u32,
        pub x_off: u32,
        pub bias_off: u32,
        pub out_off: u32,
        pub aux_off: u32,
        pub drop_off: u32,
        pub site: u32,
        /// MI: α of the layer in w (forward: the parameters; backward: their copy in the
        /// transposed buffer); β_h and β_x follow at `gate_stride` and 2·`gate_stride`.
        pub gate_off: u32,
        pub gate_stride: u32,
        /// MI: row 0 of P_t and R_t in the hidden buffer (forward writes them to y_out,
        /// backward reads them from aux).
        pub p_off: u32,
        pub r_off: u32,
        /// MI, backward: row 0 of dP_t and dR_t in y_out.
        pub dp_off: u32,
        pub dr_off: u32,
        /// RECORD, backward: row 0 in y_out where G_t = ∂L/∂H_t (before φ') is written.
        pub flow_off: u32,
        pub _pad0: u32,
    }
}

impl RnnLane {
    pub const HAS_RECURRENT: u32 = 1;
    pub const VEC4: u32 = 2;
    pub const DROP: u32 = 4;
    pub const X_TERM: u32 = 8;
    /// The multiplicative cell: forward sums P and R apart and gates them; backward writes
    /// dR and dP beside dZ.
    pub const MI: u32 = 16;
    /// Backward: also write G_t (the gradient flow).
    pub const RECORD: u32 = 32;
    /// Lanes one dispatch holds.
    pub const MAX: usize = 4;

    /// Sets VEC4 when the lane's widths and offsets are all multiples of 4.
    pub fn with_vec4_if_aligned(mut self) -> Self {
        let all = [
            self.h,
            self.k1,
            self.a1_off,
            self.a2_off,
            self.w1_off,
            self.w2_off,
            self.x_off,
            self.bias_off,
            self.out_off,
            self.aux_off,
            self.drop_off,
            self.gate_off,
            self.gate_stride,
            self.p_off,
            self.r_off,
            self.dp_off,
            self.dr_off,
            self.flow_off,
        ];
        if all.iter().all(|v| v % 4 == 0) {
            self.flags |= Self::VEC4;
        }
        self
    }
}

uniform! {
    /// One wave, up to [`RnnLane::MAX`] lanes.
    pub struct RnnStepParams {
        /// n: rows of one time step.
        pub rows: u32,
        /// Lanes in use.
        pub lanes: u32,
        /// 0 = tanh, 1 = relu.
        pub act: u32,
        /// Dropout seed, probability and 1/(1−p) (the update number comes from StepParams).
        pub seed: u32,
        pub p: f32,
        pub keep: f32,
        /// Workgroups of the wave (its lanes' tiles one after another; set by the
        /// launcher, read by rnn_persistent.wgsl).
        pub groups: u32,
        pub _pad1: u32,
        pub lane: [RnnLane; RnnLane::MAX],
    }
}

/// Output columns per workgroup.
pub const COLS: u32 = 16;
/// Threads per workgroup.
pub const THREADS: u32 = 256;
/// The rows-per-workgroup choices (rnn_wave.wgsl's overridable `ROWS`): one pipeline each.
pub const ROWS_PER_TILE: [u32; 5] = [4, 8, 16, 32, 64];
/// The workgroup array of partial sums: four vec4s per thread.
pub const PARTIAL_BYTES: u32 = 4 * THREADS * 16;

/// rnn_wave.wgsl with its tile shape and the lane flags.
pub static WGSL: Wgsl = Wgsl {
    file: "rnn_wave.wgsl",
    text: include_str!("rnn_wave.wgsl"),
    constants: &[
        ("COLS", COLS),
        ("THREADS", THREADS),
        ("LANES", RnnLane::MAX as u32),
        ("HAS_RECURRENT", RnnLane::HAS_RECURRENT),
        ("VEC4", RnnLane::VEC4),
        ("DROP", RnnLane::DROP),
        ("X_TERM", RnnLane::X_TERM),
        ("MI", RnnLane::MI),
        ("RECORD", RnnLane::RECORD),
    ],
    uniforms: &[UniformMirror::of::<RnnStepParams>("Params"), UniformMirror::of::<RnnLane>("Lane")],
};

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

/// Rows of the result per workgroup of a recurrent wave with n rows whose lanes are
/// `widths` wide: the most rows (fewest re-reads of the weights), up to
/// [`RECURRENT_MAX_ROWS`] and to [`RECURRENT_MAX_K_PER_THREAD`] K values per thread for the
/// widest lane, with which a lane of the average width still launches
/// [`RECURRENT_TARGET_WORKGROUPS`]; never more than n rounds up to (at least 4, a thread's
/// rows). When no choice reaches the target, the fewest rows (the most workgroups).
pub fn rows_per_tile(n: u32, widths: &[u32]) -> u32 {
    let cols = widths.iter().map(|h| h.div_ceil(COLS)).sum::<u32>().div_ceil(widths.len().max(1) as u32);
    let widest = widths.iter().copied().max().unwrap_or(0);
    let fewest = ROWS_PER_TILE[0];
    let k_per_thread = |r: u32| widest * r / THREADS;
    let fits = |r: u32| r <= RECURRENT_MAX_ROWS && k_per_thread(r) <= RECURRENT_MAX_K_PER_THREAD && r <= n.max(1).next_power_of_two().max(fewest);
    ROWS_PER_TILE
        .iter()
        .rev()
        .copied()
        .find(|&r| fits(r) && cols * n.div_ceil(r) >= RECURRENT_TARGET_WORKGROUPS)
        .unwrap_or(fewest)
}

/// `p` with each lane's workgroup range and the wave's total set, `rows` rows per workgroup.
pub fn place_lanes(mut p: RnnStepParams, rows: u32) -> RnnStepParams {
    let mut groups = 0;
    for lane in &mut p.lane[..p.lanes as usize] {
        lane.first_group = groups;
        lane.groups_x = lane.h.div_ceil(COLS);
        groups += lane_groups(p.rows, lane.h, rows);
    }
    p.groups = groups;
    p
}

/// Workgroups of one lane of h columns over n rows, `rows` rows per workgroup.
pub fn lane_groups(n: u32, h: u32, rows: u32) -> u32 {
    h.div_ceil(COLS) * n.div_ceil(rows)
}

/// One wave: per lane 2·n·h·(k1 + h) FLOPs (the input and recurrent parts); its weights,
/// the rows it reads and the rows it writes.
pub fn wave_cost(p: &RnnStepParams) -> Cost {
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

/// The buffers of one direction of the recurrence: forward x_in = P^0, y_out = the hidden
/// buffer, w = the parameters; backward x_in = dH^L, y_out = the dZ buffer, w = the
/// transposed weights, `backward_hidden` = the hidden buffer (for φ').
#[derive(Clone, Copy)]
pub struct WaveBuffers<'a> {
    pub x_in: &'a wgpu::Buffer,
    pub y_out: &'a wgpu::Buffer,
    pub w: &'a wgpu::Buffer,
    pub backward_hidden: Option<&'a wgpu::Buffer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uniforms_are_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<RnnLane>(), 96);
        assert_eq!(std::mem::size_of::<RnnStepParams>(), 416);
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
            let r = rows_per_tile(n, widths);
            let g: u32 = widths.iter().map(|&h| lane_groups(n, h, r)).sum();
            assert_eq!((r, g), (rows, groups), "n={n} widths={widths:?}");
            assert!(g >= 128, "at least 128 workgroups per recurrent dispatch, so a wave fills the GPU");
        }
        // One row (evaluation, sampling): the fewest rows per workgroup, h/16 workgroups.
        assert_eq!(rows_per_tile(1, &[1024]), 4);
        assert_eq!(lane_groups(1, 1024, 4), 64);
    }
}
