//! Subcommand implementations for the binary; each file owns one subcommand's flags and run.

pub mod bench;
pub mod choices;
pub mod eval;
pub mod gradflow;
pub mod info;
pub mod progress;
pub mod query;
pub mod query_lines;
pub mod rescore;
pub mod sample;
pub mod scoring;
pub mod ngram;
pub mod ngram_query;
pub mod train;

pub use elman::rnn::train::session::checkpoint_file;

/// Ctrl-C asks the training loop to finish its step, save and stop (exit 130); a second
/// Ctrl-C exits at once.
pub fn install_ctrlc_handler() {
    use std::sync::atomic::Ordering;
    let _ = ctrlc::set_handler(|| {
        if elman::rnn::train::session::STOP_REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: finishing the current step and saving (Ctrl-C again to quit now)");
    });
}

/// The error chain as one line: "outer: inner: root", the library's errors naming
/// settings by their flags (`--seq-len`).
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = match cause.downcast_ref::<elman::error::ElmanError>() {
            Some(e) => e.describe(&|key| format!("--{key}")),
            None => cause.to_string(),
        };
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

/// A run stopped by Ctrl-C after saving its checkpoint.
#[derive(Debug)]
pub struct Interrupted {
    pub step: u64,
    pub checkpoint: std::path::PathBuf,
    pub out: std::path::PathBuf,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted at step {}; checkpoint saved to {} (continue with --resume {})", self.step, self.checkpoint.display(), self.out.display())
    }
}

impl std::error::Error for Interrupted {}

/// Exit code for an error: 130 for an interrupted run (as a shell reports SIGINT), 1 for
/// everything else.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|c| c.downcast_ref::<Interrupted>().is_some()) {
        130
    } else {
        1
    }
}
