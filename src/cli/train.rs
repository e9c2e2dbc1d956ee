//! `elman train`: the flags (one per setting of the library's table,
//! src/rnn/train/settings/table.rs; also readable from `--config run.toml`) and `--resume`,
//! handed to the library's run setup (src/rnn/train/setup.rs) and loop, with the progress
//! display and Ctrl-C. Precedence: command-line flags, then the config file, then (with
//! `--resume`) the checkpoint's stored settings, then defaults.

use super::progress::Reporter;
use anyhow::Context;
use elman::choice::Choice;
use elman::rnn::train::session;
use elman::rnn::train::settings::{setting_infos, Resume, SettingsLayer};
use elman::rnn::train::setup::{Resumed, TrainingRun};
use std::path::PathBuf;

/// The flags of `elman train`: every setting of the library's table as
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

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let from_file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read --config {}", path.display()))?;
            toml::from_str::<SettingsLayer>(&text).map_err(|e| anyhow::anyhow!("--config {}: {}", path.display(), e.message()))?
        }
        None => SettingsLayer::default(),
    };
    let explicit = args.options.or(from_file);
    let resumed = args.resume.as_deref().map(|p| Resumed::read(&super::checkpoint_file(p), &explicit)).transpose()?;
    let run = TrainingRun::plan(explicit, resumed)?;
    if !run.unused.is_empty() {
        let keys = run.unused.iter().map(|k| format!("--{k}")).collect::<Vec<_>>().join(", ");
        println!("note: {keys} unused with schedule {} and optimizer {}", run.settings.schedule.name(), run.settings.optimizer.name());
    }
    // One run per folder, from here until the run ends.
    let (_lock, stale, mut trainer) = run.start()?;
    if let Some(pid) = stale {
        println!("note: took over the lock of {} from pid {pid}, which is no longer running", run.out.display());
    }
    println!("{}", run.describe(&trainer.device_name()));
    super::install_ctrlc_handler();
    let mut reporter = Reporter::new(run.total, (run.model.vocab as f64).ln());
    let outcome = session::run(trainer.as_mut(), &run.corpus, &run.settings, run.start, &run.out, &mut |line| reporter.line(line));
    reporter.finish();
    let outcome = outcome?;
    let loss = outcome.last_valid_loss.map(|v| format!(", valid loss {v:.4} nats/token ({:.4} bits, perplexity {:.2})", v / std::f64::consts::LN_2, v.exp()));
    println!("saved {} at step {}{}", outcome.checkpoint.display(), outcome.progress.step, loss.unwrap_or_default());
    if outcome.interrupted {
        return Err(super::Interrupted { step: outcome.progress.step, checkpoint: outcome.checkpoint, out: run.out }.into());
    }
    Ok(())
}
