//! A seeded mutation fuzzer over every reader of untrusted bytes (`elman::untrusted`):
//! ARPA text, the binary n-gram format, safetensors checkpoints with elman's metadata,
//! `--config` TOML, and training text under each tokenizer (RNN char/byte/word, n-gram
//! word/char). Each loader gets at least 20,000 cases mutated from valid inputs: bit flips,
//! inserted and deleted bytes, truncation at structural boundaries, numbers inflated to
//! 2^31, 2^32, 2^63 and negative (counts, offsets, shapes, header lengths, vocabulary
//! sizes), duplicated and missing lines, sections and tensors, and invalid UTF-8 in names.
//!
//! Required of every case: `Ok` (with the loader's own consistency checks passed) or an
//! error — never a panic (caught and counted; the input is saved for replay), never an
//! abort (the test binary would die), and never one allocation larger than
//! `ALLOWANCE_PER_BYTE` × the input's size + `ALLOWANCE_FIXED` (a counting global
//! allocator watches every allocation; the loaders run one at a time).

use elman::rnn::data::TokenizerKind;
use elman::ngram::arpa::write_arpa;
use elman::ngram::binary::checksum::checksum;
use elman::ngram::binary::{write_binary_as, BinaryLayout, Quantization};
use elman::ngram::{train, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};
use elman::rng::Rng;
use elman::untrusted;
use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Every allocation's size is noted; the largest since the last reset is what a case used.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One loader at a time, so the allocation counter belongs to the case that runs.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The most one allocation may take: this many bytes per input byte, plus a fixed amount.
const ALLOWANCE_PER_BYTE: usize = 16;
const ALLOWANCE_FIXED: usize = 1 << 20;

const CASES: usize = 20_000;

const BIG_NUMBERS: [&str; 12] = [
    "2147483648",
    "4294967296",
    "9223372036854775808",
    "18446744073709551616",
    "-1",
    "-2147483649",
    "99999999999999999999999",
    "0",
    "1e308",
    "-1e308",
    "nan",
    "inf",
];
const BIG_WORDS: [u64; 6] = [1 << 31, 1 << 32, 1 << 63, u64::MAX, u32::MAX as u64, 0];

/// What is known of an input's structure, for mutations that aim at it.
#[derive(Clone, Default)]
struct Structure {
    /// Byte offsets where a truncation cuts between parts (line or section starts).
    boundaries: Vec<usize>,
    /// (offset, width 4 or 8) of binary number fields.
    fields: Vec<(usize, usize)>,
}

struct Mutator {
    rng: Rng,
}

impl Mutator {
    fn below(&mut self, n: usize) -> usize {
        self.rng.below(n.max(1) as u64) as usize
    }

    fn line_starts(bytes: &[u8]) -> Vec<usize> {
        std::iter::once(0).chain(bytes.iter().enumerate().filter(|(_, &b)| b == b'\n').map(|(i, _)| i + 1)).collect()
    }

