//! The training step as a dispatch list (docs/design.md, "The GPU schedule"), built once per batch
//! shape and replayed every step. Row r = t·n + i throughout (time-major).
//!
//! Forward: gather X^0 (all R = n·T rows); one GEMM P^0 = X^0·W_xh^0 + b^0; the
//! recurrence as T + L − 1 waves of the layer wavefront (recurrence/, rnn_wave.wgsl:
//! H^l_t = φ(X^l_t·W_xh^l + b^l + H^l_{t-1}·W_hh^l), layer 0 taking P^0_t; the hidden
//! buffer holds the carried H_{-1} as each layer's first n rows); logits = H^L·W_q + b_q;
//! fused softmax–cross-entropy (loss per row, dlogits in place); the mean loss into
//! stats[slot].
//! Backward: [dW_q; db_q] = [H^L; 1]ᵀ·dlogits (one GEMM), dH^L = dlogits·W_qᵀ; the
//! transposed copies W_hhᵀ (every layer) and W_xhᵀ (l ≥ 1); T + L − 1 reverse waves
//! dZ^l_t = (dH^l_t + dZ^l_{t+1}·W_hh^lᵀ) ⊙ φ'(H^l_t), with dH^l_t = dZ^{l+1}_t·W_xh^{l+1}ᵀ
//! computed inside the wave below the top; then per layer [dW_hh; db] = [H_{-1..T-2}; 1]ᵀ·dZ
//! and dW_xh = Xᵀ·dZ, and dX^0 = dZ^0·W_xh^0ᵀ scattered into the embedding table.
//! Tied weights (W_q = Eᵀ): the logits read E transposed, dH^L = dlogits·E, and E's
//! gradient gains dlogitsᵀ·H^L after the scatter (one more GEMM); W_q's slot stays zero.
//! Update: two-pass ‖g‖ over the flat gradient buffer, clip factor on the GPU, one
//! optimizer dispatch over the flat parameter buffer.
//!
//! Dropout (training only, masks M_s of src/rnn/dropout.rs drawn on the GPU from the update
//! number in the step uniform): X^0 ← X^0 ⊙ M_0 in place after the gather; each forward
//! lane writes H^l_t ⊙ M_{l+1} beside H^l_t (the input of layer l + 1, or at the top of the
//! output layer; these copies also feed dW_xh and dW_q); backward, dH^L ← dH^L ⊙ M_L in
//! place, the waves mask dH^l by M_{l+1}, and dX^0 ← dX^0 ⊙ M_0 before the scatter.
//!
//! Eval: the forward and the loss sum into eval_sums[slot]. Logits (sampling, n = 1,
//! T = 1): the forward up to and including the output GEMM.
//!
//! The mi cell (recurrence/wavefront.rs, rnn_wave.wgsl's MI lanes): P^0 without the bias (it is added
//! inside the gate); the lanes store P^l and R^l forward and dR^l, dP^l backward; then
//! dW_hh = [H_{-1..T-2}]ᵀ·dR, dW_xh = Xᵀ·dP, dX^0 = dP^0·W_xh^0ᵀ, and db with the gates'
//! gradients from mi_gates.wgsl; the gates are copied beside the transposed weights.
//!
//! Flow (the gradient flow, src/rnn/train/gradflow.rs): the training step's forward and backward
//! without dropout, the backward lanes storing G^l_t in the flow program's own d_pre
//! buffer, then sums of squares into the flow sums; no clip, no update.
//!
//! Dispatches per training step: 2·(T + L − 1) recurrent waves (dependent; a wave of more
//! than 4 lanes takes more dispatches) + 4·L + 11 batched, + 1 per product split over K,
//! + 3 with dropout, + 1 with tied weights, + 2·L for the mi cell.

use super::buffers::ParamOffsets;
use super::context::GpuContext;
use super::kernels::dropout::DropoutParams;
use super::kernels::embedding::EmbeddingParams;
use super::kernels::matmul::MatmulParams;
use super::kernels::mi_gates::MiGateParams;
use super::kernels::optimizer::OptimizerParams;
use super::kernels::reduce::{ReduceParams, NUM_PARTIALS};
use super::kernels::rnn_wave::{rows_per_tile, WaveBuffers};
use super::kernels::softmax_xent::SoftmaxParams;
use super::kernels::transpose::TransposeParams;
use super::program::{Program, ProgramBuilder};
use super::recurrence::{backward_waves, forward_waves, ActivationLayout, RecurrenceDispatch, Wavefront};
use super::tokens::TokenLayout;
use crate::rnn::model::ModelConfig;
use crate::rnn::backend::{Optimizer, UpdateConfig};

