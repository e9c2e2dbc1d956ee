//! `elman ngram`: train, build-binary, prob, eval, query and sample n-gram language
//! models (ARPA text or elman's memory-mapped binary format).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use elman::ngram::arpa::{read_arpa_file, write_arpa_file};
use elman::ngram::binary::{is_binary_file, write_binary_file_as, BinaryLayout, Quantization};
use elman::ngram::eval::evaluate;
use elman::ngram::lm::{LanguageModel, Lexicon};
use elman::ngram::{ModelFile, NgramModel};
use elman::ngram::fraction::mle_fraction;
use elman::host::memory::{human_bytes, peak_memory_bytes};
use elman::ngram::report::order_table;
use elman::ngram::sample::{render, sample};
use elman::ngram::tokenize::tokenize_training;
use super::choices::choice;
use elman::choice::Choice;
use elman::ngram::{count_ngrams, train_tokens, Smoothing, TokenizeOptions, NgramTokenizer, TrainOptions};
use elman::ngram::train::Pipeline;
use super::ngram_query::QueryArgs;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct NgramArgs {
    #[command(subcommand)]
    pub command: NgramCommand,
}

#[derive(Subcommand, Debug)]
pub enum NgramCommand {
    /// Count n-grams in a text, smooth them and write an ARPA or binary model.
    Train(NgramTrainArgs),
    /// Convert an ARPA model to elman's binary format (memory-mapped, opens instantly).
    BuildBinary(BuildBinaryArgs),
    /// Print P(WORD | context) from a model, or as an exact MLE fraction from a text.
    Prob(ProbArgs),
    /// Score a text: tokens, OOVs, cross-entropy and perplexity.
    Eval(NgramEvalArgs),
    /// Score text per token as it streams in (KenLM `query` style), from a file or stdin.
    Query(QueryArgs),
    /// Draw text from a model.
    Sample(NgramSampleArgs),
    /// Prune a model by relative entropy (Stolcke; SRILM's -prune): drop the n-grams whose
    /// removal raises perplexity by less than a threshold.
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// The ARPA model to prune.
    pub model: PathBuf,
    /// Where to write the pruned model (binary when it ends in .bin, else ARPA).
    pub out: PathBuf,
    /// Drop an n-gram when its removal raises perplexity by less than this fraction
    /// (e.g. 1e-8; larger prunes more).
    #[arg(long)]
    pub threshold: f64,
    /// The output's format; by default binary when OUT ends in .bin, else ARPA.
    #[arg(long, value_parser = choice::<ModelFormat>())]
    pub format: Option<ModelFormat>,
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// A text to score with the model before and after: prints both perplexities.
    #[arg(long, value_name = "TEXT")]
    pub check: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct NgramTrainArgs {
    /// Model order N (1 = unigram).
    #[arg(long)]
    pub order: usize,
    /// Training text (UTF-8; one sentence per line).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, value_parser = choice::<NgramTokenizer>(), default_value = "word")]
    pub tokenizer: NgramTokenizer,
    #[arg(long, value_parser = choice::<Smoothing>(), default_value = "kn")]
    pub smoothing: Smoothing,
    /// Pseudo-count for add-k (1 = Laplace).
    #[arg(long, default_value_t = 0.5)]
    pub k: f64,
    /// Count raw tokens as one stream, without <s> … </s> per line.
    #[arg(long)]
    pub no_markers: bool,
    /// Memory bound, e.g. 256M, 1G: when the in-memory estimate exceeds it, counting,
    /// smoothing and writing stream sorted runs through disk within it (without it: the
    /// in-memory path when it fits the memory available, else the bounded one).
    #[arg(long)]
    pub memory: Option<String>,
    /// Where to write the model.
    #[arg(long)]
    pub out: PathBuf,
    /// The model's format; by default binary when --out ends in .bin, else ARPA.
    #[arg(long, value_parser = choice::<ModelFormat>())]
    pub format: Option<ModelFormat>,
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// Count pruning, as lmplz's --prune: per order from 1, drop n-grams seen at most this
    /// many times (e.g. 0 1 1 1; non-decreasing, the first 0, the last repeats).
    #[arg(long, num_args = 1.., value_name = "COUNT")]
    pub prune: Vec<u64>,
    /// Keep only n-grams over the words of this file (whitespace-separated), as lmplz's
    /// --limit_vocab_file; other words become OOV.
    #[arg(long, value_name = "FILE")]
    pub limit_vocab: Option<PathBuf>,
}

/// How a binary model is laid out.
#[derive(Args, Debug, Clone)]
pub struct LayoutArgs {
    /// Layout of a binary model: hashed (the fastest) or compact (bit-packed, the smallest).
    #[arg(long, value_parser = choice::<LayoutName>())]
    pub layout: Option<LayoutName>,
    /// Quantize the log10 probabilities and back-offs of orders 2 and up to BITS each, or
    /// PROB/BACKOFF bits (e.g. 8, or 8/6); implies --layout compact. Scores become
    /// approximate (build-binary --check TEXT reports by how much).
    #[arg(long, value_name = "BITS")]
    pub quantize: Option<String>,
}

/// The binary layouts, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutName {
    Hashed,
    Compact,
}

