//! n-gram models with KenLM's Python API (`kenlm.Model`, `State`, `FullScoreReturn`), so
//! that code written for `kenlm` runs after changing the import.
//!
//! Every score is log10 P(w | history) with the ARPA back-off rule, the same numbers
//! `elman ngram query` prints. A sentence is its whitespace-separated words (a char-level
//! model: its characters), each scored after `<s>` (`bos=True`) or no context, then
//! `</s>` (`eos=True`). A word the vocabulary lacks is scored as `<unk>` and flagged OOV;
//! unlike `ngram query`, the literal words `<s>` and `</s>` are scored as the markers
//! they name, as KenLM's module does.

use crate::errors::load_error;
use crate::text::{path_of, str_of};
use elman::ngram::binary::{BinaryFile, BinaryModel};
use elman::ngram::lm::{LanguageModel, Score};
use elman::ngram::model::NgramModel;
use elman::ngram::open::ModelFile;
use elman::ngram::tokenize::NgramTokenizer;
use elman::ngram::vocab::{BOS, EOS, UNK};
use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use self_cell::self_cell;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

self_cell!(
    /// A binary model file and the model read in place from its mapped bytes.
    struct MappedBinary {
        owner: BinaryFile,
        #[covariant]
        dependent: BinaryModel,
    }
);

/// A loaded model of either format.
enum Loaded {
    Arpa(NgramModel<f32>),
    Binary(MappedBinary),
}

impl Loaded {
    fn open(path: &std::path::Path) -> elman::error::Result<Loaded> {
        Ok(match ModelFile::open(path)? {
            ModelFile::Arpa(model) => Loaded::Arpa(model),
            ModelFile::Binary(file) => Loaded::Binary(MappedBinary::try_new(file, |f| f.model())?),
        })
    }

    fn lm(&self) -> &dyn LanguageModel {
        match self {
            Loaded::Arpa(model) => model,
            Loaded::Binary(cell) => cell.borrow_dependent(),
        }
    }
}

/// An n-gram language model (ARPA or elman binary), with KenLM's `Model` API.
#[pyclass(frozen, module = "elman")]
pub struct Model {
    loaded: Loaded,
    path: PathBuf,
}

impl Model {
    /// The words of a sentence as ids (`<unk>` for a word the vocabulary lacks).
    fn ids(&self, sentence: &str) -> Vec<u32> {
        let words: Vec<&str> = match self.loaded.lm().info().tokenizer {
            // Without non-ASCII bytes and vertical tabs (White_Space, but not ASCII
            // whitespace to Rust), the ASCII split is the same split, and faster.
            NgramTokenizer::Word if sentence.bytes().all(|b| b.is_ascii() && b != 0x0b) => sentence.split_ascii_whitespace().collect(),
            NgramTokenizer::Word => sentence.split_whitespace().collect(),
            NgramTokenizer::Char => sentence.char_indices().map(|(at, c)| &sentence[at..at + c.len_utf8()]).collect(),
        };
        let mut ids = Vec::with_capacity(words.len());
        self.loaded.lm().lexicon().ids_into(&words, &mut ids);
        ids.into_iter().map(|id| id.unwrap_or(UNK)).collect()
    }

    /// The scores of `ids` after `<s>` or no context, then of `</s>` when `eos`.
    fn scores(&self, ids: &[u32], bos: bool, eos: bool) -> Vec<Score> {
        let mut all = Vec::with_capacity(ids.len() + 2);
        if bos {
            all.push(BOS);
        }
        all.extend_from_slice(ids);
        if eos {
            all.push(EOS);
        }
        let mut out = Vec::with_capacity(all.len());
        self.loaded.lm().score_run(&all, usize::from(bos), &mut out);
        out
    }

    fn word_id(&self, word: &str) -> u32 {
        self.loaded.lm().lexicon().id(word).unwrap_or(UNK)
    }

