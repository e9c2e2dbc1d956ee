//! Everything after a model exists, through the built binary: resume (bit-identical on the
//! CPU), eval vs the logged validation loss, sampling, the word tokenizer, safe stops
//! (SIGINT, SIGKILL mid-save, NaN) and the bad-input matrix.

mod common;

use common::{assert_one_line_error, elman, fresh_dir, path_str as s};
use elman::rnn::model::checkpoint::Checkpoint;
use safetensors::{tensor::TensorView, SafeTensors};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_elman"))
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "command failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}


const TEXT: &str = "the quick brown fox jumps over the lazy dog. a stitch in time saves nine.\n";

/// Small-model flags shared by the runs here.
fn small(data: &Path, out: &Path, steps: &str) -> Vec<String> {
    [
        "train", "--data", s(data), "--steps", steps, "--embed", "8", "--hidden", "12,10", "--seq-len", "10", "--batch", "4",
        "--device", "cpu", "--out", s(out), "--log-every", "3", "--eval-every", "5",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect()
}

/// `args` with each (flag, value) replaced, or appended when absent.
fn with(mut args: Vec<String>, overrides: &[&str]) -> Vec<String> {
    for pair in overrides.chunks(2) {
        match args.iter().position(|a| a == pair[0]) {
            Some(i) => args[i + 1] = pair[1].to_string(),
            None => args.extend([pair[0].to_string(), pair[1].to_string()]),
        }
    }
    args
}

fn run_args(args: &[String]) -> Output {
    bin().args(args).output().unwrap()
}

#[test]
fn resume_is_bit_identical_on_the_cpu() {
    let dir = fresh_dir("after-resume");
    let data = dir.join("t.txt");
    std::fs::write(&data, TEXT.repeat(4)).unwrap();
    // Saving midway (cosine schedule, dropout) does not perturb the run.
    let extra = ["--dropout", "0.2", "--schedule", "cosine", "--warmup", "3"];
    ok(&run_args(&with(small(&data, &dir.join("whole"), "24"), &extra)));
    ok(&run_args(&with(with(small(&data, &dir.join("saving"), "24"), &extra), &["--save-every", "11"])));
    let with_saves = Checkpoint::load(&dir.join("saving/model.safetensors")).unwrap();
    let without = Checkpoint::load(&dir.join("whole/model.safetensors")).unwrap();
    assert_eq!(with_saves.params, without.params, "--save-every does not change the run");

    // 24 steps in one run vs 11 steps, then --resume to 24 (constant schedule, dropout on;
    // the text is short, so the run crosses epoch boundaries and hidden-state resets).
    ok(&run_args(&with(small(&data, &dir.join("a"), "24"), &["--dropout", "0.2"])));
    ok(&run_args(&with(small(&data, &dir.join("b"), "11"), &["--dropout", "0.2"])));
    let out = ok(&elman(&["train", "--resume", s(&dir.join("b")), "--steps", "24", "--log-every", "3"]));
    assert!(out.contains("resuming at step 11"), "{out}");
    let ca = Checkpoint::load(&dir.join("a/model.safetensors")).unwrap();
    let cb = Checkpoint::load(&dir.join("b/model.safetensors")).unwrap();
    assert_eq!(ca.params, cb.params, "11 steps + resume + 13 steps = 24 steps, bit for bit");
    assert_eq!(ca.optimizer, cb.optimizer);
    assert_eq!(ca.hidden, cb.hidden);
    let log = std::fs::read_to_string(dir.join("b/log.jsonl")).unwrap();
    let steps: Vec<u64> = log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, [3, 5, 6, 9, 10, 11, 12, 15, 18, 20, 21, 24], "the log continues across the resume");
    assert!(std::fs::read_to_string(dir.join("b/loss.svg")).unwrap().contains("<polyline"));

    // Mismatches are named.
    let r = elman(&["train", "--resume", s(&dir.join("b")), "--steps", "30", "--hidden", "12,11"]);
    assert_one_line_error(&r, "--hidden mismatch");
    let other = dir.join("other.txt");
    std::fs::write(&other, "ZEBRA QUIZ ".repeat(9)).unwrap();
    let r = elman(&["train", "--resume", s(&dir.join("b")), "--steps", "30", "--data", s(&other)]);
    assert_one_line_error(&r, "'Z'");
    let r = elman(&["train", "--resume", s(&dir.join("b")), "--steps", "30", "--tokenizer", "byte"]);
    assert_one_line_error(&r, "tokenizer mismatch");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn eval_equals_the_logged_validation_loss_and_sampling_is_reproducible() {
    let dir = fresh_dir("after-eval");
    let data = dir.join("t.txt");
    let valid = dir.join("v.txt");
    std::fs::write(&data, TEXT.repeat(4)).unwrap();
    std::fs::write(&valid, "the lazy fox saves time.\n").unwrap();
    ok(&run_args(&with(small(&data, &dir.join("run"), "10"), &["--valid", s(&valid)])));
    let log = std::fs::read_to_string(dir.join("run/log.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    let logged = last["valid_loss"].as_f64().unwrap();
    let eval = ok(&elman(&["eval", "--ckpt", s(&dir.join("run")), "--data", s(&valid), "--json", "--device", "cpu"]));
    let v: serde_json::Value = serde_json::from_str(eval.trim()).unwrap();
    assert_eq!(v["tokens"], 24, "every character after the first is scored");
    let nats = v["nats_per_token"].as_f64().unwrap();
    assert!((nats - logged).abs() < 1e-9, "eval {nats} vs logged {logged}");
    assert!((v["perplexity"].as_f64().unwrap() - nats.exp()).abs() < 1e-9);
    assert!((v["bits_per_token"].as_f64().unwrap() - nats / std::f64::consts::LN_2).abs() < 1e-9);

    let ckpt = s(&dir.join("run/model.safetensors")).to_string();
    let a = ok(&elman(&["sample", "--ckpt", &ckpt, "--len", "40", "--seed", "3", "--prime", "the "]));
    let b = ok(&elman(&["sample", "--ckpt", &ckpt, "--len", "40", "--seed", "3", "--prime", "the "]));
    assert_eq!(a, b, "a fixed seed reproduces the sample");
    assert!(a.starts_with("the ") && a.trim_end().chars().count() == 44, "{a:?}");

    // --top-k 1 is greedy: each next character is the argmax of the model's logits.
    let greedy = ok(&elman(&["sample", "--ckpt", &ckpt, "--len", "15", "--top-k", "1", "--prime", "a "]));
    let model = Checkpoint::load(Path::new(&ckpt)).unwrap();
    let vocab = model.vocab.clone().unwrap();
    let mut g = elman::rnn::cpu::CpuGenerator::new(&model.config, &model.params);
    let mut want = String::from("a ");
    for id in vocab.encode(b"a ").unwrap() {
        g.feed(id);
    }
    for _ in 0..15 {
        let l = g.logits();
        let arg = (0..l.len()).fold(0, |best, i| if l[i] > l[best] { i } else { best }) as u32;
        want.push_str(&vocab.decode(&[arg]));
        g.feed(arg);
    }
    assert_eq!(greedy.trim_end_matches('\n'), want);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn word_tokenizer_trains_samples_and_scores_every_word_and_eos() {
    let dir = fresh_dir("after-word");
    let data = dir.join("w.txt");
    std::fs::write(&data, "the cat sat\non the mat\nthe dog sat on the cat\n".repeat(30)).unwrap();
    ok(&run_args(&with(small(&data, &dir.join("run"), "6"), &["--tokenizer", "word", "--seq-len", "5"])));
    let test = dir.join("test.txt");
    std::fs::write(&test, "the cat sat on a mat\nthe end\n").unwrap();
    let v: serde_json::Value =
        serde_json::from_str(ok(&elman(&["eval", "--ckpt", s(&dir.join("run")), "--data", s(&test), "--json", "--device", "cpu"])).trim()).unwrap();
    assert_eq!(v["tokens"], 10, "8 words + 2 <eos>, the first word predicted from <eos>");
    let sample = ok(&elman(&["sample", "--ckpt", s(&dir.join("run")), "--len", "12", "--prime", "the cat"]));
    assert!(sample.starts_with("the cat"), "{sample}");
    let r = elman(&["sample", "--ckpt", s(&dir.join("run")), "--prime", "the zebra"]);
    assert_one_line_error(&r, "zebra");
    std::fs::remove_dir_all(&dir).ok();
}

/// Penn Treebank as shipped: the word tokenizer gives V = 10,000 and 82,430 scored test
/// tokens (../shared/data/README.md). Skips, saying why, without the data folder.
#[test]
fn penn_treebank_word_conventions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ptb");
    if !root.join("ptb.train.txt").exists() {
        println!("skipping: {} not found (the corpora live beside the project, not in it)", root.display());
        return;
    }
    let corpus = elman::rnn::data::Corpus::load(
        elman::rnn::data::TokenizerKind::Word,
        &root.join("ptb.train.txt"),
        Some(&root.join("ptb.test.txt")),
        None,
        None,
    )
    .unwrap();
    assert_eq!(corpus.vocab.len(), 10_000);
    assert_eq!(corpus.valid.len() - 1, 82_430);
}

/// Rewrites a safetensors file, letting `edit` change or drop tensors (metadata kept).
fn rewrite(src: &Path, dst: &Path, edit: impl Fn(&str, Vec<usize>, Vec<u8>) -> Option<(Vec<usize>, Vec<u8>)>) {
    let bytes = std::fs::read(src).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut kept: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, view) in st.tensors() {
        if let Some((shape, data)) = edit(&name, view.shape().to_vec(), view.data().to_vec()) {
            kept.push((name, shape, data));
        }
    }
    let views: Vec<(String, TensorView)> = kept.iter().map(|(n, sh, d)| (n.clone(), TensorView::new(view_dtype(), sh.clone(), d).unwrap())).collect();
    let meta: Option<HashMap<String, String>> = header.metadata().clone();
    std::fs::write(dst, safetensors::serialize(views, meta).unwrap()).unwrap();
}

fn view_dtype() -> safetensors::Dtype {
    safetensors::Dtype::F32
}

#[test]
fn bad_inputs_after_training_get_one_line_errors_and_overwrite_nothing() {
    let dir = fresh_dir("after-bad");
    let data = dir.join("t.txt");
    std::fs::write(&data, TEXT.repeat(3)).unwrap();
    ok(&run_args(&small(&data, &dir.join("run"), "3")));
    let good = dir.join("run/model.safetensors");
    let good_bytes = std::fs::read(&good).unwrap();
    let half = dir.join("half.safetensors");
    std::fs::write(&half, &good_bytes[..good_bytes.len() / 2]).unwrap();
    let shape = dir.join("shape.safetensors");
    rewrite(&good, &shape, |name, sh, d| if name == "layers.1.w_hh" { Some((vec![5, 20], d)) } else { Some((sh, d)) });
    let missing = dir.join("missing.safetensors");
    rewrite(&good, &missing, |name, sh, d| if name == "output.b" { None } else { Some((sh, d)) });
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let binary = dir.join("bin.txt");
    std::fs::write(&binary, b"ok \xff").unwrap();
    let toml = dir.join("run.toml");
    std::fs::write(&toml, "steps = 3\nhiden = [8]\n").unwrap();

    let g = s(&good);
    let nope = dir.join("nope.txt");
    let x = dir.join("x");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["eval", "--ckpt", s(&half), "--data", s(&data), "--device", "cpu"], "truncated or corrupted"),
        (vec!["sample", "--ckpt", s(&half)], "truncated or corrupted"),
        (vec!["train", "--resume", s(&half), "--steps", "9"], "truncated or corrupted"),
        (vec!["eval", "--ckpt", s(&shape), "--data", s(&data), "--device", "cpu"], "layers.1.w_hh has shape [5, 20]"),
        (vec!["sample", "--ckpt", s(&missing)], "missing tensor output.b"),
        (vec!["eval", "--ckpt", g, "--data", s(&nope), "--device", "cpu"], "nope.txt"),
        (vec!["eval", "--ckpt", g, "--data", s(&empty), "--device", "cpu"], "is empty"),
        (vec!["eval", "--ckpt", g, "--data", s(&binary), "--device", "cpu"], "byte offset 3"),
        (vec!["train", "--config", s(&toml), "--data", s(&data), "--out", s(&x)], "hiden"),
        (vec!["train", "--data", s(&data), "--hidden", "0", "--out", s(&x)], "--hidden"),
        (vec!["train", "--data", s(&data), "--steps", "-4", "--out", s(&x)], "-4"),
        (vec!["sample", "--ckpt", g, "--temperature", "0"], "--temperature must be > 0"),
        (vec!["sample", "--ckpt", g, "--temperature", "-1"], "--temperature must be > 0"),
        (vec!["sample", "--ckpt", g, "--prime", "QXZ"], "'Q'"),
        (vec!["sample", "--ckpt", g, "--len", "0"], "--len must be > 0"),
    ];
    for (args, needle) in cases {
        let out = elman(&args);
        assert_one_line_error(&out, needle);
        assert_eq!(std::fs::read(&good).unwrap(), good_bytes, "{args:?} left the checkpoint alone");
        assert!(!dir.join("x").exists(), "{args:?} wrote no run directory");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let dir = fresh_dir("after-nan");
    let data = dir.join("t.txt");
    std::fs::write(&data, TEXT.repeat(4)).unwrap();
    let args = with(small(&data, &dir.join("run"), "400"), &["--lr", "1e38", "--clip", "0", "--optimizer", "sgd", "--save-every", "1"]);
    let out = run_args(&args);
    assert_one_line_error(&out, "--lr");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("diverged"), "{stderr}");
    // With --save-every 1 the steps before the divergence saved a checkpoint: it loads and
    // holds only finite numbers.
    let c = Checkpoint::load(&dir.join("run/model.safetensors")).expect("the steps before the divergence saved a checkpoint");
    assert!(c.params.flatten().iter().all(|x| x.is_finite()), "a spoiled checkpoint was saved");
    std::fs::remove_dir_all(&dir).ok();
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill").args([sig, &pid.to_string()]).status().expect("kill runs");
    assert!(status.success());
}

