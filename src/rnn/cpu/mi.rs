//! The multiplicative-integration cell's recurrence (Wu et al. 2016) on the CPU: one
//! layer's T steps forward and backward, the products done as GEMMs and the gates element
//! by element, on the pool's threads like the Elman cell's loops.
//!
//! Forward, with P = X W_xh (all steps) and R_t = H_{t−1} W_hh:
//!
//! ```text
//! Z_t = α ⊙ P_t ⊙ R_t + β_h ⊙ R_t + β_x ⊙ P_t + b,   H_t = φ(Z_t)
//! ```
//!
//! Backward (the product rule, as for the Elman cell): with G_t = ∂L/∂H_t = dH_t + dR_{t+1} W_hhᵀ,
//!
//! ```text
//! dZ_t = G_t ⊙ φ'(H_t)
//! dR_t = dZ_t ⊙ (α ⊙ P_t + β_h)        dP_t = dZ_t ⊙ (α ⊙ R_t + β_x)
//! dα = Σ dZ ⊙ P ⊙ R,  dβ_h = Σ dZ ⊙ R,  dβ_x = Σ dZ ⊙ P,  db = Σ dZ
//! dW_hh = Σ_t H_{t−1}ᵀ dR_t,  dW_xh = Xᵀ dP,  dX = dP W_xhᵀ
//! ```
//!
//! With α = 0, β_h = β_x = 1 every line is the Elman cell's.

use super::ops::matmul;
use super::recurrence::{activate_all, run_steps, scale_by_derivative, split_for, Shared};
use super::Scalar;
use crate::rnn::model::{Activation, MiGates, MiGatesMut};
use faer::{Accum, MatRef, Par};

/// What the backward pass needs from the forward: P and R for every step, [T·n, h] each.
pub struct MiCache<F> {
    pub p: Vec<F>,
    pub r: Vec<F>,
}

/// Runs the layer over `x` [T·n, in] from `hs`'s first slot (H_{−1}), filling `hs`'s
/// slots 1..=T with H_0 … H_{T−1}; the steps on the pool's threads as the Elman cell's
/// ([`super::recurrence`]: row blocks, or column blocks behind a barrier).
#[allow(clippy::too_many_arguments)]
pub fn forward<F: Scalar>(act: Activation, n: usize, h: usize, x: &[F], width_in: usize, w_xh: &[F], w_hh: &[F], b: &[F], gates: &MiGates<F>, hs: &mut [F]) -> MiCache<F> {
    let rows = x.len() / width_in;
    let steps = rows / n;
    let mut p = vec![F::zero(); rows * h];
    matmul(&mut p, x, w_xh, rows, width_in, h, false, false, false);
    let mut r = vec![F::zero(); rows * h];
    let (alpha, beta_h, beta_x) = (gates.alpha, gates.beta_h, gates.beta_x);
    let (states, recurrent) = (Shared::new(hs), Shared::new(&mut r));
    let w = MatRef::from_row_major_slice(w_hh, h, h);
    let p_ref = &p;
    run_steps(n, h, split_for(n, h), 0, 0..steps, |rows, cols, t, _| {
        // SAFETY: in step t a thread reads rows `rows` of H's slot t (all of them under a
        // column split), finished before the last barrier or by itself, and writes only its
        // own block of R's slot t and of H's slot t + 1.
        let (prev, out) = unsafe { (states.rows(t * n + rows.start, rows.len(), h), recurrent.block_mut(t * n + rows.start, rows.len(), h, cols)) };
        faer::linalg::matmul::matmul(out, Accum::Replace, prev, w.subcols(cols.start, cols.len()), F::one(), Par::Seq);
        let (a, bh, bx, bias) = (&alpha[cols.clone()], &beta_h[cols.clone()], &beta_x[cols.clone()], &b[cols.clone()]);
        for row in rows.clone() {
            let at = (t * n + row) * h;
            let r_row = unsafe { recurrent.row_mut(t * n + row, h, cols) };
            let h_row = unsafe { states.row_mut((t + 1) * n + row, h, cols) };
            let p_row = &p_ref[at + cols.start..at + cols.end];
            // Z into the state's slot (plain slices: the loop vectorizes), then φ in place.
            for (k, z) in h_row.iter_mut().enumerate() {
                let (pv, rv) = (p_row[k], r_row[k]);
                *z = a[k] * pv * rv + bh[k] * rv + bx[k] * pv + bias[k];
            }
            activate_all(act, h_row);
        }
    });
    MiCache { p, r }
}

