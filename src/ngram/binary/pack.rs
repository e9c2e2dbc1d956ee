//! Packing a built trie into the compact layout ([`super::compact`]): field widths from
//! the vocabulary and the orders' sizes, the pointer split that makes the order smallest,
//! and the quantization tables when asked for.

use super::bits::{required_bits, BitWriter};
use super::compact::{LevelParams, ValueCode, UNARY_POINTERS};
use super::quantize::Bins;
use super::trie::{Leaf, Node};
use crate::error::{ElmanError, Result};

/// Bits per code when probabilities and back-offs are quantized (orders ≥ 2; unigrams
/// stay exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantization {
    pub prob_bits: u32,
    pub backoff_bits: u32,
}

/// One order, packed: its parameters and its three sections.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackedOrder {
    pub params: LevelParams,
    pub records: Vec<u8>,
    pub bases: Vec<u32>,
    pub bins: Vec<f32>,
}

/// Packs the orders below the highest (`inner`, each with its sentinel) and the highest
/// (`top`) over a vocabulary of `vocab` tokens.
pub fn pack(inner: &[Vec<Node>], top: &[Leaf], vocab: usize, quantization: Option<Quantization>) -> Result<Vec<PackedOrder>> {
    if let Some(q) = quantization {
        // At least 2 bits: the exact codes (blank, −∞, back-off 0) need up to 3 of them.
        if !(2..=16).contains(&q.prob_bits) || !(2..=16).contains(&q.backoff_bits) {
            return Err(ElmanError::Ngram(format!("quantization takes 2 to 16 bits per value, not {} and {}", q.prob_bits, q.backoff_bits)));
        }
    }
    let word_bits = required_bits(vocab.saturating_sub(1) as u64);
    let order = inner.len() + 1;
    let mut packed = Vec::with_capacity(order);
    for level in 0..order {
        let quantize = quantization.filter(|_| level > 0);
        let word_bits = if level == 0 { 0 } else { word_bits };
        let packed_order = match inner.get(level) {
            Some(nodes) => {
                let next_len = inner.get(level + 1).map_or(top.len(), |next| next.len() - 1);
                let entries: Vec<Entry> = nodes.iter().map(|n| Entry { word: n.word, prob: n.prob, backoff: Some(n.backoff), pointer: n.child }).collect();
                pack_order(&entries, word_bits, next_len, quantize)
            }
            None => {
                let entries: Vec<Entry> = top.iter().map(|l| Entry { word: l.word, prob: l.prob, backoff: None, pointer: 0 }).collect();
                pack_order(&entries, word_bits, 0, quantize)
            }
        };
        packed.push(packed_order);
    }
    Ok(packed)
}

/// A record before packing (`backoff` None at the highest order).
struct Entry {
    word: u32,
    prob: f32,
    backoff: Option<f32>,
    pointer: u32,
}

/// How one kind of value is coded: its coding, width and table.
struct Coding {
    code: ValueCode,
    bits: u32,
    bins: Option<Bins>,
}

impl Coding {
    /// The smallest coding of `values`: quantized to `bits` when asked; else exact, as
    /// f32 bits (31 when all are negative) or as indices into the table of their distinct
    /// values, whichever takes fewer bits with the table counted. (Back-offs of a
    /// Kneser–Ney model take a few thousand distinct values per order, so they
    /// shrink from 32 bits to 10–12.)
    fn of(values: &[f32], bits: Option<u32>, is_backoff: bool) -> Coding {
        if let Some(bits) = bits {
            return Coding { code: ValueCode::Table, bits, bins: Some(Bins::new(values, bits, is_backoff)) };
        }
        let plain = if !is_backoff && values.iter().all(|v| v.is_nan() || v.is_sign_negative()) {
            Coding { code: ValueCode::Negative, bits: 31, bins: None }
        } else {
            Coding { code: ValueCode::Exact, bits: 32, bins: None }
        };
        match Bins::distinct(values, 16) {
            Some(bins) if values.len() as u64 * bins.bits() as u64 + bins.table.len() as u64 * 32 < values.len() as u64 * plain.bits as u64 => {
                Coding { code: ValueCode::Dictionary, bits: bins.bits(), bins: Some(bins) }
            }
            _ => plain,
        }
    }

    fn field(&self, value: f32) -> u32 {
        match (&self.bins, self.code) {
            (Some(bins), _) => bins.encode(value),
            (None, ValueCode::Negative) => value.to_bits() & 0x7fff_ffff,
            (None, _) => value.to_bits(),
        }
    }
}

