//! The CPU reference path against independent truths: finite differences, a hand-derived
//! case, clipping, learning a periodic text, and truncated-BPTT boundaries.

mod common;

use common::assert_close;
use elman::rnn::cpu::bptt::{forward, loss_and_gradients};
use elman::rnn::cpu::{ops, CpuTrainer};
use elman::rnn::dropout::DropoutKey;
use elman::rnn::model::init::init_params;
use elman::rnn::model::{Cell, Activation, ModelConfig, Params};
use elman::rng::Rng;
use elman::rnn::backend::{Batch, Optimizer, Trainer, UpdateConfig};

fn random_tokens(rng: &mut Rng, count: usize, vocab: usize) -> Vec<u32> {
    (0..count).map(|_| rng.below(vocab as u64) as u32).collect()
}

fn random_state(rng: &mut Rng, config: &ModelConfig, n: usize) -> Vec<Vec<f64>> {
    config.hidden.iter().map(|&h| (0..n * h).map(|_| rng.uniform(-0.8, 0.8)).collect()).collect()
}

fn loss_with(config: &ModelConfig, params: &Params<f64>, h0: &[Vec<f64>], inputs: &[u32], targets: &[u32], n: usize, dropout: Option<&DropoutKey>) -> f64 {
    elman::rnn::cpu::bptt::mean_loss(&forward(config, params, h0, inputs, n, dropout), targets, config.vocab)
}

fn loss_only(config: &ModelConfig, params: &Params<f64>, h0: &[Vec<f64>], inputs: &[u32], targets: &[u32], n: usize) -> f64 {
    loss_with(config, params, h0, inputs, targets, n, None)
}

/// Central differences (f64) against BPTT for every parameter of a 2-layer model with
/// unequal widths and a non-zero carried H_0: max relative error ≤ 1e-6 (tanh, relu, and
/// tanh with dropout p = 0.3, whose masks are fixed by their key; and tied weights, d = h_L,
/// where E's gradient sums both uses and output.w, unused, has none).
#[test]
fn gradients_match_finite_differences_for_every_tensor() {
    let key = DropoutKey { p: 0.3, seed: 3, update: 1 };
    let cases = [
        (Activation::Tanh, None, false, Cell::Elman),
        (Activation::Relu, None, false, Cell::Elman),
        (Activation::Tanh, Some(&key), false, Cell::Elman),
        (Activation::Tanh, None, true, Cell::Elman),
        (Activation::Relu, Some(&key), true, Cell::Elman),
        (Activation::Tanh, None, false, Cell::Mi),
        (Activation::Relu, Some(&key), false, Cell::Mi),
        (Activation::Tanh, Some(&key), true, Cell::Mi),
    ];
    for (activation, dropout, tied, cell) in cases {
        let embed = if tied { 4 } else { 3 };
        let config = ModelConfig { vocab: 7, embed, hidden: vec![5, 4], activation, tied, cell };
        let (n, t) = (2, 6);
        let mut rng = Rng::new(11);
        let mut params: Params<f64> = init_params(&config, 5);
        // Gates away from their initial constants, so every term of the product rule counts.
        for l in 0..config.layers() {
            if let Some(g) = params.gates_mut(l) {
                for (j, (a, (bh, bx))) in g.alpha.iter_mut().zip(g.beta_h.iter_mut().zip(g.beta_x.iter_mut())).enumerate() {
                    let u = (l * 7 + j) as f64;
                    (*a, *bh, *bx) = (0.8 + 0.1 * u.sin(), 0.4 + 0.1 * u.cos(), 0.6 - 0.05 * u);
                }
            }
        }
        let h0 = random_state(&mut rng, &config, n);
        let inputs = random_tokens(&mut rng, n * t, config.vocab);
        let targets = random_tokens(&mut rng, n * t, config.vocab);
        let mut grads = Params::<f64>::zeros(&config);
        loss_and_gradients(&config, &params, &h0, &inputs, &targets, n, dropout, &mut grads);

        let eps = 1e-5;
        let analytic = grads.flatten();
        let base = params.flatten();
        let names: Vec<String> = config.tensor_shapes().into_iter().map(|(name, _)| name).collect();
        let sizes: Vec<usize> = grads.tensors().iter().map(|t| t.len()).collect();
        let mut offset = 0;
        for (name, size) in names.iter().zip(sizes) {
            let mut worst = 0.0f64;
            for i in offset..offset + size {
                let mut p = params.clone();
                let mut flat = base.clone();
                flat[i] = base[i] + eps;
                p.assign_flat(&flat);
                let up = loss_with(&config, &p, &h0, &inputs, &targets, n, dropout);
                flat[i] = base[i] - eps;
                p.assign_flat(&flat);
                let down = loss_with(&config, &p, &h0, &inputs, &targets, n, dropout);
                let numeric = (up - down) / (2.0 * eps);
                let a = analytic[i];
                // Relative error, with a floor on the scale so exact zeros compare absolutely.
                let rel = (a - numeric).abs() / a.abs().max(numeric.abs()).max(1e-4);
                worst = worst.max(rel);
            }
            let label = format!("{cell:?} {activation:?}{}{}", if dropout.is_some() { " + dropout" } else { "" }, if tied { " tied" } else { "" });
            assert!(worst <= 1e-6, "{label} {name}: max relative error {worst:e}");
            println!("{label} {name}: max relative error {worst:.2e}");
            offset += size;
        }
    }
}

