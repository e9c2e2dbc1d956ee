//! `elman gradflow`: the gradient flow through time of one long chunk, for a trained model
//! (`--ckpt`) or a freshly initialised one (sizes, activation and `--init-scale`, the factor
//! W_hh is scaled by, i.e. its spectral radius relative to the default initialisation).

use super::choices::choice;
use anyhow::{bail, Context};
use clap::Args;
use elman::rnn::data::batcher::Batch;
use elman::rnn::data::corpus::read_for;
use elman::choice::Choice;
use elman::rnn::data::{Corpus, TokenizerKind};
use elman::rnn::train::gradflow::gradflow_svg;
use elman::rnn::model::checkpoint::Checkpoint;
use elman::rnn::model::init::init_params;
use elman::rnn::model::{Activation, Cell, ModelConfig};
use elman::rnn::backend::{Optimizer, UpdateConfig};
use elman::rnn::devices::{gpu_context, make_trainer_on, DeviceChoice};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct GradflowArgs {
    /// A trained checkpoint (or run directory); without it a fresh model is initialised.
    #[arg(long)]
    pub ckpt: Option<PathBuf>,
    /// The text whose first chunk is measured.
    #[arg(long)]
    pub data: PathBuf,
    /// Chunk length T.
    #[arg(long, default_value_t = 200)]
    pub seq_len: usize,
    /// Rows n of the chunk (consecutive stretches of the text).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Fresh model: tokenizer.
    #[arg(long, value_parser = choice::<TokenizerKind>(), default_value = "char")]
    pub tokenizer: TokenizerKind,
    /// Fresh model: hidden widths, e.g. 128 or 256,256.
    #[arg(long, value_delimiter = ',', default_value = "128")]
    pub hidden: Vec<usize>,
    /// Fresh model: embedding width.
    #[arg(long, default_value_t = 64)]
    pub embed: usize,
    #[arg(long, value_parser = choice::<Activation>(), default_value = "tanh")]
    pub activation: Activation,
    /// Scale W_hh of every layer by this factor after initialising (or loading); a list
    /// (0.5,1,3) measures each and draws them in one picture, smaller scales lighter.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub init_scale: Vec<f32>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Clip threshold θ for the reported clip factor (0 = none).
    #[arg(long, default_value_t = 5.0)]
    pub clip: f32,
    /// Where to draw the SVG; the records go beside it as JSON lines (gradflow.jsonl for
    /// gradflow.svg), one per --init-scale.
    #[arg(long, default_value = "gradflow.svg")]
    pub out: PathBuf,
    /// Print the record as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Fresh model: the recurrent cell.
    #[arg(long, value_parser = choice::<Cell>(), default_value = "elman")]
    pub cell: Cell,
    /// Where to measure: the GPU's backward waves record ∂L/∂H_t themselves.
    #[arg(long, value_parser = choice::<DeviceChoice>(), default_value = "auto")]
    pub device: DeviceChoice,
    /// GPU adapter whose name contains this text.
    #[arg(long)]
    pub adapter: Option<String>,
}

