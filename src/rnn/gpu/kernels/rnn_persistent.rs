//! rnn_persistent.wgsl: every wave of one direction of a chunk's recurrence in one
//! dispatch, with a grid barrier between waves (the body is rnn_wave.wgsl, so each wave's
//! results are bit for bit rnn_step's). Here: the dispatch's uniform ([`PersistentRun`]),
//! the words of its sync buffer, how its barriers poll ([`Polling`]), and the launcher of
//! its three dispatches. When to use it, and the residency probe, are the host's
//! (src/rnn/gpu/recurrence/persistent.rs).

use super::prelude::PRELUDE;
use super::rnn_wave::{self, place_lanes, wave_cost, RnnStepParams, WaveBuffers, PARTIAL_BYTES, THREADS};
use super::{grid_1d, Access, KernelDesc, KernelModule, UniformMirror, Wgsl};
use crate::rnn::gpu::program::{Bind, Cost, Grid, ProgramBuilder};

uniform! {
    /// Which waves one persistent dispatch runs, and how.
    pub struct PersistentRun {
        /// Index of the first wave in the program's wave list.
        pub first: u32,
        /// Waves to run.
        pub count: u32,
        /// The arrival counter's word in the sync buffer
        /// ([`PersistentRun::PERSISTENT_ARRIVALS`] or FALLBACK_ARRIVALS).
        pub arrivals: u32,
        /// [`PersistentRun::BACK`] | MI | FALLBACK | SLOW_POLL.
        pub flags: u32,
        /// Polls of the arrival counter at one barrier before it gives up.
        pub spin_limit: u32,
        /// Polls over all of the dispatch's barriers before one gives up (0: no bound).
        pub poll_budget: u32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

impl PersistentRun {
    pub const BACK: u32 = 1;
    pub const MI: u32 = 2;
    /// The one-workgroup rerun after a failed grid barrier.
    pub const FALLBACK: u32 = 4;
    /// 33 times the busy work between two polls (tests on llvmpipe, whose loops end after
    /// 65,535 iterations in all: the same polls then cover a longer wait).
    pub const SLOW_POLL: u32 = 8;
    /// Words of the sync buffer: the sticky failure flag and the two arrival counters.
    pub const FAILED_WORD: usize = 0;
    pub const PERSISTENT_ARRIVALS: u32 = 4;
    pub const FALLBACK_ARRIVALS: u32 = 8;
    /// Length of the sync buffer in words.
    pub const SYNC_WORDS: usize = 12;
}

/// rnn_persistent.wgsl with its run flags and sync words.
pub static WGSL: Wgsl = Wgsl {
    file: "rnn_persistent.wgsl",
    text: include_str!("rnn_persistent.wgsl"),
    constants: &[
        ("FAILED_WORD", PersistentRun::FAILED_WORD as u32),
        ("PERSISTENT_ARRIVALS", PersistentRun::PERSISTENT_ARRIVALS),
        ("FALLBACK_ARRIVALS", PersistentRun::FALLBACK_ARRIVALS),
        ("RUN_BACK", PersistentRun::BACK),
        ("RUN_MI", PersistentRun::MI),
        ("RUN_FALLBACK", PersistentRun::FALLBACK),
        ("RUN_SLOW_POLL", PersistentRun::SLOW_POLL),
    ],
    uniforms: &[UniformMirror::of::<PersistentRun>("Run")],
};

const BINDINGS: &[(u32, Access)] = &[
    (0, Access::Read),
    (1, Access::ReadWrite),
    (2, Access::Read),
    (3, Access::Read),
    (4, Access::Uniform),
    (5, Access::Uniform),
    (6, Access::Read),
    (7, Access::ReadWrite),
    (8, Access::ReadWrite),
];

/// Workgroup memory beyond rnn_wave's partial sums: the wave's Params and the verdict word.
const WORKGROUP_BYTES: u32 = PARTIAL_BYTES + std::mem::size_of::<RnnStepParams>() as u32 + 16;

const fn persistent_kernel(name: &'static str, overrides: &'static [(&'static str, u32)]) -> KernelDesc {
    KernelDesc { name, entry: "rnn_persistent", overrides, workgroup_size: [THREADS, 1, 1], bindings: BINDINGS, workgroup_bytes: WORKGROUP_BYTES }
}

/// Every wave of a chunk in one dispatch, one pipeline per [`rnn_wave::ROWS_PER_TILE`].
pub static PERSISTENT: [KernelDesc; 5] = [
    persistent_kernel("rnn_persistent/4", &[("ROWS", 4)]),
    persistent_kernel("rnn_persistent/8", &[("ROWS", 8)]),
    persistent_kernel("rnn_persistent/16", &[("ROWS", 16)]),
    persistent_kernel("rnn_persistent/32", &[("ROWS", 32)]),
    persistent_kernel("rnn_persistent/64", &[("ROWS", 64)]),
];

/// Zeroes the arrival counters (one thread).
pub static RESET: KernelDesc = KernelDesc::plain("rnn_persistent_reset", [1, 1, 1], &[(7, Access::ReadWrite)]);

pub static MODULE: KernelModule =
    KernelModule { parts: &[&PRELUDE, &rnn_wave::WGSL, &WGSL], kernels: || PERSISTENT.iter().chain([&RESET]).collect() };

/// Polls of the arrival counter at one grid barrier before it gives up: about a second on
/// a GPU (a poll is an L2 round trip, under a microsecond), far longer than any wave.
pub const SPIN_LIMIT: u32 = 1 << 20;
/// The budget of polls over a whole dispatch for tests forced onto a software adapter:
/// Mesa's llvmpipe ends every loop of an invocation after 65,535 iterations in all, so the
/// polls must leave room for the waves' own loops (and a barrier that runs out gives up,
/// which the fallback makes exact). Its polls are slow ones there (SLOW_POLL).
pub const SOFTWARE_SPIN_LIMIT: u32 = 40_000;

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
}

/// What one persistent dispatch runs on.
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

impl ProgramBuilder<'_> {
    /// Every wave of `waves` (one direction of a chunk's recurrence, in order) in one
    /// persistent dispatch of `launch.grid` workgroups, `bufs` bound as
    /// [`ProgramBuilder::rnn_wave`] binds them. Three dispatches: the arrival counters
    /// zeroed, the persistent one, and the fallback, an indirect dispatch of one workgroup
    /// that runs only when a grid barrier gave up (its count is 0 otherwise).
    pub fn rnn_persistent(&mut self, bufs: WaveBuffers, waves: &[RnnStepParams], rows: u32, launch: &PersistentLaunch) {
        let WaveBuffers { x_in, y_out, w, backward_hidden } = bufs;
        let waves: Vec<RnnStepParams> = waves.iter().map(|&p| place_lanes(p, rows)).collect();
        let cost = waves.iter().map(wave_cost).fold(Cost::default(), |a, c| Cost { flops: a.flops + c.flops, bytes: a.bytes + c.bytes });
        let list = self.storage_data("recurrent waves", bytemuck::cast_slice(&waves));
        let back = backward_hidden.is_some();
        let mi = waves.first().is_some_and(|p| p.lane[0].flags & rnn_wave::RnnLane::MI != 0);
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
        self.push(&RESET, &[(7, Bind::Buffer(&launch.sync))], &[], [1, 1, 1], Cost::default());
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
        let kernel = super::rnn_step::with_rows(&PERSISTENT, rows);
        self.push(kernel, &binds(&launch.args), bytemuck::bytes_of(&run), grid_1d(launch.grid), cost);
        // The fallback never gives up, so its `args` binding is a spare (the real one is
        // its indirect buffer, which a dispatch may not also write).
        let fallback = PersistentRun { arrivals: PersistentRun::FALLBACK_ARRIVALS, flags: flags | PersistentRun::FALLBACK, ..run };
        self.push_grid(kernel, &binds(&launch.spare_args), bytemuck::bytes_of(&fallback), Grid::Indirect(launch.args.clone()), Cost::default());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_run_uniform_is_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<super::PersistentRun>(), 32);
    }
}
