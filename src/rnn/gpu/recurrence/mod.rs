//! The recurrence: the layer wavefront's layout and lanes ([`wavefront`]), and how one
//! direction of a chunk's waves is dispatched. [`RecurrenceDispatch::record`] is the one
//! interface programs use; behind it are two strategies:
//! - per wave (the default): one rnn_step dispatch per wave, T + L − 1 each way;
//! - persistent ([`persistent`], `ELMAN_RECURRENCE=persistent` or `elman bench
//!   --recurrence`): every wave of a direction in one dispatch with a grid barrier between
//!   waves, on hardware adapters where a probe found the grid resident; after a barrier
//!   gives up, per wave again.
//!
//! Each device has one [`RecurrenceDispatch`] (kept beside the context,
//! [`GpuContext::shared`]), so every model and trainer on it sees the same choice and the
//! same failure.

pub mod persistent;
pub mod wavefront;

pub use wavefront::{backward_waves, forward_waves, recurrent_dispatches, single_layer_wave, ActivationLayout, Wavefront};

use super::context::GpuContext;
use super::kernels::rnn_persistent::{PersistentLaunch, Polling};
use super::kernels::rnn_wave::{place_lanes, RnnStepParams, WaveBuffers};
use super::program::ProgramBuilder;
use crate::error::{ElmanError, Result};
use persistent::PersistentRecurrence;
use std::sync::{Arc, Mutex};

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

/// One device's way of dispatching the recurrence: the strategy asked for, and the
/// persistent strategy's state.
pub struct RecurrenceDispatch {
    asked: Mutex<Recurrence>,
    persistent: PersistentRecurrence,
}

impl RecurrenceDispatch {
    /// The device's dispatch, made on first use from `ELMAN_RECURRENCE` (an unknown value
    /// is an error).
    pub fn of(ctx: &GpuContext) -> Result<Arc<RecurrenceDispatch>> {
        ctx.shared(|| {
            let asked = Recurrence::from_env()?;
            if asked == Recurrence::Persistent && ctx.is_software() {
                eprintln!("note: {}=persistent is not used on a software adapter ({}); one dispatch per wave instead", Recurrence::ENV, ctx.describe());
            }
            Ok(RecurrenceDispatch { asked: Mutex::new(asked), persistent: PersistentRecurrence::new() })
        })
    }

    fn asked(&self) -> std::sync::MutexGuard<'_, Recurrence> {
        self.asked.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How programs built from now on dispatch the recurrence.
    pub fn current(&self) -> Recurrence {
        if self.persistent.has_failed() {
            Recurrence::Waves
        } else {
            *self.asked()
        }
    }

    /// Chooses the recurrence of programs built from now on (on a software adapter the
    /// persistent kernel is still not used unless forced).
    pub fn set(&self, recurrence: Recurrence) {
        *self.asked() = recurrence;
    }

    /// One direction of a chunk's recurrence: `waves` in order, as one persistent dispatch
    /// when this device runs them so (there are at least two waves and a resident grid),
    /// else one [`ProgramBuilder::rnn_wave`] each.
    pub fn record(&self, pb: &mut ProgramBuilder, bufs: WaveBuffers, waves: &[RnnStepParams], rows: u32) {
        let widest = waves.iter().map(|&p| place_lanes(p, rows).groups).max().unwrap_or(0);
        let launch = if waves.len() >= 2 { self.persistent_launch(pb.context(), widest, rows) } else { None };
        match launch {
            Some(launch) => pb.rnn_persistent(bufs, waves, rows, &launch),
            None => {
                for &wave in waves {
                    pb.rnn_wave(bufs, wave, rows);
                }
            }
        }
    }

    /// The launch of a persistent dispatch whose waves have at most `wanted` workgroups of
    /// `rows` rows, or None for per-wave dispatches (not asked for, a software adapter, a
    /// barrier that gave up before, no resident grid).
    pub fn persistent_launch(&self, ctx: &GpuContext, wanted: u32, rows: u32) -> Option<PersistentLaunch> {
        (self.current() == Recurrence::Persistent).then(|| self.persistent.launch(ctx, wanted, rows)).flatten()
    }

    /// Whether a persistent grid barrier on this device gave up since it was last asked
    /// (a blocking readback): if so, programs built from now on dispatch per wave, and the
    /// caller drops the programs it holds that use the persistent kernel.
    pub fn gave_up(&self, ctx: &GpuContext) -> Result<bool> {
        if !self.persistent.barrier_gave_up(ctx)? {
            return Ok(false);
        }
        self.give_up_persistent(ctx);
        Ok(true)
    }

    /// Whether a grid barrier on this device gave up (the sticky flag, read back).
    pub fn persistent_failed(&self, ctx: &GpuContext) -> Result<bool> {
        self.persistent.barrier_gave_up(ctx)
    }

    /// Per-wave dispatches from now on, as after a barrier gave up.
    pub fn give_up_persistent(&self, ctx: &GpuContext) {
        self.persistent.give_up(ctx);
    }

    /// Tests only: the persistent kernel with at most `grid` workgroups, no probe, on a
    /// software adapter too, its barriers polling as `polling` says; an earlier failure is
    /// forgotten.
    pub fn force_persistent(&self, ctx: &GpuContext, grid: u32, polling: Polling) {
        self.set(Recurrence::Persistent);
        self.persistent.force(ctx, grid, polling);
    }

    /// Whether `grid` workgroups of the `rows` pipeline all run at once on this device.
    pub fn probe_resident(&self, ctx: &GpuContext, grid: u32, rows: u32) -> Result<bool> {
        self.persistent.probe_resident(ctx, grid, rows)
    }
}
