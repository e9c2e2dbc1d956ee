//! Text in, tokens out: reading files, tokenizers, vocabularies, splits and batching.

pub mod text;
