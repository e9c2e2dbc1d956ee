//! The kernel registry: every WGSL file compiled once into a shader module, every entry
//! point into a compute pipeline (auto layout), built once per device.
//!
//! Modules are built without wgpu's shader runtime checks by default ([`ShaderChecks`]):
//! on an NVIDIA H200 the checks cost 7–39× (docs/gpu.md), while every kernel guards each
//! storage access itself (tests/gpu_guards.rs runs every kernel between guard regions),
//! bounds each loop by a uniform parameter, and divides only by constants or by
//! parameters the launcher has checked to be ≥ 1. Workgroup memory is not zero-filled
//! either: every kernel writes its workgroup arrays before reading them.

use crate::error::{ElmanError, Result};
use std::collections::HashMap;

/// Which of wgpu's shader runtime checks the modules are built with. Chosen by the
/// environment variable `ELMAN_SHADER_CHECKS`: `none` (the default), `all`, or a comma
/// list of `bounds` (clamped buffer and array indices), `loops` (a counter that bounds
/// every loop) and `intdiv` (guarded integer division). Measuring one against another
/// is how docs/gpu.md tells which check costs the time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShaderChecks {
    pub bounds: bool,
    pub loops: bool,
    pub int_div: bool,
}

impl ShaderChecks {
    pub const NONE: ShaderChecks = ShaderChecks { bounds: false, loops: false, int_div: false };
    pub const ALL: ShaderChecks = ShaderChecks { bounds: true, loops: true, int_div: true };
    /// The environment variable that selects the checks.
    pub const ENV: &'static str = "ELMAN_SHADER_CHECKS";

    /// Parses `none`, `all` or a comma list of `bounds`, `loops`, `intdiv`.
    pub fn parse(s: &str) -> Result<ShaderChecks> {
        let mut out = ShaderChecks::NONE;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "none" => {}
                "all" => out = ShaderChecks::ALL,
                "bounds" => out.bounds = true,
                "loops" => out.loops = true,
                "intdiv" => out.int_div = true,
                other => {
                    return Err(ElmanError::Config(format!(
                        "{}: unknown check '{other}' (expected none, all, or a comma list of bounds, loops, intdiv)",
                        Self::ENV
                    )))
                }
            }
        }
        Ok(out)
    }

    /// From `ELMAN_SHADER_CHECKS`, [`ShaderChecks::NONE`] when unset.
    pub fn from_env() -> Result<ShaderChecks> {
        match std::env::var(Self::ENV) {
            Ok(s) => Self::parse(&s),
            Err(std::env::VarError::NotPresent) => Ok(ShaderChecks::NONE),
            Err(std::env::VarError::NotUnicode(_)) => Err(ElmanError::Config(format!("{} is not valid UTF-8", Self::ENV))),
        }
    }

    /// "none", "all" or e.g. "bounds,loops".
    pub fn describe(self) -> String {
        if self == Self::NONE {
            return "none".into();
        }
        if self == Self::ALL {
            return "all".into();
        }
        let names = [(self.bounds, "bounds"), (self.loops, "loops"), (self.int_div, "intdiv")];
        names.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect::<Vec<_>>().join(",")
    }

    fn runtime_checks(self) -> wgpu::ShaderRuntimeChecks {
        wgpu::ShaderRuntimeChecks {
            bounds_checks: self.bounds,
            force_loop_bounding: self.loops,
            int_div_checks: self.int_div,
            ..wgpu::ShaderRuntimeChecks::checked()
        }
    }
}

/// shaders/prelude.wgsl: the per-step uniform and the dropout hash, which several kernels
/// share; prepended to every module (WGSL has no includes).
pub const PRELUDE: &str = include_str!("../../../shaders/prelude.wgsl");

/// shaders/rnn_wave.wgsl: the recurrent kernels' body (one wave's tiles), joined after the
/// prelude before rnn_step.wgsl and rnn_persistent.wgsl, which declare the wave's `p`.
pub const RNN_WAVE: &str = include_str!("../../../shaders/rnn_wave.wgsl");

