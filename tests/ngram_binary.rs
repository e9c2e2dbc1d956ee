//! The binary n-gram format: scores bit-identical to the ARPA model's (OOVs, char level,
//! no markers, pruned foreign models with blank trie entries), every command that takes
//! --model reads either format, query streams KenLM-style lines whose totals equal eval,
//! and truncated, corrupted or wrong-version files are one-line errors, never a panic —
//! in both layouts, hashed and compact; quantized compact models stay close to exact.

mod common;

use common::{elman, elman_err, elman_ok, path_str, temp_path, write_temp};
use elman::ngram::arpa::{read_arpa, write_arpa};
use elman::ngram::binary::checksum::checksum;
use elman::ngram::binary::{write_binary_as, BinaryFile, BinaryLayout, Quantization, TrieLayout};
use elman::ngram::eval::{evaluate, evaluate_into, Evaluation};
use elman::ngram::key::SortedKeys;
use elman::ngram::lm::LanguageModel;
use elman::ngram::query::LineScorer;
use elman::ngram::{train, NgramModel, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};
use elman::rng::Rng;
use std::io::Write;
use std::path::Path;

/// A seeded text with some structure (a word often predicts the next) over 200 types.
fn corpus(seed: u64, sentences: usize, oov_every: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    for s in 0..sentences {
        let len = 2 + rng.below(12) as usize;
        let mut prev = rng.below(200);
        for i in 0..len {
            let id = if rng.next_f64() < 0.6 { (prev * 7 + 3) % 200 } else { (rng.next_f64().powi(3) * 200.0) as u64 };
            if i > 0 {
                text.push(' ');
            }
            if oov_every > 0 && (s * 13 + i) % oov_every == 0 {
                text.push_str(&format!("oov{id}"));
            } else {
                text.push_str(&format!("w{id}"));
            }
            prev = id;
        }
        text.push('\n');
    }
    text
}

/// The model as it comes back from its ARPA text (what `build-binary` converts).
fn arpa_round_trip(model: &NgramModel<f32>) -> NgramModel<f32> {
    let mut text = Vec::new();
    write_arpa(model, &mut text).unwrap();
    read_arpa(std::str::from_utf8(&text).unwrap(), Path::new("model.arpa")).unwrap()
}

/// Scores every token of `text` with both models and demands the same bits.
fn assert_same_scores(arpa: &dyn LanguageModel, binary: &dyn LanguageModel, text: &str) -> usize {
    let (mut a, mut b) = (LineScorer::new(arpa), LineScorer::new(binary));
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    let mut compared = 0;
    for line in text.split_inclusive('\n') {
        a.score_line(line, &mut sa);
        b.score_line(line, &mut sb);
        assert_eq!(sa.len(), sb.len());
        for (x, y) in sa.iter().zip(&sb) {
            assert_eq!((x.token, x.id, x.oov, x.score.length), (y.token, y.id, y.oov, y.score.length), "{line:?}");
            assert_eq!(x.score.log10.to_bits(), y.score.log10.to_bits(), "token {:?} in {line:?}", x.token);
            compared += 1;
        }
    }
    assert_eq!(a.totals().log10_sum.to_bits(), b.totals().log10_sum.to_bits());
    compared
}

