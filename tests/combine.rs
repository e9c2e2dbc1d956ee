//! Using the models together (src/combine/): per-token RNN scores against an independent
//! f64 forward pass, the interpolation's end points (λ = 1 is the RNN, λ = 0 the n-gram,
//! both exactly), the mixed distribution summing to 1 over the RNN's outcomes (the cache
//! and an n-gram with words the RNN lacks included), dynamic evaluation (η = 0 is plain
//! evaluation bit for bit; a chunk is scored before it is learned from), the refusals, the
//! CLI (`query` totals equal `eval`'s; `rescore` reranks) and CPU-vs-GPU parity.

mod common;

use common::{elman, elman_ok, fresh_dir, gpu, path_str, assert_one_line_error};
use elman::combine::cache::NeuralCache;
use elman::combine::mixture::Bridge;
use elman::combine::text::Text;
use elman::combine::{score, NgramMix, Rnn, Settings, TokenScores};
use elman::ngram::lm::LanguageModel;
use elman::ngram::query::LineScorer;
use elman::ngram::{train, NgramModel, NgramTokenizer, Smoothing, TokenizeOptions, TrainOptions};
use elman::rnn::data::vocab::{TokenizerKind, Vocab};
use elman::rnn::model::checkpoint::Checkpoint;
use elman::rnn::model::init::init_params;
use elman::rnn::model::{Activation, ModelConfig, Params};
use std::collections::BTreeMap;

const TRAIN: &str = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\nthe cat ran\n\nthe dog ran to the cat\n";
const TEST: &str = "the cat sat on a log\na bird ran to the mat\n\nthe dog and the cat sat on the mat and ran\nthe cat\n";

fn vocab() -> Vocab {
    Vocab::build(TokenizerKind::Word, &[TRAIN.as_bytes()], None).unwrap()
}

/// A random two-layer tanh RNN over `vocab`, its weights scaled up so that its
/// distributions are far from uniform.
fn rnn_params(vocab: &Vocab, tied: bool) -> (ModelConfig, Params<f32>) {
    let config = ModelConfig { vocab: vocab.len(), embed: 6, hidden: vec![7, 6], activation: Activation::Tanh, tied, cell: Default::default() };
    let mut params: Params<f32> = init_params(&config, 11);
    params.as_flat_mut().iter_mut().for_each(|x| *x *= 3.0);
    if tied {
        params.tie_output();
    }
    (config, params)
}

fn kn3(text: &str) -> NgramModel<f32> {
    let options = TrainOptions::new(3, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn);
    train::<f32>(text, "train", &options).unwrap().model
}

fn settings(seq_len: usize) -> Settings {
    Settings { seq_len, sentences: None, cache: None, dynamic_lr: None }
}

fn cpu<'a>(config: &'a ModelConfig, params: &'a Params<f32>) -> Rnn<'a> {
    Rnn { config, params, gpu: None }
}

/// ln p of every target of `ids` (the stream, from a zero state) in f64, from the
/// definitions: H^l_t = tanh(H^{l−1}_t W_xh + H^l_{t−1} W_hh + b), softmax(H^L_t W_q + b_q).
fn reference_ln_probs(config: &ModelConfig, params: &Params<f32>, ids: &[u32]) -> Vec<f64> {
    let p: Params<f64> = params.cast();
    let v = config.vocab;
    let mut state: Vec<Vec<f64>> = config.hidden.iter().map(|&h| vec![0.0; h]).collect();
    let mut out = Vec::new();
    for t in 0..ids.len() - 1 {
        let mut x: Vec<f64> = p.embedding()[ids[t] as usize * config.embed..][..config.embed].to_vec();
        for (l, &h) in config.hidden.iter().enumerate() {
            let (w_xh, w_hh, b) = (p.w_xh(l), p.w_hh(l), p.b_h(l));
            let next: Vec<f64> = (0..h)
                .map(|j| {
                    let z = b[j] + (0..x.len()).map(|i| x[i] * w_xh[i * h + j]).sum::<f64>() + (0..h).map(|i| state[l][i] * w_hh[i * h + j]).sum::<f64>();
                    z.tanh()
                })
                .collect();
            state[l] = next.clone();
            x = next;
        }
        let logits: Vec<f64> = (0..v).map(|k| p.out_b()[k] + (0..x.len()).map(|i| x[i] * p.out_w()[i * v + k]).sum::<f64>()).collect();
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = logits.iter().map(|z| (z - max).exp()).sum::<f64>().ln() + max;
        out.push(logits[ids[t + 1] as usize] - log_sum);
    }
    out
}