/// The forward model's buffers (model.rs): what evaluation and sampling need.
pub struct ForwardBuffers {
    pub params: wgpu::Buffer,
    pub tokens: wgpu::Buffer,
    /// X^0 [R, d], the gathered embedding rows.
    pub emb_rows: wgpu::Buffer,
    /// P^0 = X^0·W_xh^0 + b^0 [R, h_0].
    pub proj0: wgpu::Buffer,
    /// Every layer's H and, with dropout, the masked copies ([`ActivationLayout`]).
    pub hidden: wgpu::Buffer,
    pub logits: wgpu::Buffer,
    pub row_loss: wgpu::Buffer,
    pub eval_sums: wgpu::Buffer,
    /// The per-step uniform ([`StepParams`]).
    pub step: wgpu::Buffer,
    /// The carried evaluation state [n, h_l] and sampling state [1, h_l] of each layer.
    pub eval_states: Vec<wgpu::Buffer>,
    pub sample_states: Vec<wgpu::Buffer>,
}

/// What the trainer adds (trainer.rs).
pub struct TrainBuffers {
    /// W_hhᵀ of every layer and W_xhᵀ of layers ≥ 1 (ParamOffsets::w_hh_t, w_xh_t), made
    /// each step before the backward waves read them.
    pub recurrent_t: wgpu::Buffer,
    pub grads: wgpu::Buffer,
    pub moment1: wgpu::Buffer,
    pub moment2: wgpu::Buffer,
    /// dX^0 [R, d].
    pub d_emb_rows: wgpu::Buffer,
    /// dH^L [R, h_L] from the output layer.
    pub d_top: wgpu::Buffer,
    /// Every layer's dZ ([`ActivationLayout`]).
    pub d_pre: wgpu::Buffer,
    pub partials: wgpu::Buffer,
    pub clip: wgpu::Buffer,
    pub stats: wgpu::Buffer,
    /// The carried training state [n, h_l] of each layer.
    pub states: Vec<wgpu::Buffer>,
}

/// What a gradient-flow program adds (trainer.rs, `gradient_flow`): a d_pre buffer laid
/// out with G^l ([`ActivationLayout::for_flow`]) and the sums it writes,
/// [loss, ‖g‖², ‖dW_hh^l‖² for each l, ‖G^l_t‖² for each l and t].
pub struct FlowBuffers {
    pub acts: ActivationLayout,
    pub d_pre: wgpu::Buffer,
    pub sums: wgpu::Buffer,
}

impl FlowBuffers {
    /// Elements of the sums buffer for L layers and T steps.
    pub fn sums_len(layers: usize, t: usize) -> usize {
        2 + layers + layers * t
    }
}

/// What a program computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Forward, backward, clip, update; loss into stats.
    Train,
    /// Forward and backward without dropout, the gradient flow's norms into the flow sums;
    /// no update (the parameters and the carried state stay as they are).
    Flow,
    /// Forward and the loss sum into eval_sums.
    Eval,
    /// Forward up to the logits [R, V]; no loss (sampling).
    Logits,
}

/// What a program is built from: the model config, where parameters, activations and
/// tokens live, and the trainer's update settings (fixed for the model's life).
pub struct ProgramSpec<'a> {
    pub config: &'a ModelConfig,
    pub layout: &'a ParamOffsets,
    /// Offsets in the hidden and dZ buffers (allocated for the model's n and T).
    pub acts: &'a ActivationLayout,
    pub tokens: TokenLayout,
    /// The trainer's update (optimizer, clipping, dropout); None for a forward-only model.
    pub update: Option<&'a UpdateConfig>,
    /// How the device dispatches the recurrence.
    pub recurrence: &'a RecurrenceDispatch,
}

