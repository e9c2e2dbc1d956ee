//! The GPU profile and the kernel benches run on any adapter (lavapipe in CI, where their
//! numbers mean nothing): `GpuTrainer::profile` times every dispatch of a training step
//! and reports every kernel family the step uses, `elman bench --profile` prints them,
//! and `bench --gemm` / `bench --rnn` time every tiling they list.

mod common;

use common::{elman_ok, gpu};
use elman::rnn::bench::{random_batches, BenchSize};
use elman::rnn::gpu::kernels::matmul::MatmulTile;
use elman::rnn::gpu::kernels::rnn_wave::ROWS_PER_TILE;
use elman::rnn::gpu::profile::{families_of, Timer};
use elman::rnn::gpu::GpuTrainer;
use elman::rnn::model::init::init_params;
use elman::rnn::backend::{Optimizer, Trainer, UpdateConfig};

#[test]
fn the_profile_reports_every_family_of_a_training_step() {
    let Some(ctx) = gpu() else { return };
    // Two layers, dropout, and n·T = 1024 rows so that weight gradients split over K: the
    // step uses every kernel family but SGD's.
    let size = BenchSize { vocab: 13, embed: 8, hidden: 16, layers: 2, n: 32, t: 32 };
    let update = UpdateConfig { dropout: 0.2, dropout_seed: 1, ..UpdateConfig::new(Optimizer::adam(), Some(1.0)) };
    let config = size.config();
    let mut trainer = GpuTrainer::new(ctx.clone(), config.clone(), &init_params::<f32>(&config, 1), update, size.n, size.t).unwrap();
    let profile = trainer.profile(&random_batches(&size, 2, 5), 1e-3).unwrap();
    let step = trainer.step_dispatches();
    assert_eq!(profile.dispatches, step, "the profile times the step's own dispatches");
    let families = profile.families();
    let names: Vec<&str> = families.iter().map(|f| f.family).collect();
    let want: Vec<&str> = families_of(&step).iter().map(|k| k.entry).fold(Vec::new(), |mut v, n| {
        if !v.contains(&n) {
            v.push(n);
        }
        v
    });
    assert_eq!(names, want, "one row per family, in order of first use");
    for family in ["matmul", "matmul_reduce", "rnn_step_forward", "rnn_step_backward", "transpose", "dropout_apply", "adam_update", "softmax_xent"] {
        assert!(names.contains(&family), "{family} missing from {names:?}");
    }
    assert_eq!(families.iter().map(|f| f.dispatches).sum::<usize>(), step.len());
    // The FLOPs counted from the shapes: 6·n·T·(d·h + Σ h² + h·h + h·V) per step, give or
    // take the bias rows and the element-wise kernels.
    let flops: f64 = families.iter().map(|f| f.flops).sum();
    let model = 6.0 * (size.n * size.t) as f64 * (8.0 * 16.0 + 2.0 * 256.0 + 256.0 + 16.0 * 13.0);
    assert!((flops / model - 1.0).abs() < 0.15, "counted {flops} FLOPs, cost model {model}");
    if Timer::of(&ctx) != Timer::WholeSubmission {
        assert!(profile.ns.iter().all(|&ns| ns >= 0.0) && profile.dispatch_us() > 0.0, "timestamps: {:?}", profile.ns);
    }
    assert!(profile.step_wall_us > 0.0);
    // Profiled steps train like any other: their stats come out of drain_stats.
    assert_eq!(trainer.drain_stats().unwrap().len(), 2);
}

#[test]
fn bench_profile_gemm_and_rnn_print_their_tables() {
    if gpu().is_none() {
        return;
    }
    let out = elman_ok(&["bench", "--device", "gpu", "--profile", "--profile-steps", "1", "--steps", "1", "--warmup", "0", "--sizes", "13x4x8x1x2x3"]);
    assert!(out.contains("profile V=13 d=4 h=8 L=1 n=2 T=3"), "{out}");
    for family in ["embedding_gather", "matmul", "rnn_step_forward", "rnn_step_backward", "softmax_xent", "adam_update", "total"] {
        assert!(out.lines().any(|l| l.trim_start().starts_with(family)), "{family} missing:\n{out}");
    }
    let out = elman_ok(&["bench", "--gemm", "33,17,40", "--steps", "1", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("bench --gemm --json prints JSON");
    let results = json["results"].as_array().unwrap();
    // Four layouts × (the launcher's choice + each tile unsplit and split where K allows).
    assert!(results.len() >= 4 * (1 + MatmulTile::ALL.len()), "{out}");
    assert!(results.iter().all(|r| r["gflop_per_s"].as_f64().is_some_and(|g| g > 0.0)), "{out}");
    let out = elman_ok(&["bench", "--rnn", "3,20", "--steps", "2", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("bench --rnn --json prints JSON");
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 2 * ROWS_PER_TILE.len(), "{out}");
    assert_eq!(results.iter().filter(|r| r["auto"] == true).count(), 2, "one automatic choice per direction: {out}");
}
