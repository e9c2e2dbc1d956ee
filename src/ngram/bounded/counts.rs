//! Pass 2: counts of every order from the token file, each level written to disk in suffix
//! order — the same counts as [`crate::ngram::count::count_ngrams`], by the same rules
//! (that module's doc has the formulas), in bounded memory:
//!
//! - the highest order's windows go through an [`ExternalSorter`] (runs collapsed to
//!   (key, count) before they are written);
//! - the sentence-opening n-grams of each lower order through one sorter each;
//! - one streaming cascade then derives every lower order from the one above it: along a
//!   sorted level the suffixes come out sorted, so level n − 1 is produced in order while
//!   level n streams past, merged with its sentence starts, and handed down in turn.
//!
//! The unigrams (at most |V| of them) are kept in memory.

use super::external::{key_bytes, ExternalSorter, RecordFile, RecordWriter, Scratch};
use super::records::{combine_counts, KeyCount, LevelEntry, Summed, TokenId};
use crate::error::Result;
use crate::ngram::count::{add_special_unigrams, CountLevel};
use crate::ngram::key::KeyLayout;
use crate::ngram::smoothing::OrderCounts;
use crate::ngram::spill::add_counts;
use crate::ngram::vocab::BOS;

/// Every level's counts: orders 2..N on disk, the unigrams in memory.
pub struct LevelFiles {
    pub unigrams: CountLevel,
    /// `upper[n - 2]` holds order n (n ≥ 2).
    pub upper: Vec<RecordFile<LevelEntry>>,
    /// The summaries a smoother prepares each order ≥ 2 from (`[n - 2]`), of the raw and
    /// of the adjusted counts, gathered as the levels were written.
    pub raw_summaries: Vec<OrderCounts>,
    pub adjusted_summaries: Vec<OrderCounts>,
    /// Sorted runs the counters wrote.
    pub runs: usize,
}

impl LevelFiles {
    /// N-grams per order, 1..=N.
    pub fn counts(&self) -> Vec<u64> {
        std::iter::once(self.unigrams.keys.len() as u64).chain(self.upper.iter().map(|f| f.count)).collect()
    }
}

/// Counts orders 1..=`order` of the token file in about `budget` bytes.
pub fn count_levels(tokens: &RecordFile<TokenId>, layout: KeyLayout, order: usize, markers: bool, scratch: &Scratch, budget: u64) -> Result<LevelFiles> {
    // The windows get three quarters of the budget; the sentence starts share the rest.
    let bytes = |n: usize| key_bytes(n, layout.bits());
    let mut windows = ExternalSorter::<KeyCount>::new(scratch, "windows", budget / 4 * 3, bytes(order)).combining(combine_counts).single_buffer();
    let per_start = budget / 4 / (order.max(2) - 1) as u64;
    let mut starts: Vec<ExternalSorter<KeyCount>> = (1..order).map(|n| ExternalSorter::new(scratch, "starts", per_start, bytes(n)).combining(combine_counts).single_buffer()).collect();
    let mut reader = tokens.reader()?;
    // Position in the current sentence, and the key of its last `order` tokens.
    let (mut position, mut key) = (0usize, 0u128);
    let (mut opening, bits) = (0u128, layout.bits());
    while let Some(TokenId(id)) = reader.next_record()? {
        if markers && id == BOS {
            (position, key, opening) = (0, 0, 0);
        }
        key = layout.slide(key, id, order);
        if position < order - 1 {
            opening |= (id as u128) << (position as u32 * bits);
            starts[position].push(KeyCount { key: opening, count: 1 })?;
        }
        if position + 1 >= order && !(order == 1 && markers && id == BOS) {
            windows.push(KeyCount { key, count: 1 })?;
        }
        position += 1;
    }
    let runs = windows.runs() + starts.iter().map(|s| s.runs()).sum::<usize>();
    let top = Summed::new(windows.finish()?)?;
    let mut start_streams = starts.into_iter().map(|s| s.finish().and_then(Summed::new)).collect::<Result<Vec<_>>>()?;
    // The cascade: order N's file, then each lower order from the one above.
    let mut writers = (2..=order).map(|n| RecordWriter::<LevelEntry>::create(scratch, "level", bytes(n))).collect::<Result<Vec<_>>>()?;
    let mut derivers: Vec<Deriver> = (1..order).rev().map(|n| Deriver { layout, n, pending: None, starts: start_streams.pop().expect("one per lower order") }).collect();
    let mut unigrams = CountLevel::default();
    let mut top = top;
    let (mut raw_summaries, mut adjusted_summaries) = (vec![OrderCounts::default(); order - 1], vec![OrderCounts::default(); order - 1]);
    let mut last = vec![None; order - 1];
    let mut sink = Sink { writers: &mut writers, unigrams: &mut unigrams, raw: &mut raw_summaries, adjusted: &mut adjusted_summaries, last: &mut last };
    while let Some(KeyCount { key, count }) = top.next_sum()? {
        sink.emit(order, LevelEntry { key, raw: count, adjusted: count }, &mut derivers)?;
    }
    for i in 0..derivers.len() {
        let (this, below) = derivers.split_at_mut(i + 1);
        this[i].finish(&mut sink, below)?;
    }
    // lmplz's counts-of-counts below the highest order (see `OrderCounts::count_last_as_lmplz`).
    for (summary, last) in adjusted_summaries.iter_mut().zip(&last).take(order.saturating_sub(2)) {
        if let Some((adjusted, raw)) = *last {
            summary.count_last_as_lmplz(adjusted, raw);
        }
    }
    add_special_unigrams(&mut unigrams, markers);
    let upper = writers.into_iter().map(RecordWriter::finish).collect::<Result<Vec<_>>>()?;
    Ok(LevelFiles { unigrams, upper, raw_summaries, adjusted_summaries, runs })
}

