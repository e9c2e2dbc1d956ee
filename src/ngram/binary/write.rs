//! Writing a model in the binary format (layout in [`super`]): the trie and the token
//! tables become sections, the checksum is filled in last, and the file is written through
//! a temp file and a rename.

use super::checksum::checksum;
use super::lexicon::build_sections;
use super::trie::{build, OwnedTrie};
use super::{CHECKSUM_AT, FLAG_CHAR, FLAG_MARKERS, HEADER_BYTES, MAGIC, VERSION};
use crate::error::{ElmanError, Result};
use crate::ngram::model::NgramModel;
use crate::ngram::tokenize::Tokenizer;
use std::path::Path;

/// Writes `model` to `path` in the binary format.
pub fn write_binary_file(model: &NgramModel<f32>, path: &Path) -> Result<()> {
    let bytes = write_binary(model)?;
    crate::model::checkpoint::write_atomic(path, &bytes)
}

fn pad8(bytes: &mut Vec<u8>) {
    bytes.resize(bytes.len().next_multiple_of(8), 0);
}

/// The binary file of `model`, as bytes.
pub fn write_binary(model: &NgramModel<f32>) -> Result<Vec<u8>> {
    let trie: OwnedTrie = build(model)?;
    let (offsets, token_bytes, slots) = build_sections(model.vocab.words());
    if token_bytes.len() > u32::MAX as usize {
        return Err(ElmanError::Ngram("the vocabulary's tokens exceed 4 GiB, past the binary format's limit".into()));
    }
    let counts: Vec<u64> = model.levels.iter().map(|l| l.keys.len() as u64).collect();
    let mut sections: Vec<&[u8]> = vec![
        bytemuck::cast_slice(&counts),
        bytemuck::cast_slice(&offsets),
        &token_bytes,
        bytemuck::cast_slice(&slots),
    ];
    for nodes in &trie.inner {
        sections.push(bytemuck::cast_slice(nodes));
    }
    sections.push(bytemuck::cast_slice(&trie.top));
    for table in &trie.tables {
        sections.push(bytemuck::cast_slice(table));
    }
    let smoothing = model.info.smoothing.as_bytes();
    let mut flags = 0;
    if model.info.tokenizer == Tokenizer::Char {
        flags |= FLAG_CHAR;
    }
    if model.info.markers {
        flags |= FLAG_MARKERS;
    }
    let mut out = Vec::with_capacity(HEADER_BYTES + sections.iter().map(|s| s.len() + 24).sum::<usize>() + smoothing.len() + 8);
    out.extend_from_slice(&MAGIC);
    for value in [VERSION, model.order() as u32, model.vocab.len() as u32, flags] {
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(&[0u8; 16]); // checksum and file length, filled in below
    out.extend_from_slice(&(smoothing.len() as u32).to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    let table_at = out.len();
    out.resize(table_at + 16 * sections.len(), 0);
    out.extend_from_slice(smoothing);
    pad8(&mut out);
    for (i, section) in sections.iter().enumerate() {
        let at = out.len() as u64;
        let entry = table_at + 16 * i;
        out[entry..entry + 8].copy_from_slice(&at.to_le_bytes());
        out[entry + 8..entry + 16].copy_from_slice(&(section.len() as u64).to_le_bytes());
        out.extend_from_slice(section);
        pad8(&mut out);
    }
    let len = out.len() as u64;
    out[32..40].copy_from_slice(&len.to_le_bytes());
    let sum = checksum(&out);
    out[CHECKSUM_AT].copy_from_slice(&sum.to_le_bytes());
    Ok(out)
}