#[test]
fn binary_scores_equal_the_arpa_model_to_the_bit() {
    let train_text = corpus(1, 3000, 0);
    let test_text = corpus(2, 300, 17);
    // Which child-pointer codings the compact models below the highest order took
    // (block-coded, unary): both must be among them.
    let mut codings = [false; 2];
    for (order, tokenizer, markers) in
        [(5, NgramTokenizer::Word, true), (3, NgramTokenizer::Word, false), (6, NgramTokenizer::Char, true), (4, NgramTokenizer::Char, false), (1, NgramTokenizer::Word, true)]
    {
        let options = TrainOptions::new(order, TokenizeOptions { tokenizer, markers }, Smoothing::Kn);
        let model = arpa_round_trip(&train::<f32>(&train_text, "train", &options).unwrap().model);
        let mut sizes = Vec::new();
        for layout in [BinaryLayout::Hashed, BinaryLayout::Compact(None)] {
            let bytes = write_binary_as(&model, layout).unwrap();
            sizes.push(bytes.len());
            let file = BinaryFile::from_bytes(&bytes, Path::new("model.bin")).unwrap();
            let binary = file.model().unwrap();
            if let TrieLayout::Compact(trie) = &binary.trie {
                for level in &trie.levels[..order - 1] {
                    codings[usize::from(level.has_unary_pointers())] = true;
                }
            }
            assert!(!binary.trie.is_quantized());
            assert_eq!(binary.order(), order);
            assert_eq!(binary.info, model.info);
            assert_eq!(LanguageModel::ngram_counts(&binary), model.ngram_counts());
            assert_eq!(LanguageModel::predicted_ids(&binary), model.predicted_ids());
            let compared = assert_same_scores(&model, &binary, &test_text);
            assert!(compared > 2000, "{compared} tokens compared");
            let (ea, eb) = (evaluate(&model, &test_text), evaluate(&binary, &test_text));
            assert!(ea.oov > 0 || tokenizer == NgramTokenizer::Char, "the test text must hold OOVs");
            assert_eq!((ea.tokens, ea.oov, ea.log10_sum.to_bits()), (eb.tokens, eb.oov, eb.log10_sum.to_bits()));
            // Every n-gram comes back with its probability (what an ARPA dump writes).
            let mut visited = 0;
            binary.for_each_ngram(&mut |ids, p| {
                let level = &model.levels[ids.len() - 1];
                let at = level.find(model.layout.pack(ids)).unwrap_or_else(|| panic!("{ids:?} is not in the model"));
                assert_eq!(p.to_bits(), level.log10_prob[at].to_bits(), "{ids:?}");
                visited += 1;
            });
            assert_eq!(visited, model.ngram_counts().iter().sum::<usize>());
        }
        assert!(sizes[1] < sizes[0], "compact {} bytes, hashed {}", sizes[1], sizes[0]);
    }
    assert_eq!(codings, [true, true], "block-coded and unary pointers both tested");
}

#[test]
fn a_text_scored_in_pieces_of_lines_sums_to_the_same_bits() {
    let options = TrainOptions::new(3, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn);
    let model = train::<f32>(&corpus(1, 1000, 0), "train", &options).unwrap().model;
    let text = corpus(2, 400, 13);
    let whole = evaluate(&model, &text);
    let lines: Vec<&str> = text.lines().collect();
    for cut in [1, 7, 150, 399] {
        let mut pieces = Evaluation::default();
        for piece in [&lines[..cut], &lines[cut..]] {
            evaluate_into(&model, &piece.iter().map(|l| format!("{l}\n")).collect::<String>(), &mut pieces);
        }
        assert_eq!((pieces.tokens, pieces.oov), (whole.tokens, whole.oov));
        assert_eq!((pieces.log10_sum.to_bits(), pieces.log10_oov.to_bits()), (whole.log10_sum.to_bits(), whole.log10_oov.to_bits()), "cut at line {cut}");
    }
}

#[test]
fn quantized_models_stay_close_to_exact_and_say_so() {
    let train_text = corpus(1, 3000, 0);
    let test_text = corpus(2, 300, 17);
    let options = TrainOptions::new(4, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn);
    let model = arpa_round_trip(&train::<f32>(&train_text, "train", &options).unwrap().model);
    let exact = evaluate(&model, &test_text);
    let exact_size = write_binary_as(&model, BinaryLayout::Compact(None)).unwrap().len();
    for (prob_bits, backoff_bits, tolerance) in [(8, 8, 0.005), (6, 4, 0.05), (12, 10, 0.0005)] {
        let bytes = write_binary_as(&model, BinaryLayout::Compact(Some(Quantization { prob_bits, backoff_bits }))).unwrap();
        let file = BinaryFile::from_bytes(&bytes, Path::new("q.bin")).unwrap();
        let binary = file.model().unwrap();
        assert!(binary.trie.is_quantized());
        let got = evaluate(&binary, &test_text);
        assert_eq!((got.tokens, got.oov), (exact.tokens, exact.oov));
        let change = (got.perplexity() - exact.perplexity()).abs() / exact.perplexity();
        assert!(change < tolerance, "{prob_bits}/{backoff_bits} bits: perplexity {} vs {} exact", got.perplexity(), exact.perplexity());
        assert!(bytes.len() < exact_size, "{prob_bits}/{backoff_bits} bits: {} bytes, exact {exact_size}", bytes.len());
        // Token by token the score stays near the exact one, and runs equal single scores.
        let mut scorer = LineScorer::new(&binary);
        let mut exact_scorer = LineScorer::new(&model);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for line in test_text.lines() {
            scorer.score_line(line, &mut a);
            exact_scorer.score_line(line, &mut b);
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.score.length, y.score.length);
                assert!((x.score.log10 - y.score.log10).abs() < 1.0, "{} vs {}", x.score.log10, y.score.log10);
            }
        }
    }
}

