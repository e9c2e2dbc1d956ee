//! The f32 elementwise kernels of a training step (and the neural cache's pointer sums),
//! compiled twice — for baseline x86-64
//! (SSE2) and for AVX2 — the AVX2 build chosen at run time when the CPU has it. Both builds
//! do the same IEEE operations in the same order (no FMA contraction; sums in eight fixed
//! lanes), so a result does not depend on the machine, only the register width does.

/// Whether this CPU runs the AVX2 builds (checked once).
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `pub fn $name(args) -> ret` running `$body(args)` built for AVX2 when the CPU has it.
macro_rules! dispatched {
    ($(#[$doc:meta])* $name:ident => $body:ident ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                if has_avx2() {
                    // SAFETY: the CPU has AVX2 (checked above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

const LANES: usize = 8;

/// Σ x in eight lanes (lane j takes elements j, j + 8, …), the lanes then added in order.
#[inline(always)]
fn lane_sum(x: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for chunk in &mut chunks {
        for j in 0..LANES {
            lanes[j] += chunk[j];
        }
    }
    for (j, &v) in chunks.remainder().iter().enumerate() {
        lanes[j] += v;
    }
    lanes.iter().fold(0.0, |s, &l| s + l)
}

/// max x in eight lanes (NaN-propagating like `f32::max` is not: a NaN logit is caught by
/// the loss check anyway).
#[inline(always)]
fn lane_max(x: &[f32]) -> f32 {
    let mut lanes = [x[0]; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for chunk in &mut chunks {
        for j in 0..LANES {
            lanes[j] = lanes[j].max(chunk[j]);
        }
    }
    for (j, &v) in chunks.remainder().iter().enumerate() {
        lanes[j] = lanes[j].max(v);
    }
    lanes.iter().fold(lanes[0], |m, &l| m.max(l))
}

#[inline(always)]
fn tanh_body(values: &mut [f32]) {
    for v in values {
        *v = super::scalar::fast_tanh_f32(*v);
    }
}

#[inline(always)]
fn softmax_xent_row_body(z: &[f32], dz: &mut [f32], y: usize, scale: f32) -> f32 {
    let max = lane_max(z);
    for (e, &zj) in dz.iter_mut().zip(z) {
        *e = super::scalar::fast_exp_f32(zj - max);
    }
    let sum = lane_sum(dz);
    let factor = scale / sum;
    for e in dz.iter_mut() {
        *e *= factor;
    }
    dz[y] -= scale;
    sum.ln() + max - z[y]
}

#[inline(always)]
fn softmax_loss_row_body(z: &[f32], y: usize) -> f32 {
    let max = lane_max(z);
    let mut lanes = [0f32; LANES];
    let mut chunks = z.chunks_exact(LANES);
    for chunk in &mut chunks {
        for j in 0..LANES {
            lanes[j] += super::scalar::fast_exp_f32(chunk[j] - max);
        }
    }
    for (j, &v) in chunks.remainder().iter().enumerate() {
        lanes[j] += super::scalar::fast_exp_f32(v - max);
    }
    let sum = lanes.iter().fold(0.0, |s, &l| s + l);
    sum.ln() + max - z[y]
}

dispatched! {
    /// One row's cross-entropy alone, logsumexp(z) − z[y]: the same operations in the
    /// same order as [`softmax_xent_row`]'s loss, so the two agree to the bit.
    softmax_loss_row => softmax_loss_row_body(z: &[f32], y: usize) -> f32
}

#[inline(always)]
fn pointer_sums_body(dots: &[f32], followers: &[u32], target: u32, theta: f32) -> (f32, f32) {
    let max = lane_max(dots);
    let (mut all, mut hit) = ([0f32; LANES], [0f32; LANES]);
    let mut d = dots.chunks_exact(LANES);
    let mut f = followers.chunks_exact(LANES);
    for (dc, fc) in (&mut d).zip(&mut f) {
        for j in 0..LANES {
            let e = super::scalar::fast_exp_f32(theta * (dc[j] - max));
            all[j] += e;
            hit[j] += if fc[j] == target { e } else { 0.0 };
        }
    }
    for (j, (&dv, &fv)) in d.remainder().iter().zip(f.remainder()).enumerate() {
        let e = super::scalar::fast_exp_f32(theta * (dv - max));
        all[j] += e;
        hit[j] += if fv == target { e } else { 0.0 };
    }
    (all.iter().fold(0.0, |s, &l| s + l), hit.iter().fold(0.0, |s, &l| s + l))
}

dispatched! {
    /// The neural cache's two sums at one position, for θ ≥ 0: Σ_i e_i and
    /// Σ_{i : followers_i = target} e_i with e_i = exp(θ·(dots_i − max dots)).
    pointer_sums => pointer_sums_body(dots: &[f32], followers: &[u32], target: u32, theta: f32) -> (f32, f32)
}

dispatched! {
    /// v ← tanh(v) for every element ([`super::scalar::fast_tanh_f32`]).
    tanh_in_place => tanh_body(values: &mut [f32]) -> ()
}

dispatched! {
    /// One row of the fused softmax–cross-entropy: dz = (softmax(z) − onehot(y)) · scale,
    /// returning logsumexp(z) − z[y].
    softmax_xent_row => softmax_xent_row_body(z: &[f32], dz: &mut [f32], y: usize, scale: f32) -> f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_builds_agree_to_the_bit() {
        let z: Vec<f32> = (0..67).map(|i| ((i as f32) * 0.37).sin() * 4.0).collect();
        let (mut a, mut b) = (vec![0.0; 67], vec![0.0; 67]);
        let la = softmax_xent_row(&z, &mut a, 5, 0.25);
        let lb = softmax_xent_row_body(&z, &mut b, 5, 0.25);
        assert_eq!((la.to_bits(), &a), (lb.to_bits(), &b));
        let want = (z.iter().map(|&v| (v as f64).exp()).sum::<f64>()).ln() - z[5] as f64;
        assert!((la as f64 - want).abs() < 1e-5, "{la} vs {want}");
        assert_eq!(softmax_loss_row(&z, 5).to_bits(), la.to_bits());
        assert_eq!(softmax_loss_row_body(&z, 5).to_bits(), la.to_bits());
        let total: f32 = a.iter().sum();
        assert!(total.abs() < 1e-6, "softmax − onehot sums to 0, got {total}");
        let (mut t1, mut t2) = (z.clone(), z.clone());
        tanh_in_place(&mut t1);
        tanh_body(&mut t2);
        assert_eq!(t1, t2);
    }
}
