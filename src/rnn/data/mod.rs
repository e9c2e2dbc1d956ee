//! Text in, tokens out: reading files, tokenizers, vocabularies, splits and batching.

pub mod batcher;
pub mod corpus;
pub mod text;
pub mod vocab;

pub use batcher::{stream_batches, Batcher};
pub use corpus::Corpus;
pub use vocab::{TokenizerKind, Vocab};
