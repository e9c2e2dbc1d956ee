//! ARPA export and import: a round trip keeps every score, re-export is byte-identical,
//! char-level tokens survive, files as other toolkits write them score as KenLM scores
//! them, and malformed files are refused with the line number and what was expected.

mod common;

use common::{elman_err, elman_ok, temp_path, write_temp};
use elman::ngram::arpa::{read_arpa, read_arpa_file, write_arpa, write_arpa_file};
use elman::ngram::eval::evaluate;
use elman::ngram::key::SortedKeys;
use elman::ngram::{train, NgramModel, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};
use std::path::Path;

const TRAIN: &str = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\nthe cat ran\n\nthe dog ran to the cat\n";
const TEST: &str = "the cat sat on the log\na dog ran to the mat\nthe bird sat\n";

fn trained(smoothing: Smoothing, tokenizer: NgramTokenizer, markers: bool) -> NgramModel<f32> {
    let options = TrainOptions::new(3, TokenizeOptions { tokenizer, markers }, smoothing);
    train::<f32>(TRAIN, "train", &options).unwrap().model
}

fn to_text(model: &NgramModel<f32>) -> Vec<u8> {
    let mut out = Vec::new();
    write_arpa(model, &mut out).unwrap();
    out
}

#[test]
fn round_trip_keeps_scores_and_bytes() {
    for (smoothing, tokenizer, markers) in [
        (Smoothing::Kn, NgramTokenizer::Word, true),
        (Smoothing::AddK, NgramTokenizer::Word, false),
        (Smoothing::Mle, NgramTokenizer::Word, true),
        (Smoothing::Kn, NgramTokenizer::Char, true),
        (Smoothing::Kn, NgramTokenizer::Char, false),
    ] {
        let model = trained(smoothing, tokenizer, markers);
        let path = temp_path("round-trip.arpa");
        write_arpa_file(&model, &path).unwrap();
        let back = read_arpa_file(&path).unwrap();
        assert_eq!(back.info.tokenizer, tokenizer);
        assert_eq!(back.info.markers, markers);
        assert_eq!(back.ngram_counts(), model.ngram_counts());
        let (a, b) = (evaluate(&model, TEST), evaluate(&back, TEST));
        assert_eq!(a.tokens, b.tokens);
        assert_eq!(a.oov, b.oov);
        assert_eq!(a.log10_sum.to_bits(), b.log10_sum.to_bits(), "{smoothing:?} {tokenizer:?}: scores differ");
        assert_eq!(to_text(&model), to_text(&back), "{smoothing:?} {tokenizer:?}: re-export differs");
    }
}

#[test]
fn foreign_arpa_without_header_reads_as_word_level_with_markers() {
    // A hand-written bigram model in SRILM/KenLM style (space-separated fields, no header).
    let text = "\n\\data\\\nngram 1=4\nngram 2=2\n\n\\1-grams:\n-1.0 <unk>\n-99 <s> -0.5\n-0.3 </s>\n-0.5 x -0.2\n\n\\2-grams:\n-0.1 <s> x\n-0.2 x </s>\n\n\\end\\\n";
    let model = read_arpa(text, Path::new("hand.arpa")).unwrap();
    assert!(model.info.markers);
    let x = model.vocab.get("x").unwrap();
    let bos = model.vocab.get("<s>").unwrap();
    let eos = model.vocab.get("</s>").unwrap();
    assert!((model.log10_prob(&[bos], x) - -0.1).abs() < 1e-6);
    // x → x is unseen: back-off(x) + p(x) = −0.2 + −0.5.
    assert!((model.log10_prob(&[x], x) - -0.7).abs() < 1e-6);
    // <s> → </s> unseen: back-off(<s>) + p(</s>) = −0.5 + −0.3.
    assert!((model.log10_prob(&[bos], eos) - -0.8).abs() < 1e-6);
    // An unknown word scores as <unk>, backed off from x.
    assert!((model.log10_prob(&[x], 99) - -1.2).abs() < 1e-6);
}

fn malformed(text: &str) -> String {
    read_arpa(text, Path::new("bad.arpa")).unwrap_err().to_string()
}

