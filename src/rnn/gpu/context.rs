//! The GPU context: instance (honouring WGPU_BACKEND), adapter choice, device and queue
//! with the adapter's own limits, the kernel registry built once, and a place for state
//! other modules keep per device ([`GpuContext::shared`]).
//!
//! Choice order: `--adapter SUBSTRING` picks by name (any type); otherwise hardware first
//! (discrete, then integrated, virtual, other); a software adapter (device type Cpu, e.g.
//! Mesa's llvmpipe) only when `allow_software` (`--device gpu`), never for `--device auto`.

use super::kernels::{Kernels, ShaderChecks};
use crate::error::{ElmanError, Result};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What `elman info` prints about one adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
}

impl AdapterSummary {
    /// "name (backend, type)".
    pub fn describe(&self) -> String {
        describe_info(&self.info)
    }

    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }
}

fn describe_info(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
}

/// Lower is preferred.
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// The instance on WGPU_BACKEND's backends, or by default on the primary ones (Vulkan,
/// Metal, DX12): the GL backend is left out unless asked for, since its probe prints
/// noise on headless machines and compute-capable GL adapters are the rare case.
fn instance() -> (wgpu::Instance, wgpu::Backends) {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if std::env::var_os("WGPU_BACKEND").is_none() {
        desc.backends = wgpu::Backends::PRIMARY;
    }
    let backends = desc.backends;
    (wgpu::Instance::new(desc), backends)
}

fn enumerate(instance: &wgpu::Instance, backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance.enumerate_adapters(backends))
}

/// Every adapter wgpu finds on the enabled backends (WGPU_BACKEND restricts them).
pub fn list_adapters() -> Vec<AdapterSummary> {
    let (instance, backends) = instance();
    enumerate(&instance, backends)
        .iter()
        .map(|a| AdapterSummary { info: a.get_info(), limits: a.limits() })
        .collect()
}

/// A device and queue on the chosen adapter, with every pipeline compiled.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub kernels: Kernels,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    /// The split-K scratch all programs share ([`GpuContext::scratch`]).
    scratch: Mutex<Option<wgpu::Buffer>>,
    /// State other modules keep per device, one value per type ([`GpuContext::shared`]).
    shared: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl GpuContext {
    /// Picks an adapter (see the module doc) and opens a device with its full limits.
    /// Errors, naming what was found, when nothing fits.
    pub fn new(adapter_substring: Option<&str>, allow_software: bool) -> Result<GpuContext> {
        let checks = ShaderChecks::from_env()?;
        let (instance, backends) = instance();
        let adapters = enumerate(&instance, backends);
        let found: Vec<String> = adapters.iter().map(|a| describe_info(&a.get_info())).collect();
        let found = if found.is_empty() { "none".to_string() } else { found.join("; ") };
        let mut candidates: Vec<wgpu::Adapter> = match adapter_substring {
            Some(sub) => {
                let sub = sub.to_lowercase();
                adapters.into_iter().filter(|a| a.get_info().name.to_lowercase().contains(&sub)).collect()
            }
            None => adapters
                .into_iter()
                .filter(|a| allow_software || a.get_info().device_type != wgpu::DeviceType::Cpu)
                .collect(),
        };
        candidates.sort_by_key(|a| rank(a.get_info().device_type));
        let Some(adapter) = candidates.into_iter().next() else {
            let why = match adapter_substring {
                Some(sub) => format!("no adapter name contains '{sub}'"),
                None if allow_software => "no GPU adapter found".to_string(),
                None => "no hardware GPU adapter found".to_string(),
            };
            let software_excluded = adapter_substring.is_none() && !allow_software;
            return Err(ElmanError::NoGpuAdapter { why, software_excluded, backends: format!("{backends:?}"), found });
        };
        let info = adapter.get_info();
        let limits = adapter.limits();
        // Timestamp queries only serve `elman bench --profile`; ask for them where offered.
        let timestamps = wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("elman"),
            required_features: adapter.features() & timestamps,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| ElmanError::Gpu(format!("cannot open a device on {}: {e}", describe_info(&info))))?;
        let kernels = Kernels::new(&device, checks);
        Ok(GpuContext { device, queue, kernels, info, limits, scratch: Mutex::new(None), shared: Mutex::new(HashMap::new()) })
    }

    /// The device's one value of type `T`, made by `make` on first use: state that a
    /// module keeps per device and shares between every model and trainer on it (the
    /// recurrence's dispatch, src/rnn/gpu/recurrence/mod.rs), without the context knowing
    /// its type.
    pub fn shared<T: Any + Send + Sync>(&self, make: impl FnOnce() -> Result<T>) -> Result<Arc<T>> {
        let mut held = self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let value = match held.get(&TypeId::of::<T>()) {
            Some(value) => value.clone(),
            None => {
                let value: Arc<dyn Any + Send + Sync> = Arc::new(make()?);
                held.insert(TypeId::of::<T>(), value.clone());
                value
            }
        };
        Ok(value.downcast::<T>().expect("the map holds a T under T's type id"))
    }

    /// The scratch buffer of split-K products (partial sums, written and read within one
    /// product), at least `bytes` long. Every program of this context shares it: they run
    /// one after another on its one queue. Grown when a program needs more (programs built
    /// earlier keep the smaller one). Returns it and the bytes newly allocated.
    pub fn scratch(&self, bytes: u64) -> (wgpu::Buffer, u64) {
        let mut held = self.scratch.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(buffer) = held.as_ref().filter(|b| b.size() >= bytes) {
            return (buffer.clone(), 0);
        }
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor { label: Some("split-K scratch"), size: bytes, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false });
        *held = Some(buffer.clone());
        (buffer, bytes)
    }

    /// "name (backend, device type)".
    pub fn describe(&self) -> String {
        describe_info(&self.info)
    }

    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }
}
