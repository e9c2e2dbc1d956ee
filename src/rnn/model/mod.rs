//! The Elman RNN language model: configuration, parameter tensors (DESIGN.md names and
//! shapes), their element types, optimizer moments of the same shapes, seeded
//! initialisation and safetensors checkpoints. Nothing here knows a device or a trainer.

pub mod checkpoint;
pub mod config;
pub mod init;
pub mod params;
pub mod real;

pub use config::{Activation, Cell, ModelConfig};
pub use params::{LayerParams, MiGates, OptimizerState, Params};
pub use real::Real;
