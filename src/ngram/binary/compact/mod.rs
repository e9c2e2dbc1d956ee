//! The compact layout of the reversed back-off trie: every order is an array of
//! bit-packed fixed-width records, searched by bisection instead of hashed, with optional
//! quantization of probabilities and back-offs (built by [`super::pack`]).
//!
//! ```text
//! record of order n:  [ oldest token : w_n ][ log10 p : p_n ][ log10 back-off : b_n ][ child pointer, low bits : c_n ]
//! ```
//!
//! - w_n = ⌈log2 V⌉ bits (0 for the dense order 1, whose entry i is token i).
//! - log10 p and log10 back-off: each order's values of one kind are coded the smallest
//!   way: 32 bits (an f32); 31 for probabilities when all are negative (the sign bit is
//!   implied); or a code into the order's table of its distinct values, lossless (a
//!   Kneser–Ney model's back-offs take a few thousand values per order: 10–12 bits).
//!   Quantized (orders ≥ 2, when asked for), a p_n- or b_n-bit code into a table of
//!   centers ([`super::quantize`]). The highest order has no back-offs.
//! - The child pointer of entry i is where its children start in order n + 1 (they end at
//!   entry i + 1's; each order below the highest ends with a sentinel record). Pointers
//!   never decrease, and each order takes the smaller of two codings:
//!   - blocks: the order's entries are cut into blocks of 2^s; a block's first pointer is
//!     stored once, as a u32 base, and each record holds its pointer less that base in
//!     c_n bits, enough for the block whose pointers spread most (s chosen for the fewest
//!     bits; where no split saves anything, the record holds the whole pointer);
//!   - unary ([`unary`]): c_n = 0, and one bit vector holds every entry's child count in
//!     unary, L_n + 1 + L_{n+1} bits, about 2 to 3 a record where order n + 1 is not much
//!     larger than order n (PTB's 5-gram: orders 2–4, against 10–13 bits blocked).
//!
//! Within a child range records are sorted by token, strictly, so a lookup bisects the
//! range (a short one is scanned). Sizes on a 5-gram of PTB: see docs/ngram.md.

mod check;
mod unary;

pub use unary::UnaryPointers;

use super::bits::read_bits;
use super::prefetch;
use super::walk::{Levels, Prefetch};
use crate::error::{ElmanError, Result};
use std::ops::Range;

/// How a record stores one kind of value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueCode {
    /// The f32's 32 bits.
    Exact = 0,
    /// The f32's low 31 bits, the sign bit set on reading (every value negative).
    Negative = 1,
    /// An index into the order's table of centers.
    Table = 2,
    /// Not stored (back-offs of the highest order): 0.
    Absent = 3,
    /// An index into the order's table of its distinct values: lossless.
    Dictionary = 4,
}

impl ValueCode {
    fn from_u64(code: u64) -> Option<ValueCode> {
        Some(match code {
            0 => ValueCode::Exact,
            1 => ValueCode::Negative,
            2 => ValueCode::Table,
            3 => ValueCode::Absent,
            4 => ValueCode::Dictionary,
            _ => return None,
        })
    }
}

/// Number of u64 parameters each order has in the layout section.
pub const PARAMS_PER_ORDER: usize = 8;

/// Child ranges up to this long are scanned; longer ones are bisected.
const SCAN_LIMIT: usize = 8;

/// One order's parameters, as the layout section stores them (u64 each, in this order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LevelParams {
    /// Records, the sentinel included (orders below the highest).
    pub records: u64,
    pub word_bits: u64,
    pub prob_bits: u64,
    pub backoff_bits: u64,
    /// Low bits of the child pointer kept in the record.
    pub low_bits: u64,
    pub prob_code: u64,
    pub backoff_code: u64,
    /// log2 of the entries per block of pointer bases; [`UNARY_POINTERS`] when the
    /// order's pointers are one unary bit vector instead (its "bases" section).
    pub block_shift: u64,
}

/// The `block_shift` of an order whose child pointers are a unary bit vector
/// ([`unary`]): its records hold no pointer bits, and its pointer-base section holds the
/// vector's u64 words.
pub const UNARY_POINTERS: u64 = 64;

impl LevelParams {
    pub fn to_words(self) -> [u64; PARAMS_PER_ORDER] {
        [self.records, self.word_bits, self.prob_bits, self.backoff_bits, self.low_bits, self.prob_code, self.backoff_code, self.block_shift]
    }

    pub fn from_words(w: &[u64]) -> LevelParams {
        LevelParams {
            records: w[0],
            word_bits: w[1],
            prob_bits: w[2],
            backoff_bits: w[3],
            low_bits: w[4],
            prob_code: w[5],
            backoff_code: w[6],
            block_shift: w[7],
        }
    }

    /// Bits per record.
    pub fn record_bits(&self) -> u64 {
        self.word_bits + self.prob_bits + self.backoff_bits + self.low_bits
    }
}

