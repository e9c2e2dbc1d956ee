//! The uniform `Params` structs of every shader, mirrored byte for byte (`#[repr(C)]`,
//! u32/f32 only, padded to 16 bytes). `tests/shaders_validate.rs` checks each size against
//! the WGSL struct naga parses, so the two sides cannot drift apart.
//!
//! Offsets are element (f32/u32) offsets into whole bound buffers (n = rows, h = width).

use bytemuck::{Pod, Zeroable};

/// Field names and byte offsets of a uniform struct, in declaration order, for the naga
/// test that pins each struct to its WGSL twin (tests/shaders_validate.rs).
pub trait UniformLayout {
    const FIELDS: &'static [(&'static str, usize)];
}

/// Declares a `#[repr(C)]` Pod uniform struct and its [`UniformLayout`].
macro_rules! uniform {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl UniformLayout for $name {
            const FIELDS: &'static [(&'static str, usize)] = &[$((stringify!($field), std::mem::offset_of!($name, $field))),*];
        }
    };
}

uniform! {
    /// matmul.wgsl: C[m, n] ← [C +] op(A)·op(B) [+ bias], optionally with a row of ones
    /// appended to op(A) whose result row goes to `ones_off`, optionally split over K.
    pub struct MatmulParams {
        pub m: u32,
        pub n: u32,
        pub k: u32,
        /// [`MatmulParams::TRANS_A`] | TRANS_B | ACCUMULATE | BIAS | ONES_ROW.
        pub flags: u32,
        pub a_off: u32,
        pub b_off: u32,
        pub c_off: u32,
        pub bias_off: u32,
        /// ONES_ROW: where row m of the product (the column sums of op(B)) is written.
        pub ones_off: u32,
        /// Split-K (set by the launcher): K per split, the number of splits, and the
        /// elements between two splits' partial blocks in the scratch buffer.
        pub k_chunk: u32,
        pub splits: u32,
        pub split_stride: u32,
    }
}

impl MatmulParams {
    pub const TRANS_A: u32 = 1;
    pub const TRANS_B: u32 = 2;
    pub const ACCUMULATE: u32 = 4;
    pub const BIAS: u32 = 8;
    pub const ONES_ROW: u32 = 16;

    /// Rows of the product: m, plus the row of ones.
    pub fn m_eff(&self) -> u32 {
        self.m + (self.flags & Self::ONES_ROW != 0) as u32
    }
}

uniform! {
    /// rnn_step.wgsl: one lane of a wave (one layer at one time step). Offsets are element
    /// offsets into the bound buffers (see the shader's header); `first_group` and `groups_x`
    /// are set by the launcher.
    pub struct RnnLane {
        pub h: u32,
        /// Width of the input part's rows (0: no input part).
        pub k1: u32,
        pub t: u32,
        /// [`RnnLane::HAS_RECURRENT`] | VEC4 | DROP | X_TERM | MI | RECORD.
        pub flags: u32,
        pub first_group: u32,
        pub groups_x: u32,
        pub a1_off: u32,
        pub a2_off: u32,
        pub w1_off: u32,
        pub w2_off: u32,
        pub x_off: u32,
        pub bias_off: u32,
        pub out_off: u32,
        pub aux_off: u32,
        pub drop_off: u32,
        pub site: u32,
        /// MI: α of the layer in w (forward: the parameters; backward: their copy in the
        /// transposed buffer); β_h and β_x follow at `gate_stride` and 2·`gate_stride`.
        pub gate_off: u32,
        pub gate_stride: u32,
        /// MI: row 0 of P_t and R_t in the hidden buffer (forward writes them to y_out,
        /// backward reads them from aux).
        pub p_off: u32,
        pub r_off: u32,
        /// MI, backward: row 0 of dP_t and dR_t in y_out.
        pub dp_off: u32,
        pub dr_off: u32,
        /// RECORD, backward: row 0 in y_out where G_t = ∂L/∂H_t (before φ') is written.
        pub flow_off: u32,
        pub _pad0: u32,
    }
}

impl RnnLane {
    pub const HAS_RECURRENT: u32 = 1;
    pub const VEC4: u32 = 2;
    pub const DROP: u32 = 4;
    pub const X_TERM: u32 = 8;
    /// The multiplicative cell: forward sums P and R apart and gates them; backward writes
    /// dR and dP beside dZ.
    pub const MI: u32 = 16;
    /// Backward: also write G_t (the gradient flow).
    pub const RECORD: u32 = 32;
    /// Lanes one dispatch holds.
    pub const MAX: usize = 4;

