//! Forward pass and backpropagation through time for one chunk, in plain loops plus GEMMs
//! (generic over f32/f64). Shapes: n rows, T steps, rows are time-major (r = t·n + i).
//!
//! The notation is the GPU program's (src/rnn/gpu/step_program.rs). Forward, for layer l with
//! input rows X^l [T·n, in_l] (X^0 = embedding[tokens]; with dropout, X^l ⊙ M_l):
//!   P^l = X^l W_xh^l + b^l (one GEMM for all steps), H^l_t = φ(P^l_t + H^l_{t-1} W_hh^l) for
//!   t = 0..T−1, with H^l_{-1} the carried state. Output, with H^L the top layer's outputs:
//!   logits = (H^L ⊙ M_L) W_q + b_q, loss = mean_r CE(logits_r, y_r).
//! Backward (truncated at the chunk start: no gradient reaches H_{-1}):
//!   dlogits = (softmax(logits) − onehot(y)) / (n·T); [dW_q; db_q] = [H^L ⊙ M_L; 1]ᵀ dlogits;
//!   with tied weights W_q = Eᵀ, so E's gradient gains dlogitsᵀ (H^L ⊙ M_L) and W_q has none;
//!   dH^L = (dlogits W_qᵀ) ⊙ M_L; per layer, top down: dZ^l_t = (dH^l_t + dZ^l_{t+1} W_hh^lᵀ)
//!   ⊙ φ'(H^l_t) for t = T−1..0 (no dZ^l_T), dW_hh^l = Σ_t H^l_{t-1}ᵀ dZ^l_t,
//!   dW_xh^l = (X^l ⊙ M_l)ᵀ dZ^l, db^l = Σ_r dZ^l_r, dX^l = (dZ^l W_xh^lᵀ) ⊙ M_l, which is
//!   dH^{l-1}, or scattered into the embedding gradient at the token ids for l = 0.

use super::ops;
use super::recurrence;
use super::Scalar;
use crate::rnn::dropout::DropoutKey;
use crate::rnn::model::{ModelConfig, Params};

/// Everything the forward pass keeps for the backward pass.
pub struct ForwardCache<F> {
    /// The input rows each layer multiplied by W_xh, [T·n, in_l]: X_0 = embedding[tokens]
    /// (masked under dropout); for l > 0 only kept when dropout made a masked copy (else the
    /// layer below's outputs are used directly).
    pub layer_inputs: Vec<Option<Vec<F>>>,
    /// Per layer: [H_{-1}; H_0; …; H_{T-1}], [(T+1)·n, h_l] (the carried state first).
    pub hidden: Vec<Vec<F>>,
    /// The masked top outputs fed to the output layer (None without dropout).
    pub top_input: Option<Vec<F>>,
    /// Dropout multipliers per site (0..=L), empty without dropout.
    pub masks: Vec<Vec<F>>,
    /// Z = H^{L-1} W_q + b_q, [T·n, V].
    pub logits: Vec<F>,
    /// Per layer, the multiplicative cell's P and R (None for the Elman cell).
    pub mi: Vec<Option<super::mi::MiCache<F>>>,
}

impl<F: Scalar> ForwardCache<F> {
    /// Layer l's output rows H_0..H_{T-1}, [T·n, h_l].
    pub fn outputs(&self, l: usize, n: usize, h: usize) -> &[F] {
        &self.hidden[l][n * h..]
    }

    /// The rows layer l multiplied by W_xh.
    fn input_of(&self, config: &ModelConfig, l: usize, n: usize) -> &[F] {
        match &self.layer_inputs[l] {
            Some(x) => x,
            None => self.outputs(l - 1, n, config.hidden[l - 1]),
        }
    }

    /// The rows the output layer multiplied by W_q.
    fn top_rows(&self, config: &ModelConfig, n: usize) -> &[F] {
        match &self.top_input {
            Some(x) => x,
            None => self.outputs(config.layers() - 1, n, config.top_hidden()),
        }
    }

    /// The final state H_{T-1} of each layer, [n, h_l]: the next chunk's H_{-1}.
    pub fn final_hidden(&self, config: &ModelConfig, n: usize) -> Vec<Vec<F>> {
        self.hidden
            .iter()
            .zip(&config.hidden)
            .map(|(hs, &h)| hs[hs.len() - n * h..].to_vec())
            .collect()
    }
}

