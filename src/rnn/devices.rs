//! `--device auto|cpu|gpu`: builds the trainer, or the sampler, on the chosen device.

use crate::error::Result;
use crate::rnn::cpu::{CpuGenerator, CpuModel, CpuTrainer};
use crate::rnn::memory::{check, fitting_setting, forward_need, training_need};
use crate::rnn::gpu::{GpuContext, GpuGenerator, GpuModel, GpuTrainer};
use crate::rnn::model::{ModelConfig, Params};
pub use crate::rnn::backend::DeviceChoice;
use crate::rnn::backend::{Evaluate, NextToken, Trainer, UpdateConfig};
use std::sync::Arc;


/// The GPU to run `what` on, or None for the CPU: `gpu` takes any adapter, software ones
/// included; `auto` only a hardware GPU, else the CPU with a one-line warning.
pub fn gpu_context(device: DeviceChoice, adapter: Option<&str>, what: &str) -> Result<Option<Arc<GpuContext>>> {
    match device {
        DeviceChoice::Cpu => Ok(None),
        DeviceChoice::Gpu => Ok(Some(Arc::new(GpuContext::new(adapter, true)?))),
        DeviceChoice::Auto => match GpuContext::new(adapter, false) {
            Ok(ctx) => Ok(Some(Arc::new(ctx))),
            Err(e) => {
                eprintln!("warning: {e}; {what} on the CPU");
                Ok(None)
            }
        },
    }
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
) -> Result<Box<dyn Trainer>> {
    make_trainer_on(gpu_context(device, adapter, "training")?, config, params, update, n, t)
}

/// A trainer on `gpu` (its pipelines already built), or on the CPU when None.
pub fn make_trainer_on(gpu: Option<Arc<GpuContext>>, config: &ModelConfig, params: Params<f32>, update: UpdateConfig, n: usize, t: usize) -> Result<Box<dyn Trainer>> {
    Ok(match gpu {
        Some(ctx) => Box::new(GpuTrainer::new(ctx, config.clone(), &params, update, n, t)?),
        None => {
            check_cpu_memory("training this model on the CPU", config, n, t)?;
            Box::new(CpuTrainer::new(config.clone(), params, update, n)?)
        }
    })
}

/// Refuses a CPU run whose state and activations (n × T rows) would not fit in memory.
fn check_cpu_memory(what: &str, config: &ModelConfig, n: usize, t: usize) -> Result<()> {
    check(what, training_need(config, n, t, true), |available| fitting_setting(config, n, t, true, available))
}

/// The same for a forward-only run: the parameters once, and the activations.
fn check_cpu_forward_memory(what: &str, config: &ModelConfig, n: usize, t: usize) -> Result<()> {
    check(what, forward_need(config, n, t), |available| fitting_setting(config, n, t, true, available))
}

/// A model that scores batches of n × T as one stream on the chosen device: the
/// forward-only model (no gradients or optimizer state) on either.
pub fn make_evaluator(device: DeviceChoice, adapter: Option<&str>, config: &ModelConfig, params: Params<f32>, n: usize, t: usize) -> Result<Box<dyn Evaluate>> {
    make_evaluator_on(gpu_context(device, adapter, "evaluating")?, config, params, n, t)
}

/// An evaluator on `gpu`, or on the CPU when None.
pub fn make_evaluator_on(gpu: Option<Arc<GpuContext>>, config: &ModelConfig, params: Params<f32>, n: usize, t: usize) -> Result<Box<dyn Evaluate>> {
    Ok(match gpu {
        Some(ctx) => Box::new(GpuModel::new(ctx, config.clone(), &params, n, t)?),
        None => {
            check_cpu_forward_memory("evaluating this model on the CPU", config, n, t)?;
            Box::new(CpuModel::new(config.clone(), params)?)
        }
    })
}

/// A one-token-at-a-time generator (n = 1, T = 1) on the chosen device, starting from a
/// zero state.
pub fn make_generator<'a>(
    device: DeviceChoice,
    adapter: Option<&str>,
    config: &'a ModelConfig,
    params: &'a Params<f32>,
) -> Result<Box<dyn NextToken + 'a>> {
    make_generator_on(gpu_context(device, adapter, "sampling")?, config, params)
}

/// A one-token-at-a-time generator on `gpu`, or on the CPU when None.
pub fn make_generator_on<'a>(gpu: Option<Arc<GpuContext>>, config: &'a ModelConfig, params: &'a Params<f32>) -> Result<Box<dyn NextToken + 'a>> {
    Ok(match gpu {
        Some(ctx) => Box::new(GpuGenerator::new(GpuModel::new(ctx, config.clone(), params, 1, 1)?)),
        None => {
            check_cpu_forward_memory("sampling from this model on the CPU", config, 1, 1)?;
            Box::new(CpuGenerator::new(config, params))
        }
    })
}
