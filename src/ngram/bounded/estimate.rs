//! Pass 3: the probabilities and back-off weights of every order, streamed from the level
//! files into the ARPA file — the same numbers, in the same order and format, as
//! [`crate::ngram::smoothing::estimate`] and [`crate::ngram::arpa::write_arpa`] give.
//!
//! The unigrams are estimated in memory. Then for each order n ≥ 2 (p_n(w | c) =
//! α_n(c w) + γ_n(c) · p_{n−1}(w | c′), the module doc of [`crate::ngram::smoothing`]):
//!
//! 1. level n streams in suffix order beside order n − 1's probabilities (also in suffix
//!    order), so each n-gram finds p_{n−1} of its suffix c′ w with one moving pointer, and
//!    goes to a sorter by (context c, word w);
//! 2. in context order, each group c gives its statistics, γ_n(c) (written as c's back-off
//!    weight: contexts come out in the key order of level n − 1) and every p_n(w | c),
//!    which a second sorter puts back into suffix order;
//! 3. the ARPA section of order n − 1 is written from its probabilities and those back-off
//!    weights, merged; then order n's probabilities are kept on disk for order n + 1.

use super::counts::LevelFiles;
use super::external::{key_bytes, ExternalSorter, RecordFile, RecordWriter, Scratch, Sorted, SortedRuns};
use super::records::{BackoffEntry, ContextEntry, LevelEntry, ProbEntry};
use crate::error::{ElmanError, Result};
use crate::ngram::arpa::write::{arpa_header, arpa_words, push_line};
use crate::ngram::key::KeyLayout;
use crate::ngram::smoothing::{unigram_probs, ContextStats, CountKind, OrderCounts, Smoother};
use crate::ngram::tokenize::NgramTokenizer;
use crate::ngram::vocab::{NgramVocab, BOS};
use rayon::prelude::*;
use std::io::Write;

/// Lines formatted per parallel batch of the ARPA writer.
const BATCH: usize = 1 << 16;

/// What the ARPA file needs besides the counts.
pub struct ArpaTarget<'a> {
    pub vocab: &'a NgramVocab,
    pub tokenizer: NgramTokenizer,
    pub markers: bool,
    pub layout: KeyLayout,
}

/// Estimates every order of `levels` with `smoother` and writes the ARPA text to `out`;
/// the sorters hold about `budget` bytes.
pub fn estimate_to_arpa(levels: LevelFiles, target: &ArpaTarget, smoother: &mut dyn Smoother, scratch: &Scratch, budget: u64, out: &mut (impl Write + Send)) -> Result<()> {
    let io_err = |source| ElmanError::Write { path: "<ARPA output>".into(), source };
    let order = levels.upper.len() + 1;
    let kind = smoother.count_kind();
    let words = arpa_words(target.vocab, target.tokenizer);
    let LevelFiles { unigrams, upper, raw_summaries, adjusted_summaries, .. } = levels;
    let counts: Vec<u64> = std::iter::once(unigrams.keys.len() as u64).chain(upper.iter().map(|f| f.count)).collect();
    // The header: the smoother describes itself only after estimating (KN's discounts do
    // not show in it), so its name is known now.
    out.write_all(arpa_header(target.tokenizer, target.markers, &smoother.describe(), &counts).as_bytes()).map_err(io_err)?;

    // Order 1, in memory.
    let bos_key = target.markers.then_some(BOS as u128);
    let unigram_counts = kind.of(&unigrams);
    let predicted = unigrams.keys.iter().zip(unigram_counts).filter(|(k, _)| Some(**k) != bos_key).map(|(_, &c)| c);
    let mut summary = OrderCounts::of(predicted);
    if let (CountKind::Adjusted, true, Some(&key)) = (kind, order > 1, unigrams.keys.last()) {
        if Some(key) != bos_key {
            if let (Some(&adjusted), Some(&raw)) = (unigrams.adjusted.last(), unigrams.raw.last()) {
                summary.count_last_as_lmplz(adjusted, raw);
            }
        }
    }
    smoother.prepare_order(1, &summary)?;
    let probs = unigram_probs(&unigrams.keys, unigram_counts, bos_key, &[], smoother);
    let mut lower = Lower::Memory(unigrams.keys.iter().zip(&probs).map(|(&key, &prob)| ProbEntry { key, prob }).collect());
    let mut section = SectionWriter { out, words: &words, layout: target.layout };
    let summaries = if kind == CountKind::Raw { raw_summaries } else { adjusted_summaries };
    for (i, (level, summary)) in upper.into_iter().zip(&summaries).enumerate() {
        let n = i + 2;
        let level_counts = |e: &LevelEntry| if kind == CountKind::Raw { e.raw } else { e.adjusted };
        smoother.prepare_order(n, summary)?;
        // 1. by context, with p_{n−1} of each suffix.
        let width = key_bytes(n, target.layout.bits());
        let mut by_context = ExternalSorter::<ContextEntry>::new(scratch, "context", budget, width);
        let mut reader = level.reader()?;
        let mut lower_reader = lower.reader()?;
        let mut current = lower_reader.next()?;
        let shift = (n as u32 - 1) * target.layout.bits();
        while let Some(e) = reader.next_record()? {
            let suffix = target.layout.suffix(e.key);
            while current.is_some_and(|p| p.key < suffix) {
                current = lower_reader.next()?;
            }
            let prob = current.filter(|p| p.key == suffix).ok_or_else(|| missing(n, "suffix"))?;
            by_context.push(ContextEntry { context: target.layout.context(e.key, n), word: (e.key >> shift) as u32, count: level_counts(&e), lower: prob.prob })?;
        }
        drop(level);
        // 2. each context's γ, each n-gram's p, back to suffix order.
        let mut by_key = ExternalSorter::<ProbEntry>::new(scratch, "probs", budget / 2, width);
        let mut backoffs = RecordWriter::<BackoffEntry>::create(scratch, "backoff", key_bytes(n - 1, target.layout.bits()))?;
        // (What stays in memory leaves the other half of the budget to the second sort.)
        let mut sorted = by_context.finish_within(budget / 2)?;
        let mut next = sorted.next_record()?;
        let mut group: Vec<ContextEntry> = Vec::new();
        while let Some(first) = next {
            group.clear();
            let mut stats = ContextStats::default();
            while let Some(e) = next.filter(|e| e.context == first.context) {
                stats.add(e.count);
                group.push(e);
                next = sorted.next_record()?;
            }
            let gamma = smoother.gamma(n, &stats);
            backoffs.push(&BackoffEntry { key: first.context, log10: gamma.log10() as f32 })?;
            for e in &group {
                let prob = smoother.alpha(n, e.count, &stats) + gamma * e.lower;
                by_key.push(ProbEntry { key: e.context | ((e.word as u128) << shift), prob })?;
            }
        }
        drop(sorted);
        // 3. order n − 1's section; order n's probabilities stay as sorted runs on disk,
        // merged again for order n + 1 and for the section of order n.
        section.write(n - 1, &lower, Some(&backoffs.finish()?))?;
        lower = Lower::Runs(by_key.finish_to_runs()?);
    }
    section.write(order, &lower, None)?;
    section.out.write_all(b"\n\\end\\\n").map_err(io_err)
}

