//! The multiplicative-integration cell's recurrence (Wu et al. 2016) on the CPU: one
//! layer's T steps forward and backward, the products done as GEMMs and the gates element
//! by element. Serial over time like the Elman cell's kernels; not threaded yet.
//!
//! Forward, with P = X W_xh (all steps) and R_t = H_{t−1} W_hh:
//!
//! ```text
//! Z_t = α ⊙ P_t ⊙ R_t + β_h ⊙ R_t + β_x ⊙ P_t + b,   H_t = φ(Z_t)
//! ```
//!
//! Backward (the product rule the seed derives): with G_t = ∂L/∂H_t = dH_t + dR_{t+1} W_hhᵀ,
//!
//! ```text
//! dZ_t = G_t ⊙ φ'(H_t)
//! dR_t = dZ_t ⊙ (α ⊙ P_t + β_h)        dP_t = dZ_t ⊙ (α ⊙ R_t + β_x)
//! dα = Σ dZ ⊙ P ⊙ R,  dβ_h = Σ dZ ⊙ R,  dβ_x = Σ dZ ⊙ P,  db = Σ dZ
//! dW_hh = Σ_t H_{t−1}ᵀ dR_t,  dW_xh = Xᵀ dP,  dX = dP W_xhᵀ
//! ```
//!
//! With α = 0, β_h = β_x = 1 every line is the Elman cell's.

use super::ops::{activate, activation_derivative, matmul};
use super::Scalar;
use crate::model::{Activation, MiGates};

/// What the backward pass needs from the forward: P and R for every step, [T·n, h] each.
pub struct MiCache<F> {
    pub p: Vec<F>,
    pub r: Vec<F>,
}

/// Runs the layer over `x` [T·n, in] from `hs`'s first slot (H_{−1}), filling `hs`'s
/// slots 1..=T with H_0 … H_{T−1}.
#[allow(clippy::too_many_arguments)]
pub fn forward<F: Scalar>(act: Activation, n: usize, h: usize, x: &[F], width_in: usize, w_xh: &[F], w_hh: &[F], b: &[F], gates: &MiGates<F>, hs: &mut [F]) -> MiCache<F> {
    let rows = x.len() / width_in;
    let steps = rows / n;
    let mut p = vec![F::zero(); rows * h];
    matmul(&mut p, x, w_xh, rows, width_in, h, false, false, false);
    let mut r = vec![F::zero(); rows * h];
    let (alpha, beta_h, beta_x) = (gates.alpha.as_slice().expect("standard layout"), gates.beta_h.as_slice().expect("standard layout"), gates.beta_x.as_slice().expect("standard layout"));
    for t in 0..steps {
        let block = t * n * h..(t + 1) * n * h;
        let (before, after) = hs.split_at_mut((t + 1) * n * h);
        matmul(&mut r[block.clone()], &before[t * n * h..], w_hh, n, h, h, false, false, false);
        let out = &mut after[..n * h];
        for (e, o) in out.iter_mut().enumerate() {
            let (j, at) = (e % h, block.start + e);
            let z = alpha[j] * p[at] * r[at] + beta_h[j] * r[at] + beta_x[j] * p[at] + b[j];
            *o = activate(act, z);
        }
    }
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
    grad_gates: &mut MiGates<F>,
    mut squares: Option<&mut Vec<f64>>,
) -> (Vec<F>, Vec<F>, Vec<F>) {
    let rows = d_h.len() / h;
    let steps = rows / n;
    let (alpha, beta_h, beta_x) = (gates.alpha.as_slice().expect("standard layout"), gates.beta_h.as_slice().expect("standard layout"), gates.beta_x.as_slice().expect("standard layout"));
    let (mut d_r, mut d_p, mut d_z) = (vec![F::zero(); rows * h], vec![F::zero(); rows * h], vec![F::zero(); rows * h]);
    let mut g = vec![F::zero(); n * h];
    if let Some(s) = squares.as_deref_mut() {
        *s = vec![0.0; steps];
    }
    for t in (0..steps).rev() {
        let block = t * n * h..(t + 1) * n * h;
        g.copy_from_slice(&d_h[block.clone()]);
        if t + 1 < steps {
            matmul(&mut g, &d_r[(t + 1) * n * h..(t + 2) * n * h], w_hh, n, h, h, false, true, true);
        }
        if let Some(s) = squares.as_deref_mut() {
            s[t] = g.iter().map(|v| v.to_f64() * v.to_f64()).sum();
        }
        for (e, &ge) in g.iter().enumerate() {
            let (j, at) = (e % h, block.start + e);
            let dz = ge * activation_derivative(act, hs[(t + 1) * n * h + e]);
            d_z[at] = dz;
            d_r[at] = dz * (alpha[j] * cache.p[at] + beta_h[j]);
            d_p[at] = dz * (alpha[j] * cache.r[at] + beta_x[j]);
        }
    }
    let (ga, gh, gx) = (&mut grad_gates.alpha, &mut grad_gates.beta_h, &mut grad_gates.beta_x);
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
