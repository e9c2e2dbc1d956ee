//! prelude.wgsl: what several kernels share, joined before every module's own file: the
//! per-step uniform ([`StepParams`]) and the dropout hash (src/rnn/dropout.rs's twin).

use super::{UniformMirror, Wgsl};

uniform! {
    /// The per-step uniform (`StepParams` in prelude.wgsl, bound by reduce, optimizer,
    /// dropout and the recurrent kernels), the only uniform rewritten between steps:
    /// learning rate, Adam bias corrections, stats slot, update number.
    pub struct StepParams {
        pub lr: f32,
        /// 1 − β1^k (1 for SGD).
        pub bc1: f32,
        /// 1 − β2^k (1 for SGD).
        pub bc2: f32,
        /// Where this step's (loss, grad norm, clipped) go in the stats buffer.
        pub slot: u32,
        /// k, the 1-based update number this step applies (dropout masks depend on it),
        /// truncated to u32 as in [`crate::rnn::backend::UpdateConfig::dropout_key`].
        pub update: u32,
        pub _pad0: u32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

/// prelude.wgsl, the first part of every module.
pub static PRELUDE: Wgsl = Wgsl {
    file: "prelude.wgsl",
    text: include_str!("prelude.wgsl"),
    constants: &[],
    uniforms: &[UniformMirror::of::<StepParams>("StepParams")],
};

#[cfg(test)]
mod tests {
    #[test]
    fn the_step_uniform_is_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<super::StepParams>(), 32);
    }
}
