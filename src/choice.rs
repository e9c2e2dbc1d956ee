//! Named choices (the activation, the tokenizers, the n-gram smoothing, …): each library
//! enum lists its variants with their names and one line of help in one table; parsing,
//! printing and the command line's value parsers all come from it. Nothing here knows a
//! command line.

use crate::error::{ElmanError, Result};

/// An enum whose variants have names (as on the command line, in config files and in
/// checkpoint metadata).
pub trait Choice: Copy + PartialEq + Sized + 'static {
    /// What the choice is, for messages ("activation").
    const WHAT: &'static str;
    /// Every variant with its name and one line of help, in the order help lists them.
    const TABLE: &'static [(Self, &'static str, &'static str)];

    fn name(self) -> &'static str {
        Self::TABLE.iter().find(|(v, ..)| *v == self).map(|(_, name, _)| *name).expect("every variant is in its choice table")
    }

    /// The variant called `name`, or an error listing the names.
    fn parse(name: &str) -> Result<Self> {
        Self::TABLE.iter().find(|(_, n, _)| *n == name).map(|(v, ..)| *v).ok_or_else(|| {
            let names: Vec<&str> = Self::TABLE.iter().map(|(_, n, _)| *n).collect();
            ElmanError::Config(format!("unknown {} '{name}' (expected one of: {})", Self::WHAT, names.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::data::TokenizerKind;
    use crate::rnn::model::Activation;
    use crate::ngram::smoothing::Smoothing;
    use crate::ngram::tokenize::NgramTokenizer;

    fn round_trips<T: Choice + std::fmt::Debug>() {
        for &(v, name, about) in T::TABLE {
            assert_eq!(T::parse(name).unwrap(), v);
            assert_eq!(v.name(), name);
            assert!(!about.is_empty());
        }
        let err = T::parse("nonsense").unwrap_err().to_string();
        assert!(err.contains(T::WHAT) && err.contains(T::TABLE[0].1), "{err}");
    }

    /// Config files and checkpoints spell a choice through serde: the same names as its table.
    fn serde_spells_the_table_names<T: Choice + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned>() {
        for &(v, name, _) in T::TABLE {
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{name}\""), "{} {v:?}", T::WHAT);
            assert_eq!(serde_json::from_str::<T>(&format!("\"{name}\"")).unwrap(), v);
        }
    }

    #[test]
    fn serde_and_the_tables_agree() {
        use crate::rnn::train::settings::{DeviceChoice, OptimizerKind, ScheduleKind};
        serde_spells_the_table_names::<Activation>();
        serde_spells_the_table_names::<TokenizerKind>();
        serde_spells_the_table_names::<ScheduleKind>();
        serde_spells_the_table_names::<OptimizerKind>();
        serde_spells_the_table_names::<DeviceChoice>();
    }

    #[test]
    fn every_choice_round_trips_its_names() {
        round_trips::<Activation>();
        round_trips::<TokenizerKind>();
        round_trips::<Smoothing>();
        round_trips::<NgramTokenizer>();
    }
}
