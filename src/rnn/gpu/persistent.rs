//! The persistent recurrence on the host (rnn_persistent.wgsl): whether a context runs a
//! chunk's waves in one dispatch per direction or one dispatch per wave, the buffers its
//! grid barrier shares, the probe that finds how many workgroups the GPU keeps resident at
//! once, and the check that no barrier gave up.
//!
//! Per-wave dispatches (`waves`) are the default. `ELMAN_RECURRENCE=persistent` (or
//! `elman bench --recurrence`) asks for the persistent kernel; it is used only on hardware
//! adapters, with a grid that a probe showed to be resident all at once: a grid barrier
//! needs every workgroup running, which no API reports, so the probe runs barriers alone
//! (no work) on the grid a program wants, halving it until they pass. A barrier that waits
//! past its poll limit gives up: the kernel's one-workgroup fallback reruns the chunk
//! (exact, slow), and the host, which reads the failure flag whenever it drains its stats,
//! goes back to per-wave dispatches for the rest of the run.

use super::context::GpuContext;
use super::params::{PersistentRun, RnnStepParams, StepParams};
use super::program::ProgramBuilder;
use crate::error::{ElmanError, Result};
use std::sync::Mutex;

/// How the recurrence is dispatched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurrence {
    /// One dispatch per wave of the layer wavefront: T + L − 1 each way.
    Waves,
    /// One persistent dispatch per direction (and two small ones beside it).
    Persistent,
}

impl Recurrence {
    /// The environment variable that selects it: `waves` (the default) or `persistent`.
    pub const ENV: &'static str = "ELMAN_RECURRENCE";

    pub fn parse(s: &str) -> Result<Recurrence> {
        match s.trim() {
            "waves" | "" => Ok(Recurrence::Waves),
            "persistent" => Ok(Recurrence::Persistent),
            other => Err(ElmanError::Config(format!("{}: unknown recurrence '{other}' (expected waves or persistent)", Self::ENV))),
        }
    }

    /// From `ELMAN_RECURRENCE`, [`Recurrence::Waves`] when unset.
    pub fn from_env() -> Result<Recurrence> {
        match std::env::var(Self::ENV) {
            Ok(s) => Self::parse(&s),
            Err(std::env::VarError::NotPresent) => Ok(Recurrence::Waves),
            Err(std::env::VarError::NotUnicode(_)) => Err(ElmanError::Config(format!("{} is not valid UTF-8", Self::ENV))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Recurrence::Waves => "waves",
            Recurrence::Persistent => "persistent",
        }
    }
}

/// Polls of the arrival counter at one grid barrier before it gives up: about a second on
/// a GPU (a poll is an L2 round trip, under a microsecond), far longer than any wave.
pub const SPIN_LIMIT: u32 = 1 << 20;
/// The budget of polls over a whole dispatch for tests forced onto a software adapter:
/// Mesa's llvmpipe ends every loop of an invocation after 65,535 iterations in all, so the
/// polls must leave room for the waves' own loops (and a barrier that runs out gives up,
/// which the fallback makes exact). Its polls are slow ones there (SLOW_POLL).
pub const SOFTWARE_SPIN_LIMIT: u32 = 40_000;
/// Polls at one barrier of the probe: a grid that is not resident never passes.
const PROBE_SPIN_LIMIT: u32 = 1 << 16;
/// Barriers each probe runs.
const PROBE_WAVES: usize = 8;
/// The smallest grid worth probing: below it the per-wave dispatches win.
const MIN_GRID: u32 = 8;

/// How a barrier polls: at most `spin_limit` times each, at most `poll_budget` times over
/// a dispatch (0: no such bound), with `slow` polls (more busy work between two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Polling {
    pub spin_limit: u32,
    pub poll_budget: u32,
    pub slow: bool,
}

