//! CPU-vs-GPU parity (docs/design.md, "Testing the GPU against the CPU"): 20 training steps from the
//! same initial parameters on the same batches, comparing per-step losses, gradient norms,
//! clipped flags, final parameters, optimizer moments, the carried hidden state and an
//! evaluation. Cases cover 2 layers of unequal widths, clipping active on some steps but
//! not all, truncated BPTT with the state carried across chunks, SGD (momentum) and Adam,
//! tanh and relu, a shorter last chunk (T' < T), and dropout (the GPU draws the same
//! masks as the CPU from the hash in src/rnn/dropout.rs, so the tolerances do not change).
//! Sampling: the GPU generator's logits at every step of a token sequence against the CPU
//! generator's (atol 2e-5 + rtol 1e-4, as for the parameters).
//!
//! Tolerances (f32 on both sides; only summation order differs — tiled fma GEMMs on the
//! GPU, faer on the CPU — so each op agrees to ~1e-6 relative and differences compound over
//! 20 updates):
//! - loss per step: atol 1e-5 + rtol 1e-4;
//! - gradient norm per step: rtol 1e-3 (a sum of squares over every gradient, and the
//!   gradient carries the rounding of the whole backward pass);
//! - parameters, moments and carried state after 20 steps: atol 2e-5 + rtol 1e-4. Adam
//!   divides m by √v, so an element whose gradient is near zero can move by a sizeable
//!   fraction of lr on a rounding difference; lr = 0.01 bounds that. Observed on lavapipe:
//!   max abs error ≈ 2e-7 on the parameters, 100× inside the tolerance.

mod common;

use common::{assert_within, AFTER_STEPS, GRAD_NORM, KERNEL, SECOND_MOMENT, gpu, tokens};
use elman::rnn::cpu::CpuTrainer;
use elman::rnn::data::batcher::Batcher;
use elman::rnn::gpu::kernels::{matmul, rnn_step};
use elman::rnn::gpu::{GpuGenerator, GpuModel, GpuTrainer};
use elman::rnn::model::init::init_params;
use elman::rnn::model::{Activation, Cell, ModelConfig};
use elman::rnn::backend::NextToken;
use elman::rnn::cpu::CpuGenerator;
use elman::rnn::backend::{Batch, Evaluate, Optimizer, StepStats, Trainer, UpdateConfig};

const STEPS: usize = 20;

struct Case {
    name: &'static str,
    config: ModelConfig,
    optimizer: Optimizer,
    lr: f32,
    n: usize,
    t: usize,
    /// Dropout probability (0 = off).
    dropout: f32,
    /// L2 (SGD) or decoupled (Adam) weight decay (0 = off).
    weight_decay: f32,
}

impl Case {
    fn update(&self, clip: Option<f32>) -> UpdateConfig {
        UpdateConfig { dropout: self.dropout, dropout_seed: 0x5eed, weight_decay: self.weight_decay, ..UpdateConfig::new(self.optimizer, clip) }
    }
}

fn batches(case: &Case) -> Vec<Batch> {
    // One stream per row (char-rnn layout), long enough for STEPS consecutive chunks.
    let stream = tokens(7, case.n * case.t * STEPS + 1, case.config.vocab);
    let batcher = Batcher::new(stream.len(), case.n, case.t).expect("stream fits the batch");
    (0..STEPS).map(|k| batcher.batch_at(&stream, k)).collect()
}

fn run(trainer: &mut dyn Trainer, batches: &[Batch], lr: f32) -> Vec<StepStats> {
    for b in batches {
        trainer.step(b, lr).expect("step");
    }
    trainer.drain_stats().expect("stats")
}

/// θ = the median gradient norm of an unclipped CPU run, so clipping is active on some
/// steps and not on others: the midpoint of the two middle norms, never one of the norms
/// itself (the steps before the first clip repeat the unclipped norms exactly, and a norm
/// equal to θ would make the clipped flag a matter of rounding).
fn median_norm(case: &Case, batches: &[Batch]) -> f32 {
    let params = init_params::<f32>(&case.config, 11);
    let mut cpu = CpuTrainer::new(case.config.clone(), params, case.update(None), case.n).unwrap();
    let mut norms: Vec<f32> = run(&mut cpu, batches, case.lr).iter().map(|s| s.grad_norm).collect();
    norms.sort_by(f32::total_cmp);
    let mid = norms.len() / 2;
    0.5 * (norms[mid - 1] + norms[mid])
}

