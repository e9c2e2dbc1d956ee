//! Counting a multiset of packed n-gram keys in bounded memory (the in-memory path's
//! highest order): keys collect in a buffer of at most `budget` entries; a full buffer is
//! sorted (on all cores), run-length encoded and written as a sorted run of
//! [`KeyCount`]s through the bounded pipeline's record files ([`super::bounded::external`]);
//! at the end the runs are merged and equal keys summed. With no spill the buffer is
//! simply sorted and encoded in memory, and both paths yield the same `(key, count)` list.

use super::bounded::external::{RecordFile, RecordWriter, Scratch, SortedRuns};
use super::bounded::records::{KeyCount, Summed};
use crate::error::{ElmanError, Result};
use rayon::slice::ParallelSliceMut;

/// What the counter did, for the training report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpillStats {
    /// Sorted runs written to disk (0: everything stayed in memory).
    pub runs: usize,
    /// Bytes written to run files.
    pub bytes: u64,
}

/// Adds two counts, refusing to wrap.
pub fn add_counts(a: u32, b: u32) -> Result<u32> {
    a.checked_add(b).ok_or_else(|| {
        ElmanError::Ngram(format!(
            "count overflow: an n-gram occurs more than {} times; counts are 32-bit",
            u32::MAX
        ))
    })
}

/// Sorts `keys` and collapses equal neighbours into `(key, count)` in place.
fn sort_and_count(keys: &mut Vec<u128>) -> Result<Vec<u32>> {
    keys.par_sort_unstable();
    let mut counts: Vec<u32> = Vec::new();
    let mut unique = 0usize;
    for i in 0..keys.len() {
        if unique > 0 && keys[unique - 1] == keys[i] {
            let last = counts.last_mut().expect("a unique key was written before");
            *last = add_counts(*last, 1)?;
        } else {
            keys[unique] = keys[i];
            unique += 1;
            counts.push(1);
        }
    }
    keys.truncate(unique);
    Ok(counts)
}

/// Counts keys pushed one at a time, spilling sorted runs once `budget` keys are buffered.
pub struct SpillingCounter {
    budget: usize,
    buffer: Vec<u128>,
    // (Declared before `scratch`: the runs are deleted before their directory.)
    runs: Vec<RecordFile<KeyCount>>,
    /// Made at the first spill.
    scratch: Option<Scratch>,
    stats: SpillStats,
}

impl SpillingCounter {
    /// A counter that keeps at most `budget` raw keys in memory (`None`: no limit),
    /// expecting about `expected` keys in all (to size its buffer once).
    pub fn new(budget: Option<usize>, expected: usize) -> Self {
        let budget = budget.map_or(usize::MAX, |b| b.max(1));
        SpillingCounter { budget, buffer: Vec::with_capacity(expected.min(budget)), runs: Vec::new(), scratch: None, stats: SpillStats::default() }
    }

    /// Adds one occurrence of `key`.
    #[inline]
    pub fn push(&mut self, key: u128) -> Result<()> {
        self.buffer.push(key);
        if self.buffer.len() >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        if self.scratch.is_none() {
            self.scratch = Some(Scratch::create()?);
        }
        let counts = sort_and_count(&mut self.buffer)?;
        let mut out = RecordWriter::<KeyCount>::create(self.scratch.as_ref().expect("made above"), "run", 16)?;
        for (&key, &count) in self.buffer.iter().zip(&counts) {
            out.push(&KeyCount { key, count })?;
        }
        let run = out.finish()?;
        self.stats.runs += 1;
        self.stats.bytes += run.count * 20;
        self.runs.push(run);
        self.buffer.clear();
        Ok(())
    }

    /// The sorted distinct keys with their counts, and what was spilled.
    pub fn finish(mut self) -> Result<(Vec<u128>, Vec<u32>, SpillStats)> {
        if self.runs.is_empty() {
            let mut keys = std::mem::take(&mut self.buffer);
            let counts = sort_and_count(&mut keys)?;
            keys.shrink_to_fit();
            return Ok((keys, counts, self.stats));
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        self.buffer = Vec::new();
        let scratch = self.scratch.as_ref().expect("runs were spilled into it");
        let mut merged = Summed::new(SortedRuns::new(std::mem::take(&mut self.runs), scratch, "run")?.merge_owned()?)?;
        let (mut keys, mut counts) = (Vec::new(), Vec::new());
        while let Some(KeyCount { key, count }) = merged.next_sum()? {
            keys.push(key);
            counts.push(count);
        }
        Ok((keys, counts, self.stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn spilled_and_in_memory_counts_agree() {
        let mut rng = Rng::new(11);
        let keys: Vec<u128> = (0..5_000).map(|_| rng.below(300) as u128 * 0x1_0000_0000_0001).collect();
        let count_with = |budget| {
            let mut counter = SpillingCounter::new(budget, keys.len());
            for &k in &keys {
                counter.push(k).unwrap();
            }
            counter.finish().unwrap()
        };
        let (mem_keys, mem_counts, mem_stats) = count_with(None);
        let (disk_keys, disk_counts, disk_stats) = count_with(Some(97));
        assert_eq!(mem_stats.runs, 0);
        assert!(disk_stats.runs > 10, "{disk_stats:?}");
        assert_eq!(mem_keys, disk_keys);
        assert_eq!(mem_counts, disk_counts);
        assert_eq!(mem_counts.iter().map(|&c| c as usize).sum::<usize>(), keys.len());
        assert!(mem_keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn overflowing_counts_are_an_error() {
        let err = add_counts(u32::MAX, 1).unwrap_err().to_string();
        assert!(err.contains("count overflow"), "{err}");
    }
}
