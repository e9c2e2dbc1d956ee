//! Child pointers of a compact order as one bit vector: each record's child count in
//! unary, then a 1 for the sentinel.
//!
//! ```text
//! B = 1 0^{d_0} 1 0^{d_1} … 1 0^{d_{L−1}} 1        d_i = children of record i
//! p_i = select1(B, i) − i                           (where record i's children start)
//! ```
//!
//! B has L + 1 ones and L' zeros (L' the next order's length), so it takes L + 1 + L' bits:
//! about 2 bits a record where orders grow slowly (PTB's 5-gram: 2.0–3.2 bits, against
//! 10–13 for block-coded pointers). Any such B gives pointers that start at 0, never fall
//! and end at L', so opening only counts its ones.
//!
//! select1 is answered from an index built at open (it is not in the file): the position
//! of every 64th one, and for a group of 64 ones spread over more than `LONG_SPAN` bits
//! (the records after a word with thousands of children) the position of each. A select
//! then reads a sample and at most `LONG_SPAN` / 64 + 1 words of B (most often one or
//! two).

/// Ones per sample.
const GROUP: usize = 64;
/// Groups spread wider than this many bits keep each one's position.
const LONG_SPAN: usize = 1024;

/// The unary pointers of one order and their select index.
#[derive(Clone, Debug)]
pub struct UnaryPointers<'a> {
    words: &'a [u64],
    /// Bits of B in use.
    bits: usize,
    /// Ones in B (records, the sentinel included).
    ones: usize,
    /// Position of one 64·g, for every group g.
    samples: Vec<u32>,
    /// The groups spread over more than `LONG_SPAN` bits, rising, and the positions of
    /// their ones (64 each, the last group's possibly fewer), in the same order.
    long_groups: Vec<u32>,
    long_positions: Vec<u32>,
}

impl<'a> UnaryPointers<'a> {
    /// Indexes `words` as the pointers of `records` records (the sentinel included) into
    /// an order of `children` entries; `None` unless B is exactly such a vector: that many
    /// ones and zeros, beginning and ending with a one, nothing after.
    pub fn new(words: &'a [u64], records: usize, children: usize) -> Option<Self> {
        let bits = records.checked_add(children)?;
        if records == 0 || bits > u32::MAX as usize || words.len() != bits.div_ceil(64) {
            return None;
        }
        let bit = |at: usize| words[at / 64] >> (at % 64) & 1 == 1;
        let tail_clear = bits % 64 == 0 || words[words.len() - 1] >> (bits % 64) == 0;
        if !bit(0) || !bit(bits - 1) || !tail_clear {
            return None;
        }
        let mut samples = Vec::with_capacity(records.div_ceil(GROUP));
        let mut seen = 0usize;
        for (w, &word) in words.iter().enumerate() {
            let count = word.count_ones() as usize;
            // The samples that fall in this word: ones number 64·g with seen ≤ 64·g < seen + count.
            let mut next = seen.div_ceil(GROUP) * GROUP;
            while next < seen + count {
                samples.push((w * 64 + select_in_word(word, (next - seen) as u32)) as u32);
                next += GROUP;
            }
            seen += count;
        }
        if seen != records {
            return None;
        }
        let (mut long_groups, mut long_positions) = (Vec::new(), Vec::new());
        for g in 0..samples.len() {
            let (start, end) = (samples[g] as usize, samples.get(g + 1).map_or(bits, |&s| s as usize));
            if end - start > LONG_SPAN {
                long_groups.push(g as u32);
                let mut at = start;
                for _ in 0..GROUP.min(records - g * GROUP) {
                    long_positions.push(at as u32);
                    at = next_one(words, at + 1).unwrap_or(bits);
                }
            }
        }
        Some(UnaryPointers { words, bits, ones: records, samples, long_groups, long_positions })
    }

    /// Position of one number `i` (from 0); `bits` past the last.
    #[inline]
    fn select(&self, i: usize) -> usize {
        if i >= self.ones {
            return self.bits;
        }
        let (g, r) = (i / GROUP, i % GROUP);
        let start = self.samples.get(g).map_or(self.bits, |&s| s as usize);
        let end = self.samples.get(g + 1).map_or(self.bits, |&s| s as usize);
        if end - start > LONG_SPAN {
            let found = self.long_groups.binary_search(&(g as u32)).ok().and_then(|j| self.long_positions.get(j * GROUP + r));
            return found.map_or(self.bits, |&p| p as usize);
        }
        let mut w = start / 64;
        let mut word = self.words.get(w).map_or(0, |&x| x & (!0u64 << (start % 64)));
        let mut r = r as u32;
        while w * 64 < end {
            let count = word.count_ones();
            if r < count {
                return w * 64 + select_in_word(word, r);
            }
            r -= count;
            w += 1;
            word = self.words.get(w).copied().unwrap_or(0);
        }
        self.bits
    }

    /// Where record `at`'s children start (the sentinel's: the next order's length).
    #[inline]
    pub fn pointer(&self, at: usize) -> usize {
        self.select(at).saturating_sub(at)
    }

    /// Record `at`'s children: from its one to the next.
    #[inline]
    pub fn children(&self, at: usize) -> (usize, usize) {
        let own = self.select(at);
        // The next one is most often in the same word or the next; else select it.
        let next = match next_one_near(self.words, own + 1) {
            Some(next) => next,
            None => self.select(at + 1),
        };
        (own.saturating_sub(at), next.saturating_sub(at + 1))
    }

