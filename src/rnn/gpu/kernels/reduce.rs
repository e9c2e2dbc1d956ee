//! reduce.wgsl: the global gradient norm in two passes with the clip factor computed on
//! the GPU, the loss sum into the stats slot, and block sums of squares (the gradient
//! flow's norms).

use super::prelude::PRELUDE;
use super::{grid_1d, Access, KernelDesc, KernelModule, UniformMirror, Wgsl};
use crate::rnn::gpu::program::{Bind, Cost, ProgramBuilder};

uniform! {
    /// Gradient norm, loss sum, block sums of squares.
    pub struct ReduceParams {
        pub count: u32,
        /// loss_sum: stats[slot·stride + field] receives the sum.
        pub stride: u32,
        pub field: u32,
        /// θ for clipping (≤ 0: off).
        pub clip: f32,
        pub scale: f32,
        /// sum_squares: where the blocks start in src, and their sums in dst.
        pub src_off: u32,
        pub dst_off: u32,
        pub _pad0: u32,
    }
}

/// Threads per workgroup.
pub const WG: u32 = 256;
/// Workgroups (= partial sums) of grad_norm_partial.
pub const NUM_PARTIALS: u32 = 256;

pub static WGSL: Wgsl = Wgsl {
    file: "reduce.wgsl",
    text: include_str!("reduce.wgsl"),
    constants: &[("WG", WG), ("NUM_PARTIALS", NUM_PARTIALS)],
    uniforms: &[UniformMirror::of::<ReduceParams>("Params")],
};

const fn reduce_kernel(entry: &'static str, bindings: &'static [(u32, Access)]) -> KernelDesc {
    KernelDesc::plain(entry, [WG, 1, 1], bindings)
}

/// Pass 1 of ‖g‖²: a partial sum of squares per workgroup.
pub static GRAD_NORM_PARTIAL: KernelDesc = reduce_kernel("grad_norm_partial", &[(0, Access::Read), (1, Access::ReadWrite), (3, Access::Uniform)]);
/// Pass 2: ‖g‖, the clip factor, the step's stats.
pub static GRAD_NORM_FINISH: KernelDesc =
    reduce_kernel("grad_norm_finish", &[(0, Access::Read), (1, Access::ReadWrite), (2, Access::ReadWrite), (3, Access::Uniform), (4, Access::Uniform)]);
/// The scaled sum of the row losses into a stats slot.
pub static LOSS_SUM: KernelDesc = reduce_kernel("loss_sum", &[(0, Access::Read), (2, Access::ReadWrite), (3, Access::Uniform), (4, Access::Uniform)]);
/// Sums of squares of consecutive blocks, one workgroup each.
pub static SUM_SQUARES: KernelDesc = reduce_kernel("sum_squares", &[(0, Access::Read), (1, Access::ReadWrite), (3, Access::Uniform)]);

pub static MODULE: KernelModule =
    KernelModule { parts: &[&PRELUDE, &WGSL], kernels: || vec![&GRAD_NORM_PARTIAL, &GRAD_NORM_FINISH, &LOSS_SUM, &SUM_SQUARES] };

impl ProgramBuilder<'_> {
    /// Both passes of ‖g‖ over `count` gradients, then the clip factor into clip[0] and
    /// (‖g‖, clipped) into stats[step.slot]. `partials` holds [`NUM_PARTIALS`] values.
    pub fn grad_norm(&mut self, grads: &wgpu::Buffer, partials: &wgpu::Buffer, clip: &wgpu::Buffer, stats: &wgpu::Buffer, count: u32, theta: Option<f32>) {
        self.square_sum_partials(grads, partials, count);
        let p = ReduceParams { count: NUM_PARTIALS, clip: theta.unwrap_or(0.0), ..Default::default() };
        self.push(
            &GRAD_NORM_FINISH,
            &[(0, Bind::Buffer(partials)), (1, Bind::Buffer(clip)), (2, Bind::Buffer(stats)), (3, Bind::Params), (4, Bind::Step)],
            bytemuck::bytes_of(&p),
            [1, 1, 1],
            Cost::new(NUM_PARTIALS as f64, NUM_PARTIALS as f64 + 3.0),
        );
    }

    /// The first pass of ‖g‖²: [`NUM_PARTIALS`] partial sums of squares of `count` values
    /// into `partials` (their sum is ‖g‖²).
    pub fn square_sum_partials(&mut self, grads: &wgpu::Buffer, partials: &wgpu::Buffer, count: u32) {
        let p = ReduceParams { count, ..Default::default() };
        self.push(
            &GRAD_NORM_PARTIAL,
            &[(0, Bind::Buffer(grads)), (1, Bind::Buffer(partials)), (3, Bind::Params)],
            bytemuck::bytes_of(&p),
            [NUM_PARTIALS, 1, 1],
            Cost::new(2.0 * count as f64, count as f64),
        );
    }

    /// dst[dst_off + b] = Σ_k src[src_off + b·len + k]² for blocks b < `blocks`, k < `len`.
    pub fn sum_squares(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, src_off: u32, len: u32, blocks: u32, dst_off: u32) {
        let p = ReduceParams { count: len, field: blocks, src_off, dst_off, ..Default::default() };
        let elements = len as f64 * blocks as f64;
        self.push(
            &SUM_SQUARES,
            &[(0, Bind::Buffer(src)), (1, Bind::Buffer(dst)), (3, Bind::Params)],
            bytemuck::bytes_of(&p),
            grid_1d(blocks),
            Cost::new(2.0 * elements, elements + blocks as f64),
        );
    }

    /// stats[step.slot·stride + field] = scale · Σ row_loss[0..count].
    pub fn loss_sum(&mut self, row_loss: &wgpu::Buffer, stats: &wgpu::Buffer, p: ReduceParams) {
        self.push(
            &LOSS_SUM,
            &[(0, Bind::Buffer(row_loss)), (2, Bind::Buffer(stats)), (3, Bind::Params), (4, Bind::Step)],
            bytemuck::bytes_of(&p),
            [1, 1, 1],
            Cost::new(p.count as f64, p.count as f64 + 1.0),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_uniform_is_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<super::ReduceParams>(), 32);
    }
}
