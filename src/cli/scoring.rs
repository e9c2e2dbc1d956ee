//! The flags `eval`, `query` and `rescore` share to score text with a checkpoint, alone or
//! combined with an n-gram model, the neural cache and dynamic evaluation, and the setup
//! they share: the checkpoint, the device, the n-gram model and λ.

use anyhow::{bail, Context};
use clap::Args;
use elman::combine::cache::NeuralCache;
use elman::combine::mixture::Bridge;
use elman::combine::text::Text;
use elman::combine::{self, NgramMix, Rnn, Settings, TokenScores};
use elman::ngram::lm::LanguageModel;
use elman::ngram::open::ModelFile;
use elman::rnn::data::vocab::Vocab;
use elman::rnn::devices::{gpu_context, DeviceChoice};
use elman::rnn::model::checkpoint::Checkpoint;
use elman::rnn::train::session::stored_run;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ScoringArgs {
    /// Checkpoint (or run directory).
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Chunk length (the state is carried across chunks; default: the run's --seq-len).
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Lines scored together when each line is a sentence of its own (--sentences, rescore).
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, value_parser = super::choices::choice::<DeviceChoice>(), default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub adapter: Option<String>,
    /// An n-gram model (ARPA or elman binary; word level, with sentence markers) to
    /// interpolate with, over the RNN's vocabulary: p = λ·p_rnn + (1 − λ)·p_ngram.
    #[arg(long)]
    pub ngram: Option<PathBuf>,
    /// λ, the RNN's weight in the interpolation: a number in [0, 1], or `auto` to fit it by
    /// EM on --tune-on [default: auto when --tune-on is given].
    #[arg(long)]
    pub lambda: Option<String>,
    /// Held-out text to fit λ on (scored with the same settings).
    #[arg(long)]
    pub tune_on: Option<PathBuf>,
    /// Neural cache: the number N of recent top-layer outputs it holds (off without).
    #[arg(long)]
    pub cache_size: Option<usize>,
    /// Neural cache: θ, the inverse temperature of p_cache ∝ Σ exp(θ·h_t·h_i).
    #[arg(long, default_value_t = 0.3)]
    pub cache_theta: f64,
    /// Neural cache: λc, its weight: (1 − λc)·p_rnn + λc·p_cache.
    #[arg(long, default_value_t = 0.1)]
    pub cache_lambda: f64,
    /// Dynamic evaluation: after each chunk is scored, one SGD step on it at this rate
    /// (the weights keep adapting through the text; a token never sees its own gradient).
    #[arg(long)]
    pub dynamic_lr: Option<f32>,
}

/// What λ the user asked for.
enum LambdaChoice {
    Fixed(f64),
    Auto(PathBuf),
}

/// A checkpoint on its device, with the n-gram model and λ when mixing: ready to score.
pub struct Scoring<'a> {
    pub vocab: &'a Vocab,
    pub rnn: Rnn<'a>,
    pub settings: Settings,
    ngram: Option<(&'a dyn LanguageModel, &'a Bridge)>,
    /// λ, when an n-gram model is mixed in.
    pub lambda: Option<f64>,
}

impl Scoring<'_> {
    /// Every predicted token's scores under the whole combination.
    pub fn score(&self, text: &Text) -> anyhow::Result<TokenScores> {
        let mix = match (self.ngram, self.lambda) {
            (Some((model, bridge)), Some(lambda)) => Some(NgramMix { model, bridge, lambda }),
            _ => None,
        };
        Ok(combine::score(&self.rnn, text, &self.settings, mix.as_ref())?)
    }

    /// Tokenizes a file (or already read bytes) for this checkpoint's vocabulary.
    pub fn text(&self, bytes: &[u8], name: &str) -> anyhow::Result<Text> {
        Text::new(self.vocab, bytes).with_context(|| format!("{name} does not match the model's vocabulary"))
    }
}

