//! Sampling by the back-off chain draws exactly the model's distribution: for contexts that
//! are matched in full, matched in part (back-off with exclusions) and not at all, the
//! frequencies of 200,000 seeded draws pass a chi-square test against the model's own
//! normalised probabilities — and the same test rejects a sampler that ignores the context.

use elman::ngram::arpa::{read_arpa, write_arpa};
use elman::ngram::lm::LanguageModel;
use elman::ngram::sample::BackoffSampler;
use elman::ngram::vocab::BOS;
use elman::ngram::{train, NgramModel, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};
use elman::rng::Rng;
use std::path::Path;

const DRAWS: usize = 200_000;

fn model() -> NgramModel<f32> {
    let mut rng = Rng::new(5);
    let mut text = String::new();
    for _ in 0..4000 {
        let mut prev = rng.below(60);
        for i in 0..2 + rng.below(10) {
            let id = if rng.next_f64() < 0.5 { (prev * 5 + 1) % 60 } else { (rng.next_f64().powi(2) * 60.0) as u64 };
            text.push_str(if i == 0 { "" } else { " " });
            text.push_str(&format!("w{id}"));
            prev = id;
        }
        text.push('\n');
    }
    let options = TrainOptions::new(3, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn);
    let trained = train::<f32>(&text, "t", &options).unwrap().model;
    let mut arpa = Vec::new();
    write_arpa(&trained, &mut arpa).unwrap();
    read_arpa(std::str::from_utf8(&arpa).unwrap(), Path::new("t.arpa")).unwrap()
}

/// Pearson's chi-square of `counts` against `probs` (bins with expected < 5 pooled), and
/// its critical value at α = 1e-4 (Wilson–Hilferty).
fn chi_square(counts: &[u64], probs: &[f64]) -> (f64, f64) {
    let total: u64 = counts.iter().sum();
    let (mut chi2, mut bins) = (0.0, 0usize);
    let (mut pooled_observed, mut pooled_expected) = (0.0, 0.0);
    for (&c, &p) in counts.iter().zip(probs) {
        let expected = p * total as f64;
        if expected < 5.0 {
            pooled_observed += c as f64;
            pooled_expected += expected;
        } else {
            chi2 += (c as f64 - expected).powi(2) / expected;
            bins += 1;
        }
    }
    if pooled_expected > 0.0 {
        chi2 += (pooled_observed - pooled_expected).powi(2) / pooled_expected.max(1e-9);
        bins += 1;
    }
    let df = (bins - 1) as f64;
    let z = 3.719; // the normal quantile for 1e-4
    let critical = df * (1.0 - 2.0 / (9.0 * df) + z * (2.0 / (9.0 * df)).sqrt()).powi(3);
    (chi2, critical)
}

/// The model's P(· | context) over every token but `<s>`, normalised.
fn distribution(model: &NgramModel<f32>, context: &[u32]) -> Vec<f64> {
    let mut p: Vec<f64> = (0..model.vocab.len() as u32).map(|w| if w == BOS { 0.0 } else { 10f64.powf(model.log10_prob(context, w)) }).collect();
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= total);
    p
}

#[test]
fn draws_follow_the_model_for_every_kind_of_context() {
    let model = model();
    let sampler = BackoffSampler::new(&model).unwrap();
    let id = |w: &str| model.vocab.get(w).unwrap();
    let unseen = model.vocab.len() as u32 - 1; // a rare word: its contexts back off
    let contexts: Vec<(&str, Vec<u32>)> = vec![
        ("sentence start", vec![BOS]),
        ("a frequent bigram context", vec![BOS, id("w1")]),
        ("a trigram context", vec![id("w1"), id("w6")]),
        ("a pair never seen together", vec![id("w59"), id("w2")]),
        ("a rare word", vec![unseen, unseen]),
        ("the empty context", vec![]),
    ];
    let mut rng = Rng::new(42);
    for (what, context) in &contexts {
        let mut counts = vec![0u64; model.vocab.len()];
        for _ in 0..DRAWS {
            counts[sampler.draw(context, &mut rng) as usize] += 1;
        }
        assert_eq!(counts[BOS as usize], 0, "{what}: <s> was drawn");
        let (chi2, critical) = chi_square(&counts, &distribution(&model, context));
        println!("{what}: chi-square {chi2:.1} (critical {critical:.1} at 1e-4)");
        assert!(chi2 < critical, "{what}: chi-square {chi2:.1} ≥ {critical:.1}");
    }
    // The test has power: draws that ignore the context are rejected.
    let mut counts = vec![0u64; model.vocab.len()];
    for _ in 0..DRAWS {
        counts[sampler.draw(&[], &mut rng) as usize] += 1;
    }
    let (chi2, critical) = chi_square(&counts, &distribution(&model, &contexts[2].1));
    assert!(chi2 > critical, "unigram draws passed as trigram draws: {chi2:.1} < {critical:.1}");
}

#[test]
fn the_binary_model_samples_the_same_tokens() {
    let model = model();
    let bytes = elman::ngram::binary::write_binary(&model).unwrap();
    let file = elman::ngram::binary::BinaryFile::from_bytes(&bytes, Path::new("t.bin")).unwrap();
    let binary = file.model().unwrap();
    let a = elman::ngram::sample::sample(&model, 3000, 9).unwrap();
    let b = elman::ngram::sample::sample(&binary, 3000, 9).unwrap();
    assert_eq!(a, b);
    assert_eq!(LanguageModel::order(&binary), 3);
}
