//! Every training setting in one table: its key (the TOML key and, on the command line,
//! the flag `--key`), type, default, help, check, and whether a resumed run fixes it.
//! From the table come [`SettingsLayer`] (each setting unset or set: one layer of flags, a
//! config file or a resumed run, merged by [`SettingsLayer::or`]), [`TrainSettings`] (every
//! setting resolved and checked, stored in each checkpoint), the list the command line
//! builds its flags from ([`setting_infos`]), and the resume-mismatch check. Adding a
//! setting is one row here plus its use.
//!
//! Layering, lowest first: defaults < a resumed run's stored settings < the config file <
//! the flags; the settings a resumed run fixes (the model's shape, tokenizer, batch and
//! chunk length) must not be contradicted by the config file or the flags.

use crate::choice::Choice;
use crate::rnn::data::TokenizerKind;
use crate::error::{ElmanError, Result};
use crate::rnn::train::schedule::LrSchedule;
use crate::rnn::model::{Activation, Cell, ModelConfig};
pub use crate::rnn::backend::DeviceChoice;
use crate::rnn::backend::{Optimizer, UpdateConfig};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The learning-rate schedule's kind (its parameters are settings of their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    Constant,
    Step,
    Cosine,
    Plateau,
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

impl Choice for OptimizerKind {
    const WHAT: &'static str = "optimizer";
    const TABLE: &'static [(Self, &'static str, &'static str)] =
        &[(OptimizerKind::Sgd, "sgd", "SGD with momentum"), (OptimizerKind::Adam, "adam", "Adam (β1 0.9, β2 0.999, ε 1e-8)")];
}

/// A setting's value type: read from the command line, shown in messages and help.
pub trait SettingValue: Sized + Clone + PartialEq {
    fn parse_value(text: &str) -> std::result::Result<Self, String>;
    fn show(&self) -> String;
    /// (name, help) of each possible value, for the named choices.
    fn choices() -> Option<Vec<(&'static str, &'static str)>> {
        None
    }
    /// A switch (given as `--key`, no value).
    const IS_SWITCH: bool = false;
}

macro_rules! setting_value_from_str {
    ($($t:ty),*) => {$(
        impl SettingValue for $t {
            fn parse_value(text: &str) -> std::result::Result<Self, String> {
                text.trim().parse::<$t>().map_err(|e| e.to_string())
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
setting_value_from_str!(usize, u64, f32, f64, String);

impl SettingValue for bool {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        text.trim().parse::<bool>().map_err(|e| e.to_string())
    }
    fn show(&self) -> String {
        self.to_string()
    }
    const IS_SWITCH: bool = true;
}

impl SettingValue for PathBuf {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        Ok(PathBuf::from(text))
    }
    fn show(&self) -> String {
        self.display().to_string()
    }
}

/// Comma-separated, as `--hidden 512,256`.
impl SettingValue for Vec<usize> {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        text.split(',').map(|p| p.trim().parse::<usize>().map_err(|e| format!("'{p}': {e}"))).collect()
    }
    fn show(&self) -> String {
        self.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
    }
}

impl<T: SettingValue> SettingValue for Option<T> {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        T::parse_value(text).map(Some)
    }
    fn show(&self) -> String {
        self.as_ref().map_or_else(|| "none".to_string(), T::show)
    }
    fn choices() -> Option<Vec<(&'static str, &'static str)>> {
        T::choices()
    }
}

impl<T: Choice> SettingValue for T {
    fn parse_value(text: &str) -> std::result::Result<Self, String> {
        T::parse(text).map_err(|e| e.to_string())
    }
    fn show(&self) -> String {
        self.name().to_string()
    }
    fn choices() -> Option<Vec<(&'static str, &'static str)>> {
        Some(T::TABLE.iter().map(|&(_, name, about)| (name, about)).collect())
    }
}

/// Whether a resumed run fixes a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// The checkpoint's value stands; another one given is an error.
    Fixed,
    /// The config file and the flags may change it.
    Free,
    /// Belongs to one invocation (the device, a time limit): a resumed run does not inherit it.
    Fresh,
}

/// What the command line needs to offer one setting.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingInfo {
    pub key: &'static str,
    pub help: String,
    /// The default as help shows it.
    pub default: String,
    pub resume: Resume,
    pub choices: Option<Vec<(&'static str, &'static str)>>,
    pub switch: bool,
}

