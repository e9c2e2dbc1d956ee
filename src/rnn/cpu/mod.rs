//! CPU reference path: forward, BPTT, clipping and optimizers in plain loops plus faer
//! GEMMs. It is the oracle the GPU path is checked against and the CPU baseline.

pub mod bptt;
pub mod flow;
mod generator;
pub mod machine;
pub mod mi;
pub mod ops;
pub mod recurrence;
mod scalar;
pub mod simd;
mod trainer;

pub use generator::CpuGenerator;
pub use scalar::Scalar;
pub use trainer::{CpuModel, CpuTrainer};
