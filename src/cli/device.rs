//! `--device auto|cpu|gpu`: builds the trainer on the chosen device.

use elman::cpu::CpuTrainer;
use elman::model::{ModelConfig, Params};
use elman::trainer::{Trainer, UpdateConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A hardware GPU when wgpu finds one, else the CPU.
    Auto,
    Cpu,
    /// A GPU adapter, software ones (lavapipe) included.
    Gpu,
}

/// A trainer for batches of n × T on the chosen device.
pub fn make_trainer(
    device: DeviceChoice,
    _adapter: Option<&str>,
    config: &ModelConfig,
    params: Params<f32>,
    update: UpdateConfig,
    n: usize,
    _t: usize,
) -> anyhow::Result<Box<dyn Trainer>> {
    match device {
        DeviceChoice::Gpu => anyhow::bail!("--device gpu: the GPU path is not built into this version yet; use --device cpu"),
        DeviceChoice::Auto | DeviceChoice::Cpu => Ok(Box::new(CpuTrainer::new(config.clone(), params, update, n)?)),
    }
}
