//! `elman train`: the flags (one per setting of the library's table, elman::rnn::train::settings; also
//! readable from `--config run.toml`), resume, and the run that wires data, model, device
//! and loop together. Precedence: command-line flags, then the config file, then (with
//! `--resume`) the checkpoint's stored settings, then defaults.

use elman::rnn::devices::make_trainer;
use elman::choice::Choice;
use super::progress::Reporter;
use anyhow::{bail, Context};
use elman::rnn::data::Corpus;
use elman::rnn::model::checkpoint::{load_params, Checkpoint};
use elman::rnn::model::init::init_params;
use elman::rnn::train::settings::{setting_infos, Resume, ScheduleKind, SettingsLayer, TrainSettings};
use elman::rnn::train::session::{self, Progress};
use std::path::{Path, PathBuf};

/// The built-in corpus: elman's own manual, so `elman train` runs with no arguments.
pub const DEFAULT_CORPUS: &str = include_str!("../../corpus/manual.txt");

/// The flags of `elman train`: every setting of the library's table (elman::rnn::train::settings) as
/// `--key`, plus `--resume` and `--config`, which only the command line has.
#[derive(Clone, Debug, Default)]
pub struct TrainArgs {
    pub options: SettingsLayer,
    /// Continue a run: its directory or checkpoint.
    pub resume: Option<PathBuf>,
    /// Read settings from a TOML file.
    pub config: Option<PathBuf>,
}

impl clap::Args for TrainArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        use clap::{Arg, ArgAction};
        let mut cmd = cmd;
        for info in setting_infos() {
            let fixed = if info.resume == Resume::Fixed { "; a resumed run keeps its own" } else { "" };
            let mut arg = Arg::new(info.key).long(info.key).help(format!("{} [default: {}{fixed}]", info.help.trim_end_matches('.'), info.default));
            if info.switch {
                arg = arg.action(ArgAction::SetTrue);
            } else {
                arg = arg.action(ArgAction::Set).value_name(info.key.to_uppercase().replace('-', "_"));
                if let Some(choices) = info.choices {
                    arg = arg.value_parser(super::choices::possible_values(choices));
                }
            }
            cmd = cmd.arg(arg);
        }
        cmd.arg(
            Arg::new("resume")
                .long("resume")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Continue a run: its directory or checkpoint (optimizer, step, data position restored)"),
        )
        .arg(
            Arg::new("config")
                .long("config")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Read settings from a TOML file (keys as the flags, e.g. `hidden = [512, 256]`)"),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for TrainArgs {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut options = SettingsLayer::default();
        for info in setting_infos() {
            let text = if info.switch { m.get_flag(info.key).then(|| "true".to_string()) } else { m.get_one::<String>(info.key).cloned() };
            if let Some(text) = text {
                options.set(info.key, &text).map_err(|e| {
                    clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("invalid value '{text}' for '--{}': {e}\n", info.key))
                })?;
            }
        }
        Ok(TrainArgs { options, resume: m.get_one::<PathBuf>("resume").cloned(), config: m.get_one::<PathBuf>("config").cloned() })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

