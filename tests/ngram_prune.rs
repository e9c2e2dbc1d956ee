//! Entropy-based pruning (`elman ngram prune`): threshold 0 changes nothing, a larger
//! threshold keeps fewer n-grams and scores worse, every context of a kept n-gram stays,
//! the pruned model is still a distribution (Σ_w P(w | h) = 1 after the back-offs are
//! recomputed), and the command reports and refuses as it should.

mod common;

use common::{elman_err, elman_ok, path_str, temp_path, write_temp};
use elman::ngram::arpa::write_arpa_file;
use elman::ngram::eval::evaluate;
use elman::ngram::key::SortedKeys;
use elman::ngram::model::NgramModel;
use elman::ngram::prune::prune_entropy;
use elman::ngram::vocab::BOS;
use elman::ngram::{train, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};
use elman::rng::Rng;

/// A seeded text over 150 words where a word often predicts the next.
fn text(seed: u64, lines: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    for _ in 0..lines {
        let mut word = rng.below(150);
        let len = 3 + rng.below(12);
        let mut line = Vec::new();
        for _ in 0..len {
            line.push(format!("w{word}"));
            word = if rng.below(3) == 0 { rng.below(150) } else { (word * 7 + 3) % 150 };
        }
        out.push_str(&line.join(" "));
        out.push('\n');
    }
    out
}

fn model(order: usize) -> NgramModel<f32> {
    let options = TrainOptions::new(order, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn);
    train::<f32>(&text(1, 2500), "train", &options).unwrap().model
}

#[test]
fn a_larger_threshold_prunes_more_and_scores_worse() {
    let full = model(4);
    // The training text: what the model fits, so every pruning loses on it (held-out text
    // may even gain, pruning being a kind of smoothing).
    let training = text(1, 2500);
    let (same, report) = prune_entropy(&full, 0.0).unwrap();
    assert_eq!(same, full, "threshold 0 prunes nothing");
    assert_eq!(report.before, report.after);
    let full_perplexity = evaluate(&full, &training).perplexity();
    let mut previous = (full.ngram_counts().iter().sum::<usize>(), full_perplexity);
    for threshold in [1e-6, 1e-5, 1e-4, 1e-3] {
        let (pruned, report) = prune_entropy(&full, threshold).unwrap();
        assert_eq!(report.after, pruned.ngram_counts());
        assert_eq!(report.after[0], report.before[0], "unigrams are never pruned");
        let size = report.after.iter().sum::<usize>();
        let perplexity = evaluate(&pruned, &training).perplexity();
        assert!(size < previous.0 && perplexity > previous.1, "θ {threshold}: {size} n-grams, training perplexity {perplexity}; before {previous:?}");
        previous = (size, perplexity);
    }
    assert!(previous.0 < full.ngram_counts().iter().sum::<usize>() / 2, "θ 1e-3 must prune at least half: {previous:?}");
}

#[test]
fn pruned_models_keep_contexts_and_sum_to_one() {
    let full = model(3);
    let (pruned, report) = prune_entropy(&full, 1e-4).unwrap();
    assert!(report.after[2] < report.before[2] / 2 && report.after[1] < report.before[1], "{report:?}");
    assert!(sums_to_one(&pruned) > 1000);
    // Pruning a pruned 4-gram again: suffixes are missing now (h's suffix h′ may not be
    // stored while a shorter one changes), and every context still sums to one.
    let (once, _) = prune_entropy(&model(4), 1e-5).unwrap();
    let (twice, report) = prune_entropy(&once, 1e-4).unwrap();
    assert!(report.after[3] < report.before[3] && report.after[2] < report.before[2], "{report:?}");
    assert!(sums_to_one(&twice) > 1000);
}

