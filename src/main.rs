//! The `elman` command line: parses arguments, runs one subcommand, and turns any error
//! into a one-line message and a non-zero exit code (never a panic backtrace).

mod cli;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "elman", version, about = "Train Elman RNN and n-gram language models on any GPU or the CPU")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing the flags would only add noise
enum Command {
    /// Train an Elman RNN language model (no arguments: a short run on the built-in corpus).
    Train(cli::train::TrainArgs),
    /// Generate text from a checkpoint, streamed as it is produced.
    Sample(cli::sample::SampleArgs),
    /// Score a text with a checkpoint (alone, or with an n-gram model, the neural cache and
    /// dynamic evaluation): nats/token, bits/token, perplexity.
    Eval(cli::eval::EvalArgs),
    /// Every token's log10 probability under a checkpoint (alone or combined), per-line totals.
    Query(cli::query::QueryArgs),
    /// Rerank n-best lists by acoustic + w·(LM score under a checkpoint, alone or combined).
    Rescore(cli::rescore::RescoreArgs),
    /// The gradient flow through time of one long chunk: ‖∂L/∂H_t‖ per step and layer.
    Gradflow(cli::gradflow::GradflowArgs),
    /// n-gram Markov language models: train, prob, eval, sample.
    Ngram(cli::ngram::NgramArgs),
    /// List every GPU adapter wgpu finds, with its type, backend, driver and limits.
    Info(cli::info::InfoArgs),
    /// Measure training steps on the CPU and the GPU in one run (tokens/s, ratio, dispatches).
    Bench(cli::bench::BenchArgs),
}

fn main() {
    quiet_display_probes();
    write_errors_not_signals();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
                err.exit();
            }
            // One line: clap's first line, without the usage block and the help hint.
            let text = err.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: invalid arguments"));
            std::process::exit(2);
        }
    };
    if matches!(cli.command, Command::Train(_) | Command::Sample(_) | Command::Eval(_) | Command::Query(_) | Command::Rescore(_) | Command::Bench(_)) {
        keep_freed_memory();
    }
    let result = match cli.command {
        Command::Train(args) => cli::train::run(args),
        Command::Sample(args) => cli::sample::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Query(args) => cli::query::run(args),
        Command::Rescore(args) => cli::rescore::run(args),
        Command::Gradflow(args) => cli::gradflow::run(args),
        Command::Ngram(args) => cli::ngram::run(args),
        Command::Info(args) => cli::info::run(args),
        Command::Bench(args) => cli::bench::run(args),
    };
    if let Err(err) = result {
        let code = cli::exit_code(&err);
        eprintln!("error: {}", cli::one_line(&err));
        std::process::exit(code);
    }
}

/// A write past the file-size limit (RLIMIT_FSIZE) raises SIGXFSZ, which kills the process
/// by default; ignored, the write fails with EFBIG instead and elman reports it (keeping the
/// previous checkpoint) like any other failed write.
fn write_errors_not_signals() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to "ignore" at startup, before any thread runs;
    // no handler code is installed.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// A CPU training step allocates its activations afresh (several MiB); glibc would map and
/// unmap each buffer every step (every page faulted in and zeroed again, TLB shootdowns
/// across the threads: up to 40 % of a step at h = 128). Raising the mmap and trim
/// thresholds keeps freed buffers in the heap for the next step. Only for the RNN
/// commands: the n-gram ones allocate once and keep their peak low without it.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any allocation-heavy work.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

/// Mesa's Vulkan drivers probe for a Wayland display while wgpu enumerates adapters, and on
/// a headless machine without XDG_RUNTIME_DIR that probe prints a spurious "error:" line.
/// elman never opens a window, so point the variable at the temp folder when it is unset.
/// Runs first in `main`, before any other thread exists.
fn quiet_display_probes() {
    if cfg!(target_os = "linux") && std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
}