fn pack_order(entries: &[Entry], word_bits: u32, next_len: usize, quantize: Option<Quantization>) -> PackedOrder {
    let has_children = entries.first().is_some_and(|e| e.backoff.is_some());
    let probs: Vec<f32> = entries.iter().map(|e| e.prob).collect();
    // The sentinel (last record below the highest order) holds only the final pointer.
    let real = if has_children { entries.len().saturating_sub(1) } else { entries.len() };
    let prob = Coding::of(&probs[..real], quantize.map(|q| q.prob_bits), false);
    let backoff = if has_children {
        let backoffs: Vec<f32> = entries[..real].iter().map(|e| e.backoff.unwrap_or(0.0)).collect();
        Coding::of(&backoffs, quantize.map(|q| q.backoff_bits), true)
    } else {
        Coding { code: ValueCode::Absent, bits: 0, bins: None }
    };
    let (low_bits, block_shift, bases) = if has_children { smallest_pointers(entries, next_len) } else { (0, 0, Vec::new()) };
    let params = LevelParams {
        records: entries.len() as u64,
        word_bits: word_bits as u64,
        prob_bits: prob.bits as u64,
        backoff_bits: backoff.bits as u64,
        low_bits: low_bits as u64,
        prob_code: prob.code as u64,
        backoff_code: backoff.code as u64,
        block_shift,
    };
    let low_mask = if low_bits == 32 { u32::MAX } else { (1u32 << low_bits) - 1 };
    let mut writer = BitWriter::with_capacity(entries.len() as u64 * params.record_bits());
    for (i, e) in entries.iter().enumerate() {
        let sentinel = i >= real;
        // Order 1 is dense (entry i is token i) and stores no token.
        writer.push(if sentinel || word_bits == 0 { 0 } else { e.word }, word_bits);
        writer.push(if sentinel { 0 } else { prob.field(e.prob) }, prob.bits);
        if backoff.bits > 0 {
            writer.push(if sentinel { 0 } else { backoff.field(e.backoff.unwrap_or(0.0)) }, backoff.bits);
        }
        if low_bits > 0 {
            let base = bases.get(i >> block_shift).copied().unwrap_or(0);
            writer.push((e.pointer - base) & low_mask, low_bits);
        }
    }
    let mut bins = Vec::new();
    for coding in [&prob, &backoff] {
        if let Some(b) = &coding.bins {
            bins.extend_from_slice(&b.table);
        }
    }
    PackedOrder { params, records: writer.finish(), bases, bins }
}

/// The child pointers coded in the fewest bits: block-coded ([`split_pointers`]) or one
/// unary bit vector (see `compact::unary`: records + children bits, about 2 a record
/// where an order is not much larger than the one below), the vector's positions kept
/// below 2^32. Returns (low bits per record, block shift or [`UNARY_POINTERS`], the
/// section's u32 values: block bases, or the vector's u64 words as low and high halves).
fn smallest_pointers(entries: &[Entry], next_len: usize) -> (u32, u64, Vec<u32>) {
    let (low, shift, bases) = split_pointers(entries, next_len);
    let block_bits = entries.len() as u64 * low as u64 + bases.len() as u64 * 32;
    let unary_bits = (entries.len() + next_len) as u64;
    if unary_bits.div_ceil(64) * 64 >= block_bits || unary_bits > u32::MAX as u64 {
        return (low, shift as u64, bases);
    }
    let mut words = vec![0u64; unary_bits.div_ceil(64) as usize];
    for (i, e) in entries.iter().enumerate() {
        // One i sits at p_i + i: before it, i ones and p_i zeros.
        let at = e.pointer as usize + i;
        words[at / 64] |= 1 << (at % 64);
    }
    (0, UNARY_POINTERS, words.iter().flat_map(|&w| [w as u32, (w >> 32) as u32]).collect())
}

/// The pointer split with the fewest bits in all: blocks of 2^s entries, each with its
/// first entry's pointer as a u32 base, and in every record the pointer less its block's
/// base in c low bits, c wide enough for the block that spreads most (see
/// [`super::compact`]); or, when that saves nothing, the whole pointer in the record.
/// Returns (c, s, bases).
fn split_pointers(entries: &[Entry], next_len: usize) -> (u32, u32, Vec<u32>) {
    let required = required_bits(next_len as u64);
    let whole = entries.len() as u64 * required as u64;
    let mut best = (whole, required, 0u32);
    for shift in 1..=12u32 {
        let blocks = entries.len().div_ceil(1 << shift);
        let spread = (0..blocks)
            .map(|j| {
                let last = ((j + 1) << shift).min(entries.len()) - 1;
                entries[last].pointer - entries[j << shift].pointer
            })
            .max()
            .unwrap_or(0);
        let low = required_bits(spread as u64);
        let bits = entries.len() as u64 * low as u64 + blocks as u64 * 32;
        if bits < best.0 {
            best = (bits, low, shift);
        }
    }
    let (_, low, shift) = best;
    if shift == 0 {
        return (required, 0, Vec::new());
    }
    let bases = entries.iter().step_by(1 << shift).map(|e| e.pointer).collect();
    (low, shift, bases)
}
