//! Seeded initialisation (the scheme of PyTorch's nn.Embedding / nn.RNN / nn.Linear, drawn
//! from the project's own RNG in canonical tensor order):
//!
//! - embedding ~ N(0, 1); with tied weights U(−0.1, 0.1), since the output layer's logits
//!   inherit its scale (docs/design.md's training notes: N(0, 1) left a tied PTB model at
//!   perplexity 719 after an epoch, U(−0.1, 0.1) at 236)
//! - layer l: w_xh, w_hh, b_h ~ U(−1/√h_l, 1/√h_l)
//! - output.w, output.b ~ U(−1/√h_{L-1}, 1/√h_{L-1}); with tied weights output.w = Eᵀ

use super::config::ModelConfig;
use super::params::Params;
use super::real::Real;
use crate::rng::Rng;

/// Fresh parameters for `config`, a pure function of `seed`.
pub fn init_params<F: Real>(config: &ModelConfig, seed: u64) -> Params<F> {
    let mut rng = Rng::new(seed);
    let mut p = Params::<F>::zeros(config);
    if config.tied {
        p.embedding_mut().iter_mut().for_each(|x| *x = F::from_f64(rng.uniform(-0.1, 0.1)));
    } else {
        p.embedding_mut().iter_mut().for_each(|x| *x = F::from_f64(rng.normal()));
    }
    for l in 0..config.layers() {
        let a = 1.0 / (config.hidden[l] as f64).sqrt();
        let mut draw = |t: &mut [F]| t.iter_mut().for_each(|x| *x = F::from_f64(rng.uniform(-a, a)));
        draw(p.w_xh_mut(l));
        draw(p.w_hh_mut(l));
        draw(p.b_h_mut(l));
        // The multiplicative cell's gates start as Wu et al. suggest: α = 1, β_h = β_x = 0.5.
        if let Some(g) = p.gates_mut(l) {
            g.alpha.fill(F::from_f64(1.0));
            g.beta_h.fill(F::from_f64(0.5));
            g.beta_x.fill(F::from_f64(0.5));
        }
    }
    let a = 1.0 / (config.top_hidden() as f64).sqrt();
    for x in p.out_w_mut().iter_mut() {
        *x = F::from_f64(rng.uniform(-a, a));
    }
    for x in p.out_b_mut().iter_mut() {
        *x = F::from_f64(rng.uniform(-a, a));
    }
    if config.tied {
        p.tie_output();
    }
    p
}
