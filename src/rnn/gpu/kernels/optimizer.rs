//! optimizer.wgsl: SGD with momentum and Adam(W), in place over the whole flat parameter
//! buffer in one dispatch, the gradient scaled by the clip factor the norm left on the GPU.

use super::prelude::PRELUDE;
use super::{grid_1d, Access, KernelDesc, KernelModule, UniformMirror, Wgsl};
use crate::rnn::gpu::program::{Bind, Cost, ProgramBuilder};

uniform! {
    /// The step-independent hyper-parameters.
    pub struct OptimizerParams {
        pub count: u32,
        pub momentum: f32,
        pub beta1: f32,
        pub beta2: f32,
        pub eps: f32,
        pub weight_decay: f32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

/// Threads per workgroup.
pub const WG: u32 = 256;

pub static WGSL: Wgsl =
    Wgsl { file: "optimizer.wgsl", text: include_str!("optimizer.wgsl"), constants: &[("WG", WG)], uniforms: &[UniformMirror::of::<OptimizerParams>("Params")] };

pub static SGD_UPDATE: KernelDesc = KernelDesc::plain("sgd_update", [WG, 1, 1], &[(0, Access::ReadWrite), (1, Access::Read), (2, Access::ReadWrite), (4, Access::Read), (5, Access::Uniform), (6, Access::Uniform)]);

pub static ADAM_UPDATE: KernelDesc = KernelDesc::plain("adam_update", [WG, 1, 1], &[(0, Access::ReadWrite), (1, Access::Read), (2, Access::ReadWrite), (3, Access::ReadWrite), (4, Access::Read), (5, Access::Uniform), (6, Access::Uniform)]);

pub static MODULE: KernelModule = KernelModule { parts: &[&PRELUDE, &WGSL], kernels: || vec![&SGD_UPDATE, &ADAM_UPDATE] };

impl ProgramBuilder<'_> {
    /// buf ← μ·buf + c·g; p ← p − lr·buf over `p.count` elements.
    pub fn sgd_update(&mut self, param: &wgpu::Buffer, grad: &wgpu::Buffer, m: &wgpu::Buffer, clip: &wgpu::Buffer, p: OptimizerParams) {
        self.push(
            &SGD_UPDATE,
            &[(0, Bind::Buffer(param)), (1, Bind::Buffer(grad)), (2, Bind::Buffer(m)), (4, Bind::Buffer(clip)), (5, Bind::Params), (6, Bind::Step)],
            bytemuck::bytes_of(&p),
            grid_1d(p.count.div_ceil(WG)),
            // Reads p, g, m; writes p, m.
            Cost::new(4.0 * p.count as f64, 5.0 * p.count as f64),
        );
    }

    /// Adam with bias corrections from the step uniform, over `p.count` elements.
    pub fn adam_update(&mut self, param: &wgpu::Buffer, grad: &wgpu::Buffer, m: &wgpu::Buffer, v: &wgpu::Buffer, clip: &wgpu::Buffer, p: OptimizerParams) {
        self.push(
            &ADAM_UPDATE,
            &[
                (0, Bind::Buffer(param)),
                (1, Bind::Buffer(grad)),
                (2, Bind::Buffer(m)),
                (3, Bind::Buffer(v)),
                (4, Bind::Buffer(clip)),
                (5, Bind::Params),
                (6, Bind::Step),
            ],
            bytemuck::bytes_of(&p),
            grid_1d(p.count.div_ceil(WG)),
            // Reads p, g, m, v; writes p, m, v.
            Cost::new(12.0 * p.count as f64, 7.0 * p.count as f64),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_uniform_is_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<super::OptimizerParams>(), 32);
    }
}
