//! Writing a model in the binary format (layout in [`super`]): the trie and the token
//! tables become sections, streamed to the file with the checksum computed alongside and
//! filled in last, through a temp file and a rename.

use super::checksum::StreamingChecksum;
use super::lexicon::build_sections;
use super::pack::{pack, PackedOrder};
use super::trie::{build, build_levels, OwnedTrie};
use super::{BinaryLayout, CHECKSUM_AT, FLAG_CHAR, FLAG_COMPACT, FLAG_MARKERS, HEADER_BYTES, MAGIC, VERSION};
use crate::error::{ElmanError, Result};
use crate::ngram::model::NgramModel;
use crate::ngram::tokenize::NgramTokenizer;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

/// Writes `model` to `path` in the binary format's hashed layout.
pub fn write_binary_file(model: &NgramModel<f32>, path: &Path) -> Result<()> {
    write_binary_file_as(model, path, BinaryLayout::Hashed)
}

/// Writes `model` to `path` in the binary format with `layout`, streamed (the file is
/// never held whole).
pub fn write_binary_file_as(model: &NgramModel<f32>, path: &Path, layout: BinaryLayout) -> Result<()> {
    crate::host::atomic_file::write_atomic_with(path, |out| {
        write_binary_to(model, layout, out).map_err(|e| match e {
            ElmanError::Write { source, .. } => ElmanError::Write { path: path.to_path_buf(), source },
            other => other,
        })
    })
}

/// The binary file of `model` in the hashed layout, as bytes.
pub fn write_binary(model: &NgramModel<f32>) -> Result<Vec<u8>> {
    write_binary_as(model, BinaryLayout::Hashed)
}

/// The binary file of `model` with `layout`, as bytes.
pub fn write_binary_as(model: &NgramModel<f32>, layout: BinaryLayout) -> Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    write_binary_to(model, layout, &mut out)?;
    Ok(out.into_inner())
}

/// Bytes of zero padding after `len` bytes to the next multiple of 8.
fn padding(len: usize) -> usize {
    len.next_multiple_of(8) - len
}

/// Writes the file to `out`: header and section table first (their offsets computed
/// from the sections' sizes), then the sections, the checksum streamed alongside and
/// written into its field last.
pub fn write_binary_to(model: &NgramModel<f32>, layout: BinaryLayout, out: &mut (impl Write + Seek)) -> Result<()> {
    let write_err = |source| ElmanError::Write { path: "<binary output>".into(), source };
    let (offsets, token_bytes, slots) = build_sections(model.vocab.words());
    if token_bytes.len() > u32::MAX as usize {
        return Err(ElmanError::Ngram("the vocabulary's tokens exceed 4 GiB, past the binary format's limit".into()));
    }
    let counts: Vec<u64> = model.levels.iter().map(|l| l.keys.len() as u64).collect();
    let built = match layout {
        BinaryLayout::Hashed => Built::Hashed(build(model)?),
        BinaryLayout::Compact(quantization) => {
            let (inner, top) = build_levels(model)?;
            let orders = pack(&inner, &top, model.vocab.len(), quantization)?;
            let params: Vec<u64> = orders.iter().flat_map(|o| o.params.to_words()).collect();
            Built::Compact { params, orders }
        }
    };
    let mut sections: Vec<&[u8]> = vec![
        bytemuck::cast_slice(&counts),
        bytemuck::cast_slice(&offsets),
        &token_bytes,
        bytemuck::cast_slice(&slots),
    ];
    let mut flags = 0;
    match &built {
        Built::Hashed(trie) => {
            sections.extend(trie.inner.iter().map(|nodes| bytemuck::cast_slice(nodes)));
            sections.push(bytemuck::cast_slice(&trie.top));
            sections.extend(trie.tables.iter().map(|table| bytemuck::cast_slice(table)));
        }
        Built::Compact { params, orders } => {
            flags |= FLAG_COMPACT;
            sections.push(bytemuck::cast_slice(params));
            for order in orders {
                sections.extend([&order.records[..], bytemuck::cast_slice(&order.bases), bytemuck::cast_slice(&order.bins)]);
            }
        }
    }
    let smoothing = model.info.smoothing.as_bytes();
    if model.info.tokenizer == NgramTokenizer::Char {
        flags |= FLAG_CHAR;
    }
    if model.info.markers {
        flags |= FLAG_MARKERS;
    }
    // The header, the section table and the smoothing text, padded.
    let mut head = Vec::with_capacity(HEADER_BYTES + 16 * sections.len() + smoothing.len() + 8);
    head.extend_from_slice(&MAGIC);
    for value in [VERSION, model.order() as u32, model.vocab.len() as u32, flags] {
        head.extend_from_slice(&value.to_le_bytes());
    }
    head.extend_from_slice(&[0u8; 16]); // checksum (filled in last) and file length
    head.extend_from_slice(&(smoothing.len() as u32).to_le_bytes());
    head.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    let table_at = head.len();
    head.resize(table_at + 16 * sections.len(), 0);
    head.extend_from_slice(smoothing);
    head.resize(head.len() + padding(head.len()), 0);
    let mut at = head.len();
    for (i, section) in sections.iter().enumerate() {
        let entry = table_at + 16 * i;
        head[entry..entry + 8].copy_from_slice(&(at as u64).to_le_bytes());
        head[entry + 8..entry + 16].copy_from_slice(&(section.len() as u64).to_le_bytes());
        at += section.len() + padding(section.len());
    }
    head[32..40].copy_from_slice(&(at as u64).to_le_bytes());
    let mut sum = StreamingChecksum::default();
    let mut emit = |bytes: &[u8]| -> Result<()> {
        sum.update(bytes);
        out.write_all(bytes).map_err(write_err)
    };
    emit(&head)?;
    for section in &sections {
        emit(section)?;
        emit(&[0u8; 8][..padding(section.len())])?;
    }
    let sum = sum.finish();
    out.seek(SeekFrom::Start(CHECKSUM_AT.start as u64)).map_err(write_err)?;
    out.write_all(&sum.to_le_bytes()).map_err(write_err)?;
    out.seek(SeekFrom::End(0)).map_err(write_err)?;
    Ok(())
}

/// The trie in the layout asked for, owning what the sections borrow.
enum Built {
    Hashed(OwnedTrie),
    Compact { params: Vec<u64>, orders: Vec<PackedOrder> },
}
