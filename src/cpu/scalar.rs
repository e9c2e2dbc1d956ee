//! The scalar types the CPU path computes in (f32 for training, f64 for gradient checks),
//! and the one matrix product everything routes through (faer GEMM on zero-copy views).

use faer::{Accum, MatMut, MatRef, Par};
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// Products with fewer multiply-adds than this run on one thread (thread hand-off costs
/// more than it saves on tiny shapes).
const PARALLEL_MIN_MACS: usize = 1 << 17;

/// f32 or f64: arithmetic, the few functions the model needs, and GEMM.
pub trait Scalar:
    Copy
    + Debug
    + Default
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    fn zero() -> Self;
    fn one() -> Self;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn tanh(self) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn max(self, other: Self) -> Self;
    fn is_finite(self) -> bool;

    /// C ← [C +] op(A)·op(B), with C [m, n] row-major, op(A) [m, k], op(B) [k, n].
    /// A is stored row-major as [m, k], or as [k, m] when `trans_a`; likewise B.
    #[allow(clippy::too_many_arguments)]
    fn gemm(c: &mut [Self], a: &[Self], b: &[Self], m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool, accumulate: bool);
}

macro_rules! impl_scalar {
    ($t:ty) => {
        impl Scalar for $t {
            fn zero() -> Self {
                0.0
            }
            fn one() -> Self {
                1.0
            }
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
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
                let par = if m * n * k >= PARALLEL_MIN_MACS { Par::rayon(0) } else { Par::Seq };
                faer::linalg::matmul::matmul(dst, beta, lhs, rhs, 1.0, par);
            }
        }
    };
}

impl_scalar!(f32);
impl_scalar!(f64);

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