/// One WGSL file (a kernel family), embedded in the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    Matmul,
    RnnStep,
    Embedding,
    SoftmaxXent,
    Reduce,
    Optimizer,
    Dropout,
    Transpose,
    MiGates,
    RnnPersistent,
}

impl Shader {
    pub const ALL: [Shader; 10] = [
        Shader::Matmul,
        Shader::RnnStep,
        Shader::RnnPersistent,
        Shader::Embedding,
        Shader::SoftmaxXent,
        Shader::Reduce,
        Shader::Optimizer,
        Shader::Dropout,
        Shader::Transpose,
        Shader::MiGates,
    ];

    /// File name under shaders/.
    pub fn file(self) -> &'static str {
        match self {
            Shader::Matmul => "matmul.wgsl",
            Shader::RnnStep => "rnn_step.wgsl",
            Shader::Embedding => "embedding.wgsl",
            Shader::SoftmaxXent => "softmax_xent.wgsl",
            Shader::Reduce => "reduce.wgsl",
            Shader::Optimizer => "optimizer.wgsl",
            Shader::Dropout => "dropout.wgsl",
            Shader::Transpose => "transpose.wgsl",
            Shader::MiGates => "mi_gates.wgsl",
            Shader::RnnPersistent => "rnn_persistent.wgsl",
        }
    }

    /// The module's WGSL: [`PRELUDE`] followed by the file (the recurrent ones with
    /// [`RNN_WAVE`] between them).
    pub fn source(self) -> String {
        match self {
            Shader::RnnStep | Shader::RnnPersistent => format!("{PRELUDE}\n{RNN_WAVE}\n{}", self.file_source()),
            _ => format!("{PRELUDE}\n{}", self.file_source()),
        }
    }

    /// The file's own text, as in shaders/.
    pub fn file_source(self) -> &'static str {
        match self {
            Shader::Matmul => include_str!("../../../shaders/matmul.wgsl"),
            Shader::RnnStep => include_str!("../../../shaders/rnn_step.wgsl"),
            Shader::Embedding => include_str!("../../../shaders/embedding.wgsl"),
            Shader::SoftmaxXent => include_str!("../../../shaders/softmax_xent.wgsl"),
            Shader::Reduce => include_str!("../../../shaders/reduce.wgsl"),
            Shader::Optimizer => include_str!("../../../shaders/optimizer.wgsl"),
            Shader::Dropout => include_str!("../../../shaders/dropout.wgsl"),
            Shader::Transpose => include_str!("../../../shaders/transpose.wgsl"),
            Shader::MiGates => include_str!("../../../shaders/mi_gates.wgsl"),
            Shader::RnnPersistent => include_str!("../../../shaders/rnn_persistent.wgsl"),
        }
    }
}

/// Side of a matmul workgroup's output tile (matmul.wgsl's overridable `TILE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulTile {
    /// 128×128 with 16×16 threads: the most reuse per loaded value, for large products.
    Large,
    /// 64×64 with 8×8 threads: four times the workgroups, for small or thin products.
    Small,
}

impl MatmulTile {
    pub const ALL: [MatmulTile; 2] = [MatmulTile::Large, MatmulTile::Small];

    pub fn side(self) -> u32 {
        match self {
            MatmulTile::Large => 128,
            MatmulTile::Small => 64,
        }
    }

    /// Workgroup memory the pipeline declares: two operands × two buffers × BK = side/16
    /// rows × (side/4 + 1) vec4s.
    pub fn workgroup_bytes(self) -> u32 {
        let side = self.side();
        2 * 2 * (side / 16) * (side / 4 + 1) * 16
    }
}

/// rnn_wave.wgsl's workgroup array of partial sums (1,024 vec4s).
pub const RNN_PARTIAL_BYTES: u32 = 1024 * 16;
/// rnn_step.wgsl's overridable `ROWS` (rows of the result per workgroup): one pipeline each.
pub const RNN_ROWS_PER_TILE: [u32; 5] = [4, 8, 16, 32, 64];
/// Threads per workgroup of the element-wise and reduction kernels (embedding, optimizer,
/// dropout, matmul_reduce, reduce.wgsl, mi_gates) and of rnn_step.
pub const ELEMENTWISE_WG: u32 = 256;
/// softmax_xent.wgsl: threads per row.
pub const SOFTMAX_WG: u32 = 64;
/// transpose.wgsl: the tile side, and the rows of threads that walk it.
pub const TRANSPOSE_TILE: u32 = 32;
pub const TRANSPOSE_WG_ROWS: u32 = 8;

