//! `elman ngram`: train, prob, eval and sample n-gram language models (ARPA files).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use elman::ngram::arpa::{read_arpa_file, write_arpa_file};
use elman::ngram::eval::evaluate;
use elman::ngram::fraction::mle_fraction;
use elman::ngram::report::{human_bytes, order_table, peak_memory_bytes};
use elman::ngram::sample::{render, sample};
use elman::ngram::tokenize::tokenize_training;
use elman::ngram::vocab::NgramVocab;
use super::choices::choice;
use elman::choice::Choice;
use elman::ngram::{count_ngrams, train_tokens, Smoothing, TokenizeOptions, Tokenizer, TrainOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct NgramArgs {
    #[command(subcommand)]
    pub command: NgramCommand,
}

#[derive(Subcommand, Debug)]
pub enum NgramCommand {
    /// Count n-grams in a text, smooth them and write an ARPA model.
    Train(TrainArgs),
    /// Print P(WORD | context) from a model, or as an exact MLE fraction from a text.
    Prob(ProbArgs),
    /// Score a text: tokens, OOVs, cross-entropy and perplexity.
    Eval(EvalArgs),
    /// Draw text from a model.
    Sample(SampleArgs),
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Model order N (1 = unigram).
    #[arg(long)]
    pub order: usize,
    /// Training text (UTF-8; one sentence per line).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, value_parser = choice::<Tokenizer>(), default_value = "word")]
    pub tokenizer: Tokenizer,
    #[arg(long, value_parser = choice::<Smoothing>(), default_value = "kn")]
    pub smoothing: Smoothing,
    /// Pseudo-count for add-k (1 = Laplace).
    #[arg(long, default_value_t = 0.5)]
    pub k: f64,
    /// Count raw tokens as one stream, without <s> … </s> per line.
    #[arg(long)]
    pub no_markers: bool,
    /// Memory for buffered n-gram keys before sorted runs spill to disk, e.g. 512M, 1G.
    #[arg(long)]
    pub memory: Option<String>,
    /// Where to write the ARPA model.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct ProbArgs {
    /// The predicted token.
    pub word: String,
    /// The preceding tokens, oldest first, e.g. "name is".
    #[arg(long, default_value = "")]
    pub context: String,
    /// An ARPA model.
    #[arg(long, conflicts_with_all = ["data", "order"], required_unless_present = "data")]
    pub model: Option<PathBuf>,
    /// A text to count (maximum likelihood, printed as an exact fraction).
    #[arg(long, requires = "order")]
    pub data: Option<PathBuf>,
    /// Order of the counts taken from --data.
    #[arg(long)]
    pub order: Option<usize>,
    #[arg(long, value_parser = choice::<Tokenizer>(), default_value = "word")]
    pub tokenizer: Tokenizer,
    /// With --data: count raw tokens without sentence markers.
    #[arg(long)]
    pub no_markers: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    #[arg(long)]
    pub model: PathBuf,
    /// Tokens to draw (`</s>` counts as one).
    #[arg(long, default_value_t = 100)]
    pub len: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: NgramArgs) -> anyhow::Result<()> {
    match args.command {
        NgramCommand::Train(a) => run_train(a),
        NgramCommand::Prob(a) => run_prob(a),
        NgramCommand::Eval(a) => run_eval(a),
        NgramCommand::Sample(a) => run_sample(a),
    }
}

/// "512M" → 536870912: an integer with an optional K/M/G/T suffix (binary units).
pub fn parse_memory(text: &str) -> anyhow::Result<u64> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let digits = upper.trim_end_matches("IB").trim_end_matches('B');
    let (number, shift) = match digits.chars().last() {
        Some('K') => (&digits[..digits.len() - 1], 10),
        Some('M') => (&digits[..digits.len() - 1], 20),
        Some('G') => (&digits[..digits.len() - 1], 30),
        Some('T') => (&digits[..digits.len() - 1], 40),
        _ => (digits, 0),
    };
    let value: u64 = number
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--memory {text:?} is not a size like 64K, 512M or 1G"))?;
    let bytes = value.checked_shl(shift).filter(|b| b >> shift == value);
    match bytes {
        Some(b) if b > 0 => Ok(b),
        _ => bail!("--memory {text:?} must be a positive size below 16 EiB"),
    }
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    Ok(elman::data::text::read_utf8(path)?)
}