    /// One mutation of text-like bytes.
    fn text(&mut self, bytes: &mut Vec<u8>) {
        let len = bytes.len();
        match self.below(10) {
            0 if len > 0 => {
                let at = self.below(len);
                bytes[at] ^= 1 << self.below(8);
            }
            1 => {
                let at = self.below(len + 1);
                let pool = [b'\n', b'\\', b'\t', b' ', 0xff, 0, b'=', b'"', b'[', b'-', b'9', b'<'];
                let count = 1 + self.below(4);
                for _ in 0..count {
                    let b = pool[self.below(pool.len())];
                    bytes.insert(at, b);
                }
            }
            2 if len > 0 => {
                let at = self.below(len);
                let end = (at + 1 + self.below(16)).min(len);
                bytes.drain(at..end);
            }
            3 => {
                let starts = Self::line_starts(bytes);
                let cut = if self.below(2) == 0 { starts[self.below(starts.len())] } else { self.below(len + 1) };
                bytes.truncate(cut);
            }
            4 | 5 => {
                // A number inflated (or made negative, NaN, infinite).
                let runs: Vec<(usize, usize)> = digit_runs(bytes);
                if let Some(&(start, end)) = runs.get(self.below(runs.len())) {
                    let big = BIG_NUMBERS[self.below(BIG_NUMBERS.len())];
                    bytes.splice(start..end, big.bytes());
                }
            }
            6 => {
                // A block of lines duplicated in place.
                let starts = Self::line_starts(bytes);
                let a = starts[self.below(starts.len())];
                let b = starts[self.below(starts.len())].max(a);
                let block = bytes[a..b].to_vec();
                bytes.splice(b..b, block);
            }
            7 => {
                // A block of lines removed.
                let starts = Self::line_starts(bytes);
                let a = starts[self.below(starts.len())];
                let b = starts[self.below(starts.len())].max(a);
                bytes.drain(a..b);
            }
            8 => {
                // Invalid UTF-8 inside a token.
                let bad: &[&[u8]] = &[&[0xff], &[0xc3], &[0xed, 0xa0, 0x80], &[0xf4, 0x90, 0x80, 0x80], &[0x80]];
                let at = self.below(len + 1);
                let pick = bad[self.below(bad.len())];
                bytes.splice(at..at, pick.iter().copied());
            }
            _ => {
                // Two lines swapped.
                let starts = Self::line_starts(bytes);
                if starts.len() > 3 {
                    let i = self.below(starts.len() - 2);
                    let j = self.below(starts.len() - 2);
                    let (i, j) = (i.min(j), i.max(j));
                    if i < j {
                        let (a, a_end, b, b_end) = (starts[i], starts[i + 1], starts[j], starts[j + 1]);
                        let mut out = bytes[..a].to_vec();
                        out.extend_from_slice(&bytes[b..b_end]);
                        out.extend_from_slice(&bytes[a_end..b]);
                        out.extend_from_slice(&bytes[a..a_end]);
                        out.extend_from_slice(&bytes[b_end..]);
                        *bytes = out;
                    }
                }
            }
        }
    }

    /// One mutation of a binary file with known fields and boundaries.
    fn binary(&mut self, bytes: &mut Vec<u8>, structure: &Structure) {
        let len = bytes.len();
        match self.below(8) {
            0 if len > 0 => {
                let at = self.below(len);
                bytes[at] ^= 1 << self.below(8);
            }
            1 => {
                let at = self.below(len + 1);
                let n = 1 + self.below(8);
                for _ in 0..n {
                    let b = self.below(256) as u8;
                    bytes.insert(at, b);
                }
            }
            2 if len > 0 => {
                let at = self.below(len);
                let end = (at + 1 + self.below(64)).min(len);
                bytes.drain(at..end);
            }
            3 => {
                let cut = match structure.boundaries.get(self.below(structure.boundaries.len() * 2)) {
                    Some(&b) => b.min(len),
                    None => self.below(len + 1),
                };
                bytes.truncate(cut);
            }
            4 | 5 => {
                let (at, width) = match structure.fields.get(self.below(structure.fields.len() * 2)) {
                    Some(&f) => f,
                    None => (self.below(len / 4) * 4, 4),
                };
                let value = BIG_WORDS[self.below(BIG_WORDS.len())];
                if at + width <= bytes.len() {
                    bytes[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
                }
            }
            6 => {
                // One 16-byte table entry copied over another (a duplicated or lost section).
                let entries: Vec<usize> = structure.fields.iter().filter(|f| f.1 == 8).map(|f| f.0).collect();
                if entries.len() >= 2 {
                    let (a, b) = (entries[self.below(entries.len())], entries[self.below(entries.len())]);
                    if a + 8 <= len && b + 8 <= len {
                        let piece = bytes[a..a + 8].to_vec();
                        bytes[b..b + 8].copy_from_slice(&piece);
                    }
                }
            }
            _ => {
                let at = self.below(len);
                if at < len {
                    bytes[at] = [0xff, 0x80, 0xc3, 0x00][self.below(4)];
                }
            }
        }
    }
}

/// (start, end) of every run of ASCII digits.
fn digit_runs(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

/// What a fuzz run saw.
#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    ok: usize,
    refused: usize,
    panics: Vec<String>,
    largest: usize,
    largest_input: usize,
    over_allowance: Vec<String>,
}

/// Runs `load` on `cases` mutants of `seeds`, each made by 1–3 calls of `mutate`.
fn fuzz(name: &str, seeds: &[Vec<u8>], cases: usize, seed: u64, mutate: &mut dyn FnMut(&mut Mutator, &mut Vec<u8>, usize), load: &dyn Fn(&[u8]) -> bool) -> Tally {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Mutator { rng: Rng::new(seed) };
    let mut tally = Tally::default();
    let failures = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    for (i, seed_bytes) in seeds.iter().enumerate() {
        assert!(load(seed_bytes), "{name}: the valid seed input {i} was refused");
    }
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for case in 0..cases {
        let which = rng.below(seeds.len());
        let mut bytes = seeds[which].clone();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut bytes, which);
        }
        LARGEST.store(0, Ordering::Relaxed);
        let outcome = catch_unwind(AssertUnwindSafe(|| load(&bytes)));
        let largest = LARGEST.load(Ordering::Relaxed);
        tally.cases += 1;
        match outcome {
            Ok(true) => tally.ok += 1,
            Ok(false) => tally.refused += 1,
            Err(panic) => {
                let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                std::fs::create_dir_all(&failures).ok();
                let saved = failures.join(format!("{name}-{case}.bin"));
                std::fs::write(&saved, &bytes).ok();
                tally.panics.push(format!("case {case}: {message} (input saved to {})", saved.display()));
            }
        }
        if largest > tally.largest {
            tally.largest = largest;
            tally.largest_input = bytes.len();
        }
        if largest > ALLOWANCE_PER_BYTE * bytes.len() + ALLOWANCE_FIXED {
            let saved = failures.join(format!("{name}-{case}-alloc.bin"));
            std::fs::create_dir_all(&failures).ok();
            std::fs::write(&saved, &bytes).ok();
            tally.over_allowance.push(format!("case {case}: one allocation of {largest} bytes for a {}-byte input ({})", bytes.len(), saved.display()));
        }
    }
    std::panic::set_hook(quiet);
    println!(
        "fuzz {name}: {} cases, {} accepted, {} refused with an error, {} panics; largest allocation {} bytes (input {} bytes)",
        tally.cases,
        tally.ok,
        tally.refused,
        tally.panics.len(),
        tally.largest,
        tally.largest_input
    );
    assert!(tally.panics.is_empty(), "{name}: {} panics, first: {}", tally.panics.len(), tally.panics[0]);
    assert!(tally.over_allowance.is_empty(), "{name}: {}", tally.over_allowance[0]);
    assert!(tally.cases >= CASES.min(cases));
    tally
}

