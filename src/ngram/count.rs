//! Sparse n-gram counting for every order 1..N: sorted arrays of packed keys (see
//! [`super::key`]), never a dense |V|^N table.
//!
//! Only the highest order is counted from the text (the one pass whose memory grows with
//! the corpus, and the one that spills under `--memory`). Every lower order follows from
//! the order above it by one linear scan, because in suffix order the suffixes of a
//! sorted level come out sorted:
//!
//! ```text
//! raw_n(g)      = Σ_{v : v g ∈ level n+1} raw_{n+1}(v g)   + start_n(g)
//! adjusted_n(g) = |{v : v g ∈ level n+1}|                  + start_n(g)    (n < N)
//! adjusted_N(g) = raw_N(g)
//! ```
//!
//! `start_n(g)` counts occurrences of g at the very start of a sentence (with markers g
//! begins with `<s>`; without markers only at the start of the stream), where no token
//! precedes it: every other occurrence of an n-gram with n < N has a left neighbour and
//! so sits inside an (n+1)-gram. `raw` are plain occurrence counts (for MLE and add-k);
//! `adjusted` are Kneser-Ney's continuation counts N1+(• g), with KenLM's rule that
//! n-grams starting with `<s>` keep their raw count.
//!
//! The `<s>` unigram is kept with count 0 (it is never predicted) and `<unk>` is always
//! present, with count 0 when the text has none.

use super::key::{KeyLayout, SortedKeys};
use super::spill::{add_counts, SpillStats, SpillingCounter};
use super::tokenize::NgramCorpus;
use super::vocab::{BOS, UNK};
use crate::error::{ElmanError, Result};

/// The n-grams of one order, sorted by key, with their counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountLevel {
    pub keys: Vec<u128>,
    /// Occurrences in the text.
    pub raw: Vec<u32>,
    /// Kneser-Ney adjusted counts (continuation counts below the highest order).
    pub adjusted: Vec<u32>,
}

impl SortedKeys for CountLevel {
    fn keys(&self) -> &[u128] {
        &self.keys
    }
}

/// Counts of every order for one corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NgramCounts {
    pub order: usize,
    pub layout: KeyLayout,
    pub markers: bool,
    /// `levels[n - 1]` holds the n-grams.
    pub levels: Vec<CountLevel>,
    /// What the highest-order counter spilled to disk.
    pub spill: SpillStats,
}

/// Memory budget for counting: at most this many bytes of buffered highest-order keys.
pub fn key_budget(memory_bytes: Option<u64>) -> Option<usize> {
    memory_bytes.map(|bytes| (bytes / std::mem::size_of::<u128>() as u64).max(1) as usize)
}

/// Counts all n-grams of orders 1..=`order` in `corpus`.
///
/// `memory_bytes` bounds the buffer of highest-order keys; past it, sorted runs spill
/// to a temp directory and are merged, with the same result.
pub fn count_ngrams(
    corpus: &NgramCorpus,
    vocab_len: usize,
    order: usize,
    markers: bool,
    memory_bytes: Option<u64>,
) -> Result<NgramCounts> {
    let layout = KeyLayout::new(vocab_len, order)?;
    let (keys, raw, spill) = count_highest_order(corpus, layout, order, markers, memory_bytes)?;
    let mut levels = vec![CountLevel::default(); order];
    levels[order - 1] = CountLevel { adjusted: raw.clone(), keys, raw };
    let starts = count_sentence_starts(corpus, layout, order)?;
    for (n, start) in (1..order).zip(starts).rev() {
        levels[n - 1] = derive_lower_order(&levels[n], layout, start)?;
    }
    add_special_unigrams(&mut levels[0], markers);
    Ok(NgramCounts { order, layout, markers, levels, spill })
}

/// The N-grams of the text: every window of N tokens inside a sentence (for N = 1, every
/// token but `<s>`).
fn count_highest_order(
    corpus: &NgramCorpus,
    layout: KeyLayout,
    order: usize,
    markers: bool,
    memory_bytes: Option<u64>,
) -> Result<(Vec<u128>, Vec<u32>, SpillStats)> {
    let windows: usize = corpus.sentences().map(|s| (s.len() + 1).saturating_sub(order)).sum();
    let mut counter = SpillingCounter::new(key_budget(memory_bytes), windows);
    for sentence in corpus.sentences() {
        let mut key = 0u128;
        for (i, &id) in sentence.iter().enumerate() {
            key = layout.slide(key, id, order);
            if i + 1 >= order && !(order == 1 && markers && id == BOS) {
                counter.push(key)?;
            }
        }
    }
    counter.finish()
}

/// For each order n < N, the sorted n-grams that open a sentence, with counts.
fn count_sentence_starts(corpus: &NgramCorpus, layout: KeyLayout, order: usize) -> Result<Vec<(Vec<u128>, Vec<u32>)>> {
    let mut per_order: Vec<Vec<u128>> = vec![Vec::new(); order.saturating_sub(1)];
    for sentence in corpus.sentences() {
        let mut key = 0u128;
        for (n, &id) in sentence.iter().enumerate().take(order - 1) {
            key |= (id as u128) << (n as u32 * layout.bits());
            per_order[n].push(key);
        }
    }
    per_order
        .into_iter()
        .map(|mut keys| {
            keys.sort_unstable();
            let mut unique: Vec<u128> = Vec::new();
            let mut counts: Vec<u32> = Vec::new();
            for key in keys {
                if unique.last() == Some(&key) {
                    let last = counts.last_mut().expect("parallel to unique");
                    *last = add_counts(*last, 1)?;
                } else {
                    unique.push(key);
                    counts.push(1);
                }
            }
            Ok((unique, counts))
        })
        .collect()
}

