//! `--device auto|cpu|gpu`: builds the trainer on the chosen device.

use elman::cpu::CpuTrainer;
use elman::gpu::{GpuContext, GpuTrainer};
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
    adapter: Option<&str>,
    config: &ModelConfig,
    params: Params<f32>,
    update: UpdateConfig,
    n: usize,
    t: usize,
) -> anyhow::Result<Box<dyn Trainer>> {
    let cpu = |params| -> anyhow::Result<Box<dyn Trainer>> { Ok(Box::new(CpuTrainer::new(config.clone(), params, update, n)?)) };
    match device {
        DeviceChoice::Cpu => cpu(params),
        DeviceChoice::Gpu => {
            let ctx = GpuContext::new(adapter, true)?;
            Ok(Box::new(GpuTrainer::new(std::sync::Arc::new(ctx), config.clone(), &params, update, n, t)?))
        }
        // A hardware GPU when there is one (never a software adapter), else the CPU with
        // a one-line warning.
        DeviceChoice::Auto => match GpuContext::new(adapter, false) {
            Ok(ctx) => Ok(Box::new(GpuTrainer::new(std::sync::Arc::new(ctx), config.clone(), &params, update, n, t)?)),
            Err(e) => {
                eprintln!("warning: {e}; training on the CPU");
                cpu(params)
            }
        },
    }
}