#[test]
fn sigint_finishes_the_step_saves_and_exits_130() {
    let dir = fresh_dir("after-sigint");
    let data = dir.join("t.txt");
    std::fs::write(&data, TEXT.repeat(4)).unwrap();
    let args = with(small(&data, &dir.join("run"), "1000000"), &["--log-every", "1"]);
    let mut child = bin().args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the run prints log lines").unwrap();
        if line.starts_with("step ") {
            break;
        }
    }
    signal(child.id(), "-INT");
    std::thread::spawn(move || for _ in lines {});
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let ckpt = Checkpoint::load(&dir.join("run/model.safetensors")).expect("a loadable checkpoint after Ctrl-C");
    let (_, progress) = elman::rnn::train::session::stored_run(&ckpt, &dir.join("run/model.safetensors")).unwrap();
    assert!(progress.step >= 1 && progress.step < 1_000_000);
    std::fs::remove_dir_all(&dir).ok();
}

/// SIGKILL at random moments while large checkpoints are being written, many times: the
/// checkpoint in place is always a whole, loadable one.
#[test]
fn sigkill_mid_save_never_leaves_a_broken_checkpoint() {
    let dir = fresh_dir("after-sigkill");
    let data = dir.join("t.txt");
    std::fs::write(&data, TEXT.repeat(4)).unwrap();
    let out = dir.join("run");
    let ckpt = out.join("model.safetensors");
    let mut rng = elman::rng::Rng::new(5);
    let mut saw_checkpoint = 0;
    for round in 0..12 {
        let args = [
            "train", "--data", s(&data), "--steps", "1000000", "--embed", "256", "--hidden", "768", "--seq-len", "4", "--batch", "1",
            "--device", "cpu", "--out", s(&out), "--save-every", "1", "--eval-every", "0", "--log-every", "1000",
        ];
        let mut child = bin().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(150 + rng.below(600)));
        signal(child.id(), "-KILL");
        child.wait().unwrap();
        if ckpt.exists() {
            let c = Checkpoint::load(&ckpt).unwrap_or_else(|e| panic!("round {round}: checkpoint broken after SIGKILL: {e}"));
            assert_eq!(c.config.hidden, vec![768]);
            saw_checkpoint += 1;
        }
    }
    assert!(saw_checkpoint >= 6, "the runs got far enough to save ({saw_checkpoint} of 12)");
    std::fs::remove_dir_all(&dir).ok();
}

