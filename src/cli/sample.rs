//! `elman sample`: stream generated text to stdout, one token at a time, on the CPU or
//! the GPU (`--device`).

use elman::rnn::devices::{make_generator, DeviceChoice};
use anyhow::{bail, Context};
use clap::Args;
use elman::rnn::model::checkpoint::Checkpoint;
use elman::rnn::sample::{encode_prime, generate, SampleOptions};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Checkpoint (or run directory) to sample from.
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Tokens to generate.
    #[arg(long, default_value_t = 500)]
    pub len: usize,
    /// Softmax temperature (> 0).
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    pub temperature: f32,
    /// Draw only among the k most likely tokens (0 = all, 1 = greedy).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Text to start from (printed first).
    #[arg(long, default_value = "")]
    pub prime: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_parser = super::choices::choice::<DeviceChoice>(), default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub adapter: Option<String>,
}

pub fn run(args: SampleArgs) -> anyhow::Result<()> {
    if args.len == 0 {
        bail!("--len must be > 0");
    }
    let opts = SampleOptions { temperature: args.temperature, top_k: args.top_k };
    opts.validate()?;
    let path = super::checkpoint_file(&args.ckpt);
    let ckpt = Checkpoint::load(&path)?;
    let vocab = ckpt.vocab.as_ref().with_context(|| format!("{} holds no vocabulary", path.display()))?;
    let (prime, print_prime) = encode_prime(vocab, &args.prime)?;
    let mut generator = make_generator(args.device, args.adapter.as_deref(), &ckpt.config, &ckpt.params)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if print_prime {
        write!(out, "{}", vocab.decode(&prime))?;
    }
    let mut first = !print_prime;
    generate(generator.as_mut(), ckpt.config.vocab, &prime, args.len, opts, args.seed, |next| {
        let shown = vocab.decode_one(next, first);
        first = false;
        out.write_all(shown.as_bytes())?;
        out.flush()?;
        anyhow::Ok(())
    })?;
    writeln!(out)?;
    Ok(())
}