impl Polling {
    /// A GPU's: a bound per barrier only.
    pub const HARDWARE: Polling = Polling { spin_limit: SPIN_LIMIT, poll_budget: 0, slow: false };
    /// Tests forced onto llvmpipe (see [`SOFTWARE_SPIN_LIMIT`]).
    pub const SOFTWARE: Polling = Polling { spin_limit: SOFTWARE_SPIN_LIMIT, poll_budget: SOFTWARE_SPIN_LIMIT, slow: true };
    /// Tests of the fallback: give up at the first unanswered poll.
    pub const GIVE_UP_AT_ONCE: Polling = Polling { spin_limit: 0, poll_budget: 0, slow: false };
    /// The probe's barriers give up sooner: a grid that is not resident never passes.
    const PROBE: Polling = Polling { spin_limit: PROBE_SPIN_LIMIT, poll_budget: 0, slow: false };
}

/// What a persistent dispatch needs from its context.
pub struct PersistentLaunch {
    /// Workgroups of the dispatch (every one resident).
    pub grid: u32,
    pub polling: Polling,
    /// FAILED and the arrival counters ([`PersistentRun::SYNC_WORDS`] words).
    pub sync: wgpu::Buffer,
    /// The fallback's workgroup counts (x, y, z): (0, 1, 1) until a barrier gives up.
    pub args: wgpu::Buffer,
    /// Bound in `args`'s place by the fallback dispatch, which never writes it.
    pub spare_args: wgpu::Buffer,
}

struct Buffers {
    sync: wgpu::Buffer,
    args: wgpu::Buffer,
    spare_args: wgpu::Buffer,
}

/// A context's persistent-kernel state (behind [`GpuContext::persistent`]).
pub struct PersistentState {
    inner: Mutex<State>,
}

