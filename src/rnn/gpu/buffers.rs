//! GPU memory: storage buffers with a running byte count, the flat parameter layout
//! (every tensor at an aligned element offset in one buffer, so one dispatch updates
//! them all and one reduction takes the global norm), and blocking readback.

use super::context::GpuContext;
use crate::error::{ElmanError, Result};
use crate::rnn::model::{ModelConfig, Params};
use wgpu::util::DeviceExt;

/// Tensor offsets are rounded up to this many elements (256 bytes) so each tensor starts
/// on a fresh cache line / memory transaction; the pads stay zero forever.
pub const TENSOR_ALIGN: usize = 64;

/// Where each canonical tensor (order of [`ModelConfig::tensor_shapes`]) lives in the flat
/// parameter buffer; gradients and optimizer moments use the same layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    pub offsets: Vec<usize>,
    pub lens: Vec<usize>,
    /// Total elements including pads.
    pub total: usize,
    /// Where layer l's W_hhᵀ [h_l, h_l] and, for l ≥ 1, W_xhᵀ [h_l, h_{l-1}] (kept for the
    /// backward recurrence, which reads them along rows) live in the separate transposed
    /// buffer, and that buffer's total elements (aligned the same way).
    pub transposed_hh: Vec<usize>,
    pub transposed_xh: Vec<Option<usize>>,
    /// The multiplicative cell: a copy of layer l's α, β_h, β_x (the span from α to the
    /// end of β_x, pads included) in the transposed buffer, for the backward waves, which
    /// read their weights from there.
    pub transposed_gates: Vec<Option<usize>>,
    pub transposed_total: usize,
    /// Tensors per layer in the canonical order: w_xh, w_hh, b_h (and α, β_h, β_x for mi).
    layer_tensors: usize,
}

impl ParamLayout {
    pub fn new(config: &ModelConfig) -> Self {
        let mut offsets = Vec::new();
        let mut lens = Vec::new();
        let mut at = 0;
        for (_, shape) in config.tensor_shapes() {
            let len: usize = shape.iter().product();
            offsets.push(at);
            lens.push(len);
            at = (at + len).div_ceil(TENSOR_ALIGN) * TENSOR_ALIGN;
        }
        let layer_tensors = if config.cell == crate::rnn::model::Cell::Mi { 6 } else { 3 };
        let gate_span = |l: usize| {
            let alpha = offsets[4 + layer_tensors * l];
            offsets[6 + layer_tensors * l] + lens[6 + layer_tensors * l] - alpha
        };
        let (mut transposed_hh, mut transposed_xh, mut transposed_gates) = (Vec::new(), Vec::new(), Vec::new());
        let mut at_t = 0;
        let mut place = |len: usize| {
            let here = at_t;
            at_t = (at_t + len).div_ceil(TENSOR_ALIGN) * TENSOR_ALIGN;
            here
        };
        for (l, &h) in config.hidden.iter().enumerate() {
            transposed_hh.push(place(h * h));
            transposed_xh.push((l > 0).then(|| place(h * config.hidden[l - 1])));
            transposed_gates.push((layer_tensors == 6).then(|| place(gate_span(l))));
        }
        ParamLayout {
            offsets,
            lens,
            total: at.max(TENSOR_ALIGN),
            transposed_hh,
            transposed_xh,
            transposed_gates,
            transposed_total: at_t.max(TENSOR_ALIGN),
            layer_tensors,
        }
    }

    /// Layer l's W_hhᵀ in the transposed buffer.
    pub fn w_hh_t(&self, l: usize) -> u32 {
        self.transposed_hh[l] as u32
    }

    /// Layer l's W_xhᵀ (l ≥ 1) in the transposed buffer.
    pub fn w_xh_t(&self, l: usize) -> u32 {
        self.transposed_xh[l].expect("layer 0's W_xhᵀ is never kept: its input gradient is a batched GEMM") as u32
    }

    /// Canonical index of the embedding, layer l's w_xh / w_hh / b_h, output.w, output.b.
    pub fn embedding(&self) -> u32 {
        self.offsets[0] as u32
    }
    pub fn w_xh(&self, l: usize) -> u32 {
        self.offsets[1 + self.layer_tensors * l] as u32
    }
    pub fn w_hh(&self, l: usize) -> u32 {
        self.offsets[2 + self.layer_tensors * l] as u32
    }
    pub fn b_h(&self, l: usize) -> u32 {
        self.offsets[3 + self.layer_tensors * l] as u32
    }

    /// The multiplicative cell's α of layer l, and the elements from α to β_h (and from
    /// β_h to β_x): (offset, stride).
    pub fn gates(&self, l: usize) -> (u32, u32) {
        assert_eq!(self.layer_tensors, 6, "only the mi cell has gates");
        let alpha = self.offsets[4 + 6 * l];
        (alpha as u32, (self.offsets[5 + 6 * l] - alpha) as u32)
    }

    /// Elements from α to the end of β_x (what the transposed buffer's copy holds).
    pub fn gate_span(&self, l: usize) -> u32 {
        (self.offsets[6 + 6 * l] + self.lens[6 + 6 * l] - self.offsets[4 + 6 * l]) as u32
    }

