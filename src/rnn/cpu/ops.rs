//! The CPU twins of the GPU kernels: one plain function per kernel, same name, same math.
//! Forward/BPTT in `cpu::bptt` are built from these, and the GPU parity tests compare
//! each WGSL kernel against its twin here.
//!
//! All matrices are row-major slices. Shapes: rows = n (one step) or n·T (all steps),
//! h = hidden width, V = vocabulary, d = embedding width.

use super::Scalar;
use crate::rnn::dropout::DropoutKey;
use crate::rnn::model::Activation;

/// C [m, n] ← [C +] op(A) · op(B) (see [`Scalar::gemm`]); the kernel family `matmul`.
#[allow(clippy::too_many_arguments)]
pub fn matmul<F: Scalar>(c: &mut [F], a: &[F], b: &[F], m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool, accumulate: bool) {
    F::gemm(c, a, b, m, k, n, trans_a, trans_b, accumulate)
}

/// x[r, j] += b[j] for every row r of x [rows, cols].
pub fn add_bias_rows<F: Scalar>(x: &mut [F], b: &[F]) {
    for row in x.chunks_exact_mut(b.len()) {
        for (v, &bj) in row.iter_mut().zip(b) {
            *v += bj;
        }
    }
}

/// φ applied to a pre-activation.
pub fn activate<F: Scalar>(act: Activation, z: F) -> F {
    match act {
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.max(F::zero()),
    }
}

/// φ'(z) written in terms of the output y = φ(z): tanh → 1 − y², relu → [y > 0].
pub fn activation_derivative<F: Scalar>(act: Activation, y: F) -> F {
    match act {
        Activation::Tanh => F::one() - y * y,
        Activation::Relu => {
            if y > F::zero() {
                F::one()
            } else {
                F::zero()
            }
        }
    }
}

/// One recurrent step, fused: H_t = φ(P_t + H_{t-1} W_hh), where P_t [n, h] is the input
/// projection X_t W_xh + b_h already computed for all steps at once.
/// `h_prev` [n, h], `w_hh` [h, h], `h_out` [n, h].
#[allow(clippy::too_many_arguments)]
pub fn rnn_step_forward<F: Scalar>(act: Activation, h: usize, p_t: &[F], h_prev: &[F], w_hh: &[F], h_out: &mut [F]) {
    let rows = h_prev.len() / h;
    h_out.copy_from_slice(p_t);
    matmul(h_out, h_prev, w_hh, rows, h, h, false, false, true);
    for v in h_out.iter_mut() {
        *v = activate(act, *v);
    }
}

/// One reverse step of BPTT, fused: dZ_t = (dH_t + dZ_{t+1} W_hhᵀ) ⊙ φ'(H_t).
/// `dh_t` [n, h] is the gradient arriving from above (output layer or layer l+1) at step t;
/// `dz_next` is dZ_{t+1} (None at the last step of the chunk: no gradient crosses it).
#[allow(clippy::too_many_arguments)]
pub fn rnn_step_backward<F: Scalar>(act: Activation, h: usize, dh_t: &[F], dz_next: Option<&[F]>, w_hh: &[F], h_t: &[F], dz_out: &mut [F]) {
    let rows = dh_t.len() / h;
    dz_out.copy_from_slice(dh_t);
    if let Some(dz_next) = dz_next {
        matmul(dz_out, dz_next, w_hh, rows, h, h, false, true, true);
    }
    for (dz, &y) in dz_out.iter_mut().zip(h_t) {
        *dz *= activation_derivative(act, y);
    }
}

/// out[r, :] = table[tokens[r], :] with table [V, d], out [rows, d].
pub fn embedding_gather<F: Scalar>(table: &[F], tokens: &[u32], d: usize, out: &mut [F]) {
    for (row, &tok) in out.chunks_exact_mut(d).zip(tokens) {
        let tok = tok as usize;
        row.copy_from_slice(&table[tok * d..(tok + 1) * d]);
    }
}

/// grad_table[tokens[r], :] += d_rows[r, :]: the adjoint of [`embedding_gather`].
pub fn embedding_scatter_add<F: Scalar>(grad_table: &mut [F], tokens: &[u32], d: usize, d_rows: &[F]) {
    for (row, &tok) in d_rows.chunks_exact(d).zip(tokens) {
        let tok = tok as usize;
        for (g, &v) in grad_table[tok * d..(tok + 1) * d].iter_mut().zip(row) {
            *g += v;
        }
    }
}

/// Fused, numerically stable softmax–cross-entropy for logits [rows, V]:
/// loss_r = logsumexp(z_r) − z_r[y_r] (returned per row), and
/// dlogits[r, :] = (softmax(z_r) − onehot(y_r)) · scale (scale = 1/(n·T) for the mean loss).
pub fn softmax_xent<F: Scalar>(logits: &[F], targets: &[u32], vocab: usize, scale: F, dlogits: &mut [F]) -> Vec<F> {
    logits
        .chunks_exact(vocab)
        .zip(dlogits.chunks_exact_mut(vocab))
        .zip(targets)
        .map(|((z, dz), &y)| F::softmax_xent_row(z, dz, y as usize, scale))
        .collect()
}

