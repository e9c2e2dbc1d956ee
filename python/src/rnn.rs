//! RNN checkpoints from Python: `Rnn` scores a text as `elman eval` and `elman query`
//! do, samples as `elman sample` does, and steps one token at a time from a state the
//! caller holds (`RnnState`), for decoders.
//!
//! Every score is log10, as in `elman query` and KenLM's module. Stepping runs on the CPU
//! whatever the device: one token at a time is latency-bound, and the state then lives in
//! Python's hands between calls.

use crate::arrays::f64_array;
use crate::errors::{load_error, to_py, value_error};
use crate::text::{bytes_of, path_of};
use elman::choice::Choice;
use elman::combine::text::Text;
use elman::combine::{self, Settings};
use elman::error::ElmanError;
use elman::rnn::backend::{check_token, DeviceChoice, NextToken};
use elman::rnn::cpu::CpuGenerator;
use elman::rnn::data::vocab::Vocab;
use elman::rnn::devices::{gpu_context, make_generator_on};
use elman::rnn::gpu::GpuContext;
use elman::rnn::model::checkpoint::Checkpoint;
use elman::rnn::sample::{encode_prime, generate, SampleOptions};
use elman::rnn::train::session::{checkpoint_file, stored_run};
use pyo3::prelude::*;
use pyo3::types::PyInt;
use std::path::PathBuf;
use std::sync::Arc;

/// A trained RNN checkpoint, on the CPU or a GPU.
#[pyclass(frozen, module = "elman")]
pub struct Rnn {
    ckpt: Checkpoint,
    vocab: Vocab,
    path: PathBuf,
    /// Chunk length T for scoring: the run's `--seq-len`, as `elman eval` uses it.
    seq_len: usize,
    gpu: Option<Arc<GpuContext>>,
    device: String,
}

impl Rnn {
    fn settings(&self, sentences: bool, batch: usize) -> Settings {
        Settings { seq_len: self.seq_len, sentences: sentences.then_some(batch), cache: None, dynamic_lr: None }
    }

    /// The total and per-token log10 probabilities of `bytes`, and the totals.
    fn scored(&self, bytes: &[u8], sentences: bool, batch: usize) -> elman::error::Result<(Vec<f64>, elman::ngram::eval::Evaluation)> {
        let text = Text::new(&self.vocab, bytes)?;
        let rnn = combine::Rnn { config: &self.ckpt.config, params: &self.ckpt.params, gpu: self.gpu.clone() };
        let scores = combine::score(&rnn, &text, &self.settings(sentences, batch), None)?;
        let totals = scores.totals(&text);
        Ok((scores.mixed, totals))
    }

    /// A token given as an id or as its spelling.
    fn token_id(&self, token: &Bound<'_, PyAny>) -> PyResult<u32> {
        if let Ok(id) = token.cast::<PyInt>() {
            let id: u64 = id.extract().map_err(|_| value_error("a token id must be ≥ 0"))?;
            let id = u32::try_from(id).map_err(|_| value_error(format!("token id {id} is outside the vocabulary of {}", self.vocab.len())))?;
            check_token(id, self.vocab.len()).map_err(to_py)?;
            return Ok(id);
        }
        let spelled = crate::text::str_of(token, "token")?;
        self.vocab.id(&spelled).ok_or_else(|| value_error(format!("token {spelled:?} is not in the model's vocabulary")))
    }
}

#[pymethods]
impl Rnn {
    /// Rnn(path, device="cpu", adapter=None): loads a checkpoint (or a run directory's
    /// latest). `device`: "cpu", "gpu" (any adapter, software ones included) or "auto" (a
    /// hardware GPU if there is one, else the CPU); `adapter` picks one by name.
    #[new]
    #[pyo3(signature = (path, device="cpu", adapter=None))]
    fn new(py: Python<'_>, path: &Bound<'_, PyAny>, device: &str, adapter: Option<String>) -> PyResult<Self> {
        let path = checkpoint_file(&path_of(path)?);
        let choice = DeviceChoice::parse(device).map_err(|e| value_error(e.to_string()))?;
        let ckpt = py.detach(|| Checkpoint::load(&path)).map_err(load_error)?;
        let vocab = ckpt.vocab.clone().ok_or_else(|| load_error(ElmanError::Checkpoint { path: path.clone(), detail: "holds no vocabulary".into() }))?;
        let seq_len = stored_run(&ckpt, &path).map(|(s, _)| s.seq_len).unwrap_or(64);
        let gpu = py.detach(|| gpu_context(choice, adapter.as_deref(), "scoring")).map_err(to_py)?;
        let device = match &gpu {
            Some(ctx) => ctx.describe(),
            None => "cpu".to_string(),
        };
        Ok(Rnn { ckpt, vocab, path, seq_len, gpu, device })
    }