#[test]
fn malformed_files_name_the_line_and_what_was_expected() {
    let good = "\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-0.5\t<unk>\n-0.5\tx\t-0.1\n\n\\2-grams:\n-0.2\tx x\n\n\\end\\\n";
    assert!(read_arpa(good, Path::new("good.arpa")).is_ok());
    let cases = [
        (good.replace("\\data\\", "data"), "bad.arpa:1:", "expected \\data\\"),
        (good.replace("ngram 2=1", "ngram 3=1"), "bad.arpa:3:", "ngram 2=<count>"),
        (good.replace("-0.5\tx", "oops\tx"), "bad.arpa:7:", "expected a log10 probability"),
        (good.replace("-0.2\tx x", "-0.2\tx y"), "bad.arpa:10:", "a token listed among the 1-grams"),
        (good.replace("-0.2\tx x", "-0.2\tx x\t-0.3"), "bad.arpa:10:", "no back-off weight"),
        (good.replace("ngram 2=1", "ngram 2=2"), "bad.arpa:12:", "2 2-grams as the \\data\\ header says"),
        (good.replace("\\end\\\n", ""), "bad.arpa:12:", "expected \\end\\"),
        (good.replace("\\2-grams:", "\\3-grams:"), "bad.arpa:9:", "expected \\2-grams:"),
        (good.replace("-0.2\tx x", "-0.2\tx"), "bad.arpa:10:", "expected a 2-gram line"),
    ];
    for (text, at, expected) in cases {
        let err = malformed(&text);
        assert!(err.contains(at) && err.contains(expected), "{err}  (wanted {at} … {expected})");
        assert_eq!(err.lines().count(), 1);
    }
    let dup = good.replace("ngram 1=2", "ngram 1=3").replace("-0.5\tx\t-0.1\n", "-0.5\tx\t-0.1\n-0.4\tx\n");
    assert!(malformed(&dup).contains("bad.arpa:8:"), "{}", malformed(&dup));
}

