//! Sorting fixed-size records in bounded memory, and files of them on disk.
//!
//! An [`ExternalSorter`] buffers up to a budget of records; a full buffer is sorted (on all
//! cores) and written as a sorted run to the pipeline's temp directory; [`ExternalSorter::finish`]
//! then yields every record in order through a k-way merge of the runs (or straight from
//! the buffer when nothing spilled). [`RecordWriter`] / [`RecordReader`] are the plain
//! sequential files the pipeline keeps between its passes. [`Scratch`] owns the temp
//! directory and counts its bytes on disk (now and at the peak).

use crate::error::{ElmanError, Result};
use rayon::slice::ParallelSliceMut;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A record with a little-endian encoding whose n-gram keys take `key_bytes` bytes (an
/// n-gram of order n needs ⌈n·b/8⌉ of a key's 16, b bits per id: [`key_bytes`]).
pub trait Record: Copy + Send + Sync + Ord {
    /// Bytes of one encoded record.
    fn size(key_bytes: usize) -> usize;
    fn encode(&self, out: &mut [u8], key_bytes: usize);
    fn decode(bytes: &[u8], key_bytes: usize) -> Self;
}

/// Bytes a key of order `n` needs with `bits` bits per id.
pub fn key_bytes(n: usize, bits: u32) -> usize {
    (n * bits as usize).div_ceil(8).clamp(1, 16)
}

/// Writes the low `key_bytes` bytes of `key`.
#[inline]
pub fn put_key(out: &mut [u8], key: u128, key_bytes: usize) {
    out[..key_bytes].copy_from_slice(&key.to_le_bytes()[..key_bytes]);
}

/// Reads a key of `key_bytes` bytes.
#[inline]
pub fn get_key(b: &[u8], key_bytes: usize) -> u128 {
    let mut full = [0u8; 16];
    full[..key_bytes].copy_from_slice(&b[..key_bytes]);
    u128::from_le_bytes(full)
}

pub fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

pub fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// The pipeline's temp directory (removed on drop) and its disk footprint.
pub struct Scratch {
    dir: PathBuf,
    next: AtomicU64,
    bytes: Arc<DiskUse>,
}

/// Bytes the pipeline has on disk now, and the most it had at once.
#[derive(Debug, Default)]
pub struct DiskUse {
    now: AtomicU64,
    peak: AtomicU64,
}

impl DiskUse {
    fn add(&self, bytes: u64) {
        let now = self.now.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn remove(&self, bytes: u64) {
        self.now.fetch_sub(bytes, Ordering::Relaxed);
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Scratch {
    /// A fresh directory under the system's temp directory (`TMPDIR`): one that did not
    /// exist before (another run's is never shared).
    pub fn create() -> Result<Scratch> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        for attempt in 0u32.. {
            let dir = std::env::temp_dir().join(format!("elman-ngram-{}-{nanos}-{attempt}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(Scratch { dir, next: AtomicU64::new(0), bytes: Arc::new(DiskUse::default()) }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 1000 => continue,
                Err(source) => return Err(ElmanError::Write { path: dir, source }),
            }
        }
        unreachable!("the loop returns")
    }

    /// A new file name in the directory.
    pub fn path(&self, what: &str) -> PathBuf {
        self.dir.join(format!("{what}-{:06}.bin", self.next.fetch_add(1, Ordering::Relaxed)))
    }

    pub fn disk(&self) -> &Arc<DiskUse> {
        &self.bytes
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A file of records written in order; [`RecordWriter::finish`] makes it readable.
/// Records are encoded straight into a 1 MiB block, written whole.
pub struct RecordWriter<R: Record> {
    path: PathBuf,
    out: File,
    block: Vec<u8>,
    size: usize,
    key_bytes: usize,
    count: u64,
    finished: bool,
    disk: Arc<DiskUse>,
    _record: std::marker::PhantomData<R>,
}

const BLOCK: usize = 1 << 20;

impl<R: Record> RecordWriter<R> {
    /// A new file whose keys take `key_bytes` bytes.
    pub fn create(scratch: &Scratch, what: &str, key_bytes: usize) -> Result<Self> {
        Self::create_at(scratch.path(what), key_bytes, scratch.disk().clone())
    }

    /// A new file at `path` (in the scratch directory whose use `disk` counts).
    fn create_at(path: PathBuf, key_bytes: usize, disk: Arc<DiskUse>) -> Result<Self> {
        let out = File::create(&path).map_err(|source| ElmanError::Write { path: path.clone(), source })?;
        let size = R::size(key_bytes);
        Ok(RecordWriter { path, out, block: Vec::with_capacity(BLOCK + size), size, key_bytes, count: 0, finished: false, disk, _record: Default::default() })
    }

    #[inline]
    pub fn push(&mut self, r: &R) -> Result<()> {
        let at = self.block.len();
        self.block.resize(at + self.size, 0);
        r.encode(&mut self.block[at..], self.key_bytes);
        self.count += 1;
        if self.block.len() >= BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let path = &self.path;
        self.out.write_all(&self.block).map_err(|source| ElmanError::Write { path: path.clone(), source })?;
        self.disk.add(self.block.len() as u64);
        self.block.clear();
        Ok(())
    }

    /// The finished file: its path and record count.
    pub fn finish(mut self) -> Result<RecordFile<R>> {
        self.flush()?;
        self.finished = true;
        let bytes = self.count * self.size as u64;
        Ok(RecordFile { path: std::mem::take(&mut self.path), count: self.count, bytes, key_bytes: self.key_bytes, disk: self.disk.clone(), _record: Default::default() })
    }
}

impl<R: Record> Drop for RecordWriter<R> {
    /// An unfinished file (an error on the way) is removed.
    fn drop(&mut self) {
        if !self.finished && std::fs::remove_file(&self.path).is_ok() {
            self.disk.remove(self.count * self.size as u64 - self.block.len() as u64);
        }
    }
}

/// A finished file of records (deleted on drop).
pub struct RecordFile<R: Record> {
    path: PathBuf,
    pub count: u64,
    bytes: u64,
    key_bytes: usize,
    disk: Arc<DiskUse>,
    _record: std::marker::PhantomData<R>,
}

impl<R: Record> RecordFile<R> {
    /// Reads the records from the start.
    pub fn reader(&self) -> Result<RecordReader<R>> {
        RecordReader::open(&self.path, 1 << 20, self.key_bytes)
    }
}

impl<R: Record> Drop for RecordFile<R> {
    fn drop(&mut self) {
        if std::fs::remove_file(&self.path).is_ok() {
            self.disk.remove(self.bytes);
        }
    }
}

/// Sequential reader of a record file, decoding from a block read whole.
pub struct RecordReader<R: Record> {
    path: PathBuf,
    input: File,
    block: Vec<u8>,
    /// Bytes of `block` holding data, and the next record's offset.
    filled: usize,
    at: usize,
    size: usize,
    key_bytes: usize,
    _record: std::marker::PhantomData<R>,
}

impl<R: Record> RecordReader<R> {
    fn open(path: &Path, buffer: usize, key_bytes: usize) -> Result<Self> {
        let input = File::open(path).map_err(|source| ElmanError::Io { path: path.to_path_buf(), source })?;
        let size = R::size(key_bytes);
        // A whole number of records per block.
        let block = vec![0u8; (buffer / size).max(1) * size];
        Ok(RecordReader { path: path.to_path_buf(), input, block, filled: 0, at: 0, size, key_bytes, _record: Default::default() })
    }

    /// The next record, or `None` at the end.
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<R>> {
        if self.at + self.size > self.filled && !self.refill()? {
            return Ok(None);
        }
        let r = R::decode(&self.block[self.at..self.at + self.size], self.key_bytes);
        self.at += self.size;
        Ok(Some(r))
    }

    /// Moves the unread tail to the front and reads more; false at the end of the file.
    #[cold]
    fn refill(&mut self) -> Result<bool> {
        self.block.copy_within(self.at..self.filled, 0);
        self.filled -= self.at;
        self.at = 0;
        while self.filled < self.size {
            let read = self.input.read(&mut self.block[self.filled..]).map_err(|source| ElmanError::Io { path: self.path.clone(), source })?;
            if read == 0 && self.filled == 0 {
                return Ok(false);
            }
            if read == 0 {
                let source = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file ends inside a record");
                return Err(ElmanError::Io { path: self.path.clone(), source });
            }
            self.filled += read;
        }
        // Fill the rest of the block where the file has it.
        while self.filled < self.block.len() {
            let read = self.input.read(&mut self.block[self.filled..]).map_err(|source| ElmanError::Io { path: self.path.clone(), source })?;
            if read == 0 {
                break;
            }
            self.filled += read;
        }
        Ok(true)
    }
}

/// Collapses a sorted run in place (e.g. sums the counts of equal keys).
pub type Combine<R> = fn(&mut Vec<R>) -> Result<()>;

/// A run being sorted and written on a thread of its own: its file, and the buffer back.
type InFlight<R> = std::thread::JoinHandle<Result<(RecordFile<R>, Vec<R>)>>;

/// Sorts records in bounded memory (see the module doc). Two buffers of half the budget
/// each: while a full one is sorted and written on a thread of its own, records go on
/// filling the other.
pub struct ExternalSorter<'s, R: Record> {
    scratch: &'s Scratch,
    what: &'static str,
    key_bytes: usize,
    /// Records per buffer.
    budget: usize,
    /// Two buffers (a full one sorted in the background) or one.
    double: bool,
    buffer: Vec<R>,
    in_flight: Option<InFlight<R>>,
    runs: Vec<RecordFile<R>>,
    /// Collapses a sorted buffer before it is written (equal keys summed), if given.
    combine: Option<Combine<R>>,
}

impl<'s, R: Record + 'static> ExternalSorter<'s, R> {
    /// A sorter holding at most `budget_bytes` of records in memory, writing keys of
    /// `key_bytes` bytes.
    pub fn new(scratch: &'s Scratch, what: &'static str, budget_bytes: u64, key_bytes: usize) -> Self {
        let budget = (budget_bytes / 2 / std::mem::size_of::<R>() as u64).max(64) as usize;
        ExternalSorter { scratch, what, key_bytes, budget, double: true, buffer: Vec::new(), in_flight: None, runs: Vec::new(), combine: None }
    }

    /// The same with one buffer of the whole budget, sorted and written while the pushes
    /// wait: fewer, longer runs, for a producer too quick to gain from the overlap
    /// (counting, whose runs collapse better the longer they are).
    pub fn single_buffer(mut self) -> Self {
        if self.double {
            self.budget *= 2;
            self.double = false;
        }
        self
    }

    /// The same, collapsing each sorted run with `combine` (e.g. summing counts).
    pub fn combining(mut self, combine: Combine<R>) -> Self {
        self.combine = Some(combine);
        self
    }

    #[inline]
    pub fn push(&mut self, r: R) -> Result<()> {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(self.budget);
        }
        self.buffer.push(r);
        if self.buffer.len() >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn sort(buffer: &mut Vec<R>, combine: Option<Combine<R>>) -> Result<()> {
        buffer.par_sort_unstable();
        if let Some(combine) = combine {
            combine(buffer)?;
        }
        Ok(())
    }

    /// Waits for the run in flight; returns its buffer, emptied, for reuse.
    fn land(&mut self) -> Result<Option<Vec<R>>> {
        let Some(handle) = self.in_flight.take() else { return Ok(None) };
        let (run, mut buffer) = handle.join().map_err(|_| ElmanError::Ngram("internal: a sorting thread panicked".into()))??;
        self.runs.push(run);
        buffer.clear();
        Ok(Some(buffer))
    }

    /// Hands the full buffer to a thread that sorts and writes it, and goes on with the
    /// other one.
    fn spill(&mut self) -> Result<()> {
        let spare = self.land()?;
        let mut full = std::mem::replace(&mut self.buffer, spare.unwrap_or_default());
        let (path, key_bytes, disk, combine) = (self.scratch.path(self.what), self.key_bytes, self.scratch.disk().clone(), self.combine);
        self.in_flight = Some(std::thread::spawn(move || {
            Self::sort(&mut full, combine)?;
            let mut out = RecordWriter::<R>::create_at(path, key_bytes, disk)?;
            for r in &full {
                out.push(r)?;
            }
            Ok((out.finish()?, full))
        }));
        if !self.double {
            self.buffer = self.land()?.expect("a run was in flight");
        }
        Ok(())
    }

    /// Sorted runs written so far (one may still be in flight).
    pub fn runs(&self) -> usize {
        self.runs.len() + usize::from(self.in_flight.is_some())
    }

    /// Every record pushed, in order (equal records in no particular order; a combining
    /// sorter's consumer still sums equal keys across runs). Records that never spilled
    /// stay in memory unless they take more than `keep_in_memory` bytes.
    pub fn finish(self) -> Result<Sorted<R>> {
        self.finish_within(u64::MAX)
    }

    /// [`ExternalSorter::finish`], spilling the buffer as one more run when it holds more
    /// than `keep_in_memory` bytes (so the next stage can have the memory).
    pub fn finish_within(mut self, keep_in_memory: u64) -> Result<Sorted<R>> {
        let held = (self.buffer.len() * std::mem::size_of::<R>()) as u64;
        if self.runs() == 0 && held <= keep_in_memory {
            let mut buffer = std::mem::take(&mut self.buffer);
            Self::sort(&mut buffer, self.combine)?;
            return Ok(Sorted::Memory(buffer.into_iter()));
        }
        self.finish_to_runs()?.merge_owned()
    }

    /// Every record on disk as sorted runs, which can be merged more than once (at most
    /// [`MAX_FAN_IN`] of them: [`SortedRuns::new`]).
    pub fn finish_to_runs(mut self) -> Result<SortedRuns<R>> {
        if !self.buffer.is_empty() || self.runs() == 0 {
            self.spill()?;
        }
        self.buffer = Vec::new();
        self.land()?;
        SortedRuns::new(std::mem::take(&mut self.runs), self.scratch, self.what)
    }
}

/// Bytes of read buffer one merge shares among its runs.
pub const MERGE_BUFFER_BYTES: usize = 4 << 20;
/// The most runs one merge reads at once (open files, buffers of at least 64 KiB).
pub const MAX_FAN_IN: usize = 64;

impl<R: Record> Drop for ExternalSorter<'_, R> {
    /// A run still in flight (an error elsewhere ended the sort early) is waited for, so
    /// no thread goes on writing into the scratch directory.
    fn drop(&mut self) {
        if let Some(handle) = self.in_flight.take() {
            let _ = handle.join();
        }
    }
}

/// Sorted runs on disk (deleted on drop).
pub struct SortedRuns<R: Record> {
    runs: Vec<RecordFile<R>>,
}

impl<R: Record> SortedRuns<R> {
    /// Sorted runs to be merged: at most [`MAX_FAN_IN`] of them (more are first merged, a
    /// group at a time, into longer runs in `scratch`).
    pub fn new(mut runs: Vec<RecordFile<R>>, scratch: &Scratch, what: &str) -> Result<Self> {
        while runs.len() > MAX_FAN_IN {
            let mut longer = Vec::with_capacity(runs.len().div_ceil(MAX_FAN_IN));
            let mut rest = runs.into_iter();
            loop {
                let group: Vec<RecordFile<R>> = rest.by_ref().take(MAX_FAN_IN).collect();
                if group.is_empty() {
                    break;
                }
                let key_bytes = group[0].key_bytes;
                let mut merged = SortedRuns { runs: group }.merge_owned()?;
                let mut out = RecordWriter::<R>::create(scratch, what, key_bytes)?;
                while let Some(r) = merged.next_record()? {
                    out.push(&r)?;
                }
                longer.push(out.finish()?);
            }
            runs = longer;
        }
        Ok(SortedRuns { runs })
    }

    /// Runs a merge reads.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Every record of the runs, in order.
    pub fn merge(&self) -> Result<Sorted<R>> {
        Self::open(&self.runs, Vec::new())
    }

    /// The same, the merge owning (and finally deleting) the runs.
    pub fn merge_owned(mut self) -> Result<Sorted<R>> {
        let runs = std::mem::take(&mut self.runs);
        Self::open(&runs, Vec::new()).map(|sorted| match sorted {
            Sorted::Merge { heap, readers, .. } => Sorted::Merge { heap, readers, _runs: runs },
            memory => memory,
        })
    }

    fn open(runs: &[RecordFile<R>], owned: Vec<RecordFile<R>>) -> Result<Sorted<R>> {
        // The merge's read buffers share MERGE_BUFFER_BYTES (each between 16 and 256 KiB), so
        // a merge of many runs stays within the pipeline's reserve.
        let per_run = (MERGE_BUFFER_BYTES / runs.len().max(1)).clamp(16 << 10, 256 << 10);
        let mut readers = runs.iter().map(|r| RecordReader::open(&r.path, per_run, r.key_bytes)).collect::<Result<Vec<_>>>()?;
        let mut heap = BinaryHeap::with_capacity(readers.len());
        for (i, reader) in readers.iter_mut().enumerate() {
            if let Some(r) = reader.next_record()? {
                heap.push(Reverse((r, i)));
            }
        }
        Ok(Sorted::Merge { heap, readers, _runs: owned })
    }
}

/// The records of an [`ExternalSorter`] in order.
pub enum Sorted<R: Record> {
    Memory(std::vec::IntoIter<R>),
    Merge { heap: BinaryHeap<Reverse<(R, usize)>>, readers: Vec<RecordReader<R>>, _runs: Vec<RecordFile<R>> },
}

impl<R: Record> Sorted<R> {
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<R>> {
        match self {
            Sorted::Memory(it) => Ok(it.next()),
            Sorted::Merge { heap, readers, .. } => {
                let Some(mut top) = heap.peek_mut() else { return Ok(None) };
                let Reverse((r, run)) = *top;
                match readers[run].next_record()? {
                    Some(next) => *top = Reverse((next, run)),
                    None => {
                        std::collections::binary_heap::PeekMut::pop(top);
                    }
                }
                Ok(Some(r))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct Pair(u128, u32);

    impl Record for Pair {
        fn size(key_bytes: usize) -> usize {
            key_bytes + 4
        }
        fn encode(&self, out: &mut [u8], key_bytes: usize) {
            put_key(out, self.0, key_bytes);
            out[key_bytes..key_bytes + 4].copy_from_slice(&self.1.to_le_bytes());
        }
        fn decode(b: &[u8], key_bytes: usize) -> Self {
            Pair(get_key(b, key_bytes), u32_at(b, key_bytes))
        }
    }

    #[test]
    fn spilled_and_in_memory_sorts_agree_and_files_are_removed() {
        let scratch = Scratch::create().unwrap();
        let mut rng = crate::rng::Rng::new(3);
        let items: Vec<Pair> = (0..20_000).map(|i| Pair(rng.below(5000) as u128 * 0x1_0000_0001, i)).collect();
        let sort = |budget: u64| {
            let mut s = ExternalSorter::new(&scratch, "test", budget, 9);
            for &p in &items {
                s.push(p).unwrap();
            }
            let spilled = s.runs() > 0;
            let mut out = Vec::new();
            let mut sorted = s.finish().unwrap();
            while let Some(p) = sorted.next_record().unwrap() {
                out.push(p);
            }
            (out, spilled)
        };
        let (memory, spilled_m) = sort(1 << 30);
        let (disk, spilled_d) = sort(1024 * 32 * 4);
        assert!(!spilled_m && spilled_d);
        let mut want = items.clone();
        want.sort();
        assert_eq!(memory, want);
        assert_eq!(disk, want);
        assert!(scratch.disk().peak() >= 13 * 20_000);
        // 64 records a buffer: 313 runs, merged 64 at a time into 5 longer ones first.
        let mut s = ExternalSorter::new(&scratch, "test", 1, 9);
        for &p in &items {
            s.push(p).unwrap();
        }
        let runs = s.finish_to_runs().unwrap();
        assert!(runs.len() <= MAX_FAN_IN && runs.len() > 1, "{} runs", runs.len());
        let (mut merged, mut out) = (runs.merge().unwrap(), Vec::new());
        while let Some(p) = merged.next_record().unwrap() {
            out.push(p);
        }
        assert_eq!(out, want);
        drop((merged, runs));
        assert_eq!(scratch.disk().now.load(Ordering::Relaxed), 0, "runs are deleted after the merge");
    }
}
