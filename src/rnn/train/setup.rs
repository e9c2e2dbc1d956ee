//! Everything a training run settles before its first step, in order, with nothing written
//! until all of it has passed: the run to resume (and what it fixes), the settings layered
//! and checked, the corpus and its vocabulary, the model, the memory it needs, its
//! parameters (resumed, `--init`, or seeded); then the run folder's lock and the trainer on
//! its device ([`TrainingRun::start`]).
//!
//! Layering, lowest first: defaults < a resumed run's stored settings < the config file <
//! the flags (the last two arrive merged as `explicit`).

use super::session::{self, Progress};
use super::settings::{ScheduleKind, SettingsLayer, TrainSettings};
use crate::choice::Choice;
use crate::error::{ElmanError, Result};
use crate::host::clock::utc_stamp;
use crate::host::run_lock::RunLock;
use crate::rnn::backend::Trainer;
use crate::rnn::data::corpus::read_for;
use crate::rnn::data::{Batcher, Corpus, Vocab};
use crate::rnn::devices::make_trainer;
use crate::rnn::memory;
use crate::rnn::model::checkpoint::{load_params, Checkpoint};
use crate::rnn::model::init::init_params;
use crate::rnn::model::{ModelConfig, Params};
use std::path::{Path, PathBuf};

/// The built-in corpus: elman's own manual, so that a run needs no data to start.
pub const DEFAULT_CORPUS: &str = include_str!("../../../corpus/manual.txt");

/// A run being continued from its checkpoint.
pub struct Resumed {
    pub checkpoint: PathBuf,
    pub ckpt: Checkpoint,
    pub settings: TrainSettings,
    pub progress: Progress,
}

impl Resumed {
    /// Reads the checkpoint at `checkpoint` and refuses `explicit` settings that
    /// contradict what the run fixes (its shape, tokenizer, batch, chunk length).
    pub fn read(checkpoint: &Path, explicit: &SettingsLayer) -> Result<Resumed> {
        let ckpt = Checkpoint::load(checkpoint)?;
        let (settings, progress) = session::stored_run(&ckpt, checkpoint)?;
        if let Some(c) = settings.resume_clash(explicit) {
            return Err(ElmanError::ResumeClash { checkpoint: checkpoint.to_path_buf(), key: c.key, given: c.given, stored: c.stored });
        }
        Ok(Resumed { checkpoint: checkpoint.to_path_buf(), ckpt, settings, progress })
    }
}

/// A run with everything checked, ready to start.
pub struct TrainingRun {
    pub settings: TrainSettings,
    pub corpus: Corpus,
    pub model: ModelConfig,
    pub params: Params<f32>,
    /// Where the run starts (step 0, or the resumed run's progress) and its last step.
    pub start: Progress,
    pub total: u64,
    pub out: PathBuf,
    /// Settings given that the chosen schedule or optimizer does not read.
    pub unused: Vec<&'static str>,
    pub resumed: Option<Resumed>,
}