    /// Scores `word` after `in_state`'s context and writes the context that follows into
    /// `out_state` (which may be `in_state` itself).
    fn advance(&self, in_state: &Bound<'_, State>, word: &Bound<'_, PyAny>, out_state: &Bound<'_, State>) -> PyResult<(Score, u32)> {
        let word = str_of(word, "word")?;
        let id = self.word_id(&word);
        let mut context = in_state.borrow().words.clone();
        let score = self.loaded.lm().score(&context, id);
        context.push(id);
        let keep = self.loaded.lm().order().saturating_sub(1);
        context.drain(..context.len().saturating_sub(keep));
        out_state.borrow_mut().words = context;
        Ok((score, id))
    }
}

/// Sentences from this many bytes on are scored with the GIL released; a shorter one
/// takes less time than releasing and taking back the GIL would cost.
const LONG_SENTENCE: usize = 2048;

/// Runs `f` with the GIL released when `sentence` is long.
fn without_gil_if_long<T: Send>(py: Python<'_>, sentence: &str, f: impl FnOnce() -> T + Send) -> T {
    if sentence.len() >= LONG_SENTENCE {
        py.detach(f)
    } else {
        f()
    }
}

/// A score as KenLM's module gives it: a float32 log10 value (what the CLI prints).
fn as_f32(score: &Score) -> f64 {
    score.log10 as f32 as f64
}

#[pymethods]
impl Model {
    /// Model(path, config=None): loads an ARPA file or an elman binary model (mapped, not
    /// read). `config` is accepted for KenLM compatibility and changes nothing. Raises
    /// OSError when the file cannot be read or is not a model.
    #[new]
    #[pyo3(signature = (path, config=None))]
    fn new(py: Python<'_>, path: &Bound<'_, PyAny>, config: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let _ = config;
        let path = path_of(path)?;
        let path = std::path::absolute(&path).unwrap_or(path);
        let loaded = py.detach(|| Loaded::open(&path)).map_err(load_error)?;
        Ok(Model { loaded, path })
    }

    /// The model's order N.
    #[getter]
    fn order(&self) -> usize {
        self.loaded.lm().order()
    }

    /// The absolute path the model was loaded from.
    #[getter]
    fn path(&self) -> String {
        self.path.display().to_string()
    }

    /// log10 p(sentence </s> | <s>) by default; `bos=False` scores without the sentence
    /// start as context, `eos=False` leaves out `</s>`.
    #[pyo3(signature = (sentence, bos=true, eos=true))]
    fn score(&self, py: Python<'_>, sentence: &Bound<'_, PyAny>, bos: bool, eos: bool) -> PyResult<f64> {
        let sentence = str_of(sentence, "sentence")?;
        Ok(without_gil_if_long(py, &sentence, || self.scores(&self.ids(&sentence), bos, eos).iter().fold(0.0, |total, s| total + s.log10)))
    }

    /// 10^(−log10 p(sentence </s> | <s>) / (words + 1)).
    fn perplexity(&self, py: Python<'_>, sentence: &Bound<'_, PyAny>) -> PyResult<f64> {
        let sentence = str_of(sentence, "sentence")?;
        let words = sentence.split_whitespace().count() + 1;
        let total: f64 = without_gil_if_long(py, &sentence, || self.scores(&self.ids(&sentence), true, true).iter().fold(0.0, |total, s| total + s.log10));
        Ok(10f64.powf(-total / words as f64))
    }

    /// An iterator of (log10 prob, n-gram length, oov) for each word, then `</s>`.
    #[pyo3(signature = (sentence, bos=true, eos=true))]
    fn full_scores<'py>(&self, py: Python<'py>, sentence: &Bound<'py, PyAny>, bos: bool, eos: bool) -> PyResult<Bound<'py, PyAny>> {
        let sentence = str_of(sentence, "sentence")?;
        let ids = self.ids(&sentence);
        let scores = without_gil_if_long(py, &sentence, || self.scores(&ids, bos, eos));
        let oov = ids.iter().map(|&id| id == UNK).chain(std::iter::once(false));
        let items: Vec<(f64, usize, bool)> = scores.iter().zip(oov).map(|(s, oov)| (as_f32(s), s.length, oov)).collect();
        Ok(pyo3::types::PyList::new(py, items)?.into_any().try_iter()?.into_any())
    }

