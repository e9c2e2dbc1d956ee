//! The Elman RNN language model: configuration, parameter tensors (DESIGN.md names and
//! shapes), seeded initialisation and safetensors checkpoints.

pub mod checkpoint;
pub mod config;
pub mod init;
pub mod params;

pub use config::{Activation, ModelConfig};
pub use params::{LayerParams, Params};
