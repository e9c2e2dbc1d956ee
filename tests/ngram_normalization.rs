//! Add-k and Kneser-Ney are proper distributions: for random seen and unseen contexts
//! of every length 0..N−1, Σ_w P(w | context) over the whole predicted vocabulary
//! (`</s>` and `<unk>` included) is 1 within 1e-9.

use elman::ngram::model::NgramModel;
use elman::ngram::vocab::BOS;
use elman::ngram::{train, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};
use elman::rng::Rng;

/// A random text over 60 words with a skewed (Zipf-like) choice, so that counts of 1, 2,
/// 3 and 4+ all occur at orders ≥ 2 and Kneser-Ney gets real (non-fallback) discounts
/// there; 60 types are too few for the unigram counts-of-counts, which fall back.
fn random_text(seed: u64, lines: usize) -> String {
    let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    for _ in 0..lines {
        let len = rng.below(9) as usize;
        let line: Vec<&str> = (0..len)
            .map(|_| {
                let r = rng.next_f64();
                words[((r * r * r) * words.len() as f64) as usize].as_str()
            })
            .collect();
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    text
}

fn total_probability(model: &NgramModel<f64>, context: &[u32]) -> f64 {
    model.predicted_ids().iter().map(|&w| 10f64.powf(model.log10_prob(context, w))).sum()
}

/// Contexts of every length: windows of the training ids (seen) and random id strings
/// (mostly unseen), `<s>` allowed only at the front as in real histories.
fn contexts(model: &NgramModel<f64>, rng: &mut Rng, text: &str) -> Vec<Vec<u32>> {
    let ids: Vec<u32> = text.split_whitespace().map(|w| model.vocab.id_or_unk(w)).collect();
    let predicted = model.predicted_ids();
    let mut out = Vec::new();
    for len in 0..model.order() {
        for _ in 0..25 {
            let start = rng.below((ids.len() - len) as u64) as usize;
            out.push(ids[start..start + len].to_vec());
            let mut random: Vec<u32> =
                (0..len).map(|_| predicted[rng.below(predicted.len() as u64) as usize]).collect();
            if len > 0 && model.info.markers && rng.below(2) == 0 {
                random[0] = BOS;
            }
            out.push(random);
        }
    }
    out
}

fn check(smoothing: Smoothing, k: f64, markers: bool) {
    let text = random_text(5, 400);
    let mut rng = Rng::new(99);
    for order in 1..=4 {
        let options = TrainOptions::new(order, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers }, smoothing).with_k(k);
        let trained = train::<f64>(&text, "random text", &options).unwrap();
        if smoothing == Smoothing::Kn {
            let fell_back = &trained.fallback_orders;
            assert!(fell_back.iter().all(|&n| n == 1), "order {order}: discounts fell back at {fell_back:?}");
        }
        let model = trained.model;
        for context in contexts(&model, &mut rng, &text) {
            let total = total_probability(&model, &context);
            assert!(
                (total - 1.0).abs() < 1e-9,
                "{smoothing:?} k={k} order {order} markers {markers}: Σ P(· | {context:?}) = {total}"
            );
        }
    }
}

#[test]
fn kneser_ney_sums_to_one_with_markers() {
    check(Smoothing::Kn, 0.0, true);
}

#[test]
fn kneser_ney_sums_to_one_without_markers() {
    check(Smoothing::Kn, 0.0, false);
}

#[test]
fn add_k_sums_to_one() {
    for k in [0.5, 1.0] {
        check(Smoothing::AddK, k, true);
        check(Smoothing::AddK, k, false);
    }
}

#[test]
fn laplace_unigrams_are_count_plus_one_over_n_plus_v() {
    let text = "a b a\nc a\n";
    let words = TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true };
    let options = TrainOptions::new(1, words, Smoothing::AddK).with_k(1.0);
    let model = train::<f64>(text, "tiny", &options).unwrap().model;
    // Tokens predicted: a b a </s> c a </s> → N = 7; V = {a, b, c, </s>, <unk>} = 5.
    let p = |w: &str| 10f64.powf(model.log10_prob(&[], model.vocab.get(w).unwrap()));
    assert!((p("a") - 4.0 / 12.0).abs() < 1e-12);
    assert!((p("</s>") - 3.0 / 12.0).abs() < 1e-12);
    assert!((p("<unk>") - 1.0 / 12.0).abs() < 1e-12);
}
