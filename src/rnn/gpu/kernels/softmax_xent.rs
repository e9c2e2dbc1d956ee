//! softmax_xent.wgsl: fused, numerically stable softmax–cross-entropy, one workgroup per
//! row: the per-row loss, and in training the logits overwritten by their gradient.

use super::prelude::PRELUDE;
use super::{grid_1d, Access, Kernel, KernelDesc, KernelModule, UniformMirror, Wgsl};
use crate::rnn::gpu::program::{Bind, Cost, ProgramBuilder};

uniform! {
    /// Per-row softmax–cross-entropy.
    pub struct SoftmaxParams {
        pub rows: u32,
        pub vocab: u32,
        pub tgt_off: u32,
        /// dlogits scale, 1/(n·T) for the mean loss.
        pub scale: f32,
    }
}

/// Threads per row.
pub const WG: u32 = 64;

pub static WGSL: Wgsl =
    Wgsl { file: "softmax_xent.wgsl", text: include_str!("softmax_xent.wgsl"), constants: &[("WG", WG)], uniforms: &[UniformMirror::of::<SoftmaxParams>("Params")] };

const BINDINGS: &[(u32, Access)] = &[(0, Access::ReadWrite), (1, Access::Read), (2, Access::ReadWrite), (3, Access::Uniform)];

/// Loss and dlogits (training).
pub static SOFTMAX_XENT: KernelDesc =
    KernelDesc::plain("softmax_xent", [WG, 1, 1], BINDINGS);

/// Loss only (evaluation).
pub static SOFTMAX_XENT_LOSS: KernelDesc =
    KernelDesc::plain("softmax_xent_loss", [WG, 1, 1], BINDINGS);

pub static MODULE: KernelModule = KernelModule { parts: &[&PRELUDE, &WGSL], kernels: || vec![&SOFTMAX_XENT, &SOFTMAX_XENT_LOSS] };

impl ProgramBuilder<'_> {
    fn softmax(&mut self, kernel: Kernel, logits: &wgpu::Buffer, tokens: &wgpu::Buffer, row_loss: &wgpu::Buffer, p: SoftmaxParams) {
        let (rows, vocab) = (p.rows as f64, p.vocab as f64);
        // Logits read (and dlogits written in training), targets read, losses written.
        let passes = if kernel == &SOFTMAX_XENT { 2.0 } else { 1.0 };
        self.push(
            kernel,
            &[(0, Bind::Buffer(logits)), (1, Bind::Buffer(tokens)), (2, Bind::Buffer(row_loss)), (3, Bind::Params)],
            bytemuck::bytes_of(&p),
            grid_1d(p.rows),
            Cost::new(4.0 * rows * vocab, passes * rows * vocab + 2.0 * rows),
        );
    }

    /// Per-row loss, and logits overwritten by dlogits = (softmax − onehot)·scale.
    pub fn softmax_xent(&mut self, logits: &wgpu::Buffer, tokens: &wgpu::Buffer, row_loss: &wgpu::Buffer, p: SoftmaxParams) {
        self.softmax(&SOFTMAX_XENT, logits, tokens, row_loss, p)
    }

    /// Per-row loss only (evaluation).
    pub fn softmax_xent_loss(&mut self, logits: &wgpu::Buffer, tokens: &wgpu::Buffer, row_loss: &wgpu::Buffer, p: SoftmaxParams) {
        self.softmax(&SOFTMAX_XENT_LOSS, logits, tokens, row_loss, p)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_uniform_is_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<super::SoftmaxParams>(), 16);
    }
}