struct State {
    recurrence: Recurrence,
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

impl PersistentState {
    pub fn new(recurrence: Recurrence) -> PersistentState {
        let state = State { recurrence, forced_grid: None, polling: Polling::HARDWARE, buffers: None, residency: Default::default(), failed: false };
        PersistentState { inner: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn initial_sync() -> [u32; PersistentRun::SYNC_WORDS] {
    [0; PersistentRun::SYNC_WORDS]
}

const INITIAL_ARGS: [u32; 4] = [0, 1, 1, 0];

impl GpuContext {
    /// How programs built from now on dispatch the recurrence.
    pub fn recurrence(&self) -> Recurrence {
        let s = self.persistent.lock();
        if s.failed {
            Recurrence::Waves
        } else {
            s.recurrence
        }
    }

    /// Chooses the recurrence of programs built from now on (on a software adapter the
    /// persistent kernel is still not used: [`GpuContext::persistent_launch`]).
    pub fn set_recurrence(&self, recurrence: Recurrence) {
        self.persistent.lock().recurrence = recurrence;
    }

    /// Tests only: the persistent kernel with at most `grid` workgroups, no probe, on a
    /// software adapter too, its barriers polling as `polling` says. Also forgets an
    /// earlier failure: the sticky flag and the fallback's counts are written back to their
    /// first values.
    pub fn force_persistent(&self, grid: u32, polling: Polling) {
        let mut s = self.persistent.lock();
        s.recurrence = Recurrence::Persistent;
        s.forced_grid = Some(grid.max(1));
        s.polling = polling;
        s.failed = false;
        if let Some(b) = s.buffers.as_ref() {
            self.reset_persistent_buffers(&b.sync, &b.args);
        }
    }

    /// The launch of a persistent dispatch whose waves have at most `wanted` workgroups,
    /// or None for per-wave dispatches: not asked for, a software adapter, a device that
    /// lacks the pipeline, a barrier that gave up before, or no resident grid of at least
    /// [`MIN_GRID`] (probed once per grid size and pipeline on first use).
    pub fn persistent_launch(&self, wanted: u32, rows: u32) -> Option<PersistentLaunch> {
        if self.recurrence() != Recurrence::Persistent || !self.kernels.has(super::kernels::Kernel::RnnPersistent(rows)) {
            return None;
        }
        let (forced_grid, polling) = {
            let s = self.persistent.lock();
            (s.forced_grid, s.polling)
        };
        self.persistent_buffers();
        let grid = match forced_grid {
            Some(cap) => wanted.min(cap),
            None if self.is_software() => return None,
            None => self.resident_grid(wanted, rows)?,
        };
        Some(self.launch_with(grid.max(1), polling))
    }

    fn launch_with(&self, grid: u32, polling: Polling) -> PersistentLaunch {
        let s = self.persistent.lock();
        let b = s.buffers.as_ref().expect("made by persistent_buffers");
        PersistentLaunch { grid, polling, sync: b.sync.clone(), args: b.args.clone(), spare_args: b.spare_args.clone() }
    }

    /// Makes the shared buffers on first use.
    fn persistent_buffers(&self) {
        let mut s = self.persistent.lock();
        if s.buffers.is_none() {
            use wgpu::util::DeviceExt;
            let make = |label: &str, words: &[u32], usage: wgpu::BufferUsages| {
                self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents: bytemuck::cast_slice(words), usage })
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
    fn resident_grid(&self, wanted: u32, rows: u32) -> Option<u32> {
        if self.persistent_failed().unwrap_or(true) {
            self.give_up_persistent();
            return None;
        }
        let mut grid = wanted;
        while grid >= MIN_GRID {
            let (resident, not_resident) = self.persistent.lock().residency.get(&rows).copied().unwrap_or((0, u32::MAX));
            if grid <= resident {
                return Some(grid);
            }
            if grid < not_resident {
                let passed = self.probe_resident(grid, rows).unwrap_or(false);
                let mut s = self.persistent.lock();
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
    pub fn probe_resident(&self, grid: u32, rows: u32) -> Result<bool> {
        self.persistent_buffers();
        let launch = self.launch_with(grid, Polling::PROBE);
        let mut alloc = super::buffers::Allocator::new(&self.device);
        let (x_in, y_out, w) = (alloc.zeros("probe x_in", 4), alloc.zeros("probe y_out", 4), alloc.zeros("probe w", 4));
        let step = alloc.uniform("probe step", bytemuck::bytes_of(&StepParams::default()));
        let mut pb = ProgramBuilder::new(self, "persistent probe", Some(&step));
        let empty = vec![RnnStepParams::default(); PROBE_WAVES];
        pb.rnn_persistent(super::launch::WaveBuffers { x_in: &x_in, y_out: &y_out, w: &w, backward_hidden: None }, &empty, rows, &launch);
        pb.finish().submit(self);
        let failed = self.persistent_failed()?;
        if failed {
            self.reset_persistent_buffers(&launch.sync, &launch.args);
        }
        Ok(!failed)
    }

    /// The failure flag, the counters and the fallback's counts back to their first values.
    fn reset_persistent_buffers(&self, sync: &wgpu::Buffer, args: &wgpu::Buffer) {
        self.write(sync, 0, &initial_sync());
        self.write(args, 0, &INITIAL_ARGS);
    }

    /// Whether a grid barrier on this device gave up (a blocking readback of the sticky
    /// flag; false without any persistent dispatch). Once true, [`GpuContext::recurrence`]
    /// answers per-wave dispatches.
    pub fn persistent_failed(&self) -> Result<bool> {
        let sync = match self.persistent.lock().buffers.as_ref() {
            Some(b) => b.sync.clone(),
            None => return Ok(false),
        };
        let word = self.read_f32(&sync, PersistentRun::FAILED_WORD, 1)?;
        let failed = word[0].to_bits() != 0;
        Ok(failed)
    }

    /// After a barrier gave up ([`GpuContext::persistent_failed`]): programs built from
    /// now on dispatch per wave.
    pub fn give_up_persistent(&self) {
        let mut s = self.persistent.lock();
        if !s.failed {
            eprintln!("warning: a persistent recurrent kernel's grid barrier gave up on {}; using one dispatch per wave from now on", self.describe());
        }
        s.failed = true;
    }
}


