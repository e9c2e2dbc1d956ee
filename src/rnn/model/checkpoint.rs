//! Safetensors checkpoints: the parameters under their names (docs/design.md, "Tensors
//! and checkpoints"; f32, little-endian, row-major), optimizer moments (`optim.first.*`,
//! `optim.second.*`), the carried hidden state (`state.hidden.{l}`, [n, h_l]), and the
//! model config, vocabulary and training progress as JSON metadata — one file is enough
//! to resume, sample or evaluate.
//! Writes are atomic: a temp file in the same folder, fsync, then rename.

use super::config::ModelConfig;
use super::params::{OptimizerState, Params};
use crate::rnn::data::Vocab;
use crate::error::{ElmanError, Result};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const FORMAT: &str = "elman-1";

/// Everything a checkpoint file can hold; only `params` (and `config`) are required.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub config: ModelConfig,
    pub vocab: Option<Vocab>,
    pub params: Params<f32>,
    pub optimizer: Option<OptimizerState>,
    /// Carried hidden state, one [n·h_l] buffer per layer.
    pub hidden: Option<Vec<Vec<f32>>>,
    /// Further metadata (training progress, run settings), each a JSON string.
    pub extra: BTreeMap<String, String>,
}

fn f32_bytes(x: &[f32]) -> Vec<u8> {
    x.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn bad(path: &Path, detail: impl Into<String>) -> ElmanError {
    ElmanError::Checkpoint { path: path.to_path_buf(), detail: detail.into() }
}

impl Checkpoint {
    /// Serializes to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        let shapes = self.config.tensor_shapes();
        let mut add_params = |prefix: &str, p: &Params<f32>| {
            for ((name, shape), data) in shapes.iter().zip(p.tensors()) {
                owned.push((format!("{prefix}{name}"), shape.clone(), f32_bytes(data)));
            }
        };
        add_params("", &self.params);
        if let Some(opt) = &self.optimizer {
            add_params("optim.first.", &opt.first);
            add_params("optim.second.", &opt.second);
        }
        if let Some(hidden) = &self.hidden {
            for (l, (h, &width)) in hidden.iter().zip(&self.config.hidden).enumerate() {
                owned.push((format!("state.hidden.{l}"), vec![h.len() / width, width], f32_bytes(h)));
            }
        }
        let mut meta: HashMap<String, String> = self.extra.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("config".into(), serde_json::to_string(&self.config).expect("config serializes"));
        if let Some(v) = &self.vocab {
            meta.insert("vocab".into(), serde_json::to_string(v).expect("vocab serializes"));
        }
        if let Some(opt) = &self.optimizer {
            meta.insert("optim.updates".into(), opt.updates.to_string());
        }
        let views: Vec<(String, TensorView)> = owned
            .iter()
            .map(|(name, shape, bytes)| (name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes).expect("sizes match shapes")))
            .collect();
        safetensors::serialize(views, Some(meta)).map_err(|e| ElmanError::Config(format!("cannot serialize checkpoint: {e}")))
    }

    /// Writes atomically: never leaves a partial file at `path`, even if killed mid-write.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a checkpoint written by elman (config and vocabulary from its metadata).
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path).map_err(|source| ElmanError::Io { path: path.to_path_buf(), source })?;
        Checkpoint::from_bytes(&bytes, path)
    }

    /// Parses a checkpoint's bytes (`path` names it in errors). Every tensor is checked
    /// against the model's shape before the parameters are allocated, so they never take
    /// more memory than the bytes hold.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(path, format!("not a readable safetensors file, truncated or corrupted ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(path, format!("unreadable header ({e})")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let config_json = meta.get("config").ok_or_else(|| bad(path, "no model config in its metadata (not written by elman: give the sizes and initialise from its tensors instead)"))?;
        let config: ModelConfig = serde_json::from_str(config_json).map_err(|e| bad(path, format!("bad model config metadata ({e})")))?;
        config.validate().map_err(|e| bad(path, e.to_string()))?;
        let vocab = meta
            .get("vocab")
            .map(|v| serde_json::from_str::<Vocab>(v).map(|v| Vocab::from_symbols(v.kind, v.symbols)))
            .transpose()
            .map_err(|e| bad(path, format!("bad vocabulary metadata ({e})")))?;
        if let Some(v) = &vocab {
            if v.len() != config.vocab {
                return Err(bad(path, format!("vocabulary holds {} symbols but the model has V = {}", v.len(), config.vocab)));
            }
        }
        let params = read_model_params(&st, path, &config)?;
        let optimizer = match meta.get("optim.updates") {
            Some(k) => Some(OptimizerState {
                updates: k.parse().map_err(|_| bad(path, format!("bad optim.updates '{k}'")))?,
                first: read_params(&st, path, &config, "optim.first.")?,
                second: read_params(&st, path, &config, "optim.second.")?,
            }),
            None => None,
        };
        let hidden = if st.names().iter().any(|n| n.starts_with("state.hidden.")) {
            let mut layers = Vec::new();
            for (l, &h) in config.hidden.iter().enumerate() {
                let name = format!("state.hidden.{l}");
                let t = st.tensor(&name).map_err(|_| bad(path, format!("missing tensor {name}")))?;
                if t.shape().len() != 2 || t.shape()[1] != h {
                    return Err(bad(path, format!("tensor {name} has shape {:?}, expected [n, {h}]", t.shape())));
                }
                layers.push(read_f32(&t, path, &name)?);
            }
            Some(layers)
        } else {
            None
        };
        let extra = meta.into_iter().filter(|(k, _)| !["format", "config", "vocab", "optim.updates"].contains(&k.as_str())).collect();
        Ok(Checkpoint { config, vocab, params, optimizer, hidden, extra })
    }
}