/// A case small enough to derive by hand: V=2, d=1, one relu layer
/// of h=2, T=2, n=1, H_{-1}=0, tokens x=[0,1], targets y=[1,0].
///
/// E = [[1],[2]], W_xh = [[1, 0.5]], W_hh = diag(0.5, 0.5), b_h = 0, W_q = [[1,−1],[0,0]], b_q = 0.
/// Forward (all pre-activations positive, so relu is the identity here):
///   H_0 = [1, 0.5];  H_1 = [2, 1] + H_0 W_hh = [2.5, 1.25];  logits_t = [H_t[0], −H_t[0]].
///   loss = ½(ln(1+e²) + ln(1+e⁻⁵)).
/// Let a = σ(2)/2 and b = σ(−5)/2. Then dlogits_0 = (p_0 − e_1)/2 = [a, −a], dlogits_1 = [−b, b].
///   dW_q = H_0ᵀ[a,−a] + H_1ᵀ[−b,b] = [[a−2.5b, −a+2.5b], [0.5a−1.25b, −0.5a+1.25b]];  db_q = [a−b, b−a].
///   dH_t = dlogits_t W_qᵀ: dH_0 = [2a, 0], dH_1 = [−2b, 0].
///   dA_1 = dH_1 = [−2b, 0];  dA_0 = dH_0 + dA_1 W_hhᵀ = [2a − b, 0].
///   dW_hh = H_{-1}ᵀ dA_0 + H_0ᵀ dA_1 = [[−2b, 0], [−b, 0]].
///   dW_xh = x_0 dA_0 + x_1 dA_1 = [[2a − 5b, 0]];  db_h = dA_0 + dA_1 = [2a − 3b, 0].
///   dE[0] = dA_0 W_xhᵀ = 2a − b;  dE[1] = dA_1 W_xhᵀ = −2b.
#[test]
fn hand_derived_two_step_gradients() {
    let config = ModelConfig { vocab: 2, embed: 1, hidden: vec![2], activation: Activation::Relu, tied: false, cell: Default::default() };
    let mut p = Params::<f64>::zeros(&config);
    p.embedding_mut().copy_from_slice(&[1.0, 2.0]);
    p.w_xh_mut(0).copy_from_slice(&[1.0, 0.5]);
    p.w_hh_mut(0).copy_from_slice(&[0.5, 0.0, 0.0, 0.5]);
    p.out_w_mut().copy_from_slice(&[1.0, -1.0, 0.0, 0.0]);
    let h0 = vec![vec![0.0, 0.0]];
    let mut g = Params::<f64>::zeros(&config);
    let (loss, cache) = loss_and_gradients(&config, &p, &h0, &[0, 1], &[1, 0], 1, None, &mut g);

    let sigma = |x: f64| 1.0 / (1.0 + (-x).exp());
    let (a, b) = (sigma(2.0) / 2.0, sigma(-5.0) / 2.0);
    let want_loss = 0.5 * ((1.0 + 2f64.exp()).ln() + (1.0 + (-5f64).exp()).ln());
    assert_close("loss", &[loss], &[want_loss], 1e-12, 0.0);
    assert_close("H", &cache.hidden[0], &[0.0, 0.0, 1.0, 0.5, 2.5, 1.25], 1e-12, 0.0);
    assert_close("dW_q", g.out_w(), &[a - 2.5 * b, -a + 2.5 * b, 0.5 * a - 1.25 * b, -0.5 * a + 1.25 * b], 1e-12, 0.0);
    assert_close("db_q", g.out_b(), &[a - b, b - a], 1e-12, 0.0);
    assert_close("dW_hh", g.w_hh(0), &[-2.0 * b, 0.0, -b, 0.0], 1e-12, 0.0);
    assert_close("dW_xh", g.w_xh(0), &[2.0 * a - 5.0 * b, 0.0], 1e-12, 0.0);
    assert_close("db_h", g.b_h(0), &[2.0 * a - 3.0 * b, 0.0], 1e-12, 0.0);
    assert_close("dE", g.embedding(), &[2.0 * a - b, -2.0 * b], 1e-12, 0.0);
}