/// A setting given with another value than the resumed run has.
#[derive(Clone, Debug, PartialEq)]
pub struct ResumeClash {
    pub key: &'static str,
    pub given: String,
    pub stored: String,
}

// Checks: Ok, or the problem after the setting's name ("must be > 0").
type Check<T> = fn(&T) -> std::result::Result<(), String>;

fn positive<T: PartialOrd + Default>(v: &T) -> std::result::Result<(), String> {
    if *v > T::default() {
        Ok(())
    } else {
        Err("must be > 0".into())
    }
}

fn positive_f32(v: &f32) -> std::result::Result<(), String> {
    if *v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(format!("must be a positive number, got {v}"))
    }
}

fn non_negative_f32(v: &f32) -> std::result::Result<(), String> {
    if *v >= 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(format!("must be ≥ 0, got {v}"))
    }
}

fn unit_interval_open(v: &f32) -> std::result::Result<(), String> {
    if (0.0..1.0).contains(v) {
        Ok(())
    } else {
        Err(format!("must be in [0, 1), got {v}"))
    }
}

fn decay_factor(v: &f32) -> std::result::Result<(), String> {
    if *v > 0.0 && *v <= 1.0 {
        Ok(())
    } else {
        Err(format!("must be in (0, 1], got {v}"))
    }
}

fn some<T>(check: Check<T>) -> impl Fn(&Option<T>) -> std::result::Result<(), String> {
    move |v| v.as_ref().map_or(Ok(()), check)
}

fn positive_minutes(v: &Option<f64>) -> std::result::Result<(), String> {
    match v {
        Some(m) if m.is_nan() || *m <= 0.0 => Err(format!("must be > 0, got {m}")),
        _ => Ok(()),
    }
}

