//! The library's error type: one variant per kind of bad input or failure, each with a
//! message that reads as one line and names what and where.

use std::path::PathBuf;

/// Everything the library can refuse or fail at. `main` adds context with anyhow.
#[derive(Debug, thiserror::Error)]
pub enum ElmanError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is empty")]
    EmptyInput { path: PathBuf },
    #[error("{path} is not valid UTF-8: invalid byte 0x{byte:02x} at byte offset {offset} (use --tokenizer byte for binary files)")]
    NotUtf8 { path: PathBuf, offset: usize, byte: u8 },
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("{what}: {detail}")]
    Data { what: String, detail: String },
    #[error("checkpoint {path}: {detail}")]
    Checkpoint { path: PathBuf, detail: String },
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("n-gram model: {0}")]
    Ngram(String),
    #[error("{path}:{line}: malformed ARPA file: expected {expected}, found {found}")]
    Arpa { path: PathBuf, line: usize, expected: String, found: String },
    #[error("training diverged at step {step}: loss is {loss} ({hint})")]
    Diverged { step: u64, loss: f32, hint: String },
}

pub type Result<T> = std::result::Result<T, ElmanError>;