/// A pruned model as other tools write them: `a a` is a context's suffix the file does
/// not hold (a blank in the trie), `</s>` has no unigram, `b a` backs off without a line.
const PRUNED: &str = "\\data\\\nngram 1=4\nngram 2=3\nngram 3=3\n\n\\1-grams:\n-1.0\t<unk>\n-99\t<s>\t-0.3\n-0.5\ta\t-0.2\n-0.7\tb\t-0.1\n\n\
\\2-grams:\n-0.4\t<s> a\t-0.05\n-0.3\ta b\t-0.15\n-0.6\tb b\n\n\\3-grams:\n-0.2\t<s> a b\n-0.1\tb a a\n-0.25\ta a b\n\n\\end\\\n";

#[test]
fn blank_entries_keep_the_arpa_rule_for_pruned_models() {
    for layout in [BinaryLayout::Hashed, BinaryLayout::Compact(None)] {
        blank_entries_keep_the_arpa_rule_in(layout);
    }
}

fn blank_entries_keep_the_arpa_rule_in(layout: BinaryLayout) {
    let model = read_arpa(PRUNED, Path::new("pruned.arpa")).unwrap();
    let file = BinaryFile::from_bytes(&write_binary_as(&model, layout).unwrap(), Path::new("pruned.bin")).unwrap();
    let binary = file.model().unwrap();
    let ids: Vec<u32> = (0..model.vocab.len() as u32 + 1).collect();
    let mut checked = 0;
    for &w in &ids {
        for &c1 in &ids {
            for &c2 in &ids {
                for context in [vec![], vec![c2], vec![c1, c2]] {
                    let (x, y) = (model.score(&context, w), binary.score(&context, w));
                    assert_eq!(x.log10.to_bits(), y.log10.to_bits(), "context {context:?} word {w}: {x:?} vs {y:?}");
                    assert_eq!(x.length, y.length, "context {context:?} word {w}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 300);
    // Scoring runs carries the context's back-offs from token to token: the same bits.
    let n = ids.len() as u32;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for code in 0..n.pow(5) {
        let run: Vec<u32> = (0..5).map(|i| (code / n.pow(i)) % n).collect();
        model.score_run(&run, 0, &mut xs);
        binary.score_run(&run, 0, &mut ys);
        let bits = |v: &[elman::ngram::lm::Score]| v.iter().map(|s| (s.log10.to_bits(), s.length)).collect::<Vec<_>>();
        assert_eq!(bits(&xs), bits(&ys), "run {run:?}");
    }
    // The blank `a a` is walked through to `b a a` but never taken itself.
    let (a, b) = (model.vocab.get("a").unwrap(), model.vocab.get("b").unwrap());
    assert_eq!(binary.score(&[b, a], a).length, 3);
    assert_eq!(binary.score(&[a], a).length, 1);
}

/// The layouts the damage tests run on: hashed, compact exact and compact quantized.
const LAYOUTS: [BinaryLayout; 3] = [BinaryLayout::Hashed, BinaryLayout::Compact(None), BinaryLayout::Compact(Some(Quantization { prob_bits: 8, backoff_bits: 5 }))];

fn small_binary(layout: BinaryLayout) -> Vec<u8> {
    let options = TrainOptions::new(3, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn);
    write_binary_as(&train::<f32>(&corpus(3, 200, 0), "train", &options).unwrap().model, layout).unwrap()
}

fn open_err(bytes: &[u8]) -> String {
    match BinaryFile::from_bytes(bytes, Path::new("bad.bin")) {
        Ok(_) => panic!("a damaged file ({} bytes) was accepted", bytes.len()),
        Err(e) => e.to_string(),
    }
}

fn with_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
    let sum = checksum(&bytes);
    bytes[24..32].copy_from_slice(&sum.to_le_bytes());
    bytes
}

#[test]
fn damaged_files_are_refused_with_one_line() {
    for layout in LAYOUTS {
        damaged_files_are_refused_in(layout);
    }
}

fn damaged_files_are_refused_in(layout: BinaryLayout) {
    let good = small_binary(layout);
    assert!(BinaryFile::from_bytes(&good, Path::new("good.bin")).is_ok());
    for len in [0, 7, 8, 47, 48, 100, good.len() / 2, good.len() - 1] {
        let err = open_err(&good[..len]);
        assert!(err.contains("bad.bin") && err.lines().count() == 1, "{err}");
    }
    let step = (good.len() / 300).max(1);
    for at in (0..good.len()).step_by(step) {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        if (24..32).contains(&at) {
            assert!(open_err(&bad).contains("checksum"));
        } else {
            open_err(&bad);
        }
    }
    // A file of the version before (the same layout, less unary pointers) still opens.
    let mut older = good.clone();
    older[8..12].copy_from_slice(&elman::ngram::binary::OLDEST_READ_VERSION.to_le_bytes());
    assert!(BinaryFile::from_bytes(&with_checksum(older), Path::new("older.bin")).is_ok());
    let mut newer = good.clone();
    let next = elman::ngram::binary::VERSION + 1;
    newer[8..12].copy_from_slice(&next.to_le_bytes());
    let err = open_err(&with_checksum(newer));
    assert!(err.contains(&format!("version {next}")) && err.contains("build-binary"), "{err}");
    let mut arpa_text = b"\\data\\\n".to_vec();
    arpa_text.resize(64, b' ');
    assert!(open_err(&arpa_text).contains("not an elman binary"));
}

#[test]
fn damage_behind_a_valid_checksum_is_caught_by_the_range_checks() {
    for layout in LAYOUTS {
        damage_behind_a_valid_checksum_in(layout);
    }
}

fn damage_behind_a_valid_checksum_in(layout: BinaryLayout) {
    let good = small_binary(layout);
    let model_of = |bytes: &[u8]| BinaryFile::from_bytes(bytes, Path::new("x.bin"));
    let mut rng = Rng::new(9);
    let (mut refused, mut accepted) = (0, 0);
    for case in 0..3000 {
        let mut bad = good.clone();
        let at = 32 + rng.below(good.len() as u64 - 32) as usize;
        match case % 3 {
            0 => bad[at] ^= 1 << rng.below(8),
            1 => bad[at] = 0xff,
            _ => {
                let at4 = at & !3;
                if at4 + 4 <= bad.len() {
                    bad[at4..at4 + 4].copy_from_slice(&u32::MAX.to_le_bytes());
                }
            }
        }
        match model_of(&with_checksum(bad)) {
            Err(_) => refused += 1,
            Ok(file) => {
                // Whatever was accepted must answer queries without panicking.
                let model = file.model().unwrap();
                for w in 0..8 {
                    let s = model.score(&[1, w, w + 1, 3], w);
                    assert!(!s.log10.is_nan());
                }
                accepted += 1;
            }
        }
    }
    assert!(refused > 100, "{layout:?}: {refused} refused, {accepted} accepted");
}

#[test]
fn commands_read_either_format_and_query_streams() {
    let train_text = corpus(4, 1500, 0);
    let test_text = corpus(5, 120, 11);
    let data = write_temp("bin-train.txt", &train_text);
    let test = write_temp("bin-test.txt", &test_text);
    let (arpa, bin, converted) = (temp_path("m.arpa"), temp_path("m.bin"), temp_path("converted.model"));
    for out in [&arpa, &bin] {
        elman_ok(&["ngram", "train", "--order", "4", "--data", path_str(&data), "--out", path_str(out)]);
    }
    let report = elman_ok(&["ngram", "build-binary", path_str(&arpa), path_str(&converted)]);
    assert!(report.contains("wrote"), "{report}");
    assert_eq!(std::fs::read(&bin).unwrap(), std::fs::read(&converted).unwrap(), "train --out .bin and build-binary must agree");
    let eval = |m: &Path| elman_ok(&["ngram", "eval", "--model", path_str(m), "--data", path_str(&test), "--json"]);
    assert_eq!(eval(&arpa), eval(&bin));
    let prob = |m: &Path| elman_ok(&["ngram", "prob", "w10", "--context", "w3 w24", "--model", path_str(m)]);
    assert_eq!(prob(&arpa), prob(&bin));
    let sample = |m: &Path| elman_ok(&["ngram", "sample", "--model", path_str(m), "--len", "25", "--seed", "3"]);
    assert_eq!(sample(&arpa), sample(&bin));

    // query: one line per input line, then the summary; totals equal eval's.
    let query = elman_ok(&["ngram", "query", "--model", path_str(&bin), "--data", path_str(&test)]);
    let lines: Vec<&str> = query.lines().collect();
    assert_eq!(lines.len(), test_text.lines().count() + 4);
    let first = lines[0];
    let fields: Vec<&str> = first.split('\t').collect();
    let words = test_text.lines().next().unwrap().split_whitespace().count();
    assert_eq!(fields.len(), words + 2, "{first}");
    assert!(fields[words].starts_with("</s>=2 "), "{first}");
    assert!(fields[words + 1].starts_with("Total: "), "{first}");
    let parts: Vec<&str> = fields[0].split(' ').collect();
    assert_eq!(parts.len(), 3);
    let eval_json: serde_json::Value = serde_json::from_str(&eval(&bin)).unwrap();
    let ppl_line = lines.iter().find(|l| l.starts_with("Perplexity including OOVs:")).unwrap();
    let ppl: f64 = ppl_line.split('\t').nth(1).unwrap().parse().unwrap();
    assert_eq!(ppl, eval_json["perplexity"].as_f64().unwrap());
    assert!(lines.contains(&format!("Tokens:\t{}", eval_json["tokens"]).as_str()));
    assert!(lines.contains(&format!("OOVs:\t{}", eval_json["oov"]).as_str()));
    // --summary scores in pieces of whole lines, sentences in parallel: the same bits.
    let summary = elman_ok(&["ngram", "query", "--model", path_str(&bin), "--data", path_str(&test), "--summary"]);
    assert_eq!(summary.lines().collect::<Vec<_>>(), lines[lines.len() - 4..]);

    // From standard input, as JSON: the same totals.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_elman"))
        .args(["ngram", "query", "--model", path_str(&arpa), "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(test_text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let objects: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objects.len(), test_text.lines().count() + 1);
    let summary = &objects.last().unwrap()["summary"];
    assert_eq!(summary["perplexity"], eval_json["perplexity"]);
    assert_eq!(summary["oov"], eval_json["oov"]);
    let oov_tokens: usize = objects[..objects.len() - 1]
        .iter()
        .map(|o| o["tokens"].as_array().unwrap().iter().filter(|t| t["oov"] == true && t["id"] == 0).count())
        .sum();
    assert_eq!(oov_tokens as u64, eval_json["oov"].as_u64().unwrap());

    // A line at a time, waiting for each answer: it comes before the next line is sent.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_elman"))
        .args(["ngram", "query", "--model", path_str(&bin)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let (sender, answers) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            if sender.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    for (i, line) in test_text.lines().take(3).enumerate() {
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let answer = answers.recv_timeout(std::time::Duration::from_secs(30)).expect("the answer to a line comes while the input stays open");
        assert_eq!(answer, lines[i], "{line:?}");
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn bad_binary_models_and_inputs_are_one_line_errors() {
    let data = write_temp("bin-bad-train.txt", &corpus(6, 100, 0));
    let bin = temp_path("bad-case.bin");
    elman_ok(&["ngram", "train", "--order", "2", "--data", path_str(&data), "--out", path_str(&bin)]);
    let mut bytes = std::fs::read(&bin).unwrap();
    bytes.truncate(bytes.len() - 9);
    let cut = write_temp("cut.bin", "");
    std::fs::write(&cut, &bytes).unwrap();
    let err = elman_err(&["ngram", "eval", "--model", path_str(&cut), "--data", path_str(&data)]);
    assert!(err.contains("cut.bin") && err.contains("truncated"), "{err}");
    let err = elman_err(&["ngram", "build-binary", path_str(&bin), path_str(&temp_path("again.bin"))]);
    assert!(err.contains("already a binary model"), "{err}");
    let bad_utf8 = temp_path("bad-utf8.txt");
    std::fs::write(&bad_utf8, b"w1 w2\nw3 \xff w4\n").unwrap();
    let err = elman_err(&["ngram", "query", "--model", path_str(&bin), "--data", path_str(&bad_utf8)]);
    assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
    let out = elman(&["ngram", "query", "--model", path_str(&bin), "--data", path_str(&temp_path("missing.txt"))]);
    assert!(!out.status.success());
}

#[test]
fn the_compact_layout_from_the_command_line() {
    let data = write_temp("compact-train.txt", &corpus(7, 800, 0));
    let test = write_temp("compact-test.txt", &corpus(8, 60, 9));
    let (arpa, hashed, compact, trained, quantized) = (temp_path("c.arpa"), temp_path("c-hashed.bin"), temp_path("c.bin"), temp_path("c-trained.bin"), temp_path("c-q.bin"));
    elman_ok(&["ngram", "train", "--order", "3", "--data", path_str(&data), "--out", path_str(&arpa)]);
    elman_ok(&["ngram", "build-binary", path_str(&arpa), path_str(&hashed)]);
    let report = elman_ok(&["ngram", "build-binary", path_str(&arpa), path_str(&compact), "--layout", "compact"]);
    assert!(report.contains("compact, exact"), "{report}");
    elman_ok(&["ngram", "train", "--order", "3", "--data", path_str(&data), "--out", path_str(&trained), "--layout", "compact"]);
    assert_eq!(std::fs::read(&compact).unwrap(), std::fs::read(&trained).unwrap(), "train --layout compact and build-binary --layout compact must agree");
    let query = |m: &Path| elman_ok(&["ngram", "query", "--model", path_str(m), "--data", path_str(&test)]);
    assert_eq!(query(&hashed), query(&compact));
    let report = elman_ok(&["ngram", "build-binary", path_str(&arpa), path_str(&quantized), "--quantize", "8/6", "--check", path_str(&test)]);
    assert!(report.contains("quantized to 8 bits per probability and 6 per back-off"), "{report}");
    let check = report.lines().find(|l| l.contains("check on")).unwrap_or_else(|| panic!("{report}"));
    assert!(check.contains("(ARPA) vs") && check.contains('%'), "{check}");
    assert!(std::fs::metadata(&quantized).unwrap().len() < std::fs::metadata(&compact).unwrap().len());
    for (args, wanted) in [
        (vec!["ngram", "build-binary", path_str(&arpa), path_str(&quantized), "--quantize", "0"], "2 to 16"),
        (vec!["ngram", "build-binary", path_str(&arpa), path_str(&quantized), "--quantize", "8/x"], "2 to 16"),
        (vec!["ngram", "build-binary", path_str(&arpa), path_str(&quantized), "--quantize", "8", "--layout", "hashed"], "--layout compact"),
        (vec!["ngram", "train", "--order", "2", "--data", path_str(&data), "--out", path_str(&arpa), "--layout", "compact"], "binary models"),
    ] {
        let err = elman_err(&args);
        assert!(err.contains(wanted) && err.lines().count() == 1, "{args:?}: {err}");
    }
}