    /// Starts loading the words that record `at`'s pointer is read from.
    #[inline]
    pub fn prefetch(&self, at: usize) {
        if let Some(&sample) = self.samples.get(at / GROUP) {
            super::super::prefetch(self.words.as_ptr().wrapping_add(sample as usize / 64));
        }
    }
}

/// The first one at or after bit `from`, looking at two words at most.
#[inline]
fn next_one_near(words: &[u64], from: usize) -> Option<usize> {
    let w = from / 64;
    let here = words.get(w)? & (!0u64 << (from % 64));
    if here != 0 {
        return Some(w * 64 + here.trailing_zeros() as usize);
    }
    let after = *words.get(w + 1)?;
    (after != 0).then(|| (w + 1) * 64 + after.trailing_zeros() as usize)
}

/// The first one at or after bit `from`.
fn next_one(words: &[u64], from: usize) -> Option<usize> {
    let mut w = from / 64;
    let mut word = words.get(w)? & (!0u64 << (from % 64));
    while word == 0 {
        w += 1;
        word = *words.get(w)?;
    }
    Some(w * 64 + word.trailing_zeros() as usize)
}

/// For every byte value b and rank r < 8: the position of set bit number r of b (8 when
/// b has fewer).
const SELECT_IN_BYTE: [[u8; 8]; 256] = {
    let mut table = [[8u8; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let (mut bit, mut rank) = (0, 0);
        while bit < 8 {
            if b >> bit & 1 == 1 {
                table[b][rank] = bit as u8;
                rank += 1;
            }
            bit += 1;
        }
        b += 1;
    }
    table
};

/// Position of set bit number `r` (from 0) of `word`, which has more than `r`, without
/// branches: the bytes' running popcounts in one multiply, the byte holding the bit found
/// by comparing them all with r at once, then a table for the bit inside the byte.
#[inline]
fn select_in_word(word: u64, r: u32) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut counts = word - ((word >> 1) & 0x5555_5555_5555_5555);
    counts = (counts & 0x3333_3333_3333_3333) + ((counts >> 2) & 0x3333_3333_3333_3333);
    counts = (counts + (counts >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // Byte i: set bits in bytes 0 … i (at most 64, so no byte overflows).
    let running = counts.wrapping_mul(ONES);
    // High bit of byte i set where running_i ≤ r: the bytes wholly before the bit.
    let before = ((r as u64 * ONES | HIGHS) - running) & HIGHS;
    let byte = (before.count_ones() as usize).min(7);
    let below = if byte == 0 { 0 } else { (running >> (8 * byte - 8)) & 0xff };
    let in_byte = (word >> (8 * byte)) & 0xff;
    8 * byte + SELECT_IN_BYTE[in_byte as usize][(r as u64).saturating_sub(below).min(7) as usize] as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// B for these child counts, as words.
    fn unary(counts: &[usize]) -> (Vec<u64>, usize) {
        let mut bits = Vec::new();
        for &d in counts {
            bits.push(true);
            bits.extend(std::iter::repeat_n(false, d));
        }
        bits.push(true);
        let mut words = vec![0u64; bits.len().div_ceil(64)];
        for (i, &b) in bits.iter().enumerate() {
            words[i / 64] |= (b as u64) << (i % 64);
        }
        (words, counts.iter().sum())
    }

    #[test]
    fn pointers_and_ranges_match_the_child_counts() {
        let mut rng = crate::rng::Rng::new(5);
        // Short and long ranges, empty ones, and a few hubs far longer than a group's span.
        let counts: Vec<usize> = (0..5000)
            .map(|i| match i % 997 {
                0 => 3000 + i,
                _ => match rng.below(10) {
                    0..=3 => 0,
                    4..=7 => 1 + rng.below(3) as usize,
                    _ => rng.below(40) as usize,
                },
            })
            .collect();
        let (words, children) = unary(&counts);
        let pointers = UnaryPointers::new(&words, counts.len() + 1, children).expect("a valid vector");
        assert!(!pointers.long_groups.is_empty(), "the hubs make long groups");
        let mut start = 0;
        for (i, &d) in counts.iter().enumerate() {
            assert_eq!(pointers.pointer(i), start, "record {i}");
            assert_eq!(pointers.children(i), (start, start + d), "record {i}");
            start += d;
        }
        assert_eq!(pointers.pointer(counts.len()), children, "the sentinel's pointer is the next order's length");
    }

    #[test]
    fn only_exact_vectors_are_taken() {
        let (words, children) = unary(&[2, 0, 5]);
        assert!(UnaryPointers::new(&words, 4, children).is_some());
        assert!(UnaryPointers::new(&words, 5, children - 1).is_none(), "wrong counts");
        assert!(UnaryPointers::new(&words, 4, children + 64).is_none(), "wrong length");
        let mut no_start = words.clone();
        no_start[0] &= !1;
        assert!(UnaryPointers::new(&no_start, 4, children).is_none(), "must start with a one");
        let mut trailing = words.clone();
        trailing[0] |= 1 << 20;
        assert!(UnaryPointers::new(&trailing, 4, children).is_none(), "bits past the end");
        assert!(UnaryPointers::new(&[], 0, 0).is_none());
    }

    #[test]
    fn select_in_word_finds_every_bit() {
        for word in [1u64, u64::MAX, 0x8000_0000_0000_0001, 0xf0f0_0000_ff00_1234] {
            let positions: Vec<usize> = (0..64).filter(|b| word >> b & 1 == 1).collect();
            for (r, &p) in positions.iter().enumerate() {
                assert_eq!(select_in_word(word, r as u32), p, "{word:#x} r {r}");
            }
        }
    }
}
