//! The binary format's vocabulary: token strings back to back with an offset table, and an
//! open-addressing hash table from a token's bytes to its id — read in place from the map.

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

impl Lexicon for TokenTable<'_> {
    fn id(&self, token: &str) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut at = first_slot(token, self.slots.len());
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
