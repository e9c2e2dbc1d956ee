//! Subcommand implementations for the binary; each file owns one subcommand's flags and run.

pub mod bench;
pub mod choices;
pub mod device;
pub mod eval;
pub mod info;
pub mod progress;
pub mod sample;
pub mod ngram;
pub mod train;

/// A checkpoint file from a path that may name a run directory.
pub fn checkpoint_file(p: &std::path::Path) -> std::path::PathBuf {
    if p.is_dir() {
        elman::train_loop::checkpoint_path(p)
    } else {
        p.to_path_buf()
    }
}

/// Ctrl-C asks the training loop to finish its step, save and stop (exit 130); a second
/// Ctrl-C exits at once.
pub fn install_ctrlc_handler() {
    use std::sync::atomic::Ordering;
    let _ = ctrlc::set_handler(|| {
        if elman::train_loop::STOP_REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: finishing the current step and saving (Ctrl-C again to quit now)");
    });
}

/// The error chain as one line: "outer: inner: root".
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

/// Exit code for an error: 1 for everything except an interrupted run (130).
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|c| c.to_string().contains("interrupted")) {
        130
    } else {
        1
    }
}
