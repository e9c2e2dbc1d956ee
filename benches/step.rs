//! Criterion bench: one training step (forward, BPTT, clip, Adam) per size on the CPU
//! (`cpu_step_*`) and the GPU (`gpu_step_*`), throughput in tokens (n·T per step). GPU
//! work is drained (stats read back) inside the timed region. Sizes: the three of src/rnn/bench.rs, or
//! ELMAN_BENCH_SIZES="VxdxhxLxnxT,..." (e.g. a small one on lavapipe). The GPU half is
//! skipped, with the reason printed, when no adapter is found (software ones are allowed).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use elman::rnn::bench::{random_batches, BenchSize};
use elman::rnn::cpu::CpuTrainer;
use elman::rnn::gpu::{GpuContext, GpuTrainer};
use elman::rnn::model::init::init_params;
use elman::rnn::backend::{Optimizer, Trainer, UpdateConfig};
use std::sync::Arc;

fn sizes() -> Vec<BenchSize> {
    match std::env::var("ELMAN_BENCH_SIZES") {
        Ok(s) => s.split(',').map(|x| BenchSize::parse(x).expect("ELMAN_BENCH_SIZES")).collect(),
        Err(_) => BenchSize::defaults(),
    }
}

fn bench_trainer(c: &mut Criterion, name: &str, size: &BenchSize, trainer: &mut dyn Trainer) {
    let batches = random_batches(size, 4, 3);
    let mut group = c.benchmark_group(name);
    group.sample_size(10).throughput(Throughput::Elements(size.tokens_per_step() as u64));
    let mut k = 0;
    group.bench_function(size.id(), |b| {
        b.iter_batched(
            || {
                k += 1;
                &batches[k % batches.len()]
            },
            |batch| {
                trainer.step(batch, 1e-3).expect("step");
                trainer.drain_stats().expect("drain")
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn step(c: &mut Criterion) {
    let update = UpdateConfig::new(Optimizer::adam(), Some(1.0));
    let gpu = match GpuContext::new(None, true) {
        Ok(ctx) => Some(Arc::new(ctx)),
        Err(e) => {
            eprintln!("gpu_step_*: skipped: {e}");
            None
        }
    };
    for size in sizes() {
        let config = size.config();
        let params = init_params::<f32>(&config, 1);
        let mut cpu = CpuTrainer::new(config.clone(), params.clone(), update, size.n).expect("cpu trainer");
        bench_trainer(c, "cpu_step", &size, &mut cpu);
        if let Some(ctx) = &gpu {
            let mut g = GpuTrainer::new(ctx.clone(), config, &params, update, size.n, size.t).expect("gpu trainer");
            bench_trainer(c, "gpu_step", &size, &mut g);
        }
    }
}

criterion_group!(benches, step);
criterion_main!(benches);
