//! dropout.wgsl: inverted dropout with masks drawn from the counter-based hash of
//! src/rnn/dropout.rs (the same bits as the CPU path): in place, or as a masked copy.

use super::prelude::PRELUDE;
use super::{grid_1d, Access, KernelDesc, KernelModule, UniformMirror, Wgsl};
use crate::rnn::dropout::{keep_scale, DropoutKey};
use crate::rnn::gpu::program::{Bind, Cost, ProgramBuilder};

uniform! {
    /// One site's mask, M_i = 1/(1−p) when u(hash(seed, k, site, i)) ≥ p, else 0 (k, the
    /// update number, comes from [`super::prelude::StepParams::update`]).
    pub struct DropoutParams {
        /// Elements of the site: rows × width.
        pub count: u32,
        pub src_off: u32,
        pub dst_off: u32,
        pub seed: u32,
        /// 0..L−1: input of layer l; L: the top outputs into the softmax layer.
        pub site: u32,
        pub p: f32,
        /// 1/(1−p) in f32, computed on the host exactly as the CPU path does.
        pub keep: f32,
        pub _pad0: u32,
    }
}

impl DropoutParams {
    /// The parameters of `site` over `count` elements for `key`'s p and seed (its update
    /// number is ignored: the kernel reads k from the per-step uniform).
    pub fn new(key: &DropoutKey, site: u32, count: u32) -> Self {
        DropoutParams { count, seed: key.seed, site, p: key.p, keep: keep_scale(key.p), ..Default::default() }
    }
}

/// Threads per workgroup.
pub const WG: u32 = 256;

pub static WGSL: Wgsl =
    Wgsl { file: "dropout.wgsl", text: include_str!("dropout.wgsl"), constants: &[("WG", WG)], uniforms: &[UniformMirror::of::<DropoutParams>("Params")] };

/// x ← x ⊙ M in place.
pub static DROPOUT_APPLY: KernelDesc = KernelDesc::plain("dropout_apply", [WG, 1, 1], &[(1, Access::ReadWrite), (2, Access::Uniform), (3, Access::Uniform)]);

/// dst = src ⊙ M.
pub static DROPOUT_COPY: KernelDesc = KernelDesc::plain("dropout_copy", [WG, 1, 1], &[(0, Access::Read), (1, Access::ReadWrite), (2, Access::Uniform), (3, Access::Uniform)]);

pub static MODULE: KernelModule = KernelModule { parts: &[&PRELUDE, &WGSL], kernels: || vec![&DROPOUT_APPLY, &DROPOUT_COPY] };

impl ProgramBuilder<'_> {
    /// x[dst_off + i] ← x[dst_off + i]·M_i for i < p.count (the mask of `p.site` at the
    /// step uniform's update number; see dropout.wgsl).
    pub fn dropout_apply(&mut self, x: &wgpu::Buffer, p: DropoutParams) {
        self.push(
            &DROPOUT_APPLY,
            &[(1, Bind::Buffer(x)), (2, Bind::Params), (3, Bind::Step)],
            bytemuck::bytes_of(&p),
            grid_1d(p.count.div_ceil(WG)),
            Cost::new(p.count as f64, 2.0 * p.count as f64),
        );
    }

    /// dst[dst_off + i] = src[src_off + i]·M_i for i < p.count (a masked copy).
    pub fn dropout_copy(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, p: DropoutParams) {
        self.push(
            &DROPOUT_COPY,
            &[(0, Bind::Buffer(src)), (1, Bind::Buffer(dst)), (2, Bind::Params), (3, Bind::Step)],
            bytemuck::bytes_of(&p),
            grid_1d(p.count.div_ceil(WG)),
            Cost::new(p.count as f64, 2.0 * p.count as f64),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_uniform_is_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<super::DropoutParams>(), 32);
    }
}
