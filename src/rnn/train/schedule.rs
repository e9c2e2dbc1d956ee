//! Learning-rate schedules, as a function of the step number s (0-based) of S total steps:
//!
//! - constant: lr(s) = lr
//! - step decay: lr(s) = lr · γ^⌊s / every⌋
//! - cosine with linear warm-up over W steps: lr(s) = lr · (s+1)/W for s < W, then
//!   lr(s) = lr_min + ½(lr − lr_min)(1 + cos(π · (s − W)/(S − W)))
//! - plateau (validation-driven, Mikolov's "newbob", PyTorch's ReduceLROnPlateau):
//!   lr(s) = lr · γ^d, where d counts the times the validation loss went `patience`
//!   evaluations without improving on its best by the fraction `min_improvement`
//!   ([`ValidationState::observe`]); optionally the run stops once the rate falls below
//!   min_lr.

use crate::error::{ElmanError, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LrSchedule {
    Constant,
    Step { every: u64, gamma: f32 },
    Cosine { warmup: u64, min_lr: f32 },
    Plateau { gamma: f32, patience: u64, min_improvement: f32, min_lr: Option<f32> },
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
            LrSchedule::Plateau { gamma, .. } if gamma.is_nan() || gamma <= 0.0 || gamma >= 1.0 => {
                Err(ElmanError::Setting { key: "lr-decay", problem: format!("must be in (0, 1) for the plateau schedule, got {gamma}") })
            }
            LrSchedule::Plateau { patience: 0, .. } => Err(ElmanError::Setting { key: "patience", problem: "must be > 0".into() }),
            _ => Ok(()),
        }
    }

    /// The learning rate for step `step` (0-based) of a run of `total` steps, with the
    /// validation state's scale (1 but for the plateau schedule).
    pub fn lr_at(&self, base: f32, step: u64, total: u64, state: &ValidationState) -> f32 {
        match *self {
            LrSchedule::Constant => base,
            LrSchedule::Plateau { .. } => base * state.lr_scale,
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

/// What the evaluations so far decided: the best validation loss (kept in
/// best.safetensors), and the plateau schedule's reference, patience count and scale.
/// Stored with a run's progress, so a resumed run continues it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationState {
    /// The lowest validation loss so far.
    pub best: Option<f64>,
    /// The plateau's reference: the last loss that improved on the one before by
    /// min_improvement.
    pub reference: Option<f64>,
    /// Evaluations since the reference last moved.
    pub stale: u64,
    /// The factor the plateau schedule multiplies the base rate by now.
    pub lr_scale: f32,
}

impl Default for ValidationState {
    fn default() -> Self {
        ValidationState { best: None, reference: None, stale: 0, lr_scale: 1.0 }
    }
}

/// What one evaluation changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observed {
    /// A new lowest validation loss.
    pub new_best: bool,
    /// The plateau schedule cut the rate.
    pub decayed: bool,
}

impl ValidationState {
    /// Takes in the validation loss of one evaluation under `schedule`.
    pub fn observe(&mut self, loss: f64, schedule: &LrSchedule) -> Observed {
        let new_best = self.best.is_none_or(|b| loss < b);
        if new_best {
            self.best = Some(loss);
        }
        let mut decayed = false;
        if let LrSchedule::Plateau { gamma, patience, min_improvement, .. } = *schedule {
            match self.reference {
                Some(r) if loss >= r * (1.0 - min_improvement as f64) => {
                    self.stale += 1;
                    if self.stale >= patience {
                        self.lr_scale *= gamma;
                        self.stale = 0;
                        decayed = true;
                    }
                }
                _ => {
                    self.reference = Some(loss);
                    self.stale = 0;
                }
            }
        }
        Observed { new_best, decayed }
    }

    /// Whether the plateau schedule's rate has fallen below its floor (the run stops).
    pub fn below_floor(&self, schedule: &LrSchedule, base: f32) -> bool {
        matches!(*schedule, LrSchedule::Plateau { min_lr: Some(floor), .. } if base * self.lr_scale < floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plateau_schedule_cuts_the_rate_after_patience_stale_evaluations() {
        let plateau = LrSchedule::Plateau { gamma: 0.5, patience: 2, min_improvement: 0.01, min_lr: Some(0.2) };
        let mut s = ValidationState::default();
        let see = |s: &mut ValidationState, loss| s.observe(loss, &plateau);
        assert_eq!(see(&mut s, 5.0), Observed { new_best: true, decayed: false });
        assert_eq!(see(&mut s, 4.0), Observed { new_best: true, decayed: false });
        // 3.99 beats the best but not by 1 %: stale once, then twice → the rate halves.
        assert_eq!(see(&mut s, 3.99), Observed { new_best: true, decayed: false });
        assert_eq!(see(&mut s, 4.1), Observed { new_best: false, decayed: true });
        assert_eq!((s.lr_scale, s.stale, s.reference, s.best), (0.5, 0, Some(4.0), Some(3.99)));
        assert_eq!(plateau.lr_at(1.0, 7, 100, &s), 0.5);
        assert!(!s.below_floor(&plateau, 1.0));
        see(&mut s, 4.0);
        see(&mut s, 4.0);
        see(&mut s, 4.0);
        see(&mut s, 4.0);
        assert_eq!(s.lr_scale, 0.125);
        assert!(s.below_floor(&plateau, 1.0), "0.125 is below the floor 0.2: the run stops");
        // Other schedules ignore the state's scale.
        assert_eq!(LrSchedule::Constant.lr_at(0.1, 3, 10, &s), 0.1);
    }

    #[test]
    fn schedules_follow_their_formulas() {
        assert_eq!(LrSchedule::Constant.lr_at(0.1, 50, 100, &ValidationState::default()), 0.1);
        let step = LrSchedule::Step { every: 10, gamma: 0.5 };
        assert_eq!(step.lr_at(1.0, 9, 100, &ValidationState::default()), 1.0);
        assert_eq!(step.lr_at(1.0, 10, 100, &ValidationState::default()), 0.5);
        assert_eq!(step.lr_at(1.0, 25, 100, &ValidationState::default()), 0.25);
        let cos = LrSchedule::Cosine { warmup: 10, min_lr: 0.0 };
        assert!((cos.lr_at(1.0, 0, 110, &ValidationState::default()) - 0.1).abs() < 1e-6);
        assert!((cos.lr_at(1.0, 9, 110, &ValidationState::default()) - 1.0).abs() < 1e-6);
        assert!((cos.lr_at(1.0, 10, 110, &ValidationState::default()) - 1.0).abs() < 1e-6);
        assert!((cos.lr_at(1.0, 60, 110, &ValidationState::default()) - 0.5).abs() < 1e-6);
        assert!(cos.lr_at(1.0, 110, 110, &ValidationState::default()).abs() < 1e-6);
        assert!(LrSchedule::Step { every: 0, gamma: 0.5 }.validate().is_err());
    }
}
