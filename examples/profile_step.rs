use elman::cpu::{ops, CpuTrainer};
use elman::model::{init::init_params, Activation, ModelConfig};
use elman::trainer::{Batch, Optimizer, Trainer, UpdateConfig};
use std::time::Instant;
fn main() {
    let config = ModelConfig { vocab: 65, embed: 64, hidden: vec![512], activation: Activation::Tanh };
    let (n, t) = (32, 64);
    let params = init_params(&config, 1);
    let mut tr = CpuTrainer::new(config.clone(), params, UpdateConfig::new(Optimizer::adam(), Some(5.0)), n).unwrap();
    let mut rng = elman::rng::Rng::new(1);
    let b = Batch { n, t, inputs: (0..n*t).map(|_| rng.below(65) as u32).collect(), targets: (0..n*t).map(|_| rng.below(65) as u32).collect() };
    for _ in 0..3 { tr.step(&b, 1e-3).unwrap(); }
    let s = Instant::now();
    let reps = 10;
    for _ in 0..reps { tr.step(&b, 1e-3).unwrap(); }
    let ms = s.elapsed().as_secs_f64() * 1e3 / reps as f64;
    println!("step {ms:.1} ms = {:.0} tok/s", (n * t) as f64 / ms * 1e3);
    // pieces
    let x: Vec<f32> = (0..n*t*512).map(|i| ((i % 97) as f32 - 48.0) / 50.0).collect();
    let s = Instant::now();
    let mut y = 0.0f32; for &v in &x { y += v.tanh(); }
    println!("tanh 1M: {:.2} ms ({y})", s.elapsed().as_secs_f64()*1e3);
    let w: Vec<f32> = vec![0.01; 512*512];
    let h: Vec<f32> = vec![0.1; 32*512];
    let mut o = vec![0.0f32; 32*512];
    let s = Instant::now();
    for _ in 0..128 { ops::matmul(&mut o, &h, &w, 32, 512, 512, false, false, true); }
    println!("128 recurrent gemms: {:.2} ms", s.elapsed().as_secs_f64()*1e3);
    let mut big = vec![0.0f32; 512*512];
    let s = Instant::now();
    ops::matmul(&mut big, &x, &x, 512, 2048, 512, true, false, false);
    println!("dW_hh gemm: {:.2} ms", s.elapsed().as_secs_f64()*1e3);
}
