//! Shared test helpers: tolerance checks that print where and how much two tensors differ.
#![allow(dead_code)]

/// Fails when |got − want| > atol + rtol·|want| anywhere; prints the worst index, the max
/// abs/rel error and the first few mismatching pairs.
pub fn assert_close(label: &str, got: &[f64], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(got.len(), want.len(), "{label}: length {} vs {}", got.len(), want.len());
    let mut worst = (0usize, 0.0f64);
    let mut max_abs = 0.0f64;
    let mut max_rel = 0.0f64;
    let mut bad = Vec::new();
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let abs = (g - w).abs();
        let rel = abs / w.abs().max(f64::MIN_POSITIVE);
        max_abs = max_abs.max(abs);
        max_rel = max_rel.max(if w == 0.0 { 0.0 } else { rel });
        let excess = abs - (atol + rtol * w.abs());
        if !(excess <= 0.0) {
            if bad.len() < 5 {
                bad.push((i, g, w));
            }
            if excess > worst.1 || excess.is_nan() {
                worst = (i, excess);
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{label}: {} of {} values out of tolerance (atol {atol:e}, rtol {rtol:e}); worst index {}, max abs err {max_abs:e}, max rel err {max_rel:e}; first mismatches (index, got, want): {bad:?}",
        got.iter().zip(want).filter(|(g, w)| !((*g - *w).abs() <= atol + rtol * w.abs())).count(),
        got.len(),
        worst.0
    );
}

/// f32 slice to f64 vector, for [`assert_close`].
pub fn widen(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

/// [`assert_close`] for f32 tensors (compared in f64, tolerances as given).
pub fn assert_close32(label: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_close(label, &widen(got), &widen(want), atol as f64, rtol as f64)
}

/// `len` values uniform in [lo, hi) from a seeded stream.
pub fn uniform(seed: u64, len: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut rng = elman::rng::Rng::new(seed);
    (0..len).map(|_| rng.uniform(lo as f64, hi as f64) as f32).collect()
}

/// `len` token ids below `vocab`.
pub fn tokens(seed: u64, len: usize, vocab: usize) -> Vec<u32> {
    let mut rng = elman::rng::Rng::new(seed);
    (0..len).map(|_| rng.below(vocab as u64) as u32).collect()
}

/// The shared GPU context for GPU tests (software adapters allowed, as with `--device
/// gpu`), or `None` after printing "no GPU adapter found (...): skipping" — unless
/// ELMAN_REQUIRE_GPU=1 (set by .ci/run), which turns the skip into a failure.
pub fn gpu() -> Option<std::sync::Arc<elman::gpu::GpuContext>> {
    use std::sync::{Arc, OnceLock};
    static CTX: OnceLock<Result<Arc<elman::gpu::GpuContext>, String>> = OnceLock::new();
    match CTX.get_or_init(|| elman::gpu::GpuContext::new(None, true).map(Arc::new).map_err(|e| e.to_string())) {
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
