//! The value types a setting can have (numbers, paths, width lists, switches, the named
//! choices), how each is read from text and shown, whether a resumed run fixes a setting,
//! and the checks the table names: the language the table (table.rs) is written in.

use crate::choice::Choice;
use std::path::PathBuf;

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

/// A check: Ok, or the problem that follows the setting's name ("must be > 0").
pub type Check<T> = fn(&T) -> std::result::Result<(), String>;

/// > 0.
pub fn positive<T: PartialOrd + Default>(v: &T) -> std::result::Result<(), String> {
    if *v > T::default() {
        Ok(())
    } else {
        Err("must be > 0".into())
    }
}

/// A finite number > 0.
pub fn positive_f32(v: &f32) -> std::result::Result<(), String> {
    if *v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(format!("must be a positive number, got {v}"))
    }
}

/// A finite number ≥ 0.
pub fn non_negative_f32(v: &f32) -> std::result::Result<(), String> {
    if *v >= 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(format!("must be ≥ 0, got {v}"))
    }
}

/// In [0, 1).
pub fn unit_interval_open(v: &f32) -> std::result::Result<(), String> {
    if (0.0..1.0).contains(v) {
        Ok(())
    } else {
        Err(format!("must be in [0, 1), got {v}"))
    }
}

/// In (0, 1].
pub fn decay_factor(v: &f32) -> std::result::Result<(), String> {
    if *v > 0.0 && *v <= 1.0 {
        Ok(())
    } else {
        Err(format!("must be in (0, 1], got {v}"))
    }
}

/// `check` on a value that may be unset (unset passes).
pub fn some<T>(check: Check<T>) -> impl Fn(&Option<T>) -> std::result::Result<(), String> {
    move |v| v.as_ref().map_or(Ok(()), check)
}

/// A time limit: unset, or > 0.
pub fn positive_minutes(v: &Option<f64>) -> std::result::Result<(), String> {
    match v {
        Some(m) if m.is_nan() || *m <= 0.0 => Err(format!("must be > 0, got {m}")),
        _ => Ok(()),
    }
}