    /// (total, per_token): log10 p of every predicted token of `text` (str, or bytes for a
    /// byte-level model) as a float64 array, and their sum — `elman query`'s numbers. By
    /// default the text is one stream, as `elman eval` scores it; `sentences=True` scores
    /// each line on its own from a fresh state (`batch` lines at a time).
    #[pyo3(signature = (text, sentences=false, batch=32))]
    fn score<'py>(&self, py: Python<'py>, text: &Bound<'py, PyAny>, sentences: bool, batch: usize) -> PyResult<(f64, Bound<'py, PyAny>)> {
        let bytes = bytes_of(text, "text")?;
        let (per_token, totals) = py.detach(|| self.scored(&bytes, sentences, batch)).map_err(to_py)?;
        Ok((totals.log10_sum, f64_array(py, &per_token)?))
    }

    /// 10^(−mean log10 p) over the predicted tokens: `elman eval`'s perplexity.
    #[pyo3(signature = (text, sentences=false, batch=32))]
    fn perplexity(&self, py: Python<'_>, text: &Bound<'_, PyAny>, sentences: bool, batch: usize) -> PyResult<f64> {
        let bytes = bytes_of(text, "text")?;
        let (_, totals) = py.detach(|| self.scored(&bytes, sentences, batch)).map_err(to_py)?;
        Ok(totals.perplexity())
    }

    /// Generated text, as `elman sample` prints it (without its final newline): the prime,
    /// then `n` tokens drawn from softmax(logits / temperature) over the `top_k` most
    /// likely (0 = all, 1 = greedy). The same seed gives the same text.
    #[pyo3(signature = (n, temperature=0.8, top_k=40, prime="", seed=1))]
    fn sample(&self, py: Python<'_>, n: usize, temperature: f32, top_k: usize, prime: &str, seed: u64) -> PyResult<String> {
        let opts = SampleOptions { temperature, top_k };
        py.detach(|| {
            let (prime_ids, print_prime) = encode_prime(&self.vocab, prime)?;
            let mut generator = make_generator_on(self.gpu.clone(), &self.ckpt.config, &self.ckpt.params)?;
            let mut out = if print_prime { self.vocab.decode(&prime_ids) } else { String::new() };
            let mut first = !print_prime;
            generate(generator.as_mut(), self.ckpt.config.vocab, &prime_ids, n, opts, seed, |next| {
                out.push_str(&self.vocab.decode_one(next, first));
                first = false;
                Ok::<(), ElmanError>(())
            })?;
            Ok(out)
        })
        .map_err(to_py)
    }

    /// The zero state a stream starts from.
    fn initial_state(&self) -> RnnState {
        RnnState { hidden: self.ckpt.config.hidden.iter().map(|&h| vec![0.0; h]).collect() }
    }

    /// (log10 p over the vocabulary for the token after `token`, the state after it):
    /// feeds `token` (an id or its spelling) to the model in `state`. `state` is left
    /// as it was, so it can be stepped again (beam search).
    fn step<'py>(&self, py: Python<'py>, state: &RnnState, token: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, RnnState)> {
        let id = self.token_id(token)?;
        if state.hidden.len() != self.ckpt.config.hidden.len() || state.hidden.iter().zip(&self.ckpt.config.hidden).any(|(s, &h)| s.len() != h) {
            return Err(value_error("the state is not one of this model's (its layer sizes differ)"));
        }
        let (log10, hidden) = py
            .detach(|| {
                let mut generator = CpuGenerator::from_state(&self.ckpt.config, &self.ckpt.params, state.hidden.clone());
                let log10 = log10_softmax(generator.advance(id)?);
                Ok::<_, ElmanError>((log10, generator.state().to_vec()))
            })
            .map_err(to_py)?;
        Ok((f64_array(py, &log10)?, RnnState { hidden }))
    }

    /// The token ids of `text` (word level: its words, each line ended by `<eos>`).
    fn encode(&self, text: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
        self.vocab.encode(&bytes_of(text, "text")?).map_err(to_py)
    }

    /// The text of `ids` (ids outside the vocabulary are refused).
    fn decode(&self, ids: Vec<u32>) -> PyResult<String> {
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= self.vocab.len()) {
            return Err(value_error(format!("token id {bad} is outside the vocabulary of {}", self.vocab.len())));
        }
        Ok(self.vocab.decode(&ids))
    }

    /// Every token's spelling, in id order.
    #[getter]
    fn vocab(&self) -> Vec<String> {
        self.vocab.symbols.clone()
    }

    /// "word", "char" or "byte".
    #[getter]
    fn tokenizer(&self) -> &'static str {
        self.vocab.kind.name()
    }

    /// The device scores and samples run on ("cpu", or the GPU adapter's name).
    #[getter]
    fn device(&self) -> &str {
        &self.device
    }

    /// The chunk length T used for scoring.
    #[getter]
    fn seq_len(&self) -> usize {
        self.seq_len
    }

    fn __repr__(&self) -> String {
        let c = &self.ckpt.config;
        format!("<Rnn from {}: {} tokens ({}), hidden {:?}, on {}>", self.path.display(), c.vocab, self.vocab.kind.name(), c.hidden, self.device)
    }
}

/// log10 softmax(logits), in f64: (l_i − max − ln Σ_j e^{l_j − max}) / ln 10.
fn log10_softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().fold(f64::NEG_INFINITY, |m, &l| m.max(l as f64));
    let log_sum = logits.iter().map(|&l| (l as f64 - max).exp()).sum::<f64>().ln();
    logits.iter().map(|&l| (l as f64 - max - log_sum) / std::f64::consts::LN_10).collect()
}

/// An RNN's carried state H^l (one vector per layer), as `Rnn.step` takes and returns it.
#[pyclass(frozen, module = "elman")]
pub struct RnnState {
    hidden: Vec<Vec<f32>>,
}

#[pymethods]
impl RnnState {
    /// The state of each layer, as float64 arrays.
    #[getter]
    fn hidden<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.hidden.iter().map(|h| f64_array(py, &h.iter().map(|&x| x as f64).collect::<Vec<_>>())).collect()
    }

    fn __repr__(&self) -> String {
        format!("RnnState(layers {:?})", self.hidden.iter().map(Vec::len).collect::<Vec<_>>())
    }
}
