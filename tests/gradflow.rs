//! The gradient flow's per-step norms ‖∂L/∂H_t‖ against finite differences of the loss
//! with respect to H_t itself (f64, a 1-layer and the top layer of a 2-layer model), and
//! the `--grad-flow` / `elman gradflow` outputs end to end.

mod common;

use common::{elman_ok, fresh_dir, path_str};
use elman::rnn::cpu::bptt::{forward, loss_gradients_and_flow, mean_loss};
use elman::rnn::model::init::init_params;
use elman::rnn::model::{Activation, Cell, ModelConfig, Params};
use elman::rng::Rng;

/// Σ_r CE of the output layer at one step's rows `h_top` [n, h] against `targets`.
fn output_ce(config: &ModelConfig, params: &Params<f64>, h_top: &[f64], targets: &[u32]) -> f64 {
    let (h, v) = (config.top_hidden(), config.vocab);
    let w = params.out_w();
    let b = params.out_b();
    h_top
        .chunks_exact(h)
        .zip(targets)
        .map(|(row, &y)| {
            let logits: Vec<f64> = (0..v).map(|j| b[j] + (0..h).map(|k| row[k] * w[k * v + j]).sum::<f64>()).collect();
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            max + logits.iter().map(|z| (z - max).exp()).sum::<f64>().ln() - logits[y as usize]
        })
        .sum()
}

/// The chunk's total loss with the top layer's H_t replaced by `h_t`: the steps before t
/// are unchanged, step t's output sees `h_t`, and the steps after t run from the states at
/// t (the top one replaced). Only the top layer: a lower layer's H_t also feeds the layer
/// above at the same step.
#[allow(clippy::too_many_arguments)]
fn loss_with_top_state(config: &ModelConfig, params: &Params<f64>, states: &[Vec<f64>], inputs: &[u32], targets: &[u32], n: usize, t: usize, h_t: &[f64], before: f64) -> f64 {
    let steps = inputs.len() / n;
    let mut total = before + output_ce(config, params, h_t, &targets[t * n..(t + 1) * n]);
    if t + 1 < steps {
        let mut h0 = states.to_vec();
        *h0.last_mut().unwrap() = h_t.to_vec();
        let cache = forward(config, params, &h0, &inputs[(t + 1) * n..], n, None);
        total += mean_loss(&cache, &targets[(t + 1) * n..], config.vocab) * ((steps - t - 1) * n) as f64;
    }
    total / (steps * n) as f64
}

#[allow(clippy::needless_range_loop)] // t indexes the states, the targets and the flow alike
fn check_against_finite_differences(hidden: Vec<usize>, activation: Activation, cell: Cell) {
    let config = ModelConfig { vocab: 7, embed: 3, hidden, activation, tied: false, cell };
    let (n, steps) = (2, 6);
    let params: Params<f64> = init_params(&config, 3);
    let mut rng = Rng::new(11);
    let inputs: Vec<u32> = (0..n * steps).map(|_| rng.below(7) as u32).collect();
    let targets: Vec<u32> = (0..n * steps).map(|_| rng.below(7) as u32).collect();
    let h0: Vec<Vec<f64>> = config.hidden.iter().map(|&h| (0..n * h).map(|_| rng.uniform(-0.5, 0.5)).collect()).collect();
    let mut grads = Params::<f64>::zeros(&config);
    let mut flow = Vec::new();
    let (_, cache) = loss_gradients_and_flow(&config, &params, &h0, &inputs, &targets, n, None, &mut grads, Some(&mut flow));
    let top = config.layers() - 1;
    let h = config.top_hidden();
    assert_eq!(flow.len(), config.layers());
    assert!(flow.iter().all(|f| f.len() == steps));
    for t in 0..steps {
        // States of every layer after step t, and the loss of the steps before t.
        let states: Vec<Vec<f64>> = config.hidden.iter().enumerate().map(|(l, &w)| cache.hidden[l][(t + 1) * n * w..(t + 2) * n * w].to_vec()).collect();
        let before: f64 = (0..t).map(|s| output_ce(&config, &params, &cache.hidden[top][(s + 1) * n * h..(s + 2) * n * h], &targets[s * n..(s + 1) * n])).sum();
        let eps = 1e-6;
        let mut squares = 0.0;
        for e in 0..n * h {
            let mut plus = states[top].clone();
            let mut minus = states[top].clone();
            plus[e] += eps;
            minus[e] -= eps;
            let d = (loss_with_top_state(&config, &params, &states, &inputs, &targets, n, t, &plus, before)
                - loss_with_top_state(&config, &params, &states, &inputs, &targets, n, t, &minus, before))
                / (2.0 * eps);
            squares += d * d;
        }
        let fd = squares.sqrt();
        let got = flow[top][t];
        assert!((got - fd).abs() <= 1e-6 * fd.max(1e-12) + 1e-12, "layer {top} t={t}: BPTT {got:e} vs finite differences {fd:e}");
    }
}

