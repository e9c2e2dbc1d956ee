//! n-gram Markov language models: P(w_t | w_{t−n+1} … w_{t−1}) from sparse counts.
//!
//! The pipeline, one module per step:
//! - [`tokenize`] text → token ids (word or char level, `<s>` … `</s>` per line or a raw
//!   stream) over a [`vocab::NgramVocab`];
//! - [`count`] sparse counts of every order as sorted packed keys ([`key`]), the highest
//!   order through [`spill`] so a `--memory` limit spills sorted runs to disk;
//! - [`smoothing`] MLE, add-k or interpolated modified Kneser-Ney → a back-off
//!   [`model::NgramModel`];
//! - [`arpa`] reads and writes the standard ARPA text format (KenLM, SRILM), [`binary`]
//!   a memory-mapped format that opens without parsing; [`lm`] is what both offer;
//! - [`eval`] perplexity, [`fraction`] exact MLE fractions, [`sample`] generation,
//!   [`report`] sizes and peak memory; [`train`] ties counting and smoothing together;
//!   [`prune`] entropy-based pruning of a built model.

pub mod arpa;
pub mod binary;
pub mod bounded;
pub mod count;
pub mod eval;
pub mod fraction;
pub mod key;
pub mod lm;
pub mod model;
pub mod open;
pub mod prune;
pub mod query;
pub mod report;
pub mod sample;
pub mod smoothing;
pub mod spill;
pub mod tokenize;
pub mod train;
pub mod vocab;

pub use count::{count_ngrams, NgramCounts};
pub use lm::{LanguageModel, Lexicon};
pub use model::NgramModel;
pub use open::ModelFile;
pub use smoothing::Smoothing;
pub use tokenize::{TokenizeOptions, NgramTokenizer};
pub use train::{train, train_tokens, TrainOptions, Trained};