/// Loss only (no gradient): the per-row cross-entropy of [`softmax_xent`].
pub fn softmax_xent_loss<F: Scalar>(logits: &[F], targets: &[u32], vocab: usize) -> Vec<F> {
    logits
        .chunks_exact(vocab)
        .zip(targets)
        .map(|(z, &y)| F::softmax_loss_row(z, y as usize))
        .collect()
}

/// out[j] = Σ_r d_rows[r, j]: the bias gradient (column sums) of d_rows [rows, cols].
pub fn bias_grad<F: Scalar>(d_rows: &[F], out: &mut [F]) {
    out.fill(F::zero());
    for row in d_rows.chunks_exact(out.len()) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// The twin of reduce.wgsl's `grad_norm_partial` + `grad_norm_finish`: the global norm
/// ‖g‖ over every gradient tensor (squares summed in f64) and the clip factor
/// min(1, θ/‖g‖) the optimizer scales by.
pub fn grad_norm<F: Scalar>(grads: &[&[F]], clip: Option<f32>) -> (f64, f64) {
    let norm = grads.iter().flat_map(|g| g.iter()).map(|&x| x.to_f64() * x.to_f64()).sum::<f64>().sqrt();
    (norm, clip_factor(norm, clip))
}

/// The twin of reduce.wgsl's `loss_sum`: scale · Σ_r row_loss[r] (in f64).
pub fn loss_sum<F: Scalar>(row_loss: &[F], scale: f64) -> f64 {
    scale * row_loss.iter().map(|x| x.to_f64()).sum::<f64>()
}

/// Site `site`'s dropout multipliers over `len` elements (src/rnn/dropout.rs's hash; the GPU
/// draws the same bits inside its kernels).
pub fn dropout_mask<F: Scalar>(key: &DropoutKey, site: usize, len: usize) -> Vec<F> {
    key.mask(site as u32, len).into_iter().map(|x| F::from_f64(x as f64)).collect()
}

/// The twin of dropout.wgsl's `dropout_apply`: x ← x ⊙ M in place.
pub fn dropout_apply<F: Scalar>(x: &mut [F], mask: &[F]) {
    for (v, &m) in x.iter_mut().zip(mask) {
        *v *= m;
    }
}

/// The twin of dropout.wgsl's `dropout_copy`: src ⊙ M as a new buffer.
pub fn dropout_copy<F: Scalar>(src: &[F], mask: &[F]) -> Vec<F> {
    src.iter().zip(mask).map(|(&v, &m)| v * m).collect()
}

/// The clip factor min(1, θ/‖g‖) (1 when clipping is off or the norm is 0).
pub fn clip_factor(norm: f64, clip: Option<f32>) -> f64 {
    match clip {
        Some(theta) if norm > theta as f64 => theta as f64 / norm,
        _ => 1.0,
    }
}

/// SGD with momentum and L2 weight decay on one tensor, the gradient pre-scaled by the
/// clip factor: g ← scale·grad + wd·p; buf ← μ·buf + g; p ← p − lr·buf.
#[allow(clippy::too_many_arguments)]
pub fn sgd_update<F: Scalar>(param: &mut [F], grad: &[F], buf: &mut [F], lr: F, momentum: F, scale: F, weight_decay: F) {
    for ((p, &g), b) in param.iter_mut().zip(grad).zip(buf.iter_mut()) {
        *b = momentum * *b + (scale * g + weight_decay * *p);
        *p -= lr * *b;
    }
}

/// Adam with decoupled weight decay (AdamW) on one tensor at update number k ≥ 1, the
/// gradient pre-scaled by the clip factor: g ← scale·grad; m ← β1 m + (1−β1) g;
/// v ← β2 v + (1−β2) g²; p ← p − (lr · (m / (1−β1^k)) / (√(v / (1−β2^k)) + ε) + lr·wd·p).
#[allow(clippy::too_many_arguments)]
pub fn adam_update<F: Scalar>(param: &mut [F], grad: &[F], m: &mut [F], v: &mut [F], lr: F, beta1: F, beta2: F, eps: F, k: u64, scale: F, weight_decay: F) {
    let bc1 = F::one() - F::from_f64(beta1.to_f64().powi(k as i32));
    let bc2 = F::one() - F::from_f64(beta2.to_f64().powi(k as i32));
    for (((p, &g), m), v) in param.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
        let g = scale * g;
        *m = beta1 * *m + (F::one() - beta1) * g;
        *v = beta2 * *v + (F::one() - beta2) * g * g;
        *p -= lr * (*m / bc1) / ((*v / bc2).sqrt() + eps) + lr * weight_decay * *p;
    }
}