/// Where each level's entries go: orders ≥ 2 to their files, order 1 to memory.
struct Sink<'a> {
    writers: &'a mut [RecordWriter<LevelEntry>],
    unigrams: &'a mut CountLevel,
    raw: &'a mut [OrderCounts],
    adjusted: &'a mut [OrderCounts],
    /// (adjusted, raw) of the last entry of each order ≥ 2 (its greatest key).
    last: &'a mut [Option<(u32, u32)>],
}

impl Sink<'_> {
    /// Stores an entry of order n and passes it to the deriver of order n − 1
    /// (`derivers[0]`; the rest are the orders below it).
    fn emit(&mut self, n: usize, entry: LevelEntry, derivers: &mut [Deriver]) -> Result<()> {
        if n == 1 {
            self.unigrams.keys.push(entry.key);
            self.unigrams.raw.push(entry.raw);
            self.unigrams.adjusted.push(entry.adjusted);
            return Ok(());
        }
        self.writers[n - 2].push(&entry)?;
        self.raw[n - 2].add(entry.raw);
        self.adjusted[n - 2].add(entry.adjusted);
        self.last[n - 2] = Some((entry.adjusted, entry.raw));
        if let Some((first, below)) = derivers.split_first_mut() {
            first.take(self, entry, below)?;
        }
        Ok(())
    }
}

/// Derives order `n` from the sorted entries of order n + 1.
struct Deriver {
    layout: KeyLayout,
    n: usize,
    /// The suffix being summed: (key, raw, distinct left neighbours).
    pending: Option<(u128, u32, u32)>,
    starts: Summed,
}

impl Deriver {
    fn take(&mut self, sink: &mut Sink, upper: LevelEntry, below: &mut [Deriver]) -> Result<()> {
        let suffix = self.layout.suffix(upper.key);
        match &mut self.pending {
            Some((key, raw, distinct)) if *key == suffix => {
                *raw = add_counts(*raw, upper.raw)?;
                *distinct += 1;
            }
            _ => {
                self.flush(sink, below)?;
                self.pending = Some((suffix, upper.raw, 1));
            }
        }
        Ok(())
    }

    /// Emits the pending suffix, after every sentence start below it.
    fn flush(&mut self, sink: &mut Sink, below: &mut [Deriver]) -> Result<()> {
        let Some((key, mut raw, mut distinct)) = self.pending.take() else { return Ok(()) };
        // (Peeking shows the next run's record only; `next` sums the key across runs.)
        while self.starts.peek().is_some_and(|s| s.key < key) {
            let start = self.starts.next_sum()?.expect("peeked");
            sink.emit(self.n, LevelEntry { key: start.key, raw: start.count, adjusted: start.count }, below)?;
        }
        if self.starts.peek().is_some_and(|s| s.key == key) {
            let start = self.starts.next_sum()?.expect("peeked");
            raw = add_counts(raw, start.count)?;
            distinct = add_counts(distinct, start.count)?;
        }
        sink.emit(self.n, LevelEntry { key, raw, adjusted: distinct }, below)
    }

    /// The last suffix and the remaining starts; then the orders below finish in turn
    /// (by the caller).
    fn finish(&mut self, sink: &mut Sink, below: &mut [Deriver]) -> Result<()> {
        self.flush(sink, below)?;
        while let Some(start) = self.starts.next_sum()? {
            sink.emit(self.n, LevelEntry { key: start.key, raw: start.count, adjusted: start.count }, below)?;
        }
        Ok(())
    }
}