/// How a kernel declares one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
    /// `var<uniform>`.
    Uniform,
}

/// One entry point (with its overridable constants) = one pipeline; named after its CPU
/// twin in `cpu::ops`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    Matmul(MatmulTile),
    MatmulReduce,
    /// Rows of the result per workgroup (one of [`RNN_ROWS_PER_TILE`]).
    RnnStepForward(u32),
    RnnStepBackward(u32),
    /// Every wave of a chunk's recurrence in one dispatch (rows per workgroup as above).
    RnnPersistent(u32),
    /// Zeroes the persistent kernel's arrival counters.
    RnnPersistentReset,
    EmbeddingGather,
    EmbeddingScatterAdd,
    SoftmaxXent,
    SoftmaxXentLoss,
    GradNormPartial,
    GradNormFinish,
    LossSum,
    SumSquares,
    MiGateGrads,
    SgdUpdate,
    AdamUpdate,
    DropoutApply,
    DropoutCopy,
    Transpose,
}

impl Kernel {
    /// Every pipeline the registry builds.
    pub fn all() -> Vec<Kernel> {
        let mut out: Vec<Kernel> = MatmulTile::ALL.iter().map(|&t| Kernel::Matmul(t)).collect();
        out.push(Kernel::MatmulReduce);
        out.extend(RNN_ROWS_PER_TILE.iter().map(|&r| Kernel::RnnStepForward(r)));
        out.extend(RNN_ROWS_PER_TILE.iter().map(|&r| Kernel::RnnStepBackward(r)));
        out.extend(RNN_ROWS_PER_TILE.iter().map(|&r| Kernel::RnnPersistent(r)));
        out.push(Kernel::RnnPersistentReset);
        out.extend([
            Kernel::EmbeddingGather,
            Kernel::EmbeddingScatterAdd,
            Kernel::SoftmaxXent,
            Kernel::SoftmaxXentLoss,
            Kernel::GradNormPartial,
            Kernel::GradNormFinish,
            Kernel::LossSum,
            Kernel::SumSquares,
            Kernel::MiGateGrads,
            Kernel::SgdUpdate,
            Kernel::AdamUpdate,
            Kernel::DropoutApply,
            Kernel::DropoutCopy,
            Kernel::Transpose,
        ]);
        out
    }

