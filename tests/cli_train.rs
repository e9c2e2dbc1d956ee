//! The built binary's `train` command: a short run writes a loadable checkpoint, and every
//! bad input gets a one-line error, a non-zero exit, no panic and no file written.

mod common;

use common::{assert_one_line_error, elman, fresh_dir, path_str};
use elman::rnn::model::checkpoint::Checkpoint;

#[test]
fn short_run_writes_a_loadable_checkpoint_and_config() {
    let dir = fresh_dir("cli-ok");
    let data = dir.join("text.txt");
    std::fs::write(&data, "abcabcabd ".repeat(60)).unwrap();
    let out_dir = dir.join("run");
    let out = elman(&[
        "train", "--data", path_str(&data), "--steps", "5", "--hidden", "8,6", "--embed", "4", "--seq-len", "8", "--batch", "3",
        "--device", "cpu", "--log-every", "1", "--out", path_str(&out_dir),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.starts_with("step ")).count(), 5, "{stdout}");
    for field in ["train", "valid", "grad norm", "tok/s", "ms/step"] {
        assert!(stdout.contains(field), "log lines show {field}: {stdout}");
    }
    let ckpt = Checkpoint::load(&out_dir.join("model.safetensors")).unwrap();
    assert_eq!(ckpt.config.hidden, vec![8, 6]);
    assert_eq!(ckpt.vocab.unwrap().symbols, [" ", "a", "b", "c", "d"]);
    assert!(ckpt.params.flatten().iter().all(|x| x.is_finite()));
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["steps"], 5);
    assert_eq!(config["model"]["embed"], 4);

    // --init from that checkpoint's parameters, whatever wrote them.
    let out2 = elman(&[
        "train", "--data", path_str(&data), "--steps", "1", "--hidden", "8,6", "--embed", "4", "--seq-len", "8", "--batch", "3",
        "--device", "cpu", "--out", path_str(&dir.join("run2")), "--init", path_str(&out_dir.join("model.safetensors")),
    ]);
    assert!(out2.status.success(), "{}", String::from_utf8_lossy(&out2.stderr));
    let wrong = elman(&[
        "train", "--data", path_str(&data), "--steps", "1", "--hidden", "9", "--embed", "4", "--seq-len", "8", "--batch", "3",
        "--device", "cpu", "--out", path_str(&dir.join("run3")), "--init", path_str(&out_dir.join("model.safetensors")),
    ]);
    assert_one_line_error(&wrong, "layers.0.w_xh");
    assert!(!dir.join("run3").exists(), "a failed run writes nothing");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_inputs_get_one_line_errors_and_write_nothing() {
    let dir = fresh_dir("cli-bad");
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let short = dir.join("short.txt");
    std::fs::write(&short, "tiny").unwrap();
    let binary = dir.join("binary.txt");
    std::fs::write(&binary, b"hello \xc3\x28 world").unwrap();
    let good = dir.join("good.txt");
    std::fs::write(&good, "some ordinary text ".repeat(40)).unwrap();
    let out_dir = dir.join("run");
    let o = path_str(&out_dir);
    let missing = dir.join("missing.txt");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--data", path_str(&missing)], "missing.txt"),
        (vec!["--data", path_str(&empty)], "is empty"),
        (vec!["--data", path_str(&short), "--seq-len", "16"], "shorter than --seq-len + 1"),
        (vec!["--data", path_str(&binary)], "byte offset 6"),
        (vec!["--data", path_str(&good), "--batch", "0"], "--batch must be > 0"),
        (vec!["--data", path_str(&good), "--hidden", "8,0"], "--hidden"),
        (vec!["--data", path_str(&good), "--embed", "0"], "--embed must be > 0"),
        (vec!["--data", path_str(&good), "--seq-len", "0"], "--seq-len must be > 0"),
        (vec!["--data", path_str(&good), "--batch", "-3"], "-3"),
        (vec!["--data", path_str(&good), "--activation", "sigmoid"], "sigmoid"),
        (vec!["--data", path_str(&good), "--optimizer", "rmsprop"], "rmsprop"),
        (vec!["--data", path_str(&good), "--lr", "0"], "--lr"),
        // Checks across settings come before any file is read.
        (vec!["--data", path_str(&missing), "--tie-weights", "--embed", "4", "--hidden", "8"], "--tie-weights"),
    ];
    for (args, needle) in cases {
        let mut full = vec!["train", "--steps", "2", "--device", "cpu", "--out", o];
        full.extend(args.iter().copied());
        let out = elman(&full);
        assert_one_line_error(&out, needle);
        assert!(!out_dir.exists(), "{args:?} must not create the run directory");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Every shipped recipe parses as a config file, resolves to valid settings, and names
/// keys the train command knows, each of which takes effect; it does not train.
#[test]
fn every_recipe_parses_and_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("recipes/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let options: elman::rnn::train::settings::SettingsLayer = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let settings = options.resolve().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        settings.lr_schedule(settings.steps).validate().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The model it describes is valid for any vocabulary (tied weights: embed = h_L).
        settings.model_config(100).validate().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Every key it sets takes effect (none belongs to another schedule or optimizer).
        assert_eq!(settings.unused_settings(&options), Vec::<&str>::new(), "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 2, "recipes/ holds {seen} recipes");
}
