//! The persistent strategy of the recurrence (rnn_persistent.wgsl) on the host: the
//! buffers its grid barrier shares, the probe that finds how many workgroups the GPU keeps
//! resident at once, and the check that no barrier gave up.
//!
//! It is used only on hardware adapters, with a grid that a probe showed to be resident
//! all at once: a grid barrier needs every workgroup running, which no API reports, so the
//! probe runs barriers alone (no work) on the grid a program wants, halving it until they
//! pass. A barrier that waits past its poll limit gives up: the kernel's one-workgroup
//! fallback reruns the chunk (exact, slow), and the host, which reads the failure flag
//! whenever it drains its stats, goes back to per-wave dispatches for the rest of the run.

use crate::error::Result;
use crate::rnn::gpu::buffers::Allocator;
use crate::rnn::gpu::context::GpuContext;
use crate::rnn::gpu::kernels::prelude::StepParams;
use crate::rnn::gpu::kernels::rnn_persistent::{PersistentLaunch, PersistentRun, Polling, PERSISTENT};
use crate::rnn::gpu::kernels::rnn_step::with_rows;
use crate::rnn::gpu::kernels::rnn_wave::{RnnStepParams, WaveBuffers};
use crate::rnn::gpu::program::ProgramBuilder;
use std::sync::Mutex;

/// Polls at one barrier of the probe: a grid that is not resident never passes.
const PROBE_SPIN_LIMIT: u32 = 1 << 16;
/// Barriers each probe runs.
const PROBE_WAVES: usize = 8;
/// The smallest grid worth probing: below it the per-wave dispatches win.
const MIN_GRID: u32 = 8;

/// The probe's barriers give up sooner: a grid that is not resident never passes.
const PROBE_POLLING: Polling = Polling { spin_limit: PROBE_SPIN_LIMIT, poll_budget: 0, slow: false };

struct Buffers {
    sync: wgpu::Buffer,
    args: wgpu::Buffer,
    spare_args: wgpu::Buffer,
}

/// One device's persistent-kernel state (kept by [`super::RecurrenceDispatch`]).
pub struct PersistentRecurrence {
    inner: Mutex<State>,
}

struct State {
    /// Tests only: no probe, at most this many workgroups, on software adapters too.
    forced_grid: Option<u32>,
    polling: Polling,
    buffers: Option<Buffers>,
    /// Per rows-per-workgroup pipeline (their register use, and so how many fit at once,
    /// may differ): the largest grid a probe passed, and the smallest one that failed.
    residency: std::collections::HashMap<u32, (u32, u32)>,
    /// A barrier gave up: per-wave dispatches from now on.
    failed: bool,
}

fn initial_sync() -> [u32; PersistentRun::SYNC_WORDS] {
    [0; PersistentRun::SYNC_WORDS]
}

const INITIAL_ARGS: [u32; 4] = [0, 1, 1, 0];

impl PersistentRecurrence {
    pub fn new() -> PersistentRecurrence {
        let state = State { forced_grid: None, polling: Polling::HARDWARE, buffers: None, residency: Default::default(), failed: false };
        PersistentRecurrence { inner: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a barrier gave up before (then per-wave dispatches are used).
    pub fn has_failed(&self) -> bool {
        self.lock().failed
    }

    /// Tests only: at most `grid` workgroups, no probe, on a software adapter too, the
    /// barriers polling as `polling` says. Also forgets an earlier failure: the sticky flag
    /// and the fallback's counts are written back to their first values.
    pub fn force(&self, ctx: &GpuContext, grid: u32, polling: Polling) {
        let mut s = self.lock();
        s.forced_grid = Some(grid.max(1));
        s.polling = polling;
        s.failed = false;
        if let Some(b) = s.buffers.as_ref() {
            reset_buffers(ctx, &b.sync, &b.args);
        }
    }

    /// The launch of a persistent dispatch whose waves have at most `wanted` workgroups,
    /// or None for per-wave dispatches: a software adapter, a device that lacks the
    /// pipeline, a barrier that gave up before, or no resident grid of at least
    /// [`MIN_GRID`] (probed once per grid size and pipeline on first use).
    pub fn launch(&self, ctx: &GpuContext, wanted: u32, rows: u32) -> Option<PersistentLaunch> {
        if self.has_failed() || !ctx.kernels.has(with_rows(&PERSISTENT, rows)) {
            return None;
        }
        let (forced_grid, polling) = {
            let s = self.lock();
            (s.forced_grid, s.polling)
        };
        self.make_buffers(ctx);
        let grid = match forced_grid {
            Some(cap) => wanted.min(cap),
            None if ctx.is_software() => return None,
            None => self.resident_grid(ctx, wanted, rows)?,
        };
        Some(self.launch_with(grid.max(1), polling))
    }

    fn launch_with(&self, grid: u32, polling: Polling) -> PersistentLaunch {
        let s = self.lock();
        let b = s.buffers.as_ref().expect("made by make_buffers");
        PersistentLaunch { grid, polling, sync: b.sync.clone(), args: b.args.clone(), spare_args: b.spare_args.clone() }
    }

    /// Makes the shared buffers on first use.
    fn make_buffers(&self, ctx: &GpuContext) {
        let mut s = self.lock();
        if s.buffers.is_none() {
            use wgpu::util::DeviceExt;
            let make = |label: &str, words: &[u32], usage: wgpu::BufferUsages| {
                ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents: bytemuck::cast_slice(words), usage })
            };
            let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
            s.buffers = Some(Buffers {
                sync: make("persistent sync", &initial_sync(), storage),
                args: make("persistent fallback counts", &INITIAL_ARGS, storage | wgpu::BufferUsages::INDIRECT),
                spare_args: make("persistent spare counts", &INITIAL_ARGS, storage),
            });
        }
    }