fn small_corpus() -> String {
    let manual = include_str!("../corpus/manual.txt");
    let mut end = 2500.min(manual.len());
    while !manual.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\nnaïve café — 日本語 ☃\n", &manual[..end])
}

fn ngram_models() -> Vec<elman::ngram::NgramModel<f32>> {
    let text = small_corpus();
    [(3, NgramTokenizer::Word, true, Smoothing::Kn), (2, NgramTokenizer::Char, true, Smoothing::Kn), (2, NgramTokenizer::Word, false, Smoothing::AddK), (1, NgramTokenizer::Word, true, Smoothing::Mle)]
        .into_iter()
        .map(|(order, tokenizer, markers, smoothing)| {
            let options = TrainOptions::new(order, TokenizeOptions { tokenizer, markers }, smoothing);
            train::<f32>(&text, "fuzz", &options).expect("the seed corpus trains").model
        })
        .collect()
}

#[test]
fn fuzz_arpa_reader() {
    let mut seeds: Vec<Vec<u8>> = ngram_models()
        .iter()
        .map(|m| {
            let mut out = Vec::new();
            write_arpa(m, &mut out).unwrap();
            out
        })
        .collect();
    seeds.push(b"\\data\\\nngram 1=3\nngram 2=1\n\n\\1-grams:\n-1\t<unk>\n-99\t<s>\t-0.3\n-0.5\ta\t-0.2\n\n\\2-grams:\n-0.2\t<s> a\n\n\\end\\\n".to_vec());
    fuzz("arpa", &seeds, 24_000, 11, &mut |m, bytes, _| m.text(bytes), &|b| untrusted::arpa(b).is_ok());
}