/// The same case with the multiplicative cell (src/rnn/cpu/mi.rs) and gates α = β_h = β_x = 1,
/// so Z_t = P_t ⊙ R_t + R_t + P_t with P_t = x_t W_xh, R_t = H_{t-1} W_hh.
/// Forward (relu, every Z positive):
///   P_0 = [1, 0.5], R_0 = 0:                 Z_0 = H_0 = [1, 0.5];
///   P_1 = [2, 1],   R_1 = H_0 W_hh = [0.5, 0.25]: Z_1 = H_1 = [1 + 0.5 + 2, 0.25 + 0.25 + 1] = [3.5, 1.5].
///   loss = ½(ln(1+e²) + ln(1+e⁻⁷)); a = σ(2)/2, b = σ(−7)/2; dH_0 = [2a, 0], dH_1 = [−2b, 0].
/// Backward (the product rule):
///   t=1: dZ_1 = [−2b, 0]; dR_1 = dZ_1 ⊙ (αP_1 + β_h) = [−6b, 0]; dP_1 = dZ_1 ⊙ (αR_1 + β_x) = [−3b, 0].
///   t=0: dZ_0 = dH_0 + dR_1 W_hhᵀ = [2a − 3b, 0]; dR_0 = dZ_0 ⊙ (αP_0 + β_h) = [4a − 6b, 0];
///        dP_0 = dZ_0 ⊙ (αR_0 + β_x) = [2a − 3b, 0].
///   dW_hh = H_{-1}ᵀ dR_0 + H_0ᵀ dR_1 = [[−6b, 0], [−3b, 0]];  dW_xh = 1·dP_0 + 2·dP_1 = [[2a − 9b, 0]];
///   db_h = dZ_0 + dZ_1 = [2a − 5b, 0];  dα = Σ dZ⊙P⊙R = [−2b, 0];  dβ_h = Σ dZ⊙R = [−b, 0];
///   dβ_x = Σ dZ⊙P = [2a − 7b, 0];  dE[0] = dP_0 W_xhᵀ = 2a − 3b,  dE[1] = dP_1 W_xhᵀ = −3b;
///   dW_q = H_0ᵀ[a, −a] + H_1ᵀ[−b, b].
#[test]
fn hand_derived_two_step_gradients_of_the_multiplicative_cell() {
    let config = ModelConfig { vocab: 2, embed: 1, hidden: vec![2], activation: Activation::Relu, tied: false, cell: Cell::Mi };
    let mut p = Params::<f64>::zeros(&config);
    p.embedding_mut().copy_from_slice(&[1.0, 2.0]);
    p.w_xh_mut(0).copy_from_slice(&[1.0, 0.5]);
    p.w_hh_mut(0).copy_from_slice(&[0.5, 0.0, 0.0, 0.5]);
    let gates = p.gates_mut(0).expect("the mi cell has gates");
    for g in [gates.alpha, gates.beta_h, gates.beta_x] {
        g.fill(1.0);
    }
    p.out_w_mut().copy_from_slice(&[1.0, -1.0, 0.0, 0.0]);
    let h0 = vec![vec![0.0, 0.0]];
    let mut g = Params::<f64>::zeros(&config);
    let (loss, cache) = loss_and_gradients(&config, &p, &h0, &[0, 1], &[1, 0], 1, None, &mut g);

    let sigma = |x: f64| 1.0 / (1.0 + (-x).exp());
    let (a, b) = (sigma(2.0) / 2.0, sigma(-7.0) / 2.0);
    let want_loss = 0.5 * ((1.0 + 2f64.exp()).ln() + (1.0 + (-7f64).exp()).ln());
    assert_close("loss", &[loss], &[want_loss], 1e-12, 0.0);
    assert_close("H", &cache.hidden[0], &[0.0, 0.0, 1.0, 0.5, 3.5, 1.5], 1e-12, 0.0);
    assert_close("dW_q", g.out_w(), &[a - 3.5 * b, -a + 3.5 * b, 0.5 * a - 1.5 * b, -0.5 * a + 1.5 * b], 1e-12, 0.0);
    assert_close("dW_hh", g.w_hh(0), &[-6.0 * b, 0.0, -3.0 * b, 0.0], 1e-12, 0.0);
    assert_close("dW_xh", g.w_xh(0), &[2.0 * a - 9.0 * b, 0.0], 1e-12, 0.0);
    assert_close("db_h", g.b_h(0), &[2.0 * a - 5.0 * b, 0.0], 1e-12, 0.0);
    let dg = g.gates(0).unwrap();
    assert_close("dα", dg.alpha, &[-2.0 * b, 0.0], 1e-12, 0.0);
    assert_close("dβ_h", dg.beta_h, &[-b, 0.0], 1e-12, 0.0);
    assert_close("dβ_x", dg.beta_x, &[2.0 * a - 7.0 * b, 0.0], 1e-12, 0.0);
    assert_close("dE", g.embedding(), &[2.0 * a - 3.0 * b, -3.0 * b], 1e-12, 0.0);
}

