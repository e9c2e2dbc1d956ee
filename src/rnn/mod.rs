//! The Elman RNN language models.
//!
//! Bottom up:
//! - [`data`]: text → tokens (char, byte, word), vocabularies, batching;
//! - [`model`]: the model's shape, its parameters in one flat allocation, seeded
//!   initialisation, safetensors checkpoints; [`dropout`]: the mask hash both devices draw;
//! - [`backend`]: the device contract: a whole training step, evaluation, the next token;
//! - [`cpu`] and [`gpu`]: the two backends (the CPU path is the reference the GPU is
//!   checked against);
//! - [`devices`]: the device factory (`--device auto|cpu|gpu`); [`memory`]: host memory a
//!   run needs;
//! - [`train`]: the training loop, its settings, learning-rate schedules, run log and
//!   gradient-flow records; [`sample`]: generation; [`bench`]: the benchmark sizes.

pub mod backend;
pub mod bench;
pub mod cpu;
pub mod data;
pub mod devices;
pub mod dropout;
pub mod gpu;
pub mod memory;
pub mod model;
pub mod sample;
pub mod train;
