//! `elman eval`: score a whole text as one stream (zero start, state carried across chunks).

use elman::rnn::devices::{make_evaluator, DeviceChoice};
use anyhow::Context;
use clap::Args;
use elman::rnn::data::corpus::read_for;
use elman::rnn::model::checkpoint::Checkpoint;
use elman::rnn::train::session::{evaluate_stream, stored_run};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Checkpoint (or run directory).
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Text to score.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object: tokens, nats_per_token, bits_per_token, perplexity.
    #[arg(long)]
    pub json: bool,
    /// Chunk length (the state is carried across chunks; default: the run's --seq-len).
    #[arg(long)]
    pub seq_len: Option<usize>,
    #[arg(long, value_parser = super::choices::choice::<DeviceChoice>(), default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub adapter: Option<String>,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let path = super::checkpoint_file(&args.ckpt);
    let ckpt = Checkpoint::load(&path)?;
    let vocab = ckpt.vocab.as_ref().with_context(|| format!("{} holds no vocabulary", path.display()))?;
    let seq_len = args.seq_len.or_else(|| stored_run(&ckpt, &path).ok().map(|(s, _)| s.seq_len)).unwrap_or(64);
    if seq_len == 0 {
        anyhow::bail!("--seq-len must be > 0");
    }
    let text = read_for(vocab.kind, &args.data)?;
    let tokens = vocab.encode_stream(&text).with_context(|| format!("{} does not match the vocabulary of {}", args.data.display(), path.display()))?;
    let mut model = make_evaluator(args.device, args.adapter.as_deref(), &ckpt.config, ckpt.params.clone(), 1, seq_len)?;
    let start = std::time::Instant::now();
    let (nats, scored) = evaluate_stream(model.as_mut(), &tokens, seq_len, 0)?;
    let seconds = start.elapsed().as_secs_f64();
    let bits = nats / std::f64::consts::LN_2;
    let ppl = nats.exp();
    if args.json {
        println!("{}", serde_json::json!({ "tokens": scored, "nats_per_token": nats, "bits_per_token": bits, "perplexity": ppl, "seconds": seconds }));
    } else {
        println!(
            "{}: {scored} tokens scored on {} in {seconds:.2} s | {nats:.4} nats/token | {bits:.4} bits/token | perplexity {ppl:.2}",
            args.data.display(),
            model.device_name()
        );
    }
    Ok(())
}