/// One order of a compact trie, borrowed from its sections.
#[derive(Clone, Debug)]
pub struct PackedLevel<'a> {
    records: &'a [u8],
    /// Records, the sentinel included.
    count: usize,
    record_bits: u64,
    word_bits: u32,
    prob_bits: u32,
    backoff_bits: u32,
    low_bits: u32,
    prob_code: ValueCode,
    backoff_code: ValueCode,
    probs: &'a [f32],
    backoffs: &'a [f32],
    bases: &'a [u32],
    block_shift: u32,
    /// The child pointers when unary ([`UNARY_POINTERS`]; then `bases` is empty and
    /// `block_shift` 0), indexed.
    unary: Option<UnaryPointers<'a>>,
}

impl<'a> PackedLevel<'a> {
    /// The order described by `params` over its sections, its pointers leading into a next
    /// order of `children` entries; `bad` words the errors. Checks the parameters and the
    /// sections' lengths, and indexes unary pointers (which checks them whole); the values
    /// are checked by [`CompactTrie::check_ends`] and [`CompactTrie::section_checks`].
    pub fn new(params: LevelParams, records: &'a [u8], bases: &'a [u32], bins: &'a [f32], children: usize, bad: &dyn Fn(String) -> ElmanError) -> Result<Self> {
        let (Some(prob_code), Some(backoff_code)) = (ValueCode::from_u64(params.prob_code), ValueCode::from_u64(params.backoff_code)) else {
            return Err(bad("an order of the compact layout names an unknown value coding".into()));
        };
        let widths_fit = match prob_code {
            ValueCode::Exact => params.prob_bits == 32,
            ValueCode::Negative => params.prob_bits == 31,
            ValueCode::Table | ValueCode::Dictionary => (1..=16).contains(&params.prob_bits),
            ValueCode::Absent => false,
        } && match backoff_code {
            ValueCode::Exact => params.backoff_bits == 32,
            ValueCode::Table | ValueCode::Dictionary => (1..=16).contains(&params.backoff_bits),
            ValueCode::Absent => params.backoff_bits == 0,
            ValueCode::Negative => false,
        } && params.word_bits <= 32
            && params.low_bits <= 32
            && (params.block_shift < 32 || (params.block_shift == UNARY_POINTERS && params.low_bits == 0))
            && params.records < u32::MAX as u64;
        if !widths_fit {
            return Err(bad("an order of the compact layout has field widths that do not fit its codings".into()));
        }
        let bits = params.records.checked_mul(params.record_bits());
        if bits.is_none_or(|bits| (records.len() as u64) < bits.div_ceil(8) + 8) {
            return Err(bad("an order's records run past their section".into()));
        }
        let table_len = |code: ValueCode, bits: u64| if matches!(code, ValueCode::Table | ValueCode::Dictionary) { 1usize << bits } else { 0 };
        let (prob_len, backoff_len) = (table_len(prob_code, params.prob_bits), table_len(backoff_code, params.backoff_bits));
        if bins.len() != prob_len + backoff_len {
            return Err(bad("an order's table of quantization centers has the wrong length".into()));
        }
        let unary = if params.block_shift == UNARY_POINTERS {
            let words: &[u64] = bytemuck::try_cast_slice(bases).map_err(|_| bad("an order's unary pointers are not whole 8-byte words".into()))?;
            let pointers = UnaryPointers::new(words, params.records as usize, children);
            Some(pointers.ok_or_else(|| bad("an order's unary child pointers do not fit its records and the next order".into()))?)
        } else {
            let blocks = if params.records == 0 { 0 } else { ((params.records - 1) >> params.block_shift) + 1 };
            if !bases.is_empty() && bases.len() as u64 != blocks {
                return Err(bad("an order's pointer bases do not match its records".into()));
            }
            None
        };
        Ok(PackedLevel {
            records,
            count: params.records as usize,
            record_bits: params.record_bits(),
            word_bits: params.word_bits as u32,
            prob_bits: params.prob_bits as u32,
            backoff_bits: params.backoff_bits as u32,
            low_bits: params.low_bits as u32,
            prob_code,
            backoff_code,
            probs: &bins[..prob_len],
            backoffs: &bins[prob_len..],
            bases: if unary.is_some() { &[] } else { bases },
            block_shift: if unary.is_some() { 0 } else { params.block_shift as u32 },
            unary,
        })
    }

    /// Whether the child pointers are a unary bit vector (rising by construction).
    pub fn has_unary_pointers(&self) -> bool {
        self.unary.is_some()
    }

    #[inline]
    fn bit(&self, at: usize) -> u64 {
        at as u64 * self.record_bits
    }

    #[inline]
    fn word(&self, at: usize) -> u32 {
        read_bits(self.records, self.bit(at), self.word_bits)
    }

    #[inline]
    fn prob(&self, at: usize) -> f32 {
        let field = read_bits(self.records, self.bit(at) + self.word_bits as u64, self.prob_bits);
        decode(self.prob_code, field, self.probs)
    }

    #[inline]
    fn backoff(&self, at: usize) -> f32 {
        let field = read_bits(self.records, self.bit(at) + (self.word_bits + self.prob_bits) as u64, self.backoff_bits);
        decode(self.backoff_code, field, self.backoffs)
    }

