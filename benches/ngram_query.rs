//! Criterion bench for using an n-gram model: loading it (ARPA text parsed into memory,
//! or the binary format mapped and checked) and scoring a text with it, each format.
//! On the Penn Treebank 5-gram when `../shared/data/ptb` is present (skipped with a printed
//! reason otherwise), and always on a synthetic 4-gram from the project's seeded RNG.
//! Device: the CPU (the ARPA reader and eval use both cores via rayon).

use criterion::{criterion_group, criterion_main, Criterion};
use elman::ngram::arpa::{read_arpa_file, write_arpa_file};
use elman::ngram::binary::{write_binary_file, BinaryFile};
use elman::ngram::eval::evaluate;
use elman::ngram::{train, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};
use elman::rng::Rng;
use std::hint::black_box;
use std::path::PathBuf;

fn synthetic_text(seed: u64, tokens: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    let mut count = 0;
    while count < tokens {
        let len = 5 + rng.below(20) as usize;
        for i in 0..len {
            let r = rng.next_f64();
            text.push_str(if i == 0 { "" } else { " " });
            text.push_str(&format!("w{}", (r * r * r * 5_000.0) as usize));
        }
        text.push('\n');
        count += len;
    }
    text
}

fn bench_model(c: &mut Criterion, name: &str, order: usize, train_text: &str, test_text: &str) {
    let dir = std::env::temp_dir().join(format!("elman-bench-query-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    let (arpa, bin) = (dir.join(format!("{name}.arpa")), dir.join(format!("{name}.bin")));
    let options = TrainOptions::new(order, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn);
    let model = train::<f32>(train_text, name, &options).expect("the corpus trains").model;
    write_arpa_file(&model, &arpa).expect("the ARPA file is written");
    write_binary_file(&model, &bin).expect("the binary file is written");
    drop(model);
    let loaded = read_arpa_file(&arpa).expect("the ARPA file reads back");
    let mapped = BinaryFile::open(&bin).expect("the binary file opens");
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.bench_function("load ARPA", |b| b.iter(|| black_box(read_arpa_file(&arpa).unwrap())));
    group.bench_function("open binary (map + checksum + checks)", |b| b.iter(|| black_box(BinaryFile::open(&bin).unwrap())));
    group.bench_function("score test text, ARPA model in memory", |b| b.iter(|| black_box(evaluate(&loaded, test_text))));
    group.bench_function("score test text, binary model", |b| {
        let model = mapped.model().unwrap();
        b.iter(|| black_box(evaluate(&model, test_text)))
    });
    group.finish();
    std::fs::remove_dir_all(&dir).ok();
}

fn ngram_query(c: &mut Criterion) {
    let ptb = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ptb");
    match (std::fs::read_to_string(ptb.join("ptb.train.txt")), std::fs::read_to_string(ptb.join("ptb.test.txt"))) {
        (Ok(train), Ok(test)) => bench_model(c, "ptb_5gram", 5, &train, &test),
        (Err(e), _) | (_, Err(e)) => eprintln!("skipping the PTB bench: {} ({e})", ptb.display()),
    }
    bench_model(c, "synthetic_4gram", 4, &synthetic_text(7, 200_000), &synthetic_text(8, 20_000));
}

criterion_group!(benches, ngram_query);
criterion_main!(benches);
