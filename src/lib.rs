//! elman: Elman RNN and n-gram language models, trained on any wgpu GPU (WGSL kernels)
//! or on a CPU reference path that checks every GPU result.
//!
//! Two wings over a few shared pieces:
//! - [`rnn`]: the recurrent models: their data, parameters, CPU and GPU backends, the
//!   training loop and its settings, sampling;
//! - [`ngram`]: n-gram Markov models: counting, smoothing, ARPA and binary files, scoring;
//! - [`combine`]: the two used together: per-token RNN scores, RNN + n-gram interpolation,
//!   the neural cache, dynamic evaluation and n-best rescoring;
//! - shared by both: [`error`], [`choice`] (named choices), [`rng`] (the project's seeded
//!   generator), [`host`] (atomic files, the run lock, available memory) and
//!   [`untrusted`] (every reader of untrusted bytes, for the fuzzers).
//!
//! Shape legend used throughout: n = batch rows, T = time steps per chunk, d = embedding
//! width, h_l = hidden width of layer l, V = vocabulary size. Activations are row-major
//! `[rows, width]`, weights `[in, out]` (row-vector convention, docs/design.md).

pub mod choice;
pub mod combine;
pub mod error;
pub mod host;
pub mod ngram;
pub mod rng;
pub mod rnn;
pub mod untrusted;