fn ln(log10s: &[f64]) -> Vec<f64> {
    log10s.iter().map(|x| x * std::f64::consts::LN_10).collect()
}

fn assert_close(label: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{label}: lengths");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{label}: token {k}: {g} vs {w}");
    }
}

#[test]
fn rnn_token_scores_match_an_independent_f64_forward() {
    let vocab = vocab();
    for tied in [false, true] {
        let (config, params) = rnn_params(&vocab, tied);
        let text = Text::new(&vocab, TEST.as_bytes()).unwrap();
        // The stream, in chunks of 4 with the state carried.
        let got = score(&cpu(&config, &params), &text, &settings(4), None).unwrap();
        let want = reference_ln_probs(&config, &params, &text.stream_ids());
        assert_close("stream", &ln(&got.rnn), &want, 1e-5);
        assert_eq!(got.mixed, got.rnn);
        // Sentences, 2 per batch, chunks of 3: each line from a zero state after <eos>.
        let sentences = Settings { sentences: Some(2), ..settings(3) };
        let got = score(&cpu(&config, &params), &text, &sentences, None).unwrap();
        let eos = vocab.id("<eos>").unwrap();
        let want: Vec<f64> = text.lines.iter().flat_map(|l| reference_ln_probs(&config, &params, &[&[eos][..], &l.ids].concat())).collect();
        assert_close("sentences", &ln(&got.rnn), &want, 1e-5);
    }
}

#[test]
fn lambda_one_is_the_rnn_and_lambda_zero_the_ngram_exactly() {
    let vocab = vocab();
    let (config, params) = rnn_params(&vocab, false);
    let ngram = kn3(TRAIN);
    let bridge = Bridge::new(&vocab, &ngram).unwrap();
    assert_eq!(bridge.folded_words(), 0);
    let text = Text::new(&vocab, TEST.as_bytes()).unwrap();
    let rnn = cpu(&config, &params);
    let alone = score(&rnn, &text, &settings(5), None).unwrap();
    let mix = |lambda| score(&rnn, &text, &settings(5), Some(&NgramMix { model: &ngram, bridge: &bridge, lambda })).unwrap();
    assert_eq!(mix(1.0).mixed, alone.rnn);
    // The n-gram model's own scores, line by line with markers, as `ngram query` gives them.
    let mut scorer = LineScorer::new(&ngram);
    let mut want = Vec::new();
    let mut line_scores = Vec::new();
    for line in TEST.lines() {
        scorer.score_line(line, &mut line_scores);
        want.extend(line_scores.iter().map(|s| s.score.log10));
    }
    assert_eq!(mix(0.0).mixed, want);
    let half = mix(0.5);
    for (k, &ngram_k) in want.iter().enumerate() {
        let p = 0.5 * 10f64.powf(alone.rnn[k]) + 0.5 * 10f64.powf(ngram_k);
        assert!((10f64.powf(half.mixed[k]) - p).abs() < 1e-12 * p.max(1e-300) + 1e-15, "token {k}");
    }
}

/// Σ over every RNN outcome w of p(w) at the last line's third position, each outcome
/// put there in turn and scored through the whole pipeline.
fn total_probability(rnn: &Rnn, vocab: &Vocab, settings: &Settings, mix: Option<&NgramMix>) -> f64 {
    let prefix = "the cat sat on the mat\na dog ran\nthe cat and the dog sat on the log\n";
    let mut total = 0.0;
    for symbol in &vocab.symbols {
        let last = match symbol.as_str() {
            "<eos>" => "the cat\n".to_string(),
            "<unk>" => "the cat zebra\n".to_string(), // a word neither model has
            word => format!("the cat {word}\n"),
        };
        let text = Text::new(vocab, format!("{prefix}{last}").as_bytes()).unwrap();
        let scores: TokenScores = score(rnn, &text, settings, mix).unwrap();
        let k = scores.places.iter().position(|p| p.line == 3 && p.index == 2).unwrap();
        assert_eq!(text.lines[3].ids[2], vocab.id(symbol).unwrap(), "{symbol} is the outcome");
        total += 10f64.powf(scores.mixed[k]);
    }
    total
}

