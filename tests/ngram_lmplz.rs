//! `ngram train` builds the model KenLM's `lmplz` builds, unpruned, with count pruning
//! (`--prune`) and with a limited vocabulary (`--limit-vocab`): the same n-grams, sampled
//! probabilities and back-offs within 1e-6 and every one of them summed per order,
//! against the digests in tests/data/lmplz made by
//! `make_lmplz_golden.py` there (a seeded corpus kept beside it, and PTB's training text
//! when ../shared/data is present).

use elman::ngram::arpa::write_arpa;
use elman::ngram::model::NgramModel;
use elman::ngram::{train, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};
use std::collections::BTreeMap;
use std::path::Path;

/// FNV-1a, 64 bits, as the script computes it.
fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in text.as_bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The model's n-grams as its ARPA text gives them: (order, "w1 w2") → (log10 p, back-off).
fn ngrams(model: &NgramModel<f32>) -> BTreeMap<(usize, String), (f64, f64)> {
    let mut text = Vec::new();
    write_arpa(model, &mut text).unwrap();
    let mut out = BTreeMap::new();
    let mut n = 0;
    for line in String::from_utf8(text).unwrap().lines() {
        if line.starts_with('\\') && line.ends_with("-grams:") {
            n = line[1..line.find('-').unwrap()].parse().unwrap();
        } else if n > 0 && !line.is_empty() && !line.starts_with('\\') {
            let fields: Vec<&str> = line.split('\t').collect();
            let backoff = fields.get(2).map_or(0.0, |b| b.parse().unwrap());
            out.insert((n, fields[1].to_string()), (fields[0].parse().unwrap(), backoff));
        }
    }
    out
}

/// The `k` most frequent words of `text` (ties by spelling), as the script picks them.
fn frequent(text: &str, k: usize) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_default() += 1;
    }
    let mut words: Vec<(&str, usize)> = counts.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    words.into_iter().take(k).map(|(w, _)| w.to_string()).collect()
}

/// Trains each configuration of `cases` on `text` and compares it with lmplz's digest.
fn check(text: &str, cases: &serde_json::Value, name: &str) -> usize {
    let mut compared = 0;
    for case in cases.as_array().unwrap() {
        let order = case["order"].as_u64().unwrap() as usize;
        let prune: Vec<u64> = case["prune"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap()).collect();
        let limit = case["limit_vocab_top"].as_u64().map(|k| frequent(text, k as usize));
        let label = format!("{name}: order {order}, prune {prune:?}, vocabulary {:?}", case["limit_vocab_top"]);
        let options = TrainOptions::new(order, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn)
            .with_prune(prune)
            .with_limit_vocab(limit);
        let model = train::<f32>(text, name, &options).unwrap().model;
        let got = ngrams(&model);
        let counts: Vec<u64> = (1..=order).map(|n| got.keys().filter(|k| k.0 == n).count() as u64).collect();
        let wanted: Vec<u64> = case["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
        assert_eq!(counts, wanted, "{label}: n-grams per order");
        let listing: Vec<String> = got.keys().map(|(n, g)| format!("{n}\t{g}")).collect();
        assert_eq!(fnv(&listing.join("\n")), case["fnv"].as_str().unwrap(), "{label}: the n-gram sets differ");
        // Every value, summed per order (a few lmplz rounds the last printed digit of).
        for (kind, sums) in ["log10 p", "back-off"].iter().zip(case["sums"].as_array().unwrap()) {
            for (n, want) in (1..=order).zip(sums.as_array().unwrap()) {
                let values = got.iter().filter(|(k, _)| k.0 == n && k.1 != "<s>").map(|(_, v)| if *kind == "log10 p" { v.0 } else { v.1 });
                let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
                let want = want.as_f64().unwrap();
                assert!((sum - want).abs() <= 1e-3 + 1e-7 * count as f64, "{label}: Σ {kind} of order {n} is {sum}, lmplz's {want}");
            }
        }
        for sample in case["samples"].as_array().unwrap() {
            let key = (sample[0].as_u64().unwrap() as usize, sample[1].as_str().unwrap().to_string());
            let (prob, backoff) = got[&key];
            let (want_prob, want_backoff) = (sample[2].as_f64().unwrap(), sample[3].as_f64().unwrap());
            assert!((prob - want_prob).abs() <= 1e-6, "{label}: {key:?} log10 p {prob} vs lmplz {want_prob}");
            assert!((backoff - want_backoff).abs() <= 1e-6, "{label}: {key:?} back-off {backoff} vs lmplz {want_backoff}");
            compared += 1;
        }
    }
    compared
}

fn golden() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lmplz/lmplz_golden.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn models_equal_lmplz_on_the_seeded_corpus() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lmplz/corpus.txt")).unwrap();
    let compared = check(&text, &golden()["corpus"], "corpus.txt");
    assert!(compared > 500, "{compared} values compared");
}

#[test]
fn models_equal_lmplz_on_ptb() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ptb/ptb.train.txt");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipped: {} is absent", path.display());
        return;
    };
    let compared = check(&text.replace("<unk>", "UNKWORD"), &golden()["ptb"], "PTB");
    assert!(compared > 500, "{compared} values compared");
}
