//! The binary format's vocabulary: token strings back to back with an offset table, and an
//! open-addressing hash table from a token's bytes to its id — read in place from the map.

use super::prefetch;
use crate::ngram::lm::Lexicon;
use crate::ngram::vocab::FxHasher;
use std::hash::Hasher;

/// FxHash of a token's bytes.
pub fn token_hash(token: &str) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(token.as_bytes());
    hasher.finish()
}

/// The first slot a token probes in a table of `slots` (a power of two): the hash's *top*
/// bits. FxHash is one multiply per 8 bytes, so its low bits depend only on the low bits
/// of the input — tokens sharing a first letter (`w1`, `w2`, …) would share them.
pub fn first_slot(token: &str, slots: usize) -> usize {
    ((token_hash(token) as u128 * slots as u128) >> 64) as usize
}

/// Hash-table slots for `tokens` ids: a power of two at least twice the count, so a probe
/// ends at an empty slot after a few steps.
pub fn slot_count(tokens: usize) -> usize {
    (tokens.max(2) * 2).next_power_of_two()
}

/// The three vocabulary sections of `tokens` (in id order): offsets, bytes, hash slots.
pub fn build_sections(tokens: &[String]) -> (Vec<u32>, Vec<u8>, Vec<u32>) {
    let mut offsets = Vec::with_capacity(tokens.len() + 1);
    let mut bytes = Vec::new();
    offsets.push(0u32);
    for token in tokens {
        bytes.extend_from_slice(token.as_bytes());
        offsets.push(bytes.len() as u32);
    }
    let mut slots = vec![0u32; slot_count(tokens.len())];
    let mask = slots.len() - 1;
    for (id, token) in tokens.iter().enumerate() {
        let mut at = first_slot(token, slots.len());
        while slots[at] != 0 {
            at = (at + 1) & mask;
        }
        slots[at] = id as u32 + 1;
    }
    (offsets, bytes, slots)
}

/// A token table built in memory (the ARPA reader looks tokens up in one: a contiguous
/// arena and a flat slot array, far fewer cache misses than a map of separate strings).
pub struct OwnedTokenTable {
    offsets: Vec<u32>,
    text: String,
    slots: Vec<u32>,
}

impl OwnedTokenTable {
    /// The table of `tokens` (in id order); `None` past 4 GiB of token bytes.
    pub fn new(tokens: &[String]) -> Option<Self> {
        let (offsets, bytes, slots) = build_sections(tokens);
        if bytes.len() > u32::MAX as usize {
            return None;
        }
        let text = String::from_utf8(bytes).ok()?;
        Some(OwnedTokenTable { offsets, text, slots })
    }

    pub fn view(&self) -> TokenTable<'_> {
        TokenTable { offsets: &self.offsets, text: &self.text, slots: &self.slots }
    }
}

/// The vocabulary of an open binary model (validated at open: offsets rise and end at the
/// bytes' length on char boundaries, the bytes are UTF-8, slots hold ids < V + 1).
#[derive(Clone, Copy, Debug)]
pub struct TokenTable<'a> {
    pub(super) offsets: &'a [u32],
    pub(super) text: &'a str,
    pub(super) slots: &'a [u32],
}

impl TokenTable<'_> {
    /// The id of `token`, probing from slot `at` (its [`first_slot`]).
    fn probe(&self, token: &str, mut at: usize) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        // A table with no empty slot (impossible when built here) still ends the probe.
        for _ in 0..self.slots.len() {
            let slot = *self.slots.get(at)?;
            if slot == 0 {
                return None;
            }
            if self.token(slot - 1) == token {
                return Some(slot - 1);
            }
            at = (at + 1) & mask;
        }
        None
    }
}

impl Lexicon for TokenTable<'_> {
    fn id(&self, token: &str) -> Option<u32> {
        self.probe(token, first_slot(token, self.slots.len()))
    }

    /// In waves of 32 tokens, the first slots are prefetched together, then the token
    /// offsets those slots name, then the spellings, so that the cache misses overlap;
    /// then each probe runs as [`Lexicon::id`]'s does.
    fn ids_into(&self, tokens: &[&str], out: &mut Vec<Option<u32>>) {
        /// Tokens whose loads are in flight together.
        const WAVE: usize = 32;
        out.clear();
        let held = |at: usize| self.slots.get(at).copied().filter(|&s| s != 0).map(|s| s as usize - 1);
        for wave in tokens.chunks(WAVE) {
            let mut firsts = [0usize; WAVE];
            for (first, t) in firsts.iter_mut().zip(wave) {
                *first = first_slot(t, self.slots.len());
                prefetch(self.slots.as_ptr().wrapping_add(*first));
            }
            let firsts = &firsts[..wave.len()];
            for &at in firsts {
                if let Some(id) = held(at) {
                    prefetch(self.offsets.as_ptr().wrapping_add(id));
                }
            }
            for &at in firsts {
                if let Some(&start) = held(at).and_then(|id| self.offsets.get(id)) {
                    prefetch(self.text.as_ptr().wrapping_add(start as usize));
                }
            }
            out.extend(wave.iter().zip(firsts).map(|(t, &at)| self.probe(t, at)));
        }
    }

    fn token(&self, id: u32) -> &str {
        let id = id as usize;
        match (self.offsets.get(id), self.offsets.get(id + 1)) {
            (Some(&start), Some(&end)) => self.text.get(start as usize..end as usize).unwrap_or(""),
            _ => "",
        }
    }

    fn size(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looking_tokens_up_together_gives_each_ones_id() {
        let tokens: Vec<String> = ["<unk>", "<s>", "</s>", "the", "cat", "é", "日本", ""].iter().map(|t| t.to_string()).collect();
        let table = OwnedTokenTable::new(&tokens).unwrap();
        let view = table.view();
        let asked = ["cat", "dog", "the", "", "日本", "</s>", "ca", "cat", "é"];
        let mut together = Vec::new();
        view.ids_into(&asked, &mut together);
        let one_by_one: Vec<Option<u32>> = asked.iter().map(|t| view.id(t)).collect();
        assert_eq!(together, one_by_one);
        assert_eq!(together, [Some(4), None, Some(3), Some(7), Some(6), Some(2), None, Some(4), Some(5)]);
        view.ids_into(&[], &mut together);
        assert!(together.is_empty());
    }
}