fn periodic_batch(text: &[u32], n: usize, t: usize, offset: usize) -> Batch {
    let mut inputs = vec![0; n * t];
    let mut targets = vec![0; n * t];
    for step in 0..t {
        for row in 0..n {
            let pos = offset + row * 3 + step;
            inputs[step * n + row] = text[pos % text.len()];
            targets[step * n + row] = text[(pos + 1) % text.len()];
        }
    }
    Batch { n, t, inputs, targets }
}

/// Clipping: a gradient scaled up 1000× comes out with norm exactly θ (to f32 rounding);
/// one below θ is untouched. And the trainer applies the clipped step: with SGD, lr = 1,
/// momentum 0, the parameters move by exactly min(1, θ/‖g‖)·g.
#[test]
fn clipping_scales_to_theta_and_leaves_small_gradients_alone() {
    let config = ModelConfig { vocab: 5, embed: 4, hidden: vec![6, 3], activation: Activation::Tanh, tied: false, cell: Default::default() };
    let params: Params<f32> = init_params(&config, 2);
    let batch = periodic_batch(&[0, 1, 2, 3, 4, 2], 2, 5, 0);
    let mut grads = Params::<f32>::zeros(&config);
    let h0 = vec![vec![0.0; 2 * 6], vec![0.0; 2 * 3]];
    loss_and_gradients(&config, &params, &h0, &batch.inputs, &batch.targets, batch.n, None, &mut grads);
    let norm = grads.sum_squares().sqrt();
    let theta = (norm * 10.0) as f32; // above ‖g‖, far below 1000‖g‖

    // The norm and factor the trainer hands its optimizer (ops::grad_norm, the twin of
    // the GPU's): 1 below θ, θ/‖g‖ above, so that the scaled gradient has norm θ.
    let (seen, factor) = ops::grad_norm(&grads.tensors(), Some(theta));
    assert_eq!((seen, factor), (norm, 1.0), "a gradient below θ is not scaled at all");

    let mut big = grads.clone();
    big.tensors_mut().into_iter().flatten().for_each(|x| *x *= 1000.0);
    let (seen, factor) = ops::grad_norm(&big.tensors(), Some(theta));
    assert_close("‖1000 g‖", &[seen], &[1000.0 * norm], 0.0, 1e-6);
    assert!(factor < 1.0);
    big.tensors_mut().into_iter().flatten().for_each(|x| *x *= factor as f32);
    assert_close("‖clipped‖", &[big.sum_squares().sqrt()], &[theta as f64], 0.0, 1e-6);

    for (clip, expect_clipped) in [(Some(theta / 1000.0), true), (Some(theta), false), (None, false)] {
        let sgd = UpdateConfig::new(Optimizer::Sgd { momentum: 0.0 }, clip);
        let mut trainer = CpuTrainer::new(config.clone(), params.clone(), sgd, batch.n).unwrap();
        trainer.step(&batch, 1.0).unwrap();
        let stats = trainer.drain_stats().unwrap()[0];
        let after = trainer.params().unwrap();
        let moved: f64 = params.flatten().iter().zip(after.flatten()).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt();
        assert_eq!(stats.clipped, expect_clipped);
        assert_close("grad norm before clipping", &[stats.grad_norm as f64], &[norm], 0.0, 1e-5);
        let want = if expect_clipped { (theta / 1000.0) as f64 } else { norm };
        assert_close("‖applied step‖", &[moved], &[want], 0.0, 1e-4);
    }
}