#[test]
fn per_step_norms_match_finite_differences() {
    check_against_finite_differences(vec![5], Activation::Tanh, Cell::Elman);
    check_against_finite_differences(vec![5], Activation::Relu, Cell::Elman);
    check_against_finite_differences(vec![4, 5], Activation::Tanh, Cell::Elman);
    check_against_finite_differences(vec![5], Activation::Tanh, Cell::Mi);
    check_against_finite_differences(vec![4, 5], Activation::Relu, Cell::Mi);
}

#[test]
fn training_and_the_command_write_the_records_and_the_picture() {
    let dir = fresh_dir("gradflow");
    let out = dir.join("run");
    elman_ok(&["train", "--device", "cpu", "--steps", "30", "--grad-flow", "10", "--hidden", "32,16", "--out", path_str(&out)]);
    let jsonl = std::fs::read_to_string(out.join("gradflow.jsonl")).unwrap();
    let records: Vec<elman::rnn::backend::GradFlow> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.iter().map(|r| r.step).collect::<Vec<_>>(), [10, 20, 30]);
    assert!(records.iter().all(|r| r.layers.len() == 2 && r.layers.iter().all(|l| l.hidden_grad_norms.len() == 64 && l.w_hh_grad_norm > 0.0)));
    assert!(records.iter().all(|r| r.clip_factor > 0.0 && r.clip_factor <= 1.0));
    let svg = std::fs::read_to_string(out.join("gradflow.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<polyline").count() == 6, "one line per layer and record");

    // A fresh relu model with W_hh tripled: the gradient grows back through time.
    let data = format!("{}/corpus/manual.txt", env!("CARGO_MANIFEST_DIR"));
    let svg_path = dir.join("flow.svg");
    let json = elman_ok(&["gradflow", "--data", &data, "--seq-len", "100", "--batch", "2", "--activation", "relu", "--init-scale", "3", "--out", path_str(&svg_path), "--json"]);
    let flow: elman::rnn::backend::GradFlow = serde_json::from_str(json.trim()).unwrap();
    let g = &flow.layers[0].hidden_grad_norms;
    assert!(g[0] > 100.0 * g[g.len() - 1], "no growth through time: {} vs {}", g[0], g[g.len() - 1]);
    assert!(svg_path.exists());
    let records = std::fs::read_to_string(dir.join("flow.jsonl")).unwrap();
    let stored: elman::rnn::backend::GradFlow = serde_json::from_str(records.trim()).unwrap();
    assert_eq!(stored, flow, "flow.jsonl holds the printed record");
}

