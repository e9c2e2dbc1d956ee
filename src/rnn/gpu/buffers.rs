//! GPU memory: storage buffers with a running byte count, the parameter offsets the
//! kernels take (the model's one flat layout: one dispatch updates every tensor and one
//! reduction takes the global norm), and blocking readback.

use super::context::GpuContext;
use crate::error::{ElmanError, Result};
use crate::rnn::model::layout::{aligned, ParamLayout, TensorSlot, TENSOR_ALIGN};
use crate::rnn::model::ModelConfig;
use std::sync::Arc;
use wgpu::util::DeviceExt;

/// The kernels' view of the parameter layout: the model's tensor offsets
/// ([`crate::rnn::model::ParamLayout`], the same flat image the CPU path reads) as u32
/// element offsets into the parameter buffer (and the gradient and moment buffers, laid out
/// alike), and where the transposed copies the backward recurrence reads live in their own
/// buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamOffsets {
    params: Arc<ParamLayout>,
    /// Where layer l's W_hhᵀ [h_l, h_l] and, for l ≥ 1, W_xhᵀ [h_l, h_{l-1}] (kept for the
    /// backward recurrence, which reads them along rows) live in the separate transposed
    /// buffer, and that buffer's total elements (aligned like the parameters).
    transposed_hh: Vec<usize>,
    transposed_xh: Vec<Option<usize>>,
    /// The multiplicative cell: a copy of layer l's α, β_h, β_x (the span from α to the
    /// end of β_x, pads included) in the transposed buffer, for the backward waves, which
    /// read their weights from there.
    transposed_gates: Vec<Option<usize>>,
    pub transposed_total: usize,
}

fn at(slot: &TensorSlot) -> u32 {
    slot.offset as u32
}

impl ParamOffsets {
    pub fn new(params: Arc<ParamLayout>, config: &ModelConfig) -> Self {
        let (mut transposed_hh, mut transposed_xh, mut transposed_gates) = (Vec::new(), Vec::new(), Vec::new());
        let mut at_t = 0;
        let mut place = |len: usize| {
            let here = at_t;
            at_t = aligned(at_t + len);
            here
        };
        for (l, &h) in config.hidden.iter().enumerate() {
            transposed_hh.push(place(h * h));
            transposed_xh.push((l > 0).then(|| place(h * config.hidden[l - 1])));
            transposed_gates.push(params.gates(l).map(|[alpha, _, beta_x]| place(beta_x.range().end - alpha.offset)));
        }
        ParamOffsets { params, transposed_hh, transposed_xh, transposed_gates, transposed_total: at_t.max(TENSOR_ALIGN) }
    }

    /// The model's layout these offsets read.
    pub fn layout(&self) -> &Arc<ParamLayout> {
        &self.params
    }

    /// Elements of the parameter buffer (and of the gradient and moment buffers).
    pub fn total(&self) -> usize {
        self.params.total()
    }

    /// Layer l's W_hhᵀ in the transposed buffer.
    pub fn w_hh_t(&self, l: usize) -> u32 {
        self.transposed_hh[l] as u32
    }

    /// Layer l's W_xhᵀ (l ≥ 1) in the transposed buffer.
    pub fn w_xh_t(&self, l: usize) -> u32 {
        self.transposed_xh[l].expect("layer 0's W_xhᵀ is never kept: its input gradient is a batched GEMM") as u32
    }

    pub fn embedding(&self) -> u32 {
        at(self.params.embedding())
    }
    pub fn w_xh(&self, l: usize) -> u32 {
        at(self.params.w_xh(l))
    }
    pub fn w_hh(&self, l: usize) -> u32 {
        at(self.params.w_hh(l))
    }
    pub fn b_h(&self, l: usize) -> u32 {
        at(self.params.b_h(l))
    }

    fn gate_slots(&self, l: usize) -> [&TensorSlot; 3] {
        self.params.gates(l).expect("only the mi cell has gates")
    }

    /// The multiplicative cell's α of layer l, and the elements from α to β_h (and from
    /// β_h to β_x): (offset, stride).
    pub fn gates(&self, l: usize) -> (u32, u32) {
        let [alpha, beta_h, _] = self.gate_slots(l);
        (at(alpha), (beta_h.offset - alpha.offset) as u32)
    }

    /// Elements from α to the end of β_x (what the transposed buffer's copy holds).
    pub fn gate_span(&self, l: usize) -> u32 {
        let [alpha, _, beta_x] = self.gate_slots(l);
        (beta_x.range().end - alpha.offset) as u32
    }

    /// Layer l's copy of α, β_h, β_x in the transposed buffer (mi only).
    pub fn gates_t(&self, l: usize) -> u32 {
        self.transposed_gates[l].expect("only the mi cell keeps a copy of its gates") as u32
    }
    pub fn out_w(&self) -> u32 {
        at(self.params.out_w())
    }
    pub fn out_b(&self) -> u32 {
        at(self.params.out_b())
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