impl Choice for LayoutName {
    const WHAT: &'static str = "layout";
    const TABLE: &'static [(Self, &'static str, &'static str)] = &[
        (LayoutName::Hashed, "hashed", "fixed-width entries and hash tables: the fastest lookups"),
        (LayoutName::Compact, "compact", "bit-packed sorted records: the smallest file, exact unless quantized"),
    ];
}

impl LayoutArgs {
    /// The layout asked for (hashed when nothing is).
    pub fn layout(&self) -> anyhow::Result<BinaryLayout> {
        let quantization = match self.quantize.as_deref() {
            None => None,
            Some(text) => {
                let parse = |part: &str| part.trim().parse::<u32>().ok().filter(|b| (2..=16).contains(b));
                let bits = match text.split_once('/') {
                    Some((p, b)) => parse(p).zip(parse(b)),
                    None => parse(text).map(|b| (b, b)),
                };
                let Some((prob_bits, backoff_bits)) = bits else {
                    bail!("--quantize {text}: give bits per value from 2 to 16, as 8 or 8/6 (probabilities/back-offs)");
                };
                Some(Quantization { prob_bits, backoff_bits })
            }
        };
        Ok(match (self.layout, quantization) {
            (Some(LayoutName::Hashed), Some(_)) => bail!("--quantize needs --layout compact (the hashed layout stores exact values)"),
            (Some(LayoutName::Hashed), None) | (None, None) => BinaryLayout::Hashed,
            (_, quantization) => BinaryLayout::Compact(quantization),
        })
    }

    /// [`LayoutArgs::layout`] for a model written as `format` (refused for ARPA, which
    /// has no layout).
    pub fn layout_for(&self, format: ModelFormat) -> anyhow::Result<BinaryLayout> {
        if (self.layout.is_some() || self.quantize.is_some()) && format != ModelFormat::Binary {
            bail!("--layout and --quantize apply to binary models; write to a .bin file or give --format binary");
        }
        self.layout()
    }
}

/// The two model file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    Arpa,
    Binary,
}

impl Choice for ModelFormat {
    const WHAT: &'static str = "format";
    const TABLE: &'static [(Self, &'static str, &'static str)] = &[
        (ModelFormat::Arpa, "arpa", "ARPA text (KenLM, SRILM read it)"),
        (ModelFormat::Binary, "binary", "elman's memory-mapped binary format"),
    ];
}

impl ModelFormat {
    /// The format `--format` names, or the one `path`'s extension suggests.
    fn of(format: Option<ModelFormat>, path: &Path) -> ModelFormat {
        format.unwrap_or(if path.extension().is_some_and(|e| e == "bin") { ModelFormat::Binary } else { ModelFormat::Arpa })
    }
}