/// The dispatch list for a batch of n rows × t steps. `train` (the trainer's buffers) is
/// required for [`Mode::Train`] and [`Mode::Flow`], `flow` for [`Mode::Flow`].
#[allow(clippy::too_many_arguments)]
pub fn build(ctx: &GpuContext, s: &ProgramSpec, f: &ForwardBuffers, train: Option<&TrainBuffers>, flow: Option<&FlowBuffers>, n: usize, t: usize, mode: Mode) -> Program {
    let (cfg, lay) = (s.config, s.layout);
    // The flow program's own buffers (other modes ignore `flow`).
    let flow = flow.filter(|_| mode == Mode::Flow);
    assert_eq!(flow.is_some(), mode == Mode::Flow, "a gradient-flow program needs its flow buffers");
    let acts = flow.map_or(s.acts, |fl| &fl.acts);
    let mi = cfg.cell == crate::rnn::model::Cell::Mi;
    let rows = (n * t) as u32;
    let layers = cfg.layers();
    let label = format!("{mode:?} n={n} T={t}");
    let mut pb = ProgramBuilder::new(ctx, &label, Some(&f.step));
    // Evaluation never drops; the key's update number is unused (the kernels read k from
    // the step uniform).
    let update = s.update.filter(|_| matches!(mode, Mode::Train | Mode::Flow));
    let dropout = update.filter(|_| mode == Mode::Train).and_then(|u| u.dropout_key(0));
    let site = |site: usize, width: usize| dropout.as_ref().map(|key| DropoutParams::new(key, site as u32, rows * width as u32));

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
    pb.embedding_gather(&f.params, &f.tokens, &f.emb_rows, emb);
    if let Some(p) = site(0, cfg.embed) {
        pb.dropout_apply(&f.emb_rows, p);
    }
    // The mi cell adds b^0 inside its gate, not to P^0.
    let proj = MatmulParams {
        m: rows,
        n: cfg.hidden[0] as u32,
        k: cfg.embed as u32,
        flags: if mi { 0 } else { MatmulParams::BIAS },
        b_off: lay.w_xh(0),
        bias_off: lay.b_h(0),
        ..Default::default()
    };
    pb.matmul(&f.emb_rows, &f.params, &f.proj0, Some(&f.params), proj);
    let front = Wavefront { config: cfg, params: lay, acts, n, t, dropout, record: mode == Mode::Flow };
    let widths: Vec<u32> = cfg.hidden.iter().map(|&h| h as u32).collect();
    let rows_per_tile = rows_per_tile(n as u32, &widths);
    let forward = WaveBuffers { x_in: &f.proj0, y_out: &f.hidden, w: &f.params, backward_hidden: None };
    s.recurrence.record(&mut pb, forward, &forward_waves(&front), rows_per_tile);
    // Layer l's input X^l in the hidden buffer: H^{l-1}_0..T-1 (past the carried block),
    // or under dropout its masked copy; X^0 is the embedding rows.
    let input = |l: usize| -> u32 {
        match acts.dropped[l] {
            Some(base) if dropout.is_some() => base as u32,
            _ => acts.hidden_block(cfg, n, l - 1, 1) as u32,
        }
    };
    let (htop, vocab) = (cfg.hidden[layers - 1] as u32, cfg.vocab as u32);
    let top_off = input(layers);
    // W_q, or with tied weights Eᵀ: E [V, d] read transposed.
    let (w_q, w_q_flags) = if cfg.tied { (lay.embedding(), MatmulParams::TRANS_B) } else { (lay.out_w(), 0) };
    let logits = MatmulParams {
        m: rows,
        n: vocab,
        k: htop,
        flags: MatmulParams::BIAS | w_q_flags,
        a_off: top_off,
        b_off: w_q,
        bias_off: lay.out_b(),
        ..Default::default()
    };
    pb.matmul(&f.hidden, &f.params, &f.logits, Some(&f.params), logits);
    if mode == Mode::Logits {
        return pb.finish();
    }
    let sp = SoftmaxParams { rows, vocab, tgt_off: s.tokens.targets_off(), scale: 1.0 / rows as f32 };
    if mode == Mode::Eval {
        pb.softmax_xent_loss(&f.logits, &f.tokens, &f.row_loss, sp);
        pb.loss_sum(&f.row_loss, &f.eval_sums, ReduceParams { count: rows, stride: 1, field: 0, scale: 1.0, ..Default::default() });
        return pb.finish();
    }
    let tr = train.expect("a training program needs the trainer's buffers");
    let update = update.expect("a training program needs the trainer's update settings");
    // dZ (and mi's dR, dP; G when recording): the trainer's buffer, or the flow program's.
    let d_pre = flow.map_or(&tr.d_pre, |fl| &fl.d_pre);
    pb.softmax_xent(&f.logits, &f.tokens, &f.row_loss, sp);
    let mean_loss = ReduceParams { count: rows, scale: 1.0 / rows as f32, ..Default::default() };
    match flow {
        Some(fl) => pb.loss_sum(&f.row_loss, &fl.sums, mean_loss),
        None => pb.loss_sum(&f.row_loss, &tr.stats, ReduceParams { stride: 4, ..mean_loss }),
    }

    // --- backward: output layer ---
    let mm = |m, n, k, flags, a_off, b_off, c_off| MatmulParams { m, n, k, flags, a_off, b_off, c_off, ..Default::default() };
    let ones = MatmulParams::TRANS_A | MatmulParams::ONES_ROW;
    // [dW_q; db_q] = [H^L; 1]ᵀ·dlogits in one GEMM (ONES_ROW). Tied: W_q is no parameter of
    // its own (its gradient slot stays zero), so only the ones row, db_q (m = 0), and E's
    // share dlogitsᵀ·H^L is added after the embedding scatter below.
    let dw_rows = if cfg.tied { 0 } else { htop };
    pb.matmul(&f.hidden, &f.logits, &tr.grads, None, MatmulParams { ones_off: lay.out_b(), ..mm(dw_rows, vocab, rows, ones, top_off, 0, lay.out_w()) });
    // dH^L = dlogits·W_qᵀ, or tied dlogits·E.
    let dh_flags = if cfg.tied { 0 } else { MatmulParams::TRANS_B };
    pb.matmul(&f.logits, &f.params, &tr.d_top, None, mm(rows, htop, vocab, dh_flags, 0, w_q, 0));
    if let Some(p) = site(layers, htop as usize) {
        pb.dropout_apply(&tr.d_top, p);
    }

    // --- backward: the recurrence, top layer first ---
    for l in 0..layers {
        let h = cfg.hidden[l] as u32;
        pb.transpose(&f.params, &tr.recurrent_t, TransposeParams { rows: h, cols: h, src_off: lay.w_hh(l), dst_off: lay.w_hh_t(l) });
        if l > 0 {
            let below = cfg.hidden[l - 1] as u32;
            pb.transpose(&f.params, &tr.recurrent_t, TransposeParams { rows: below, cols: h, src_off: lay.w_xh(l), dst_off: lay.w_xh_t(l) });
        }
        if mi {
            // α, β_h, β_x beside the transposed weights (a [1, span] "transpose" is a copy).
            let (gates, _) = lay.gates(l);
            pb.transpose(&f.params, &tr.recurrent_t, TransposeParams { rows: 1, cols: lay.gate_span(l), src_off: gates, dst_off: lay.gates_t(l) });
        }
    }
    let backward = WaveBuffers { x_in: &tr.d_top, y_out: d_pre, w: &tr.recurrent_t, backward_hidden: Some(&f.hidden) };
    s.recurrence.record(&mut pb, backward, &backward_waves(&front), rows_per_tile);

    // --- backward: weight gradients, and the embedding's ---
    // Elman: [dW_hh; db_h] = [H_{-1}; …; H_{T-2}; 1]ᵀ·dZ (the first R rows of H^l, and the
    // column sums of dZ through ONES_ROW) and dW_xh = Xᵀ·dZ. mi: dW_hh = [H_{-1..T-2}]ᵀ·dR,
    // dW_xh = Xᵀ·dP, and db_h with the gates' gradients from mi_gate_grads.
    for l in 0..layers {
        let (h, inw) = (cfg.hidden[l] as u32, cfg.layer_input(l) as u32);
        let dz = acts.d_pre[l] as u32;
        let (x, x_off) = if l == 0 { (&f.emb_rows, 0) } else { (&f.hidden, input(l)) };
        let hidden_rows = acts.hidden[l] as u32;
        match (acts.mi_dr[l], acts.mi_dp[l], acts.mi_p[l], acts.mi_r[l]) {
            (Some(dr), Some(dp), Some(p_off), Some(r_off)) => {
                pb.matmul(&f.hidden, d_pre, &tr.grads, None, mm(h, h, rows, MatmulParams::TRANS_A, hidden_rows, dr as u32, lay.w_hh(l)));
                pb.matmul(x, d_pre, &tr.grads, None, mm(inw, h, rows, MatmulParams::TRANS_A, x_off, dp as u32, lay.w_xh(l)));
                let (gate_off, gate_stride) = lay.gates(l);
                let g = MiGateParams { rows, h, dz_off: dz, p_off: p_off as u32, r_off: r_off as u32, gate_off, gate_stride, bias_off: lay.b_h(l) };
                pb.mi_gate_grads(d_pre, &f.hidden, &tr.grads, g);
            }
            _ => {
                let dw_hh = mm(h, h, rows, ones, hidden_rows, dz, lay.w_hh(l));
                pb.matmul(&f.hidden, d_pre, &tr.grads, None, MatmulParams { ones_off: lay.b_h(l), ..dw_hh });
                pb.matmul(x, d_pre, &tr.grads, None, mm(inw, h, rows, MatmulParams::TRANS_A, x_off, dz, lay.w_xh(l)));
            }
        }
    }
    // dX^0 = dZ^0·W_xh^0ᵀ (mi: dP^0·W_xh^0ᵀ).
    let dx0 = acts.mi_dp[0].unwrap_or(acts.d_pre[0]) as u32;
    pb.matmul(d_pre, &f.params, &tr.d_emb_rows, None, mm(rows, cfg.embed as u32, cfg.hidden[0] as u32, MatmulParams::TRANS_B, dx0, lay.w_xh(0), 0));
    if let Some(p) = site(0, cfg.embed) {
        pb.dropout_apply(&tr.d_emb_rows, p);
    }
    pb.embedding_scatter_add(&tr.d_emb_rows, &f.tokens, &tr.grads, EmbeddingParams { src_off: 0, ..emb });
    if cfg.tied {
        // dE += dlogitsᵀ·(H^L ⊙ M_L): the output layer's use of E.
        let acc = MatmulParams::TRANS_A | MatmulParams::ACCUMULATE;
        pb.matmul(&f.logits, &f.hidden, &tr.grads, None, mm(vocab, htop, rows, acc, 0, top_off, lay.embedding()));
    }

    let count = lay.total() as u32;
    if let Some(fl) = flow {
        // [loss, ‖g‖², ‖dW_hh^l‖² …, ‖G^l_t‖² …] (the loss went to slot 0 above).
        // ‖g‖²: the training step's first pass over every gradient (on all workgroups), then
        // the partials summed into slot 1.
        pb.square_sum_partials(&tr.grads, &tr.partials, count);
        pb.loss_sum(&tr.partials, &fl.sums, ReduceParams { count: NUM_PARTIALS, field: 1, scale: 1.0, ..Default::default() });
        for l in 0..layers {
            let h = cfg.hidden[l] as u32;
            pb.sum_squares(&tr.grads, &fl.sums, lay.w_hh(l), h * h, 1, (2 + l) as u32);
            let g = acts.flow[l].expect("a gradient-flow layout") as u32;
            pb.sum_squares(&fl.d_pre, &fl.sums, g, n as u32 * h, t as u32, (2 + layers + l * t) as u32);
        }
        return pb.finish();
    }

    // --- clip and update ---
    pb.grad_norm(&tr.grads, &tr.partials, &tr.clip, &tr.stats, count, update.clip);
    match update.optimizer {
        Optimizer::Sgd { momentum } => {
            pb.sgd_update(&f.params, &tr.grads, &tr.moment1, &tr.clip, OptimizerParams { count, momentum, weight_decay: update.weight_decay, ..Default::default() })
        }
        Optimizer::Adam { beta1, beta2, eps } => pb.adam_update(
            &f.params,
            &tr.grads,
            &tr.moment1,
            &tr.moment2,
            &tr.clip,
            OptimizerParams { count, beta1, beta2, eps, weight_decay: update.weight_decay, ..Default::default() },
        ),
    }
    pb.finish()
}