/// Runs the model over `inputs` ([T·n] time-major ids) from the carried states `h0`
/// (one [n·h_l] per layer), with dropout when `dropout` is given.
pub fn forward<F: Scalar>(
    config: &ModelConfig,
    params: &Params<F>,
    h0: &[Vec<F>],
    inputs: &[u32],
    n: usize,
    dropout: Option<&DropoutKey>,
) -> ForwardCache<F> {
    let rows = inputs.len();
    let steps = rows / n;
    let d = config.embed;
    let layers = config.layers();
    let mut embedded = vec![F::zero(); rows * d];
    ops::embedding_gather(params.embedding(), inputs, d, &mut embedded);
    let masks: Vec<Vec<F>> = match dropout {
        Some(key) => (0..=layers)
            .map(|site| {
                let width = if site < layers { config.layer_input(site) } else { config.top_hidden() };
                ops::dropout_mask(key, site, rows * width)
            })
            .collect(),
        None => Vec::new(),
    };
    if let Some(m) = masks.first() {
        ops::dropout_apply(&mut embedded, m);
    }

    let mut layer_inputs: Vec<Option<Vec<F>>> = vec![Some(embedded)];
    let mut hidden: Vec<Vec<F>> = Vec::with_capacity(layers);
    let mut mi_caches = Vec::with_capacity(layers);
    for l in 0..layers {
        let (width_in, h) = (config.layer_input(l), config.hidden[l]);
        if l > 0 {
            let masked = masks.get(l).map(|m| ops::dropout_copy(&hidden[l - 1][n * width_in..], m));
            layer_inputs.push(masked);
        }
        let x: &[F] = match &layer_inputs[l] {
            Some(x) => x,
            None => &hidden[l - 1][n * width_in..],
        };
        let mut hs = vec![F::zero(); (steps + 1) * n * h];
        hs[..n * h].copy_from_slice(&h0[l]);
        let (w_xh, w_hh, b) = (params.w_xh(l), params.w_hh(l), params.b_h(l));
        if let Some(gates) = params.gates(l) {
            mi_caches.push(Some(super::mi::forward(config.activation, n, h, x, width_in, w_xh, w_hh, b, &gates, &mut hs)));
            hidden.push(hs);
            continue;
        }
        mi_caches.push(None);
        // P^l = X^l W_xh^l + b^l for all steps at once, written straight into the H_t slots.
        let (_, proj) = hs.split_at_mut(n * h);
        ops::matmul(proj, x, w_xh, rows, width_in, h, false, false, false);
        ops::add_bias_rows(proj, b);
        recurrence::forward_steps(config.activation, n, h, steps, w_hh, &mut hs);
        hidden.push(hs);
    }

    let top = config.top_hidden();
    let top_input = masks.get(layers).map(|m| ops::dropout_copy(&hidden[layers - 1][n * top..], m));
    let v = config.vocab;
    let mut logits = vec![F::zero(); rows * v];
    let h_top: &[F] = match &top_input {
        Some(x) => x,
        None => &hidden[layers - 1][n * top..],
    };
    if config.tied {
        // W_q = Eᵀ: E [V, d] read transposed.
        ops::matmul(&mut logits, h_top, params.embedding(), rows, top, v, false, true, false);
    } else {
        ops::matmul(&mut logits, h_top, params.out_w(), rows, top, v, false, false, false);
    }
    ops::add_bias_rows(&mut logits, params.out_b());
    ForwardCache { layer_inputs, hidden, top_input, masks, logits, mi: mi_caches }
}

/// Mean cross-entropy (nats/token) of a forward pass against `targets`.
pub fn mean_loss<F: Scalar>(cache: &ForwardCache<F>, targets: &[u32], vocab: usize) -> f64 {
    let losses = ops::softmax_xent_loss(&cache.logits, targets, vocab);
    ops::loss_sum(&losses, 1.0 / targets.len() as f64)
}

/// Forward + BPTT over one chunk: writes ∂loss/∂params into `grads` (overwriting) and
/// returns (mean loss in nats/token, the cache, so callers can take the final state).
#[allow(clippy::too_many_arguments)]
pub fn loss_and_gradients<F: Scalar>(
    config: &ModelConfig,
    params: &Params<F>,
    h0: &[Vec<F>],
    inputs: &[u32],
    targets: &[u32],
    n: usize,
    dropout: Option<&DropoutKey>,
    grads: &mut Params<F>,
) -> (f64, ForwardCache<F>) {
    loss_gradients_and_flow(config, params, h0, inputs, targets, n, dropout, grads, None)
}