/// Gradients of one layer: returns (dR, dP, dZ) [T·n, h] each and fills the gates'
/// gradients; `d_h` is what arrives from above at every step. `squares`, when given,
/// receives ‖G_t‖² per step (the gradient flow).
#[allow(clippy::too_many_arguments)]
pub fn backward<F: Scalar>(
    act: Activation,
    n: usize,
    h: usize,
    w_hh: &[F],
    hs: &[F],
    d_h: &[F],
    cache: &MiCache<F>,
    gates: &MiGates<F>,
    grad_gates: &mut MiGatesMut<F>,
    squares: Option<&mut Vec<f64>>,
) -> (Vec<F>, Vec<F>, Vec<F>) {
    let rows = d_h.len() / h;
    let steps = rows / n;
    let (alpha, beta_h, beta_x) = (gates.alpha, gates.beta_h, gates.beta_x);
    let (mut d_r, mut d_p, mut d_z) = (vec![F::zero(); rows * h], vec![F::zero(); rows * h], vec![F::zero(); rows * h]);
    let (shared_r, shared_p, shared_z) = (Shared::new(&mut d_r), Shared::new(&mut d_p), Shared::new(&mut d_z));
    let w_t = MatRef::from_row_major_slice(w_hh, h, h).transpose();
    let record = squares.is_some();
    let sums = run_steps(n, h, split_for(n, h), if record { steps } else { 0 }, (0..steps).rev(), |rows, cols, t, sums| {
        // SAFETY: in step t a thread reads rows `rows` of dR's slot t + 1 (all of them under a
        // column split), finished before the last barrier or by itself, and writes only its
        // own block of slot t of dZ (used as G first), dR and dP.
        for row in rows.clone() {
            let at = (t * n + row) * h;
            unsafe { shared_z.row_mut(t * n + row, h, cols) }.copy_from_slice(&d_h[at + cols.start..at + cols.end]);
        }
        if t + 1 < steps {
            let (next, out) = unsafe { (shared_r.rows((t + 1) * n + rows.start, rows.len(), h), shared_z.block_mut(t * n + rows.start, rows.len(), h, cols)) };
            faer::linalg::matmul::matmul(out, Accum::Add, next, w_t.subcols(cols.start, cols.len()), F::one(), Par::Seq);
        }
        let (a, bh, bx) = (&alpha[cols.clone()], &beta_h[cols.clone()], &beta_x[cols.clone()]);
        for row in rows.clone() {
            let at = (t * n + row) * h + cols.start;
            let g_row = unsafe { shared_z.row_mut(t * n + row, h, cols) };
            if let Some(sum) = sums.get_mut(t) {
                *sum += g_row.iter().map(|g| g.to_f64() * g.to_f64()).sum::<f64>();
            }
            // dZ = G ⊙ φ'(H) in place, then dR and dP from it (plain slices: vectorized).
            scale_by_derivative(act, g_row, &hs[n * h + at..n * h + at + cols.len()]);
            let r_row = unsafe { shared_r.row_mut(t * n + row, h, cols) };
            let p_row = unsafe { shared_p.row_mut(t * n + row, h, cols) };
            let (p_fwd, r_fwd) = (&cache.p[at..at + cols.len()], &cache.r[at..at + cols.len()]);
            for k in 0..g_row.len() {
                r_row[k] = g_row[k] * (a[k] * p_fwd[k] + bh[k]);
                p_row[k] = g_row[k] * (a[k] * r_fwd[k] + bx[k]);
            }
        }
    });
    if let Some(s) = squares {
        *s = sums;
    }
    let (ga, gh, gx) = (&mut *grad_gates.alpha, &mut *grad_gates.beta_h, &mut *grad_gates.beta_x);
    ga.fill(F::zero());
    gh.fill(F::zero());
    gx.fill(F::zero());
    for (at, ((&dz, &p), &r)) in d_z.iter().zip(&cache.p).zip(&cache.r).enumerate() {
        let j = at % h;
        ga[j] += dz * p * r;
        gh[j] += dz * r;
        gx[j] += dz * p;
    }
    (d_r, d_p, d_z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: f64) -> Vec<f64> {
        (0..len).map(|i| ((i as f64 + seed) * 0.37).sin() * 0.4).collect()
    }

    /// H, dR, dP, dZ, ‖G_t‖² and dα of one layer.
    type Outputs = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

    /// Forward and backward of one layer, returning everything they produce.
    fn run(n: usize, h: usize, steps: usize) -> Outputs {
        let width_in = 7;
        let x = values(steps * n * width_in, 1.0);
        let (w_xh, w_hh, b) = (values(width_in * h, 2.0), values(h * h, 3.0).iter().map(|v| v * 0.3).collect::<Vec<_>>(), values(h, 4.0));
        let (alpha, beta_h, beta_x) = (values(h, 5.0), values(h, 6.0), values(h, 7.0));
        let gates = MiGates { alpha: &alpha, beta_h: &beta_h, beta_x: &beta_x };
        let mut hs = values((steps + 1) * n * h, 8.0);
        let cache = forward(Activation::Tanh, n, h, &x, width_in, &w_xh, &w_hh, &b, &gates, &mut hs);
        let d_h = values(steps * n * h, 9.0);
        let (mut d_alpha, mut d_beta_h, mut d_beta_x) = (alpha.clone(), beta_h.clone(), beta_x.clone());
        let mut grad_gates = MiGatesMut { alpha: &mut d_alpha, beta_h: &mut d_beta_h, beta_x: &mut d_beta_x };
        let mut squares = Vec::new();
        let (d_r, d_p, d_z) = backward(Activation::Tanh, n, h, &w_hh, &hs, &d_h, &cache, &gates, &mut grad_gates, Some(&mut squares));
        (hs, d_r, d_p, d_z, squares, d_alpha)
    }

    #[test]
    fn threaded_steps_equal_one_thread() {
        let serial = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        // Split by rows; by columns (too few rows); by columns, a width not in whole grains.
        for (n, h, steps) in [(32, 128, 5), (1, 512, 4), (3, 300, 3)] {
            let one = serial.install(|| run(n, h, steps));
            let all = run(n, h, steps);
            let close = |a: &[f64], b: &[f64], what: &str| {
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{what} n={n} h={h}: {x} vs {y}");
                }
            };
            close(&all.0, &one.0, "H");
            close(&all.1, &one.1, "dR");
            close(&all.2, &one.2, "dP");
            close(&all.3, &one.3, "dZ");
            close(&all.4, &one.4, "‖G‖²");
            close(&all.5, &one.5, "dα");
        }
    }
}
