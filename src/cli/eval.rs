//! `elman eval`: score a whole text (one stream from a zero state, the state carried across
//! chunks; or `--sentences`, each line on its own), alone or combined with an n-gram model,
//! the neural cache and dynamic evaluation; prints the summary.

use super::scoring::{read_file, with_scoring, Scoring, ScoringArgs};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Text to score.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object: tokens, nats_per_token, bits_per_token, perplexity.
    #[arg(long)]
    pub json: bool,
    /// Score each line as an independent sentence from a fresh state.
    #[arg(long)]
    pub sentences: bool,
    #[command(flatten)]
    pub scoring: ScoringArgs,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let bytes = read_file(&args.data)?;
    let name = args.data.display().to_string();
    with_scoring(&args.scoring, args.sentences, |s| {
        let text = s.text(&bytes, &name)?;
        let start = std::time::Instant::now();
        let scores = s.score(&text)?;
        let seconds = start.elapsed().as_secs_f64();
        let totals = scores.totals(&text);
        let nats = totals.nats_per_token();
        let bits = nats / std::f64::consts::LN_2;
        let ppl = totals.perplexity();
        if args.json {
            let mut json = serde_json::json!({ "tokens": totals.tokens, "oov": totals.oov, "nats_per_token": nats, "bits_per_token": bits, "perplexity": ppl, "seconds": seconds, "device": scores.device });
            if let Some(lambda) = s.lambda {
                json["lambda"] = lambda.into();
            }
            println!("{json}");
        } else {
            println!(
                "{name}: {} tokens scored by {} on {} in {seconds:.2} s | {nats:.4} nats/token | {bits:.4} bits/token | perplexity {ppl:.2}",
                totals.tokens,
                describe(s),
                scores.device
            );
        }
        Ok(())
    })
}

/// "the RNN + n-gram (λ = 0.62) + cache (N = 2000) + dynamic evaluation (η = 0.1)".
pub fn describe(s: &Scoring) -> String {
    let mut parts = vec!["the RNN".to_string()];
    if let Some(c) = s.settings.cache {
        parts.push(format!("cache (N = {}, θ = {}, λc = {})", c.size, c.theta, c.lambda));
    }
    if let Some(lr) = s.settings.dynamic_lr {
        parts.push(format!("dynamic evaluation (η = {lr})"));
    }
    if let Some(lambda) = s.lambda {
        parts.push(format!("n-gram (λ = {lambda:.4})"));
    }
    let mut out = parts.join(" + ");
    if s.settings.sentences.is_some() {
        out.push_str(", line by line");
    }
    out
}