/// Level n from level n+1 (suffixes, already sorted) merged with the sentence starts of order n.
fn derive_lower_order(upper: &CountLevel, layout: KeyLayout, starts: (Vec<u128>, Vec<u32>)) -> Result<CountLevel> {
    let (start_keys, start_counts) = starts;
    // Exact capacity (distinct suffixes + starts) keeps the level from over-allocating.
    let distinct = upper.keys.windows(2).filter(|w| layout.suffix(w[0]) != layout.suffix(w[1])).count()
        + usize::from(!upper.keys.is_empty());
    let capacity = distinct + start_keys.len();
    let mut out = CountLevel {
        keys: Vec::with_capacity(capacity),
        raw: Vec::with_capacity(capacity),
        adjusted: Vec::with_capacity(capacity),
    };
    let mut next_start = 0usize;
    let push = |out: &mut CountLevel, key: u128, raw: u32, adjusted: u32| {
        out.keys.push(key);
        out.raw.push(raw);
        out.adjusted.push(adjusted);
    };
    let mut i = 0usize;
    while i < upper.keys.len() {
        let suffix = layout.suffix(upper.keys[i]);
        let (mut raw, mut distinct) = (0u32, 0u32);
        while i < upper.keys.len() && layout.suffix(upper.keys[i]) == suffix {
            raw = add_counts(raw, upper.raw[i])?;
            distinct += 1;
            i += 1;
        }
        while next_start < start_keys.len() && start_keys[next_start] < suffix {
            push(&mut out, start_keys[next_start], start_counts[next_start], start_counts[next_start]);
            next_start += 1;
        }
        if next_start < start_keys.len() && start_keys[next_start] == suffix {
            raw = add_counts(raw, start_counts[next_start])?;
            distinct = add_counts(distinct, start_counts[next_start])?;
            next_start += 1;
        }
        push(&mut out, suffix, raw, distinct);
    }
    for at in next_start..start_keys.len() {
        push(&mut out, start_keys[at], start_counts[at], start_counts[at]);
    }
    Ok(out)
}

/// Ensures `<unk>` is a unigram and that `<s>` (with markers) is one with count 0.
pub(crate) fn add_special_unigrams(unigrams: &mut CountLevel, markers: bool) {
    let mut ensure = |id: u32, zero: bool| {
        let key = id as u128;
        let at = match unigrams.keys.binary_search(&key) {
            Ok(at) => at,
            Err(at) => {
                unigrams.keys.insert(at, key);
                unigrams.raw.insert(at, 0);
                unigrams.adjusted.insert(at, 0);
                at
            }
        };
        if zero {
            unigrams.raw[at] = 0;
            unigrams.adjusted[at] = 0;
        }
    };
    ensure(UNK, false);
    if markers {
        ensure(BOS, true);
    }
}

/// A clear error when the text holds no n-gram of the requested order.
pub fn require_complete_ngram(counts: &NgramCounts, what: &str) -> Result<()> {
    if counts.levels[counts.order - 1].is_empty() {
        return Err(ElmanError::Setting {
            key: "order",
            problem: format!("{} is too high: {what} contains no complete {}-gram (its longest sentence is too short)", counts.order, counts.order),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ngram::tokenize::{tokenize_training, TokenizeOptions, NgramTokenizer};
    use std::collections::BTreeMap;

    /// Brute force over every window: raw counts, and (left neighbour or "start") sets.
    fn brute(corpus: &NgramCorpus, n: usize) -> BTreeMap<Vec<u32>, (u32, Vec<Option<u32>>)> {
        let mut out: BTreeMap<Vec<u32>, (u32, Vec<Option<u32>>)> = BTreeMap::new();
        for s in corpus.sentences() {
            for begin in 0..s.len().saturating_sub(n - 1) {
                let entry = out.entry(s[begin..begin + n].to_vec()).or_default();
                entry.0 += 1;
                entry.1.push(if begin == 0 { None } else { Some(s[begin - 1]) });
            }
        }
        out
    }

    #[test]
    fn every_order_matches_brute_force_counts() {
        let text = "a b a c\nb a b\n\nc c a b a\n";
        for markers in [true, false] {
            let options = TokenizeOptions { tokenizer: NgramTokenizer::Word, markers };
            let (vocab, corpus) = tokenize_training(text, options);
            let order = 4;
            let counts = count_ngrams(&corpus, vocab.len(), order, markers, None).unwrap();
            for n in 1..=order {
                let level = &counts.levels[n - 1];
                let mut expected = brute(&corpus, n);
                if n == 1 {
                    expected.remove(&vec![BOS]);
                    expected.entry(vec![UNK]).or_default();
                }
                let got: Vec<u128> = level.keys.iter().copied().filter(|&k| !(n == 1 && markers && k == BOS as u128)).collect();
                assert_eq!(got.len(), expected.len(), "order {n} markers {markers}");
                for (gram, (raw, left)) in expected {
                    let at = level.find(counts.layout.pack(&gram)).expect("every window is counted");
                    assert_eq!(level.raw[at], raw, "raw {gram:?}");
                    let mut distinct: Vec<u32> = left.iter().flatten().copied().collect();
                    distinct.sort_unstable();
                    distinct.dedup();
                    let starts = left.iter().filter(|l| l.is_none()).count() as u32;
                    let want = if n == order { raw } else { distinct.len() as u32 + starts };
                    assert_eq!(level.adjusted[at], want, "adjusted {gram:?} order {n}");
                }
            }
        }
    }
}
