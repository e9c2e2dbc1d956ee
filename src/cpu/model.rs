//! Forward pass and backpropagation through time for one chunk, in plain loops plus GEMMs
//! (generic over f32/f64). Shapes: n rows, T steps, rows are time-major (r = t·n + i).
//!
//! Forward, for layer l with input rows X_l [T·n, in_l] (X_0 = embedding[tokens]):
//!   P = X_l W_xh + b_h (one GEMM for all steps), H_t = φ(P_t + H_{t-1} W_hh) for t = 0..T−1,
//!   with H_{-1} the carried state. Output: Z = H^{L-1} W_q + b_q, loss = mean_r CE(Z_r, y_r).
//! Backward (truncated at the chunk start: no gradient reaches H_{-1}):
//!   dZ_out = (softmax(Z) − onehot(y)) / (n·T); dW_q = Hᵀ dZ_out; db_q = Σ_r dZ_out; dH = dZ_out W_qᵀ;
//!   per layer, top down: dA_t = (dH_t + dA_{t+1} W_hhᵀ) ⊙ φ'(H_t) for t = T−1..0 (dA_T = 0),
//!   dW_hh = Σ_t H_{t-1}ᵀ dA_t, dW_xh = X_lᵀ dA, db_h = Σ_r dA_r, dX_l = dA W_xhᵀ, which is dH
//!   for layer l−1, or scattered into the embedding gradient at the token ids for l = 0.

use super::ops;
use super::Scalar;
use crate::model::{ModelConfig, Params};

/// Everything the forward pass keeps for the backward pass.
pub struct ForwardCache<F> {
    /// X_0 = embedding[tokens], [T·n, d].
    pub embedded: Vec<F>,
    /// Per layer: [H_{-1}; H_0; …; H_{T-1}], [(T+1)·n, h_l] (the carried state first).
    pub hidden: Vec<Vec<F>>,
    /// Z = H^{L-1} W_q + b_q, [T·n, V].
    pub logits: Vec<F>,
}

