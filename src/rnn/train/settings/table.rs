//! Every training setting in one table: its key (the TOML key and, on the command line,
//! the flag `--key`), type, default, help, check, and whether a resumed run fixes it.
//! From the table come [`SettingsLayer`] (each setting unset or set: one layer of flags, a
//! config file or a resumed run, merged by [`SettingsLayer::or`]), [`TrainSettings`] (every
//! setting resolved and checked, stored in each checkpoint), the list the command line
//! builds its flags from ([`setting_infos`]), and the resume-mismatch check. Adding a
//! setting is one row here plus its use.

use super::convert::{OptimizerKind, ScheduleKind};
use super::values::*;
use crate::error::{ElmanError, Result};
use crate::rnn::backend::DeviceChoice;
use crate::rnn::data::TokenizerKind;
use crate::rnn::model::{Activation, Cell};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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

            /// Whether the setting called `key` is set in this layer.
            pub fn is_set(&self, key: &str) -> bool {
                match key {
                    $($key => self.$field.is_some(),)+
                    _ => false,
                }
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
}
