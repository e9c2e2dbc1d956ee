//! The worked examples of docs/ngram.md, exactly: MLE with no sentence markers, punctuation
//! stripped from the example text ("Dean. Hello," → "Dean Hello"), case kept.

mod common;

use common::{elman_ok, write_temp};
use elman::ngram::count::NgramCounts;
use elman::ngram::fraction::mle_fraction;
use elman::ngram::tokenize::tokenize_training;
use elman::ngram::vocab::NgramVocab;
use elman::ngram::{count_ngrams, train, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};

const ONE: &str = "Hi my name is Jeffrey Dean";
const TWO: &str = "Hi my name is Jeffrey Dean Hello my name is Blanca";
const RAW: TokenizeOptions = TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: false };

fn counts(text: &str, order: usize) -> (NgramVocab, NgramCounts) {
    let (vocab, corpus) = tokenize_training(text, RAW);
    let counts = count_ngrams(&corpus, vocab.len(), order, false, None).unwrap();
    (vocab, counts)
}

/// (numerator, denominator) of P(word | context) under MLE.
fn fraction(text: &str, order: usize, context: &[&str], word: &str) -> (u64, u64) {
    let (vocab, counts) = counts(text, order);
    let ctx: Vec<u32> = context.iter().map(|w| vocab.get(w).unwrap()).collect();
    let f = mle_fraction(&counts, &ctx, vocab.get(word).unwrap()).unwrap();
    assert_eq!(f.context, ctx, "the full context is used");
    (f.numerator, f.denominator)
}

#[test]
fn seed_fractions_through_the_library() {
    assert_eq!(fraction(ONE, 1, &[], "Jeffrey"), (1, 6));
    assert_eq!(fraction(ONE, 2, &["is"], "Jeffrey"), (1, 1));
    assert_eq!(fraction(ONE, 2, &["name"], "Jeffrey"), (0, 1));
    assert_eq!(fraction(TWO, 2, &["is"], "Jeffrey"), (1, 2));
    assert_eq!(fraction(TWO, 3, &["name", "is"], "Jeffrey"), (1, 2));
}

#[test]
fn seed_probabilities_from_an_mle_model() {
    let cases: [(&str, usize, &[&str], f64); 5] = [
        (ONE, 1, &[], 1.0 / 6.0),
        (ONE, 2, &["is"], 1.0),
        (ONE, 2, &["name"], 0.0),
        (TWO, 2, &["is"], 0.5),
        (TWO, 3, &["name", "is"], 0.5),
    ];
    for (text, order, context, want) in cases {
        let options = TrainOptions::new(order, RAW, Smoothing::Mle);
        let model = train::<f64>(text, "seed", &options).unwrap().model;
        let ctx: Vec<u32> = context.iter().map(|w| model.vocab.get(w).unwrap()).collect();
        let p = 10f64.powf(model.log10_prob(&ctx, model.vocab.get("Jeffrey").unwrap()));
        assert!((p - want).abs() < 1e-12, "order {order} context {context:?}: {p} vs {want}");
    }
}

#[test]
fn seed_fractions_through_the_cli() {
    let one = write_temp("seed-one.txt", &format!("{ONE}\n"));
    let two = write_temp("seed-two.txt", &format!("{TWO}\n"));
    let prob = |path: &std::path::Path, order: &str, context: &str| {
        let p = path.to_str().unwrap();
        elman_ok(&["ngram", "prob", "Jeffrey", "--context", context, "--data", p, "--order", order, "--no-markers"])
    };
    assert_eq!(prob(&one, "1", "").trim(), "P(Jeffrey) = 1/6 = 0.16666666666666666");
    assert_eq!(prob(&one, "2", "is").trim(), "P(Jeffrey | is) = 1/1 = 1");
    assert_eq!(prob(&one, "2", "name").trim(), "P(Jeffrey | name) = 0/1 = 0");
    assert_eq!(prob(&two, "2", "is").trim(), "P(Jeffrey | is) = 1/2 = 0.5");
    assert_eq!(prob(&two, "3", "name is").trim(), "P(Jeffrey | name is) = 1/2 = 0.5");
}