impl<F: Scalar> ForwardCache<F> {
    /// Layer l's output rows H_0..H_{T-1}, [T·n, h_l].
    pub fn outputs(&self, l: usize, n: usize, h: usize) -> &[F] {
        &self.hidden[l][n * h..]
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
/// (one [n·h_l] per layer).
pub fn forward<F: Scalar>(config: &ModelConfig, params: &Params<F>, h0: &[Vec<F>], inputs: &[u32], n: usize) -> ForwardCache<F> {
    let rows = inputs.len();
    let steps = rows / n;
    let d = config.embed;
    let mut embedded = vec![F::zero(); rows * d];
    ops::embedding_gather(params.embedding.as_slice().expect("standard layout"), inputs, d, &mut embedded);

    let mut hidden: Vec<Vec<F>> = Vec::with_capacity(config.layers());
    for (l, layer) in params.layers.iter().enumerate() {
        let (width_in, h) = (config.layer_input(l), config.hidden[l]);
        let x: &[F] = if l == 0 { &embedded } else { &hidden[l - 1][n * config.hidden[l - 1]..] };
        let mut hs = vec![F::zero(); (steps + 1) * n * h];
        hs[..n * h].copy_from_slice(&h0[l]);
        // P = X W_xh + b_h for all steps at once, written straight into the H_t slots.
        let (_, proj) = hs.split_at_mut(n * h);
        ops::matmul(proj, x, layer.w_xh.as_slice().expect("standard layout"), rows, width_in, h, false, false, false);
        ops::add_bias_rows(proj, layer.b_h.as_slice().expect("standard layout"));
        let w_hh = layer.w_hh.as_slice().expect("standard layout");
        let mut p_t = vec![F::zero(); n * h];
        for t in 0..steps {
            let (before, after) = hs.split_at_mut((t + 1) * n * h);
            let h_prev = &before[t * n * h..];
            let slot = &mut after[..n * h];
            p_t.copy_from_slice(slot);
            ops::rnn_step_forward(config.activation, h, &p_t, h_prev, w_hh, slot);
        }
        hidden.push(hs);
    }

    let top = config.top_hidden();
    let v = config.vocab;
    let mut logits = vec![F::zero(); rows * v];
    let h_top = &hidden[config.layers() - 1][n * top..];
    ops::matmul(&mut logits, h_top, params.out_w.as_slice().expect("standard layout"), rows, top, v, false, false, false);
    ops::add_bias_rows(&mut logits, params.out_b.as_slice().expect("standard layout"));
    ForwardCache { embedded, hidden, logits }
}

/// Mean cross-entropy (nats/token) of a forward pass against `targets`.
pub fn mean_loss<F: Scalar>(cache: &ForwardCache<F>, targets: &[u32], vocab: usize) -> f64 {
    let losses = ops::softmax_xent_loss(&cache.logits, targets, vocab);
    losses.iter().map(|x| x.to_f64()).sum::<f64>() / targets.len() as f64
}

/// Forward + BPTT over one chunk: writes ∂loss/∂params into `grads` (overwriting) and
/// returns (mean loss in nats/token, the cache, so callers can take the final state).
pub fn loss_and_gradients<F: Scalar>(
    config: &ModelConfig,
    params: &Params<F>,
    h0: &[Vec<F>],
    inputs: &[u32],
    targets: &[u32],
    n: usize,
    grads: &mut Params<F>,
) -> (f64, ForwardCache<F>) {
    let cache = forward(config, params, h0, inputs, n);
    let rows = inputs.len();
    let steps = rows / n;
    let v = config.vocab;
    let top = config.top_hidden();

    let mut dlogits = vec![F::zero(); rows * v];
    let scale = F::from_f64(1.0 / rows as f64);
    let losses = ops::softmax_xent(&cache.logits, targets, v, scale, &mut dlogits);
    let loss = losses.iter().map(|x| x.to_f64()).sum::<f64>() / rows as f64;

    let h_top = cache.outputs(config.layers() - 1, n, top);
    ops::matmul(grads.out_w.as_slice_mut().expect("standard layout"), h_top, &dlogits, top, rows, v, true, false, false);
    ops::bias_grad(&dlogits, grads.out_b.as_slice_mut().expect("standard layout"));
    let mut d_h = vec![F::zero(); rows * top];
    ops::matmul(&mut d_h, &dlogits, params.out_w.as_slice().expect("standard layout"), rows, v, top, false, true, false);

    for l in (0..config.layers()).rev() {
        let (width_in, h) = (config.layer_input(l), config.hidden[l]);
        let layer = &params.layers[l];
        let w_hh = layer.w_hh.as_slice().expect("standard layout");
        let hs = &cache.hidden[l];
        let mut d_a = vec![F::zero(); rows * h];
        for t in (0..steps).rev() {
            let (now, later) = d_a.split_at_mut((t + 1) * n * h);
            let dz_next = if t + 1 < steps { Some(&later[..n * h]) } else { None };
            let h_t = &hs[(t + 1) * n * h..(t + 2) * n * h];
            ops::rnn_step_backward(config.activation, h, &d_h[t * n * h..(t + 1) * n * h], dz_next, w_hh, h_t, &mut now[t * n * h..]);
        }
        let g = &mut grads.layers[l];
        // dW_hh = [H_{-1}; …; H_{T-2}]ᵀ dA: the first T·n rows of the stored states.
        ops::matmul(g.w_hh.as_slice_mut().expect("standard layout"), &hs[..rows * h], &d_a, h, rows, h, true, false, false);
        let x: &[F] = if l == 0 { &cache.embedded } else { cache.outputs(l - 1, n, width_in) };
        ops::matmul(g.w_xh.as_slice_mut().expect("standard layout"), x, &d_a, width_in, rows, h, true, false, false);
        ops::bias_grad(&d_a, g.b_h.as_slice_mut().expect("standard layout"));
        let mut d_x = vec![F::zero(); rows * width_in];
        ops::matmul(&mut d_x, &d_a, layer.w_xh.as_slice().expect("standard layout"), rows, h, width_in, false, true, false);
        if l == 0 {
            let g_emb = grads.embedding.as_slice_mut().expect("standard layout");
            g_emb.fill(F::zero());
            ops::embedding_scatter_add(g_emb, inputs, config.embed, &d_x);
        } else {
            d_h = d_x;
        }
    }
    (loss, cache)
}
