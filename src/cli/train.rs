//! `elman train`: flags (also readable from `--config run.toml`), resume, and the run that
//! wires data, model, device and loop together. Precedence: command-line flags, then the
//! config file, then (with `--resume`) the checkpoint's stored settings, then defaults.

use super::choices::choice;
use super::device::{make_trainer, DeviceChoice};
use elman::choice::Choice;
use super::progress::Reporter;
use anyhow::{bail, Context};
use clap::Args;
use elman::data::{Corpus, TokenizerKind};
use elman::model::checkpoint::{load_params, Checkpoint};
use elman::model::init::init_params;
use elman::model::{Activation, ModelConfig};
use elman::lr_schedule::LrSchedule;
use elman::train_loop::{self, Progress, RunSettings};
use elman::trainer::{Optimizer, UpdateConfig};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The built-in corpus: elman's own manual, so `elman train` runs with no arguments.
pub const DEFAULT_CORPUS: &str = include_str!("../../corpus/manual.txt");

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerName {
    Sgd,
    Adam,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleName {
    /// The same learning rate throughout.
    Constant,
    /// Multiply by --lr-decay every --lr-decay-every steps.
    Step,
    /// Linear warm-up over --warmup steps, then cosine down to --min-lr.
    Cosine,
}

/// Every setting is optional here so that flags, a config file and a resumed checkpoint
/// can be layered; [`resolve`] fills in the defaults.
#[derive(Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TrainArgs {
    /// Training text [default: the built-in manual].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Validation text [default: the last 10 % of the training tokens].
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// How text becomes tokens [default: char].
    #[arg(long, value_parser = choice::<TokenizerKind>())]
    pub tokenizer: Option<TokenizerKind>,
    /// Word tokenizer: keep only the N most frequent words (the rest become <unk>).
    #[arg(long)]
    pub max_vocab: Option<usize>,
    /// Embedding width d [default: 64].
    #[arg(long)]
    pub embed: Option<usize>,
    /// Hidden widths of the stacked layers, e.g. 512,256 [default: 128].
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// φ [default: tanh].
    #[arg(long, value_parser = choice::<Activation>())]
    pub activation: Option<Activation>,
    /// T: time steps per chunk (truncated BPTT length) [default: 64].
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// n: parallel streams per batch [default: 16].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Total optimisation steps [default: 300].
    #[arg(long)]
    pub steps: Option<u64>,
    /// Learning rate [default: 0.002].
    #[arg(long)]
    pub lr: Option<f32>,
    /// Learning-rate schedule [default: constant].
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleName>,
    /// Step schedule: factor γ [default: 0.5].
    #[arg(long)]
    pub lr_decay: Option<f32>,
    /// Step schedule: decay every N steps [default: steps/4].
    #[arg(long)]
    pub lr_decay_every: Option<u64>,
    /// Cosine schedule: linear warm-up steps [default: 0].
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Cosine schedule: final learning rate [default: lr/10].
    #[arg(long)]
    pub min_lr: Option<f32>,
    /// [default: adam].
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerName>,
    /// SGD momentum μ [default: 0].
    #[arg(long)]
    pub momentum: Option<f32>,
    /// Global gradient-norm clip θ, 0 = off [default: 5].
    #[arg(long)]
    pub clip: Option<f32>,
    /// Dropout probability on the non-recurrent connections [default: 0].
    #[arg(long)]
    pub dropout: Option<f32>,
    /// Initialisation (and dropout) seed [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Evaluate on the validation text every N steps, 0 = at the end only [default: 50].
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Score at most N validation tokens per evaluation, 0 = all [default: 0].
    #[arg(long)]
    pub eval_tokens: Option<usize>,
    /// Checkpoint every N steps, 0 = at the end only [default: 0].
    #[arg(long)]
    pub save_every: Option<u64>,
    /// Print a log line every N steps [default: 20].
    #[arg(long)]
    pub log_every: Option<u64>,
    /// Stop after this many minutes of training (evaluates and saves first).
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// auto: a hardware GPU if there is one, else the CPU [default: auto].
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Use the GPU adapter whose name contains this text.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Run directory [default: runs/<date-time>; with --resume, the checkpoint's folder].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Start from the parameters of a safetensors file with elman's tensor names.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Continue a run: its directory or checkpoint (optimizer, step, data position restored).
    #[arg(long)]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// Read settings from a TOML file (keys as the flags, e.g. `hidden = [512, 256]`).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

impl TrainArgs {
    /// Fields set here win; the rest come from `lower`.
    fn or(self, lower: TrainArgs) -> TrainArgs {
        TrainArgs {
            data: self.data.or(lower.data),
            valid: self.valid.or(lower.valid),
            tokenizer: self.tokenizer.or(lower.tokenizer),
            max_vocab: self.max_vocab.or(lower.max_vocab),
            embed: self.embed.or(lower.embed),
            hidden: self.hidden.or(lower.hidden),
            activation: self.activation.or(lower.activation),
            seq_len: self.seq_len.or(lower.seq_len),
            batch: self.batch.or(lower.batch),
            steps: self.steps.or(lower.steps),
            lr: self.lr.or(lower.lr),
            schedule: self.schedule.or(lower.schedule),
            lr_decay: self.lr_decay.or(lower.lr_decay),
            lr_decay_every: self.lr_decay_every.or(lower.lr_decay_every),
            warmup: self.warmup.or(lower.warmup),
            min_lr: self.min_lr.or(lower.min_lr),
            optimizer: self.optimizer.or(lower.optimizer),
            momentum: self.momentum.or(lower.momentum),
            clip: self.clip.or(lower.clip),
            dropout: self.dropout.or(lower.dropout),
            seed: self.seed.or(lower.seed),
            eval_every: self.eval_every.or(lower.eval_every),
            eval_tokens: self.eval_tokens.or(lower.eval_tokens),
            save_every: self.save_every.or(lower.save_every),
            log_every: self.log_every.or(lower.log_every),
            max_minutes: self.max_minutes.or(lower.max_minutes),
            device: self.device.or(lower.device),
            adapter: self.adapter.or(lower.adapter),
            out: self.out.or(lower.out),
            init: self.init.or(lower.init),
            resume: self.resume.or(lower.resume),
            config: self.config.or(lower.config),
        }
    }

    /// The flags that reproduce stored settings (for `--resume`).
    fn from_settings(s: &RunSettings) -> TrainArgs {
        let (schedule, lr_decay, lr_decay_every, warmup, min_lr) = match s.schedule {
            LrSchedule::Constant => (ScheduleName::Constant, None, None, None, None),
            LrSchedule::Step { every, gamma } => (ScheduleName::Step, Some(gamma), Some(every), None, None),
            LrSchedule::Cosine { warmup, min_lr } => (ScheduleName::Cosine, None, None, Some(warmup), Some(min_lr)),
        };
        let (optimizer, momentum) = match s.update.optimizer {
            Optimizer::Sgd { momentum } => (OptimizerName::Sgd, Some(momentum)),
            Optimizer::Adam { .. } => (OptimizerName::Adam, None),
        };
        TrainArgs {
            data: s.data.clone(),
            valid: s.valid.clone(),
            tokenizer: Some(s.tokenizer),
            max_vocab: s.max_vocab,
            embed: Some(s.model.embed),
            hidden: Some(s.model.hidden.clone()),
            activation: Some(s.model.activation),
            seq_len: Some(s.seq_len),
            batch: Some(s.batch),
            steps: Some(s.steps),
            lr: Some(s.lr),
            schedule: Some(schedule),
            lr_decay,
            lr_decay_every,
            warmup,
            min_lr,
            optimizer: Some(optimizer),
            momentum,
            clip: Some(s.update.clip.unwrap_or(0.0)),
            dropout: Some(s.update.dropout),
            seed: Some(s.seed),
            eval_every: Some(s.eval_every),
            eval_tokens: Some(s.eval_tokens),
            save_every: Some(s.save_every),
            log_every: Some(s.log_every),
            ..TrainArgs::default()
        }
    }
}

/// Layered flags with every default filled in, checked.
fn resolve(a: &TrainArgs, vocab_size: usize) -> anyhow::Result<RunSettings> {
    let steps = a.steps.unwrap_or(300);
    let lr = a.lr.unwrap_or(2e-3);
    let clip = a.clip.unwrap_or(5.0);
    let momentum = a.momentum.unwrap_or(0.0);
    let dropout = a.dropout.unwrap_or(0.0);
    if !(lr > 0.0 && lr.is_finite()) {
        bail!("--lr must be a positive number, got {lr}");
    }
    if !(clip >= 0.0 && clip.is_finite()) {
        bail!("--clip must be ≥ 0 (0 turns clipping off), got {clip}");
    }
    if !(0.0..1.0).contains(&momentum) {
        bail!("--momentum must be in [0, 1), got {momentum}");
    }
    if !(0.0..1.0).contains(&dropout) {
        bail!("--dropout must be in [0, 1), got {dropout}");
    }
    let sizes = [("--embed", a.embed.unwrap_or(64)), ("--seq-len", a.seq_len.unwrap_or(64)), ("--batch", a.batch.unwrap_or(16))];
    for (name, value) in sizes {
        if value == 0 {
            bail!("{name} must be > 0");
        }
    }
    if steps == 0 {
        bail!("--steps must be > 0");
    }
    if let Some(m) = a.max_minutes.filter(|m| m.is_nan() || *m <= 0.0) {
        bail!("--max-minutes must be > 0, got {m}");
    }
    let hidden = a.hidden.clone().unwrap_or_else(|| vec![128]);
    if hidden.is_empty() || hidden.contains(&0) {
        bail!("--hidden must list widths > 0, got {hidden:?}");
    }
    let schedule = match a.schedule.unwrap_or(ScheduleName::Constant) {
        ScheduleName::Constant => LrSchedule::Constant,
        ScheduleName::Step => LrSchedule::Step { every: a.lr_decay_every.unwrap_or((steps / 4).max(1)), gamma: a.lr_decay.unwrap_or(0.5) },
        ScheduleName::Cosine => LrSchedule::Cosine { warmup: a.warmup.unwrap_or(0), min_lr: a.min_lr.unwrap_or(lr / 10.0) },
    };
    schedule.validate()?;
    let optimizer = match a.optimizer.unwrap_or(OptimizerName::Adam) {
        OptimizerName::Sgd => Optimizer::Sgd { momentum },
        OptimizerName::Adam => Optimizer::adam(),
    };
    let seed = a.seed.unwrap_or(1);
    let mut update = UpdateConfig::new(optimizer, (clip > 0.0).then_some(clip));
    update.dropout = dropout;
    update.dropout_seed = (seed as u32) ^ 0x9e37_79b9;
    let model = ModelConfig { vocab: vocab_size, embed: sizes[0].1, hidden, activation: a.activation.unwrap_or(Activation::Tanh) };
    model.validate()?;
    Ok(RunSettings {
        data: a.data.clone(),
        valid: a.valid.clone(),
        tokenizer: a.tokenizer.unwrap_or(TokenizerKind::Char),
        max_vocab: a.max_vocab,
        model,
        update,
        seq_len: sizes[1].1,
        batch: sizes[2].1,
        steps,
        lr,
        schedule,
        seed,
        eval_every: a.eval_every.unwrap_or(50),
        eval_tokens: a.eval_tokens.unwrap_or(0),
        save_every: a.save_every.unwrap_or(0),
        log_every: a.log_every.unwrap_or(20),
        max_minutes: a.max_minutes,
    })
}

fn load_corpus(a: &TrainArgs, tokenizer: TokenizerKind, vocab: Option<elman::data::Vocab>) -> anyhow::Result<Corpus> {
    Ok(match &a.data {
        Some(path) => Corpus::load(tokenizer, path, a.valid.as_deref(), a.max_vocab, vocab)?,
        None => {
            let valid = a.valid.as_deref().map(|p| elman::data::corpus::read_for(tokenizer, p)).transpose()?;
            Corpus::from_texts(tokenizer, DEFAULT_CORPUS.as_bytes(), valid.as_deref(), a.max_vocab, vocab)?
        }
    })
}

/// Fails when an explicitly given setting contradicts the checkpoint being resumed.
fn check_resume_matches(explicit: &TrainArgs, stored: &RunSettings, path: &Path) -> anyhow::Result<()> {
    let clash = |what: &str, given: String, stored: String| -> anyhow::Result<()> {
        bail!("--resume {}: {what} mismatch: the command line/config says {given}, the checkpoint has {stored}", path.display())
    };
    if let Some(t) = explicit.tokenizer.filter(|&t| t != stored.tokenizer) {
        clash("tokenizer", t.name().into(), stored.tokenizer.name().into())?;
    }
    if let Some(e) = explicit.embed.filter(|&e| e != stored.model.embed) {
        clash("--embed", e.to_string(), stored.model.embed.to_string())?;
    }
    if let Some(h) = explicit.hidden.as_ref().filter(|h| **h != stored.model.hidden) {
        clash("--hidden", format!("{h:?}"), format!("{:?}", stored.model.hidden))?;
    }
    if let Some(a) = explicit.activation.filter(|&a| a != stored.model.activation) {
        clash("--activation", a.name().into(), stored.model.activation.name().into())?;
    }
    if let Some(b) = explicit.batch.filter(|&b| b != stored.batch) {
        clash("--batch", b.to_string(), stored.batch.to_string())?;
    }
    if let Some(t) = explicit.seq_len.filter(|&t| t != stored.seq_len) {
        clash("--seq-len", t.to_string(), stored.seq_len.to_string())?;
    }
    Ok(())
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let from_file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read --config {}", path.display()))?;
            toml::from_str::<TrainArgs>(&text).map_err(|e| anyhow::anyhow!("--config {}: {}", path.display(), e.message()))?
        }
        None => TrainArgs::default(),
    };
    let explicit = args.clone().or(from_file);
    let resumed = match &explicit.resume {
        Some(p) => {
            let path = super::checkpoint_file(p);
            let ckpt = Checkpoint::load(&path)?;
            let (settings, progress) = train_loop::stored_run(&ckpt, &path)?;
            check_resume_matches(&explicit, &settings, &path)?;
            Some((path, ckpt, settings, progress))
        }
        None => None,
    };
    let layered = match &resumed {
        Some((path, _, settings, _)) => {
            let mut lower = TrainArgs::from_settings(settings);
            lower.out = path.parent().map(Path::to_path_buf);
            explicit.clone().or(lower)
        }
        None => explicit.clone(),
    };
    // Validate flags before touching any file.
    resolve(&layered, 1)?;
    let tokenizer = layered.tokenizer.unwrap_or(TokenizerKind::Char);
    let stored_vocab = resumed.as_ref().map(|(_, c, _, _)| c.vocab.clone()).map(|v| v.context("the checkpoint holds no vocabulary")).transpose()?;
    let corpus = load_corpus(&layered, tokenizer, stored_vocab).map_err(|e| match &resumed {
        Some((path, ..)) => e.context(format!("data does not match the vocabulary of {}", path.display())),
        None => e,
    })?;
    let settings = resolve(&layered, corpus.vocab.len())?;
    let model = settings.model.clone();
    // Fail on a too-short text before anything is written.
    elman::data::Batcher::new(corpus.train.len(), settings.batch, settings.seq_len)?;

    let (params, start) = match &resumed {
        Some((_, ckpt, _, progress)) => (ckpt.params.clone(), *progress),
        None => match &layered.init {
            Some(path) => (load_params(path, &model).with_context(|| format!("--init {}", path.display()))?, Progress::default()),
            None => (init_params(&model, settings.seed), Progress::default()),
        },
    };
    if start.step >= settings.steps {
        bail!("the run is already at step {} of --steps {}; pass a larger --steps to continue", start.step, settings.steps);
    }
    let device = layered.device.unwrap_or(DeviceChoice::Auto);
    let mut trainer = make_trainer(device, layered.adapter.as_deref(), &model, params, settings.update, settings.batch, settings.seq_len)?;
    if let Some((_, ckpt, _, _)) = &resumed {
        if let Some(opt) = &ckpt.optimizer {
            trainer.set_optimizer_state(opt)?;
        }
        if let Some(hidden) = &ckpt.hidden {
            trainer.set_hidden(hidden)?;
        }
    }
    let out = layered.out.clone().unwrap_or_else(default_run_dir);

    let source = settings.data.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "built-in manual".into());
    println!(
        "elman train: {source}: {} train / {} valid tokens, {} tokenizer, V = {}; model d={} h={:?} {}, {} parameters; device {}; {}out {}",
        corpus.train.len(),
        corpus.valid.len(),
        corpus.vocab.kind.name(),
        model.vocab,
        model.embed,
        model.hidden,
        model.activation.name(),
        model.parameter_count(),
        trainer.device_name(),
        if start.step > 0 { format!("resuming at step {}; ", start.step) } else { String::new() },
        out.display()
    );
    super::install_ctrlc_handler();
    let mut reporter = Reporter::new(settings.steps, (model.vocab as f64).ln());
    let outcome = train_loop::run(trainer.as_mut(), &corpus, &settings, start, &out, &mut |line| reporter.line(line));
    reporter.finish();
    let outcome = outcome?;
    let loss = outcome.last_valid_loss.map(|v| format!(", valid loss {v:.4} nats/token ({:.4} bits, perplexity {:.2})", v / std::f64::consts::LN_2, v.exp()));
    println!("saved {} at step {}{}", outcome.checkpoint.display(), outcome.progress.step, loss.unwrap_or_default());
    if outcome.interrupted {
        return Err(super::Interrupted { step: outcome.progress.step, checkpoint: outcome.checkpoint, out }.into());
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
