//! Opening a binary model: map the file, check the header, the checksum and every offset
//! and range once, then answer queries straight from the map.

use super::lexicon::TokenTable;
use super::compact::{CompactTrie, LevelParams, PackedLevel, PARAMS_PER_ORDER, UNARY_POINTERS};
use super::trie::{Leaf, Node, Trie};
use super::verify::{checksum_and_check, SectionCheck};
use super::walk::Levels;
use super::{CHECKSUM_AT, FLAG_CHAR, FLAG_COMPACT, FLAG_MARKERS, HEADER_BYTES, MAGIC, MAX_ORDER, OLDEST_READ_VERSION, VERSION};
use crate::error::{ElmanError, Result};
use crate::ngram::lm::{LanguageModel, Lexicon, Score};
use crate::ngram::model::ModelInfo;
use crate::ngram::tokenize::NgramTokenizer;
use std::path::{Path, PathBuf};

/// Where an open file's bytes live.
enum Backing {
    /// The file, memory-mapped read-only.
    Map(memmap2::Mmap),
    /// A copy in memory, 8-byte aligned (`bytes` long).
    Owned { words: Vec<u64>, bytes: usize },
}

/// A binary model file, mapped and checked; [`BinaryFile::model`] gives the model.
pub struct BinaryFile {
    backing: Backing,
    path: PathBuf,
}

impl BinaryFile {
    /// Maps `path` and checks it whole (header, checksum, every offset and range).
    pub fn open(path: &Path) -> Result<Self> {
        let io = |source| ElmanError::Io { path: path.to_path_buf(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        // SAFETY: the map is read-only and private to this process. Like every reader of a
        // mapped file, it assumes nobody truncates or rewrites the file while it is open;
        // elman itself replaces models by rename, which leaves the mapped inode intact.
        // (Not populated: the checking pass reads every page, on all cores at once.)
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(io)?;
        let opened = BinaryFile { backing: Backing::Map(map), path: path.to_path_buf() };
        parse(opened.bytes(), path, true)?;
        Ok(opened)
    }

    /// Checks `bytes` as a binary model file (a copy is kept; `name` labels errors).
    pub fn from_bytes(bytes: &[u8], name: &Path) -> Result<Self> {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        let opened = BinaryFile { backing: Backing::Owned { words, bytes: bytes.len() }, path: name.to_path_buf() };
        parse(opened.bytes(), name, true)?;
        Ok(opened)
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.backing {
            Backing::Map(map) => map,
            Backing::Owned { words, bytes } => &bytemuck::cast_slice(words)[..*bytes],
        }
    }

    /// The model, read in place (the checks ran at open).
    pub fn model(&self) -> Result<BinaryModel<'_>> {
        parse(self.bytes(), &self.path, false)
    }
}

/// The trie of a binary model, in the layout its file has.
pub enum TrieLayout<'a> {
    Hashed(Trie<'a>),
    Compact(CompactTrie<'a>),
}

impl TrieLayout<'_> {
    /// The trie, for the walks (each layout's walks are compiled for it; only this call
    /// is dynamic).
    pub fn levels(&self) -> &dyn Levels {
        match self {
            TrieLayout::Hashed(trie) => trie,
            TrieLayout::Compact(trie) => trie,
        }
    }

    /// The checks of every entry, for the file `file` the trie lies in (`bad` words the
    /// errors).
    fn section_checks<'c>(&'c self, file: &[u8], bad: &'c (dyn Fn(String) -> ElmanError + Sync)) -> Vec<SectionCheck<'c>> {
        match self {
            TrieLayout::Hashed(trie) => trie.section_checks(file, bad),
            TrieLayout::Compact(trie) => trie.section_checks(file, bad),
        }
    }

    /// Whether scores are approximate (a quantized compact layout).
    pub fn is_quantized(&self) -> bool {
        matches!(self, TrieLayout::Compact(trie) if trie.is_quantized())
    }
}

/// A binary model borrowed from its file.
pub struct BinaryModel<'a> {
    pub trie: TrieLayout<'a>,
    pub tokens: TokenTable<'a>,
    pub info: ModelInfo,
    counts: Vec<usize>,
}