#[test]
fn cli_eval_reads_exported_models_and_refuses_bad_ones() {
    let data = write_temp("arpa-train.txt", TRAIN);
    let test = write_temp("arpa-test.txt", TEST);
    let out = temp_path("cli.arpa");
    elman_ok(&["ngram", "train", "--order", "3", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let json = elman_ok(&["ngram", "eval", "--model", out.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let model = read_arpa_file(&out).unwrap();
    let e = evaluate(&model, TEST);
    assert_eq!(v["tokens"], e.tokens);
    assert_eq!(v["oov"], 1); // "bird"
    assert!((v["perplexity"].as_f64().unwrap() - e.perplexity()).abs() < 1e-9 * e.perplexity());
    assert!((v["nats_per_token"].as_f64().unwrap() - e.nats_per_token()).abs() < 1e-12);
    let bad = write_temp("bad.arpa", "\\data\\\nngram 1=1\n\n\\1-grams:\nnot-a-number\t<unk>\n\\end\\\n");
    let err = elman_err(&["ngram", "eval", "--model", bad.to_str().unwrap(), "--data", test.to_str().unwrap()]);
    assert!(err.contains(":5:") && err.contains("log10 probability"), "{err}");
}

/// An ARPA file without `<unk>`, as SRILM writes them without `-unk`: KenLM's `query`
/// (built from its source) printed, for "the dog sat":
/// `the=3 2 -0.3  dog=0 1 -100.3  sat=5 1 -1.1  </s>=2 2 -0.2  Total: -101.9 OOV: 1`,
/// perplexity 2.985385241179211e25 with OOVs and 3.4145448748687923 without.
#[test]
fn a_file_without_unk_scores_unknown_words_as_kenlm_does() {
    let arpa = write_temp(
        "no-unk.arpa",
        "\\data\\\nngram 1=5\nngram 2=4\n\n\\1-grams:\n-99\t<s>\t-0.5\n-0.8\t</s>\n-0.6\tthe\t-0.3\n-0.9\tcat\t-0.2\n-1.1\tsat\n\n\\2-grams:\n-0.3\t<s> the\n-0.4\tthe cat\n-0.5\tcat sat\n-0.2\tsat </s>\n\n\\end\\\n",
    );
    let text = write_temp("no-unk.txt", "the dog sat\n");
    let run = common::elman(&["ngram", "query", "--model", arpa.to_str().unwrap(), "--data", text.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stdout.starts_with("the=3 2 -0.3\tdog=0 1 -100.3\tsat=5 1 -1.1\t</s>=2 2 -0.2\tTotal: -101.9 OOV: 1\n"), "{stdout}");
    let ppl = |label: &str| -> f64 { stdout.lines().find_map(|l| l.strip_prefix(label)).unwrap().trim().parse().unwrap() };
    assert!((ppl("Perplexity including OOVs:") / 2.985385241179211e25 - 1.0).abs() < 1e-6, "{stdout}");
    // KenLM takes the OOVs' share out of a float32 total (−101.9 + 100.3 there is not
    // exactly −1.6), which moves its figure by 1.2e-6 relative.
    assert!((ppl("Perplexity excluding OOVs:") / 3.4145448748687923 - 1.0).abs() < 1e-5, "{stdout}");
    assert_eq!(stderr.trim().lines().count(), 1, "one warning line: {stderr}");
    assert!(stderr.contains("no <unk> unigram") && stderr.contains("-100"), "{stderr}");
    // The binary model built from it keeps the substitute.
    let bin = temp_path("no-unk.bin");
    elman_ok(&["ngram", "build-binary", arpa.to_str().unwrap(), bin.to_str().unwrap()]);
    let run = common::elman(&["ngram", "query", "--model", bin.to_str().unwrap(), "--data", text.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&run.stdout).contains("dog=0 1 -100.3\t"));
    assert!(run.stderr.is_empty(), "a binary model has its <unk>: no warning");
}

/// ARPA files as other toolkits write them (tests/data/arpa: fields apart by spaces or
/// tabs, trailing blanks, no `<unk>`, −99 log probabilities, CRLF line ends, blank lines,
/// a positive log probability) score as KenLM scores them — per token, per line and in
/// perplexity with and without OOVs — to the numbers `make_kenlm_golden.py` took from
/// KenLM's module there; and so do the binary models built from them, in both layouts.
#[test]
fn other_toolkits_files_score_as_kenlm_scores_them() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/arpa");
    let golden: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("kenlm_golden.json")).unwrap()).unwrap();
    let sentences = dir.join("srilm_sentences.txt");
    let close = |a: f64, b: f64, relative: f64| (a - b).abs() <= relative * a.abs().max(b.abs()).max(1.0);
    let fixtures = golden["fixtures"].as_object().unwrap();
    assert_eq!(fixtures.len(), 2);
    for (name, want) in fixtures {
        let arpa = dir.join(name);
        let (hashed, compact) = (temp_path(&format!("{name}.bin")), temp_path(&format!("{name}.compact.bin")));
        elman_ok(&["ngram", "build-binary", arpa.to_str().unwrap(), hashed.to_str().unwrap()]);
        elman_ok(&["ngram", "build-binary", arpa.to_str().unwrap(), compact.to_str().unwrap(), "--layout", "compact"]);
        for model in [&arpa, &hashed, &compact] {
            let run = common::elman(&["ngram", "query", "--model", model.to_str().unwrap(), "--data", sentences.to_str().unwrap(), "--json"]);
            let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
            assert!(run.status.success(), "{name}: {stderr}");
            if model == &arpa {
                assert!(stderr.contains("no <unk> unigram"), "{name}: {stderr}");
                assert_eq!(stderr.contains("above 0"), name.contains("variants"), "{name}: {stderr}");
                assert!(stderr.lines().all(|l| l.starts_with("warning: ")), "{name}: {stderr}");
            }
            let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            let rows = want["sentences"].as_array().unwrap();
            assert_eq!(lines.len(), rows.len() + 1, "{name}");
            for (got, row) in lines.iter().zip(rows) {
                let (got_tokens, want_tokens) = (got["tokens"].as_array().unwrap(), row["tokens"].as_array().unwrap());
                assert_eq!(got_tokens.len(), want_tokens.len(), "{name}: {}", row["text"]);
                let mut total = 0.0;
                for (g, w) in got_tokens.iter().zip(want_tokens) {
                    let (log10, length, oov) = (w[0].as_f64().unwrap(), w[1].as_u64().unwrap(), w[2].as_bool().unwrap());
                    assert!(close(g["log10"].as_f64().unwrap(), log10, 1e-6), "{name} {model:?}: {} in {}: {g} vs KenLM {w}", g["token"], row["text"]);
                    assert_eq!((g["length"].as_u64().unwrap(), g["oov"].as_bool().unwrap()), (length, oov), "{name}: {g} vs {w}");
                    total += log10;
                }
                assert!(close(got["log10_total"].as_f64().unwrap(), total, 1e-6), "{name}: line total {} vs {total}", got["log10_total"]);
            }
            let summary = &lines.last().unwrap()["summary"];
            assert_eq!((&summary["tokens"], &summary["oov"]), (&want["tokens"], &want["oov"]), "{name}");
            for key in ["perplexity", "perplexity_excluding_oov"] {
                assert!(close(summary[key].as_f64().unwrap(), want[key].as_f64().unwrap(), 1e-5), "{name}: {key} {} vs KenLM {}", summary[key], want[key]);
            }
        }
    }
}

/// A real −99 in a foreign file stays −99 through elman's ARPA writer and reader (elman
/// spells it `-99.0`; its `-99` is log10 0, `<s>`'s).
#[test]
fn a_literal_minus_99_survives_elmans_round_trip() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/arpa/srilm_style.arpa");
    let foreign = read_arpa_file(&fixture).unwrap();
    let mat = foreign.vocab.get("mat").unwrap();
    let at = foreign.levels[0].find(mat as u128).unwrap();
    assert_eq!(foreign.levels[0].log10_prob[at], -99.0);
    let mut text = Vec::new();
    write_arpa(&foreign, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("-99.0\tmat\n") && text.contains("-99\t<s>\t"), "{text}");
    let back = read_arpa(&text, Path::new("back.arpa")).unwrap();
    assert_eq!(back.levels, foreign.levels);
    let (a, b) = (evaluate(&foreign, "the cat sat on the mat\n"), evaluate(&back, "the cat sat on the mat\n"));
    assert_eq!(a.log10_sum.to_bits(), b.log10_sum.to_bits());
    assert!(a.log10_sum.is_finite());
}