    /// Whether the vocabulary holds `word`.
    fn __contains__(&self, word: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.word_id(&str_of(word, "word")?) != UNK)
    }

    /// Sets `state` to the sentence start `<s>`.
    #[allow(non_snake_case)]
    fn BeginSentenceWrite(&self, state: &Bound<'_, State>) {
        state.borrow_mut().words = vec![BOS];
    }

    /// Sets `state` to the empty context.
    #[allow(non_snake_case)]
    fn NullContextWrite(&self, state: &Bound<'_, State>) {
        state.borrow_mut().words.clear();
    }

    /// log10 p(word | in_state); writes the context that follows into `out_state`.
    #[allow(non_snake_case)]
    fn BaseScore(&self, in_state: &Bound<'_, State>, word: &Bound<'_, PyAny>, out_state: &Bound<'_, State>) -> PyResult<f64> {
        Ok(as_f32(&self.advance(in_state, word, out_state)?.0))
    }

    /// As `BaseScore`, with the n-gram length and whether the word is OOV.
    #[allow(non_snake_case)]
    fn BaseFullScore(&self, in_state: &Bound<'_, State>, word: &Bound<'_, PyAny>, out_state: &Bound<'_, State>) -> PyResult<FullScoreReturn> {
        let (score, id) = self.advance(in_state, word, out_state)?;
        Ok(FullScoreReturn { log_prob: as_f32(&score), ngram_length: score.length, oov: id == UNK })
    }

    fn __repr__(&self) -> String {
        let name = self.path.file_name().map_or_else(|| self.path.display().to_string(), |n| n.to_string_lossy().into_owned());
        format!("<Model from {name}>")
    }

    /// Pickles as its path (the model is loaded again on the other side).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let path = slf.get().path();
        PyTuple::new(slf.py(), [slf.get_type().into_any(), PyTuple::new(slf.py(), [path])?.into_any()])
    }
}

/// The context a model scores the next word after: the last N − 1 words, oldest first.
/// States compare and hash by those words.
#[pyclass(module = "elman", skip_from_py_object)]
#[derive(Clone, Default)]
pub struct State {
    words: Vec<u32>,
}

#[pymethods]
impl State {
    #[new]
    fn new() -> Self {
        State::default()
    }

    /// Ordered by the number of context words, then by the words' ids.
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<State>() else {
            return Ok(py.NotImplemented());
        };
        let key = |s: &State| (s.words.len(), s.words.clone());
        let ordering = key(self).cmp(&key(&other.borrow()));
        Ok(op.matches(ordering).into_pyobject(py)?.to_owned().into_any().unbind())
    }

    fn __hash__(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.words.hash(&mut h);
        h.finish()
    }

    fn __copy__(&self) -> Self {
        self.clone()
    }

    #[pyo3(signature = (memo=None))]
    fn __deepcopy__(&self, memo: Option<&Bound<'_, PyAny>>) -> Self {
        let _ = memo;
        self.clone()
    }

    fn __repr__(&self) -> String {
        format!("State({:?})", self.words)
    }
}

/// One word's score: `log_prob` (log10), `ngram_length`, `oov`.
#[pyclass(frozen, module = "elman")]
pub struct FullScoreReturn {
    #[pyo3(get)]
    log_prob: f64,
    #[pyo3(get)]
    ngram_length: usize,
    #[pyo3(get)]
    oov: bool,
}

#[pymethods]
impl FullScoreReturn {
    fn __repr__(&self) -> String {
        let oov = if self.oov { "True" } else { "False" };
        format!("FullScoreReturn({}, {}, {oov})", self.log_prob, self.ngram_length)
    }
}
