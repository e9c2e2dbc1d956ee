//! What resolved settings turn into: the model's shape, the update (optimizer, clipping,
//! dropout, weight decay), the run's length and its learning-rate schedule; and which of
//! the settings given a run leaves unused, from the keys each schedule and optimizer says
//! it reads.

use super::table::{SettingsLayer, TrainSettings};
use crate::choice::Choice;
use crate::rnn::backend::{Optimizer, UpdateConfig};
use crate::rnn::model::ModelConfig;
use crate::rnn::train::schedule::LrSchedule;
use serde::{Deserialize, Serialize};

/// The learning-rate schedule's kind (its parameters are settings of their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    Constant,
    Step,
    Cosine,
    Plateau,
}

impl ScheduleKind {
    /// The settings this schedule reads (beside `lr` and `schedule`).
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            ScheduleKind::Constant => &[],
            ScheduleKind::Step => &["lr-decay", "lr-decay-every"],
            ScheduleKind::Cosine => &["warmup", "min-lr"],
            ScheduleKind::Plateau => &["lr-decay", "min-lr", "patience", "min-improvement"],
        }
    }
}

impl Choice for ScheduleKind {
    const WHAT: &'static str = "schedule";
    const TABLE: &'static [(Self, &'static str, &'static str)] = &[
        (ScheduleKind::Constant, "constant", "The same learning rate throughout"),
        (ScheduleKind::Step, "step", "Multiply the rate by lr-decay every lr-decay-every steps"),
        (ScheduleKind::Cosine, "cosine", "Linear warm-up over warmup steps, then cosine down to min-lr"),
        (
            ScheduleKind::Plateau,
            "plateau",
            "Multiply the rate by lr-decay when the validation loss has not improved by min-improvement for patience evaluations; stop below min-lr",
        ),
    ];
}

/// The update rule's kind (SGD's momentum is a setting of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
}

impl OptimizerKind {
    /// The settings this optimizer reads (beside `optimizer`).
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            OptimizerKind::Sgd => &["momentum"],
            OptimizerKind::Adam => &[],
        }
    }
}

impl Choice for OptimizerKind {
    const WHAT: &'static str = "optimizer";
    const TABLE: &'static [(Self, &'static str, &'static str)] =
        &[(OptimizerKind::Sgd, "sgd", "SGD with momentum"), (OptimizerKind::Adam, "adam", "Adam (β1 0.9, β2 0.999, ε 1e-8)")];
}

impl TrainSettings {
    /// The model these settings describe, for a vocabulary of `vocab` tokens.
    pub fn model_config(&self, vocab: usize) -> ModelConfig {
        ModelConfig { vocab, embed: self.embed, hidden: self.hidden.clone(), activation: self.activation, tied: self.tie_weights, cell: self.cell }
    }

    /// Optimizer, clipping and dropout. The dropout masks' seed is derived from `seed`
    /// (xor a constant, so masks and initialisation draw unrelated streams): the same seed
    /// reproduces both.
    pub fn update_config(&self) -> UpdateConfig {
        let optimizer = match self.optimizer {
            OptimizerKind::Sgd => Optimizer::Sgd { momentum: self.momentum },
            OptimizerKind::Adam => Optimizer::adam(),
        };
        let mut update = UpdateConfig::new(optimizer, (self.clip > 0.0).then_some(self.clip));
        update.dropout = self.dropout;
        update.dropout_seed = (self.seed as u32) ^ 0x9e37_79b9;
        update.weight_decay = self.weight_decay;
        update
    }

    /// The settings `explicit` gives (config file or flags) that these settings leave
    /// unused: those another schedule or optimizer reads ([`ScheduleKind::keys`],
    /// [`OptimizerKind::keys`]) and the chosen ones do not, in the table's order. A recipe
    /// switched to another schedule on the command line would otherwise carry them
    /// silently.
    pub fn unused_settings(&self, explicit: &SettingsLayer) -> Vec<&'static str> {
        let schedules = ScheduleKind::TABLE.iter().flat_map(|(kind, ..)| kind.keys());
        let optimizers = OptimizerKind::TABLE.iter().flat_map(|(kind, ..)| kind.keys());
        let some_kind_reads: Vec<&str> = schedules.chain(optimizers).copied().collect();
        let used: Vec<&str> = self.schedule.keys().iter().chain(self.optimizer.keys()).copied().collect();
        super::setting_infos()
            .into_iter()
            .map(|info| info.key)
            .filter(|key| some_kind_reads.contains(key) && !used.contains(key) && explicit.is_set(key))
            .collect()
    }

    /// The run's length in steps: `epochs` passes of `batches_per_epoch` when set, else `steps`.
    pub fn total_steps(&self, batches_per_epoch: u64) -> u64 {
        self.epochs.map_or(self.steps, |e| e.saturating_mul(batches_per_epoch))
    }

    /// The learning-rate schedule of a run of `total` steps, its defaults filled in (step:
    /// every total/4; cosine: down to lr/10).
    pub fn lr_schedule(&self, total: u64) -> LrSchedule {
        match self.schedule {
            ScheduleKind::Plateau => {
                LrSchedule::Plateau { gamma: self.lr_decay, patience: self.patience, min_improvement: self.min_improvement, min_lr: self.min_lr }
            }
            ScheduleKind::Constant => LrSchedule::Constant,
            ScheduleKind::Step => LrSchedule::Step { every: self.lr_decay_every.unwrap_or((total / 4).max(1)), gamma: self.lr_decay },
            ScheduleKind::Cosine => LrSchedule::Cosine { warmup: self.warmup, min_lr: self.min_lr.unwrap_or(self.lr / 10.0) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_of_another_schedule_or_optimizer_are_named_unused() {
        let mut recipe = SettingsLayer::default();
        for (key, value) in [("schedule", "plateau"), ("patience", "1"), ("lr-decay", "0.5"), ("min-lr", "1e-5"), ("momentum", "0.9")] {
            recipe.set(key, value).unwrap();
        }
        let plateau = recipe.clone().resolve().unwrap();
        assert_eq!(plateau.unused_settings(&recipe), vec!["momentum"], "Adam ignores momentum; plateau uses the rest");
        let mut flags = SettingsLayer::default();
        flags.set("schedule", "cosine").unwrap();
        let explicit = flags.or(recipe);
        let cosine = explicit.resolve().unwrap();
        assert_eq!(cosine.unused_settings(&explicit), vec!["lr-decay", "patience", "momentum"]);
        assert!(SettingsLayer::default().resolve().unwrap().unused_settings(&SettingsLayer::default()).is_empty(), "defaults are never reported");
    }

    #[test]
    fn steps_and_epochs_are_one_choice_per_layer() {
        let recipe = SettingsLayer { epochs: Some(Some(40)), lr: Some(0.1), ..Default::default() };
        let flags = SettingsLayer { steps: Some(500), ..Default::default() };
        let merged = flags.or(recipe.clone()).resolve().unwrap();
        assert_eq!((merged.steps, merged.epochs, merged.lr), (500, None, 0.1), "--steps over a recipe's epochs");
        assert_eq!(merged.total_steps(7), 500);
        let flags = SettingsLayer { epochs: Some(Some(2)), ..Default::default() };
        let merged = flags.or(SettingsLayer { steps: Some(500), ..Default::default() }).resolve().unwrap();
        assert_eq!(merged.total_steps(7), 14);
        // A layer silent on the run's length leaves both as they are.
        let merged = SettingsLayer { lr: Some(0.3), ..Default::default() }.or(recipe).resolve().unwrap();
        assert_eq!((merged.epochs, merged.lr), (Some(40), 0.3));
    }
}
