//! Pass 1: the training text, read in blocks, tokenized on all cores into a file of token
//! ids, and the vocabulary in first-occurrence order — the same ids as
//! [`crate::ngram::tokenize::tokenize_training`] gives the whole text.
//!
//! A block ends at a line break (no token or sentence spans one; without markers, where a
//! stretch of 4 MiB holds none, between two tokens). It is cut into pieces at line breaks,
//! each piece tokenized with ids of its own
//! ([`crate::ngram::tokenize::tokenize_piece_local`]), and the pieces' new words are
//! added to the vocabulary in text order, which is first-occurrence order.

use super::external::{RecordFile, RecordWriter, Scratch};
use super::records::TokenId;
use crate::error::{ElmanError, Result};
use crate::ngram::tokenize::{tokenize_piece_local, TokenizeOptions};
use crate::ngram::vocab::{NgramVocab, BOS, EOS, SPECIALS};
use rayon::prelude::*;
use std::io::Read;
use std::path::Path;

/// Bytes of text read at a time (plus the unfinished line carried over).
pub const BLOCK_BYTES: usize = 4 << 20;
/// Pieces a block is cut into, tokenized in parallel.
const PIECES: usize = 8;

/// The tokenized text.
pub struct TokenFile {
    pub ids: RecordFile<TokenId>,
    pub vocab: NgramVocab,
    /// Tokens in the file, markers included.
    pub tokens: u64,
    /// Tokens that are not `<s>` or `</s>`.
    pub words: u64,
    /// Sentences (with markers; 1 without).
    pub sentences: u64,
}

/// Tokenizes the file at `path` into `scratch`.
pub fn tokenize_file(path: &Path, options: TokenizeOptions, scratch: &Scratch) -> Result<TokenFile> {
    let io_err = |source| ElmanError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut out = RecordWriter::<TokenId>::create(scratch, "tokens", 0)?;
    let mut vocab = NgramVocab::new();
    let (mut tokens, mut words, mut sentences) = (0u64, 0u64, 0u64);
    let mut pending: Vec<u8> = Vec::with_capacity(BLOCK_BYTES + (1 << 16));
    let mut offset = 0usize; // bytes of the file before `pending`
    let mut last_newline: Option<usize> = None; // in `pending`, found as bytes arrive
    let mut chunk = vec![0u8; BLOCK_BYTES];
    loop {
        let read = file.read(&mut chunk).map_err(io_err)?;
        let before = pending.len();
        pending.extend_from_slice(&chunk[..read]);
        if let Some(i) = chunk[..read].iter().rposition(|&b| b == b'\n') {
            last_newline = Some(before + i);
        }
        let at_end = read == 0;
        // Whole lines; without markers (one stream), a long stretch with no line break is
        // cut between tokens instead.
        let cut = if at_end {
            pending.len()
        } else if pending.len() < BLOCK_BYTES {
            0
        } else {
            match last_newline {
                Some(i) => i + 1,
                None if !options.markers => cut_between_tokens(&pending, options.tokenizer),
                None => 0,
            }
        };
        if cut > 0 {
            let text = std::str::from_utf8(&pending[..cut]).map_err(|e| {
                let at = e.valid_up_to();
                ElmanError::NotUtf8 { path: path.to_path_buf(), offset: offset + at, byte: pending[at], byte_tokenizer: false }
            })?;
            for id in tokenize_block(text, options, &mut vocab) {
                match id {
                    BOS => sentences += 1,
                    EOS => {}
                    _ => words += 1,
                }
                tokens += 1;
                out.push(&TokenId(id))?;
            }
            pending.drain(..cut);
            offset += cut;
            last_newline = last_newline.filter(|&i| i >= cut).map(|i| i - cut);
        }
        if at_end {
            break;
        }
    }
    if offset == 0 {
        return Err(ElmanError::Ngram(format!("{} is empty", path.display())));
    }
    if !options.markers {
        sentences = 1;
    }
    Ok(TokenFile { ids: out.finish()?, vocab, tokens, words, sentences })
}

/// Where a line-less stretch of a stream (no markers) can be cut without splitting a
/// token: after its last ASCII whitespace (word level) or before its last character (char
/// level); 0 when there is no such place.
fn cut_between_tokens(bytes: &[u8], tokenizer: crate::ngram::tokenize::NgramTokenizer) -> usize {
    match tokenizer {
        crate::ngram::tokenize::NgramTokenizer::Word => bytes.iter().rposition(|b| b.is_ascii_whitespace()).map_or(0, |i| i + 1),
        crate::ngram::tokenize::NgramTokenizer::Char => bytes.iter().rposition(|&b| b & 0xC0 != 0x80).unwrap_or(0),
    }
}

/// The ids of one block of whole lines, growing `vocab`.
fn tokenize_block(text: &str, options: TokenizeOptions, vocab: &mut NgramVocab) -> Vec<u32> {
    let piece_len = text.len().div_ceil(PIECES).max(1 << 16);
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = if rest.len() <= piece_len {
            rest.len()
        } else {
            rest.as_bytes()[piece_len..].iter().position(|&b| b == b'\n').map_or(rest.len(), |at| piece_len + at + 1)
        };
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    let parts: Vec<_> = pieces.into_par_iter().map(|piece| tokenize_piece_local(piece, options)).collect();
    let mut ids = Vec::with_capacity(parts.iter().map(|(c, _)| c.tokens.len()).sum());
    for (corpus, new_words) in parts {
        let global: Vec<u32> = new_words.iter().map(|w| vocab.insert(w)).collect();
        ids.extend(corpus.tokens.iter().map(|&id| if (id as usize) < SPECIALS.len() { id } else { global[id as usize - SPECIALS.len()] }));
    }
    ids
}