    /// Sets VEC4 when the lane's widths and offsets are all multiples of 4.
    pub fn with_vec4_if_aligned(mut self) -> Self {
        let all = [
            self.h,
            self.k1,
            self.a1_off,
            self.a2_off,
            self.w1_off,
            self.w2_off,
            self.x_off,
            self.bias_off,
            self.out_off,
            self.aux_off,
            self.drop_off,
            self.gate_off,
            self.gate_stride,
            self.p_off,
            self.r_off,
            self.dp_off,
            self.dr_off,
            self.flow_off,
        ];
        if all.iter().all(|v| v % 4 == 0) {
            self.flags |= Self::VEC4;
        }
        self
    }
}

uniform! {
    /// rnn_step.wgsl: one wave, up to [`RnnLane::MAX`] lanes.
    pub struct RnnStepParams {
        /// n: rows of one time step.
        pub rows: u32,
        /// Lanes in use.
        pub lanes: u32,
        /// 0 = tanh, 1 = relu.
        pub act: u32,
        /// Dropout seed, probability and 1/(1−p) (the update number comes from StepParams).
        pub seed: u32,
        pub p: f32,
        pub keep: f32,
        /// Workgroups of the wave (its lanes' tiles one after another; set by the
        /// launcher, read by rnn_persistent.wgsl).
        pub groups: u32,
        pub _pad1: u32,
        pub lane: [RnnLane; RnnLane::MAX],
    }
}

uniform! {
    /// rnn_persistent.wgsl: which waves one persistent dispatch runs, and how.
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

uniform! {
    /// transpose.wgsl: dst [cols, rows] at dst_off = srcᵀ, src [rows, cols] at src_off.
    pub struct TransposeParams {
        pub rows: u32,
        pub cols: u32,
        pub src_off: u32,
        pub dst_off: u32,
    }
}

uniform! {
    /// embedding.wgsl: gather rows of the table, or their adjoint.
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

uniform! {
    /// softmax_xent.wgsl: per-row softmax–cross-entropy.
    pub struct SoftmaxParams {
        pub rows: u32,
        pub vocab: u32,
        pub tgt_off: u32,
        /// dlogits scale, 1/(n·T) for the mean loss.
        pub scale: f32,
    }
}

uniform! {
    /// reduce.wgsl: gradient norm, loss sum, block sums of squares.
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

uniform! {
    /// mi_gates.wgsl: the multiplicative cell's bias and gate gradients over R rows of h
    /// columns (offsets into the dZ, hidden and gradient buffers).
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

uniform! {
    /// optimizer.wgsl: the step-independent hyper-parameters.
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

uniform! {
    /// dropout.wgsl: one site's mask, M_i = 1/(1−p) when u(hash(seed, k, site, i)) ≥ p, else 0
    /// (k, the update number, comes from [`StepParams::update`]).
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
    pub fn new(key: &crate::rnn::dropout::DropoutKey, site: u32, count: u32) -> Self {
        DropoutParams { count, seed: key.seed, site, p: key.p, keep: crate::rnn::dropout::keep_scale(key.p), ..Default::default() }
    }
}

uniform! {
    /// The per-step uniform (`StepParams` in reduce.wgsl, optimizer.wgsl and dropout.wgsl),
    /// the only uniform rewritten between steps: learning rate, Adam bias corrections, stats
    /// slot, update number.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_structs_are_padded_to_16_bytes() {
        assert_eq!(std::mem::size_of::<MatmulParams>(), 48);
        assert_eq!(std::mem::size_of::<RnnLane>(), 96);
        assert_eq!(std::mem::size_of::<RnnStepParams>(), 416);
        assert_eq!(std::mem::size_of::<PersistentRun>(), 32);
        assert_eq!(std::mem::size_of::<MiGateParams>(), 32);
        assert_eq!(std::mem::size_of::<TransposeParams>(), 16);
        assert_eq!(std::mem::size_of::<EmbeddingParams>(), 32);
        assert_eq!(std::mem::size_of::<SoftmaxParams>(), 16);
        assert_eq!(std::mem::size_of::<ReduceParams>(), 32);
        assert_eq!(std::mem::size_of::<OptimizerParams>(), 32);
        assert_eq!(std::mem::size_of::<DropoutParams>(), 32);
        assert_eq!(std::mem::size_of::<StepParams>(), 32);
    }
}
