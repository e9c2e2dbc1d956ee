//! elman: Elman RNN and n-gram language models, trained on any wgpu GPU (WGSL kernels)
//! or on a CPU reference path that checks every GPU result.
//!
//! Shape legend used throughout: n = batch rows, T = time steps per chunk, d = embedding
//! width, h_l = hidden width of layer l, V = vocabulary size. Activations are row-major
//! `[rows, width]`, weights `[in, out]` (row-vector convention, see DESIGN.md).

pub mod atomic_file;
pub mod bench;
pub mod choice;
pub mod cpu;
pub mod data;
pub mod dropout;
pub mod error;
pub mod gpu;
pub mod gradflow;
pub mod memory;
pub mod model;
pub mod plot;
pub mod ngram;
pub mod rng;
pub mod run_lock;
pub mod sample;
pub mod settings;
pub mod runlog;
pub mod lr_schedule;
pub mod train_loop;
pub mod trainer;
pub mod untrusted;
