//! The training settings, split by job:
//! - [`values`]: the value types a setting may have and how each reads and shows, the
//!   resume rules and the checks;
//! - [`table`]: every setting in one table, and the layers and resolved settings made
//!   from it;
//! - [`convert`]: what resolved settings become (model shape, update, schedule, the run's
//!   length), and which given settings a run leaves unused;
//! - [`legacy`]: reading the settings stored by earlier versions.
//!
//! Layering, lowest first: defaults < a resumed run's stored settings < the config file <
//! the flags; the settings a resumed run fixes (the model's shape, tokenizer, batch and
//! chunk length) must not be contradicted by the config file or the flags.

pub mod convert;
pub mod legacy;
pub mod table;
pub mod values;

pub use crate::rnn::backend::DeviceChoice;
pub use convert::{OptimizerKind, ScheduleKind};
pub use table::{setting_infos, SettingsLayer, TrainSettings};
pub use values::{Resume, ResumeClash, SettingInfo, SettingValue};
