//! Packing an n-gram of token ids into one `u128` key, in *suffix order*.
//!
//! For an n-gram (v_1 … v_n), v_n the predicted token, with b bits per id:
//!
//! ```text
//! key = v_1 | v_2 << b | … | v_n << (n−1)·b
//! ```
//!
//! The predicted word is the most significant, so sorting keys sorts n-grams by
//! (v_n, v_{n−1}, …, v_1) — KenLM's suffix order — and then:
//! - the suffix (v_2 … v_n) is `key >> b`, non-decreasing along a sorted level, so the
//!   next lower order falls out of one linear scan;
//! - the context (v_1 … v_{n−1}) is `key & mask((n−1)·b)`, which is exactly the key of
//!   that (n−1)-gram.
//!
//! A model of order N needs N·b ≤ 128 bits (word level with |V| ≤ 16,384: N ≤ 9; char
//! level with |V| ≤ 128: N ≤ 18).

use crate::error::{ElmanError, Result};

/// Bits per token id and the packing helpers built on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyLayout {
    bits: u32,
}

impl KeyLayout {
    /// The narrowest layout for ids `0..vocab_len`, checked against `order`.
    pub fn new(vocab_len: usize, order: usize) -> Result<Self> {
        let bits = (usize::BITS - vocab_len.saturating_sub(1).leading_zeros()).max(1);
        if order == 0 || order * bits as usize > 128 {
            return Err(ElmanError::Ngram(format!(
                "order {order} with a vocabulary of {vocab_len} tokens needs {} bits per n-gram key; \
                 the limit is 128 (use an order of at most {})",
                order * bits as usize,
                128 / bits
            )));
        }
        Ok(KeyLayout { bits })
    }

    /// Bits per token id.
    pub fn bits(self) -> u32 {
        self.bits
    }

    /// Packs `ids` (oldest first).
    #[inline]
    pub fn pack(self, ids: &[u32]) -> u128 {
        ids.iter().rev().fold(0u128, |key, &id| (key << self.bits) | id as u128)
    }

    /// Unpacks an n-gram of order `n` into `out` (oldest first).
    #[inline]
    pub fn unpack(self, key: u128, n: usize, out: &mut Vec<u32>) {
        out.clear();
        let mask = self.mask(1);
        for i in 0..n {
            out.push(((key >> (i as u32 * self.bits)) & mask) as u32);
        }
    }

    /// All-ones over the low `words` ids.
    #[inline]
    pub fn mask(self, words: usize) -> u128 {
        let width = words as u32 * self.bits;
        if width >= 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        }
    }

    /// The (n−1)-gram without the oldest token.
    #[inline]
    pub fn suffix(self, key: u128) -> u128 {
        key >> self.bits
    }

    /// The context (all but the predicted token) of an n-gram of order `n`.
    #[inline]
    pub fn context(self, key: u128, n: usize) -> u128 {
        key & self.mask(n - 1)
    }

    /// The predicted (newest) token of an n-gram of order `n`.
    #[inline]
    pub fn last(self, key: u128, n: usize) -> u32 {
        (key >> ((n as u32 - 1) * self.bits)) as u32
    }

    /// Shifts `id` in as the newest token of a sliding window of order `n`.
    #[inline]
    pub fn slide(self, key: u128, id: u32, n: usize) -> u128 {
        (key >> self.bits) | ((id as u128) << ((n as u32 - 1) * self.bits))
    }
}

/// A table of one order's n-grams sorted by packed key (counts and models share it).
pub trait SortedKeys {
    /// The keys, strictly increasing.
    fn keys(&self) -> &[u128];

    /// Index of `key`, if present.
    fn find(&self, key: u128) -> Option<usize> {
        self.keys().binary_search(&key).ok()
    }

    /// Number of distinct n-grams.
    fn len(&self) -> usize {
        self.keys().len()
    }

    fn is_empty(&self) -> bool {
        self.keys().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_suffix_context_and_slide_agree() {
        let layout = KeyLayout::new(10_002, 5).unwrap();
        assert_eq!(layout.bits(), 14);
        let ids = [7, 10_001, 3, 0, 42];
        let key = layout.pack(&ids);
        let mut out = Vec::new();
        layout.unpack(key, 5, &mut out);
        assert_eq!(out, ids);
        assert_eq!(layout.suffix(key), layout.pack(&ids[1..]));
        assert_eq!(layout.context(key, 5), layout.pack(&ids[..4]));
        assert_eq!(layout.last(key, 5), 42);
        assert_eq!(layout.slide(layout.pack(&[1, 7, 10_001, 3, 0]), 42, 5), key);
        // Suffix order: the newest token dominates.
        assert!(layout.pack(&[9, 1]) < layout.pack(&[0, 2]));
    }

    #[test]
    fn too_wide_orders_are_refused() {
        assert!(KeyLayout::new(10_002, 9).is_ok());
        let err = KeyLayout::new(10_002, 10).unwrap_err().to_string();
        assert!(err.contains("at most 9"), "{err}");
        assert!(KeyLayout::new(3, 1).is_ok());
    }
}
