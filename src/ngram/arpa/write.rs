//! Writing a model as ARPA text. Lines are formatted in parallel, a batch of chunks at a
//! time (bounded memory), each batch while the one before is being written, in order;
//! floats are the shortest text that reads back to the same `f32`, so export → import is
//! exact.

use crate::choice::Choice;
use super::{escape_char_token, HEADER_PREFIX, LOG10_ZERO};
use crate::error::{ElmanError, Result};
use crate::ngram::key::{KeyLayout, SortedKeys};
use crate::ngram::model::NgramModel;
use crate::ngram::tokenize::NgramTokenizer;
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;

const CHUNK: usize = 16_384;
const CHUNKS_PER_BATCH: usize = 4;

/// Writes `model` to `path` (through a temp file and a rename, so a failed write never
/// leaves a truncated model behind).
pub fn write_arpa_file(model: &NgramModel<f32>, path: &Path) -> Result<()> {
    crate::host::atomic_file::write_atomic_with(path, |out| {
        write_arpa(model, out).map_err(|e| match e {
            ElmanError::Write { source, .. } => ElmanError::Write { path: path.to_path_buf(), source },
            other => other,
        })
    })
}

/// Writes `model` as ARPA text.
pub fn write_arpa(model: &NgramModel<f32>, out: &mut (impl Write + Send)) -> Result<()> {
    let io_err = |source| ElmanError::Write { path: "<ARPA output>".into(), source };
    let words = arpa_words(&model.vocab, model.info.tokenizer);
    let counts: Vec<u64> = model.levels.iter().map(|l| l.len() as u64).collect();
    let head = arpa_header(model.info.tokenizer, model.info.markers, &model.info.smoothing, &counts);
    out.write_all(head.as_bytes()).map_err(io_err)?;
    for n in 1..=model.order() {
        out.write_all(format!("\n\\{n}-grams:\n").as_bytes()).map_err(io_err)?;
        let len = model.levels[n - 1].len();
        let chunks: Vec<usize> = (0..len).step_by(CHUNK).collect();
        // Each batch is formatted while the one before is being written.
        let mut pending: Vec<Vec<u8>> = Vec::new();
        for batch in chunks.chunks(CHUNKS_PER_BATCH) {
            let previous = std::mem::take(&mut pending);
            let (texts, written) = rayon::join(
                || batch.par_iter().map(|&start| format_lines(model, &words, n, start..(start + CHUNK).min(len))).collect::<Vec<Vec<u8>>>(),
                || previous.iter().try_for_each(|text| out.write_all(text)),
            );
            written.map_err(io_err)?;
            pending = texts;
        }
        for text in pending {
            out.write_all(&text).map_err(io_err)?;
        }
    }
    out.write_all(b"\n\\end\\\n").map_err(io_err)
}

/// Token spellings as ARPA files write them (char-level whitespace and controls escaped).
pub fn arpa_words(vocab: &crate::ngram::vocab::NgramVocab, tokenizer: NgramTokenizer) -> Vec<String> {
    match tokenizer {
        NgramTokenizer::Word => vocab.words().to_vec(),
        NgramTokenizer::Char => vocab.words().iter().map(|w| escape_char_token(w)).collect(),
    }
}

/// The header: elman's comment line (tokenizer, markers, smoothing), `\data\` and the
/// n-grams of each order.
pub fn arpa_header(tokenizer: NgramTokenizer, markers: bool, smoothing: &str, counts: &[u64]) -> String {
    let mut head = format!(
        "{HEADER_PREFIX} tokenizer={} markers={} smoothing={}\n\n\\data\\\n",
        tokenizer.name(),
        if markers { "yes" } else { "no" },
        smoothing.replace(' ', "_"),
    );
    for (n, count) in counts.iter().enumerate() {
        head.push_str(&format!("ngram {}={count}\n", n + 1));
    }
    head
}

/// Appends the line of one n-gram of order `n`: log10 p, the tokens, and the back-off
/// weight when there is one and it is not 0 (log10 1).
#[allow(clippy::too_many_arguments)]
pub fn push_line(text: &mut Vec<u8>, buffer: &mut zmij::Buffer, ids: &mut Vec<u32>, words: &[String], layout: KeyLayout, n: usize, key: u128, log10_prob: f32, log10_backoff: Option<f32>) {
    push_log10(text, buffer, log10_prob);
    text.push(b'\t');
    layout.unpack(key, n, ids);
    for (j, &id) in ids.iter().enumerate() {
        if j > 0 {
            text.push(b' ');
        }
        text.extend_from_slice(words[id as usize].as_bytes());
    }
    if let Some(backoff) = log10_backoff {
        if backoff != 0.0 {
            text.push(b'\t');
            push_log10(text, buffer, backoff);
        }
    }
    text.push(b'\n');
}

/// A log10 value; log10 0 (−∞, or NaN) is written `-99`, as SRILM and KenLM write it, and
/// every finite value as it is (−100 stays −100), a real −99 as `-99.0` so that elman
/// reads it back as −99, not as log10 0.
fn push_log10(line: &mut Vec<u8>, buffer: &mut zmij::Buffer, value: f32) {
    if value == LOG10_ZERO {
        line.extend_from_slice(b"-99.0");
    } else if value.is_finite() {
        line.extend_from_slice(buffer.format_finite(value).as_bytes());
    } else {
        line.extend_from_slice(b"-99");
    }
}

/// The lines of entries `range` of order `n`.
fn format_lines(model: &NgramModel<f32>, words: &[String], n: usize, range: std::ops::Range<usize>) -> Vec<u8> {
    let level = &model.levels[n - 1];
    let mut text = Vec::with_capacity(range.len() * (12 + 8 * n));
    let mut buffer = zmij::Buffer::new();
    let mut ids = Vec::with_capacity(n);
    for i in range {
        push_line(&mut text, &mut buffer, &mut ids, words, model.layout, n, level.keys[i], level.log10_prob[i], level.log10_backoff.get(i).copied());
    }
    text
}