fn check_case(case: Case) {
    let Some(ctx) = gpu() else { return };
    let batches = batches(&case);
    let theta = median_norm(&case, &batches);
    let update = case.update(Some(theta));
    let params = init_params::<f32>(&case.config, 11);
    let mut cpu = CpuTrainer::new(case.config.clone(), params.clone(), update, case.n).unwrap();
    let mut gpu = GpuTrainer::new(ctx, case.config.clone(), &params, update, case.n, case.t).unwrap();
    let want = run(&mut cpu, &batches, case.lr);
    let got = run(&mut gpu, &batches, case.lr);
    let name = case.name;
    // docs/gpu.md: 2·(T + L − 1) recurrent waves + 4·L + 11 batched dispatches, + 1 per
    // product split over K, + 3 with dropout, + 1 with tied weights, + 2·L for the mi cell.
    let layers = case.config.layers();
    let mi = if case.config.cell == Cell::Mi { 2 * layers } else { 0 };
    let masks = if case.dropout > 0.0 { 3 } else { 0 };
    let tied = case.config.tied as usize; // E's output-layer gradient: one more GEMM
    let splits = gpu.step_dispatches().iter().filter(|d| d.kernel == &matmul::REDUCE).count();
    let waves = gpu.step_dispatches().iter().filter(|d| rnn_step::FORWARD.contains(d.kernel) || rnn_step::BACKWARD.contains(d.kernel)).count();
    assert_eq!(waves, 2 * (case.t + layers - 1), "{name}: recurrent waves per step");
    assert_eq!(gpu.recurrent_dispatches_per_step(), waves, "{name}: reported recurrent dispatches");
    assert_eq!(gpu.dispatches_per_step(), waves + 4 * layers + 11 + splits + masks + tied + mi, "{name}: dispatches per step");
    assert_eq!(splits > 0, case.n * case.t >= 1024, "{name}: split-K products (only the weight gradients of n·T ≥ 1024 rows split)");
    if case.dropout > 0.0 {
        // The case must exercise dropout: the CPU's losses without it are different.
        let mut plain = CpuTrainer::new(case.config.clone(), params.clone(), UpdateConfig { dropout: 0.0, ..update }, case.n).unwrap();
        let plain_loss = run(&mut plain, &batches, case.lr)[0].loss;
        assert!((plain_loss - want[0].loss).abs() > 1e-3, "{name}: dropout left the first loss at {plain_loss}");
    }
    assert_eq!(got.len(), STEPS, "{name}: GPU stats count");
    let field = |s: &[StepStats], f: fn(&StepStats) -> f32| s.iter().map(f).collect::<Vec<f32>>();
    assert_within(&format!("{name}: loss per step"), &field(&got, |s| s.loss), &field(&want, |s| s.loss), KERNEL);
    assert_within(&format!("{name}: grad norm per step"), &field(&got, |s| s.grad_norm), &field(&want, |s| s.grad_norm), GRAD_NORM);
    let clipped: Vec<bool> = want.iter().map(|s| s.clipped).collect();
    assert_eq!(got.iter().map(|s| s.clipped).collect::<Vec<_>>(), clipped, "{name}: clipped flags");
    assert!(clipped.contains(&true) && clipped.contains(&false), "{name}: clipping should be active on some steps only: {clipped:?}");

    let (pg, pc) = (gpu.params().unwrap(), cpu.params().unwrap());
    for (((label, _), g), c) in case.config.tensor_shapes().iter().zip(pg.tensors()).zip(pc.tensors()) {
        assert_within(&format!("{name}: final {label}"), g, c, AFTER_STEPS);
    }
    let (og, oc) = (gpu.optimizer_state().unwrap(), cpu.optimizer_state().unwrap());
    assert_eq!(og.updates, oc.updates, "{name}: update count");
    assert_within(&format!("{name}: first moment"), &og.first.flatten(), &oc.first.flatten(), AFTER_STEPS);
    assert_within(&format!("{name}: second moment"), &og.second.flatten(), &oc.second.flatten(), SECOND_MOMENT);
    for (l, (g, c)) in gpu.hidden().unwrap().iter().zip(cpu.hidden().unwrap()).enumerate() {
        assert_within(&format!("{name}: carried hidden state of layer {l}"), g, &c, AFTER_STEPS);
    }

    // Evaluation from a zero state over chunks with a shorter last one, and training state
    // left as it was.
    let stream = tokens(99, 2 * case.t + case.t / 2 + 1, case.config.vocab);
    let eval = elman::rnn::data::batcher::stream_batches(&stream, case.t);
    let (eg, ec) = (gpu.evaluate(&eval).unwrap(), cpu.evaluate(&eval).unwrap());
    assert_within(&format!("{name}: evaluation loss"), &[eg as f32], &[ec as f32], KERNEL);
    assert_eq!(gpu.params().unwrap(), pg, "{name}: evaluate changed the parameters");
    let short = Batch { n: case.n, t: case.t - 1, inputs: batches[0].inputs[..case.n * (case.t - 1)].to_vec(), targets: batches[0].targets[..case.n * (case.t - 1)].to_vec() };
    cpu.step(&short, case.lr).unwrap();
    gpu.step(&short, case.lr).unwrap();
    let (sg, sc) = (gpu.drain_stats().unwrap(), cpu.drain_stats().unwrap());
    assert_within(&format!("{name}: loss of a step after evaluate, T' = T − 1"), &[sg[0].loss], &[sc[0].loss], KERNEL);
}

