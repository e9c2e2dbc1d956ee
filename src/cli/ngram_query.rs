//! `elman ngram query`: every token of a text with its log10 probability (KenLM `query`
//! style) as the text streams in, then the summary.
//!
//! The input is read in batches of whole lines: a batch ends at `BATCH_BYTES`, or where
//! the input has nothing more buffered (so a person typing lines gets each answer at
//! once). A model with sentence markers scores every line on its own, so a batch's lines
//! are shared among a few scorers per core, scored and formatted in parallel and written
//! in order; without markers the history runs on across lines and one scorer takes them
//! one after another. Either way the
//! totals are summed line by line in input order: the same bits whatever the batching.

use super::query_lines::QueryLine;
use anyhow::bail;
use clap::Args;
use elman::ngram::arpa::escape_char_token;
use elman::ngram::eval::{evaluate_into, Evaluation};
use elman::ngram::lm::LanguageModel;
use elman::ngram::query::{LineScorer, TokenScore};
use elman::ngram::{ModelFile, NgramTokenizer};
use rayon::prelude::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// A model, ARPA or binary.
    #[arg(long)]
    pub model: PathBuf,
    /// The text to score; standard input when absent.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// One JSON object per line (and a last one with the summary).
    #[arg(long)]
    pub json: bool,
    /// Print only the summary.
    #[arg(long)]
    pub summary: bool,
}

/// Bytes of input read ahead.
const INPUT_BUFFER: usize = 1 << 15;
/// Most bytes of text in one batch of lines.
const BATCH_BYTES: usize = 1 << 14;
/// Bytes of text per piece when a summary is all that is printed.
const PIECE_BYTES: usize = 1 << 16;

pub fn run(a: QueryArgs) -> anyhow::Result<()> {
    let model = ModelFile::open(&a.model)?;
    let (reader, name): (Box<dyn Read>, String) = match &a.data {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            (Box::new(file), path.display().to_string())
        }
        None => (Box::new(std::io::stdin()), "standard input".to_string()),
    };
    let input = BufReader::with_capacity(INPUT_BUFFER, reader);
    let result = model.with(|m| query_stream(m, input, &name, &a))?;
    match result {
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => Ok(()),
        other => other,
    }
}

/// What is printed per line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PerLine {
    Nothing,
    Kenlm,
    Json,
}

/// How a token appears in `query` output: at char level whitespace is spelled `<U+0020>`,
/// so that every field stays one space-free word.
fn shown_token<'t>(token: &'t str, tokenizer: NgramTokenizer) -> std::borrow::Cow<'t, str> {
    match tokenizer {
        NgramTokenizer::Word => token.into(),
        NgramTokenizer::Char => escape_char_token(token).into(),
    }
}

fn query_line_json(scores: &[TokenScore], totals: &Evaluation, tokenizer: NgramTokenizer) -> serde_json::Value {
    let tokens: Vec<serde_json::Value> = scores
        .iter()
        .map(|s| serde_json::json!({"token": shown_token(s.token, tokenizer), "id": s.id, "oov": s.oov, "length": s.score.length, "log10": s.score.log10}))
        .collect();
    serde_json::json!({"tokens": tokens, "log10_total": totals.log10_sum, "oov": totals.oov})
}

/// A scorer with its output, kept from batch to batch, so that their buffers are reused
/// whichever thread runs it (few allocations per batch, none per line at KenLM's layout).
struct Slot<'m> {
    scorer: LineScorer<'m>,
    printed: QueryLine,
    out: Vec<u8>,
    totals: Vec<Evaluation>,
}

impl<'m> Slot<'m> {
    fn new(model: &'m dyn LanguageModel) -> Self {
        Slot { scorer: LineScorer::new(model), printed: QueryLine::default(), out: Vec::new(), totals: Vec::new() }
    }

    /// Scores `lines` one after another, appending what `per_line` asks for to `out` and
    /// each line's totals to `totals`.
    fn score_lines(&mut self, lines: &[&str], per_line: PerLine) {
        let tokenizer = self.scorer.model().info().tokenizer;
        let mut scores = Vec::with_capacity(256);
        for line in lines {
            let line_totals = self.scorer.score_line(line, &mut scores);
            match per_line {
                PerLine::Nothing => {}
                PerLine::Json => {
                    let json = query_line_json(&scores, &line_totals, tokenizer);
                    writeln!(self.out, "{json}").expect("writing to memory");
                }
                PerLine::Kenlm => {
                    for s in &scores {
                        self.printed.token(&shown_token(s.token, tokenizer), s.id, Some(s.score.length), s.score.log10 as f32);
                    }
                    self.printed.finish(&mut self.out, line_totals.log10_sum as f32, line_totals.oov).expect("writing to memory");
                }
            }
            self.totals.push(line_totals);
        }
    }