/// The records of a run's `log.jsonl`.
fn log_records(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("log.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn plateau_schedule_best_checkpoint_and_epochs_work_end_to_end() {
    let dir = fresh_dir("after-plateau");
    let data = dir.join("t.txt");
    let valid = dir.join("v.txt");
    std::fs::write(&data, TEXT.repeat(4)).unwrap();
    std::fs::write(&valid, "a quick dog saves the brown fox in time.\n".repeat(2)).unwrap();
    let (lr0, gamma, min_improvement) = (0.01, 0.5, 0.05);
    let plateau = |run: &str, epochs: &str| {
        with(
            small(&data, &dir.join(run), "1"),
            &[
                "--valid", s(&valid), "--epochs", epochs, "--schedule", "plateau", "--patience", "1", "--min-improvement", "0.05",
                "--lr-decay", "0.5", "--lr", "0.01", "--eval-every", "7", "--log-every", "7",
            ],
        )
    };
    // 296 characters, 4 streams of 74, T = 10: 7 batches per epoch, so 6 epochs = 42 steps.
    let out = ok(&run_args(&plateau("a", "6")));
    assert!(out.contains("/42 |"), "--epochs 6 decides the steps: {out}");
    let records = log_records(&dir.join("a"));
    let last = records.last().unwrap();
    assert_eq!(last["step"], 42);
    assert!((last["epoch"].as_f64().unwrap() - 6.0).abs() < 1e-9, "{last}");

    // The rule, re-derived from the logged validation losses: each line's rate is lr0·γ^k,
    // k = cuts so far; a cut follows any evaluation not `min_improvement` better than the
    // reference (the last evaluation that was); a new best is any lower loss.
    let (mut reference, mut best, mut scale, mut cuts) = (None::<f64>, f64::INFINITY, 1.0f64, 0);
    for r in &records {
        let lr = r["lr"].as_f64().unwrap();
        assert!((lr - lr0 * scale).abs() < 1e-9, "step {}: lr {lr}, expected {}", r["step"], lr0 * scale);
        let v = r["valid_loss"].as_f64().expect("every line here is an evaluation");
        let note = r["note"].as_str().unwrap_or("");
        assert_eq!(note.contains("new best"), v < best, "step {}: {note}", r["step"]);
        best = best.min(v);
        match reference {
            Some(refv) if v >= refv * (1.0 - min_improvement) => {
                scale *= gamma;
                cuts += 1;
                assert!(note.contains("lr →"), "step {}: a cut is logged: {note}", r["step"]);
            }
            _ => {
                reference = Some(v);
                assert!(!note.contains("lr →"), "step {}: {note}", r["step"]);
            }
        }
    }
    assert!(cuts >= 1, "this run cuts the rate at least once: {records:?}");

    // best.safetensors scores the lowest logged validation loss.
    let eval = ok(&elman(&["eval", "--ckpt", s(&dir.join("a/best.safetensors")), "--data", s(&valid), "--json"]));
    let scored: serde_json::Value = serde_json::from_str(eval.trim()).unwrap();
    assert!((scored["nats_per_token"].as_f64().unwrap() - best).abs() < 1e-5, "best {best} vs {eval}");

    // Resume restores the schedule's state: 3 epochs, then --resume to 6, is the 6-epoch run.
    ok(&run_args(&plateau("b", "3")));
    ok(&elman(&["train", "--resume", s(&dir.join("b")), "--epochs", "6"]));
    for file in ["model.safetensors", "best.safetensors"] {
        let a = Checkpoint::load(&dir.join("a").join(file)).unwrap();
        let b = Checkpoint::load(&dir.join("b").join(file)).unwrap();
        assert_eq!(a.params, b.params, "{file}: 3 epochs + resume to 6 = 6 epochs, bit for bit");
    }
    let lrs = |run: &str| log_records(&dir.join(run)).iter().map(|r| r["lr"].as_f64().unwrap()).collect::<Vec<_>>();
    assert_eq!(lrs("a"), lrs("b"));

    // --min-lr: the run stops once a cut takes the rate below it, evaluated and saved.
    let out = ok(&run_args(&with(plateau("c", "6"), &["--min-lr", "0.004"])));
    let records = log_records(&dir.join("c"));
    let last = records.last().unwrap();
    assert!(last["note"].as_str().unwrap_or("").contains("stopping"), "{out}");
    assert!(last["step"].as_u64().unwrap() < 42, "stopped early: {last}");
    let saved = Checkpoint::load(&dir.join("c/model.safetensors")).unwrap();
    let progress: serde_json::Value = serde_json::from_str(&saved.extra["progress"]).unwrap();
    assert_eq!(progress["step"], last["step"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_step_schedules_default_interval_is_fixed_at_the_start_and_kept_on_resume() {
    let dir = fresh_dir("after-step-interval");
    let data = dir.join("t.txt");
    std::fs::write(&data, TEXT.repeat(4)).unwrap();
    // 8 steps: the rate halves every 8/4 = 2 steps; resumed to 16 it still halves every 2.
    ok(&run_args(&with(small(&data, &dir.join("a"), "8"), &["--schedule", "step", "--lr", "0.016", "--log-every", "1"])));
    ok(&elman(&["train", "--resume", s(&dir.join("a")), "--steps", "16"]));
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("a/config.json")).unwrap()).unwrap();
    assert_eq!(config["lr_decay_every"], 2);
    let lrs: Vec<f64> = log_records(&dir.join("a")).iter().map(|r| r["lr"].as_f64().unwrap()).collect();
    let want: Vec<f64> = (0..16).map(|s| 0.016 * 0.5f64.powi(s / 2)).collect();
    assert_eq!(lrs.len(), 16);
    for (got, want) in lrs.iter().zip(&want) {
        assert!((got - want).abs() < 1e-9 * want.max(1e-12) + 1e-12, "{lrs:?} vs {want:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
