//! The GPU path: WGSL kernels (shaders/) on wgpu, scheduled so that one training step is
//! one queue submission with every tensor resident on the GPU (DESIGN.md "GPU schedule").
//!
//! Shapes: n = batch rows, T = steps per chunk, d = embedding width, h_l = hidden width of
//! layer l, V = vocabulary.
//!
//! - [`context`]: adapter choice and device ([`GpuContext`], [`list_adapters`]).
//! - [`kernels`]: the pipeline registry; [`params`]: the uniform structs;
//!   [`program`] + [`launch`]: prepared dispatches and one typed launcher per kernel.
//! - [`buffers`]: allocation, flat parameter layout, readback; [`plan`]: every buffer a
//!   model and trainer allocate, by role; [`limits`]: that plan checked against the adapter.
//! - [`kernel_bench`]: one product or recurrent step per tiling (`bench --gemm`, `--rnn`).
//! - [`profile`]: per-dispatch timestamps summed per kernel family (`bench --profile`).
//! - [`recurrence`]: the layer wavefront (activation layout, the lanes of each wave);
//!   [`persistent`]: all of a chunk's waves in one dispatch (opt-in, probed, with fallback);
//!   [`step_program`]: the forward/backward/update dispatch list.
//! - [`model`]: [`GpuModel`], the forward-only model (evaluation streamed, sampling);
//!   [`trainer`]: [`GpuTrainer`], a model plus gradients and optimizer state;
//!   [`sampler`]: [`GpuGenerator`], sampling one token per submission.

pub mod buffers;
pub mod context;
pub mod kernel_bench;
pub mod kernels;
pub mod launch;
pub mod limits;
pub mod model;
pub mod params;
pub mod persistent;
pub mod plan;
pub mod profile;
pub mod program;
pub mod recurrence;
pub mod tokens;

pub use context::{list_adapters, AdapterSummary, GpuContext};
pub mod sampler;
pub mod step_program;
pub mod trainer;

pub use model::GpuModel;
pub use sampler::GpuGenerator;
pub use trainer::GpuTrainer;
