//! The built binary against hostile conditions: the two inputs that used to crash it
//! (an ARPA header claiming 10^18 unigrams; `--hidden 200000`), a disk that fails while a
//! checkpoint is written (a file-size limit in the child: the previous checkpoint stays
//! byte for byte, no temp file is left, the error says what failed), and two runs on one
//! output folder (the second is refused at once; a lock left by a killed run is taken over).

mod common;

use common::{elman, elman_err, fresh_dir, path_str, write_temp};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn an_arpa_header_claiming_huge_counts_is_a_one_line_error() {
    let arpa = write_temp("huge.arpa", "\\data\\\nngram 1=1000000000000000000\n\n\\1-grams:\n-1\t<unk>\n\n\\end\\\n");
    let text = write_temp("huge-test.txt", "a b c\n");
    let err = elman_err(&["ngram", "eval", "--model", path_str(&arpa), "--data", path_str(&text)]);
    assert!(err.contains("huge.arpa:2:") && err.contains("at most"), "{err}");
}

#[test]
fn a_model_past_the_machines_memory_is_refused_before_allocating() {
    let dir = fresh_dir("huge-model");
    let out = dir.join("run");
    let err = elman_err(&["train", "--hidden", "200000", "--device", "cpu", "--out", path_str(&out)]);
    assert!(err.contains("GiB") && err.contains("available") && err.contains("--hidden"), "{err}");
    assert!(!out.exists(), "nothing may be written for a refused run");
    // With activations the problem, the hint is a batch that fits (the limit set through
    // ELMAN_MEMORY_AVAILABLE, as a container or a shared machine would).
    let run = Command::new(env!("CARGO_BIN_EXE_elman"))
        .args(["train", "--device", "cpu", "--batch", "120", "--seq-len", "64", "--hidden", "256", "--steps", "2", "--out", path_str(&out)])
        .env("ELMAN_MEMORY_AVAILABLE", "20000000")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("activations") && stderr.contains("--batch") && stderr.trim_end().lines().count() == 1, "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_failing_disk_leaves_the_previous_checkpoint_intact() {
    use std::os::unix::process::CommandExt;
    let dir = fresh_dir("full-disk");
    let out = dir.join("run");
    let first = elman(&["train", "--device", "cpu", "--steps", "20", "--out", path_str(&out)]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let checkpoint = out.join("model.safetensors");
    let before = std::fs::read(&checkpoint).unwrap();
    // Resume with a 16 KiB file-size limit: the checkpoint (~470 KiB) cannot be written.
    let mut resume = Command::new(env!("CARGO_BIN_EXE_elman"));
    resume.args(["train", "--device", "cpu", "--steps", "40", "--resume", path_str(&out)]);
    // SAFETY: setrlimit is async-signal-safe; the closure runs in the child before exec.
    unsafe {
        resume.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 16 << 10, rlim_max: 16 << 10 };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let run = resume.output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "the failed save must be an error: {stderr}");
    assert!(stderr.starts_with("error: cannot write") && stderr.contains("File too large") && stderr.trim_end().lines().count() == 1, "{stderr}");
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before, "the previous checkpoint must stay as it was");
    let leftovers: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.contains(".tmp")).collect();
    assert!(leftovers.is_empty(), "temp files left behind: {leftovers:?}");
    // The log was not left with half a line, and the run resumes once the disk is back.
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    assert!(log.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "{log}");
    let again = elman(&["train", "--device", "cpu", "--steps", "40", "--resume", path_str(&out)]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}

#[test]
fn one_run_per_folder_and_a_killed_runs_lock_is_taken_over() {
    let dir = fresh_dir("locked");
    let out = dir.join("run");
    let mut first = Command::new(env!("CARGO_BIN_EXE_elman"))
        .args(["train", "--device", "cpu", "--steps", "1000000", "--out", path_str(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = out.join(".lock");
    let started = Instant::now();
    while !lock.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the first run never took its lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let refused_at = Instant::now();
    let err = elman_err(&["train", "--device", "cpu", "--steps", "5", "--out", path_str(&out)]);
    assert!(err.contains("in use") && err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(refused_at.elapsed() < Duration::from_secs(30));
    first.kill().unwrap(); // SIGKILL: the lock stays behind
    first.wait().unwrap();
    assert!(lock.exists());
    let taken = elman(&["train", "--device", "cpu", "--steps", "5", "--out", path_str(&out)]);
    let stdout = String::from_utf8_lossy(&taken.stdout);
    assert!(taken.status.success(), "{}", String::from_utf8_lossy(&taken.stderr));
    assert!(stdout.contains("took over the lock") && stdout.contains("no longer running"), "{stdout}");
    assert!(!lock.exists(), "a finished run releases its lock");
}
