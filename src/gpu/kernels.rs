//! The kernel registry: every WGSL file compiled once into a shader module, every entry
//! point into a compute pipeline (auto layout), built once per device.

use std::collections::HashMap;

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
}

impl Shader {
    pub const ALL: [Shader; 7] = [
        Shader::Matmul,
        Shader::RnnStep,
        Shader::Embedding,
        Shader::SoftmaxXent,
        Shader::Reduce,
        Shader::Optimizer,
        Shader::Dropout,
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
        }
    }

    pub fn source(self) -> &'static str {
        match self {
            Shader::Matmul => include_str!("../../shaders/matmul.wgsl"),
            Shader::RnnStep => include_str!("../../shaders/rnn_step.wgsl"),
            Shader::Embedding => include_str!("../../shaders/embedding.wgsl"),
            Shader::SoftmaxXent => include_str!("../../shaders/softmax_xent.wgsl"),
            Shader::Reduce => include_str!("../../shaders/reduce.wgsl"),
            Shader::Optimizer => include_str!("../../shaders/optimizer.wgsl"),
            Shader::Dropout => include_str!("../../shaders/dropout.wgsl"),
        }
    }
}

/// One entry point = one pipeline; named after its CPU twin in `cpu::ops`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    Matmul,
    RnnStepForward,
    RnnStepBackward,
    EmbeddingGather,
    EmbeddingScatterAdd,
    SoftmaxXent,
    SoftmaxXentLoss,
    BiasGrad,
    GradNormPartial,
    GradNormFinish,
    LossSum,
    SgdUpdate,
    AdamUpdate,
    DropoutApply,
    DropoutCopy,
}

impl Kernel {
    pub const ALL: [Kernel; 15] = [
        Kernel::Matmul,
        Kernel::RnnStepForward,
        Kernel::RnnStepBackward,
        Kernel::EmbeddingGather,
        Kernel::EmbeddingScatterAdd,
        Kernel::SoftmaxXent,
        Kernel::SoftmaxXentLoss,
        Kernel::BiasGrad,
        Kernel::GradNormPartial,
        Kernel::GradNormFinish,
        Kernel::LossSum,
        Kernel::SgdUpdate,
        Kernel::AdamUpdate,
        Kernel::DropoutApply,
        Kernel::DropoutCopy,
    ];

    /// The WGSL entry point (and the CPU twin's name).
    pub fn entry_point(self) -> &'static str {
        match self {
            Kernel::Matmul => "matmul",
            Kernel::RnnStepForward => "rnn_step_forward",
            Kernel::RnnStepBackward => "rnn_step_backward",
            Kernel::EmbeddingGather => "embedding_gather",
            Kernel::EmbeddingScatterAdd => "embedding_scatter_add",
            Kernel::SoftmaxXent => "softmax_xent",
            Kernel::SoftmaxXentLoss => "softmax_xent_loss",
            Kernel::BiasGrad => "bias_grad",
            Kernel::GradNormPartial => "grad_norm_partial",
            Kernel::GradNormFinish => "grad_norm_finish",
            Kernel::LossSum => "loss_sum",
            Kernel::SgdUpdate => "sgd_update",
            Kernel::AdamUpdate => "adam_update",
            Kernel::DropoutApply => "dropout_apply",
            Kernel::DropoutCopy => "dropout_copy",
        }
    }

    pub fn shader(self) -> Shader {
        match self {
            Kernel::Matmul => Shader::Matmul,
            Kernel::RnnStepForward | Kernel::RnnStepBackward => Shader::RnnStep,
            Kernel::EmbeddingGather | Kernel::EmbeddingScatterAdd => Shader::Embedding,
            Kernel::SoftmaxXent | Kernel::SoftmaxXentLoss => Shader::SoftmaxXent,
            Kernel::BiasGrad | Kernel::GradNormPartial | Kernel::GradNormFinish | Kernel::LossSum => Shader::Reduce,
            Kernel::SgdUpdate | Kernel::AdamUpdate => Shader::Optimizer,
            Kernel::DropoutApply | Kernel::DropoutCopy => Shader::Dropout,
        }
    }
}

/// Every pipeline, compiled once.
pub struct Kernels {
    pipelines: HashMap<Kernel, wgpu::ComputePipeline>,
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Self {
        let modules: HashMap<Shader, wgpu::ShaderModule> = Shader::ALL
            .iter()
            .map(|&s| {
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(s.file()),
                    source: wgpu::ShaderSource::Wgsl(s.source().into()),
                });
                (s, module)
            })
            .collect();
        let pipelines = Kernel::ALL
            .iter()
            .map(|&k| {
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(k.entry_point()),
                    layout: None,
                    module: &modules[&k.shader()],
                    entry_point: Some(k.entry_point()),
                    compilation_options: Default::default(),
                    cache: None,
                });
                (k, pipeline)
            })
            .collect();
        Kernels { pipelines }
    }

    pub fn pipeline(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        &self.pipelines[&kernel]
    }
}
