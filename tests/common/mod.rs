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