#[test]
fn the_mixture_sums_to_one_over_the_rnn_outcomes() {
    let vocab = vocab();
    let (config, params) = rnn_params(&vocab, false);
    let rnn = cpu(&config, &params);
    // The n-gram model knows words the RNN does not ("bird", "fish"): they are folded
    // into the RNN's <unk>.
    let ngram = kn3(&format!("{TRAIN}a bird and a fish\nthe bird sat on the cat\n"));
    let bridge = Bridge::new(&vocab, &ngram).unwrap();
    assert_eq!(bridge.folded_words(), 2);
    let cache = Some(NeuralCache { size: 12, theta: 0.8, lambda: 0.3 });
    for (name, s) in [
        ("stream", settings(4)),
        ("stream + cache", Settings { cache, ..settings(4) }),
        ("sentences", Settings { sentences: Some(3), ..settings(4) }),
        ("stream + cache + dynamic", Settings { cache, dynamic_lr: Some(0.5), ..settings(4) }),
    ] {
        for lambda in [1.0, 0.6, 0.0] {
            let mix = NgramMix { model: &ngram, bridge: &bridge, lambda };
            let total = total_probability(&rnn, &vocab, &s, Some(&mix));
            assert!((total - 1.0).abs() < 1e-5, "{name}, λ = {lambda}: Σ p = {total}");
        }
    }
}

#[test]
fn dynamic_evaluation_scores_each_chunk_before_learning_from_it() {
    let vocab = vocab();
    let (config, params) = rnn_params(&vocab, true);
    let text = Text::new(&vocab, TEST.as_bytes()).unwrap();
    let rnn = cpu(&config, &params);
    let plain = score(&rnn, &text, &settings(4), None).unwrap();
    let still = score(&rnn, &text, &Settings { dynamic_lr: Some(0.0), ..settings(4) }, None).unwrap();
    assert_eq!(still.mixed, plain.mixed, "η = 0 is plain evaluation, bit for bit");
    let moving = score(&rnn, &text, &Settings { dynamic_lr: Some(0.5), ..settings(4) }, None).unwrap();
    assert_eq!(moving.mixed[..4], plain.mixed[..4], "the first chunk is scored before any step");
    assert!(moving.mixed[4..].iter().zip(&plain.mixed[4..]).any(|(a, b)| a != b), "later chunks see the adapted weights");
    let again = score(&rnn, &text, &Settings { dynamic_lr: Some(0.5), ..settings(4) }, None).unwrap();
    assert_eq!(again.mixed, moving.mixed, "deterministic");
}

#[test]
fn models_that_cannot_be_mixed_are_refused_with_the_reason() {
    let words = vocab();
    let chars = Vocab::build(TokenizerKind::Char, &[TRAIN.as_bytes()], None).unwrap();
    let ngram = kn3(TRAIN);
    let why = |v: &Vocab, m: &dyn LanguageModel| Bridge::new(v, m).err().expect("refused").to_string();
    assert!(why(&chars, &ngram).contains("the RNN is char-level"), "{}", why(&chars, &ngram));
    let small = kn3("the cat sat\n");
    let e = why(&words, &small);
    assert!(e.contains("of the RNN's words") && e.contains("not in the n-gram model"), "{e}");
    let options = TrainOptions::new(3, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: false }, Smoothing::Kn);
    let no_markers = train::<f32>(TRAIN, "train", &options).unwrap().model;
    assert!(why(&words, &no_markers).contains("without sentence markers"));
    let char_ngram = train::<f32>(TRAIN, "train", &TrainOptions::new(3, TokenizeOptions { tokenizer: NgramTokenizer::Char, markers: true }, Smoothing::Kn)).unwrap().model;
    assert!(why(&words, &char_ngram).contains("char-level"));
}

