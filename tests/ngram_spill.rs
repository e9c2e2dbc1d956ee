//! Bounded memory, two ways, each byte-identical to the in-memory model:
//! - the in-memory path's counter spilling its highest-order keys as sorted runs;
//! - the bounded pipeline (src/ngram/bounded), from text file to ARPA file through sorted
//!   runs on disk, with budgets small enough that every sorter spills (every smoothing,
//!   word and char level, with and without markers, orders 1 to 5; the PTB 5-gram when
//!   ../shared/data is present).

mod common;

use common::{elman_ok, temp_path, write_temp};
use elman::ngram::arpa::write_arpa;
use elman::ngram::{train, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};
use elman::rng::Rng;

fn corpus() -> String {
    let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
    let mut rng = Rng::new(17);
    let mut text = String::new();
    for _ in 0..600 {
        let len = 1 + rng.below(12) as usize;
        let line: Vec<&str> = (0..len).map(|_| words[(rng.next_f64().powi(2) * 60.0) as usize].as_str()).collect();
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    text
}

#[test]
fn spilled_counts_give_byte_identical_arpa() {
    let text = corpus();
    for smoothing in [Smoothing::Kn, Smoothing::AddK, Smoothing::Mle] {
        let arpa = |memory_bytes| {
            let words = TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true };
            let options = TrainOptions::new(4, words, smoothing).with_memory(memory_bytes);
            let trained = train::<f32>(&text, "corpus", &options).unwrap();
            let mut out = Vec::new();
            write_arpa(&trained.model, &mut out).unwrap();
            (out, trained.spill.runs)
        };
        let (in_memory, no_runs) = arpa(None);
        let (spilled, runs) = arpa(Some(4096));
        assert_eq!(no_runs, 0);
        assert!(runs > 5, "a 4 KiB budget must spill several runs, got {runs}");
        assert!(in_memory == spilled, "{smoothing:?}: spilled model differs");
    }
}

/// The in-memory ARPA text of `text`.
fn in_memory_arpa(text: &str, options: &TrainOptions) -> Vec<u8> {
    let trained = train::<f32>(text, "corpus", options).unwrap();
    let mut out = Vec::new();
    write_arpa(&trained.model, &mut out).unwrap();
    out
}

#[test]
fn bounded_pipeline_writes_the_in_memory_arpa_byte_for_byte() {
    let words = corpus();
    // Char level: the same lines, with some multi-byte characters and tabs.
    let chars = words.replace("w1", "é\t").replace("w2", "日");
    let data_words = write_temp("bounded-words.txt", &words);
    let data_chars = write_temp("bounded-chars.txt", &chars);
    for smoothing in [Smoothing::Kn, Smoothing::AddK, Smoothing::Mle] {
        for (tokenizer, markers, text, data) in [
            (NgramTokenizer::Word, true, &words, &data_words),
            (NgramTokenizer::Word, false, &words, &data_words),
            (NgramTokenizer::Char, true, &chars, &data_chars),
            (NgramTokenizer::Char, false, &chars, &data_chars),
        ] {
            for order in [1, 3, 5] {
                let options = TrainOptions::new(order, TokenizeOptions { tokenizer, markers }, smoothing);
                let want = in_memory_arpa(text, &options);
                let out = temp_path("bounded.arpa");
                let report = elman::ngram::bounded::train_to_arpa(data, &options, 4096, &out).unwrap();
                let case = format!("{smoothing:?} {tokenizer:?} markers={markers} order {order}");
                assert!(std::fs::read(&out).unwrap() == want, "{case}: the bounded ARPA differs");
                assert!(report.runs > 2 && report.peak_disk_bytes > 0, "{case}: a 4 KiB budget must spill: {report:?}");
            }
        }
    }
}

#[test]
fn cli_memory_limit_takes_the_bounded_pipeline_with_the_same_file() {
    let data = write_temp("spill.txt", &corpus());
    let (a, b) = (temp_path("mem.arpa"), temp_path("disk.arpa"));
    let d = data.to_str().unwrap();
    let in_memory = elman_ok(&["ngram", "train", "--order", "3", "--data", d, "--out", a.to_str().unwrap()]);
    assert!(in_memory.contains("pipeline: in memory"), "{in_memory}");
    let report = elman_ok(&["ngram", "train", "--order", "3", "--data", d, "--memory", "2K", "--out", b.to_str().unwrap()]);
    assert!(report.contains("pipeline: bounded memory") && report.contains("disk: at most"), "{report}");
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "ARPA files differ");
    let err = common::elman_err(&["ngram", "train", "--order", "3", "--data", d, "--memory", "2K", "--out", temp_path("x.bin").to_str().unwrap()]);
    assert!(err.contains("writes ARPA only") && err.lines().count() == 1, "{err}");
}

