//! Training an n-gram model in bounded memory, from a text file to an ARPA file, for
//! corpora whose counts do not fit in memory: every pass streams sorted records through
//! files on disk, as KenLM's lmplz does, and the result is byte for byte the ARPA file of
//! the in-memory path ([`crate::ngram::train`]).
//!
//! 1. [`tokens`]: the text in blocks, tokenized on all cores into a file of token ids;
//! 2. [`counts`]: every order's counts (raw and Kneser-Ney adjusted), each level a file
//!    in suffix order, through external sorts ([`external`]) of the highest order's
//!    windows and of the sentence starts;
//! 3. [`estimate`]: per order, a sort by context for the smoother's statistics and a sort
//!    back to suffix order, the ARPA sections written as soon as their back-off weights
//!    are known.
//!
//! Memory: the sorters hold at most the bound (`--memory`) less [`RESERVED_BYTES`] (half
//! the bound when it is under 64 MiB). The reserve covers a block of text (4 MiB; with
//! markers, plus the longest line) and its tokens, and I/O buffers: 1 MiB per file being
//! written, 4 MiB per merge of sorted runs (at most [`external::MAX_FAN_IN`] runs each; one
//! merge per order at once while counting). Beyond it: the vocabulary and the unigrams,
//! which grow with |V|, not with the text.

pub mod counts;
pub mod estimate;
pub mod external;
pub mod records;
pub mod tokens;

use crate::error::{ElmanError, Result};
use crate::ngram::key::KeyLayout;
use crate::ngram::train::TrainOptions;
use std::path::Path;
use std::time::{Duration, Instant};

/// Of the memory bound, what the pipeline keeps for itself (a block of text and its
/// tokens, the vocabulary and unigrams, file buffers); the sorters share the rest (at
/// least half the bound).
pub const RESERVED_BYTES: u64 = 32 << 20;

/// What a bounded run did, for the training report.
#[derive(Clone, Debug)]
pub struct BoundedReport {
    /// N-grams per order.
    pub counts: Vec<u64>,
    /// Tokens predicted in the training text (`</s>` included, `<s>` not).
    pub predicted_tokens: u64,
    /// Vocabulary size without `<s>`.
    pub vocab_without_bos: usize,
    /// Sorted runs the counting pass wrote.
    pub runs: usize,
    /// The most bytes the pipeline had on disk at once.
    pub peak_disk_bytes: u64,
    /// Kneser-Ney discounts [0, D1, D2, D3+] per order (empty for other methods).
    pub discounts: Vec<[f64; 4]>,
    pub fallback_orders: Vec<usize>,
    pub phases: Vec<(&'static str, Duration)>,
}

/// Trains on the text file `data` and writes the ARPA model to `out` (atomically) within
/// about `memory` bytes (the sorters get all but [`RESERVED_BYTES`] of it).
pub fn train_to_arpa(data: &Path, options: &TrainOptions, memory: u64, out: &Path) -> Result<BoundedReport> {
    options.validate()?;
    let budget = memory.saturating_sub(RESERVED_BYTES).max(memory / 2);
    let scratch = external::Scratch::create()?;
    let mut clock = Instant::now();
    let mut phases = Vec::new();
    let mut lap = |name: &'static str, phases: &mut Vec<(&'static str, Duration)>| {
        phases.push((name, clock.elapsed()));
        clock = Instant::now();
    };
    let tokens = tokens::tokenize_file(data, options.tokenize, &scratch)?;
    if tokens.words == 0 {
        return Err(ElmanError::Ngram(format!("{} contains no tokens (only whitespace)", data.display())));
    }
    lap("tokenize", &mut phases);
    let layout = KeyLayout::new(tokens.vocab.len(), options.order)?;
    let levels = counts::count_levels(&tokens.ids, layout, options.order, options.tokenize.markers, &scratch, budget)?;
    if levels.counts().last() == Some(&0) {
        return Err(ElmanError::Setting {
            key: "order",
            problem: format!("{} is too high: {} contains no complete {}-gram (its longest sentence is too short)", options.order, data.display(), options.order),
        });
    }
    let predicted_tokens = tokens.tokens - if options.tokenize.markers { tokens.sentences } else { 0 };
    let (vocab, counts, runs) = (tokens.vocab, levels.counts(), levels.runs);
    drop(tokens.ids);
    lap("count", &mut phases);
    let mut smoother = options.smoothing.smoother(options.k);
    let target = estimate::ArpaTarget { vocab: &vocab, tokenizer: options.tokenize.tokenizer, markers: options.tokenize.markers, layout };
    crate::host::atomic_file::write_atomic_with(out, |w| {
        estimate::estimate_to_arpa(levels, &target, smoother.as_mut(), &scratch, budget, w).map_err(|e| match e {
            ElmanError::Write { source, .. } => ElmanError::Write { path: out.to_path_buf(), source },
            other => other,
        })
    })?;
    lap("smooth and write", &mut phases);
    let (discounts, fallback_orders) = smoother.discounts();
    let vocab_without_bos = vocab.len() - usize::from(options.tokenize.markers);
    Ok(BoundedReport { counts, predicted_tokens, vocab_without_bos, runs, peak_disk_bytes: scratch.disk().peak(), discounts, fallback_orders, phases })
}
