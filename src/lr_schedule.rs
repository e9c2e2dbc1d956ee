//! Learning-rate schedules, as a function of the step number s (0-based) of S total steps:
//!
//! - constant: lr(s) = lr
//! - step decay: lr(s) = lr · γ^⌊s / every⌋
//! - cosine with linear warm-up over W steps: lr(s) = lr · (s+1)/W for s < W, then
//!   lr(s) = lr_min + ½(lr − lr_min)(1 + cos(π · (s − W)/(S − W)))

use crate::error::{ElmanError, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LrSchedule {
    Constant,
    Step { every: u64, gamma: f32 },
    Cosine { warmup: u64, min_lr: f32 },
}

impl LrSchedule {
    pub fn validate(&self) -> Result<()> {
        match *self {
            LrSchedule::Step { every: 0, .. } => Err(ElmanError::Setting { key: "lr-decay-every", problem: "must be > 0 for step decay".into() }),
            LrSchedule::Step { gamma, .. } if gamma.is_nan() || gamma <= 0.0 || gamma > 1.0 => {
                Err(ElmanError::Setting { key: "lr-decay", problem: format!("must be in (0, 1] for step decay, got {gamma}") })
            }
            LrSchedule::Cosine { min_lr, .. } if min_lr.is_nan() || min_lr < 0.0 => {
                Err(ElmanError::Setting { key: "min-lr", problem: format!("must be ≥ 0, got {min_lr}") })
            }
            _ => Ok(()),
        }
    }

    /// The learning rate for step `step` (0-based) of a run of `total` steps.
    pub fn lr_at(&self, base: f32, step: u64, total: u64) -> f32 {
        match *self {
            LrSchedule::Constant => base,
            LrSchedule::Step { every, gamma } => base * gamma.powi((step / every.max(1)) as i32),
            LrSchedule::Cosine { warmup, min_lr } => {
                if step < warmup {
                    base * (step + 1) as f32 / warmup as f32
                } else {
                    let span = total.saturating_sub(warmup).max(1) as f64;
                    let progress = ((step - warmup) as f64 / span).min(1.0);
                    let cos = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                    (min_lr as f64 + (base - min_lr) as f64 * cos) as f32
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        assert_eq!(LrSchedule::Constant.lr_at(0.1, 50, 100), 0.1);
        let step = LrSchedule::Step { every: 10, gamma: 0.5 };
        assert_eq!(step.lr_at(1.0, 9, 100), 1.0);
        assert_eq!(step.lr_at(1.0, 10, 100), 0.5);
        assert_eq!(step.lr_at(1.0, 25, 100), 0.25);
        let cos = LrSchedule::Cosine { warmup: 10, min_lr: 0.0 };
        assert!((cos.lr_at(1.0, 0, 110) - 0.1).abs() < 1e-6);
        assert!((cos.lr_at(1.0, 9, 110) - 1.0).abs() < 1e-6);
        assert!((cos.lr_at(1.0, 10, 110) - 1.0).abs() < 1e-6);
        assert!((cos.lr_at(1.0, 60, 110) - 0.5).abs() < 1e-6);
        assert!(cos.lr_at(1.0, 110, 110).abs() < 1e-6);
        assert!(LrSchedule::Step { every: 0, gamma: 0.5 }.validate().is_err());
    }
}
