//! Up-front size checks: every buffer of the plan (buffer_plan.rs) is compared with the
//! adapter's `max_buffer_size` and `max_storage_buffer_binding_size` (and offsets with the
//! u32 range the kernels index in) before anything is allocated, so a too-large model fails
//! with one line naming the limit, the size needed and a smaller setting that fits.
//!
//! Shapes: n = batch rows, T = steps per chunk, d, h_l, V as in the model.

use super::buffers::padded_bytes;
use super::buffer_plan::{plan, PlannedBuffer};
use crate::error::{ElmanError, FitHint, Result};
use crate::rnn::model::ModelConfig;
use crate::rnn::backend::UpdateConfig;

fn first_violation(limits: &wgpu::Limits, plan: &[PlannedBuffer]) -> Option<(String, u64, &'static str, u64)> {
    let binding = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
    let name = if limits.max_storage_buffer_binding_size <= limits.max_buffer_size {
        "max_storage_buffer_binding_size"
    } else {
        "max_buffer_size"
    };
    for b in plan {
        let bytes = padded_bytes(b.elements);
        if bytes > binding {
            return Some((b.label.clone(), bytes, name, binding));
        }
        if b.elements > u32::MAX as usize {
            return Some((b.label.clone(), bytes, "u32 element offsets in the kernels", 4 * u32::MAX as u64));
        }
    }
    None
}

/// Ok when every buffer of `plan` fits the adapter's limits; otherwise one line naming
/// the buffer, its size and the limit (for buffers made after the model's, such as the
/// gradient-flow program's).
pub fn check_buffers(limits: &wgpu::Limits, plan: &[PlannedBuffer]) -> Result<()> {
    match first_violation(limits, plan) {
        None => Ok(()),
        Some((label, bytes, limit, max)) => Err(ElmanError::Gpu(format!(
            "buffer '{label}' needs {:.1} MiB but the adapter's {limit} is {:.1} MiB; a smaller batch or chunk fits",
            bytes as f64 / (1 << 20) as f64,
            max as f64 / (1 << 20) as f64
        ))),
    }
}

/// The most rows (or columns) a matrix product launches for: 65,535 workgroups, the
/// grid's limit along one dimension, of 64 (the small tile's side).
pub const MAX_PRODUCT_SIDE: usize = 65_535 * 64;

/// Ok when every product's grid and every planned buffer fits; otherwise one line: which
/// size or buffer, how big, which limit, and the largest batch n (or chunk length T) that
/// would fit.
pub fn check(limits: &wgpu::Limits, config: &ModelConfig, n: usize, t: usize, update: Option<&UpdateConfig>) -> Result<()> {
    // The products' sides: n·T rows (logits, gradients) and V (the tied embedding's gradient).
    for (key, what, size) in [("batch", "n·T, the rows of one chunk,", n * t), ("max-vocab", "the vocabulary size", config.vocab)] {
        if size > MAX_PRODUCT_SIDE {
            let problem = format!("{what} is {size}, more than the GPU's matrix products launch for ({MAX_PRODUCT_SIDE})");
            return Err(ElmanError::Setting { key, problem });
        }
    }
    let Some((label, bytes, limit, max)) = first_violation(limits, &plan(config, n, t, update)) else {
        return Ok(());
    };
    let fits = |n: usize, t: usize| first_violation(limits, &plan(config, n, t, update)).is_none();
    let hint = if let Some(n2) = (1..n).rev().find(|&n2| fits(n2, t)) {
        FitHint::Batch(n2)
    } else if let Some(t2) = (1..t).rev().find(|&t2| fits(1, t2)) {
        FitHint::OneRowWithSeqLen(t2)
    } else {
        FitHint::ParamsTooLarge
    };
    Err(ElmanError::GpuBufferTooLarge { label, bytes, limit, max, hint })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::model::Activation;
    use crate::rnn::backend::Optimizer;

    fn config(h: usize) -> ModelConfig {
        ModelConfig { vocab: 65, embed: 64, hidden: vec![h], activation: Activation::Tanh, tied: false, cell: Default::default() }
    }

    fn adam() -> UpdateConfig {
        UpdateConfig::new(Optimizer::adam(), None)
    }

    #[test]
    fn fits_within_default_limits() {
        check(&wgpu::Limits::default(), &config(512), 32, 64, Some(&adam())).unwrap();
    }

    #[test]
    fn too_large_batch_names_limit_size_and_a_smaller_batch() {
        let limits = wgpu::Limits { max_storage_buffer_binding_size: 4 << 20, ..Default::default() };
        let err = check(&limits, &config(512), 32, 64, Some(&adam())).unwrap_err().describe(&|k| format!("--{k}"));
        assert!(err.contains("max_storage_buffer_binding_size is 4.0 MiB"), "{err}");
        assert!(err.contains("'hidden' needs 4.1 MiB"), "{err}");
        // hidden [(T+1)·n, h] must fit 4 MiB: 65·n·512·4 ≤ 2^22 → n ≤ 31.
        assert!(err.contains("--batch 31 fits"), "{err}");
    }

    #[test]
    fn a_chunk_past_the_products_grid_is_refused() {
        let limits = wgpu::Limits { max_storage_buffer_binding_size: u64::MAX, max_buffer_size: u64::MAX, ..Default::default() };
        check(&limits, &config(4), MAX_PRODUCT_SIDE / 64, 64, None).unwrap();
        let err = check(&limits, &config(4), MAX_PRODUCT_SIDE / 64 + 1, 64, None).unwrap_err().describe(&|k| format!("--{k}"));
        assert!(err.contains("--batch") && err.contains("4194304"), "{err}");
    }

    #[test]
    fn too_large_model_says_so() {
        let limits = wgpu::Limits { max_storage_buffer_binding_size: 1 << 20, ..Default::default() };
        let err = check(&limits, &config(1024), 1, 1, Some(&UpdateConfig::new(Optimizer::Sgd { momentum: 0.0 }, None))).unwrap_err().to_string();
        assert!(err.contains("'params'") && err.contains("parameters alone"), "{err}");
    }

    #[test]
    fn dropout_plans_a_masked_copy_per_upper_layer_input_and_of_the_top_outputs() {
        let cfg = ModelConfig { vocab: 65, embed: 8, hidden: vec![24, 17, 9], activation: Activation::Tanh, tied: false, cell: Default::default() };
        let (n, t) = (3, 5);
        let hidden = |update: &UpdateConfig| plan(&cfg, n, t, Some(update)).into_iter().find(|b| b.label == "hidden").unwrap().elements;
        let plain = hidden(&adam());
        let with = hidden(&UpdateConfig { dropout: 0.3, ..adam() });
        // Masked copies [R, h_{s-1}] for s = 1..=3, each region aligned to 64 elements.
        let rows = n * t;
        let copies: usize = [24, 17, 9].iter().map(|h| (rows * h).div_ceil(64) * 64).sum();
        assert_eq!(with - plain, copies);
    }

    #[test]
    fn a_forward_model_plans_no_training_buffers() {
        let forward: Vec<String> = plan(&config(64), 2, 3, None).into_iter().map(|b| b.label).collect();
        assert!(!forward.iter().any(|l| l.contains("grads") || l.contains("moment") || l == "stats" || l == "layers.0 state"), "{forward:?}");
        assert!(forward.contains(&"hidden".to_string()) && forward.contains(&"layers.0 eval state".to_string()));
    }
}
