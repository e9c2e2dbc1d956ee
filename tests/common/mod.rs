//! Shared test helpers: tolerance checks that print where and how much two tensors differ,
//! unique temp files, running the built binary, and locating the shared corpora.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

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
        if excess.is_nan() || excess > 0.0 {
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
        got.iter().zip(want).filter(|(g, w)| { let e = (*g - *w).abs(); e.is_nan() || e > atol + rtol * w.abs() }).count(),
        got.len(),
        worst.0
    );
}

/// A tolerance: |got − want| ≤ atol + rtol·|want|.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub atol: f32,
    pub rtol: f32,
}

/// The CPU-vs-GPU tolerances, named once (f32 on both sides; only the summation order
/// differs, so each product of K terms of size ~1 agrees to ~K·ε, and differences compound
/// over the steps of a run):
/// one kernel's products, a step's loss, an evaluation's nats/token;
pub const KERNEL: Tol = Tol { atol: 1e-5, rtol: 1e-4 };
/// parameters, moments, carried states and logits after many steps (Adam divides m by
/// √v, so a near-zero gradient can move a parameter by a sizeable fraction of lr on a
/// rounding difference; lr ≤ 0.01 bounds that);
pub const AFTER_STEPS: Tol = Tol { atol: 2e-5, rtol: 1e-4 };
/// the gradient norm of a step (a sum of squares over every gradient, carrying the
/// rounding of the whole backward pass);
pub const GRAD_NORM: Tol = Tol { atol: 0.0, rtol: 1e-3 };
/// Adam's second moment (squares of gradients: twice the relative error).
pub const SECOND_MOMENT: Tol = Tol { atol: 1e-7, rtol: 1e-3 };

/// [`assert_close32`] with a named tolerance.
pub fn assert_within(label: &str, got: &[f32], want: &[f32], tol: Tol) {
    assert_close32(label, got, want, tol.atol, tol.rtol);
}

/// f32 slice to f64 vector, for [`assert_close`].
pub fn widen(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

/// A fresh path under the temp dir, unique per process and call.
pub fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("elman-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir.join(format!("{}-{name}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// A fresh, empty temp directory for one test (`name` keeps tests apart).
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("elman-test-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

/// A path as &str (test paths are UTF-8).
pub fn path_str(p: &std::path::Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Writes `contents` to a fresh temp file and returns its path.
pub fn write_temp(name: &str, contents: &str) -> PathBuf {
    let path = temp_path(name);
    std::fs::write(&path, contents).expect("temp file is writable");
    path
}

/// Runs the built `elman` binary with `args`.
pub fn elman(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_elman")).args(args).output().expect("the elman binary runs")
}

/// Stdout of a run that must succeed.
pub fn elman_ok(args: &[&str]) -> String {
    let out = elman(args);
    assert!(out.status.success(), "elman {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Stderr of a run that must fail with exit code 1, one `error:` line and no panic.
pub fn elman_err(args: &[&str]) -> String {
    let out = elman(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "elman {args:?} should fail with exit 1; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "elman {args:?} panicked: {stderr}");
    assert!(stderr.starts_with("error: ") && stderr.trim_end().lines().count() == 1, "not one error line: {stderr:?}");
    stderr
}

/// Asserts a failed run: non-zero exit, a single stderr line holding `needle`, no panic.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure for {needle:?}; stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(!stderr.contains("panicked"), "panic instead of an error: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one-line error expected, got: {stderr}");
    assert!(stderr.contains(needle), "error should mention {needle:?}: {stderr}");
}

/// `../shared/data/ptb` relative to the crate, or `None` (with the reason printed).
pub fn ptb_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ptb");
    if dir.join("ptb.train.txt").exists() && dir.join("ptb.test.txt").exists() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent (the shared corpora are not in a fresh clone)", dir.display());
        None
    }
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
pub fn gpu() -> Option<std::sync::Arc<elman::rnn::gpu::GpuContext>> {
    use std::sync::{Arc, OnceLock};
    static CTX: OnceLock<Result<Arc<elman::rnn::gpu::GpuContext>, String>> = OnceLock::new();
    match CTX.get_or_init(|| elman::rnn::gpu::GpuContext::new(None, true).map(Arc::new).map_err(|e| e.to_string())) {
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
