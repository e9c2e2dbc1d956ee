//! The Elman RNN language model: configuration, the parameter tensors in one flat
//! allocation with named views (checkpoint names and shapes in docs/design.md), their
//! element types, optimizer moments of the same layout, seeded initialisation and
//! safetensors checkpoints. Nothing here knows a device or a trainer.

pub mod checkpoint;
pub mod config;
pub mod init;
pub mod layout;
pub mod params;
pub mod real;

pub use config::{Activation, Cell, ModelConfig};
pub use layout::{ParamLayout, TensorSlot, TENSOR_ALIGN};
pub use params::{MiGates, MiGatesMut, OptimizerState, Params};
pub use real::Real;
