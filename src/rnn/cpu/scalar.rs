//! The scalar types the CPU path computes in (f32 for training, f64 for gradient checks),
//! and the one matrix product everything routes through (faer GEMM on zero-copy views).

use faer::{Accum, MatMut, MatRef, Par};
use crate::rnn::model::Real;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// Products with fewer multiply-adds than this run on one thread (thread hand-off costs
/// more than it saves on tiny shapes).
const PARALLEL_MIN_MACS: usize = 1 << 17;

/// f32 or f64 ([`Real`]): arithmetic, the few functions the model needs, and GEMM.
pub trait Scalar:
    Real
    + faer::traits::ComplexField
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    fn one() -> Self;
    fn tanh(self) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn max(self, other: Self) -> Self;
    fn is_finite(self) -> bool;

    /// v ← tanh(v) over a slice (f32: the AVX2 build where the CPU has it).
    fn tanh_in_place(values: &mut [Self]) {
        for v in values {
            *v = v.tanh();
        }
    }

    /// One row of the fused softmax–cross-entropy (see [`super::ops::softmax_xent`]).
    fn softmax_xent_row(z: &[Self], dz: &mut [Self], y: usize, scale: Self) -> Self {
        let max = z.iter().copied().fold(z[0], Self::max);
        let mut sum = Self::zero();
        for (e, &zj) in dz.iter_mut().zip(z) {
            *e = (zj - max).exp();
            sum += *e;
        }
        let inv = Self::one() / sum;
        for e in dz.iter_mut() {
            *e = *e * inv * scale;
        }
        dz[y] -= scale;
        sum.ln() + max - z[y]
    }

    /// One row's cross-entropy logsumexp(z) − z[y] alone (the loss of
    /// [`Scalar::softmax_xent_row`], to the bit).
    fn softmax_loss_row(z: &[Self], y: usize) -> Self {
        let max = z.iter().copied().fold(z[0], Self::max);
        let sum = z.iter().fold(Self::zero(), |s, &zj| s + (zj - max).exp());
        sum.ln() + max - z[y]
    }

    /// C ← [C +] op(A)·op(B), with C [m, n] row-major, op(A) [m, k], op(B) [k, n].
    /// A is stored row-major as [m, k], or as [k, m] when `trans_a`; likewise B.
    #[allow(clippy::too_many_arguments)]
    fn gemm(c: &mut [Self], a: &[Self], b: &[Self], m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool, accumulate: bool);
}

/// tanh in f32 by a rational minimax approximation (the form Eigen uses): odd degree-13
/// numerator over even degree-6 denominator on [−9, 9], ±1 beyond (exact in f32 there).
/// Max abs error < 5e-7 (a unit test pins it), and it vectorizes, unlike libm's `tanhf`.
#[allow(clippy::excessive_precision)] // the coefficients as fitted, rounded by the compiler
#[inline(always)]
pub fn fast_tanh_f32(x: f32) -> f32 {
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_671_5e-11;
    const A11: f32 = 2.000_187_9e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525_2e-3;
    const B2: f32 = 2.268_434_6e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    let x = x.clamp(-9.0, 9.0);
    let x2 = x * x;
    let p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x;
    let q = ((B6 * x2 + B4) * x2 + B2) * x2 + B0;
    (p / q).clamp(-1.0, 1.0)
}

/// e^x in f32, branch-free so loops over it vectorize (libm's `expf` does not): x = k·ln2 + r
/// with |r| ≤ ln2/2 (ln2 split in two parts, Cody–Waite), e^r by a degree-6 Taylor/minimax
/// polynomial, and 2^k put into the exponent bits. Max relative error < 4e-7 (a unit test
/// pins it); inputs are clamped to [−87.3, 88.3], the range where e^x is a normal f32.
#[inline(always)]
pub fn fast_exp_f32(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    let x = x.clamp(-87.3, 88.3);
    let k = (x * LOG2E).round();
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let scale = f32::from_bits(((k as i32 + 127) as u32) << 23);
    p * scale
}

/// How many times to halve a large product: ⌈log2 threads⌉.
fn split_depth() -> u32 {
    let threads = rayon::current_num_threads().max(1);
    usize::BITS - (threads - 1).leading_zeros()
}

