//! embedding.wgsl: the lookup X = embedding[tokens] and its adjoint, the scatter-add of
//! the rows' gradients into the table (a gather per vocabulary row over the token order
//! the host uploads: no atomics, deterministic).

use super::prelude::PRELUDE;
use super::{grid_1d, Access, KernelDesc, KernelModule, UniformMirror, Wgsl};
use crate::rnn::gpu::program::{Bind, Cost, ProgramBuilder};

uniform! {
    /// Gather rows of the table, or their adjoint.
    pub struct EmbeddingParams {
        pub rows: u32,
        pub d: u32,
        pub vocab: u32,
        pub src_off: u32,
        pub dst_off: u32,
        pub tok_off: u32,
        pub order_off: u32,
        pub offsets_off: u32,
    }
}

/// Threads per workgroup.
pub const WG: u32 = 256;

pub static WGSL: Wgsl =
    Wgsl { file: "embedding.wgsl", text: include_str!("embedding.wgsl"), constants: &[("WG", WG)], uniforms: &[UniformMirror::of::<EmbeddingParams>("Params")] };

const BINDINGS: &[(u32, Access)] = &[(0, Access::Read), (1, Access::Read), (2, Access::ReadWrite), (3, Access::Uniform)];

pub static GATHER: KernelDesc =
    KernelDesc::plain("embedding_gather", [WG, 1, 1], BINDINGS);

pub static SCATTER_ADD: KernelDesc =
    KernelDesc::plain("embedding_scatter_add", [WG, 1, 1], BINDINGS);

pub static MODULE: KernelModule = KernelModule { parts: &[&PRELUDE, &WGSL], kernels: || vec![&GATHER, &SCATTER_ADD] };

impl ProgramBuilder<'_> {
    /// rows[r, :] = table[tokens[r], :].
    pub fn embedding_gather(&mut self, table: &wgpu::Buffer, tokens: &wgpu::Buffer, rows: &wgpu::Buffer, p: EmbeddingParams) {
        self.push(
            &GATHER,
            &[(0, Bind::Buffer(table)), (1, Bind::Buffer(tokens)), (2, Bind::Buffer(rows)), (3, Bind::Params)],
            bytemuck::bytes_of(&p),
            grid_1d((p.rows * p.d).div_ceil(WG)),
            Cost::new(0.0, (p.rows + 2 * p.rows * p.d) as f64),
        );
    }

    /// grad_table[v, :] = Σ_{r: tokens[r] = v} d_rows[r, :] (order/offsets in `tokens`).
    pub fn embedding_scatter_add(&mut self, d_rows: &wgpu::Buffer, tokens: &wgpu::Buffer, grad: &wgpu::Buffer, p: EmbeddingParams) {
        self.push(
            &SCATTER_ADD,
            &[(0, Bind::Buffer(d_rows)), (1, Bind::Buffer(tokens)), (2, Bind::Buffer(grad)), (3, Bind::Params)],
            bytemuck::bytes_of(&p),
            grid_1d((p.vocab * p.d).div_ceil(WG)),
            Cost::new((p.rows * p.d) as f64, (p.rows * p.d + p.rows + p.vocab + 1 + p.vocab * p.d) as f64),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_uniform_is_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<super::EmbeddingParams>(), 32);
    }
}