fn load_corpus(s: &TrainSettings, vocab: Option<elman::rnn::data::Vocab>) -> anyhow::Result<Corpus> {
    Ok(match &s.data {
        Some(path) => Corpus::load(s.tokenizer, path, s.valid.as_deref(), s.max_vocab, vocab)?,
        None => {
            let valid = s.valid.as_deref().map(|p| elman::rnn::data::corpus::read_for(s.tokenizer, p)).transpose()?;
            Corpus::from_texts(s.tokenizer, DEFAULT_CORPUS.as_bytes(), valid.as_deref(), s.max_vocab, vocab)?
        }
    })
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let from_file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read --config {}", path.display()))?;
            toml::from_str::<SettingsLayer>(&text).map_err(|e| anyhow::anyhow!("--config {}: {}", path.display(), e.message()))?
        }
        None => SettingsLayer::default(),
    };
    let explicit = args.options.clone().or(from_file);
    let resumed = match &args.resume {
        Some(p) => {
            let path = super::checkpoint_file(p);
            let ckpt = Checkpoint::load(&path)?;
            let (stored, progress) = session::stored_run(&ckpt, &path)?;
            if let Some(c) = stored.resume_clash(&explicit) {
                bail!(
                    "--resume {}: --{} mismatch: the command line/config says {}, the checkpoint has {}",
                    path.display(),
                    c.key,
                    c.given,
                    c.stored
                );
            }
            Some((path, ckpt, stored, progress))
        }
        None => None,
    };
    // Defaults < the resumed run's settings < the config file < the flags; a resumed run
    // writes into its own folder and starts from its own parameters.
    let layered = match &resumed {
        Some((path, _, stored, _)) => {
            let lower = SettingsLayer { out: Some(path.parent().map(Path::to_path_buf)), init: Some(None), ..SettingsLayer::from(stored) };
            explicit.clone().or(lower)
        }
        None => explicit.clone(),
    };
    // Every setting checked before any file is touched.
    let mut settings = layered.resolve()?;
    let stored_vocab = resumed.as_ref().map(|(_, c, _, _)| c.vocab.clone()).map(|v| v.context("the checkpoint holds no vocabulary")).transpose()?;
    let corpus = load_corpus(&settings, stored_vocab).map_err(|e| match &resumed {
        Some((path, ..)) => e.context(format!("data does not match the vocabulary of {}", path.display())),
        None => e,
    })?;
    let model = settings.model_config(corpus.vocab.len());
    model.validate()?;
    // Fail on a too-short text before anything is written.
    let batcher = elman::rnn::data::Batcher::new(corpus.train.len(), settings.batch, settings.seq_len)?;
    let total = settings.total_steps(batcher.batches_per_epoch());
    if resumed.is_none() && settings.schedule == ScheduleKind::Step {
        // Fixed at the start and stored, so a resumed, longer run keeps the interval.
        settings.lr_decay_every.get_or_insert((total / 4).max(1));
    }

    let unused = settings.unused_settings(&explicit);
    if !unused.is_empty() {
        let keys = unused.iter().map(|k| format!("--{k}")).collect::<Vec<_>>().join(", ");
        println!("note: {keys} unused with schedule {} and optimizer {}", settings.schedule.name(), settings.optimizer.name());
    }
    // The parameters, their gradients and moments must fit before the first is allocated
    // (the CPU trainer checks its activations too, once the device is known).
    let (n, t) = (settings.batch, settings.seq_len);
    elman::rnn::memory::check("training this model", elman::rnn::memory::training_need(&model, n, t, false), |available| {
        elman::rnn::memory::fitting_setting(&model, n, t, false, available)
    })?;
    let out = settings.out.clone().unwrap_or_else(default_run_dir);
    let (params, start) = match &resumed {
        Some((_, ckpt, _, progress)) => (ckpt.params.clone(), *progress),
        None => match &settings.init {
            Some(path) => (load_params(path, &model).with_context(|| format!("--init {}", path.display()))?, Progress::default()),
            None => (init_params(&model, settings.seed), Progress::default()),
        },
    };
    if start.step >= total {
        let more = if settings.epochs.is_some() { "--epochs" } else { "--steps" };
        bail!("the run is already at step {} of {total}; pass a larger {more} to continue", start.step);
    }
    // One run per folder, from here until the run ends.
    let (_lock, stale) = elman::host::run_lock::RunLock::acquire(&out)?;
    if let Some(pid) = stale {
        println!("note: took over the lock of {} from pid {pid}, which is no longer running", out.display());
    }
    let mut trainer = make_trainer(settings.device, settings.adapter.as_deref(), &model, params, settings.update_config(), settings.batch, settings.seq_len)?;
    if let Some((_, ckpt, _, _)) = &resumed {
        if let Some(opt) = &ckpt.optimizer {
            trainer.set_optimizer_state(opt)?;
        }
        if let Some(hidden) = &ckpt.hidden {
            trainer.set_hidden(hidden)?;
        }
    }

    let source = settings.data.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "built-in manual".into());
    println!(
        "elman train: {source}: {} train / {} valid tokens, {} tokenizer, V = {}; model d={} h={:?} {} {} cell{}, {} parameters; device {}; {}out {}",
        corpus.train.len(),
        corpus.valid.len(),
        corpus.vocab.kind.name(),
        model.vocab,
        model.embed,
        model.hidden,
        model.activation.name(),
        model.cell.name(),
        if model.tied { ", tied weights" } else { "" },
        model.parameter_count().expect("a validated model counts its parameters in 64 bits"),
        trainer.device_name(),
        if start.step > 0 { format!("resuming at step {}; ", start.step) } else { String::new() },
        out.display()
    );
    super::install_ctrlc_handler();
    let mut reporter = Reporter::new(total, (model.vocab as f64).ln());
    let outcome = session::run(trainer.as_mut(), &corpus, &settings, start, &out, &mut |line| reporter.line(line));
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