/// The GPU's gradient flow (G_t stored by the backward waves, norms summed on the GPU)
/// against the CPU's, after a few training steps of each in lockstep so the carried state
/// and the parameters are not the initial ones; the measurement leaves the trainer's
/// state alone (the next step still matches the CPU's).
fn check_gpu_flow(name: &str, config: ModelConfig, dropout: f32) {
    use common::{assert_within, gpu, tokens, GRAD_NORM, KERNEL};
    use elman::rnn::cpu::CpuTrainer;
    use elman::rnn::data::batcher::Batcher;
    use elman::rnn::gpu::GpuTrainer;
    use elman::rnn::backend::{Optimizer, Trainer, UpdateConfig};
    let Some(ctx) = gpu() else { return };
    let (n, t) = (3, 7);
    let update = UpdateConfig { dropout, dropout_seed: 9, ..UpdateConfig::new(Optimizer::adam(), Some(1e-3)) };
    let params = init_params::<f32>(&config, 4);
    let mut cpu = CpuTrainer::new(config.clone(), params.clone(), update, n).unwrap();
    let mut gpu = GpuTrainer::new(ctx, config.clone(), &params, update, n, t).unwrap();
    let stream = tokens(3, n * t * 5 + 1, config.vocab);
    let batcher = Batcher::new(stream.len(), n, t).unwrap();
    for k in 0..3 {
        let b = batcher.batch_at(&stream, k);
        cpu.step(&b, 0.01).unwrap();
        gpu.step(&b, 0.01).unwrap();
    }
    let probe = batcher.batch_at(&stream, 3);
    let (params_before, hidden_before) = (gpu.params().unwrap(), gpu.hidden().unwrap());
    let want = cpu.gradient_flow(&probe, 4).unwrap();
    let got = gpu.gradient_flow(&probe, 4).unwrap();
    assert_eq!(got.step, 4);
    assert_within(&format!("{name}: loss"), &[got.loss as f32], &[want.loss as f32], KERNEL);
    assert_within(&format!("{name}: ‖g‖"), &[got.grad_norm as f32], &[want.grad_norm as f32], GRAD_NORM);
    assert_within(&format!("{name}: clip factor"), &[got.clip_factor as f32], &[want.clip_factor as f32], GRAD_NORM);
    assert!(want.clip_factor < 1.0, "{name}: the case should clip");
    for (l, (g, w)) in got.layers.iter().zip(&want.layers).enumerate() {
        assert_eq!(g.hidden_grad_norms.len(), t);
        let narrow = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        assert_within(&format!("{name}: layer {l} ‖∂L/∂H_t‖"), &narrow(&g.hidden_grad_norms), &narrow(&w.hidden_grad_norms), GRAD_NORM);
        assert_within(&format!("{name}: layer {l} ‖∂L/∂W_hh‖"), &[g.w_hh_grad_norm as f32], &[w.w_hh_grad_norm as f32], GRAD_NORM);
    }
    assert_eq!(gpu.params().unwrap(), params_before, "{name}: measuring changed the parameters");
    assert_eq!(gpu.hidden().unwrap(), hidden_before, "{name}: measuring changed the carried state");
    cpu.step(&probe, 0.01).unwrap();
    gpu.step(&probe, 0.01).unwrap();
    let (sc, sg) = (cpu.drain_stats().unwrap(), gpu.drain_stats().unwrap());
    assert_within(&format!("{name}: losses of every step, the one after the measurement last"), &sg.iter().map(|s| s.loss).collect::<Vec<_>>(), &sc.iter().map(|s| s.loss).collect::<Vec<_>>(), KERNEL);
}

#[test]
fn the_gpu_measures_the_same_flow_as_the_cpu() {
    let config = |hidden: Vec<usize>, activation, cell| ModelConfig { vocab: 11, embed: 6, hidden, activation, tied: false, cell };
    check_gpu_flow("elman tanh L=2", config(vec![12, 9], Activation::Tanh, Cell::Elman), 0.0);
    check_gpu_flow("elman relu L=1, trained with dropout", config(vec![16], Activation::Relu, Cell::Elman), 0.3);
    check_gpu_flow("mi tanh L=2", config(vec![8, 13], Activation::Tanh, Cell::Mi), 0.0);
}
