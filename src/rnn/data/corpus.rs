//! A training corpus: the vocabulary and the train/validation token streams.
//! Without a validation file the last 10 % of the tokens are held out (nanoGPT's split).

use super::text::{read_bytes, read_utf8};
use super::vocab::{TokenizerKind, Vocab};
use crate::error::{ElmanError, Result};
use std::path::Path;

/// Fraction of the tokens held out for validation when no --valid file is given.
pub const VALID_FRACTION: f64 = 0.1;

/// Tokenized train and validation streams with their vocabulary.
#[derive(Clone, Debug)]
pub struct Corpus {
    pub vocab: Vocab,
    pub train: Vec<u32>,
    pub valid: Vec<u32>,
}

/// Reads a file as the tokenizer needs it: UTF-8 checked for char/word, raw for byte.
pub fn read_for(kind: TokenizerKind, path: &Path) -> Result<Vec<u8>> {
    match kind {
        TokenizerKind::Byte => read_bytes(path),
        _ => read_utf8(path).map(String::into_bytes),
    }
}

impl Corpus {
    /// Builds the vocabulary from the training text (and the validation text, for char,
    /// so every character of either has an id), or uses `vocab` when given (resume).
    pub fn from_texts(kind: TokenizerKind, train: &[u8], valid: Option<&[u8]>, max_vocab: Option<usize>, vocab: Option<Vocab>) -> Result<Corpus> {
        let vocab = match vocab {
            Some(v) => v,
            None => {
                let mut sources: Vec<&[u8]> = vec![train];
                if let (TokenizerKind::Char, Some(v)) = (kind, valid) {
                    sources.push(v);
                }
                Vocab::build(kind, &sources, max_vocab)?
            }
        };
        let tokens = vocab.encode_stream(train)?;
        let (train, valid) = match valid {
            Some(v) => (tokens, vocab.encode_stream(v)?),
            None => {
                let cut = ((tokens.len() as f64) * (1.0 - VALID_FRACTION)).round() as usize;
                let mut train = tokens;
                let valid = train.split_off(cut.min(train.len()));
                (train, valid)
            }
        };
        if train.len() < 2 {
            return Err(ElmanError::Data { what: "training text".into(), detail: format!("only {} token(s) after the split", train.len()) });
        }
        Ok(Corpus { vocab, train, valid })
    }

    /// Reads and tokenizes the files (see [`Corpus::from_texts`]).
    pub fn load(kind: TokenizerKind, train: &Path, valid: Option<&Path>, max_vocab: Option<usize>, vocab: Option<Vocab>) -> Result<Corpus> {
        let train_bytes = read_for(kind, train)?;
        let valid_bytes = valid.map(|p| read_for(kind, p)).transpose()?;
        Corpus::from_texts(kind, &train_bytes, valid_bytes.as_deref(), max_vocab, vocab)
    }
}