/// dst ← [dst +] lhs·rhs, halving the output along its longer side `depth` times and running
/// the halves with `rayon::join`, each half a sequential faer GEMM over the full k. On this
/// 2-core machine that is 5–30 % faster than faer's own `Par::rayon` split on every shape of
/// a training step (e.g. the recurrent [32×512]·[512×512]: 98 µs vs 129 µs). Every output
/// element is still one sequential dot product, so results do not depend on scheduling.
fn gemm_split<T>(dst: MatMut<'_, T>, beta: Accum, lhs: MatRef<'_, T>, rhs: MatRef<'_, T>, depth: u32)
where
    T: faer::traits::ComplexField + Send + Sync,
{
    let (m, n) = (dst.nrows(), dst.ncols());
    if depth == 0 || m.max(n) < 2 {
        faer::linalg::matmul::matmul(dst, beta, lhs, rhs, T::one_impl(), Par::Seq);
    } else if n >= m {
        let (d0, d1) = dst.split_at_col_mut(n / 2);
        let (r0, r1) = rhs.split_at_col(n / 2);
        rayon::join(|| gemm_split(d0, beta, lhs, r0, depth - 1), || gemm_split(d1, beta, lhs, r1, depth - 1));
    } else {
        let (d0, d1) = dst.split_at_row_mut(m / 2);
        let (l0, l1) = lhs.split_at_row(m / 2);
        rayon::join(|| gemm_split(d0, beta, l0, rhs, depth - 1), || gemm_split(d1, beta, l1, rhs, depth - 1));
    }
}

macro_rules! impl_scalar {
    ($t:ty, $tanh:expr, $exp:expr $(, $extra:item)*) => {
        impl Scalar for $t {
            $($extra)*
            fn one() -> Self {
                1.0
            }
            fn tanh(self) -> Self {
                $tanh(self)
            }
            fn exp(self) -> Self {
                $exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            fn gemm(c: &mut [Self], a: &[Self], b: &[Self], m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool, accumulate: bool) {
                assert_eq!(c.len(), m * n, "gemm: C holds m·n values");
                assert_eq!(a.len(), m * k, "gemm: A holds m·k values");
                assert_eq!(b.len(), k * n, "gemm: B holds k·n values");
                if m == 0 || n == 0 {
                    return;
                }
                let lhs = if trans_a {
                    MatRef::from_row_major_slice(a, k, m).transpose()
                } else {
                    MatRef::from_row_major_slice(a, m, k)
                };
                let rhs = if trans_b {
                    MatRef::from_row_major_slice(b, n, k).transpose()
                } else {
                    MatRef::from_row_major_slice(b, k, n)
                };
                let dst = MatMut::from_row_major_slice_mut(c, m, n);
                let beta = if accumulate { Accum::Add } else { Accum::Replace };
                let depth = if m * n * k >= PARALLEL_MIN_MACS { split_depth() } else { 0 };
                gemm_split(dst, beta, lhs, rhs, depth);
            }
        }
    };
}

impl_scalar!(
    f32,
    fast_tanh_f32,
    fast_exp_f32,
    fn tanh_in_place(values: &mut [f32]) {
        super::simd::tanh_in_place(values)
    },
    fn softmax_xent_row(z: &[f32], dz: &mut [f32], y: usize, scale: f32) -> f32 {
        super::simd::softmax_xent_row(z, dz, y, scale)
    },
    fn softmax_loss_row(z: &[f32], y: usize) -> f32 {
        super::simd::softmax_loss_row(z, y)
    }
);
impl_scalar!(f64, f64::tanh, f64::exp);

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn transpose(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
        let mut t = vec![0.0; x.len()];
        for r in 0..rows {
            for c in 0..cols {
                t[c * rows + r] = x[r * cols + c];
            }
        }
        t
    }

    #[test]
    fn fast_tanh_is_accurate_everywhere() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4; // [-20, 20]
            let err = (fast_tanh_f32(x) as f64 - (x as f64).tanh()).abs();
            worst = worst.max(err);
        }
        assert!(worst < 5e-7, "max abs error {worst:e}");
        assert_eq!(fast_tanh_f32(0.0), 0.0);
        assert_eq!(fast_tanh_f32(f32::INFINITY), 1.0);
        assert!(fast_tanh_f32(f32::NAN).is_nan());
    }

    #[test]
    fn fast_exp_is_accurate_over_the_normal_range() {
        let mut worst = 0.0f64;
        for i in -873_000..=883_000 {
            let x = i as f32 * 1e-4;
            let want = (x as f64).exp();
            let rel = (fast_exp_f32(x) as f64 - want).abs() / want;
            worst = worst.max(rel);
        }
        assert!(worst < 4e-7, "max relative error {worst:e}");
        assert_eq!(fast_exp_f32(0.0), 1.0);
        assert!(fast_exp_f32(-1000.0) > 0.0 && fast_exp_f32(-1000.0) < 1e-37);
    }

    #[test]
    fn gemm_matches_naive_in_every_transpose_mode() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let at = transpose(&a, m, k);
        let bt = transpose(&b, k, n);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut c = vec![1.0; m * n];
            let aa = if ta { &at } else { &a };
            let bb = if tb { &bt } else { &b };
            f64::gemm(&mut c, aa, bb, m, k, n, ta, tb, true);
            for (g, w) in c.iter().zip(&want) {
                assert!((g - (w + 1.0)).abs() < 1e-12, "mode {ta},{tb}: {g} vs {}", w + 1.0);
            }
        }
    }
}