/// The binary format's header fields, section table entries and section starts.
fn binary_structure(bytes: &[u8]) -> Structure {
    let mut s = Structure::default();
    for (at, width) in [(8, 4), (12, 4), (16, 4), (20, 4), (32, 8), (40, 4), (44, 4)] {
        s.fields.push((at, width));
    }
    let count = u32::from_le_bytes(bytes[44..48].try_into().unwrap()) as usize;
    for i in 0..count {
        let entry = 48 + 16 * i;
        s.fields.push((entry, 8));
        s.fields.push((entry + 8, 8));
        let offset = u64::from_le_bytes(bytes[entry..entry + 8].try_into().unwrap()) as usize;
        let len = u64::from_le_bytes(bytes[entry + 8..entry + 16].try_into().unwrap()) as usize;
        s.boundaries.extend([offset, offset + len / 2, offset + len]);
        // A few node fields inside each section (child bounds, token ids).
        for k in 0..4 {
            let at = offset + (len / 4 / 4) * 4 * k;
            if at + 4 <= offset + len {
                s.fields.push((at, 4));
            }
        }
    }
    s.boundaries.extend([0, 8, 24, 48]);
    s
}

#[test]
fn fuzz_ngram_binary_reader() {
    // Each model in both layouts, the compact one exact and quantized.
    let layouts = [BinaryLayout::Hashed, BinaryLayout::Compact(None), BinaryLayout::Compact(Some(Quantization { prob_bits: 8, backoff_bits: 6 }))];
    let seeds: Vec<Vec<u8>> = ngram_models().iter().flat_map(|m| layouts.map(|layout| write_binary_as(m, layout).unwrap())).collect();
    let structures: Vec<Structure> = seeds.iter().map(|b| binary_structure(b)).collect();
    fuzz(
        "ngram-binary",
        &seeds,
        36_000,
        12,
        &mut |m, bytes, which| {
            m.binary(bytes, &structures[which]);
            // Most mutants get a valid checksum (and length), so they reach the range checks.
            if bytes.len() >= 48 && m.below(4) != 0 {
                if m.below(2) == 0 {
                    let len = bytes.len() as u64;
                    bytes[32..40].copy_from_slice(&len.to_le_bytes());
                }
                let sum = checksum(bytes);
                bytes[24..32].copy_from_slice(&sum.to_le_bytes());
            }
        },
        &|b| untrusted::ngram_binary(b).is_ok(),
    );
}

/// A real run checkpoint from the built binary (tiny model, 2 steps).
fn run_checkpoint() -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("elman-fuzz-ckpt-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_elman"))
        .args(["train", "--device", "cpu", "--steps", "2", "--hidden", "6,5", "--embed", "4", "--batch", "2", "--seq-len", "8", "--out"])
        .arg(&dir)
        .output()
        .expect("elman runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(dir.join("model.safetensors")).expect("the run wrote a checkpoint");
    std::fs::remove_dir_all(&dir).ok();
    bytes
}

/// Mutates a safetensors file through its JSON header (tensors removed, duplicated,
/// retyped, reshaped; metadata's model config and vocabulary altered), its length field
/// or its bytes.
fn mutate_safetensors(m: &mut Mutator, bytes: &mut Vec<u8>) {
    if bytes.len() < 8 {
        m.text(bytes);
        return;
    }
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let Some(header) = bytes.get(8..8usize.saturating_add(header_len)).and_then(|h| serde_json::from_slice::<serde_json::Value>(h).ok()) else {
        m.binary(bytes, &Structure { boundaries: vec![0, 8], fields: vec![(0, 8)] });
        return;
    };
    let data = bytes[8 + header_len..].to_vec();
    let mut header = header;
    let choice = m.below(9);
    let map = header.as_object_mut().expect("a safetensors header is an object");
    let names: Vec<String> = map.keys().filter(|k| *k != "__metadata__").cloned().collect();
    let pick = names.get(m.below(names.len())).cloned().unwrap_or_default();
    match choice {
        0 => {
            map.remove(&pick);
        }
        1 => {
            if let Some(t) = map.get(&pick).cloned() {
                let other = names.get(m.below(names.len())).cloned().unwrap_or_default();
                map.insert(other, t.clone());
                map.insert(format!("{pick}.copy"), t);
            }
        }
        2 => {
            if let Some(t) = map.get_mut(&pick) {
                t["dtype"] = serde_json::json!(["F16", "I64", "BOOL", "U8", "X"][m.below(5)]);
            }
        }
        3 => {
            if let Some(t) = map.get_mut(&pick) {
                let big = [1u64 << 31, 1 << 32, 1 << 63, u64::MAX, 0][m.below(5)];
                t["shape"] = serde_json::json!([big, 2]);
            }
        }
        4 => {
            if let Some(t) = map.get_mut(&pick) {
                let big = [1u64 << 31, 1 << 32, 1 << 63, u64::MAX, 0][m.below(5)];
                t["data_offsets"] = serde_json::json!([0, big]);
            }
        }
        5 | 6 => {
            // The metadata: a number in the config, run settings or vocabulary inflated,
            // or the text mutated.
            if let Some(meta) = map.get_mut("__metadata__").and_then(|v| v.as_object_mut()) {
                let keys: Vec<String> = meta.keys().cloned().collect();
                let key = keys[m.below(keys.len())].clone();
                if let Some(text) = meta.get(&key).and_then(|v| v.as_str()) {
                    let mut t = text.as_bytes().to_vec();
                    m.text(&mut t);
                    meta.insert(key, serde_json::Value::String(String::from_utf8_lossy(&t).into_owned()));
                }
            }
        }
        7 => {
            let mut d = data.clone();
            m.binary(&mut d, &Structure::default());
            let mut out = bytes[..8 + header_len].to_vec();
            out.extend_from_slice(&d);
            *bytes = out;
            return;
        }
        _ => {
            let big = BIG_WORDS[m.below(BIG_WORDS.len())];
            bytes[..8].copy_from_slice(&big.to_le_bytes());
            return;
        }
    }
    let text = serde_json::to_vec(&header).expect("a JSON value serializes");
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&data);
    *bytes = out;
}

