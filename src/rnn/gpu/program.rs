//! Prepared work: a [`Program`] is a fixed list of dispatches (pipeline, bind group,
//! workgroup counts) whose bind groups and uniform parameters are built once, then
//! replayed into a compute pass every step. Typed launchers (kernels/*.rs) append to a
//! [`ProgramBuilder`]; nothing here submits or waits — the scheduler owns that.
//!
//! Each dispatch's `Params` get their own slot (aligned to the device's
//! min_uniform_buffer_offset_alignment) in one uniform buffer per program, so per-time-step
//! parameters (t, offsets) need no writes between dispatches.

use super::context::GpuContext;
use super::kernels::{Access, Kernel};
use wgpu::util::DeviceExt;

/// One resource bound at a binding index.
pub enum Bind<'a> {
    /// A whole storage buffer.
    Buffer(&'a wgpu::Buffer),
    /// This dispatch's `Params` slot in the program's uniform buffer.
    Params,
    /// The per-step uniform ([`super::kernels::prelude::StepParams`]) given to the builder.
    Step,
    /// The scratch buffer (split-K partial products) from the context's shared one, at
    /// least the largest [`ProgramBuilder::need_scratch`].
    Scratch,
}

enum PendingBind {
    Buffer(wgpu::Buffer),
    Params,
    Step,
    Scratch,
}

/// What one dispatch does, counted from its shapes for the profile: floating-point
/// operations, and the fewest bytes it must move (each operand read once, each result
/// written once).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cost {
    pub flops: f64,
    pub bytes: f64,
}

impl Cost {
    /// `flops` operations over `elements` f32/u32 values moved.
    pub fn new(flops: f64, elements: f64) -> Cost {
        Cost { flops, bytes: 4.0 * elements }
    }
}

/// One recorded dispatch, as the profile and the structural tests see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DispatchInfo {
    pub kernel: Kernel,
    /// The workgroup counts; [0, 0, 0] for an indirect dispatch (the GPU writes its counts).
    pub workgroups: [u32; 3],
    pub cost: Cost,
}

/// How many workgroups a dispatch launches: counts fixed when the program is built, or
/// read by the GPU from the first 12 bytes of a buffer when it runs (the persistent
/// kernel's fallback, rnn_persistent.wgsl).
#[derive(Clone)]
pub enum Grid {
    Direct([u32; 3]),
    Indirect(wgpu::Buffer),
}

impl Grid {
    fn counts(&self) -> [u32; 3] {
        match self {
            Grid::Direct(counts) => *counts,
            Grid::Indirect(_) => [0, 0, 0],
        }
    }

    fn dispatch(&self, pass: &mut wgpu::ComputePass) {
        match self {
            Grid::Direct([x, y, z]) => pass.dispatch_workgroups(*x, *y, *z),
            Grid::Indirect(args) => pass.dispatch_workgroups_indirect(args, 0),
        }
    }
}

struct Pending {
    kernel: Kernel,
    cost: Cost,
    binds: Vec<(u32, PendingBind)>,
    params_offset: u64,
    params_size: u64,
    grid: Grid,
}

/// Collects dispatches; [`ProgramBuilder::finish`] creates the uniform buffer and bind groups.
pub struct ProgramBuilder<'c> {
    ctx: &'c GpuContext,
    label: String,
    step: Option<wgpu::Buffer>,
    uniforms: Vec<u8>,
    pending: Vec<Pending>,
    scratch_len: usize,
    /// Bytes of storage buffers the launchers made for this program alone.
    owned_bytes: u64,
}

/// A recorded sequence of dispatches, replayable any number of times.
pub struct Program {
    label: String,
    dispatches: Vec<(Kernel, wgpu::BindGroup, Grid)>,
    costs: Vec<Cost>,
    /// Bytes the program allocated: its uniforms, and the shared scratch's growth if it
    /// made it grow (kept alive by the bind groups).
    pub bytes: u64,
}

