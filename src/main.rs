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
enum Command {
    /// Train an Elman RNN language model (no arguments: a short run on the built-in corpus).
    Train(cli::train::TrainArgs),
    /// n-gram Markov language models: train, prob, eval, sample.
    Ngram(cli::ngram::NgramArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => cli::train::run(args),
        Command::Ngram(args) => cli::ngram::run(args),
    };
    if let Err(err) = result {
        let code = cli::exit_code(&err);
        eprintln!("error: {}", cli::one_line(&err));
        std::process::exit(code);
    }
}
