//! Checking a compact trie when its file opens: what lookups and walks rely on to stay in
//! bounds and to end. For the records R = [a, b) of order n (n < N), with p_i the child
//! pointer of record i:
//!
//! ```text
//! p_a ≤ p_{a+1} ≤ … ≤ p_b ≤ L_{n+1},   p_0 = 0,   p_{L_n} = L_{n+1} (the sentinel's)
//! ```
//!
//! and no log10 value stored whole is +∞ (nor a back-off NaN). The ends are checked once;
//! the records in the pieces of the file's one checked pass ([`super::super::verify`]),
//! by loops that branch on nothing the data decides, so a hostile file costs what a sound
//! one does.
//!
//! Tokens are not read here. A token out of order in its child range, or past the
//! vocabulary, makes lookups miss, never stray: it is wrong data, like a wrong
//! probability, and the file's checksum is what catches damaged data (docs/ngram.md).

use super::super::bits::read_bits;
use super::super::verify::SectionCheck;
use super::{CompactTrie, PackedLevel, ValueCode};
use crate::error::{ElmanError, Result};
use std::ops::Range;

/// The bits of a +∞ f32.
const INFINITY_BITS: u32 = 0x7f80_0000;

/// How the checks word an error.
type Bad<'b> = &'b (dyn Fn(String) -> ElmanError + Sync);

impl CompactTrie<'_> {
    /// Checks what takes no pass over the records: one unigram per token of a vocabulary
    /// of `vocab`, the quantization tables (no +∞, no NaN back-off), and each order's
    /// first and last child pointers (0 and the next order's length).
    pub fn check_ends(&self, vocab: usize, bad: Bad<'_>) -> Result<()> {
        if self.len(0) != vocab {
            return Err(bad("the unigram records do not hold one entry per token".into()));
        }
        for (level, packed) in self.levels.iter().enumerate() {
            if packed.probs.contains(&f32::INFINITY) || packed.backoffs.iter().any(|b| b.is_nan() || *b == f32::INFINITY) {
                return Err(bad(format!("order {}'s quantization table holds +inf, or a NaN back-off", level + 1)));
            }
            if level + 1 < self.levels.len() && (packed.pointer(0) != 0 || packed.pointer(self.len(level)) != self.len(level + 1)) {
                return Err(bad(format!("the child ranges of order {} do not start at 0 and end at the next order's length", level + 1)));
            }
        }
        Ok(())
    }

    /// The checks of every order's records, for the file `file` they lie in: values and
    /// child pointers (values coded through a table were checked in the table).
    pub fn section_checks<'c>(&'c self, file: &[u8], bad: Bad<'c>) -> Vec<SectionCheck<'c>> {
        (0..self.levels.len())
            .map(|level| {
                let packed = &self.levels[level];
                SectionCheck::new(file, packed.records, packed.record_bits, self.len(level), move |records| self.check_records(level, records, bad))
            })
            .collect()
    }

    /// The checks of the records `records` of `level`: their values, and their child
    /// pointers with the one after the last.
    fn check_records(&self, level: usize, records: Range<usize>, bad: Bad<'_>) -> Result<()> {
        let n = level + 1;
        let packed = &self.levels[level];
        if packed.holds_flawed_values(records.clone()) {
            return Err(bad(format!("order {n} holds a log10 value that is +inf or NaN")));
        }
        if level + 1 == self.levels.len() {
            return Ok(());
        }
        // Unary pointers rise by construction (checked when indexed). The record after
        // the last always exists: orders below the highest end with a sentinel.
        if packed.has_unary_pointers() {
            return Ok(());
        }
        let (first, last) = (packed.pointer(records.start), packed.pointer(records.end));
        if first > last || last > self.len(level + 1) || !packed.pointers_rise(records, first, last) {
            return Err(bad(format!("the child ranges of order {n} are out of order or out of bounds")));
        }
        Ok(())
    }
}

impl PackedLevel<'_> {
    /// Whether any of `records` holds a +∞ log10 probability or a NaN or +∞ back-off
    /// stored whole (a table's values are checked in the table; 31-bit probabilities are
    /// negative by construction).
    fn holds_flawed_values(&self, records: Range<usize>) -> bool {
        let mut flawed = false;
        if self.prob_code == ValueCode::Exact {
            let mut probs = FieldCursor::new(self, records.start, self.word_bits, self.prob_bits);
            for _ in records.clone() {
                flawed |= probs.next() == INFINITY_BITS;
            }
        }
        if self.backoff_code == ValueCode::Exact {
            let mut backoffs = FieldCursor::new(self, records.start, self.word_bits + self.prob_bits, self.backoff_bits);
            for _ in records {
                let bits = backoffs.next();
                flawed |= bits == INFINITY_BITS || bits & 0x7fff_ffff > INFINITY_BITS;
            }
        }
        flawed
    }

    /// Whether the child pointers of `records` and the one after rise from `first` to
    /// `last` (the outer two, read already) without ever falling.
    fn pointers_rise(&self, records: Range<usize>, first: usize, last: usize) -> bool {
        let pointer_at = self.word_bits + self.prob_bits + self.backoff_bits;
        let mut lows = FieldCursor::new(self, records.start + 1, pointer_at, self.low_bits);
        let block_mask = (1usize << self.block_shift) - 1;
        let mut base = self.base(records.start + 1);
        let (mut previous, mut falls) = (first, false);
        for at in records.start + 1..=records.end {
            if at & block_mask == 0 {
                base = self.base(at);
            }
            let pointer = base + lows.next() as usize;
            falls |= pointer < previous;
            previous = pointer;
        }
        !falls && previous == last
    }

    /// The base of the pointer block holding record `at` (0 without blocks).
    #[inline]
    fn base(&self, at: usize) -> usize {
        self.bases.get(at >> self.block_shift).map_or(0, |&base| base as usize)
    }
}

/// Reads one field of successive records of an order: a running bit position instead of
/// a product per record.
struct FieldCursor<'a> {
    records: &'a [u8],
    bit: u64,
    stride: u64,
    width: u32,
}

impl<'a> FieldCursor<'a> {
    /// The field `width` bits wide at bit `offset` of each record, from record `first`.
    fn new(level: &PackedLevel<'a>, first: usize, offset: u32, width: u32) -> Self {
        FieldCursor { records: level.records, bit: level.bit(first) + offset as u64, stride: level.record_bits, width }
    }

    #[inline]
    fn next(&mut self) -> u32 {
        let value = read_bits(self.records, self.bit, self.width);
        self.bit += self.stride;
        value
    }
}