fn run_train(a: TrainArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let memory_bytes = a.memory.as_deref().map(parse_memory).transpose()?;
    let options = TrainOptions {
        order: a.order,
        tokenize: TokenizeOptions { tokenizer: a.tokenizer, markers: !a.no_markers },
        smoothing: a.smoothing,
        k: a.k,
        memory_bytes,
    };
    options.validate()?;
    let text = read_text(&a.data)?;
    let read_time = started.elapsed();
    let source = a.data.display().to_string();
    let tokenize_started = Instant::now();
    let (vocab, corpus) = tokenize_training(&text, options.tokenize);
    drop(text);
    let tokenize_time = tokenize_started.elapsed();
    let mut trained = train_tokens::<f32>(vocab, corpus, &source, &options)?;
    trained.phases.insert(0, ("tokenize", tokenize_time));
    let counted = started.elapsed();
    write_arpa_file(&trained.model, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    let total = started.elapsed();
    let model = &trained.model;
    println!(
        "trained a {}-gram {} model ({} level{}) on {}: {} predicted tokens, vocabulary {} (without <s>)",
        model.order(),
        model.info.smoothing,
        a.tokenizer.name(),
        if options.tokenize.markers { ", <s> … </s> per line" } else { ", no markers" },
        source,
        trained.predicted_tokens,
        model.predicted_ids().len(),
    );
    for line in order_table(model) {
        println!("{line}");
    }
    for (n, d) in trained.discounts.iter().enumerate() {
        let note = if trained.fallback_orders.contains(&(n + 1)) { " (fallback: too few counts-of-counts)" } else { "" };
        println!("  KN discounts order {}: D1 {:.4}  D2 {:.4}  D3+ {:.4}{note}", n + 1, d[1], d[2], d[3]);
    }
    if trained.spill.runs > 0 {
        println!("  spilled {} sorted runs ({}) under --memory", trained.spill.runs, human_bytes(trained.spill.bytes as f64));
    }
    let phases: Vec<String> = trained.phases.iter().map(|(name, t)| format!("{name} {:.3} s", t.as_secs_f64())).collect();
    println!("  phases: read {:.3} s, {}, write {:.3} s", read_time.as_secs_f64(), phases.join(", "), (total - counted).as_secs_f64());
    let peak = peak_memory_bytes().map_or_else(|| "unknown".to_string(), |b| human_bytes(b as f64));
    println!(
        "  model {} in memory; counted and smoothed in {:.2} s, wrote {} in {:.2} s; wall {:.2} s; peak memory {peak}",
        human_bytes(model.bytes() as f64),
        counted.as_secs_f64(),
        a.out.display(),
        (total - counted).as_secs_f64(),
        total.as_secs_f64(),
    );
    Ok(())
}

/// Ids of the whitespace- (word) or character- (char) separated `text`.
fn context_ids(text: &str, tokenizer: Tokenizer, vocab: &NgramVocab) -> Vec<u32> {
    match tokenizer {
        Tokenizer::Word => text.split_whitespace().map(|w| vocab.id_or_unk(w)).collect(),
        Tokenizer::Char => text.chars().map(|c| vocab.id_or_unk(&c.to_string())).collect(),
    }
}

fn describe(vocab: &NgramVocab, word: u32, context: &[u32], tokenizer: Tokenizer) -> String {
    let sep = if tokenizer == Tokenizer::Word { " " } else { "" };
    let ctx: Vec<&str> = context.iter().map(|&id| vocab.word(id)).collect();
    if ctx.is_empty() {
        format!("P({})", vocab.word(word))
    } else {
        format!("P({} | {})", vocab.word(word), ctx.join(sep))
    }
}

fn run_prob(a: ProbArgs) -> anyhow::Result<()> {
    if let Some(path) = &a.model {
        let model = read_arpa_file(path)?;
        let tokenizer = model.info.tokenizer;
        let context = context_ids(&a.context, tokenizer, &model.vocab);
        let word = model.vocab.id_or_unk(&a.word);
        let used = &context[context.len().saturating_sub(model.order() - 1)..];
        let log10 = model.log10_prob(used, word);
        let p = 10f64.powf(log10);
        let shown = if p == 0.0 || p >= 1e-4 { format!("{p:.6}") } else { format!("{p:.4e}") };
        println!("{} = {shown} (log10 {log10:.6})", describe(&model.vocab, word, used, tokenizer));
        return Ok(());
    }
    let data = a.data.as_ref().expect("clap requires --model or --data");
    let order = a.order.expect("clap requires --order with --data");
    if order == 0 {
        bail!("invalid setting: --order must be at least 1 (got 0)");
    }
    let text = read_text(data)?;
    let options = TokenizeOptions { tokenizer: a.tokenizer, markers: !a.no_markers };
    let (vocab, corpus) = tokenize_training(&text, options);
    if corpus.word_count() == 0 {
        bail!("{} contains no tokens (only whitespace)", data.display());
    }
    let counts = count_ngrams(&corpus, vocab.len(), order, options.markers, None)?;
    let context = context_ids(&a.context, a.tokenizer, &vocab);
    let word = vocab.id_or_unk(&a.word);
    let asked = &context[context.len().saturating_sub(order - 1)..];
    let Some(f) = mle_fraction(&counts, asked, word) else {
        bail!("{} has no tokens to estimate from", data.display());
    };
    let mut line = format!("{} = {}/{} = {}", describe(&vocab, word, &f.context, a.tokenizer), f.numerator, f.denominator, f.value());
    if f.context.len() < asked.len() {
        let missing = describe(&vocab, word, asked, a.tokenizer);
        line.push_str(&format!("  (maximum likelihood backs off: the context of {missing} is never followed by a token)"));
    }
    println!("{line}");
    Ok(())
}

fn run_eval(a: EvalArgs) -> anyhow::Result<()> {
    let model = read_arpa_file(&a.model)?;
    let text = read_text(&a.data)?;
    let e = evaluate(&model, &text);
    if e.tokens == 0 {
        bail!("{} has no tokens to score", a.data.display());
    }
    if a.json {
        let json = serde_json::json!({
            "tokens": e.tokens,
            "oov": e.oov,
            "perplexity": e.perplexity(),
            "nats_per_token": e.nats_per_token(),
            "log10_per_token": e.log10_per_token(),
            "perplexity_excluding_oov": e.perplexity_excluding_oov(),
        });
        println!("{json}");
    } else {
        println!(
            "{}: {} tokens scored, {} OOV; cross-entropy {:.6} log10/token = {:.6} nats/token; perplexity {:.4} ({:.4} excluding OOVs)",
            a.data.display(),
            e.tokens,
            e.oov,
            e.log10_per_token(),
            e.nats_per_token(),
            e.perplexity(),
            e.perplexity_excluding_oov(),
        );
    }
    Ok(())
}

fn run_sample(a: SampleArgs) -> anyhow::Result<()> {
    let model = read_arpa_file(&a.model)?;
    let ids = sample(&model, a.len, a.seed)?;
    let text = render(&model, &ids);
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_memory;

    #[test]
    fn memory_sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_memory("1G").unwrap(), 1 << 30);
        assert_eq!(parse_memory("512m").unwrap(), 512 << 20);
        assert_eq!(parse_memory("64KiB").unwrap(), 64 << 10);
        assert_eq!(parse_memory("1000").unwrap(), 1000);
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("0").is_err());
        assert!(parse_memory("99999999999T").is_err());
    }
}
