//! Every reader of untrusted bytes as one function taking the bytes: what the fuzz harness
//! (`tests/fuzz_loaders.rs`) and the `cargo fuzz` targets (`fuzz/`) drive. Each returns
//! `Ok` only when the result also passes its own consistency checks, and an error for
//! anything else — never a panic, and never an allocation the input's size cannot justify.

use crate::rnn::data::corpus::Corpus;
use crate::rnn::data::TokenizerKind;
use crate::error::{ElmanError, Result};
use crate::rnn::model::checkpoint::Checkpoint;
use crate::ngram::arpa::read_arpa_from;
use crate::ngram::binary::BinaryFile;
use crate::ngram::lm::LanguageModel;
use crate::ngram::tokenize::{tokenize_training, TokenizeOptions, NgramTokenizer};
use crate::rnn::train::settings::SettingsLayer;
use std::path::Path;

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| ElmanError::NotUtf8 { path: what.into(), offset: e.valid_up_to(), byte: bytes[e.valid_up_to()], byte_tokenizer: false })
}

/// A few scores from `model`, none NaN (ids past the vocabulary included).
fn probe(model: &dyn LanguageModel) -> Result<()> {
    let size = model.lexicon().size() as u32;
    let run: Vec<u32> = (0..24u32).map(|i| (i * 7 + 1) % (size + 2)).collect();
    let mut scores = Vec::new();
    model.score_run(&run, 0, &mut scores);
    let single = model.score(&run[..5], run[5]);
    if scores.iter().chain([&single]).any(|s| s.log10.is_nan()) {
        return Err(ElmanError::Ngram("a score is NaN".into()));
    }
    Ok(())
}

/// ARPA text, read as `ngram eval --model` reads a file.
pub fn arpa(bytes: &[u8]) -> Result<()> {
    let model = read_arpa_from(bytes, Some(bytes.len() as u64), Path::new("fuzz.arpa"))?;
    model.check()?;
    probe(&model)
}

/// The binary n-gram format, opened as a mapped file is.
pub fn ngram_binary(bytes: &[u8]) -> Result<()> {
    let file = BinaryFile::from_bytes(bytes, Path::new("fuzz.bin"))?;
    let model = file.model()?;
    probe(&model)
}

/// A safetensors checkpoint with elman's metadata, read as `--resume`, `eval` and `sample`
/// read one (the run settings too).
pub fn checkpoint(bytes: &[u8]) -> Result<()> {
    let path = Path::new("fuzz.safetensors");
    let ckpt = Checkpoint::from_bytes(bytes, path)?;
    let bad = |detail: &str| ElmanError::Checkpoint { path: path.into(), detail: detail.into() };
    let shapes = ckpt.config.tensor_shapes();
    let sizes_fit = |p: &crate::rnn::model::Params<f32>| p.tensors().into_iter().zip(&shapes).all(|(t, (_, s))| t.len() == s.iter().product::<usize>());
    if !sizes_fit(&ckpt.params) || ckpt.optimizer.as_ref().is_some_and(|o| !sizes_fit(&o.first) || !sizes_fit(&o.second)) {
        return Err(bad("a tensor does not match the model's shape"));
    }
    if ckpt.vocab.as_ref().is_some_and(|v| v.len() != ckpt.config.vocab) {
        return Err(bad("the vocabulary does not match V"));
    }
    if let Some(hidden) = &ckpt.hidden {
        if hidden.len() != ckpt.config.layers() || hidden.iter().zip(&ckpt.config.hidden).any(|(h, &w)| h.len() % w != 0) {
            return Err(bad("the carried state does not match the layers"));
        }
    }
    crate::rnn::train::session::stored_run(&ckpt, path).map(|_| ())
}

/// A `--config` TOML file, layered and checked as `train` does before reading any data.
pub fn train_config(bytes: &[u8]) -> Result<()> {
    let text = utf8(bytes, "fuzz.toml")?;
    let options: SettingsLayer = toml::from_str(text).map_err(|e| ElmanError::Config(e.message().to_string()))?;
    let settings = options.resolve()?;
    settings.model_config(65).validate()
}

/// Training text for the RNN under `kind`, read and tokenized as `train --data` does.
pub fn training_text(bytes: &[u8], kind: TokenizerKind) -> Result<()> {
    if kind != TokenizerKind::Byte {
        utf8(bytes, "fuzz.txt")?;
    }
    let corpus = Corpus::from_texts(kind, bytes, None, None, None)?;
    let size = corpus.vocab.len() as u32;
    if corpus.train.iter().chain(&corpus.valid).any(|&id| id >= size) {
        return Err(ElmanError::Data { what: "fuzz.txt".into(), detail: "a token id past the vocabulary".into() });
    }
    Ok(())
}

/// Training text for the n-gram models under `tokenizer`, as `ngram train --data` reads it.
pub fn ngram_text(bytes: &[u8], tokenizer: NgramTokenizer) -> Result<()> {
    let text = utf8(bytes, "fuzz.txt")?;
    let (vocab, corpus) = tokenize_training(text, TokenizeOptions { tokenizer, markers: true });
    if corpus.tokens.iter().any(|&id| id as usize >= vocab.len()) || corpus.sentence_ends.last().is_some_and(|&e| e != corpus.tokens.len()) {
        return Err(ElmanError::Ngram("tokenizing broke its own invariants".into()));
    }
    Ok(())
}

/// An n-best list, read as `rescore --nbest` reads one, then laid out as the text it scores.
pub fn nbest(bytes: &[u8]) -> Result<()> {
    let text = utf8(bytes, "fuzz.nbest")?;
    let utterances = crate::combine::nbest::parse(text, "fuzz.nbest")?;
    let lines: String = utterances.iter().flat_map(|u| &u.hypotheses).map(|h| h.words.join(" ") + "\n").collect();
    let hypotheses: usize = utterances.iter().map(|u| u.hypotheses.len()).sum();
    let vocab = crate::rnn::data::vocab::Vocab::from_symbols(TokenizerKind::Word, ["<eos>", "<unk>", "a"].map(String::from).to_vec());
    let scored = crate::combine::text::Text::new(&vocab, lines.as_bytes())?;
    if scored.lines.len() != hypotheses || utterances.iter().flat_map(|u| &u.hypotheses).any(|h| !h.acoustic.is_finite() || !h.lm.is_finite()) {
        return Err(ElmanError::Data { what: "fuzz.nbest".into(), detail: "the hypotheses do not survive as lines".into() });
    }
    Ok(())
}

/// Text to score under `kind` (`query`, `eval`), tokenized line by line for a small
/// vocabulary; its layouts must account for every token.
pub fn scored_text(bytes: &[u8], kind: TokenizerKind) -> Result<()> {
    let symbols: Vec<String> = match kind {
        TokenizerKind::Word => ["<eos>", "<unk>", "a", "b"].map(String::from).to_vec(),
        TokenizerKind::Char => (0..128u8).map(|b| (b as char).to_string()).chain("ïé—日本語☃".chars().map(String::from)).collect(),
        TokenizerKind::Byte => (0..=255u32).map(|b| b.to_string()).collect(),
    };
    let vocab = crate::rnn::data::vocab::Vocab::from_symbols(kind, symbols);
    let text = crate::combine::text::Text::new(&vocab, bytes)?;
    let ids = text.stream_ids();
    let predicted = text.stream_places().len();
    if ids.iter().any(|&id| id as usize >= vocab.len()) || predicted + 1 != ids.len().max(1) || text.places().count() != text.token_count() {
        return Err(ElmanError::Data { what: "fuzz.txt".into(), detail: "the layouts lost a token".into() });
    }
    Ok(())
}