#[test]
fn fuzz_checkpoint_reader() {
    let seed = run_checkpoint();
    fuzz("checkpoint", &[seed], 24_000, 13, &mut |m, bytes, _| mutate_safetensors(m, bytes), &|b| untrusted::checkpoint(b).is_ok());
}

#[test]
fn fuzz_train_config_reader() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let mut seeds: Vec<Vec<u8>> = ["recipes/ptb.toml", "recipes/tinyshakespeare.toml"]
        .iter()
        .map(|p| std::fs::read(format!("{manifest}/{p}")).expect("the recipes are in the repository"))
        .collect();
    seeds.push(
        b"hidden = [128, 64]\nembed = 32\nbatch = 8\nseq-len = 16\nlr = 0.003\nclip = 1.0\nsteps = 100\nactivation = \"relu\"\n\
dropout = 0.1\ntokenizer = \"char\"\nseed = 7\noptimizer = \"adam\"\nschedule = \"step\"\nlr-decay = 0.5\n"
            .to_vec(),
    );
    fuzz("config-toml", &seeds, 20_000, 14, &mut |m, bytes, _| m.text(bytes), &|b| untrusted::train_config(b).is_ok());
}

#[test]
fn fuzz_training_text_readers() {
    let text = small_corpus().into_bytes();
    let mut binary_ish = text.clone();
    binary_ish.extend((0..=255u8).cycle().take(600));
    for (name, kind, seed) in [("text-char", TokenizerKind::Char, 15), ("text-byte", TokenizerKind::Byte, 16), ("text-word", TokenizerKind::Word, 17)] {
        let seeds = if kind == TokenizerKind::Byte { vec![text.clone(), binary_ish.clone()] } else { vec![text.clone()] };
        fuzz(name, &seeds, 20_000, seed, &mut |m, bytes, _| m.text(bytes), &|b| untrusted::training_text(b, kind).is_ok());
    }
    for (name, tokenizer, seed) in [("ngram-text-word", NgramTokenizer::Word, 18), ("ngram-text-char", NgramTokenizer::Char, 19)] {
        fuzz(name, std::slice::from_ref(&text), 20_000, seed, &mut |m, bytes, _| m.text(bytes), &|b| untrusted::ngram_text(b, tokenizer).is_ok());
    }
}

#[test]
fn fuzz_scoring_readers() {
    let nbest = b"utt1-1 -120.5 -30.25 the cat sat\nutt1-2 -121 -29 the cat sat on\nutt2-1 -3e1 -1.5\nutt2-2 -31 -2 a b c\n".to_vec();
    fuzz("nbest", &[nbest], 20_000, 20, &mut |m, bytes, _| m.text(bytes), &|b| untrusted::nbest(b).is_ok());
    let text = small_corpus().into_bytes();
    for (name, kind, seed) in [("scored-word", TokenizerKind::Word, 21), ("scored-char", TokenizerKind::Char, 22), ("scored-byte", TokenizerKind::Byte, 23)] {
        fuzz(name, std::slice::from_ref(&text), 20_000, seed, &mut |m, bytes, _| m.text(bytes), &|b| untrusted::scored_text(b, kind).is_ok());
    }
}