    /// Writes the output to `out`, adds the lines' totals to `totals` in order, and
    /// empties both for the next batch.
    fn drain(&mut self, out: &mut impl Write, totals: &mut Evaluation) -> std::io::Result<()> {
        out.write_all(&self.out)?;
        self.totals.iter().for_each(|line| totals.add(line));
        self.out.clear();
        self.totals.clear();
        Ok(())
    }
}

/// Reads whole lines onto `text` (their ends into `ends`) until the batch is full
/// (`BATCH_BYTES` more) or the input has nothing more buffered; `Ok(false)` at the end of
/// the input. On an error the lines read before it stay in the batch.
fn read_batch(input: &mut BufReader<Box<dyn Read>>, text: &mut String, ends: &mut Vec<usize>, name: &str, lines_before: usize) -> anyhow::Result<bool> {
    // The batch's lines go after what `text` holds already (a piece being gathered).
    let full = text.len() + BATCH_BYTES;
    loop {
        let read = input.read_line(text).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => anyhow::anyhow!("{name}: line {} is not valid UTF-8", lines_before + ends.len() + 1),
            _ => anyhow::anyhow!("cannot read {name}: {e}"),
        })?;
        if read == 0 {
            return Ok(false);
        }
        ends.push(text.len());
        if text.len() >= full || input.buffer().is_empty() {
            return Ok(true);
        }
    }
}

fn query_stream(model: &dyn LanguageModel, mut input: BufReader<Box<dyn Read>>, name: &str, a: &QueryArgs) -> anyhow::Result<()> {
    let info = model.info();
    let mut out = std::io::BufWriter::with_capacity(1 << 14, std::io::stdout().lock());
    let per_line = if a.summary { PerLine::Nothing } else if a.json { PerLine::Json } else { PerLine::Kenlm };
    // A summary of a word model with sentence markers scores the text in pieces of whole
    // lines, as `ngram eval` does (sentences in parallel); the totals are the same bits.
    let in_pieces = a.summary && info.markers && info.tokenizer == NgramTokenizer::Word;
    // One slot when lines depend on the ones before; with sentence markers, a few per
    // core, each scoring a share of a batch's lines.
    let slot_count = if info.markers { 2 * rayon::current_num_threads() } else { 1 };
    let mut slots: Vec<Slot> = (0..slot_count).map(|_| Slot::new(model)).collect();
    let mut totals = Evaluation::default();
    let (mut text, mut ends, mut lines_before) = (String::new(), Vec::new(), 0usize);
    loop {
        let batch_start = text.len();
        ends.clear();
        let read = read_batch(&mut input, &mut text, &mut ends, name, lines_before);
        if in_pieces {
            // Whole lines gather into a piece; each line ends with a newline.
            if text.len() > batch_start && !text.ends_with('\n') {
                text.push('\n');
            }
            if !matches!(read, Ok(true)) || text.len() >= PIECE_BYTES {
                evaluate_into(model, &text, &mut totals);
                text.clear();
            }
        } else {
            let mut start = 0;
            let lines: Vec<&str> = ends.iter().map(|&end| &text[std::mem::replace(&mut start, end)..end]).collect();
            let share = lines.len().div_ceil(slots.len()).max(1);
            if slots.len() > 1 {
                lines.par_chunks(share).zip(slots.par_iter_mut()).for_each(|(chunk, slot)| slot.score_lines(chunk, per_line));
            } else {
                slots[0].score_lines(&lines, per_line);
            }
            for slot in &mut slots {
                slot.drain(&mut out, &mut totals)?;
            }
            if input.buffer().is_empty() && per_line != PerLine::Nothing {
                // The input ran dry (a person or a program waiting for the answer): the
                // lines so far go out now.
                out.flush()?;
            }
            text.clear();
        }
        lines_before += ends.len();
        if !read? {
            break;
        }
    }
    let e = totals;
    if e.tokens == 0 {
        out.flush()?;
        bail!("{name} has no tokens to score");
    }
    if a.json {
        let summary = serde_json::json!({"summary": {
            "tokens": e.tokens,
            "oov": e.oov,
            "log10_total": e.log10_sum,
            "perplexity": e.perplexity(),
            "perplexity_excluding_oov": e.perplexity_excluding_oov(),
            "nats_per_token": e.nats_per_token(),
        }});
        writeln!(out, "{summary}")?;
    } else {
        writeln!(out, "Perplexity including OOVs:\t{}", e.perplexity())?;
        writeln!(out, "Perplexity excluding OOVs:\t{}", e.perplexity_excluding_oov())?;
        writeln!(out, "OOVs:\t{}", e.oov)?;
        writeln!(out, "Tokens:\t{}", e.tokens)?;
    }
    out.flush()?;
    Ok(())
}