impl<'c> ProgramBuilder<'c> {
    /// `step`: the per-step uniform buffer, required by kernels that bind [`Bind::Step`].
    pub fn new(ctx: &'c GpuContext, label: &str, step: Option<&wgpu::Buffer>) -> Self {
        ProgramBuilder { ctx, label: label.to_string(), step: step.cloned(), uniforms: Vec::new(), pending: Vec::new(), scratch_len: 0, owned_bytes: 0 }
    }

    /// The device this program is built for.
    pub fn context(&self) -> &GpuContext {
        self.ctx
    }

    /// Makes the scratch buffer hold at least `len` f32 elements.
    pub fn need_scratch(&mut self, len: usize) {
        self.scratch_len = self.scratch_len.max(len);
    }

    /// A read-only storage buffer holding `bytes`, made for this program (and counted in
    /// its bytes); the program's bind groups keep it alive.
    pub fn storage_data(&mut self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        self.owned_bytes += bytes.len() as u64;
        self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents: bytes, usage: wgpu::BufferUsages::STORAGE })
    }

    /// Appends one dispatch of `kernel` with `params` (a Pod `Params` struct, as bytes);
    /// `cost` is what the profile credits it with.
    pub fn push(&mut self, kernel: Kernel, binds: &[(u32, Bind)], params: &[u8], workgroups: [u32; 3], cost: Cost) {
        self.push_grid(kernel, binds, params, Grid::Direct(workgroups), cost);
    }

    /// [`ProgramBuilder::push`] with the workgroup counts given as a [`Grid`].
    pub fn push_grid(&mut self, kernel: Kernel, binds: &[(u32, Bind)], params: &[u8], grid: Grid, cost: Cost) {
        // The launcher binds exactly what the kernel declares: storage buffers at its storage
        // bindings, uniforms at its uniform ones (KernelDesc::bindings, pinned to the WGSL by
        // naga).
        let declared: Vec<(u32, bool)> = kernel.bindings.iter().map(|&(i, a)| (i, a == Access::Uniform)).collect();
        let given: Vec<(u32, bool)> = binds.iter().map(|(i, b)| (*i, matches!(b, Bind::Params | Bind::Step))).collect();
        assert_eq!(given, declared, "{}: the launcher's bindings (index, uniform) differ from the kernel's", kernel.name);
        let align = self.ctx.limits().min_uniform_buffer_offset_alignment as usize;
        let params_offset = self.uniforms.len().div_ceil(align) * align;
        self.uniforms.resize(params_offset, 0);
        self.uniforms.extend_from_slice(params);
        let binds = binds
            .iter()
            .map(|(i, b)| {
                let pb = match b {
                    Bind::Buffer(buf) => PendingBind::Buffer((*buf).clone()),
                    Bind::Params => PendingBind::Params,
                    Bind::Step => PendingBind::Step,
                    Bind::Scratch => PendingBind::Scratch,
                };
                (*i, pb)
            })
            .collect();
        self.pending.push(Pending {
            kernel,
            cost,
            binds,
            params_offset: params_offset as u64,
            params_size: params.len() as u64,
            grid,
        });
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn finish(self) -> Program {
        let device = &self.ctx.device;
        let mut bytes = self.uniforms;
        bytes.resize(bytes.len().max(16).div_ceil(16) * 16, 0);
        let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&format!("{} params", self.label)),
            contents: &bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let (scratch, scratch_bytes) = if self.scratch_len > 0 {
            let (buffer, allocated) = self.ctx.scratch(super::buffers::padded_bytes(self.scratch_len));
            (Some(buffer), allocated)
        } else {
            (None, 0)
        };
        let dispatches = self
            .pending
            .iter()
            .map(|p| {
                let pipeline = self.ctx.kernels.pipeline(p.kernel);
                let entries: Vec<wgpu::BindGroupEntry> = p
                    .binds
                    .iter()
                    .map(|(i, b)| {
                        let resource = match b {
                            PendingBind::Buffer(buf) => buf.as_entire_binding(),
                            PendingBind::Params => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &uniform,
                                offset: p.params_offset,
                                size: wgpu::BufferSize::new(p.params_size),
                            }),
                            PendingBind::Step => self
                                .step
                                .as_ref()
                                .expect("a kernel that binds the step uniform was given one by its builder")
                                .as_entire_binding(),
                            PendingBind::Scratch => scratch
                                .as_ref()
                                .expect("a launcher that binds the scratch buffer asked for its size with need_scratch")
                                .as_entire_binding(),
                        };
                        wgpu::BindGroupEntry { binding: *i, resource }
                    })
                    .collect();
                let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(p.kernel.name),
                    layout: &pipeline.get_bind_group_layout(0),
                    entries: &entries,
                });
                (p.kernel, bind_group, p.grid.clone())
            })
            .collect();
        let costs = self.pending.iter().map(|p| p.cost).collect();
        Program { label: self.label, dispatches, costs, bytes: bytes.len() as u64 + scratch_bytes + self.owned_bytes }
    }
}

