//! Host memory: how much a run will hold, how much the machine has, and a refusal that
//! names both (and a setting that fits) before anything large is allocated.
//!
//! The estimate for CPU training, in f32 elements (P parameters, rows = n·T, Σh the sum of
//! the hidden widths):
//!
//! ```text
//! state       = 4P                      parameters, gradients, Adam's two moments
//!             + n·Σh                    the carried hidden state
//! activations = rows · (2V + 2d + 4Σh)  logits and their gradient, embeddings and the
//!                                       layers' inputs, states and gradients per step
//! ```
//!
//! On the GPU the activations live in GPU memory (checked against the adapter's limits
//! elsewhere); the host still holds the parameters and a checkpoint's copy of the state.

use crate::error::{ElmanError, MemoryHint, Result};
use crate::host::memory::{available_bytes, human_bytes};
use crate::rnn::model::ModelConfig;

/// Bytes a run will hold, split for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryNeed {
    /// Parameters, gradients, optimizer moments and the carried state.
    pub state: u64,
    /// Per-step activations.
    pub activations: u64,
}

impl MemoryNeed {
    pub fn total(&self) -> u64 {
        self.state.saturating_add(self.activations)
    }
}


/// What training `config` with n rows of T steps holds on the host (`None`: past 2^64).
pub fn training_need(config: &ModelConfig, n: usize, t: usize, activations_on_host: bool) -> Option<MemoryNeed> {
    let p = config.parameter_count()?;
    let hidden: u64 = config.hidden.iter().try_fold(0u64, |s, &h| s.checked_add(h as u64))?;
    let state = p.checked_mul(4)?.checked_add((n as u64).checked_mul(hidden)?)?.checked_mul(4)?;
    let activations = if activations_on_host {
        let rows = (n as u64).checked_mul(t as u64)?;
        let width = (2 * config.vocab as u64).checked_add(2 * config.embed as u64)?.checked_add(hidden.checked_mul(4)?)?;
        rows.checked_mul(width)?.checked_mul(4)?
    } else {
        0
    };
    Some(MemoryNeed { state, activations })
}

/// What a forward-only run (evaluation, sampling) of n rows of T steps holds: the
/// parameters once, the carried state, and the forward activations (half the training
/// estimate's per-row width: no gradients).
pub fn forward_need(config: &ModelConfig, n: usize, t: usize) -> Option<MemoryNeed> {
    let p = config.parameter_count()?;
    let hidden: u64 = config.hidden.iter().try_fold(0u64, |s, &h| s.checked_add(h as u64))?;
    let state = p.checked_add((n as u64).checked_mul(hidden)?)?.checked_mul(4)?;
    let rows = (n as u64).checked_mul(t as u64)?;
    let width = (config.vocab as u64).checked_add(config.embed as u64)?.checked_add(hidden.checked_mul(2)?)?;
    let activations = rows.checked_mul(width)?.checked_mul(4)?;
    Some(MemoryNeed { state, activations })
}



/// Refuses `need` (for `what`, e.g. "training this model") when it exceeds what is
/// available; `fits` names a setting that would fit in `available` bytes.
pub fn check(what: &str, need: Option<MemoryNeed>, fits: impl FnOnce(u64) -> MemoryHint) -> Result<()> {
    let available = available_bytes();
    let too_big = |detail: String, available: u64| ElmanError::OutOfMemory { what: what.to_string(), detail, hint: fits(available) };
    match (need, available) {
        (None, available) => Err(too_big("more than 2^64 bytes".to_string(), available.unwrap_or(0))),
        (Some(need), Some(available)) if need.total() > available => {
            let split = if need.activations > 0 {
                format!(" (parameters, gradients and optimizer state {}, activations {})", human_bytes(need.state as f64), human_bytes(need.activations as f64))
            } else {
                String::new()
            };
            Err(too_big(format!("about {}{split} but {} is available", human_bytes(need.total() as f64), human_bytes(available as f64)), available))
        }
        _ => Ok(()),
    }
}

/// A setting of `config` trained with n × T that fits in `available` bytes: the widest
/// single hidden width, or the largest batch, whichever the estimate points at.
pub fn fitting_setting(config: &ModelConfig, n: usize, t: usize, activations_on_host: bool, available: u64) -> MemoryHint {
    let fits = |c: &ModelConfig, n: usize| training_need(c, n, t, activations_on_host).is_some_and(|need| need.total() <= available);
    let one_row = fits(config, 1);
    if one_row {
        // Activations are the problem: the largest batch that fits.
        let (mut lo, mut hi) = (1usize, n.max(1));
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(config, mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return MemoryHint::Batch(lo);
    }
    let widest = *config.hidden.iter().max().unwrap_or(&1);
    let shrunk = |w: usize| ModelConfig { hidden: config.hidden.iter().map(|&h| h.min(w)).collect(), ..config.clone() };
    let (mut lo, mut hi) = (0usize, widest);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(&shrunk(mid), 1) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if lo == 0 {
        MemoryHint::Nothing
    } else {
        MemoryHint::HiddenAtMost(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::model::Activation;

    fn config(h: usize) -> ModelConfig {
        ModelConfig { vocab: 65, embed: 64, hidden: vec![h], activation: Activation::Tanh, tied: false, cell: Default::default() }
    }

    #[test]
    fn the_estimate_counts_state_and_activations() {
        let c = config(512);
        let p = c.parameter_count().unwrap();
        assert_eq!(p, 65 * 64 + 64 * 512 + 512 * 512 + 512 + 512 * 65 + 65);
        let need = training_need(&c, 32, 64, true).unwrap();
        assert_eq!(need.state, 4 * (4 * p + 32 * 512));
        assert_eq!(need.activations, 4 * 32 * 64 * (2 * 65 + 2 * 64 + 4 * 512));
        assert_eq!(training_need(&c, 32, 64, false).unwrap().activations, 0);
        let huge = ModelConfig { vocab: usize::MAX / 2, ..config(usize::MAX / 2) };
        assert!(training_need(&huge, 1, 1, true).is_none(), "overflow must be caught");
    }

    #[test]
    fn the_fitting_setting_fits() {
        let c = config(200_000);
        let available = 1u64 << 30;
        let MemoryHint::HiddenAtMost(width) = fitting_setting(&c, 32, 64, true, available) else { panic!("a width should fit") };
        assert!(training_need(&config(width), 1, 64, true).unwrap().total() <= available);
        assert!(training_need(&config(width + 1), 1, 64, true).unwrap().total() > available);
        let small = config(64);
        let MemoryHint::Batch(n) = fitting_setting(&small, 1_000_000, 64, true, available) else { panic!("a batch should fit") };
        assert!(training_need(&small, n, 64, true).unwrap().total() <= available);
        assert!(training_need(&small, n + 1, 64, true).unwrap().total() > available);
    }
}
