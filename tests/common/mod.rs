//! Shared test helpers: `assert_close` with a printed report, seeded data, and the one
//! way GPU tests get an adapter (skip with a reason, or fail under ELMAN_REQUIRE_GPU=1).
#![allow(dead_code)]

use elman::gpu::GpuContext;
use elman::rng::Rng;
use std::sync::{Arc, OnceLock};

/// Fails when any |got − want| > atol + rtol·|want| (or a NaN appears), printing the worst
/// index, the max abs/rel errors and the first few pairs.
pub fn assert_close(label: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{label}: lengths differ");
    let mut worst = None::<(usize, f32)>;
    let (mut max_abs, mut max_rel) = (0f32, 0f32);
    let mut bad = 0usize;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let abs = (g - w).abs();
        let rel = abs / w.abs().max(f32::MIN_POSITIVE);
        max_abs = max_abs.max(abs);
        max_rel = max_rel.max(if w == 0.0 { 0.0 } else { rel });
        let excess = abs - (atol + rtol * w.abs());
        if !(excess <= 0.0) {
            bad += 1;
            if worst.is_none_or(|(_, e)| excess > e || excess.is_nan()) {
                worst = Some((i, excess));
            }
        }
    }
    if let Some((i, _)) = worst {
        let pairs: Vec<String> = got.iter().zip(want).take(6).map(|(g, w)| format!("({g:.6e}, {w:.6e})")).collect();
        panic!(
            "{label}: {bad}/{} values outside atol {atol:e} + rtol {rtol:e}; worst at [{i}]: got {:.7e} want {:.7e}; \
             max abs err {max_abs:.3e}, max rel err {max_rel:.3e}; first (got, want): {}",
            got.len(),
            got[i],
            want[i],
            pairs.join(" ")
        );
    }
}

/// `len` values uniform in [lo, hi) from a seeded stream.
pub fn uniform(seed: u64, len: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.uniform(lo as f64, hi as f64) as f32).collect()
}

/// `len` token ids below `vocab`.
pub fn tokens(seed: u64, len: usize, vocab: usize) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.below(vocab as u64) as u32).collect()
}

/// The shared GPU context (software adapters allowed, as with `--device gpu`), or `None`
/// after printing why — unless ELMAN_REQUIRE_GPU=1, which turns the skip into a failure.
pub fn gpu() -> Option<Arc<GpuContext>> {
    static CTX: OnceLock<Result<Arc<GpuContext>, String>> = OnceLock::new();
    match CTX.get_or_init(|| GpuContext::new(None, true).map(Arc::new).map_err(|e| e.to_string())) {
        Ok(ctx) => Some(ctx.clone()),
        Err(e) => {
            let msg = format!("no GPU adapter found ({e}): skipping");
            if std::env::var("ELMAN_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("{msg} — ELMAN_REQUIRE_GPU=1 makes this a failure");
            }
            eprintln!("{msg}");
            None
        }
    }
}