/// Loads the checkpoint, opens the device and the n-gram model, fits λ when asked, and
/// runs `body` with the result. `sentences`: score each line on its own.
pub fn with_scoring<R>(args: &ScoringArgs, sentences: bool, body: impl FnOnce(&Scoring) -> anyhow::Result<R>) -> anyhow::Result<R> {
    let path = super::checkpoint_file(&args.ckpt);
    let ckpt = Checkpoint::load(&path)?;
    let vocab = ckpt.vocab.as_ref().with_context(|| format!("{} holds no vocabulary", path.display()))?;
    let seq_len = args.seq_len.or_else(|| stored_run(&ckpt, &path).ok().map(|(s, _)| s.seq_len)).unwrap_or(64);
    let cache = args.cache_size.map(|size| NeuralCache { size, theta: args.cache_theta, lambda: args.cache_lambda });
    let settings = Settings { seq_len, sentences: sentences.then_some(args.batch), cache, dynamic_lr: args.dynamic_lr };
    combine::check(&settings)?;
    let lambda = lambda_choice(args)?;
    let gpu = gpu_context(args.device, args.adapter.as_deref(), "scoring")?;
    let rnn = Rnn { config: &ckpt.config, params: &ckpt.params, gpu };
    let Some(ngram_path) = &args.ngram else {
        return body(&Scoring { vocab, rnn, settings, ngram: None, lambda: None });
    };
    let lambda = lambda.context("--ngram needs --lambda λ (the RNN's weight, 0 to 1), or --tune-on FILE to fit it")?;
    let file = ModelFile::open(ngram_path)?;
    file.with(|model| {
        let bridge = Bridge::new(vocab, model).with_context(|| ngram_path.display().to_string())?;
        let lambda = match lambda {
            LambdaChoice::Fixed(x) => x,
            LambdaChoice::Auto(tune) => {
                let bytes = read_file(&tune)?;
                let text = Text::new(vocab, &bytes).with_context(|| format!("{} does not match the model's vocabulary", tune.display()))?;
                let x = combine::tune_lambda(&rnn, &text, &settings, model, &bridge)?;
                eprintln!("λ = {x:.4}, fitted by EM on {} ({} tokens)", tune.display(), text.token_count());
                x
            }
        };
        body(&Scoring { vocab, rnn, settings, ngram: Some((model, &bridge)), lambda: Some(lambda) })
    })?
}

fn lambda_choice(args: &ScoringArgs) -> anyhow::Result<Option<LambdaChoice>> {
    if args.ngram.is_none() && (args.lambda.is_some() || args.tune_on.is_some()) {
        bail!("--lambda and --tune-on weigh an n-gram model against the RNN; give one with --ngram");
    }
    Ok(match (args.lambda.as_deref(), &args.tune_on) {
        (None, None) => None,
        (None | Some("auto"), Some(tune)) => Some(LambdaChoice::Auto(tune.clone())),
        (Some("auto"), None) => bail!("--lambda auto fits λ on held-out text: give it with --tune-on FILE"),
        (Some(x), tune) => {
            if tune.is_some() {
                bail!("--tune-on fits λ, and --lambda {x} fixes it: give one or the other");
            }
            match x.parse::<f64>() {
                Ok(v) if (0.0..=1.0).contains(&v) => Some(LambdaChoice::Fixed(v)),
                _ => bail!("--lambda must be a number from 0 to 1, or auto; got {x:?}"),
            }
        }
    })
}

/// A whole file's bytes; a missing or empty file is an error naming it.
pub fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    Ok(elman::rnn::data::text::read_bytes(path)?)
}

/// A file's bytes, or standard input's without one, and a name for messages.
pub fn read_input(path: Option<&Path>) -> anyhow::Result<(Vec<u8>, String)> {
    match path {
        Some(p) => Ok((read_file(p)?, p.display().to_string())),
        None => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).context("cannot read standard input")?;
            Ok((bytes, "standard input".into()))
        }
    }
}
