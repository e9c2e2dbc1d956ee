//! Criterion bench for n-gram counting (all orders 1..5 from one corpus) and for the
//! whole KN estimation: on Penn Treebank train when `../shared/data/ptb` is present
//! (skipped with a printed reason otherwise), and always on a synthetic Zipf corpus of
//! 200k tokens made with the project's seeded RNG. Device: the CPU (both cores via rayon).

use criterion::{criterion_group, criterion_main, Criterion};
use elman::ngram::count_ngrams;
use elman::ngram::smoothing::{estimate, KneserNey};
use elman::ngram::tokenize::tokenize_training;
use elman::ngram::{TokenizeOptions, NgramTokenizer};
use elman::rng::Rng;
use std::hint::black_box;
use std::path::PathBuf;

const WORDS: TokenizeOptions = TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true };

fn synthetic_corpus() -> String {
    let mut rng = Rng::new(2024);
    let mut text = String::new();
    let mut tokens = 0;
    while tokens < 200_000 {
        let len = 5 + rng.below(20) as usize;
        for i in 0..len {
            let r = rng.next_f64();
            let id = (r * r * r * 5_000.0) as usize;
            text.push_str(if i == 0 { "" } else { " " });
            text.push_str(&format!("w{id}"));
        }
        text.push('\n');
        tokens += len;
    }
    text
}

fn bench_corpus(c: &mut Criterion, name: &str, text: &str) {
    let (vocab, corpus) = tokenize_training(text, WORDS);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.bench_function("tokenize", |b| b.iter(|| black_box(tokenize_training(black_box(text), WORDS))));
    group.bench_function("count orders 1-5", |b| {
        b.iter(|| black_box(count_ngrams(&corpus, vocab.len(), 5, true, None).unwrap()))
    });
    group.bench_function("count orders 1-5, spilling 8 MiB runs", |b| {
        b.iter(|| black_box(count_ngrams(&corpus, vocab.len(), 5, true, Some(8 << 20)).unwrap()))
    });
    group.bench_function("count + KN estimate, order 5", |b| {
        b.iter(|| {
            let counts = count_ngrams(&corpus, vocab.len(), 5, true, None).unwrap();
            black_box(estimate::<f32>(counts, vocab.clone(), NgramTokenizer::Word, &mut KneserNey::default(), None).unwrap())
        })
    });
    group.finish();
}

fn ngram_count(c: &mut Criterion) {
    let ptb = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ptb/ptb.train.txt");
    match std::fs::read_to_string(&ptb) {
        Ok(text) => bench_corpus(c, "ptb_train", &text),
        Err(e) => eprintln!("skipping the PTB bench: {} ({e})", ptb.display()),
    }
    bench_corpus(c, "synthetic_200k", &synthetic_corpus());
}

criterion_group!(benches, ngram_count);
criterion_main!(benches);
