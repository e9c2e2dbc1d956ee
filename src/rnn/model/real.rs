//! The element types a model's tensors hold (f32 for training, f64 for gradient checks):
//! what storing, initialising and casting parameters needs. The CPU path's
//! [`crate::rnn::cpu::Scalar`] adds arithmetic, the functions of the model and GEMM on top.

use std::fmt::Debug;

/// f32 or f64, as far as the model's tensors are concerned.
pub trait Real: Copy + Debug + Default + PartialEq + PartialOrd + Send + Sync + 'static {
    fn zero() -> Self;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Real for f32 {
    fn zero() -> Self {
        0.0
    }
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    fn zero() -> Self {
        0.0
    }
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}