macro_rules! settings_table {
    ($(
        $(#[doc = $doc:literal])+
        $field:ident $key:literal : $ty:ty = $default:expr, $resume:ident $(, shown $shown:literal)? $(, check $check:expr)? ;
    )+) => {
        /// Every training setting, each unset (`None`) or set: one layer of a run's
        /// settings (defaults aside), as flags, a config file (TOML, keys as the flags) or
        /// a resumed run give it.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct SettingsLayer {
            $($(#[doc = $doc])+ pub $field: Option<$ty>,)+
        }

        /// Every training setting, resolved and checked (stored in each checkpoint and in
        /// the run directory's config.json; a setting newer than the file reads as its default).
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct TrainSettings {
            $($(#[doc = $doc])+ pub $field: $ty,)+
        }

        /// Key, help, default, resume rule and choices of every setting, in table order.
        pub fn setting_infos() -> Vec<SettingInfo> {
            vec![$({
                let default: $ty = $default;
                let shown: &str = concat!("" $(, $shown)?);
                SettingInfo {
                    key: $key,
                    help: [$($doc),+].iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "),
                    default: if shown.is_empty() { default.show() } else { shown.to_string() },
                    resume: Resume::$resume,
                    choices: <$ty as SettingValue>::choices(),
                    switch: <$ty as SettingValue>::IS_SWITCH,
                }
            }),+]
        }

        impl SettingsLayer {
            /// Settings set here win; the rest come from `lower`. `steps` and `epochs` are
            /// one choice, the run's length: a layer that gives either gives both.
            pub fn or(self, lower: SettingsLayer) -> SettingsLayer {
                let sets_length = self.steps.is_some() || self.epochs.is_some();
                let (steps, epochs) = (self.steps, self.epochs);
                let mut merged = SettingsLayer { $($field: self.$field.or(lower.$field),)+ };
                if sets_length {
                    merged.epochs = Some(epochs.flatten());
                    merged.steps = steps.or(merged.steps);
                }
                merged
            }

            /// Every setting: its value here or its default, each checked.
            pub fn resolve(&self) -> Result<TrainSettings> {
                $(
                    let $field: $ty = self.$field.clone().unwrap_or_else(|| $default);
                    $((($check) as fn(&$ty) -> std::result::Result<(), String>)(&$field).map_err(|problem| ElmanError::Setting { key: $key, problem })?;)?
                )+
                let settings = TrainSettings { $($field,)+ };
                // Checks across settings: tied weights need embed = the top width; the
                // plateau schedule's factor must be below 1.
                settings.model_config(1).validate()?;
                settings.lr_schedule(settings.steps).validate()?;
                Ok(settings)
            }

            /// Sets the setting called `key` from its text (the command line's reading).
            pub fn set(&mut self, key: &str, text: &str) -> std::result::Result<(), String> {
                match key {
                    $($key => self.$field = Some(<$ty as SettingValue>::parse_value(text)?),)+
                    other => return Err(format!("unknown setting '{other}'")),
                }
                Ok(())
            }
        }

        impl From<&TrainSettings> for SettingsLayer {
            /// Every setting set to its value in `s` but those that belong to one
            /// invocation ([`Resume::Fresh`]), which stay unset: what a resumed run inherits.
            fn from(s: &TrainSettings) -> SettingsLayer {
                SettingsLayer { $($field: (Resume::$resume != Resume::Fresh).then(|| s.$field.clone()),)+ }
            }
        }

        impl Default for TrainSettings {
            /// Every setting at its default.
            fn default() -> TrainSettings {
                TrainSettings { $($field: $default,)+ }
            }
        }

        impl TrainSettings {
            /// The first setting a resumed run fixes that `explicit` (the config file and the
            /// flags) gives with another value.
            pub fn resume_clash(&self, explicit: &SettingsLayer) -> Option<ResumeClash> {
                $(
                    if Resume::$resume == Resume::Fixed {
                        if let Some(given) = &explicit.$field {
                            if *given != self.$field {
                                return Some(ResumeClash { key: $key, given: given.show(), stored: self.$field.show() });
                            }
                        }
                    }
                )+
                None
            }
        }
    };
}

settings_table! {
    /// Training text.
    data "data": Option<PathBuf> = None, Free, shown "the built-in manual";
    /// Validation text.
    valid "valid": Option<PathBuf> = None, Free, shown "the last 10 % of the training tokens";
    /// How text becomes tokens.
    tokenizer "tokenizer": TokenizerKind = TokenizerKind::Char, Fixed;
    /// Word tokenizer: keep only the N most frequent words (the rest become <unk>).
    max_vocab "max-vocab": Option<usize> = None, Free, shown "all", check |v: &Option<usize>| some(positive)(v);
    /// Embedding width d.
    embed "embed": usize = 64, Fixed;
    /// Hidden widths of the stacked layers, e.g. 512,256.
    hidden "hidden": Vec<usize> = vec![128], Fixed;
    /// φ, the hidden layers' nonlinearity.
    activation "activation": Activation = Activation::Tanh, Fixed;
    /// The recurrent cell: elman, or mi (multiplicative integration, Wu et al. 2016; both devices).
    cell "cell": Cell = Cell::Elman, Fixed;
    /// Tie the output layer to the embedding (W_q = Eᵀ; needs embed = the top layer's width).
    tie_weights "tie-weights": bool = false, Fixed;
    /// T: time steps per chunk (truncated BPTT length).
    seq_len "seq-len": usize = 64, Fixed, check positive;
    /// n: parallel streams per batch.
    batch "batch": usize = 16, Fixed, check positive;
    /// Total optimisation steps.
    steps "steps": u64 = 300, Free, check positive;
    /// Passes over the training text; when set, it decides the number of steps.
    epochs "epochs": Option<u64> = None, Free, shown "steps decide", check |v: &Option<u64>| some(positive)(v);
    /// Learning rate.
    lr "lr": f32 = 2e-3, Free, check positive_f32;
    /// Learning-rate schedule.
    schedule "schedule": ScheduleKind = ScheduleKind::Constant, Free;
    /// Step and plateau schedules: factor γ.
    lr_decay "lr-decay": f32 = 0.5, Free, check decay_factor;
    /// Step schedule: decay every N steps.
    lr_decay_every "lr-decay-every": Option<u64> = None, Free, shown "a quarter of the run", check |v: &Option<u64>| some(positive)(v);
    /// Cosine schedule: linear warm-up steps.
    warmup "warmup": u64 = 0, Free;
    /// Cosine schedule: final learning rate; plateau schedule: stop once the rate falls below it.
    min_lr "min-lr": Option<f32> = None, Free, shown "lr/10 for cosine, none for plateau", check |v: &Option<f32>| some(non_negative_f32)(v);
    /// Plateau schedule: evaluations without enough improvement before the rate is cut.
    patience "patience": u64 = 2, Free, check positive;
    /// Plateau schedule: the relative improvement of the validation loss that counts.
    min_improvement "min-improvement": f32 = 0.002, Free, check unit_interval_open;
    /// The update rule.
    optimizer "optimizer": OptimizerKind = OptimizerKind::Adam, Fixed;
    /// SGD momentum μ.
    momentum "momentum": f32 = 0.0, Free, check unit_interval_open;
    /// Global gradient-norm clip θ, 0 = off.
    clip "clip": f32 = 5.0, Free, check non_negative_f32;
    /// Dropout probability on the non-recurrent connections.
    dropout "dropout": f32 = 0.0, Free, check unit_interval_open;
    /// Weight decay: L2 for SGD, decoupled for Adam (AdamW).
    weight_decay "weight-decay": f32 = 0.0, Free, check non_negative_f32;
    /// Initialisation (and dropout) seed.
    seed "seed": u64 = 1, Free;
    /// Evaluate on the validation text every N steps, 0 = at the end only.
    eval_every "eval-every": u64 = 50, Free;
    /// Score at most N validation tokens per evaluation, 0 = all.
    eval_tokens "eval-tokens": usize = 0, Free;
    /// Checkpoint every N steps, 0 = at the end only.
    save_every "save-every": u64 = 0, Free;
    /// Print a log line every N steps.
    log_every "log-every": u64 = 20, Free, check positive;
    /// Record the gradient flow through time (‖∂L/∂H_t‖ per step t and layer) of one chunk
    /// every N steps into gradflow.jsonl and gradflow.svg, 0 = off.
    grad_flow "grad-flow": u64 = 0, Free;
    /// Stop after this many minutes of training (evaluates and saves first).
    max_minutes "max-minutes": Option<f64> = None, Fresh, shown "no limit", check positive_minutes;
    /// auto: a hardware GPU if there is one, else the CPU.
    device "device": DeviceChoice = DeviceChoice::Auto, Fresh;
    /// Use the GPU adapter whose name contains this text.
    adapter "adapter": Option<String> = None, Fresh, shown "the first hardware GPU";
    /// Run directory.
    out "out": Option<PathBuf> = None, Free, shown "runs/<date-time>; with --resume, the checkpoint's folder";
    /// Start from the parameters of a safetensors file with elman's tensor names.
    init "init": Option<PathBuf> = None, Free, shown "a seeded random initialisation";
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
    /// unused: those of another schedule than the chosen one (lr-decay: step and plateau;
    /// lr-decay-every: step; warmup: cosine; min-lr: cosine and plateau; patience and
    /// min-improvement: plateau) and SGD's momentum under Adam. A recipe switched to another
    /// schedule on the command line would otherwise carry them silently.
    pub fn unused_settings(&self, explicit: &SettingsLayer) -> Vec<&'static str> {
        use ScheduleKind::{Cosine, Plateau, Step};
        let schedule = self.schedule;
        let used_by = |kinds: &[ScheduleKind]| kinds.contains(&schedule);
        let rules: [(&'static str, bool, bool); 7] = [
            ("lr-decay", explicit.lr_decay.is_some(), used_by(&[Step, Plateau])),
            ("lr-decay-every", explicit.lr_decay_every.is_some(), used_by(&[Step])),
            ("warmup", explicit.warmup.is_some(), used_by(&[Cosine])),
            ("min-lr", explicit.min_lr.is_some(), used_by(&[Cosine, Plateau])),
            ("patience", explicit.patience.is_some(), used_by(&[Plateau])),
            ("min-improvement", explicit.min_improvement.is_some(), used_by(&[Plateau])),
            ("momentum", explicit.momentum.is_some(), self.optimizer == OptimizerKind::Sgd),
        ];
        rules.iter().filter(|(_, given, used)| *given && !used).map(|(key, ..)| *key).collect()
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

    /// Reads the settings stored in a checkpoint: today's table, or the nested form
    /// earlier versions wrote (model, update and schedule objects), so that runs they
    /// started can still be resumed.
    pub fn from_json(text: &str) -> std::result::Result<TrainSettings, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if value.get("update").is_none() {
            return serde_json::from_value(value).map_err(|e| e.to_string());
        }
        legacy(&value).ok_or_else(|| "settings of an unknown form".to_string())
    }
}

/// Settings as versions before the table stored them: {data, valid, tokenizer, max_vocab,
/// model {embed, hidden, activation}, update {optimizer {kind, momentum?}, clip, dropout},
/// seq_len, batch, steps, lr, schedule {kind, every?, gamma?, warmup?, min_lr?}, seed,
/// eval_every, eval_tokens, save_every, log_every, max_minutes}.
fn legacy(v: &serde_json::Value) -> Option<TrainSettings> {
    let mut o = SettingsLayer::default();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let path = |k: &str| v.get(k).and_then(text).map(PathBuf::from);
    o.data = Some(path("data"));
    o.valid = Some(path("valid"));
    o.tokenizer = Some(TokenizerKind::parse(v.get("tokenizer")?.as_str()?).ok()?);
    o.max_vocab = Some(v.get("max_vocab").and_then(|x| x.as_u64()).map(|x| x as usize));
    let model = v.get("model")?;
    o.embed = Some(model.get("embed")?.as_u64()? as usize);
    o.hidden = Some(model.get("hidden")?.as_array()?.iter().map(|h| h.as_u64().map(|x| x as usize)).collect::<Option<Vec<_>>>()?);
    o.activation = Some(Activation::parse(model.get("activation")?.as_str()?).ok()?);
    let update = v.get("update")?;
    let optimizer = update.get("optimizer")?;
    match optimizer.get("kind")?.as_str()? {
        "sgd" => {
            o.optimizer = Some(OptimizerKind::Sgd);
            o.momentum = Some(optimizer.get("momentum")?.as_f64()? as f32);
        }
        _ => o.optimizer = Some(OptimizerKind::Adam),
    }
    o.clip = Some(update.get("clip").and_then(|c| c.as_f64()).unwrap_or(0.0) as f32);
    o.dropout = update.get("dropout").and_then(|d| d.as_f64()).map(|d| d as f32);
    let num = |k: &str| v.get(k).and_then(|x| x.as_u64());
    o.seq_len = Some(num("seq_len")? as usize);
    o.batch = Some(num("batch")? as usize);
    o.steps = num("steps");
    o.lr = v.get("lr").and_then(|x| x.as_f64()).map(|x| x as f32);
    let schedule = v.get("schedule")?;
    match schedule.get("kind")?.as_str()? {
        "step" => {
            o.schedule = Some(ScheduleKind::Step);
            o.lr_decay_every = Some(schedule.get("every").and_then(|x| x.as_u64()));
            o.lr_decay = schedule.get("gamma").and_then(|x| x.as_f64()).map(|x| x as f32);
        }
        "cosine" => {
            o.schedule = Some(ScheduleKind::Cosine);
            o.warmup = schedule.get("warmup").and_then(|x| x.as_u64());
            o.min_lr = Some(schedule.get("min_lr").and_then(|x| x.as_f64()).map(|x| x as f32));
        }
        _ => o.schedule = Some(ScheduleKind::Constant),
    }
    o.seed = num("seed");
    o.eval_every = num("eval_every");
    o.eval_tokens = num("eval_tokens").map(|x| x as usize);
    o.save_every = num("save_every");
    o.log_every = num("log_every");
    o.max_minutes = Some(v.get("max_minutes").and_then(|x| x.as_f64()));
    o.resolve().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_and_every_setting_has_help() {
        let s = SettingsLayer::default().resolve().unwrap();
        assert_eq!((s.embed, s.hidden.clone(), s.batch, s.seq_len, s.steps), (64, vec![128], 16, 64, 300));
        assert_eq!(s.update_config().dropout_seed, 1 ^ 0x9e37_79b9);
        for info in setting_infos() {
            assert!(!info.help.is_empty() && !info.default.is_empty(), "{info:?}");
        }
    }

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
    fn layers_merge_and_checks_name_the_setting() {
        let mut flags = SettingsLayer::default();
        flags.set("batch", "8").unwrap();
        flags.set("hidden", "32,16").unwrap();
        let file = SettingsLayer { batch: Some(4), lr: Some(0.1), ..Default::default() };
        let merged = flags.clone().or(file).resolve().unwrap();
        assert_eq!((merged.batch, merged.hidden.clone(), merged.lr), (8, vec![32, 16], 0.1));
        let zero = SettingsLayer { seq_len: Some(0), ..Default::default() }.resolve().unwrap_err();
        assert_eq!(zero.describe(&|k| format!("--{k}")), "--seq-len must be > 0");
        assert!(flags.set("activation", "sigmoid").unwrap_err().contains("sigmoid"));
        assert!(flags.set("batch", "-3").is_err());
        assert!(flags.set("nonsense", "1").is_err());
    }

    #[test]
    fn a_resumed_run_fixes_the_shape_only() {
        let stored = SettingsLayer { embed: Some(32), ..Default::default() }.resolve().unwrap();
        let same = SettingsLayer { embed: Some(32), steps: Some(10_000), ..Default::default() };
        assert_eq!(stored.resume_clash(&same), None, "steps may grow on resume");
        let other = SettingsLayer { embed: Some(16), ..Default::default() };
        assert_eq!(stored.resume_clash(&other), Some(ResumeClash { key: "embed", given: "16".into(), stored: "32".into() }));
        // Round trip through what a checkpoint stores.
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(TrainSettings::from_json(&json).unwrap(), stored);
        assert_eq!(SettingsLayer::from(&stored).resolve().unwrap(), stored);
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

    #[test]
    fn a_resumed_run_keeps_its_optimizer_but_not_the_invocations_device_or_time_limit() {
        let mut given = SettingsLayer { optimizer: Some(OptimizerKind::Sgd), device: Some(DeviceChoice::Gpu), ..Default::default() };
        given.max_minutes = Some(Some(5.0));
        given.adapter = Some(Some("H200".into()));
        let stored = given.resolve().unwrap();
        let inherited = SettingsLayer::from(&stored);
        assert_eq!((inherited.device, inherited.max_minutes, inherited.adapter.clone()), (None, None, None));
        assert_eq!(inherited.optimizer, Some(OptimizerKind::Sgd));
        let adam = SettingsLayer { optimizer: Some(OptimizerKind::Adam), ..Default::default() };
        assert_eq!(stored.resume_clash(&adam).map(|c| c.key), Some("optimizer"));
    }

    #[test]
    fn checks_across_settings_run_at_resolve() {
        let tied = SettingsLayer { tie_weights: Some(true), embed: Some(4), hidden: Some(vec![8]), ..Default::default() };
        assert_eq!(tied.resolve().unwrap_err().describe(&|k| k.to_string()).split_whitespace().next(), Some("tie-weights"));
        let plateau = SettingsLayer { schedule: Some(ScheduleKind::Plateau), lr_decay: Some(1.0), ..Default::default() };
        assert!(plateau.resolve().unwrap_err().to_string().contains("lr-decay"));
    }

    #[test]
    fn stored_settings_missing_newer_keys_read_as_their_defaults() {
        let mut json: serde_json::Value = serde_json::to_value(SettingsLayer::default().resolve().unwrap()).unwrap();
        for newer in ["tie_weights", "epochs", "patience", "min_improvement", "weight_decay"] {
            json.as_object_mut().unwrap().remove(newer).expect("a stored key");
        }
        let s = TrainSettings::from_json(&json.to_string()).unwrap();
        assert_eq!(s, TrainSettings::default());
        assert_eq!(TrainSettings::default(), SettingsLayer::default().resolve().unwrap());
    }

    #[test]
    fn settings_stored_by_earlier_versions_still_load() {
        let old = r#"{"data":"t.txt","valid":null,"tokenizer":"word","max_vocab":null,
            "model":{"vocab":10,"embed":8,"hidden":[12,10],"activation":"relu"},
            "update":{"optimizer":{"kind":"sgd","momentum":0.9},"clip":1.5,"dropout":0.2,"dropout_seed":7},
            "seq_len":10,"batch":4,"steps":400,"lr":0.01,"schedule":{"kind":"step","every":100,"gamma":0.5},
            "seed":3,"eval_every":5,"eval_tokens":0,"save_every":0,"log_every":3}"#;
        let s = TrainSettings::from_json(old).unwrap();
        assert_eq!((s.tokenizer, s.embed, s.hidden.clone(), s.activation), (TokenizerKind::Word, 8, vec![12, 10], Activation::Relu));
        assert_eq!((s.optimizer, s.momentum, s.clip, s.dropout), (OptimizerKind::Sgd, 0.9, 1.5, 0.2));
        assert_eq!(s.lr_schedule(s.steps), LrSchedule::Step { every: 100, gamma: 0.5 });
        assert_eq!((s.seq_len, s.batch, s.steps, s.seed, s.log_every), (10, 4, 400, 3, 3));
    }
}