/// At initialisation the model is close to uniform (loss ≈ ln V); on a short periodic
/// text, 300 Adam steps drive the loss below 0.05 nats.
#[test]
fn loss_starts_near_ln_v_and_learns_a_periodic_text() {
    let text: Vec<u32> = "the cat sat on a mat. ".bytes().map(|b| b as u32 - 32).collect();
    let vocab = 96;
    let config = ModelConfig { vocab, embed: 16, hidden: vec![64], activation: Activation::Tanh, tied: false, cell: Default::default() };
    let params: Params<f32> = init_params(&config, 1);
    let update = UpdateConfig::new(Optimizer::adam(), Some(5.0));
    let mut trainer = CpuTrainer::new(config, params, update, 4).unwrap();
    let mut offset = 0;
    let mut losses = Vec::new();
    for _ in 0..300 {
        let batch = periodic_batch(&text, 4, 16, offset);
        offset += 16;
        trainer.step(&batch, 1e-2).unwrap();
        losses.push(trainer.drain_stats().unwrap()[0].loss);
    }
    let ln_v = (vocab as f32).ln();
    assert!((losses[0] - ln_v).abs() < 0.15, "initial loss {} vs ln V {ln_v}", losses[0]);
    let last = *losses.last().unwrap();
    assert!(last < 0.05, "loss after 300 steps: {last} (first {})", losses[0]);
}

/// Truncated BPTT: chunk k+1 starts from chunk k's final state, and its gradient treats
/// that state as a constant (matches finite differences with H_{-1} frozen, not with
/// H_{-1} recomputed from the parameters).
#[test]
fn tbptt_carries_state_and_stops_gradients_at_the_boundary() {
    let config = ModelConfig { vocab: 6, embed: 3, hidden: vec![4], activation: Activation::Tanh, tied: false, cell: Default::default() };
    let (n, t) = (2, 4);
    let params32: Params<f32> = init_params(&config, 9);
    let mut rng = Rng::new(4);
    let b1 = Batch { n, t, inputs: random_tokens(&mut rng, n * t, 6), targets: random_tokens(&mut rng, n * t, 6) };
    let b2 = Batch { n, t, inputs: random_tokens(&mut rng, n * t, 6), targets: random_tokens(&mut rng, n * t, 6) };

    // lr = 0: parameters stay put, so the carried state is a pure function of chunk 1.
    let sgd = UpdateConfig::new(Optimizer::Sgd { momentum: 0.0 }, None);
    let mut trainer = CpuTrainer::new(config.clone(), params32.clone(), sgd, n).unwrap();
    trainer.step(&b1, 0.0).unwrap();
    let zero: Vec<Vec<f32>> = vec![vec![0.0; n * 4]];
    let expected_state = forward(&config, &params32, &zero, &b1.inputs, n, None).final_hidden(&config, n);
    assert_eq!(trainer.hidden().unwrap(), expected_state, "H_T of chunk 1 is H_0 of chunk 2");
    trainer.step(&b2, 0.0).unwrap();
    let mut g2 = Params::<f32>::zeros(&config);
    loss_and_gradients(&config, &params32, &expected_state, &b2.inputs, &b2.targets, n, None, &mut g2);
    assert_eq!(trainer.last_gradients(), &g2, "chunk 2's gradient starts from chunk 1's final state");

    // In f64: d loss_2 / d W_hh[0,0] with the carried state frozen vs recomputed.
    let params: Params<f64> = params32.cast();
    let zero64 = vec![vec![0.0; n * 4]];
    let carried = forward(&config, &params, &zero64, &b1.inputs, n, None).final_hidden(&config, n);
    let mut g = Params::<f64>::zeros(&config);
    loss_and_gradients(&config, &params, &carried, &b2.inputs, &b2.targets, n, None, &mut g);
    let analytic = g.w_hh(0)[0];
    let eps = 1e-6;
    let shifted = |delta: f64| {
        let mut p = params.clone();
        p.w_hh_mut(0)[0] += delta;
        p
    };
    let frozen = |delta: f64| loss_only(&config, &shifted(delta), &carried, &b2.inputs, &b2.targets, n);
    let through = |delta: f64| {
        let p = shifted(delta);
        let h = forward(&config, &p, &zero64, &b1.inputs, n, None).final_hidden(&config, n);
        loss_only(&config, &p, &h, &b2.inputs, &b2.targets, n)
    };
    let fd_frozen = (frozen(eps) - frozen(-eps)) / (2.0 * eps);
    let fd_through = (through(eps) - through(-eps)) / (2.0 * eps);
    assert!((analytic - fd_frozen).abs() < 1e-8, "truncated gradient {analytic} vs frozen-state FD {fd_frozen}");
    assert!(
        (analytic - fd_through).abs() > 1e-4,
        "the boundary must stop the gradient: {analytic} should differ from the through-boundary FD {fd_through}"
    );
}
