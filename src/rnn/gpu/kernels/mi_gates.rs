//! mi_gates.wgsl: the multiplicative cell's bias and gate gradients of one layer, column
//! sums over the chunk's rows in a fixed order (deterministic).

use super::prelude::PRELUDE;
use super::{grid_1d, Access, KernelDesc, KernelModule, UniformMirror, Wgsl};
use crate::rnn::gpu::program::{Bind, Cost, ProgramBuilder};

uniform! {
    /// The bias and gate gradients over R rows of h columns (offsets into the dZ, hidden and
    /// gradient buffers).
    pub struct MiGateParams {
        pub rows: u32,
        pub h: u32,
        pub dz_off: u32,
        pub p_off: u32,
        pub r_off: u32,
        /// dα in grads; dβ_h and dβ_x follow at `gate_stride` and 2·`gate_stride`.
        pub gate_off: u32,
        pub gate_stride: u32,
        pub bias_off: u32,
    }
}

/// Columns per workgroup, and the row slices its threads split the rows into.
pub const COLS: u32 = 16;
pub const SLICES: u32 = 16;

pub static WGSL: Wgsl = Wgsl {
    file: "mi_gates.wgsl",
    text: include_str!("mi_gates.wgsl"),
    constants: &[("COLS", COLS), ("SLICES", SLICES)],
    uniforms: &[UniformMirror::of::<MiGateParams>("Params")],
};

pub static MI_GATE_GRADS: KernelDesc = KernelDesc::plain("mi_gate_grads", [COLS * SLICES, 1, 1], &[(0, Access::Read), (1, Access::Read), (2, Access::ReadWrite), (3, Access::Uniform)]);

pub static MODULE: KernelModule = KernelModule { parts: &[&PRELUDE, &WGSL], kernels: || vec![&MI_GATE_GRADS] };

impl ProgramBuilder<'_> {
    /// The multiplicative cell's db, dα, dβ_h, dβ_x of one layer: column sums over
    /// `p.rows` rows of dZ (in `d_pre`) with P and R (in `hidden`), into `grads`.
    pub fn mi_gate_grads(&mut self, d_pre: &wgpu::Buffer, hidden: &wgpu::Buffer, grads: &wgpu::Buffer, p: MiGateParams) {
        let elements = p.rows as f64 * p.h as f64;
        self.push(
            &MI_GATE_GRADS,
            &[(0, Bind::Buffer(d_pre)), (1, Bind::Buffer(hidden)), (2, Bind::Buffer(grads)), (3, Bind::Params)],
            bytemuck::bytes_of(&p),
            grid_1d(p.h.div_ceil(COLS)),
            Cost::new(6.0 * elements, 3.0 * elements + 4.0 * p.h as f64),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_uniform_is_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<super::MiGateParams>(), 32);
    }
}
