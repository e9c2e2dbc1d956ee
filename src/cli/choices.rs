//! Command-line value parsers for the library's named choices ([`Choice`]): the possible
//! values, with their help lines, come from each enum's table.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use elman::choice::Choice;

/// A parser accepting exactly these (name, help line) pairs.
pub fn possible_values(choices: impl IntoIterator<Item = (&'static str, &'static str)>) -> PossibleValuesParser {
    PossibleValuesParser::new(choices.into_iter().map(|(name, about)| PossibleValue::new(name).help(about)))
}

/// A parser accepting exactly `T`'s names (help lists each with its line).
pub fn choice<T: Choice + Send + Sync + Clone>() -> impl TypedValueParser<Value = T> {
    possible_values(T::TABLE.iter().map(|&(_, name, about)| (name, about))).map(|name| T::parse(&name).expect("clap accepts only the names of the choice's table"))
}