/// Reads just the parameters under their checkpoint names from any safetensors file (whatever
/// wrote it), checking every shape against `config`.
pub fn load_params(path: &Path, config: &ModelConfig) -> Result<Params<f32>> {
    let bytes = std::fs::read(path).map_err(|source| ElmanError::Io { path: path.to_path_buf(), source })?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(path, format!("not a readable safetensors file, truncated or corrupted ({e})")))?;
    read_model_params(&st, path, config)
}

/// The model's parameters (no prefix); a tied model's output.w must be the transposed embedding.
fn read_model_params(st: &SafeTensors, path: &Path, config: &ModelConfig) -> Result<Params<f32>> {
    let params = read_params(st, path, config, "")?;
    if config.tied && !params.output_is_tied() {
        return Err(bad(path, "the model's weights are tied, but output.w is not the transposed embedding".to_string()));
    }
    Ok(params)
}

fn read_params(st: &SafeTensors, path: &Path, config: &ModelConfig, prefix: &str) -> Result<Params<f32>> {
    // Every tensor present, f32 and of the model's shape (so its bytes are in the file)
    // before the parameters are allocated.
    let mut views = Vec::new();
    for (name, shape) in config.tensor_shapes() {
        let full = format!("{prefix}{name}");
        let t = st.tensor(&full).map_err(|_| bad(path, format!("missing tensor {full}")))?;
        if t.shape() != shape.as_slice() {
            return Err(bad(path, format!("tensor {full} has shape {:?}, the model needs {:?}", t.shape(), shape)));
        }
        if t.dtype() != Dtype::F32 || t.data().len() != 4 * shape.iter().product::<usize>() {
            return Err(bad(path, format!("tensor {full} is {:?} of {} bytes, expected F32 of shape {shape:?}", t.dtype(), t.data().len())));
        }
        views.push(t);
    }
    let mut params = Params::<f32>::zeros(config);
    for (t, dst) in views.iter().zip(params.tensors_mut()) {
        for (d, b) in dst.iter_mut().zip(t.data().chunks_exact(4)) {
            *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
    }
    Ok(params)
}

fn read_f32(t: &TensorView, path: &Path, name: &str) -> Result<Vec<f32>> {
    if t.dtype() != Dtype::F32 {
        return Err(bad(path, format!("tensor {name} is {:?}, expected F32", t.dtype())));
    }
    Ok(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

pub use crate::host::atomic_file::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::data::TokenizerKind;
    use crate::rnn::model::{init::init_params, Activation};

    fn sample() -> Checkpoint {
        let config = ModelConfig { vocab: 3, embed: 2, hidden: vec![4, 3], activation: Activation::Relu, tied: false, cell: Default::default() };
        let params: Params<f32> = init_params(&config, 1);
        let optimizer = Some(OptimizerState { updates: 7, first: init_params(&config, 2), second: init_params(&config, 3) });
        let vocab = Some(Vocab::from_symbols(TokenizerKind::Char, vec!["a".into(), "b".into(), "c".into()]));
        let hidden = Some(vec![vec![0.5; 8], vec![-0.25; 6]]);
        let mut extra = BTreeMap::new();
        extra.insert("progress".into(), "{\"step\":7}".into());
        Checkpoint { config, vocab, params, optimizer, hidden, extra }
    }

    #[test]
    fn round_trip_keeps_everything() {
        let dir = std::env::temp_dir().join(format!("elman-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        let c = sample();
        c.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back.config, c.config);
        assert_eq!(back.vocab, c.vocab);
        assert_eq!(back.params, c.params);
        assert_eq!(back.optimizer, c.optimizer);
        assert_eq!(back.hidden, c.hidden);
        assert_eq!(back.extra, c.extra);
        assert_eq!(load_params(&path, &c.config).unwrap(), c.params);
        let other = ModelConfig { hidden: vec![5, 3], ..c.config.clone() };
        let err = load_params(&path, &other).unwrap_err().to_string();
        assert!(err.contains("layers.0.w_xh") && err.contains("[2, 4]"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn tied_weights_are_stored_as_the_transpose_and_checked_on_load() {
        let dir = std::env::temp_dir().join(format!("elman-ckpt-tied-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        let mut c = sample();
        c.config = ModelConfig { embed: 3, tied: true, ..c.config.clone() };
        c.params = init_params(&c.config, 4);
        c.optimizer = None;
        assert!(c.params.output_is_tied(), "output.w holds Eᵀ for any reader of the tensor names");
        c.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert!(back.config.tied && back.params.output_is_tied());
        // A file whose output.w disagrees with its embedding is refused.
        c.params.out_w_mut()[0] += 1.0;
        c.save(&path).unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains("tied") && err.contains("output.w"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