#[test]
fn two_unequal_tanh_layers_with_adam_clipping_and_carry() {
    check_case(Case {
        name: "tanh adam L=2",
        config: ModelConfig { vocab: 13, embed: 6, hidden: vec![24, 17], activation: Activation::Tanh, tied: false, cell: Default::default() },
        optimizer: Optimizer::adam(),
        lr: 0.01,
        n: 3,
        t: 5,
        dropout: 0.0,
        weight_decay: 0.0,
    });
}

#[test]
fn two_unequal_relu_layers_with_sgd_momentum_clipping_and_carry() {
    check_case(Case {
        name: "relu sgd L=2",
        config: ModelConfig { vocab: 11, embed: 5, hidden: vec![9, 33], activation: Activation::Relu, tied: false, cell: Default::default() },
        optimizer: Optimizer::Sgd { momentum: 0.9 },
        lr: 0.1,
        n: 4,
        t: 6,
        dropout: 0.0,
        weight_decay: 0.0,
    });
}

#[test]
fn one_tanh_layer_with_plain_sgd_awkward_sizes() {
    check_case(Case {
        name: "tanh sgd L=1",
        config: ModelConfig { vocab: 70, embed: 3, hidden: vec![65], activation: Activation::Tanh, tied: false, cell: Default::default() },
        optimizer: Optimizer::Sgd { momentum: 0.0 },
        lr: 0.5,
        n: 1,
        t: 7,
        dropout: 0.0,
        weight_decay: 0.0,
    });
}

#[test]
fn two_unequal_tanh_layers_with_dropout_adam_clipping_and_carry() {
    check_case(Case {
        name: "tanh adam L=2 dropout 0.3",
        config: ModelConfig { vocab: 13, embed: 6, hidden: vec![24, 17], activation: Activation::Tanh, tied: false, cell: Default::default() },
        optimizer: Optimizer::adam(),
        lr: 0.01,
        n: 3,
        t: 5,
        dropout: 0.3,
        weight_decay: 0.0,
    });
}

#[test]
fn two_tanh_layers_with_adam_and_split_k_weight_gradients() {
    // n·T = 1024 rows: dW_hh, dW_xh and dW_q have K = 1024 and few output tiles, so the
    // launcher splits K (matmul partials + matmul_reduce) inside a real training step.
    check_case(Case {
        name: "tanh adam L=2 split-K",
        config: ModelConfig { vocab: 13, embed: 8, hidden: vec![32, 20], activation: Activation::Tanh, tied: false, cell: Default::default() },
        optimizer: Optimizer::adam(),
        lr: 0.01,
        n: 16,
        t: 64,
        dropout: 0.0,
        weight_decay: 0.0,
    });
}