    /// The WGSL entry point (and the CPU twin's name); also the kernel's family in the
    /// profile.
    pub fn entry_point(self) -> &'static str {
        match self {
            Kernel::Matmul(_) => "matmul",
            Kernel::MatmulReduce => "matmul_reduce",
            Kernel::RnnStepForward(_) => "rnn_step_forward",
            Kernel::RnnStepBackward(_) => "rnn_step_backward",
            Kernel::RnnPersistent(_) => "rnn_persistent",
            Kernel::RnnPersistentReset => "rnn_persistent_reset",
            Kernel::EmbeddingGather => "embedding_gather",
            Kernel::EmbeddingScatterAdd => "embedding_scatter_add",
            Kernel::SoftmaxXent => "softmax_xent",
            Kernel::SoftmaxXentLoss => "softmax_xent_loss",
            Kernel::GradNormPartial => "grad_norm_partial",
            Kernel::GradNormFinish => "grad_norm_finish",
            Kernel::LossSum => "loss_sum",
            Kernel::SumSquares => "sum_squares",
            Kernel::MiGateGrads => "mi_gate_grads",
            Kernel::SgdUpdate => "sgd_update",
            Kernel::AdamUpdate => "adam_update",
            Kernel::DropoutApply => "dropout_apply",
            Kernel::DropoutCopy => "dropout_copy",
            Kernel::Transpose => "transpose",
        }
    }

    pub fn shader(self) -> Shader {
        match self {
            Kernel::Matmul(_) | Kernel::MatmulReduce => Shader::Matmul,
            Kernel::RnnStepForward(_) | Kernel::RnnStepBackward(_) => Shader::RnnStep,
            Kernel::RnnPersistent(_) | Kernel::RnnPersistentReset => Shader::RnnPersistent,
            Kernel::EmbeddingGather | Kernel::EmbeddingScatterAdd => Shader::Embedding,
            Kernel::SoftmaxXent | Kernel::SoftmaxXentLoss => Shader::SoftmaxXent,
            Kernel::GradNormPartial | Kernel::GradNormFinish | Kernel::LossSum | Kernel::SumSquares => Shader::Reduce,
            Kernel::MiGateGrads => Shader::MiGates,
            Kernel::SgdUpdate | Kernel::AdamUpdate => Shader::Optimizer,
            Kernel::DropoutApply | Kernel::DropoutCopy => Shader::Dropout,
            Kernel::Transpose => Shader::Transpose,
        }
    }

    /// Values of the shader's pipeline-overridable constants for this pipeline.
    pub fn constants(self) -> Vec<(&'static str, f64)> {
        match self {
            Kernel::Matmul(tile) => vec![("TILE", tile.side() as f64)],
            Kernel::RnnStepForward(rows) | Kernel::RnnStepBackward(rows) | Kernel::RnnPersistent(rows) => vec![("ROWS", rows as f64)],
            _ => Vec::new(),
        }
    }

    /// The workgroup size the entry point declares (tests/shaders_validate.rs checks it
    /// against naga's reading of the WGSL, the pipeline's constants applied).
    pub fn workgroup_size(self) -> [u32; 3] {
        match self {
            Kernel::Matmul(tile) => [tile.side() / 8, tile.side() / 8, 1],
            Kernel::Transpose => [TRANSPOSE_TILE, TRANSPOSE_WG_ROWS, 1],
            Kernel::SoftmaxXent | Kernel::SoftmaxXentLoss => [SOFTMAX_WG, 1, 1],
            Kernel::RnnPersistentReset => [1, 1, 1],
            _ => [ELEMENTWISE_WG, 1, 1],
        }
    }

    /// The bindings the entry point uses, by index, as its WGSL declares them; launchers
    /// bind exactly these (ProgramBuilder::push checks), and tests/shaders_validate.rs
    /// checks them against naga's reading of the WGSL.
    pub fn bindings(self) -> &'static [(u32, Access)] {
        use Access::*;
        match self {
            Kernel::Matmul(_) => &[(0, Read), (1, Read), (2, ReadWrite), (3, Read), (4, Uniform)],
            Kernel::MatmulReduce => &[(0, Read), (2, ReadWrite), (3, Read), (4, Uniform)],
            Kernel::RnnStepForward(_) | Kernel::RnnStepBackward(_) => &[(0, Read), (1, ReadWrite), (2, Read), (3, Read), (4, Uniform), (5, Uniform)],
            Kernel::RnnPersistent(_) => {
                &[(0, Read), (1, ReadWrite), (2, Read), (3, Read), (4, Uniform), (5, Uniform), (6, Read), (7, ReadWrite), (8, ReadWrite)]
            }
            Kernel::RnnPersistentReset => &[(7, ReadWrite)],
            Kernel::Transpose => &[(0, Read), (1, ReadWrite), (2, Uniform)],
            Kernel::EmbeddingGather | Kernel::EmbeddingScatterAdd => &[(0, Read), (1, Read), (2, ReadWrite), (3, Uniform)],
            Kernel::SoftmaxXent | Kernel::SoftmaxXentLoss => &[(0, ReadWrite), (1, Read), (2, ReadWrite), (3, Uniform)],
            Kernel::GradNormPartial => &[(0, Read), (1, ReadWrite), (3, Uniform)],
            Kernel::GradNormFinish => &[(0, Read), (1, ReadWrite), (2, ReadWrite), (3, Uniform), (4, Uniform)],
            Kernel::LossSum => &[(0, Read), (2, ReadWrite), (3, Uniform), (4, Uniform)],
            Kernel::SumSquares => &[(0, Read), (1, ReadWrite), (3, Uniform)],
            Kernel::MiGateGrads => &[(0, Read), (1, Read), (2, ReadWrite), (3, Uniform)],
            Kernel::SgdUpdate => &[(0, ReadWrite), (1, Read), (2, ReadWrite), (4, Read), (5, Uniform), (6, Uniform)],
            Kernel::AdamUpdate => &[(0, ReadWrite), (1, Read), (2, ReadWrite), (3, ReadWrite), (4, Read), (5, Uniform), (6, Uniform)],
            Kernel::DropoutApply => &[(1, ReadWrite), (2, Uniform), (3, Uniform)],
            Kernel::DropoutCopy => &[(0, Read), (1, ReadWrite), (2, Uniform), (3, Uniform)],
        }
    }

    /// Workgroup memory the pipeline needs beyond the 16 KiB every adapter offers (the
    /// large matmul tile; the persistent kernel's wave Params beside rnn_wave's 16 KiB of
    /// partial sums), checked against the device before building it.
    pub fn workgroup_bytes(self) -> u32 {
        match self {
            Kernel::Matmul(tile) => tile.workgroup_bytes(),
            Kernel::RnnPersistent(_) => RNN_PARTIAL_BYTES + std::mem::size_of::<super::params::RnnStepParams>() as u32 + 16,
            _ => 0,
        }
    }
}

