//! Token ↔ id map for the n-gram models, with the three special tokens at fixed ids
//! (`<unk>` = 0, `<s>` = 1, `</s>` = 2, as KenLM numbers them) and a fast string hasher.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Id of `<unk>`: every token the vocabulary does not know maps here.
pub const UNK: u32 = 0;
/// Id of `<s>`: starts every sentence; it is context only, never predicted.
pub const BOS: u32 = 1;
/// Id of `</s>`: ends every sentence; it is predicted and counted in perplexity.
pub const EOS: u32 = 2;
/// The spellings of the special ids, in id order.
pub const SPECIALS: [&str; 3] = ["<unk>", "<s>", "</s>"];

/// FxHash (the rustc hasher): one multiply per 8 bytes, plenty for word keys.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("chunks_exact yields 8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` keyed through [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The token strings of a model, indexed by id; ids 0..3 are always the specials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NgramVocab {
    words: Vec<String>,
    index: FxHashMap<String, u32>,
}

impl Default for NgramVocab {
    fn default() -> Self {
        Self::new()
    }
}

impl NgramVocab {
    /// A vocabulary holding only `<unk>`, `<s>` and `</s>`.
    pub fn new() -> Self {
        let mut vocab = NgramVocab { words: Vec::new(), index: FxHashMap::default() };
        for special in SPECIALS {
            vocab.insert(special);
        }
        vocab
    }

    /// The id of `token`, adding it if new.
    pub fn insert(&mut self, token: &str) -> u32 {
        if let Some(&id) = self.index.get(token) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(token.to_string());
        self.index.insert(token.to_string(), id);
        id
    }

    /// The id of `token`, if known.
    pub fn get(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }

    /// The id of `token`, or [`UNK`].
    pub fn id_or_unk(&self, token: &str) -> u32 {
        self.get(token).unwrap_or(UNK)
    }

    /// The spelling of `id` (panics on an id this vocabulary never handed out).
    pub fn word(&self, id: u32) -> &str {
        &self.words[id as usize]
    }

    /// Number of ids handed out, specials included.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Never true: the specials are always present.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// All spellings in id order.
    pub fn words(&self) -> &[String] {
        &self.words
    }
}

impl crate::ngram::lm::Lexicon for NgramVocab {
    fn id(&self, token: &str) -> Option<u32> {
        self.get(token)
    }

    fn token(&self, id: u32) -> &str {
        self.words.get(id as usize).map_or("", String::as_str)
    }

    fn size(&self) -> usize {
        self.words.len()
    }
}