/// [`loss_and_gradients`], also writing the gradient flow into `flow` when given:
/// ‖∂L/∂H_t^(l)‖ (Frobenius over the batch) for every layer l and step t, `[layer][t]`.
#[allow(clippy::too_many_arguments)]
pub fn loss_gradients_and_flow<F: Scalar>(
    config: &ModelConfig,
    params: &Params<F>,
    h0: &[Vec<F>],
    inputs: &[u32],
    targets: &[u32],
    n: usize,
    dropout: Option<&DropoutKey>,
    grads: &mut Params<F>,
    mut flow: Option<&mut Vec<Vec<f64>>>,
) -> (f64, ForwardCache<F>) {
    let cache = forward(config, params, h0, inputs, n, dropout);
    let rows = inputs.len();
    let steps = rows / n;
    let v = config.vocab;
    let top = config.top_hidden();
    let layers = config.layers();

    let mut dlogits = vec![F::zero(); rows * v];
    let scale = F::from_f64(1.0 / rows as f64);
    let losses = ops::softmax_xent(&cache.logits, targets, v, scale, &mut dlogits);
    let loss = ops::loss_sum(&losses, 1.0 / rows as f64);

    ops::bias_grad(&dlogits, grads.out_b_mut());
    let mut d_h = vec![F::zero(); rows * top];
    if config.tied {
        // W_q = Eᵀ is no parameter of its own: its gradient goes to E below.
        grads.out_w_mut().fill(F::zero());
        ops::matmul(&mut d_h, &dlogits, params.embedding(), rows, v, top, false, false, false);
    } else {
        ops::matmul(grads.out_w_mut(), cache.top_rows(config, n), &dlogits, top, rows, v, true, false, false);
        ops::matmul(&mut d_h, &dlogits, params.out_w(), rows, v, top, false, true, false);
    }
    if let Some(m) = cache.masks.get(layers) {
        ops::dropout_apply(&mut d_h, m);
    }

    for l in (0..layers).rev() {
        let (width_in, h) = (config.layer_input(l), config.hidden[l]);
        let w_hh = params.w_hh(l);
        let hs = &cache.hidden[l];
        // The gradients that reach W_hh (dR), W_xh and the input (dP), and the bias (dZ):
        // all three are dZ for the Elman cell.
        let (d_r, d_p, d_z);
        let squares: Vec<f64>;
        match (params.gates(l), &cache.mi[l], grads.gates_mut(l)) {
            (Some(gates), Some(mi_cache), Some(mut grad_gates)) => {
                let mut record = flow.is_some().then(Vec::new);
                let (r, p, z) = super::mi::backward(config.activation, n, h, w_hh, hs, &d_h, mi_cache, &gates, &mut grad_gates, record.as_mut());
                (d_r, d_p, d_z) = (r, Some(p), Some(z));
                squares = record.unwrap_or_default();
            }
            _ => {
                let mut z = vec![F::zero(); rows * h];
                squares = recurrence::backward_steps(config.activation, n, h, steps, w_hh, hs, &d_h, &mut z, flow.is_some());
                (d_r, d_p, d_z) = (z, None, None);
            }
        }
        let d_p = d_p.as_deref().unwrap_or(&d_r);
        let d_z = d_z.as_deref().unwrap_or(&d_r);
        if let Some(flow) = flow.as_deref_mut() {
            flow.resize(layers, Vec::new());
            flow[l] = squares.iter().map(|s| s.sqrt()).collect();
        }
        // dW_hh = [H_{-1}; …; H_{T-2}]ᵀ dR: the first T·n rows of the stored states.
        ops::matmul(grads.w_hh_mut(l), &hs[..rows * h], &d_r, h, rows, h, true, false, false);
        ops::matmul(grads.w_xh_mut(l), cache.input_of(config, l, n), d_p, width_in, rows, h, true, false, false);
        ops::bias_grad(d_z, grads.b_h_mut(l));
        let mut d_x = vec![F::zero(); rows * width_in];
        ops::matmul(&mut d_x, d_p, params.w_xh(l), rows, h, width_in, false, true, false);
        if let Some(m) = cache.masks.get(l) {
            ops::dropout_apply(&mut d_x, m);
        }
        if l == 0 {
            let g_emb = grads.embedding_mut();
            g_emb.fill(F::zero());
            ops::embedding_scatter_add(g_emb, inputs, config.embed, &d_x);
            if config.tied {
                // dE += dlogitsᵀ·(H^L ⊙ M_L): the output layer's use of E.
                ops::matmul(g_emb, &dlogits, cache.top_rows(config, n), v, rows, top, true, false, true);
            }
        } else {
            d_h = d_x;
        }
    }
    (loss, cache)
}