#[test]
fn two_wide_layers_side_by_side_with_dropout_and_eight_rows_per_workgroup() {
    // 64 rows over two 128-wide layers: each wave of the wavefront holds both layers, with
    // 8 rows per workgroup (kernels/rnn_wave.rs), the vec4 path and dropout inside the waves. SGD
    // with momentum: with 33k parameters Adam's m/√v lifts the rounding of a few near-zero
    // gradients past the parameter tolerance (seen: 2 of 16,384 at 5e-5 with lr 0.01),
    // while SGD carries rounding through linearly.
    check_case(Case {
        name: "tanh sgd L=2 h=128 n=64 dropout 0.2",
        config: ModelConfig { vocab: 13, embed: 8, hidden: vec![128, 128], activation: Activation::Tanh, tied: false, cell: Default::default() },
        optimizer: Optimizer::Sgd { momentum: 0.9 },
        lr: 0.1,
        n: 64,
        t: 3,
        dropout: 0.2,
        weight_decay: 0.0,
    });
}

#[test]
fn tied_weights_with_dropout_and_adamw() {
    // W_q = Eᵀ (d = h_L = 12): E's gradient sums the embedding scatter and dlogitsᵀ·H^L;
    // decoupled weight decay beside the Adam step.
    check_case(Case {
        name: "tanh adamw L=2 tied dropout 0.3",
        config: ModelConfig { vocab: 13, embed: 12, hidden: vec![20, 12], activation: Activation::Tanh, tied: true, cell: Default::default() },
        optimizer: Optimizer::adam(),
        lr: 0.01,
        n: 3,
        t: 5,
        dropout: 0.3,
        weight_decay: 0.1,
    });
}

#[test]
fn tied_weights_with_sgd_momentum_and_l2_one_relu_layer() {
    check_case(Case {
        name: "relu sgd L=1 tied weight decay",
        config: ModelConfig { vocab: 11, embed: 9, hidden: vec![9], activation: Activation::Relu, tied: true, cell: Default::default() },
        optimizer: Optimizer::Sgd { momentum: 0.9 },
        lr: 0.1,
        n: 4,
        t: 6,
        dropout: 0.0,
        weight_decay: 0.01,
    });
}

#[test]
fn streamed_evaluation_over_many_submissions_matches_the_cpu() {
    // 600 chunks of one row: more than two command buffers of evaluation chunks, a shorter
    // last chunk, the state carried across all of them.
    let Some(ctx) = gpu() else { return };
    let config = ModelConfig { vocab: 17, embed: 5, hidden: vec![12, 8], activation: Activation::Tanh, tied: false, cell: Default::default() };
    let params = init_params::<f32>(&config, 4);
    let stream = tokens(31, 3 * 600 + 2, config.vocab);
    let eval = elman::rnn::data::batcher::stream_batches(&stream, 3);
    assert!(eval.len() > 2 * elman::rnn::gpu::buffer_plan::CHUNKS_PER_SUBMISSION && eval.last().unwrap().t < 3);
    let mut model = GpuModel::new(ctx, config.clone(), &params, 1, 3).unwrap();
    let mut cpu = CpuTrainer::new(config, params, UpdateConfig::new(Optimizer::Sgd { momentum: 0.0 }, None), 1).unwrap();
    let (g, c) = (model.evaluate(&eval).unwrap(), cpu.evaluate(&eval).unwrap());
    assert_within("streamed evaluation, 600 chunks", &[g as f32], &[c as f32], KERNEL);
    // Twice in a row: the evaluation state restarts from zero.
    assert_eq!(model.evaluate(&eval).unwrap(), g);
}

#[test]
fn three_relu_layers_with_dropout_sgd_momentum() {
    check_case(Case {
        name: "relu sgd L=3 dropout 0.5",
        config: ModelConfig { vocab: 11, embed: 5, hidden: vec![9, 33, 4], activation: Activation::Relu, tied: false, cell: Default::default() },
        optimizer: Optimizer::Sgd { momentum: 0.9 },
        lr: 0.1,
        n: 4,
        t: 6,
        dropout: 0.5,
        weight_decay: 0.0,
    });
}

#[test]
fn mi_cell_two_unequal_tanh_layers_with_adam_clipping_and_carry() {
    // 17 columns: the scalar path of the recurrent kernel.
    check_case(Case {
        name: "mi tanh adam L=2",
        config: ModelConfig { vocab: 13, embed: 6, hidden: vec![24, 17], activation: Activation::Tanh, tied: false, cell: Cell::Mi },
        optimizer: Optimizer::adam(),
        lr: 0.01,
        n: 3,
        t: 5,
        dropout: 0.0,
        weight_decay: 0.0,
    });
}