impl LanguageModel for BinaryModel<'_> {
    fn order(&self) -> usize {
        self.trie.levels().order()
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn lexicon(&self) -> &dyn Lexicon {
        &self.tokens
    }

    fn has_unigram(&self, id: u32) -> bool {
        self.trie.levels().has_unigram(id)
    }

    fn score(&self, context: &[u32], word: u32) -> Score {
        self.trie.levels().score(context, word)
    }

    fn score_run(&self, tokens: &[u32], from: usize, out: &mut Vec<Score>) {
        self.trie.levels().score_run(tokens, from, out)
    }

    fn ngram_counts(&self) -> Vec<usize> {
        self.counts.clone()
    }

    fn log10_backoff(&self, context: &[u32]) -> f64 {
        self.trie.levels().log10_backoff(context)
    }

    fn for_each_ngram(&self, visit: &mut dyn FnMut(&[u32], f32)) {
        self.trie.levels().for_each_ngram(visit)
    }
}

/// Reads header fields; every read is inside the first `HEADER_BYTES`, checked by the caller.
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Section `index` as elements of `T`, bounds and alignment checked.
fn section<'a, T: bytemuck::AnyBitPattern>(bytes: &'a [u8], table: &[(u64, u64)], index: usize, bad: &dyn Fn(String) -> ElmanError) -> Result<&'a [T]> {
    let (offset, len) = table[index];
    let end = offset.checked_add(len).filter(|&e| e <= bytes.len() as u64);
    let Some(end) = end else {
        return Err(bad(format!("section {index} ({len} bytes at offset {offset}) runs past the end of the file")));
    };
    if offset % 8 != 0 {
        return Err(bad(format!("section {index} starts at offset {offset}, not a multiple of 8")));
    }
    bytemuck::try_cast_slice(&bytes[offset as usize..end as usize])
        .map_err(|_| bad(format!("section {index} is {len} bytes, not a whole number of {}-byte values", std::mem::size_of::<T>())))
}

/// Whether `values` never decrease, start at 0 and end at `last`.
fn is_range_table(values: impl IntoIterator<Item = u32>, last: usize) -> bool {
    let mut values = values.into_iter();
    if values.next() != Some(0) {
        return false;
    }
    let (mut previous, mut rising) = (0u32, true);
    for value in values {
        rising &= value >= previous;
        previous = value;
    }
    rising && previous as usize == last
}

