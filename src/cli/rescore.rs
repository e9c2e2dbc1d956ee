//! `elman rescore`: rerank n-best lists by acoustic + w·(new LM score), the LM score being
//! the log10 probability of each hypothesis as a sentence under a checkpoint (alone or
//! interpolated with an n-gram model), the hypotheses batched as rows.

use super::scoring::{read_file, with_scoring, ScoringArgs};
use anyhow::{bail, Context};
use clap::Args;
use elman::combine::nbest::{self, Utterance};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RescoreArgs {
    /// n-best lists: `utterance-id acoustic-score lm-score word …` per line (SRILM's and
    /// Kaldi's text form; Kaldi's `utt-1`, `utt-2`, … numbering is understood).
    #[arg(long)]
    pub nbest: PathBuf,
    /// w: hypotheses are ranked by acoustic + w·(new LM score, log10).
    #[arg(long, default_value_t = 1.0)]
    pub lm_weight: f64,
    #[command(flatten)]
    pub scoring: ScoringArgs,
}

pub fn run(args: RescoreArgs) -> anyhow::Result<()> {
    if args.scoring.cache_size.is_some() || args.scoring.dynamic_lr.is_some() {
        bail!("rescore scores every hypothesis on its own, so --cache-size and --dynamic-lr do not apply");
    }
    if !args.lm_weight.is_finite() {
        bail!("--lm-weight must be a finite number");
    }
    let bytes = read_file(&args.nbest)?;
    let name = args.nbest.display().to_string();
    let listing = std::str::from_utf8(&bytes).with_context(|| format!("{name} is not UTF-8 text"))?;
    let utterances = nbest::parse(listing, &name)?;
    let lines: String = utterances.iter().flat_map(|u| &u.hypotheses).map(|h| h.words.join(" ") + "\n").collect();
    with_scoring(&args.scoring, true, |s| {
        let text = s.text(lines.as_bytes(), &name)?;
        let scores = s.score(&text)?;
        let mut per_line = vec![0.0f64; text.lines.len()];
        for (p, &log10) in scores.places.iter().zip(&scores.mixed) {
            per_line[p.line] += log10;
        }
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let (changed, hypotheses) = write_reranked(&mut out, &utterances, &per_line, args.lm_weight)?;
        out.flush()?;
        eprintln!(
            "{} utterances, {hypotheses} hypotheses rescored by {} on {}; the best hypothesis changed in {changed}",
            utterances.len(),
            super::eval::describe(s),
            scores.device
        );
        Ok(())
    })
}

/// Writes every utterance's hypotheses, best first, as `id acoustic new-lm words…` (again
/// an n-best list); returns (utterances whose best hypothesis changed, hypotheses).
fn write_reranked(out: &mut impl Write, utterances: &[Utterance], lm: &[f64], weight: f64) -> std::io::Result<(usize, usize)> {
    let (mut changed, mut at) = (0, 0);
    for u in utterances {
        let n = u.hypotheses.len();
        let ranked = nbest::rerank(u, &lm[at..at + n], weight);
        let before = u.hypotheses.iter().enumerate().max_by(|a, b| (a.1.acoustic + weight * a.1.lm).total_cmp(&(b.1.acoustic + weight * b.1.lm)).then(b.0.cmp(&a.0)));
        changed += usize::from(before.is_some_and(|(_, h)| !std::ptr::eq(h, ranked[0].hypothesis)));
        for r in &ranked {
            let h = r.hypothesis;
            write!(out, "{} {} {}", h.id, h.acoustic, r.lm)?;
            for w in &h.words {
                write!(out, " {w}")?;
            }
            writeln!(out)?;
        }
        at += n;
    }
    Ok((changed, at))
}