/// A checkpoint of the random model, with its vocabulary, for the CLI.
fn checkpoint(dir: &std::path::Path, vocab: Vocab) -> std::path::PathBuf {
    let (config, params) = rnn_params(&vocab, false);
    let path = dir.join("rnn.safetensors");
    let ckpt = Checkpoint { config, vocab: Some(vocab), params, optimizer: None, hidden: None, extra: BTreeMap::new() };
    ckpt.save(&path).unwrap();
    path
}

#[test]
fn query_totals_equal_eval_and_bad_flags_get_one_line() {
    let dir = fresh_dir("combine-cli");
    let ck = checkpoint(&dir, vocab());
    let (ck, test, train_txt) = (path_str(&ck).to_string(), dir.join("test.txt"), dir.join("train.txt"));
    std::fs::write(&test, TEST).unwrap();
    std::fs::write(&train_txt, TRAIN).unwrap();
    let arpa = dir.join("kn3.arpa");
    elman_ok(&["ngram", "train", "--order", "3", "--tokenizer", "word", "--data", path_str(&train_txt), "--out", path_str(&arpa)]);
    let test = path_str(&test);
    for extra in [&[][..], &["--sentences"][..], &["--ngram", path_str(&arpa), "--lambda", "0.7", "--cache-size", "5"][..], &["--dynamic-lr", "0.2", "--seq-len", "3"][..]] {
        let mut args = vec!["query", "--ckpt", &ck, "--data", test, "--json", "--device", "cpu"];
        args.extend_from_slice(extra);
        let out = elman_ok(&args);
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let (tokens, summary) = lines.split_at(lines.len() - 1);
        let summary = &summary[0]["summary"];
        let sum: f64 = tokens.iter().map(|t| t["log10_prob"].as_f64().unwrap()).sum();
        assert_eq!(tokens.len() as u64, summary["tokens"].as_u64().unwrap());
        assert!((sum - summary["log10_total"].as_f64().unwrap()).abs() < 1e-9);
        assert!(tokens.iter().all(|t| t["token"].is_string()));
        args[0] = "eval";
        let eval: serde_json::Value = serde_json::from_str(elman_ok(&args).trim()).unwrap();
        assert_eq!(eval["perplexity"], summary["perplexity"], "{extra:?}");
    }
    // The text form: one line of `token=id log10` per text line, then the totals.
    let text = elman_ok(&["query", "--ckpt", &ck, "--data", test, "--device", "cpu"]);
    assert_eq!(text.lines().filter(|l| l.contains("Total:")).count(), TEST.lines().count());
    assert!(text.starts_with("the="), "{text}");

    for (args, needle) in [
        (vec!["--lambda", "0.5"], "give one with --ngram"),
        (vec!["--ngram", path_str(&arpa)], "--ngram needs --lambda"),
        (vec!["--ngram", path_str(&arpa), "--lambda", "1.5"], "--lambda must be a number from 0 to 1"),
        (vec!["--ngram", path_str(&arpa), "--lambda", "auto"], "--tune-on"),
        (vec!["--sentences", "--cache-size", "10"], "use one or the other"),
        (vec!["--dynamic-lr=-1"], "--dynamic-lr"),
        (vec!["--ngram", "/nonexistent.arpa", "--lambda", "0.5"], "nonexistent.arpa"),
    ] {
        let mut all = vec!["eval", "--ckpt", &ck, "--data", test, "--device", "cpu"];
        all.extend_from_slice(&args);
        assert_one_line_error(&elman(&all), needle);
    }
    // λ fitted on held-out text is printed and used.
    let out = elman(&["eval", "--ckpt", &ck, "--data", test, "--device", "cpu", "--ngram", path_str(&arpa), "--tune-on", path_str(&train_txt), "--json"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("fitted by EM"));
    let lambda = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["lambda"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&lambda));
    // A char-level RNN cannot be mixed with a word n-gram model.
    let char_ck = {
        let d = fresh_dir("combine-cli-char");
        checkpoint(&d, Vocab::build(TokenizerKind::Char, &[TRAIN.as_bytes()], None).unwrap())
    };
    assert_one_line_error(&elman(&["eval", "--ckpt", path_str(&char_ck), "--data", test, "--device", "cpu", "--ngram", path_str(&arpa), "--lambda", "0.5"]), "the RNN is char-level");
}