#[derive(Args, Debug)]
pub struct BuildBinaryArgs {
    /// The ARPA model to convert.
    pub arpa: PathBuf,
    /// Where to write the binary model.
    pub out: PathBuf,
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// A text to score with the ARPA model and with the binary one: prints both
    /// perplexities and their difference (what quantization costs).
    #[arg(long, value_name = "TEXT")]
    pub check: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ProbArgs {
    /// The predicted token.
    pub word: String,
    /// The preceding tokens, oldest first, e.g. "name is".
    #[arg(long, default_value = "")]
    pub context: String,
    /// A model, ARPA or binary.
    #[arg(long, conflicts_with_all = ["data", "order"], required_unless_present = "data")]
    pub model: Option<PathBuf>,
    /// A text to count (maximum likelihood, printed as an exact fraction).
    #[arg(long, requires = "order")]
    pub data: Option<PathBuf>,
    /// Order of the counts taken from --data.
    #[arg(long)]
    pub order: Option<usize>,
    #[arg(long, value_parser = choice::<NgramTokenizer>(), default_value = "word")]
    pub tokenizer: NgramTokenizer,
    /// With --data: count raw tokens without sentence markers.
    #[arg(long)]
    pub no_markers: bool,
}

#[derive(Args, Debug)]
pub struct NgramEvalArgs {
    /// A model, ARPA or binary.
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct NgramSampleArgs {
    /// A model, ARPA or binary.
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
        NgramCommand::BuildBinary(a) => run_build_binary(a),
        NgramCommand::Prune(a) => run_prune(a),
        NgramCommand::Prob(a) => run_prob(a),
        NgramCommand::Eval(a) => run_eval(a),
        NgramCommand::Query(a) => super::ngram_query::run(a),
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

/// The text of `path` (n-gram models have no byte tokenizer to suggest for binary files).
fn read_text(path: &Path) -> anyhow::Result<String> {
    elman::rnn::data::text::read_utf8(path).map_err(|e| match e {
        elman::error::ElmanError::NotUtf8 { path, offset, byte, .. } => elman::error::ElmanError::NotUtf8 { path, offset, byte, byte_tokenizer: false }.into(),
        other => other.into(),
    })
}

fn run_train(a: NgramTrainArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let memory_bytes = a.memory.as_deref().map(parse_memory).transpose()?;
    let limit_vocab = match &a.limit_vocab {
        Some(path) => Some(read_text(path)?.split_whitespace().map(str::to_string).collect::<Vec<_>>()),
        None => None,
    };
    let options = TrainOptions {
        order: a.order,
        tokenize: TokenizeOptions { tokenizer: a.tokenizer, markers: !a.no_markers },
        smoothing: a.smoothing,
        k: a.k,
        memory_bytes,
        prune: a.prune.clone(),
        limit_vocab,
    };
    options.validate()?;
    if options.prunes() && memory_bytes.is_some() {
        bail!("--prune and --limit-vocab need the in-memory pipeline; leave out --memory");
    }
    let layout = a.layout.layout_for(ModelFormat::of(a.format, &a.out))?;
    let text_bytes = std::fs::metadata(&a.data).map_err(|source| elman::error::ElmanError::Io { path: a.data.clone(), source })?.len();
    let available = elman::host::memory::available_bytes();
    let mut pipeline = Pipeline::choose(text_bytes, options.order, memory_bytes, available);
    if let (Pipeline::Bounded { estimate, .. }, None, true) = (&pipeline, memory_bytes, ModelFormat::of(a.format, &a.out) == ModelFormat::Binary || options.prunes()) {
        // The binary writer needs the model in memory; without a bound asked for, try.
        eprintln!("note: the counts may not fit in memory (estimated {}), but a binary or pruned model is built in memory; with --memory the bounded pipeline writes unpruned ARPA", human_bytes(*estimate as f64));
        pipeline = Pipeline::InMemory { estimate: *estimate, limit: available };
    }
    if let Pipeline::Bounded { budget, .. } = pipeline {
        return run_train_bounded(&a, &options, budget, &pipeline, started);
    }
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
    write_model(&trained.model, &a.out, ModelFormat::of(a.format, &a.out), layout)?;
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
    print_discounts(&trained.discounts, &trained.fallback_orders);
    if trained.spill.runs > 0 {
        println!("  spilled {} sorted runs ({}) under --memory", trained.spill.runs, human_bytes(trained.spill.bytes as f64));
    }
    let phases: Vec<String> = trained.phases.iter().map(|(name, t)| format!("{name} {:.3} s", t.as_secs_f64())).collect();
    println!("  pipeline: {}", pipeline.describe());
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

/// `ngram train` through the bounded pipeline (ARPA output only).
fn run_train_bounded(a: &NgramTrainArgs, options: &TrainOptions, budget: u64, pipeline: &Pipeline, started: Instant) -> anyhow::Result<()> {
    if ModelFormat::of(a.format, &a.out) == ModelFormat::Binary {
        bail!("{}: the bounded pipeline writes ARPA only (the binary writer holds the whole model in memory); write an .arpa file, or give --memory above {}", a.out.display(), human_bytes(elman::ngram::train::in_memory_estimate(std::fs::metadata(&a.data).map(|m| m.len()).unwrap_or(0), options.order) as f64));
    }
    let report = elman::ngram::bounded::train_to_arpa(&a.data, options, budget, &a.out)?;
    let total = started.elapsed();
    println!(
        "trained a {}-gram {} model ({} level{}) on {}: {} predicted tokens, vocabulary {} (without <s>)",
        options.order,
        options.smoothing.name(),
        a.tokenizer.name(),
        if options.tokenize.markers { ", <s> … </s> per line" } else { ", no markers" },
        a.data.display(),
        report.predicted_tokens,
        report.vocab_without_bos,
    );
    for (i, count) in report.counts.iter().enumerate() {
        println!("  {}-grams: {count:>10}", i + 1);
    }
    print_discounts(&report.discounts, &report.fallback_orders);
    println!("  pipeline: {}", pipeline.describe());
    println!("  disk: at most {} of sorted runs and level files at once (counting wrote {} runs)", human_bytes(report.peak_disk_bytes as f64), report.runs);
    let phases: Vec<String> = report.phases.iter().map(|(name, t)| format!("{name} {:.3} s", t.as_secs_f64())).collect();
    let peak = peak_memory_bytes().map_or_else(|| "unknown".to_string(), |b| human_bytes(b as f64));
    println!("  phases: {}; wrote {}; wall {:.2} s; peak memory {peak}", phases.join(", "), a.out.display(), total.as_secs_f64());
    Ok(())
}

/// The Kneser-Ney discounts of each order, and which fell back to the defaults.
fn print_discounts(discounts: &[[f64; 4]], fallback_orders: &[usize]) {
    for (n, d) in discounts.iter().enumerate() {
        let note = if fallback_orders.contains(&(n + 1)) { " (fallback: too few counts-of-counts)" } else { "" };
        println!("  KN discounts order {}: D1 {:.4}  D2 {:.4}  D3+ {:.4}{note}", n + 1, d[1], d[2], d[3]);
    }
}

/// Writes `model` to `path` in `format`.
fn write_model(model: &NgramModel<f32>, path: &Path, format: ModelFormat, layout: BinaryLayout) -> anyhow::Result<()> {
    match format {
        ModelFormat::Arpa => write_arpa_file(model, path),
        ModelFormat::Binary => write_binary_file_as(model, path, layout),
    }
    .with_context(|| format!("writing {}", path.display()))
}

fn run_build_binary(a: BuildBinaryArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if is_binary_file(&a.arpa).with_context(|| format!("cannot read {}", a.arpa.display()))? {
        bail!("{} is already a binary model", a.arpa.display());
    }
    let layout = a.layout.layout()?;
    let check_text = a.check.as_deref().map(read_text).transpose()?;
    let model = read_arpa_file(&a.arpa)?;
    let read = started.elapsed();
    write_model(&model, &a.out, ModelFormat::Binary, layout)?;
    let bytes = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    let peak = peak_memory_bytes().map_or_else(|| "unknown".to_string(), |b| human_bytes(b as f64));
    println!(
        "wrote {} ({}, order {}, {} n-grams): read the ARPA in {:.2} s, wrote in {:.2} s; peak memory {peak}",
        a.out.display(),
        human_bytes(bytes as f64),
        model.order(),
        model.ngram_counts().iter().sum::<usize>(),
        read.as_secs_f64(),
        (started.elapsed() - read).as_secs_f64(),
    );
    println!("  layout: {}", describe_layout(layout));
    if let Some(text) = check_text {
        let file = elman::ngram::binary::BinaryFile::open(&a.out)?;
        let binary = file.model()?;
        let (exact, packed) = (evaluate(&model, &text), evaluate(&binary, &text));
        let change = |x: f64, y: f64| if x.is_finite() && x > 0.0 { format!("{:+.4} %", 100.0 * (y - x) / x) } else { "n/a".into() };
        println!(
            "  check on {} ({} tokens): perplexity {:.4} (ARPA) vs {:.4} (binary), {}; without OOVs {:.4} vs {:.4}, {}",
            a.check.as_deref().map_or_else(String::new, |p| p.display().to_string()),
            exact.tokens,
            exact.perplexity(),
            packed.perplexity(),
            change(exact.perplexity(), packed.perplexity()),
            exact.perplexity_excluding_oov(),
            packed.perplexity_excluding_oov(),
            change(exact.perplexity_excluding_oov(), packed.perplexity_excluding_oov()),
        );
    }
    Ok(())
}

fn run_prune(a: PruneArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let format = ModelFormat::of(a.format, &a.out);
    let layout = a.layout.layout_for(format)?;
    let check_text = a.check.as_deref().map(read_text).transpose()?;
    if is_binary_file(&a.model).with_context(|| format!("cannot read {}", a.model.display()))? {
        bail!("{} is a binary model; prune reads ARPA (give the ARPA file it was built from)", a.model.display());
    }
    let model = read_arpa_file(&a.model)?;
    let (pruned, report) = elman::ngram::prune::prune_entropy(&model, a.threshold)?;
    write_model(&pruned, &a.out, format, layout)?;
    let bytes = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} ({}): pruned at threshold {} in {:.2} s",
        a.out.display(),
        human_bytes(bytes as f64),
        a.threshold,
        started.elapsed().as_secs_f64()
    );
    for (n, (before, after)) in report.before.iter().zip(&report.after).enumerate() {
        println!("  {}-grams: {before} -> {after}", n + 1);
    }
    if let Some(text) = check_text {
        let (full, small) = (evaluate(&model, &text), evaluate(&pruned, &text));
        println!(
            "  check on {} ({} tokens): perplexity {:.4} before, {:.4} after ({:+.3} %)",
            a.check.as_deref().map_or_else(String::new, |p| p.display().to_string()),
            full.tokens,
            full.perplexity(),
            small.perplexity(),
            100.0 * (small.perplexity() - full.perplexity()) / full.perplexity()
        );
    }
    Ok(())
}

/// The layout in words, for reports.
fn describe_layout(layout: BinaryLayout) -> String {
    match layout {
        BinaryLayout::Hashed => "hashed".into(),
        BinaryLayout::Compact(None) => "compact, exact".into(),
        BinaryLayout::Compact(Some(q)) => format!("compact, quantized to {} bits per probability and {} per back-off (orders 2 and up)", q.prob_bits, q.backoff_bits),
    }
}

/// Ids of the whitespace- (word) or character- (char) separated `text`.
fn context_ids(text: &str, tokenizer: NgramTokenizer, vocab: &dyn Lexicon) -> Vec<u32> {
    let id = |token: &str| vocab.id(token).unwrap_or(elman::ngram::vocab::UNK);
    match tokenizer {
        NgramTokenizer::Word => text.split_whitespace().map(id).collect(),
        NgramTokenizer::Char => text.chars().map(|c| id(&c.to_string())).collect(),
    }
}

fn describe(vocab: &dyn Lexicon, word: u32, context: &[u32], tokenizer: NgramTokenizer) -> String {
    let sep = if tokenizer == NgramTokenizer::Word { " " } else { "" };
    let ctx: Vec<&str> = context.iter().map(|&id| vocab.token(id)).collect();
    if ctx.is_empty() {
        format!("P({})", vocab.token(word))
    } else {
        format!("P({} | {})", vocab.token(word), ctx.join(sep))
    }
}

fn print_prob(model: &dyn LanguageModel, word: &str, context: &str) {
    let tokenizer = model.info().tokenizer;
    let lexicon = model.lexicon();
    let context = context_ids(context, tokenizer, lexicon);
    let word = lexicon.id(word).unwrap_or(elman::ngram::vocab::UNK);
    let used = &context[context.len().saturating_sub(model.order() - 1)..];
    let log10 = model.score(used, word).log10;
    let p = 10f64.powf(log10);
    let shown = if p == 0.0 || p >= 1e-4 { format!("{p:.6}") } else { format!("{p:.4e}") };
    println!("{} = {shown} (log10 {log10:.6})", describe(lexicon, word, used, tokenizer));
}

fn run_prob(a: ProbArgs) -> anyhow::Result<()> {
    if let Some(path) = &a.model {
        return Ok(ModelFile::open(path)?.with(|model| print_prob(model, &a.word, &a.context))?);
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

fn run_eval(a: NgramEvalArgs) -> anyhow::Result<()> {
    let model = ModelFile::open(&a.model)?;
    let text = read_text(&a.data)?;
    let e = model.with(|m| evaluate(m, &text))?;
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

fn run_sample(a: NgramSampleArgs) -> anyhow::Result<()> {
    let model = ModelFile::open(&a.model)?;
    let text = model.with(|m| sample(m, a.len, a.seed).map(|ids| render(m, &ids)))??;
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