/// Checks `bytes` as a binary model and borrows the model from it; `deep` adds the checksum
/// and the checks that read every value (ranges, ids, UTF-8).
fn parse<'a>(bytes: &'a [u8], path: &Path, deep: bool) -> Result<BinaryModel<'a>> {
    let bad = |detail: String| ElmanError::Ngram(format!("{}: {detail}", path.display()));
    if bytes.len() < HEADER_BYTES || bytes[..8] != MAGIC {
        let what = if bytes.len() >= 8 && bytes[..8] == MAGIC { "is truncated inside its header" } else { "is not an elman binary n-gram model (no ELMNGRAM magic)" };
        return Err(bad(what.to_string()));
    }
    if cfg!(target_endian = "big") {
        return Err(bad("binary models are little-endian; this machine is big-endian (use the ARPA file)".into()));
    }
    let version = u32_at(bytes, 8);
    if !(OLDEST_READ_VERSION..=VERSION).contains(&version) {
        return Err(bad(format!(
            "binary format version {version}; this elman reads versions {OLDEST_READ_VERSION} to {VERSION} (rebuild it with `elman ngram build-binary` from the ARPA file)"
        )));
    }
    let stated_len = u64_at(bytes, 32);
    if stated_len != bytes.len() as u64 {
        return Err(bad(format!("the header says {stated_len} bytes but the file has {} (truncated or appended to)", bytes.len())));
    }
    let (order, vocab, flags) = (u32_at(bytes, 12) as usize, u32_at(bytes, 16) as usize, u32_at(bytes, 20));
    let (smoothing_len, section_count) = (u32_at(bytes, 40) as usize, u32_at(bytes, 44) as usize);
    if order == 0 || order > MAX_ORDER {
        return Err(bad(format!("order {order} is outside 1..={MAX_ORDER}")));
    }
    if vocab < 3 {
        return Err(bad(format!("a vocabulary of {vocab} tokens lacks the three specials")));
    }
    let compact = flags & FLAG_COMPACT != 0;
    let sections_wanted = if compact { 5 + 3 * order } else { 3 + 2 * order };
    if section_count != sections_wanted || flags & !(FLAG_CHAR | FLAG_MARKERS | FLAG_COMPACT) != 0 {
        return Err(bad(format!("{section_count} sections and flags {flags:#x} do not fit order {order}")));
    }
    let table_end = HEADER_BYTES + 16 * section_count;
    let smoothing_end = table_end.checked_add(smoothing_len).filter(|&e| e <= bytes.len());
    let Some(smoothing_end) = smoothing_end else {
        return Err(bad("the section table runs past the end of the file".into()));
    };
    let table: Vec<(u64, u64)> =
        (0..section_count).map(|i| (u64_at(bytes, HEADER_BYTES + 16 * i), u64_at(bytes, HEADER_BYTES + 16 * i + 8))).collect();
    let smoothing = std::str::from_utf8(&bytes[table_end..smoothing_end]).map_err(|_| bad("the smoothing description is not UTF-8".into()))?;
    let counts: &[u64] = section(bytes, &table, 0, &bad)?;
    let offsets: &[u32] = section(bytes, &table, 1, &bad)?;
    let token_bytes: &[u8] = section(bytes, &table, 2, &bad)?;
    let slots: &[u32] = section(bytes, &table, 3, &bad)?;
    if counts.len() != order || offsets.len() != vocab + 1 || !slots.len().is_power_of_two() || slots.len() <= vocab {
        return Err(bad("the count, token-offset or hash-table section has the wrong length".into()));
    }
    let text = std::str::from_utf8(token_bytes).map_err(|_| bad("the token bytes are not UTF-8".into()))?;
    if deep {
        let ranges_ok = is_range_table(offsets.iter().copied(), text.len()) && offsets.iter().all(|&o| text.is_char_boundary(o as usize));
        if !ranges_ok {
            return Err(bad("the token offsets are out of order or split a character".into()));
        }
        if slots.iter().any(|&s| s as usize > vocab) {
            return Err(bad("the token hash table holds an id past the vocabulary".into()));
        }
    }
    let trie = if compact { compact_trie(bytes, &table, order, vocab, counts, deep, &bad) } else { hashed_trie(bytes, &table, order, vocab, counts, deep, &bad) };
    if deep {
        // The checksum and the checks that read every entry: one pass over the file. A
        // damaged trie is told as a damaged file (checksum) before any finding of the
        // trie's checks.
        let sections = trie.as_ref().map_or_else(|_| Vec::new(), |trie| trie.section_checks(bytes, &bad));
        let (sum, checked) = checksum_and_check(bytes, &sections);
        if sum != u64_at(bytes, CHECKSUM_AT.start) {
            return Err(bad("checksum mismatch: the file is corrupted".into()));
        }
        checked?;
    }
    let trie = trie?;
    let tokenizer = if flags & FLAG_CHAR != 0 { NgramTokenizer::Char } else { NgramTokenizer::Word };
    let info = ModelInfo { tokenizer, markers: flags & FLAG_MARKERS != 0, smoothing: smoothing.to_string() };
    let tokens = TokenTable { offsets, text, slots };
    Ok(BinaryModel { trie, tokens, info, counts: counts.iter().map(|&c| c as usize).collect() })
}

