//! The training step as a dispatch list (DESIGN.md "GPU schedule"), built once per batch
//! shape and replayed every step. Row r = t·n + i throughout (time-major).
//!
//! Forward: gather X (all R = n·T rows); per layer one GEMM P = X·W_xh + b_h, then T fused
//! steps H_t = φ(P_t + H_{t-1}W_hh) (H holds the carried H_{-1} as its first n rows);
//! logits = H^L·W_q + b_q; fused softmax–cross-entropy (loss per row, dlogits in place);
//! the mean loss into stats[slot].
//! Backward: dW_q = H^Lᵀ·dlogits, db_q = column sums, dH^L = dlogits·W_qᵀ; per layer, top
//! down, T fused reverse steps dZ_t = (dH_t + dZ_{t+1}W_hhᵀ) ⊙ φ'(H_t), then
//! dW_hh = H_{-1..T-2}ᵀ·dZ, dW_xh = Xᵀ·dZ, db_h = column sums of dZ, dX = dZ·W_xhᵀ
//! (dH of the layer below, or the embedding row gradients, scattered into the table).
//! Update: two-pass ‖g‖ over the flat gradient buffer, clip factor on the GPU, one
//! optimizer dispatch over the flat parameter buffer.
//!
//! Dropout (training only, masks M_s of src/dropout.rs drawn on the GPU from the update
//! number in the step uniform): X_0 ← X_0 ⊙ M_0 in place after the gather; layer l ≥ 1
//! reads the masked copy H^{l-1} ⊙ M_l, the output layer H^L ⊙ M_L (both copies also feed
//! dW_xh and dW_q); backward, dH^L ← dH^L ⊙ M_L and dX_l ← dX_l ⊙ M_l in place before they
//! reach the layer below or the embedding scatter.
//!
//! Logits (sampling, n = 1, T = 1): the forward up to and including the output GEMM, then
//! stop — no loss, no backward; the trainer carries H_T into the sampling state.
//!
//! Dispatches per step: 2·L·T recurrent (dependent) + 5·L + 11 batched, + 2·(L+1) with
//! dropout (one forward and one backward mask per site).

use super::buffers::ParamLayout;
use super::context::GpuContext;
use super::launch::NUM_PARTIALS;
use super::params::*;
use super::program::{Program, ProgramBuilder};
use super::tokens::TokenLayout;
use crate::model::{Activation, ModelConfig};
use crate::trainer::{Optimizer, UpdateConfig};

/// One layer's activation buffers (h = this layer's width).
pub struct LayerBuffers {
    /// P = X·W_xh + b_h [R, h].
    pub proj: wgpu::Buffer,
    /// H [(T+1)·n, h]: carried state, then H_0..H_{T-1}.
    pub hidden: wgpu::Buffer,
    /// dH [R, h]: gradient arriving from above.
    pub d_hidden: wgpu::Buffer,
    /// dZ [R, h]: gradient at the pre-activation.
    pub d_pre: wgpu::Buffer,
    /// The carried training state [n, h] (H_T of the last step).
    pub state: wgpu::Buffer,
    /// The carried evaluation state [n, h].
    pub eval_state: wgpu::Buffer,
    /// The carried sampling state [1, h] (Mode::Logits, one row).
    pub sample_state: wgpu::Buffer,
    /// Dropout, l ≥ 1: the masked copy X_l = H^{l-1} ⊙ M_l [R, h_{l-1}] this layer reads.
    pub dropout_input: Option<wgpu::Buffer>,
}

/// Every buffer a trainer owns.
pub struct Buffers {
    pub params: wgpu::Buffer,
    /// Every layer's W_hhᵀ (ParamLayout::transposed), refreshed each step before the
    /// backward recurrence reads it.
    pub recurrent_t: wgpu::Buffer,
    pub grads: wgpu::Buffer,
    pub moment1: wgpu::Buffer,
    pub moment2: wgpu::Buffer,
    pub tokens: wgpu::Buffer,
    pub emb_rows: wgpu::Buffer,
    pub d_emb_rows: wgpu::Buffer,
    pub logits: wgpu::Buffer,
    pub row_loss: wgpu::Buffer,
    pub partials: wgpu::Buffer,
    pub clip: wgpu::Buffer,
    pub stats: wgpu::Buffer,
    pub eval_sums: wgpu::Buffer,
    pub step: wgpu::Buffer,
    pub layers: Vec<LayerBuffers>,
    /// Dropout: the masked copy H^L ⊙ M_L [R, h_L] the output layer reads.
    pub dropout_top: Option<wgpu::Buffer>,
}

/// What a program computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Forward, backward, clip, update; loss into stats.
    Train,
    /// Forward and the loss sum into eval_sums.
    Eval,
    /// Forward up to the logits [R, V]; no loss (sampling).
    Logits,
}

