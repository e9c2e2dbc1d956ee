//! The kernel registry: every WGSL module ([`super::MODULES`]) compiled once into a shader
//! module, every kernel into a compute pipeline (auto layout), built once per device.
//!
//! Modules are built without wgpu's shader runtime checks by default ([`ShaderChecks`]):
//! on an NVIDIA H200 the checks cost 7–39× (docs/gpu.md), while every kernel guards each
//! storage access itself (tests/gpu_guards.rs runs every kernel between guard regions),
//! bounds each loop by a uniform parameter, and divides only by constants or by
//! parameters the launcher has checked to be ≥ 1. Workgroup memory is not zero-filled
//! either: every kernel writes its workgroup arrays before reading them.

use super::{Kernel, MODULES};
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

/// Every pipeline, compiled once, by kernel name.
pub struct Kernels {
    pipelines: HashMap<&'static str, wgpu::ComputePipeline>,
    checks: ShaderChecks,
}

impl Kernels {
    /// Builds every pipeline the device can hold: a kernel whose workgroup memory exceeds
    /// the device's `max_compute_workgroup_storage_size` is left out (see [`Kernels::has`]).
    pub fn new(device: &wgpu::Device, checks: ShaderChecks) -> Self {
        let workgroup_limit = device.limits().max_compute_workgroup_storage_size;
        let mut pipelines = HashMap::new();
        for family in MODULES {
            let desc = wgpu::ShaderModuleDescriptor { label: Some(family.file()), source: wgpu::ShaderSource::Wgsl(family.source().into()) };
            // SAFETY: the modules are our own WGSL files, compiled into the binary. Each
            // guards its storage indices against the bounds in its Params (the launchers
            // size those from the bound buffers; tests/gpu_guards.rs checks that nothing
            // outside is written), every loop is bounded by a uniform count, and no integer
            // division has a divisor that can be zero.
            let module = unsafe { device.create_shader_module_trusted(desc, checks.runtime_checks()) };
            for kernel in (family.kernels)().into_iter().filter(|k| k.workgroup_bytes <= workgroup_limit) {
                let constants: Vec<(&str, f64)> = kernel.overrides.iter().map(|&(name, v)| (name, v as f64)).collect();
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(kernel.name),
                    layout: None,
                    module: &module,
                    entry_point: Some(kernel.entry),
                    // Every kernel writes its workgroup arrays before reading them.
                    compilation_options: wgpu::PipelineCompilationOptions { constants: &constants, zero_initialize_workgroup_memory: false },
                    cache: None,
                });
                pipelines.insert(kernel.name, pipeline);
            }
        }
        Kernels { pipelines, checks }
    }

    /// The runtime checks the modules were built with.
    pub fn checks(&self) -> ShaderChecks {
        self.checks
    }

    /// The pipeline of `kernel`; launchers ask [`Kernels::has`] first for kernels that a
    /// device may lack.
    pub fn pipeline(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        self.pipelines.get(kernel.name).unwrap_or_else(|| panic!("pipeline {} was not built for this device (launchers check Kernels::has)", kernel.name))
    }

    /// Whether the device could build `kernel`.
    pub fn has(&self, kernel: Kernel) -> bool {
        self.pipelines.contains_key(kernel.name)
    }
}

/// Every kernel of every module.
pub fn all_kernels() -> Vec<Kernel> {
    MODULES.iter().flat_map(|m| (m.kernels)()).collect()
}