/// Whether order n's stored entries (`stored[n − 1]`) hold at least the n-grams the count
/// section claims.
fn check_counts(counts: &[u64], stored: impl Iterator<Item = usize>, bad: &dyn Fn(String) -> ElmanError) -> Result<()> {
    if let Some((n, (&count, len))) = (1..).zip(counts.iter().zip(stored)).find(|(_, (&count, len))| count > *len as u64) {
        return Err(bad(format!("order {n} claims {count} n-grams but stores {len}")));
    }
    Ok(())
}

/// The hashed layout's sections 4 …, their lengths checked (and when `deep`, the child
/// pointers' ends and the counts; the entries are checked in the pass over the file).
fn hashed_trie<'a>(bytes: &'a [u8], table: &[(u64, u64)], order: usize, vocab: usize, counts: &[u64], deep: bool, bad: &(dyn Fn(String) -> ElmanError + Sync)) -> Result<TrieLayout<'a>> {
    let inner: Vec<&[Node]> = (1..order).map(|n| section(bytes, table, 3 + n, bad)).collect::<Result<_>>()?;
    let top: &[Leaf] = section(bytes, table, 3 + order, bad)?;
    let tables: Vec<&[u32]> = (1..order).map(|n| section(bytes, table, 3 + order + n, bad)).collect::<Result<_>>()?;
    // Order 1 is dense over the vocabulary; every order below the highest has a sentinel.
    let unigrams = if order == 1 { top.len() } else { inner[0].len().saturating_sub(1) };
    if unigrams != vocab || inner.iter().any(|nodes| nodes.is_empty()) {
        return Err(bad("the unigram section does not hold one entry per token".into()));
    }
    let trie = Trie { inner, top, tables };
    if deep {
        trie.check_ends(bad)?;
        check_counts(counts, trie.inner.iter().map(|nodes| nodes.len() - 1).chain([trie.top.len()]), bad)?;
    }
    Ok(TrieLayout::Hashed(trie))
}

/// The compact layout's sections 4 … (parameters, then records, pointer bases and
/// centers per order), their parameters and lengths checked (and when `deep`, the tables,
/// the child pointers' ends and the counts; the records are checked in the pass over the
/// file).
fn compact_trie<'a>(bytes: &'a [u8], table: &[(u64, u64)], order: usize, vocab: usize, counts: &[u64], deep: bool, bad: &(dyn Fn(String) -> ElmanError + Sync)) -> Result<TrieLayout<'a>> {
    let params: &[u64] = section(bytes, table, 4, bad)?;
    if params.len() != PARAMS_PER_ORDER * order {
        return Err(bad("the compact layout's parameter section has the wrong length".into()));
    }
    let all_params: Vec<LevelParams> = params.chunks_exact(PARAMS_PER_ORDER).map(LevelParams::from_words).collect();
    let mut levels = Vec::with_capacity(order);
    for (level, &params) in all_params.iter().enumerate() {
        let at = 5 + 3 * level;
        let records: &[u8] = section(bytes, table, at, bad)?;
        let bases: &[u32] = section(bytes, table, at + 1, bad)?;
        let bins: &[f32] = section(bytes, table, at + 2, bad)?;
        let has_children = level + 1 < order;
        if (params.backoff_bits == 0) == has_children || (level == 0 && params.word_bits != 0) || (!has_children && (!bases.is_empty() || params.block_shift == UNARY_POINTERS)) {
            return Err(bad(format!("order {} of the compact layout has fields that do not fit its place", level + 1)));
        }
        // The next order's entries (its sentinel not counted), where the pointers lead.
        let children = all_params.get(level + 1).map_or(0, |next| (next.records as usize).saturating_sub(usize::from(level + 2 < order)));
        levels.push(PackedLevel::new(params, records, bases, bins, children, bad)?);
    }
    let trie = CompactTrie { levels };
    if deep {
        trie.check_ends(vocab, bad)?;
        check_counts(counts, (0..order).map(|level| trie.len(level)), bad)?;
    } else if trie.unigrams() != vocab {
        return Err(bad("the unigram records do not hold one entry per token".into()));
    }
    Ok(TrieLayout::Compact(trie))
}
