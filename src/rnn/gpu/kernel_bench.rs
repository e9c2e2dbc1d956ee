//! Single kernels timed on the GPU alone, for the tiling the launcher picks and for each
//! alternative, from timestamp queries (or the host clock over a whole submission where
//! the adapter has none):
//! - `elman bench --gemm M,N,K`: one product C[M, N] = op(A)·op(B) with K inner, both
//!   tiles with K split 1, 2, 4, 8 ways, in each transposition the trainer uses; GFLOP/s
//!   counts 2·M·N·K per product.
//! - `elman bench --rnn N,H`: chains of dependent recurrent steps on [N, H] (forward and
//!   backward), for every rows-per-workgroup choice; µs per step, GFLOP/s (2·N·H² each).

use super::buffers::Allocator;
use super::context::GpuContext;
use super::kernels::matmul::{MatmulParams, MatmulTile, MatmulTiling, LARGE};
use super::kernels::prelude::StepParams;
use super::kernels::rnn_wave::{rows_per_tile, WaveBuffers, ROWS_PER_TILE};
use super::recurrence::single_layer_wave;
use crate::rnn::model::Activation;
use super::profile::{self, Timer, Timestamps};
use super::program::{Program, ProgramBuilder};
use crate::error::{ElmanError, Result};
use crate::rng::Rng;

/// One timed variant.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GemmResult {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    /// "nn", "tn" (A stored transposed, as in dW = Xᵀ·dZ), "nt" (B transposed, as in
    /// dX = dZ·Wᵀ) or "tt".
    pub layout: &'static str,
    /// "auto (…)" for the launcher's own choice, else the tile and split count.
    pub plan: String,
    pub workgroups: u32,
    /// Median µs per product (both dispatches when split).
    pub us: f64,
    pub gflop_per_s: f64,
}

fn describe(plan: &MatmulTiling) -> String {
    let tile = plan.tile.side();
    format!("{tile}x{tile} tiles, {} split{}", plan.splits, if plan.splits == 1 { "" } else { "s" })
}

/// Times every variant of C[m, n] = op(A)·op(B), `reps` products per variant.
pub fn run(ctx: &GpuContext, (m, n, k): (u32, u32, u32), reps: usize) -> Result<Vec<GemmResult>> {
    let elements = |a: u32, b: u32| a as usize * b as usize;
    let limits = ctx.limits();
    let biggest = elements(m, k).max(elements(k, n)).max(elements(m, n)) as u64 * 4;
    if biggest > limits.max_storage_buffer_binding_size.min(limits.max_buffer_size) {
        return Err(ElmanError::Gpu(format!("the product {m}×{n}×{k}: an operand of {biggest} bytes exceeds the adapter's buffer limits")));
    }
    let mut rng = Rng::new(7);
    let mut random = |len: usize| (0..len).map(|_| rng.uniform(-1.0, 1.0) as f32).collect::<Vec<f32>>();
    let mut alloc = Allocator::new(&ctx.device);
    let a = alloc.init("gemm a", &random(elements(m, k)));
    let b = alloc.init("gemm b", &random(elements(k, n)));
    let c = alloc.zeros("gemm c", elements(m, n));
    let large = ctx.kernels.has(&LARGE);
    let mut plans: Vec<(String, Option<MatmulTiling>)> = Vec::new();
    for tile in MatmulTile::ALL.into_iter().filter(|&t| ctx.kernels.has(t.kernel())) {
        for splits in [1, 2, 4, 8] {
            let plan = MatmulTiling::with_splits(tile, k, splits);
            if plan.splits == splits {
                plans.push((describe(&plan), Some(plan)));
            }
        }
    }
    let mut out = Vec::new();
    for (layout, flags) in [("nn", 0), ("tn", MatmulParams::TRANS_A), ("nt", MatmulParams::TRANS_B), ("tt", MatmulParams::TRANS_A | MatmulParams::TRANS_B)] {
        let p = MatmulParams { m, n, k, flags, ..Default::default() };
        let auto = MatmulTiling::choose(m, n, k, large, u64::MAX);
        let variants = std::iter::once((format!("auto ({})", describe(&auto)), None)).chain(plans.iter().cloned());
        for (label, plan) in variants {
            let mut pb = ProgramBuilder::new(ctx, "gemm bench", None);
            for _ in 0..reps.max(1) {
                match plan {
                    Some(plan) => pb.matmul_tiled(&a, &b, &c, None, p, plan),
                    None => pb.matmul(&a, &b, &c, None, p),
                }
            }
            let program = pb.finish();
            // The product's own dispatch (a split product's reduce follows it).
            let workgroups = program.dispatches().first().map_or(0, |d| d.workgroups.iter().product::<u32>());
            let us = time_units(ctx, &program, reps.max(1), &c)?;
            let gflop = 2.0 * m as f64 * n as f64 * k as f64 / 1e9;
            out.push(GemmResult { m, n, k, layout, plan: label, workgroups, us, gflop_per_s: gflop / (us * 1e-6) });
        }
    }
    Ok(out)
}

