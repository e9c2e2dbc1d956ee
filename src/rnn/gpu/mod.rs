//! The GPU path: WGSL kernels (kernels/) on wgpu, scheduled so that one training step is
//! one queue submission with every tensor resident on the GPU (docs/design.md, "The GPU
//! schedule").
//!
//! Shapes: n = batch rows, T = steps per chunk, d = embedding width, h_l = hidden width of
//! layer l, V = vocabulary.
//!
//! - [`context`]: adapter choice and device ([`GpuContext`], [`list_adapters`]).
//! - [`kernels`]: one module per kernel family (its WGSL, uniform struct, pipelines and
//!   launcher) and the pipeline registry; [`program`]: prepared dispatches.
//! - [`buffers`]: allocation, the parameter offsets, readback; [`buffer_plan`]: every
//!   buffer a model and trainer allocate, by role; [`limits`]: that plan checked against
//!   the adapter.
//! - [`kernel_bench`]: one product or recurrent step per tiling (`bench --gemm`, `--rnn`).
//! - [`profile`]: per-dispatch timestamps summed per kernel family (`bench --profile`).
//! - [`recurrence`]: the layer wavefront (activation layout, the lanes of each wave) and
//!   how its waves are dispatched: per wave, or persistent (all of a chunk's waves in one
//!   dispatch: opt-in, probed, with fallback); [`step_program`]: the
//!   forward/backward/update dispatch list; [`program_cache`]: programs built once per shape.
//! - [`model`]: [`GpuModel`], the forward-only model (evaluation streamed, sampling), which
//!   owns the forward buffers and programs; [`trainer`]: [`GpuTrainer`], a model plus
//!   gradients, optimizer state and the training programs, and the step loop;
//!   [`sampler`]: [`GpuGenerator`], sampling one token per submission.

pub mod buffer_plan;
pub mod buffers;
pub mod context;
pub mod kernel_bench;
pub mod kernels;
pub mod limits;
pub mod model;
pub mod profile;
pub mod program;
pub mod program_cache;
pub mod recurrence;
pub mod sampler;
pub mod step_program;
pub mod tokens;
pub mod trainer;

pub use context::{list_adapters, AdapterSummary, GpuContext};
pub use model::GpuModel;
pub use sampler::GpuGenerator;
pub use trainer::GpuTrainer;