#[test]
fn rescore_reranks_nbest_lists_by_the_weighted_sum() {
    let dir = fresh_dir("combine-rescore");
    let vocab = vocab();
    let ck = checkpoint(&dir, vocab.clone());
    let nbest = dir.join("nbest.txt");
    // Kaldi numbering; equal acoustic scores, so the LM decides.
    std::fs::write(&nbest, "u1-1 -100 -9 the cat sat on the mat\nu1-2 -100 -9 mat the on sat cat the\nu2-1 -5 -1 a dog\n").unwrap();
    let out = elman_ok(&["rescore", "--nbest", path_str(&nbest), "--ckpt", path_str(&ck), "--device", "cpu", "--lm-weight", "2"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    // The new LM scores are the sentences' log10 totals, as `query --sentences` gives them.
    let query = |words: &str| -> f64 {
        let f = dir.join("one.txt");
        std::fs::write(&f, format!("{words}\n")).unwrap();
        let out = elman_ok(&["query", "--ckpt", path_str(&ck), "--data", path_str(&f), "--sentences", "--json", "--device", "cpu"]);
        let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        last["summary"]["log10_total"].as_f64().unwrap()
    };
    let (a, b) = (query("the cat sat on the mat"), query("mat the on sat cat the"));
    let first: Vec<&str> = lines[0].split(' ').collect();
    let best = if a >= b { "u1-1" } else { "u1-2" };
    assert_eq!(first[0], best, "{out}");
    assert!((first[2].parse::<f64>().unwrap() - a.max(b)).abs() < 1e-5, "{out}");
    assert!(lines[2].starts_with("u2-1 -5 "));
    let err = elman(&["rescore", "--nbest", path_str(&nbest), "--ckpt", path_str(&ck), "--device", "cpu", "--cache-size", "3"]);
    assert_one_line_error(&err, "do not apply");
    std::fs::write(&nbest, "u1 -1 x a\n").unwrap();
    assert_one_line_error(&elman(&["rescore", "--nbest", path_str(&nbest), "--ckpt", path_str(&ck), "--device", "cpu"]), "line 1");
}

#[test]
fn gpu_scores_match_the_cpu() {
    let Some(ctx) = gpu() else { return };
    let vocab = vocab();
    let (config, params) = rnn_params(&vocab, true);
    let text = Text::new(&vocab, TEST.as_bytes()).unwrap();
    let ngram = kn3(TRAIN);
    let bridge = Bridge::new(&vocab, &ngram).unwrap();
    let mix = NgramMix { model: &ngram, bridge: &bridge, lambda: 0.6 };
    let cache = Some(NeuralCache { size: 10, theta: 0.5, lambda: 0.2 });
    let (on_cpu, on_gpu) = (cpu(&config, &params), Rnn { config: &config, params: &params, gpu: Some(ctx) });
    for (name, s) in [
        ("stream", settings(4)),
        ("sentences", Settings { sentences: Some(3), ..settings(4) }),
        ("stream + cache", Settings { cache, ..settings(4) }),
        ("dynamic", Settings { dynamic_lr: Some(0.3), ..settings(4) }),
        ("dynamic + cache", Settings { cache, dynamic_lr: Some(0.3), ..settings(5) }),
    ] {
        let c = score(&on_cpu, &text, &s, Some(&mix)).unwrap();
        let g = score(&on_gpu, &text, &s, Some(&mix)).unwrap();
        assert_close(name, &g.mixed, &c.mixed, 2e-5);
        assert_close(name, &g.rnn, &c.rnn, 2e-5);
    }
    let plain = score(&on_gpu, &text, &settings(4), None).unwrap();
    let still = score(&on_gpu, &text, &Settings { dynamic_lr: Some(0.0), ..settings(4) }, None).unwrap();
    assert_eq!(still.mixed, plain.mixed, "η = 0 on the GPU is its plain evaluation, bit for bit");
}
