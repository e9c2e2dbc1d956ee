//! The GPU kernels, one module per kernel family, each declaring everything about its
//! kernels once, beside its WGSL file (`<family>.wgsl` in this folder):
//! - the WGSL text, and the constants the host owns ([`Wgsl::constants`]: written as
//!   `const` lines at the head of the module, so the WGSL uses the Rust values and no
//!   number is written twice);
//! - its uniform `Params` struct, `#[repr(C)]`, whose members naga holds to the WGSL
//!   struct of the same name (tests/shaders_validate.rs);
//! - one [`KernelDesc`] per pipeline: entry point, pipeline-overridable constants,
//!   workgroup size, bindings, workgroup memory (naga checks each against the WGSL too);
//! - its typed launcher (a method of [`super::program::ProgramBuilder`]) and the cost it
//!   credits each dispatch with.
//!
//! Adding a kernel family: its `.wgsl` and `.rs` here, a line in [`MODULES`], its CPU twin
//! in `rnn/cpu/ops.rs`, and a test against the twin (tests/gpu_kernels.rs). The pipeline
//! registry ([`registry`]) and the naga checks read [`MODULES`].
//!
//! Shapes: n = rows per time step, R = n·T rows, h = width, V = vocabulary.

/// Field names and byte offsets of a uniform struct, in declaration order, for the naga
/// test that pins each struct to its WGSL twin (tests/shaders_validate.rs).
pub trait UniformLayout {
    const FIELDS: &'static [(&'static str, usize)];
}

/// Declares a `#[repr(C)]` Pod uniform struct (u32/f32 members, padded to 16 bytes) and
/// its [`UniformLayout`].
macro_rules! uniform {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $crate::rnn::gpu::kernels::UniformLayout for $name {
            const FIELDS: &'static [(&'static str, usize)] = &[$((stringify!($field), std::mem::offset_of!($name, $field))),*];
        }
    };
}

pub mod dropout;
pub mod embedding;
pub mod matmul;
pub mod mi_gates;
pub mod optimizer;
pub mod prelude;
pub mod reduce;
pub mod registry;
pub mod rnn_persistent;
pub mod rnn_step;
pub mod rnn_wave;
pub mod softmax_xent;
pub mod transpose;

pub use registry::{Kernels, ShaderChecks};

/// Every WGSL module, each built once per device ([`registry::Kernels`]).
pub static MODULES: [&KernelModule; 10] = [
    &matmul::MODULE,
    &rnn_step::MODULE,
    &rnn_persistent::MODULE,
    &embedding::MODULE,
    &softmax_xent::MODULE,
    &reduce::MODULE,
    &optimizer::MODULE,
    &dropout::MODULE,
    &transpose::MODULE,
    &mi_gates::MODULE,
];

/// How a kernel declares one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
    /// `var<uniform>`.
    Uniform,
}

/// A uniform struct as the WGSL names it and as its Rust mirror lays it out.
#[derive(Debug)]
pub struct UniformMirror {
    /// The WGSL struct's name.
    pub wgsl: &'static str,
    /// The Rust mirror's members (name, byte offset) and size.
    pub fields: &'static [(&'static str, usize)],
    pub size: usize,
}

impl UniformMirror {
    /// The mirror of `T`, declared in WGSL as `wgsl`.
    pub const fn of<T: UniformLayout>(wgsl: &'static str) -> UniformMirror {
        UniformMirror { wgsl, fields: T::FIELDS, size: std::mem::size_of::<T>() }
    }
}

/// One WGSL file with what the host gives it.
#[derive(Debug)]
pub struct Wgsl {
    /// Its file name in this folder.
    pub file: &'static str,
    pub text: &'static str,
    /// `const NAME: u32 = value;` lines the host writes before the text.
    pub constants: &'static [(&'static str, u32)],
    /// The uniform structs it declares, with their Rust mirrors.
    pub uniforms: &'static [UniformMirror],
}

impl Wgsl {
    /// The text preceded by the host's constants.
    pub fn with_constants(&self) -> String {
        let mut out = format!("// {}: constants from the host ({}.rs)\n", self.file, self.file.trim_end_matches(".wgsl"));
        for (name, value) in self.constants {
            out.push_str(&format!("const {name}: u32 = {value}u;\n"));
        }
        out.push('\n');
        out.push_str(self.text);
        out
    }
}

/// One entry point with its pipeline constants: one pipeline, named after its CPU twin in
/// `rnn/cpu/ops.rs`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KernelDesc {
    /// Unique among all kernels: the pipeline's label and its key in the registry
    /// (`matmul/128`).
    pub name: &'static str,
    /// The WGSL entry point, and the kernel's family in the profile.
    pub entry: &'static str,
    /// Values of the module's pipeline-overridable constants for this pipeline.
    pub overrides: &'static [(&'static str, u32)],
    /// The workgroup size the entry point declares (overrides applied).
    pub workgroup_size: [u32; 3],
    /// The bindings the entry point uses, by index; launchers bind exactly these
    /// (ProgramBuilder::push checks).
    pub bindings: &'static [(u32, Access)],
    /// Workgroup memory the pipeline needs beyond the 16 KiB every adapter offers,
    /// checked against the device before it is built (0: within that).
    pub workgroup_bytes: u32,
}

impl KernelDesc {
    /// A kernel named after its entry point, with no overridable constants and no
    /// workgroup memory beyond the 16 KiB every adapter offers.
    pub const fn plain(entry: &'static str, workgroup_size: [u32; 3], bindings: &'static [(u32, Access)]) -> KernelDesc {
        KernelDesc { name: entry, entry, overrides: &[], workgroup_size, bindings, workgroup_bytes: 0 }
    }
}

/// A kernel, as programs, the registry and the profile refer to it.
pub type Kernel = &'static KernelDesc;

/// One WGSL module: its files joined in order (the shared prelude first) and the pipelines
/// built from it.
#[derive(Debug)]
pub struct KernelModule {
    pub parts: &'static [&'static Wgsl],
    /// Every pipeline of the module.
    pub kernels: fn() -> Vec<Kernel>,
}

impl KernelModule {
    /// The family's own file (the last part).
    pub fn file(&self) -> &'static str {
        self.parts.last().expect("a module has its own file").file
    }

    /// The module's WGSL: every part with its constants, in order (WGSL has no includes).
    pub fn source(&self) -> String {
        self.parts.iter().map(|w| w.with_constants()).collect::<Vec<_>>().join("\n")
    }
}

/// Most workgroups along one dispatch dimension (WebGPU's guaranteed minimum).
const MAX_GROUPS_PER_DIM: u32 = 65535;

/// A grid of at least `groups` workgroups, spilling into y past 65535 (kernels flatten
/// (x, y) back into one index and bounds-check it).
pub fn grid_1d(groups: u32) -> [u32; 3] {
    let groups = groups.max(1);
    let x = groups.min(MAX_GROUPS_PER_DIM);
    [x, groups.div_ceil(x), 1]
}