/// Order n − 1's probabilities in suffix order: the unigrams in memory, or sorted runs.
enum Lower {
    Memory(Vec<ProbEntry>),
    Runs(SortedRuns<ProbEntry>),
}

impl Lower {
    fn reader(&self) -> Result<LowerReader<'_>> {
        Ok(match self {
            Lower::Memory(entries) => LowerReader::Memory(entries.iter()),
            Lower::Runs(runs) => LowerReader::Merge(runs.merge()?),
        })
    }
}

enum LowerReader<'a> {
    Memory(std::slice::Iter<'a, ProbEntry>),
    Merge(Sorted<ProbEntry>),
}

impl LowerReader<'_> {
    #[inline]
    fn next(&mut self) -> Result<Option<ProbEntry>> {
        match self {
            LowerReader::Memory(it) => Ok(it.next().copied()),
            LowerReader::Merge(r) => r.next_record(),
        }
    }
}

/// Writes ARPA sections, formatting each batch of lines on all cores.
struct SectionWriter<'a, W: Write + Send> {
    out: &'a mut W,
    words: &'a [String],
    layout: KeyLayout,
}

impl<W: Write + Send> SectionWriter<'_, W> {
    /// The `\n-grams:` section from `probs`, with the back-off weights of `backoffs`
    /// (orders below the highest; an n-gram that is no context has none).
    fn write(&mut self, n: usize, probs: &Lower, backoffs: Option<&RecordFile<BackoffEntry>>) -> Result<()> {
        let io_err = |source| ElmanError::Write { path: "<ARPA output>".into(), source };
        self.out.write_all(format!("\n\\{n}-grams:\n").as_bytes()).map_err(io_err)?;
        let mut reader = probs.reader()?;
        let mut weights = backoffs.map(|b| b.reader()).transpose()?;
        let mut weight = match &mut weights {
            Some(r) => r.next_record()?,
            None => None,
        };
        // Each batch of lines is formatted (on all cores) while the one before is written.
        let (words, layout) = (self.words, self.layout);
        let format = |batch: &[(u128, f64, Option<f32>)]| -> Vec<Vec<u8>> {
            batch
                .par_chunks(BATCH / 4)
                .map(|lines| {
                    let mut text = Vec::with_capacity(lines.len() * (12 + 8 * n));
                    let (mut buffer, mut ids) = (zmij::Buffer::new(), Vec::with_capacity(n));
                    for &(key, prob, backoff) in lines {
                        // log10 in f64, then the model's f32: as the in-memory model stores it.
                        push_line(&mut text, &mut buffer, &mut ids, words, layout, n, key, prob.log10() as f32, backoff);
                    }
                    text
                })
                .collect()
        };
        let mut batch: Vec<(u128, f64, Option<f32>)> = Vec::with_capacity(BATCH);
        let mut pending: Vec<Vec<u8>> = Vec::new();
        loop {
            let entry = reader.next()?;
            if let Some(p) = entry {
                let mut backoff = weights.as_ref().map(|_| 0.0f32);
                if let Some(w) = weight.filter(|w| w.key == p.key) {
                    backoff = Some(w.log10);
                    weight = weights.as_mut().expect("weights are being read").next_record()?;
                }
                if weight.is_some_and(|w| w.key < p.key) {
                    return Err(missing(n + 1, "context"));
                }
                batch.push((p.key, p.prob, backoff));
            }
            if batch.len() == BATCH || entry.is_none() {
                let previous = std::mem::take(&mut pending);
                let out = &mut *self.out;
                let (texts, written) = rayon::join(|| format(&batch), || previous.iter().try_for_each(|text| out.write_all(text)));
                written.map_err(io_err)?;
                pending = texts;
                batch.clear();
            }
            if entry.is_none() {
                break;
            }
        }
        for text in pending {
            self.out.write_all(&text).map_err(io_err)?;
        }
        if weight.is_some() {
            return Err(missing(n + 1, "context"));
        }
        Ok(())
    }
}

fn missing(n: usize, what: &str) -> ElmanError {
    ElmanError::Ngram(format!("internal: the {what} of a {n}-gram is missing from order {}", n - 1))
}
