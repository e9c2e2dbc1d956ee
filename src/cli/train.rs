//! `elman train`: flags, and the run that wires data, model, device and loop together.

use super::device::{make_trainer, DeviceChoice};
use super::progress::Reporter;
use anyhow::{bail, Context};
use clap::Args;
use elman::data::{Corpus, TokenizerKind};
use elman::model::checkpoint::load_params;
use elman::model::init::init_params;
use elman::model::{Activation, ModelConfig};
use elman::train::{self, Progress, RunSettings};
use elman::trainer::{Optimizer, UpdateConfig};
use std::path::PathBuf;

/// The built-in corpus: elman's own manual, so `elman train` runs with no arguments.
pub const DEFAULT_CORPUS: &str = include_str!("../../corpus/manual.txt");

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerName {
    Sgd,
    Adam,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training text (default: the built-in manual).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Validation text (default: the last 10 % of the training tokens).
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// How text becomes tokens.
    #[arg(long, value_enum, default_value = "char")]
    pub tokenizer: TokenizerKind,
    /// Word tokenizer: keep only the N most frequent words (the rest become <unk>).
    #[arg(long)]
    pub max_vocab: Option<usize>,
    /// Embedding width d.
    #[arg(long, default_value_t = 64)]
    pub embed: usize,
    /// Hidden widths of the stacked layers, e.g. 512,256.
    #[arg(long, value_delimiter = ',', default_value = "128")]
    pub hidden: Vec<usize>,
    #[arg(long, value_enum, default_value = "tanh")]
    pub activation: Activation,
    /// T: time steps per chunk (truncated BPTT length).
    #[arg(long, default_value_t = 64)]
    pub seq_len: usize,
    /// n: parallel streams per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[arg(long, default_value_t = 300)]
    pub steps: u64,
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f32,
    #[arg(long, value_enum, default_value = "adam")]
    pub optimizer: OptimizerName,
    /// SGD momentum μ.
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f32,
    /// Global gradient-norm clip θ (0 = off).
    #[arg(long, default_value_t = 5.0)]
    pub clip: f32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Evaluate on the validation text every N steps (0 = at the end only).
    #[arg(long, default_value_t = 50)]
    pub eval_every: u64,
    /// Score at most N validation tokens per evaluation (0 = all).
    #[arg(long, default_value_t = 0)]
    pub eval_tokens: usize,
    /// Checkpoint every N steps (0 = at the end only).
    #[arg(long, default_value_t = 0)]
    pub save_every: u64,
    /// Print a log line every N steps.
    #[arg(long, default_value_t = 20)]
    pub log_every: u64,
    /// auto: a hardware GPU if there is one, else the CPU.
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
    /// Use the GPU adapter whose name contains this text.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Run directory (default: runs/<date-time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Start from the parameters of a safetensors file with elman's tensor names.
    #[arg(long)]
    pub init: Option<PathBuf>,
}

impl TrainArgs {
    fn update(&self) -> anyhow::Result<UpdateConfig> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!("--lr must be a positive number, got {}", self.lr);
        }
        if !(self.clip >= 0.0 && self.clip.is_finite()) {
            bail!("--clip must be ≥ 0 (0 turns clipping off), got {}", self.clip);
        }
        if !(0.0..1.0).contains(&self.momentum) {
            bail!("--momentum must be in [0, 1), got {}", self.momentum);
        }
        let optimizer = match self.optimizer {
            OptimizerName::Sgd => Optimizer::Sgd { momentum: self.momentum },
            OptimizerName::Adam => Optimizer::adam(),
        };
        Ok(UpdateConfig::new(optimizer, (self.clip > 0.0).then_some(self.clip)))
    }

    fn check_sizes(&self) -> anyhow::Result<()> {
        for (name, value) in [("--embed", self.embed), ("--seq-len", self.seq_len), ("--batch", self.batch)] {
            if value == 0 {
                bail!("{name} must be > 0");
            }
        }
        if self.steps == 0 {
            bail!("--steps must be > 0");
        }
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            bail!("--hidden must list widths > 0, got {:?}", self.hidden);
        }
        Ok(())
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    args.check_sizes()?;
    let update = args.update()?;
    let corpus = match &args.data {
        Some(path) => Corpus::load(args.tokenizer, path, args.valid.as_deref(), args.max_vocab, None)?,
        None => {
            let valid = args.valid.as_deref().map(|p| elman::data::corpus::read_for(args.tokenizer, p)).transpose()?;
            Corpus::from_texts(args.tokenizer, DEFAULT_CORPUS.as_bytes(), valid.as_deref(), args.max_vocab, None)?
        }
    };
    let model = ModelConfig { vocab: corpus.vocab.len(), embed: args.embed, hidden: args.hidden.clone(), activation: args.activation };
    model.validate()?;
    let settings = RunSettings {
        model: model.clone(),
        update,
        seq_len: args.seq_len,
        batch: args.batch,
        steps: args.steps,
        lr: args.lr,
        seed: args.seed,
        eval_every: args.eval_every,
        save_every: args.save_every,
        log_every: args.log_every,
        eval_tokens: args.eval_tokens,
    };
    // Fail on a too-short text before anything is written.
    elman::data::Batcher::new(corpus.train.len(), args.batch, args.seq_len)?;
    let params = match &args.init {
        Some(path) => load_params(path, &model).with_context(|| format!("--init {}", path.display()))?,
        None => init_params(&model, args.seed),
    };
    let mut trainer = make_trainer(args.device, args.adapter.as_deref(), &model, params, update, args.batch, args.seq_len)?;
    let out = args.out.clone().unwrap_or_else(default_run_dir);

    let source = args.data.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "built-in manual".into());
    println!(
        "elman train: {source}: {} train / {} valid tokens, {} tokenizer, V = {}; model d={} h={:?} {}, {} parameters; device {}; out {}",
        corpus.train.len(),
        corpus.valid.len(),
        corpus.vocab.kind.name(),
        model.vocab,
        model.embed,
        model.hidden,
        model.activation.name(),
        model.parameter_count(),
        trainer.device_name(),
        out.display()
    );
    super::install_ctrlc_handler();
    let mut reporter = Reporter::new(args.steps, (model.vocab as f64).ln());
    let outcome = train::run(trainer.as_mut(), &corpus, &settings, Progress::default(), &out, &mut |line| reporter.line(line));
    reporter.finish();
    let outcome = outcome?;
    let loss = outcome.last_valid_loss.map(|v| format!(", valid loss {v:.4} nats/token ({:.4} bits, perplexity {:.2})", v / std::f64::consts::LN_2, v.exp()));
    println!("saved {} at step {}{}", outcome.checkpoint.display(), outcome.progress.step, loss.unwrap_or_default());
    if outcome.interrupted {
        bail!("interrupted at step {}; checkpoint saved to {}", outcome.progress.step, outcome.checkpoint.display());
    }
    Ok(())
}

/// runs/YYYYMMDD-HHMMSS (UTC).
fn default_run_dir() -> PathBuf {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    PathBuf::from(format!("runs/{year:04}{month:02}{day:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60))
}
