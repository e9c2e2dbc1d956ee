//! transpose.wgsl: dst = srcᵀ through a padded tile in workgroup memory (the trainer keeps
//! W_hhᵀ and W_xhᵀ this way for the backward recurrence).

use super::prelude::PRELUDE;
use super::{Access, KernelDesc, KernelModule, UniformMirror, Wgsl};
use crate::rnn::gpu::program::{Bind, Cost, ProgramBuilder};

uniform! {
    /// dst [cols, rows] at dst_off = srcᵀ, src [rows, cols] at src_off.
    pub struct TransposeParams {
        pub rows: u32,
        pub cols: u32,
        pub src_off: u32,
        pub dst_off: u32,
    }
}

/// The tile side, and the rows of threads that walk it.
pub const TILE: u32 = 32;
pub const WG_ROWS: u32 = 8;

pub static WGSL: Wgsl = Wgsl {
    file: "transpose.wgsl",
    text: include_str!("transpose.wgsl"),
    constants: &[("TILE", TILE), ("WG_ROWS", WG_ROWS)],
    uniforms: &[UniformMirror::of::<TransposeParams>("Params")],
};

pub static TRANSPOSE: KernelDesc = KernelDesc::plain("transpose", [TILE, WG_ROWS, 1], &[(0, Access::Read), (1, Access::ReadWrite), (2, Access::Uniform)]);

pub static MODULE: KernelModule = KernelModule { parts: &[&PRELUDE, &WGSL], kernels: || vec![&TRANSPOSE] };

impl ProgramBuilder<'_> {
    /// dst[dst_off..] = srcᵀ: src [rows, cols] at src_off, dst [cols, rows] at dst_off.
    pub fn transpose(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, p: TransposeParams) {
        self.push(
            &TRANSPOSE,
            &[(0, Bind::Buffer(src)), (1, Bind::Buffer(dst)), (2, Bind::Params)],
            bytemuck::bytes_of(&p),
            [p.cols.div_ceil(TILE), p.rows.div_ceil(TILE), 1],
            Cost::new(0.0, 2.0 * p.rows as f64 * p.cols as f64),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_uniform_is_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<super::TransposeParams>(), 16);
    }
}