impl Program {
    /// Records every dispatch, in order, into `pass`. wgpu orders dispatches that share a
    /// written buffer, so each one sees its predecessors' results.
    pub fn record(&self, ctx: &GpuContext, pass: &mut wgpu::ComputePass) {
        for (kernel, bind_group, grid) in &self.dispatches {
            pass.set_pipeline(ctx.kernels.pipeline(kernel));
            pass.set_bind_group(0, bind_group, &[]);
            grid.dispatch(pass);
        }
    }

    /// Like [`Program::record`], with a timestamp written into `queries` before the first
    /// dispatch (index `first`) and after each one (`first + 1 + i`), so consecutive
    /// differences time each dispatch (TIMESTAMP_QUERY_INSIDE_PASSES).
    pub fn record_timed(&self, ctx: &GpuContext, pass: &mut wgpu::ComputePass, queries: &wgpu::QuerySet, first: u32) {
        pass.write_timestamp(queries, first);
        for (i, (kernel, bind_group, grid)) in self.dispatches.iter().enumerate() {
            pass.set_pipeline(ctx.kernels.pipeline(kernel));
            pass.set_bind_group(0, bind_group, &[]);
            grid.dispatch(pass);
            pass.write_timestamp(queries, first + 1 + i as u32);
        }
    }

    /// Records each dispatch in a compute pass of its own whose beginning and end write
    /// timestamps `first + 2i` and `first + 2i + 1` (adapters with TIMESTAMP_QUERY but
    /// without timestamps inside passes).
    pub fn record_pass_per_dispatch(&self, ctx: &GpuContext, encoder: &mut wgpu::CommandEncoder, queries: &wgpu::QuerySet, first: u32) {
        for (i, (kernel, bind_group, grid)) in self.dispatches.iter().enumerate() {
            let at = first + 2 * i as u32;
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(kernel.name),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: queries,
                    beginning_of_pass_write_index: Some(at),
                    end_of_pass_write_index: Some(at + 1),
                }),
            });
            pass.set_pipeline(ctx.kernels.pipeline(kernel));
            pass.set_bind_group(0, bind_group, &[]);
            grid.dispatch(&mut pass);
        }
    }

    /// Every dispatch in order: kernel, workgroup counts, cost.
    pub fn dispatches(&self) -> Vec<DispatchInfo> {
        self.dispatches
            .iter()
            .zip(&self.costs)
            .map(|((kernel, _, grid), cost)| DispatchInfo { kernel, workgroups: grid.counts(), cost: *cost })
            .collect()
    }

    /// Encodes the program in its own compute pass and submits it (tests, one-off work).
    pub fn submit(&self, ctx: &GpuContext) {
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(&self.label) });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(&self.label), timestamp_writes: None });
            self.record(ctx, &mut pass);
        }
        ctx.queue.submit([encoder.finish()]);
    }

    /// Whether it runs the persistent recurrence (rnn_persistent.wgsl).
    pub fn has_persistent(&self) -> bool {
        self.dispatches.iter().any(|(k, _, _)| super::kernels::rnn_persistent::PERSISTENT.contains(k))
    }

    /// Number of dispatches per replay.
    pub fn len(&self) -> usize {
        self.dispatches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dispatches.is_empty()
    }
}
