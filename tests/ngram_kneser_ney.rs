//! Interpolated modified Kneser-Ney against values worked out by hand.
//!
//! NgramCorpus (order 3, with markers):
//!
//! ```text
//! <s> a b </s>
//! <s> a b </s>
//! <s> b a </s>
//! ```
//!
//! Counts. Trigrams (raw): <s> a b 2, a b </s> 2, <s> b a 1, b a </s> 1. Counts-of-counts
//! t1 = 2, t2 = 2, t3 = 0, so D falls back to (0.5, 1, 1.5) — as for the bigrams
//! (t1 = 5, t2 = 1, t3 = 0) and unigrams (t1 = 0).
//! Bigrams (adjusted): <s> a 2 and <s> b 1 keep raw counts (they start with <s>); the
//! others count distinct left neighbours: a b 1 ({<s>}), b </s> 1 ({a}), b a 1 ({<s>}),
//! a </s> 1 ({b}). Unigrams (adjusted): a 2 ({<s>, b}), b 2 ({a, <s>}), </s> 2 ({b, a}),
//! <unk> 0, <s> 0 (never predicted). |V| = |{a, b, </s>, <unk>}| = 4.
//!
//! Unigrams: Σa = 6; α = (2 − 1)/6 = 1/6 for a, b, </s>; γ = D2·3/6 = 1/2;
//!   p(a) = p(b) = p(</s>) = 1/6 + (1/2)(1/4) = 7/24;  p(<unk>) = 1/8.
//! Bigrams, context <s>: Σa = 3, α(a) = (2 − 1)/3, α(b) = (1 − 0.5)/3,
//!   γ(<s>) = (0.5·1 + 1·1)/3 = 1/2;  p(a | <s>) = 1/3 + 7/48 = 23/48,
//!   p(b | <s>) = 1/6 + 7/48 = 15/48,  p(</s> | <s>) (unseen) = 7/48.
//! Context a: a b 1, a </s> 1: Σa = 2, α = 0.5/2 = 1/4, γ(a) = 0.5·2/2 = 1/2;
//!   p(b | a) = p(</s> | a) = 1/4 + 7/48 = 19/48. Context b likewise: p(a | b) = 19/48.
//! Trigrams, context <s> a: b 2: Σ = 2, α = (2 − 1)/2 = 1/2, γ = 1·1/2 = 1/2;
//!   p(b | <s> a) = 1/2 + (1/2)(19/48) = 67/96;  p(</s> | <s> a) (unseen) = 19/96.
//! Context <s> b: a 1: α = 0.5, γ = 0.5;  p(a | <s> b) = 1/2 + 19/96 = 67/96.

use elman::ngram::key::SortedKeys;
use elman::ngram::model::NgramModel;
use elman::ngram::smoothing::KneserNey;
use elman::ngram::{train, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};

fn model() -> NgramModel<f64> {
    let options = TrainOptions::new(3, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn);
    let trained = train::<f64>("a b\na b\nb a\n", "tiny", &options).unwrap();
    assert_eq!(trained.fallback_orders, vec![1, 2, 3]);
    trained.model
}

fn p(model: &NgramModel<f64>, context: &[&str], word: &str) -> f64 {
    let ctx: Vec<u32> = context.iter().map(|w| model.vocab.get(w).unwrap()).collect();
    10f64.powf(model.log10_prob(&ctx, model.vocab.get(word).unwrap()))
}

#[test]
fn tiny_trigram_model_matches_hand_computation() {
    let m = model();
    let cases: [(&[&str], &str, f64); 12] = [
        (&[], "a", 7.0 / 24.0),
        (&[], "</s>", 7.0 / 24.0),
        (&[], "<unk>", 1.0 / 8.0),
        (&["<s>"], "a", 23.0 / 48.0),
        (&["<s>"], "b", 15.0 / 48.0),
        (&["<s>"], "</s>", 7.0 / 48.0),
        (&["a"], "b", 19.0 / 48.0),
        (&["b"], "a", 19.0 / 48.0),
        (&["<s>", "a"], "b", 67.0 / 96.0),
        (&["<s>", "a"], "</s>", 19.0 / 96.0),
        (&["<s>", "b"], "a", 67.0 / 96.0),
        (&["a", "b"], "</s>", 67.0 / 96.0),
    ];
    for (context, word, want) in cases {
        let got = p(&m, context, word);
        assert!((got - want).abs() < 1e-12, "P({word} | {context:?}) = {got}, by hand {want}");
    }
    // <s> is never predicted: KenLM writes its probability as -99 (log10 0).
    assert_eq!(p(&m, &[], "<s>"), 0.0);
}

#[test]
fn back_off_weights_are_the_gammas() {
    let m = model();
    let layout = m.layout;
    let backoff = |context: &[&str]| {
        let ids: Vec<u32> = context.iter().map(|w| m.vocab.get(w).unwrap()).collect();
        let level = &m.levels[ids.len() - 1];
        10f64.powf(level.log10_backoff[level.find(layout.pack(&ids)).unwrap()])
    };
    assert!((backoff(&["<s>"]) - 0.5).abs() < 1e-12);
    assert!((backoff(&["a"]) - 0.5).abs() < 1e-12);
    assert!((backoff(&["<s>", "a"]) - 0.5).abs() < 1e-12);
}

#[test]
fn discounts_follow_chen_and_goodman() {
    // t = (t1, t2, t3, t4) = (10, 5, 3, 2): Y = 10 / (10 + 2·5) = 1/2,
    // D1 = 1 − 2·Y·5/10 = 1/2, D2 = 2 − 3·Y·3/5 = 1.1, D3+ = 3 − 4·Y·2/3 = 5/3.
    let d = KneserNey::discounts_from_counts_of_counts([0, 10, 5, 3, 2]).unwrap();
    for (got, want) in d[1..].iter().zip([0.5, 1.1, 5.0 / 3.0]) {
        assert!((got - want).abs() < 1e-12, "{d:?}");
    }
    assert!(KneserNey::discounts_from_counts_of_counts([0, 0, 5, 3, 2]).is_none());
    // t = (1, 1, 10, 1): Y = 1/3, D2 = 2 − 3·(1/3)·10/1 = −8 is out of range.
    assert!(KneserNey::discounts_from_counts_of_counts([0, 1, 1, 10, 1]).is_none());
}
