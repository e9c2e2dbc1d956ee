//! Bounded memory: a tiny `--memory` forces the highest-order counts through sorted runs
//! on disk and a merge; the model must be byte-identical to the in-memory one.

mod common;

use common::{elman_ok, temp_path, write_temp};
use elman::ngram::arpa::write_arpa;
use elman::ngram::{train, Smoothing, TokenizeOptions, Tokenizer, TrainOptions};
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
            let words = TokenizeOptions { tokenizer: Tokenizer::Word, markers: true };
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

#[test]
fn cli_memory_limit_gives_identical_file_and_reports_the_spill() {
    let data = write_temp("spill.txt", &corpus());
    let (a, b) = (temp_path("mem.arpa"), temp_path("disk.arpa"));
    let d = data.to_str().unwrap();
    elman_ok(&["ngram", "train", "--order", "3", "--data", d, "--out", a.to_str().unwrap()]);
    let report = elman_ok(&["ngram", "train", "--order", "3", "--data", d, "--memory", "2K", "--out", b.to_str().unwrap()]);
    assert!(report.contains("spilled"), "{report}");
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "ARPA files differ");
}
