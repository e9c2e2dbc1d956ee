//! rnn_step.wgsl: the recurrence, one dispatch per wave of the layer wavefront
//! (T + L − 1 each way); the body is rnn_wave.wgsl (rnn_wave.rs), the wave's Params a
//! uniform of their own per dispatch. One pipeline per rows-per-workgroup choice and
//! direction.

use super::prelude::PRELUDE;
use super::rnn_wave::{self, place_lanes, wave_cost, RnnStepParams, WaveBuffers, THREADS};
use super::{grid_1d, Access, Kernel, KernelDesc, KernelModule, Wgsl};
use crate::rnn::gpu::program::{Bind, ProgramBuilder};

/// rnn_step.wgsl (its constants and uniform are rnn_wave's).
pub static WGSL: Wgsl = Wgsl { file: "rnn_step.wgsl", text: include_str!("rnn_step.wgsl"), constants: &[], uniforms: &[] };

const BINDINGS: &[(u32, Access)] =
    &[(0, Access::Read), (1, Access::ReadWrite), (2, Access::Read), (3, Access::Read), (4, Access::Uniform), (5, Access::Uniform)];

const fn wave_kernel(name: &'static str, entry: &'static str, overrides: &'static [(&'static str, u32)]) -> KernelDesc {
    KernelDesc { name, entry, overrides, workgroup_size: [THREADS, 1, 1], bindings: BINDINGS, workgroup_bytes: 0 }
}

/// H^l_t = φ(…) for every lane of a wave, one pipeline per [`rnn_wave::ROWS_PER_TILE`].
pub static FORWARD: [KernelDesc; 5] = [
    wave_kernel("rnn_step_forward/4", "rnn_step_forward", &[("ROWS", 4)]),
    wave_kernel("rnn_step_forward/8", "rnn_step_forward", &[("ROWS", 8)]),
    wave_kernel("rnn_step_forward/16", "rnn_step_forward", &[("ROWS", 16)]),
    wave_kernel("rnn_step_forward/32", "rnn_step_forward", &[("ROWS", 32)]),
    wave_kernel("rnn_step_forward/64", "rnn_step_forward", &[("ROWS", 64)]),
];

/// dZ^l_t = (…) ⊙ φ'(H^l_t) for every lane of a wave, one pipeline per rows choice.
pub static BACKWARD: [KernelDesc; 5] = [
    wave_kernel("rnn_step_backward/4", "rnn_step_backward", &[("ROWS", 4)]),
    wave_kernel("rnn_step_backward/8", "rnn_step_backward", &[("ROWS", 8)]),
    wave_kernel("rnn_step_backward/16", "rnn_step_backward", &[("ROWS", 16)]),
    wave_kernel("rnn_step_backward/32", "rnn_step_backward", &[("ROWS", 32)]),
    wave_kernel("rnn_step_backward/64", "rnn_step_backward", &[("ROWS", 64)]),
];

pub static MODULE: KernelModule =
    KernelModule { parts: &[&PRELUDE, &rnn_wave::WGSL, &WGSL], kernels: || FORWARD.iter().chain(&BACKWARD).collect() };

/// The pipeline among `kernels` with `rows` rows per workgroup (one of
/// [`rnn_wave::ROWS_PER_TILE`]).
pub fn with_rows(kernels: &'static [KernelDesc], rows: u32) -> Kernel {
    kernels.iter().find(|k| k.overrides == [("ROWS", rows)]).unwrap_or_else(|| panic!("no recurrent pipeline with {rows} rows per workgroup"))
}

impl ProgramBuilder<'_> {
    /// One wave of the recurrence: `p.lanes` lanes side by side, `rows` rows per workgroup,
    /// bound as [`WaveBuffers`] says (the forward reads nothing from aux: x_in is bound
    /// there again, read-only). Sets each lane's workgroup range.
    pub fn rnn_wave(&mut self, bufs: WaveBuffers, p: RnnStepParams, rows: u32) {
        let WaveBuffers { x_in, y_out, w, backward_hidden } = bufs;
        let p = place_lanes(p, rows);
        let kernel = with_rows(if backward_hidden.is_some() { &BACKWARD } else { &FORWARD }, rows);
        let aux = backward_hidden.unwrap_or(x_in);
        self.push(
            kernel,
            &[(0, Bind::Buffer(x_in)), (1, Bind::Buffer(y_out)), (2, Bind::Buffer(w)), (3, Bind::Buffer(aux)), (4, Bind::Params), (5, Bind::Step)],
            bytemuck::bytes_of(&p),
            grid_1d(p.groups),
            wave_cost(&p),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_is_a_pipeline_per_rows_choice_and_direction() {
        for rows in rnn_wave::ROWS_PER_TILE {
            assert_eq!(with_rows(&FORWARD, rows).entry, "rnn_step_forward");
            assert_eq!(with_rows(&BACKWARD, rows).entry, "rnn_step_backward");
        }
    }
}