#[test]
fn a_stream_without_line_breaks_is_cut_between_tokens() {
    // Past the 4 MiB block with no line break: without markers the stream is cut between
    // two tokens (word level: after a space; char level: before a character).
    let mut rng = Rng::new(5);
    let text: String = (0..1_300_000).map(|_| format!("w{} ", rng.below(40))).collect::<String>() + "é日";
    assert!(text.len() > 4 << 20 && !text.contains('\n'));
    let data = write_temp("no-breaks.txt", &text);
    for tokenizer in [NgramTokenizer::Word, NgramTokenizer::Char] {
        let options = TrainOptions::new(3, TokenizeOptions { tokenizer, markers: false }, Smoothing::Kn);
        let out = temp_path("no-breaks.arpa");
        elman::ngram::bounded::train_to_arpa(&data, &options, 64 << 20, &out).unwrap();
        assert!(std::fs::read(&out).unwrap() == in_memory_arpa(&text, &options), "{tokenizer:?}: the bounded ARPA differs");
    }
}

#[test]
fn ptb_five_gram_bounded_is_byte_identical() {
    let Some(dir) = common::ptb_dir() else { return };
    let data = dir.join("ptb.train.txt");
    let options = TrainOptions::new(5, TokenizeOptions { tokenizer: NgramTokenizer::Word, markers: true }, Smoothing::Kn);
    let want = in_memory_arpa(&std::fs::read_to_string(&data).unwrap(), &options);
    let out = temp_path("ptb5-bounded.arpa");
    let report = elman::ngram::bounded::train_to_arpa(&data, &options, 8 << 20, &out).unwrap();
    assert!(report.runs > 2, "{report:?}");
    assert!(std::fs::read(&out).unwrap() == want, "PTB 5-gram: the bounded ARPA differs");
}

/// Differential fuzzing: mutated texts (random bytes, cut and doubled lines, stray
/// newlines, invalid UTF-8) through both pipelines. Each must give a one-line error or a
/// model, the same one, byte for byte.
#[test]
fn mutated_texts_give_the_same_file_or_the_same_error_on_both_paths() {
    let base = corpus().into_bytes();
    let mut rng = Rng::new(99);
    let (mut agreed, mut errors) = (0, 0);
    for case in 0..300 {
        let mut bytes = base[..(rng.below(base.len() as u64) as usize).max(1)].to_vec();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(bytes.len() as u64 + 1) as usize;
            match rng.below(5) {
                0 => bytes.insert(at, rng.below(256) as u8),
                1 => bytes.insert(at, b'\n'),
                2 => bytes.truncate(at),
                3 => {
                    let piece = bytes[at..].iter().take(40).copied().collect::<Vec<u8>>();
                    bytes.splice(at..at, piece);
                }
                _ => {
                    bytes.splice(at..at, "é 日\t".bytes());
                }
            }
        }
        let order = 1 + rng.below(4) as usize;
        let tokenizer = if case % 2 == 0 { NgramTokenizer::Word } else { NgramTokenizer::Char };
        let options = TrainOptions::new(order, TokenizeOptions { tokenizer, markers: case % 3 != 0 }, Smoothing::Kn);
        let data = write_temp("fuzz-bounded.txt", "");
        std::fs::write(&data, &bytes).unwrap();
        let out = temp_path("fuzz-bounded.arpa");
        let _ = std::fs::remove_file(&out);
        let bounded = elman::ngram::bounded::train_to_arpa(&data, &options, 4096, &out);
        let in_memory = std::str::from_utf8(&bytes).map_err(|_| ()).and_then(|text| train::<f32>(text, "fuzz", &options).map_err(|_| ()));
        match (bounded, in_memory) {
            (Ok(_), Ok(trained)) => {
                let mut want = Vec::new();
                write_arpa(&trained.model, &mut want).unwrap();
                assert!(std::fs::read(&out).unwrap() == want, "case {case}: the files differ");
                agreed += 1;
            }
            (Err(e), Err(())) => {
                assert_eq!(e.to_string().lines().count(), 1, "case {case}: {e}");
                errors += 1;
            }
            (b, m) => panic!("case {case}: bounded {:?} vs in memory {:?}", b.map(|_| ()).map_err(|e| e.to_string()), m.is_ok()),
        }
    }
    assert!(agreed > 100 && errors > 10, "agreed {agreed}, errors {errors}");
}