#[test]
fn mi_cell_three_relu_layers_with_dropout_sgd_momentum_vec4_widths() {
    check_case(Case {
        name: "mi relu sgd L=3 dropout 0.3",
        config: ModelConfig { vocab: 11, embed: 8, hidden: vec![8, 32, 12], activation: Activation::Relu, tied: false, cell: Cell::Mi },
        optimizer: Optimizer::Sgd { momentum: 0.9 },
        lr: 0.05,
        n: 4,
        t: 6,
        dropout: 0.3,
        weight_decay: 0.0,
    });
}

#[test]
fn mi_cell_tied_weights_adamw_and_split_k_weight_gradients() {
    check_case(Case {
        name: "mi tanh tied adamw n·T = 1024",
        config: ModelConfig { vocab: 17, embed: 16, hidden: vec![16], activation: Activation::Tanh, tied: true, cell: Cell::Mi },
        optimizer: Optimizer::adam(),
        lr: 0.01,
        n: 32,
        t: 32,
        dropout: 0.0,
        weight_decay: 0.1,
    });
}

/// Feeds the same tokens to the CPU [`Generator`], to the forward model inside a trainer
/// of n × T (the sampling program is n = T = 1 whatever the trainer's batch shape), and to
/// a [`GpuGenerator`] on a forward-only [`GpuModel`] of the trainer's parameters, and
/// compares the logits after every token. Training the trainer first shows the sampler
/// reads its current parameters and leaves its training state alone.
fn check_sampling(name: &'static str, config: ModelConfig, n: usize, t: usize) {
    let Some(ctx) = gpu() else { return };
    let update = UpdateConfig::new(Optimizer::adam(), None);
    let mut trainer = GpuTrainer::new(ctx.clone(), config.clone(), &init_params::<f32>(&config, 5), update, n, t).unwrap();
    let case = Case { name, config: config.clone(), optimizer: Optimizer::adam(), lr: 0.01, n, t, dropout: 0.0, weight_decay: 0.0 };
    run(&mut trainer, &batches(&case)[..3], case.lr);
    let params = trainer.params().unwrap();
    let state = trainer.hidden().unwrap();
    let mut cpu = CpuGenerator::new(&config, &params);
    let mut gpu = GpuGenerator::new(GpuModel::new(ctx, config.clone(), &params, 1, 1).unwrap());
    trainer.model().reset_sample_state();
    for (step, &tok) in tokens(21, 12, config.vocab).iter().enumerate() {
        let want = cpu.advance(tok).unwrap().to_vec();
        assert_within(&format!("{name}: logits after token {step}"), gpu.advance(tok).unwrap(), &want, AFTER_STEPS);
        let inside = trainer.model().sample_step(tok).unwrap();
        assert_within(&format!("{name}: the trainer's model, logits after token {step}"), &inside, &want, AFTER_STEPS);
    }
    let err = gpu.advance(config.vocab as u32).unwrap_err().to_string();
    assert!(err.contains("outside the vocabulary"), "{name}: {err}");
    assert_eq!(trainer.hidden().unwrap(), state, "{name}: sampling changed the training state");
    assert_eq!(trainer.params().unwrap(), params, "{name}: sampling changed the parameters");
}

#[test]
fn sampling_logits_match_the_cpu_generator_tanh() {
    check_sampling("sample tanh L=2", ModelConfig { vocab: 13, embed: 6, hidden: vec![24, 17], activation: Activation::Tanh, tied: false, cell: Default::default() }, 1, 1);
}

#[test]
fn sampling_logits_match_the_cpu_generator_relu_on_a_batch_trainer() {
    check_sampling("sample relu L=2", ModelConfig { vocab: 11, embed: 5, hidden: vec![9, 33], activation: Activation::Relu, tied: false, cell: Default::default() }, 3, 4);
}

#[test]
fn sampling_logits_match_the_cpu_generator_mi_cell() {
    check_sampling("sample mi L=2", ModelConfig { vocab: 13, embed: 6, hidden: vec![24, 17], activation: Activation::Tanh, tied: false, cell: Cell::Mi }, 2, 3);
}
