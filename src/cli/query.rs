//! `elman query`: every token of a text with its log10 probability under a checkpoint
//! (alone or combined), a total per line and a summary; `--json` for one object per token.

use super::query_lines::QueryLine;
use super::scoring::{read_input, with_scoring, ScoringArgs};
use clap::Args;
use elman::combine::text::Text;
use elman::combine::TokenScores;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// Text to score [default: standard input].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// One JSON object per token (line, token, id, oov, log10_prob, and the components'
    /// rnn_log10 and ngram_log10 when mixing), then {"summary": …}.
    #[arg(long)]
    pub json: bool,
    /// Score each line as an independent sentence from a fresh state.
    #[arg(long)]
    pub sentences: bool,
    /// Print the summary only.
    #[arg(long)]
    pub summary: bool,
    #[command(flatten)]
    pub scoring: ScoringArgs,
}

pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    let (bytes, name) = read_input(args.data.as_deref())?;
    let result = with_scoring(&args.scoring, args.sentences, |s| {
        let text = s.text(&bytes, &name)?;
        let scores = s.score(&text)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        if !args.summary {
            if args.json {
                write_json_tokens(&mut out, &text, &scores)?;
            } else {
                write_lines(&mut out, &text, &scores)?;
            }
        }
        let e = scores.totals(&text);
        if args.json {
            let mut summary = serde_json::json!({
                "tokens": e.tokens,
                "oov": e.oov,
                "log10_total": e.log10_sum,
                "nats_per_token": e.nats_per_token(),
                "perplexity": e.perplexity(),
                "device": scores.device,
            });
            if let Some(lambda) = s.lambda {
                summary["lambda"] = lambda.into();
            }
            writeln!(out, "{}", serde_json::json!({ "summary": summary }))?;
        } else {
            writeln!(out, "Perplexity:\t{}", e.perplexity())?;
            writeln!(out, "Nats/token:\t{}", e.nats_per_token())?;
            writeln!(out, "OOVs:\t{}", e.oov)?;
            writeln!(out, "Tokens:\t{}", e.tokens)?;
        }
        out.flush()?;
        Ok(())
    });
    match result {
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => Ok(()),
        other => other,
    }
}

/// KenLM's `query` layout: `token=id log10` per token, tab-separated, then the line's
/// `Total: log10 OOV: count`.
fn write_lines(out: &mut impl Write, text: &Text, scores: &TokenScores) -> std::io::Result<()> {
    let mut printed = QueryLine::default();
    let mut k = 0;
    while k < scores.places.len() {
        let line = scores.places[k].line;
        let (mut total, mut oov) = (0.0f64, 0u64);
        while k < scores.places.len() && scores.places[k].line == line {
            let p = scores.places[k];
            let l = &text.lines[line];
            printed.token(&l.shown[p.index], l.ids[p.index], None, scores.mixed[k] as f32);
            total += scores.mixed[k];
            oov += u64::from(l.oov[p.index]);
            k += 1;
        }
        printed.finish(out, total as f32, oov)?;
    }
    Ok(())
}

fn write_json_tokens(out: &mut impl Write, text: &Text, scores: &TokenScores) -> std::io::Result<()> {
    for (k, p) in scores.places.iter().enumerate() {
        let l = &text.lines[p.line];
        let mut token = serde_json::json!({
            "line": p.line + 1,
            "token": l.shown[p.index],
            "id": l.ids[p.index],
            "oov": l.oov[p.index],
            "log10_prob": scores.mixed[k],
        });
        if let Some(ngram) = &scores.ngram {
            token["rnn_log10"] = scores.rnn[k].into();
            token["ngram_log10"] = ngram[k].into();
        }
        writeln!(out, "{token}")?;
    }
    Ok(())
}