/// Median µs of one unit of `program`, whose dispatches form `units` equal groups (one
/// untimed replay first, for pipeline warm-up). Without timestamps: the host clock over
/// the whole replay, waiting on a read of `sync`.
fn time_units(ctx: &GpuContext, program: &Program, units: usize, sync: &wgpu::Buffer) -> Result<f64> {
    let timer = Timer::of(ctx);
    let dispatches = program.len();
    let per_unit = (dispatches / units.max(1)).max(1);
    program.submit(ctx);
    if timer == Timer::WholeSubmission {
        let start = std::time::Instant::now();
        program.submit(ctx);
        ctx.read_f32(sync, 0, 1)?;
        return Ok(start.elapsed().as_secs_f64() * 1e6 / units.max(1) as f64);
    }
    let stamps = Timestamps::new(ctx, timer.queries(dispatches))?;
    let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("kernel bench") });
    if timer == Timer::InsidePasses {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("kernel bench"), timestamp_writes: None });
        program.record_timed(ctx, &mut pass, &stamps.set, 0);
    } else {
        program.record_pass_per_dispatch(ctx, &mut enc, &stamps.set, 0);
    }
    let ns = profile::durations(timer, &stamps.submit_and_read(ctx, enc)?, dispatches);
    let per: Vec<Vec<f64>> = ns.chunks(per_unit).map(|c| vec![c.iter().sum::<f64>()]).collect();
    Ok(profile::median_rows(&per)[0] / 1e3)
}

/// One timed recurrent variant.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RnnResult {
    pub n: u32,
    pub h: u32,
    /// "forward" or "backward".
    pub direction: &'static str,
    /// Rows of the result per workgroup, and whether the launcher would pick it.
    pub rows_per_workgroup: u32,
    pub auto: bool,
    pub workgroups: u32,
    /// Median µs per step of a chain of `steps` dependent steps.
    pub us: f64,
    pub gflop_per_s: f64,
}

/// Times chains of `steps` dependent recurrent steps on [n, h] per rows-per-workgroup
/// choice, forward and backward (tanh).
pub fn run_rnn(ctx: &GpuContext, (n, h): (u32, u32), steps: usize) -> Result<Vec<RnnResult>> {
    let steps = steps.max(1);
    let block = n as usize * h as usize;
    let limits = ctx.limits();
    if ((steps + 1) * block * 4) as u64 > limits.max_storage_buffer_binding_size.min(limits.max_buffer_size) {
        return Err(ElmanError::Gpu(format!("recurrent steps on [{n}, {h}]: {steps} steps do not fit the adapter's buffer limits")));
    }
    let mut rng = Rng::new(11);
    let mut random = |len: usize, scale: f64| (0..len).map(|_| rng.uniform(-scale, scale) as f32).collect::<Vec<f32>>();
    let mut alloc = Allocator::new(&ctx.device);
    let w = alloc.init("rnn w", &random(h as usize * h as usize, 1.0 / (h as f64).sqrt()));
    let p_all = alloc.init("rnn p", &random(steps * block, 1.0));
    let hs = alloc.init("rnn h", &random((steps + 1) * block, 1.0));
    let dh = alloc.init("rnn dh", &random(steps * block, 1.0));
    let dz = alloc.zeros("rnn dz", steps * block);
    let auto = rows_per_tile(n, &[h]);
    let step = alloc.uniform("rnn step", bytemuck::bytes_of(&StepParams::default()));
    let mut out = Vec::new();
    for back in [false, true] {
        for rows in ROWS_PER_TILE {
            let mut pb = ProgramBuilder::new(ctx, "rnn bench", Some(&step));
            for s in 0..steps {
                // The backward chain runs backward in time, the last step without a successor.
                let t = if back { steps - 1 - s } else { s } as u32;
                let p = single_layer_wave(back, Activation::Tanh, n, h, t, !back || s > 0, 0);
                if back {
                    pb.rnn_wave(WaveBuffers { x_in: &dh, y_out: &dz, w: &w, backward_hidden: Some(&hs) }, p, rows);
                } else {
                    pb.rnn_wave(WaveBuffers { x_in: &p_all, y_out: &hs, w: &w, backward_hidden: None }, p, rows);
                }
            }
            let program = pb.finish();
            let workgroups = program.dispatches().first().map_or(0, |d| d.workgroups.iter().product::<u32>());
            let us = time_units(ctx, &program, steps, if back { &dz } else { &hs })?;
            let gflop = 2.0 * n as f64 * h as f64 * h as f64 / 1e9;
            out.push(RnnResult {
                n,
                h,
                direction: if back { "backward" } else { "forward" },
                rows_per_workgroup: rows,
                auto: rows == auto,
                workgroups,
                us,
                gflop_per_s: gflop / (us * 1e-6),
            });
        }
    }
    Ok(out)
}
