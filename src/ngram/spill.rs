//! Counting a multiset of packed n-gram keys in bounded memory: keys collect in a buffer
//! of at most `budget` entries; a full buffer is sorted (on all cores), run-length
//! encoded and written to a temp directory as a sorted run; at the end the runs are
//! merged with a heap. With no spill the buffer is simply sorted and encoded in memory,
//! and both paths yield the same `(key, count)` list.
//!
//! Run file format: records of a little-endian `u128` key then a `u32` count, keys
//! strictly increasing.

use crate::error::{ElmanError, Result};
use rayon::slice::ParallelSliceMut;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const RECORD_BYTES: usize = 20;

/// What the counter did, for the training report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpillStats {
    /// Sorted runs written to disk (0: everything stayed in memory).
    pub runs: usize,
    /// Bytes written to run files.
    pub bytes: u64,
}

/// A temp directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("elman-ngram-{}-{}-{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).map_err(|source| ElmanError::Write { path: path.clone(), source })?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
    dir: Option<TempDir>,
    runs: Vec<PathBuf>,
    stats: SpillStats,
}

impl SpillingCounter {
    /// A counter that keeps at most `budget` raw keys in memory (`None`: no limit),
    /// expecting about `expected` keys in all (to size its buffer once).
    pub fn new(budget: Option<usize>, expected: usize) -> Self {
        let budget = budget.map_or(usize::MAX, |b| b.max(1));
        SpillingCounter {
            budget,
            buffer: Vec::with_capacity(expected.min(budget)),
            dir: None,
            runs: Vec::new(),
            stats: SpillStats::default(),
        }
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
        if self.dir.is_none() {
            self.dir = Some(TempDir::create()?);
        }
        let dir = &self.dir.as_ref().expect("created above").0;
        let path = dir.join(format!("run-{:06}.bin", self.runs.len()));
        let counts = sort_and_count(&mut self.buffer)?;
        let io_err = |source| ElmanError::Write { path: path.clone(), source };
        let mut out = BufWriter::new(File::create(&path).map_err(io_err)?);
        for (key, count) in self.buffer.iter().zip(&counts) {
            out.write_all(&key.to_le_bytes()).map_err(io_err)?;
            out.write_all(&count.to_le_bytes()).map_err(io_err)?;
        }
        out.flush().map_err(io_err)?;
        self.stats.runs += 1;
        self.stats.bytes += (counts.len() * RECORD_BYTES) as u64;
        self.runs.push(path);
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
        let (keys, counts) = merge_runs(&self.runs)?;
        Ok((keys, counts, self.stats))
    }
}

/// One open run file, yielding its records in order.
struct RunReader {
    path: PathBuf,
    input: BufReader<File>,
}

impl RunReader {
    fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| ElmanError::Io { path: path.to_path_buf(), source })?;
        Ok(RunReader { path: path.to_path_buf(), input: BufReader::with_capacity(1 << 16, file) })
    }

    fn next_record(&mut self) -> Result<Option<(u128, u32)>> {
        let mut record = [0u8; RECORD_BYTES];
        match self.input.read_exact(&mut record) {
            Ok(()) => {
                let key = u128::from_le_bytes(record[..16].try_into().expect("16 bytes"));
                let count = u32::from_le_bytes(record[16..].try_into().expect("4 bytes"));
                Ok(Some((key, count)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(source) => Err(ElmanError::Io { path: self.path.clone(), source }),
        }
    }
}

/// K-way merge of sorted runs, summing the counts of equal keys.
fn merge_runs(paths: &[PathBuf]) -> Result<(Vec<u128>, Vec<u32>)> {
    let mut readers = paths.iter().map(|p| RunReader::open(p)).collect::<Result<Vec<_>>>()?;
    let mut heap = BinaryHeap::new();
    for (run, reader) in readers.iter_mut().enumerate() {
        if let Some((key, count)) = reader.next_record()? {
            heap.push(Reverse((key, run, count)));
        }
    }
    let mut keys: Vec<u128> = Vec::new();
    let mut counts: Vec<u32> = Vec::new();
    while let Some(Reverse((key, run, count))) = heap.pop() {
        if keys.last() == Some(&key) {
            let last = counts.last_mut().expect("counts parallel keys");
            *last = add_counts(*last, count)?;
        } else {
            keys.push(key);
            counts.push(count);
        }
        if let Some((next, c)) = readers[run].next_record()? {
            heap.push(Reverse((next, run, c)));
        }
    }
    Ok((keys, counts))
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