pub fn run(a: GradflowArgs) -> anyhow::Result<()> {
    if a.seq_len == 0 || a.batch == 0 {
        bail!("--seq-len and --batch must be > 0");
    }
    if let Some(bad) = a.init_scale.iter().find(|s| !s.is_finite() || **s < 0.0) {
        bail!("--init-scale must be finite numbers ≥ 0, got {bad}");
    }
    let (config, params, tokens, what) = match &a.ckpt {
        Some(path) => {
            let path = super::checkpoint_file(path);
            let ckpt = Checkpoint::load(&path)?;
            let vocab = ckpt.vocab.clone().with_context(|| format!("{} holds no vocabulary", path.display()))?;
            let text = read_for(vocab.kind, &a.data)?;
            let tokens = vocab.encode_stream(&text).with_context(|| format!("{} does not match the vocabulary of {}", a.data.display(), path.display()))?;
            (ckpt.config.clone(), ckpt.params, tokens, path.display().to_string())
        }
        None => {
            let text = read_for(a.tokenizer, &a.data)?;
            let corpus = Corpus::from_texts(a.tokenizer, &text, Some(&text), None, None)?;
            let config = ModelConfig { vocab: corpus.vocab.len(), embed: a.embed, hidden: a.hidden.clone(), activation: a.activation, tied: false, cell: a.cell };
            config.validate()?;
            let params = init_params(&config, a.seed);
            (config, params, corpus.valid, "a fresh model".to_string())
        }
    };
    elman::rnn::memory::check("measuring this model", elman::rnn::memory::training_need(&config, a.batch, a.seq_len, true), |available| {
        elman::rnn::memory::fitting_setting(&config, a.batch, a.seq_len, true, available)
    })?;
    let (n, t) = (a.batch, a.seq_len);
    let stride = tokens.len().saturating_sub(1) / n;
    if stride < t {
        bail!("{}: {} tokens cannot fill {n} rows of --seq-len {t}", a.data.display(), tokens.len());
    }
    // Time-major rows: row r of step s is token r·stride + s.
    let mut inputs = Vec::with_capacity(n * t);
    let mut targets = Vec::with_capacity(n * t);
    for s in 0..t {
        for r in 0..n {
            inputs.push(tokens[r * stride + s]);
            targets.push(tokens[r * stride + s + 1]);
        }
    }
    let batch = Batch { n, t, inputs, targets };
    let mut scales = a.init_scale.clone();
    scales.sort_by(f32::total_cmp);
    let mut flows = Vec::with_capacity(scales.len());
    let mut device = String::new();
    // One device for every scale (a GPU's pipelines are built once).
    let gpu = gpu_context(a.device, a.adapter.as_deref(), "measuring")?;
    for &scale in &scales {
        let mut scaled = params.clone();
        for l in 0..config.layers() {
            scaled.w_hh_mut(l).iter_mut().for_each(|w| *w *= scale);
        }
        // A trainer from a zero state measures without training (no dropout, no update).
        let update = UpdateConfig::new(Optimizer::Sgd { momentum: 0.0 }, (a.clip > 0.0).then_some(a.clip));
        let mut trainer = make_trainer_on(gpu.clone(), &config, scaled, update, n, t)?;
        flows.push(trainer.gradient_flow(&batch, 0)?);
        device = trainer.device_name();
    }
    let shown: Vec<String> = scales.iter().map(|s| s.to_string()).collect();
    let title = format!("gradient flow: {what}, h={:?} {}, W_hh × {}, T={t}", config.hidden, config.activation.name(), shown.join(" / "));
    elman::host::atomic_file::write_atomic(&a.out, gradflow_svg(&title, &flows).as_bytes())?;
    let records: Vec<String> = flows.iter().map(serde_json::to_string).collect::<Result<_, _>>()?;
    let jsonl = a.out.with_extension("jsonl");
    elman::host::atomic_file::write_atomic(&jsonl, (records.join("\n") + "\n").as_bytes())?;
    for (scale, flow) in scales.iter().zip(&flows) {
        if a.json {
            println!("{}", serde_json::to_string(&flow)?);
            continue;
        }
        println!("W_hh × {scale}: loss {:.4} nats/token, ‖g‖ {:.4e}, clip factor {:.4}", flow.loss, flow.grad_norm, flow.clip_factor);
        for (l, layer) in flow.layers.iter().enumerate() {
            let g = &layer.hidden_grad_norms;
            let last = g[g.len() - 1];
            println!(
                "  layer {l}: ‖∂L/∂H_t‖ at t = 0: {:.3e}, t = T/2: {:.3e}, t = T−1: {:.3e} (first/last {:.3e}); ‖∂L/∂W_hh‖ {:.3e}",
                g[0],
                g[g.len() / 2],
                last,
                g[0] / last,
                layer.w_hh_grad_norm
            );
        }
    }
    if !a.json {
        println!("measured on {device}; drawn to {} (smaller scales lighter), records in {}", a.out.display(), jsonl.display());
    }
    Ok(())
}
