//! Opening's one pass over a binary file: the checksum's blocks on all cores, and right
//! after each piece of a block is digested, the checks of the elements that start in it,
//! on the same core while the piece is in cache. Memory is read once for both, and the
//! pages of a mapped file are faulted in by all cores at once.
//!
//! A section holds `count` elements of `bits` bits back to back from byte `start` of the
//! file; element i starts at bit 8·start + i·bits, and belongs to the piece that holds
//! that bit. A check may read past its elements (the element after the last).

use super::checksum::checksum_checking;
use crate::error::Result;
use std::ops::Range;

/// The elements of one section and how to check a run of them.
pub struct SectionCheck<'c> {
    /// The first element's bit in the file.
    start_bit: u64,
    /// Bits per element (at least 1).
    bits: u64,
    count: usize,
    check: Box<dyn Fn(Range<usize>) -> Result<()> + Sync + 'c>,
}

impl<'c> SectionCheck<'c> {
    /// `count` elements of `bits` bits from the start of `section`, a part of `file`,
    /// checked by `check`.
    pub fn new<T>(file: &[u8], section: &[T], bits: u64, count: usize, check: impl Fn(Range<usize>) -> Result<()> + Sync + 'c) -> Self {
        let start = (section.as_ptr() as usize).wrapping_sub(file.as_ptr() as usize);
        debug_assert!(start <= file.len(), "the section lies in the file");
        SectionCheck { start_bit: 8 * start as u64, bits: bits.max(1), count, check: Box::new(check) }
    }

    /// The elements that start in the bytes `piece` of the file.
    fn in_piece(&self, piece: &Range<usize>) -> Range<usize> {
        let first_at = |byte: usize| ((8 * byte as u64).saturating_sub(self.start_bit).div_ceil(self.bits)).min(self.count as u64) as usize;
        first_at(piece.start)..first_at(piece.end)
    }
}

/// The checksum of `file` and the first failed check, in file order.
pub fn checksum_and_check(file: &[u8], sections: &[SectionCheck]) -> (u64, Result<()>) {
    checksum_checking(file, &|piece: Range<usize>| {
        for section in sections {
            let elements = section.in_piece(&piece);
            if !elements.is_empty() {
                (section.check)(elements)?;
            }
        }
        Ok(())
    })
}