impl LayerBuffers {
    /// The carried state a program of `mode` starts from and leaves H_T in.
    pub fn state_for(&self, mode: Mode) -> &wgpu::Buffer {
        match mode {
            Mode::Train => &self.state,
            Mode::Eval => &self.eval_state,
            Mode::Logits => &self.sample_state,
        }
    }
}

/// Everything fixed for the trainer's life that the schedule needs.
pub struct Shapes<'a> {
    pub config: &'a ModelConfig,
    pub layout: &'a ParamLayout,
    pub tokens: TokenLayout,
    pub update: &'a UpdateConfig,
}

/// Recurrent (dependent) dispatches per training step: one per time step and layer, each way.
pub fn recurrent_dispatches(layers: usize, t: usize) -> usize {
    2 * layers * t
}

/// A masked-copy buffer when this program drops (the trainer allocates them whenever
/// dropout > 0), else None.
fn masked_copy(drops: bool, buffer: &Option<wgpu::Buffer>) -> Option<&wgpu::Buffer> {
    drops.then(|| buffer.as_ref().expect("the trainer allocates the dropout copies when dropout > 0"))
}

/// The dispatch list for a batch of n rows × t steps.
pub fn build(ctx: &GpuContext, s: &Shapes, b: &Buffers, n: usize, t: usize, mode: Mode) -> Program {
    let cfg = s.config;
    let lay = s.layout;
    let rows = (n * t) as u32;
    let nn = n as u32;
    let act = match cfg.activation {
        Activation::Tanh => 0,
        Activation::Relu => 1,
    };
    let label = format!("{mode:?} n={n} T={t}");
    let mut pb = ProgramBuilder::new(ctx, &label, Some(&b.step));
    // Evaluation never drops; the key's update number is unused (the kernel reads k from
    // the step uniform).
    let dropout = s.update.dropout_key(0).filter(|_| mode == Mode::Train);
    let site = |site: usize, width: usize| dropout.as_ref().map(|key| DropoutParams::new(key, site as u32, rows * width as u32));
    let masked = |buffer| masked_copy(dropout.is_some(), buffer);

    // --- forward ---
    let emb = EmbeddingParams {
        rows,
        d: cfg.embed as u32,
        vocab: cfg.vocab as u32,
        src_off: lay.embedding(),
        dst_off: lay.embedding(),
        tok_off: s.tokens.inputs_off(),
        order_off: s.tokens.order_off(),
        offsets_off: s.tokens.offsets_off(),
    };
    pb.embedding_gather(&b.params, &b.tokens, &b.emb_rows, emb);
    if let Some(p) = site(0, cfg.embed) {
        pb.dropout_apply(&b.emb_rows, p);
    }
    // Layer l's input X_l: the gathered rows, or the layer below's H_0..H_{T-1} (skip H_{-1}),
    // or under dropout its masked copy.
    let input = |l: usize| -> (&wgpu::Buffer, u32) {
        if l == 0 {
            (&b.emb_rows, 0)
        } else if let Some(x) = masked(&b.layers[l].dropout_input) {
            (x, 0)
        } else {
            (&b.layers[l - 1].hidden, nn * cfg.hidden[l - 1] as u32)
        }
    };
    for l in 0..cfg.layers() {
        let (h, inw) = (cfg.hidden[l] as u32, cfg.layer_input(l) as u32);
        if l > 0 {
            if let (Some(p), Some(x)) = (site(l, inw as usize), masked(&b.layers[l].dropout_input)) {
                pb.dropout_copy(&b.layers[l - 1].hidden, x, DropoutParams { src_off: nn * inw, ..p });
            }
        }
        let (x, x_off) = input(l);
        let lb = &b.layers[l];
        let p = MatmulParams {
            m: rows,
            n: h,
            k: inw,
            flags: MatmulParams::BIAS,
            a_off: x_off,
            b_off: lay.w_xh(l),
            c_off: 0,
            bias_off: lay.b_h(l),
            ..Default::default()
        };
        pb.matmul(x, &b.params, &lb.proj, Some(&b.params), p);
        for step in 0..t as u32 {
            let p = RnnStepParams { rows: nn, h, t: step, act, w_off: lay.w_hh(l), ..Default::default() };
            pb.rnn_step_forward(&lb.proj, &lb.hidden, &b.params, p);
        }
    }
    let top = cfg.layers() - 1;
    let (htop, vocab) = (cfg.hidden[top] as u32, cfg.vocab as u32);
    let top_site = site(cfg.layers(), htop as usize);
    // The output layer's input: H^L's rows H_0..H_{T-1}, or under dropout H^L ⊙ M_L.
    let (top_h, top_off) = match (top_site, masked(&b.dropout_top)) {
        (Some(p), Some(x)) => {
            pb.dropout_copy(&b.layers[top].hidden, x, DropoutParams { src_off: nn * htop, ..p });
            (x, 0)
        }
        _ => (&b.layers[top].hidden, nn * htop),
    };
    let p = MatmulParams {
        m: rows,
        n: vocab,
        k: htop,
        flags: MatmulParams::BIAS,
        a_off: top_off,
        b_off: lay.out_w(),
        c_off: 0,
        bias_off: lay.out_b(),
        ..Default::default()
    };
    pb.matmul(top_h, &b.params, &b.logits, Some(&b.params), p);
    if mode == Mode::Logits {
        return pb.finish();
    }
    let sp = SoftmaxParams { rows, vocab, tgt_off: s.tokens.targets_off(), scale: 1.0 / rows as f32 };
    if mode == Mode::Eval {
        pb.softmax_xent_loss(&b.logits, &b.tokens, &b.row_loss, sp);
        pb.loss_sum(&b.row_loss, &b.eval_sums, ReduceParams { count: rows, stride: 1, field: 0, scale: 1.0, ..Default::default() });
        return pb.finish();
    }
    pb.softmax_xent(&b.logits, &b.tokens, &b.row_loss, sp);
    pb.loss_sum(&b.row_loss, &b.stats, ReduceParams { count: rows, stride: 4, field: 0, scale: 1.0 / rows as f32, ..Default::default() });

    // --- backward: output layer ---
    let mm = |m, n, k, flags, a_off, b_off, c_off| MatmulParams { m, n, k, flags, a_off, b_off, c_off, ..Default::default() };
    // [dW_q; db_q] = [H^L; 1]ᵀ·dlogits in one GEMM (ONES_ROW).
    let dw_q = mm(htop, vocab, rows, MatmulParams::TRANS_A | MatmulParams::ONES_ROW, top_off, 0, lay.out_w());
    pb.matmul(top_h, &b.logits, &b.grads, None, MatmulParams { ones_off: lay.out_b(), ..dw_q });
    pb.matmul(&b.logits, &b.params, &b.layers[top].d_hidden, None, mm(rows, htop, vocab, MatmulParams::TRANS_B, 0, lay.out_w(), 0));
    if let Some(p) = top_site {
        pb.dropout_apply(&b.layers[top].d_hidden, p);
    }

    // --- backward: layers, top down ---
    for l in (0..cfg.layers()).rev() {
        let (h, inw) = (cfg.hidden[l] as u32, cfg.layer_input(l) as u32);
        let lb = &b.layers[l];
        // W_hhᵀ, so the reverse steps read it along rows as the forward ones read W_hh.
        pb.transpose(&b.params, &b.recurrent_t, TransposeParams { rows: h, cols: h, src_off: lay.w_hh(l), dst_off: lay.w_hh_t(l) });
        for step in (0..t as u32).rev() {
            let has_next = (step + 1 < t as u32) as u32;
            let p = RnnStepParams { rows: nn, h, t: step, act, w_off: lay.w_hh_t(l), has_next, ..Default::default() };
            pb.rnn_step_backward(&lb.d_hidden, &lb.d_pre, &b.recurrent_t, &lb.hidden, p);
        }
        // [dW_hh; db_h] = [H_{-1}; …; H_{T-2}; 1]ᵀ·dZ: the first R rows of H, and the
        // column sums of dZ (ONES_ROW).
        let dw_hh = mm(h, h, rows, MatmulParams::TRANS_A | MatmulParams::ONES_ROW, 0, 0, lay.w_hh(l));
        pb.matmul(&lb.hidden, &lb.d_pre, &b.grads, None, MatmulParams { ones_off: lay.b_h(l), ..dw_hh });
        let (x, x_off) = input(l);
        pb.matmul(x, &lb.d_pre, &b.grads, None, mm(inw, h, rows, MatmulParams::TRANS_A, x_off, 0, lay.w_xh(l)));
        let dx = if l == 0 { &b.d_emb_rows } else { &b.layers[l - 1].d_hidden };
        pb.matmul(&lb.d_pre, &b.params, dx, None, mm(rows, inw, h, MatmulParams::TRANS_B, 0, lay.w_xh(l), 0));
        if let Some(p) = site(l, inw as usize) {
            pb.dropout_apply(dx, p);
        }
    }
    pb.embedding_scatter_add(&b.d_emb_rows, &b.tokens, &b.grads, EmbeddingParams { src_off: 0, ..emb });

    // --- clip and update ---
    let count = lay.total as u32;
    debug_assert_eq!(NUM_PARTIALS as usize, 256);
    pb.grad_norm(&b.grads, &b.partials, &b.clip, &b.stats, count, s.update.clip);
    match s.update.optimizer {
        Optimizer::Sgd { momentum } => {
            pb.sgd_update(&b.params, &b.grads, &b.moment1, &b.clip, OptimizerParams { count, momentum, ..Default::default() })
        }
        Optimizer::Adam { beta1, beta2, eps } => pb.adam_update(
            &b.params,
            &b.grads,
            &b.moment1,
            &b.moment2,
            &b.clip,
            OptimizerParams { count, beta1, beta2, eps, ..Default::default() },
        ),
    }
    pb.finish()
}