    /// Where entry `at`'s children start in the next order: its block's base plus the
    /// record's low bits.
    #[inline]
    fn pointer(&self, at: usize) -> usize {
        if let Some(unary) = &self.unary {
            return unary.pointer(at);
        }
        let low = read_bits(self.records, self.bit(at) + (self.word_bits + self.prob_bits + self.backoff_bits) as u64, self.low_bits) as usize;
        match self.bases.get(at >> self.block_shift) {
            Some(&base) => base as usize + low,
            None => low,
        }
    }

    /// Starts loading record `at`.
    #[inline]
    fn prefetch(&self, at: usize) {
        prefetch(self.records.as_ptr().wrapping_add((self.bit(at) / 8) as usize));
    }
}

#[inline]
fn decode(code: ValueCode, field: u32, table: &[f32]) -> f32 {
    match code {
        ValueCode::Exact => f32::from_bits(field),
        ValueCode::Negative => f32::from_bits(field | 0x8000_0000),
        ValueCode::Table | ValueCode::Dictionary => table.get(field as usize).copied().unwrap_or(f32::NAN),
        ValueCode::Absent => 0.0,
    }
}

/// A compact trie of order N = `levels.len()`: level 0 dense over the vocabulary.
#[derive(Clone, Debug, Default)]
pub struct CompactTrie<'a> {
    pub levels: Vec<PackedLevel<'a>>,
}

impl CompactTrie<'_> {
    /// Entries of `level`, its sentinel not counted.
    pub fn len(&self, level: usize) -> usize {
        let count = self.levels.get(level).map_or(0, |l| l.count);
        if level + 1 < self.levels.len() {
            count.saturating_sub(1)
        } else {
            count
        }
    }

    /// Whether the quantized codings are in use (scores are then approximate).
    pub fn is_quantized(&self) -> bool {
        self.levels.iter().any(|l| l.prob_code == ValueCode::Table || l.backoff_code == ValueCode::Table)
    }

    /// Index of `word` among the records `range` of `level`, which are sorted by token.
    #[inline]
    fn search(&self, level: usize, range: Range<usize>, word: u32) -> Option<usize> {
        let packed = self.levels.get(level)?;
        let (mut lo, mut hi) = (range.start, range.end);
        while hi - lo > SCAN_LIMIT {
            let mid = lo + (hi - lo) / 2;
            let found = packed.word(mid);
            if found == word {
                return Some(mid);
            }
            if found < word {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo..hi).find(|&at| packed.word(at) == word)
    }
}

impl Levels for CompactTrie<'_> {
    fn order(&self) -> usize {
        self.levels.len()
    }

    fn unigrams(&self) -> usize {
        self.len(0)
    }

    #[inline]
    fn prob(&self, level: usize, at: usize) -> f32 {
        if at >= self.len(level) {
            return f32::NAN;
        }
        self.levels[level].prob(at)
    }

    #[inline]
    fn backoff(&self, level: usize, at: usize) -> f32 {
        if at >= self.len(level) {
            return 0.0;
        }
        self.levels[level].backoff(at)
    }

    fn word(&self, level: usize, at: usize) -> Option<u32> {
        (level > 0 && at < self.len(level)).then(|| self.levels[level].word(at))
    }

    #[inline]
    fn children(&self, level: usize, parent: usize) -> Option<Range<usize>> {
        if level + 1 >= self.levels.len() || parent >= self.len(level) {
            return None;
        }
        let packed = &self.levels[level];
        let (start, end) = match &packed.unary {
            Some(unary) => unary.children(parent),
            None => (packed.pointer(parent), packed.pointer(parent + 1)),
        };
        (start <= end && end <= self.len(level + 1)).then_some(start..end)
    }

    #[inline]
    fn child_in(&self, level: usize, _parent: usize, range: Range<usize>, word: u32) -> Option<usize> {
        self.search(level + 1, range, word)
    }

    /// Loads the word of the unary pointer vector that `parent`'s one sits near.
    #[inline]
    fn prefetch_children(&self, level: usize, parent: usize) {
        if let Some(unary) = self.levels.get(level).and_then(|packed| packed.unary.as_ref()) {
            unary.prefetch(parent);
        }
    }

    /// Loads the start and the middle of the child range ([`Prefetch::Slot`]), then its
    /// quarter points ([`Prefetch::Entry`]) for a range long enough to be bisected.
    #[inline]
    fn prefetch_child(&self, level: usize, _parent: usize, range: Range<usize>, _word: u32, stage: Prefetch) {
        let Some(next) = self.levels.get(level + 1) else { return };
        let len = range.end.saturating_sub(range.start);
        match stage {
            Prefetch::Slot => {
                next.prefetch(range.start);
                if len > SCAN_LIMIT {
                    next.prefetch(range.start + len / 2);
                }
            }
            Prefetch::Entry => {
                if len > 2 * SCAN_LIMIT {
                    next.prefetch(range.start + len / 4);
                    next.prefetch(range.start + 3 * len / 4);
                }
            }
        }
    }
}