    /// The largest grid ≤ `wanted` (halving, at least [`MIN_GRID`]) whose workgroups all
    /// run at once, by probing; None when there is none, or when a barrier already gave up
    /// (unseen by the host so far: a probe would take the blame and hide it).
    fn resident_grid(&self, ctx: &GpuContext, wanted: u32, rows: u32) -> Option<u32> {
        if self.barrier_gave_up(ctx).unwrap_or(true) {
            self.give_up(ctx);
            return None;
        }
        let mut grid = wanted;
        while grid >= MIN_GRID {
            let (resident, not_resident) = self.lock().residency.get(&rows).copied().unwrap_or((0, u32::MAX));
            if grid <= resident {
                return Some(grid);
            }
            if grid < not_resident {
                let passed = self.probe_resident(ctx, grid, rows).unwrap_or(false);
                let mut s = self.lock();
                let entry = s.residency.entry(rows).or_insert((0, u32::MAX));
                if passed {
                    entry.0 = entry.0.max(grid);
                    return Some(grid);
                }
                entry.1 = entry.1.min(grid);
            }
            grid /= 2;
        }
        None
    }

    /// Whether `grid` workgroups of the `rows` pipeline all run at once: [`PROBE_WAVES`]
    /// grid barriers with no work, then whether one gave up. A failed probe puts the
    /// buffers back as they were made.
    pub fn probe_resident(&self, ctx: &GpuContext, grid: u32, rows: u32) -> Result<bool> {
        self.make_buffers(ctx);
        let launch = self.launch_with(grid, PROBE_POLLING);
        let mut alloc = Allocator::new(&ctx.device);
        let (x_in, y_out, w) = (alloc.zeros("probe x_in", 4), alloc.zeros("probe y_out", 4), alloc.zeros("probe w", 4));
        let step = alloc.uniform("probe step", bytemuck::bytes_of(&StepParams::default()));
        let mut pb = ProgramBuilder::new(ctx, "persistent probe", Some(&step));
        let empty = vec![RnnStepParams::default(); PROBE_WAVES];
        pb.rnn_persistent(WaveBuffers { x_in: &x_in, y_out: &y_out, w: &w, backward_hidden: None }, &empty, rows, &launch);
        pb.finish().submit(ctx);
        let failed = self.barrier_gave_up(ctx)?;
        if failed {
            reset_buffers(ctx, &launch.sync, &launch.args);
        }
        Ok(!failed)
    }

    /// Whether a grid barrier on this device gave up (a blocking readback of the sticky
    /// flag; false without any persistent dispatch).
    pub fn barrier_gave_up(&self, ctx: &GpuContext) -> Result<bool> {
        let sync = match self.lock().buffers.as_ref() {
            Some(b) => b.sync.clone(),
            None => return Ok(false),
        };
        let word = ctx.read_f32(&sync, PersistentRun::FAILED_WORD, 1)?;
        Ok(word[0].to_bits() != 0)
    }

    /// After a barrier gave up ([`PersistentRecurrence::barrier_gave_up`]): programs built
    /// from now on dispatch per wave (said once per device).
    pub fn give_up(&self, ctx: &GpuContext) {
        let mut s = self.lock();
        if !s.failed {
            eprintln!("warning: a persistent recurrent kernel's grid barrier gave up on {}; using one dispatch per wave from now on", ctx.describe());
        }
        s.failed = true;
    }
}

impl Default for PersistentRecurrence {
    fn default() -> Self {
        Self::new()
    }
}

/// The failure flag, the counters and the fallback's counts back to their first values.
fn reset_buffers(ctx: &GpuContext, sync: &wgpu::Buffer, args: &wgpu::Buffer) {
    ctx.write(sync, 0, &initial_sync());
    ctx.write(args, 0, &INITIAL_ARGS);
}