/// Checks every kept n-gram's context is kept and Σ_w P(w | h) = 1 for every stored
/// context h; returns how many contexts it checked.
fn sums_to_one(pruned: &NgramModel<f32>) -> usize {
    let layout = pruned.layout;
    // Every kept n-gram's context is a kept (n−1)-gram.
    for n in 2..=pruned.order() {
        for &key in &pruned.levels[n - 1].keys {
            assert!(pruned.levels[n - 2].find(layout.context(key, n)).is_some(), "a context of a kept {n}-gram was pruned");
        }
    }
    // Σ_w P(w | h) = 1 for every stored context, as it was before pruning.
    let predicted = pruned.predicted_ids();
    let mut ids = Vec::new();
    let mut checked = 0;
    for k in 1..pruned.order() {
        for &key in &pruned.levels[k - 1].keys {
            layout.unpack(key, k, &mut ids);
            if ids[1..].contains(&BOS) || (k == 1 && ids[0] == elman::ngram::vocab::EOS) {
                continue;
            }
            let sum: f64 = predicted.iter().map(|&w| 10f64.powf(pruned.score(&ids, w).log10)).sum();
            assert!((sum - 1.0).abs() < 2e-5, "context {ids:?}: Σ P = {sum}");
            checked += 1;
        }
    }
    checked
}

#[test]
fn the_prune_command_writes_reports_and_refuses() {
    let arpa = temp_path("prune-in.arpa");
    write_arpa_file(&model(3), &arpa).unwrap();
    let held_out = write_temp("prune-check.txt", &text(3, 100));
    let (out_arpa, out_bin) = (temp_path("pruned.arpa"), temp_path("pruned.bin"));
    let report = elman_ok(&["ngram", "prune", path_str(&arpa), path_str(&out_arpa), "--threshold", "1e-5", "--check", path_str(&held_out)]);
    assert!(report.contains("3-grams:") && report.contains("->") && report.contains("perplexity"), "{report}");
    elman_ok(&["ngram", "prune", path_str(&arpa), path_str(&out_bin), "--threshold", "1e-5", "--layout", "compact"]);
    let eval = |m: &std::path::Path| elman_ok(&["ngram", "eval", "--model", path_str(m), "--data", path_str(&held_out), "--json"]);
    assert_eq!(eval(&out_arpa), eval(&out_bin), "the ARPA and binary outputs are the same model");
    for (args, wanted) in [
        (vec!["ngram", "prune", path_str(&arpa), path_str(&out_arpa), "--threshold=-1"], "threshold"),
        (vec!["ngram", "prune", path_str(&out_bin), path_str(&out_arpa), "--threshold", "1e-5"], "binary model"),
    ] {
        let err = elman_err(&args);
        assert!(err.contains(wanted) && err.lines().count() == 1, "{args:?}: {err}");
    }
}

#[test]
fn count_pruning_and_vocabulary_limits_from_the_command_line() {
    let data = write_temp("count-prune.txt", &text(4, 1500));
    let vocab = write_temp("count-prune-vocab.txt", &(0..60).map(|i| format!("w{i}")).collect::<Vec<_>>().join("\n"));
    let (full, pruned, limited) = (temp_path("cp-full.arpa"), temp_path("cp-pruned.arpa"), temp_path("cp-limited.arpa"));
    elman_ok(&["ngram", "train", "--order", "3", "--data", path_str(&data), "--out", path_str(&full)]);
    elman_ok(&["ngram", "train", "--order", "3", "--data", path_str(&data), "--out", path_str(&pruned), "--prune", "0", "1"]);
    elman_ok(&["ngram", "train", "--order", "3", "--data", path_str(&data), "--out", path_str(&limited), "--limit-vocab", path_str(&vocab)]);
    let counts = |path: &std::path::Path| elman::ngram::arpa::read_arpa_file(path).unwrap().ngram_counts();
    let (all, fewer, limit) = (counts(&full), counts(&pruned), counts(&limited));
    assert!(fewer[0] == all[0] && fewer[1] < all[1] && fewer[2] < all[2], "{all:?} {fewer:?}");
    assert_eq!(limit[0], 60 + 3, "the 60 listed words and the three specials: {limit:?}");
    for (args, wanted) in [
        (vec!["--prune", "1", "1"], "must start with 0"),
        (vec!["--prune", "0", "2", "1"], "must not decrease"),
        (vec!["--prune", "0", "1", "1", "1"], "4 thresholds"),
        (vec!["--prune", "0", "1", "--smoothing", "mle"], "Kneser-Ney"),
        (vec!["--prune", "0", "1", "--memory", "64M"], "in-memory"),
    ] {
        let mut all_args = vec!["ngram", "train", "--order", "3", "--data", path_str(&data), "--out", path_str(&pruned)];
        all_args.extend(args.iter().copied());
        let err = elman_err(&all_args);
        assert!(err.contains(wanted) && err.lines().count() == 1, "{args:?}: {err}");
    }
}