/// Every pipeline, compiled once.
pub struct Kernels {
    pipelines: HashMap<Kernel, wgpu::ComputePipeline>,
    checks: ShaderChecks,
}

impl Kernels {
    /// Builds every pipeline the device can hold: a kernel whose workgroup memory exceeds
    /// the device's `max_compute_workgroup_storage_size` is left out (see [`Kernels::has`]).
    pub fn new(device: &wgpu::Device, checks: ShaderChecks) -> Self {
        let workgroup_limit = device.limits().max_compute_workgroup_storage_size;
        let modules: HashMap<Shader, wgpu::ShaderModule> = Shader::ALL
            .iter()
            .map(|&s| {
                let desc = wgpu::ShaderModuleDescriptor { label: Some(s.file()), source: wgpu::ShaderSource::Wgsl(s.source().into()) };
                // SAFETY: the modules are our own shaders/*.wgsl, compiled into the binary.
                // Each guards its storage indices against the bounds in its Params (the
                // launchers size those from the bound buffers; tests/gpu_guards.rs checks
                // that nothing outside is written), every loop is bounded by a uniform
                // count, and no integer division has a divisor that can be zero.
                let module = unsafe { device.create_shader_module_trusted(desc, checks.runtime_checks()) };
                (s, module)
            })
            .collect();
        let pipelines = Kernel::all()
            .into_iter()
            .filter(|k| k.workgroup_bytes() <= workgroup_limit)
            .map(|k| {
                let constants = k.constants();
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&format!("{k:?}")),
                    layout: None,
                    module: &modules[&k.shader()],
                    entry_point: Some(k.entry_point()),
                    // Every kernel writes its workgroup arrays before reading them.
                    compilation_options: wgpu::PipelineCompilationOptions { constants: &constants, zero_initialize_workgroup_memory: false },
                    cache: None,
                });
                (k, pipeline)
            })
            .collect();
        Kernels { pipelines, checks }
    }

    /// The runtime checks the modules were built with.
    pub fn checks(&self) -> ShaderChecks {
        self.checks
    }

    /// The pipeline of `kernel`; launchers ask [`Kernels::has`] first for kernels that a
    /// device may lack.
    pub fn pipeline(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        self.pipelines.get(&kernel).unwrap_or_else(|| panic!("pipeline {kernel:?} was not built for this device (launchers check Kernels::has)"))
    }

    /// Whether the device could build `kernel`.
    pub fn has(&self, kernel: Kernel) -> bool {
        self.pipelines.contains_key(&kernel)
    }
}
