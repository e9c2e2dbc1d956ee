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
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A record with a fixed little-endian encoding of `BYTES` bytes.
pub trait Record: Copy + Send + Sync + Ord {
    const BYTES: usize;
    fn encode(&self, out: &mut [u8]);
    fn decode(bytes: &[u8]) -> Self;
}

pub fn u128_at(b: &[u8], at: usize) -> u128 {
    u128::from_le_bytes(b[at..at + 16].try_into().expect("16 bytes"))
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
    /// A fresh directory under the system's temp directory (`TMPDIR`).
    pub fn create() -> Result<Scratch> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("elman-ngram-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| ElmanError::Write { path: dir.clone(), source })?;
        Ok(Scratch { dir, next: AtomicU64::new(0), bytes: Arc::new(DiskUse::default()) })
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
pub struct RecordWriter<R: Record> {
    path: PathBuf,
    out: BufWriter<File>,
    scratch: [u8; 64],
    count: u64,
    disk: Arc<DiskUse>,
    _record: std::marker::PhantomData<R>,
}

impl<R: Record> RecordWriter<R> {
    pub fn create(scratch: &Scratch, what: &str) -> Result<Self> {
        let path = scratch.path(what);
        let file = File::create(&path).map_err(|source| ElmanError::Write { path: path.clone(), source })?;
        Ok(RecordWriter { path, out: BufWriter::with_capacity(1 << 20, file), scratch: [0; 64], count: 0, disk: scratch.disk().clone(), _record: Default::default() })
    }

    #[inline]
    pub fn push(&mut self, r: &R) -> Result<()> {
        let bytes = &mut self.scratch[..R::BYTES];
        r.encode(bytes);
        self.count += 1;
        let path = &self.path;
        self.out.write_all(bytes).map_err(|source| ElmanError::Write { path: path.clone(), source })
    }

    /// The finished file: its path and record count.
    pub fn finish(mut self) -> Result<RecordFile<R>> {
        self.out.flush().map_err(|source| ElmanError::Write { path: self.path.clone(), source })?;
        let bytes = self.count * R::BYTES as u64;
        self.disk.add(bytes);
        Ok(RecordFile { path: self.path, count: self.count, bytes, disk: self.disk, _record: Default::default() })
    }
}

/// A finished file of records (deleted on drop).
pub struct RecordFile<R: Record> {
    path: PathBuf,
    pub count: u64,
    bytes: u64,
    disk: Arc<DiskUse>,
    _record: std::marker::PhantomData<R>,
}

impl<R: Record> RecordFile<R> {
    /// Reads the records from the start.
    pub fn reader(&self) -> Result<RecordReader<R>> {
        RecordReader::open(&self.path, 1 << 20)
    }
}

impl<R: Record> Drop for RecordFile<R> {
    fn drop(&mut self) {
        if std::fs::remove_file(&self.path).is_ok() {
            self.disk.remove(self.bytes);
        }
    }
}

/// Sequential reader of a record file.
pub struct RecordReader<R: Record> {
    path: PathBuf,
    input: BufReader<File>,
    _record: std::marker::PhantomData<R>,
}

impl<R: Record> RecordReader<R> {
    fn open(path: &Path, buffer: usize) -> Result<Self> {
        let file = File::open(path).map_err(|source| ElmanError::Io { path: path.to_path_buf(), source })?;
        Ok(RecordReader { path: path.to_path_buf(), input: BufReader::with_capacity(buffer, file), _record: Default::default() })
    }

    /// The next record, or `None` at the end.
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<R>> {
        let mut bytes = [0u8; 64];
        let bytes = &mut bytes[..R::BYTES];
        match self.input.read_exact(bytes) {
            Ok(()) => Ok(Some(R::decode(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(source) => Err(ElmanError::Io { path: self.path.clone(), source }),
        }
    }
}

/// Sorts records in bounded memory (see the module doc).
pub struct ExternalSorter<'s, R: Record> {
    scratch: &'s Scratch,
    what: &'static str,
    budget: usize,
    buffer: Vec<R>,
    runs: Vec<RecordFile<R>>,
    /// Collapses a sorted buffer before it is written (equal keys summed), if given.
    combine: Option<fn(&mut Vec<R>) -> Result<()>>,
}

impl<'s, R: Record> ExternalSorter<'s, R> {
    /// A sorter holding at most `budget_bytes` of records in memory.
    pub fn new(scratch: &'s Scratch, what: &'static str, budget_bytes: u64) -> Self {
        let budget = (budget_bytes / std::mem::size_of::<R>() as u64).max(64) as usize;
        ExternalSorter { scratch, what, budget, buffer: Vec::new(), runs: Vec::new(), combine: None }
    }

    /// The same, collapsing each sorted run with `combine` (e.g. summing counts).
    pub fn combining(mut self, combine: fn(&mut Vec<R>) -> Result<()>) -> Self {
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

    fn sort_buffer(&mut self) -> Result<()> {
        self.buffer.par_sort_unstable();
        if let Some(combine) = self.combine {
            combine(&mut self.buffer)?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.sort_buffer()?;
        let mut out = RecordWriter::<R>::create(self.scratch, self.what)?;
        for r in &self.buffer {
            out.push(r)?;
        }
        self.runs.push(out.finish()?);
        self.buffer.clear();
        Ok(())
    }

    /// Sorted runs written so far.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Every record pushed, in order (equal records in no particular order; a combining
    /// sorter's consumer still sums equal keys across runs).
    pub fn finish(mut self) -> Result<Sorted<R>> {
        if self.runs.is_empty() {
            self.sort_buffer()?;
            let buffer = std::mem::take(&mut self.buffer);
            return Ok(Sorted::Memory(buffer.into_iter()));
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        self.buffer = Vec::new();
        let runs = std::mem::take(&mut self.runs);
        let mut readers = runs.iter().map(|r| RecordReader::open(&r.path, 1 << 18)).collect::<Result<Vec<_>>>()?;
        let mut heap = BinaryHeap::with_capacity(readers.len());
        for (i, reader) in readers.iter_mut().enumerate() {
            if let Some(r) = reader.next_record()? {
                heap.push(Reverse((r, i)));
            }
        }
        Ok(Sorted::Merge { heap, readers, _runs: runs })
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
        const BYTES: usize = 20;
        fn encode(&self, out: &mut [u8]) {
            out[..16].copy_from_slice(&self.0.to_le_bytes());
            out[16..20].copy_from_slice(&self.1.to_le_bytes());
        }
        fn decode(b: &[u8]) -> Self {
            Pair(u128_at(b, 0), u32_at(b, 16))
        }
    }

    #[test]
    fn spilled_and_in_memory_sorts_agree_and_files_are_removed() {
        let scratch = Scratch::create().unwrap();
        let mut rng = crate::rng::Rng::new(3);
        let items: Vec<Pair> = (0..20_000).map(|i| Pair(rng.below(5000) as u128 * 0x1_0000_0001, i)).collect();
        let sort = |budget: u64| {
            let mut s = ExternalSorter::new(&scratch, "test", budget);
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
        assert!(scratch.disk().peak() >= 20 * 20_000);
        assert_eq!(scratch.disk().now.load(Ordering::Relaxed), 0, "runs are deleted after the merge");
    }
}