    /// Layer l's copy of α, β_h, β_x in the transposed buffer (mi only).
    pub fn gates_t(&self, l: usize) -> u32 {
        self.transposed_gates[l].expect("only the mi cell keeps a copy of its gates") as u32
    }
    pub fn out_w(&self) -> u32 {
        self.offsets[self.offsets.len() - 2] as u32
    }
    pub fn out_b(&self) -> u32 {
        self.offsets[self.offsets.len() - 1] as u32
    }

    /// The flat, padded image of `params`.
    pub fn flatten(&self, params: &Params<f32>) -> Vec<f32> {
        let mut flat = vec![0.0; self.total];
        for ((t, &off), &len) in params.tensors().iter().zip(&self.offsets).zip(&self.lens) {
            flat[off..off + len].copy_from_slice(t);
        }
        flat
    }

    /// Overwrites `params` from a flat, padded image.
    pub fn unflatten(&self, flat: &[f32], params: &mut Params<f32>) {
        for ((t, &off), &len) in params.tensors_mut().into_iter().zip(&self.offsets).zip(&self.lens) {
            t.copy_from_slice(&flat[off..off + len]);
        }
    }

    /// Errors unless `params` has exactly this layout's tensor sizes.
    pub fn check(&self, params: &Params<f32>, what: &str) -> Result<()> {
        let got: Vec<usize> = params.tensors().iter().map(|t| t.len()).collect();
        if got != self.lens {
            return Err(ElmanError::Config(format!("{what}: tensor sizes {got:?} do not match the model's {:?}", self.lens)));
        }
        Ok(())
    }
}

/// Creates buffers and counts the bytes it allocated.
pub struct Allocator<'a> {
    device: &'a wgpu::Device,
    pub bytes: u64,
}

const STORAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);

/// Bytes for `len` 4-byte elements, rounded up to 16 and never 0 (empty bindings are invalid).
pub fn padded_bytes(len: usize) -> u64 {
    ((len.max(1) * 4).div_ceil(16) * 16) as u64
}

impl<'a> Allocator<'a> {
    pub fn new(device: &'a wgpu::Device) -> Self {
        Allocator { device, bytes: 0 }
    }

    /// A zero-filled storage buffer of `len` f32/u32 elements.
    pub fn zeros(&mut self, label: &str, len: usize) -> wgpu::Buffer {
        let size = padded_bytes(len);
        self.bytes += size;
        self.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size, usage: STORAGE, mapped_at_creation: false })
    }

    /// A storage buffer holding `data` (f32 or u32).
    pub fn init<T: bytemuck::Pod>(&mut self, label: &str, data: &[T]) -> wgpu::Buffer {
        let mut bytes = bytemuck::cast_slice::<T, u8>(data).to_vec();
        bytes.resize(padded_bytes(bytes.len() / 4) as usize, 0);
        self.bytes += bytes.len() as u64;
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents: &bytes, usage: STORAGE })
    }

    /// A uniform buffer (COPY_DST so it can be rewritten between submissions).
    pub fn uniform(&mut self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        self.bytes += bytes.len() as u64;
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytes,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        })
    }
}

impl GpuContext {
    /// Blocking readback of `len` f32 values starting at element `offset` of `buffer`:
    /// a copy into a mappable buffer, one submission, then the host waits. A sync point,
    /// used only at log/eval intervals and for parameter reads.
    pub fn read_f32(&self, buffer: &wgpu::Buffer, offset: usize, len: usize) -> Result<Vec<f32>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
        self.submit_and_read(encoder, buffer, offset, len)
    }

    /// Like [`GpuContext::read_f32`], but the copy is appended to `encoder` (work already
    /// recorded by the caller), so that work and its readback are one submission.
    pub fn submit_and_read(&self, encoder: wgpu::CommandEncoder, buffer: &wgpu::Buffer, offset: usize, len: usize) -> Result<Vec<f32>> {
        let bytes = self.submit_and_read_bytes(encoder, buffer, (offset * 4) as u64, (len * 4) as u64)?;
        Ok(bytemuck::pod_collect_to_vec::<u8, f32>(&bytes))
    }

    /// Like [`GpuContext::submit_and_read`], for `size` bytes from byte `offset` (a
    /// multiple of 4): the raw bytes.
    pub fn submit_and_read_bytes(&self, mut encoder: wgpu::CommandEncoder, buffer: &wgpu::Buffer, offset: u64, size: u64) -> Result<Vec<u8>> {
        if size == 0 {
            self.queue.submit([encoder.finish()]);
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        // The one place the host waits for the GPU: everything submitted so far finishes.
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| ElmanError::Gpu(format!("waiting for the GPU failed: {e}")))?;
        rx.recv()
            .map_err(|_| ElmanError::Gpu("readback callback never ran".into()))?
            .map_err(|e| ElmanError::Gpu(format!("cannot map the readback buffer: {e}")))?;
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| ElmanError::Gpu(format!("cannot read the readback buffer: {e}")))?;
        let out = view.to_vec();
        drop(view);
        staging.unmap();
        Ok(out)
    }

    /// Overwrites `data.len()` elements of `buffer` from element `offset` (ordered before
    /// the next submission; no wait).
    pub fn write<T: bytemuck::Pod>(&self, buffer: &wgpu::Buffer, offset: usize, data: &[T]) {
        if !data.is_empty() {
            self.queue.write_buffer(buffer, (offset * 4) as u64, bytemuck::cast_slice(data));
        }
    }
}