impl TrainingRun {
    /// Layers and checks the settings, loads the corpus, sizes the model and chooses its
    /// parameters: every check a run makes before it writes anything.
    pub fn plan(explicit: SettingsLayer, resumed: Option<Resumed>) -> Result<TrainingRun> {
        // A resumed run writes into its own folder and starts from its own parameters.
        let layered = match &resumed {
            Some(r) => {
                let lower = SettingsLayer { out: Some(r.checkpoint.parent().map(Path::to_path_buf)), init: Some(None), ..SettingsLayer::from(&r.settings) };
                explicit.clone().or(lower)
            }
            None => explicit.clone(),
        };
        let mut settings = layered.resolve()?;
        let stored_vocab = match &resumed {
            Some(r) => Some(r.ckpt.vocab.clone().ok_or_else(|| ElmanError::Checkpoint { path: r.checkpoint.clone(), detail: "holds no vocabulary".into() })?),
            None => None,
        };
        let corpus = load_corpus(&settings, stored_vocab).map_err(|e| match &resumed {
            Some(r) => ElmanError::Data { what: format!("data does not match the vocabulary of {}", r.checkpoint.display()), detail: e.to_string() },
            None => e,
        })?;
        let model = settings.model_config(corpus.vocab.len());
        model.validate()?;
        // A too-short text fails here, before anything is written.
        let batcher = Batcher::new(corpus.train.len(), settings.batch, settings.seq_len)?;
        let total = settings.total_steps(batcher.batches_per_epoch());
        if resumed.is_none() && settings.schedule == ScheduleKind::Step {
            // Fixed at the start and stored, so a resumed, longer run keeps the interval.
            settings.lr_decay_every.get_or_insert((total / 4).max(1));
        }
        let unused = settings.unused_settings(&explicit);
        // The parameters, their gradients and moments must fit before the first is
        // allocated (the CPU trainer checks its activations too, once the device is known).
        let (n, t) = (settings.batch, settings.seq_len);
        memory::check("training this model", memory::training_need(&model, n, t, false), |available| memory::fitting_setting(&model, n, t, false, available))?;
        let out = settings.out.clone().unwrap_or_else(|| PathBuf::from(format!("runs/{}", utc_stamp())));
        let (params, start) = match &resumed {
            Some(r) => (r.ckpt.params.clone(), r.progress),
            None => match &settings.init {
                Some(path) => {
                    let params = load_params(path, &model).map_err(|e| ElmanError::InSetting { key: "init", value: path.display().to_string(), source: Box::new(e) })?;
                    (params, Progress::default())
                }
                None => (init_params(&model, settings.seed), Progress::default()),
            },
        };
        if start.step >= total {
            let key = if settings.epochs.is_some() { "epochs" } else { "steps" };
            return Err(ElmanError::RunFinished { step: start.step, total, key });
        }
        Ok(TrainingRun { settings, corpus, model, params, start, total, out, unused, resumed })
    }

    /// Takes the run folder's lock (held until the run ends; with the pid of a dead holder
    /// whose lock it took over) and builds the trainer on the chosen device, with a resumed
    /// run's optimizer state and carried hidden state.
    pub fn start(&self) -> Result<(RunLock, Option<u32>, Box<dyn Trainer>)> {
        let (lock, stale) = RunLock::acquire(&self.out)?;
        let s = &self.settings;
        let mut trainer = make_trainer(s.device, s.adapter.as_deref(), &self.model, self.params.clone(), s.update_config(), s.batch, s.seq_len)?;
        if let Some(r) = &self.resumed {
            if let Some(opt) = &r.ckpt.optimizer {
                trainer.set_optimizer_state(opt)?;
            }
            if let Some(hidden) = &r.ckpt.hidden {
                trainer.set_hidden(hidden)?;
            }
        }
        Ok((lock, stale, trainer))
    }

    /// The line a run starts with: data, model, device and folder.
    pub fn describe(&self, device: &str) -> String {
        let (s, m) = (&self.settings, &self.model);
        let source = s.data.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "built-in manual".into());
        format!(
            "elman train: {source}: {} train / {} valid tokens, {} tokenizer, V = {}; model d={} h={:?} {} {} cell{}, {} parameters; device {device}; {}out {}",
            self.corpus.train.len(),
            self.corpus.valid.len(),
            self.corpus.vocab.kind.name(),
            m.vocab,
            m.embed,
            m.hidden,
            m.activation.name(),
            m.cell.name(),
            if m.tied { ", tied weights" } else { "" },
            m.parameter_count().expect("a validated model counts its parameters in 64 bits"),
            if self.start.step > 0 { format!("resuming at step {}; ", self.start.step) } else { String::new() },
            self.out.display()
        )
    }
}

/// The training and validation texts the settings name (the built-in manual without
/// `data`), over `vocab` when a resumed run brings its own.
fn load_corpus(s: &TrainSettings, vocab: Option<Vocab>) -> Result<Corpus> {
    match &s.data {
        Some(path) => Corpus::load(s.tokenizer, path, s.valid.as_deref(), s.max_vocab, vocab),
        None => {
            let valid = s.valid.as_deref().map(|p| read_for(s.tokenizer, p)).transpose()?;
            Corpus::from_texts(s.tokenizer, DEFAULT_CORPUS.as_bytes(), valid.as_deref(), s.max_vocab, vocab)
        }
    }
}
