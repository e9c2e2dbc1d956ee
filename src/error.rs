//! The library's error type: one variant per kind of bad input or failure, each with a
//! message that reads as one line and names what and where.
//!
//! Messages that point at a setting name it through a callback ([`ElmanError::describe`]):
//! the library's own `Display` writes the setting's key (`seq-len`), the command line its
//! flag (`--seq-len`). The library never spells a flag.

use std::path::PathBuf;

/// How a message names a setting, given its key (e.g. `seq-len`).
pub type SettingName<'a> = &'a dyn Fn(&str) -> String;

/// What would make a too-large GPU buffer fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FitHint {
    /// A smaller batch of n rows fits.
    Batch(usize),
    /// One row fits with chunks of T steps.
    OneRowWithSeqLen(usize),
    /// Not even one row of one step: the parameters alone are too large.
    ParamsTooLarge,
}

/// What would make a run fit in host memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryHint {
    /// This batch (n rows) fits.
    Batch(usize),
    /// Hidden widths of at most this fit, with a batch of 1.
    HiddenAtMost(usize),
    /// Not even the smallest model of this shape: the vocabulary or embedding is too large.
    Nothing,
}

/// Everything the library can refuse or fail at. `main` adds context with anyhow.
#[derive(Debug)]
pub enum ElmanError {
    Io { path: PathBuf, source: std::io::Error },
    EmptyInput { path: PathBuf },
    /// `byte_tokenizer`: whether the command reading it has a byte tokenizer to suggest.
    NotUtf8 { path: PathBuf, offset: usize, byte: u8, byte_tokenizer: bool },
    /// A setting's value outside its range: "<setting> <problem>".
    Setting { key: &'static str, problem: String },
    Config(String),
    Data { what: String, detail: String },
    /// A text with fewer than T + 1 tokens.
    ShorterThanChunk { what: String, tokens: usize, seq_len: usize },
    /// A text that cannot fill n streams of T + 1 tokens each.
    TooFewTokensForBatch { what: String, tokens: usize, n: usize, seq_len: usize, needs: usize, fits: usize },
    Checkpoint { path: PathBuf, detail: String },
    Gpu(String),
    /// No adapter the device choice may use (`software_excluded`: software adapters were
    /// left out because no GPU was asked for explicitly).
    NoGpuAdapter { why: String, software_excluded: bool, backends: String, found: String },
    /// A buffer past the adapter's limit.
    GpuBufferTooLarge { label: String, bytes: u64, limit: &'static str, max: u64, hint: FitHint },
    Ngram(String),
    Arpa { path: PathBuf, line: usize, expected: String, found: String },
    Diverged { step: u64, loss: f32 },
    /// A run that would need more host memory than is available.
    OutOfMemory { what: String, detail: String, hint: MemoryHint },
    /// A write that failed (disk full, file-size limit, read-only folder); the file it
    /// would have replaced is left as it was.
    Write { path: PathBuf, source: std::io::Error },
    /// A setting given (by the config file or the flags) with another value than the run
    /// being resumed fixed.
    ResumeClash { checkpoint: PathBuf, key: &'static str, given: String, stored: String },
    /// A resumed run already at its last step: `key` (steps or epochs) must grow.
    RunFinished { step: u64, total: u64, key: &'static str },
    /// An error reading what a setting names (`--init FILE`), said with the setting.
    InSetting { key: &'static str, value: String, source: Box<ElmanError> },
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

impl ElmanError {
    /// The message, with settings named by `name`.
    pub fn describe(&self, name: SettingName) -> String {
        match self {
            ElmanError::Io { path, source } => format!("cannot read {}: {source}", path.display()),
            ElmanError::EmptyInput { path } => format!("{} is empty", path.display()),
            ElmanError::NotUtf8 { path, offset, byte, byte_tokenizer } => {
                let hint = if *byte_tokenizer { format!(" (use {} byte for binary files)", name("tokenizer")) } else { String::new() };
                format!("{} is not valid UTF-8: invalid byte 0x{byte:02x} at byte offset {offset}{hint}", path.display())
            }
            ElmanError::Setting { key, problem } => format!("{} {problem}", name(key)),
            ElmanError::Config(detail) => format!("invalid setting: {detail}"),
            ElmanError::Data { what, detail } => format!("{what}: {detail}"),
            ElmanError::ShorterThanChunk { what, tokens, seq_len } => {
                format!("{what}: {tokens} tokens is shorter than {} + 1 = {}", name("seq-len"), seq_len + 1)
            }
            ElmanError::TooFewTokensForBatch { what, tokens, n, seq_len, needs, fits } => format!(
                "{what}: {tokens} tokens cannot fill {n} streams of {} {seq_len} (needs {needs}); use {} {fits} or less",
                name("seq-len"),
                name("batch")
            ),
            ElmanError::Checkpoint { path, detail } => format!("checkpoint {}: {detail}", path.display()),
            ElmanError::Gpu(detail) => format!("GPU: {detail}"),
            ElmanError::NoGpuAdapter { why, software_excluded, backends, found } => {
                let note = if *software_excluded { format!(" (software adapters are used only with {} gpu)", name("device")) } else { String::new() };
                format!("GPU: {why}{note} (backends {backends}; adapters found: {found})")
            }
            ElmanError::GpuBufferTooLarge { label, bytes, limit, max, hint } => {
                let hint = match hint {
                    FitHint::Batch(n) => format!("{} {n} fits", name("batch")),
                    FitHint::OneRowWithSeqLen(t) => format!("{} 1 {} {t} fits", name("batch"), name("seq-len")),
                    FitHint::ParamsTooLarge => {
                        format!("the parameters alone are too large: use smaller {}/{} or a smaller vocabulary", name("hidden"), name("embed"))
                    }
                };
                format!("GPU: buffer '{label}' needs {} but the adapter's {limit} is {}; {hint}", mib(*bytes), mib(*max))
            }
            ElmanError::Ngram(detail) => format!("n-gram model: {detail}"),
            ElmanError::Arpa { path, line, expected, found } => {
                format!("{}:{line}: malformed ARPA file: expected {expected}, found {found}", path.display())
            }
            ElmanError::OutOfMemory { what, detail, hint } => {
                let hint = match hint {
                    MemoryHint::Batch(n) => format!("{} {n} fits", name("batch")),
                    MemoryHint::HiddenAtMost(h) => format!("{} {h} fits (with {} 1)", name("hidden"), name("batch")),
                    MemoryHint::Nothing => format!("not even {} 1 fits: use a smaller vocabulary or {}", name("hidden"), name("embed")),
                };
                format!("{what} needs {detail}; {hint}")
            }
            ElmanError::Write { path, source } => format!("cannot write {}: {source} (any earlier file there is left intact)", path.display()),
            ElmanError::ResumeClash { checkpoint, key, given, stored } => format!(
                "{} {}: {} mismatch: the command line/config says {given}, the checkpoint has {stored}",
                name("resume"),
                checkpoint.display(),
                name(key)
            ),
            ElmanError::RunFinished { step, total, key } => format!("the run is already at step {step} of {total}; pass a larger {} to continue", name(key)),
            ElmanError::InSetting { key, value, source } => format!("{} {value}: {}", name(key), source.describe(name)),
            ElmanError::Diverged { step, loss } => format!(
                "training diverged at step {step}: loss is {loss} (the last good checkpoint is kept; try a lower {} or set {} (e.g. {} 1))",
                name("lr"),
                name("clip"),
                name("clip")
            ),
        }
    }
}

impl std::fmt::Display for ElmanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(&|key| key.to_string()))
    }
}

impl std::error::Error for ElmanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ElmanError::Io { source, .. } | ElmanError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ElmanError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_named_by_the_caller() {
        let e = ElmanError::Setting { key: "batch", problem: "must be > 0".into() };
        assert_eq!(e.to_string(), "batch must be > 0");
        assert_eq!(e.describe(&|k| format!("--{k}")), "--batch must be > 0");
        let e = ElmanError::ShorterThanChunk { what: "training text".into(), tokens: 4, seq_len: 4 };
        assert!(e.describe(&|k| format!("--{k}")).contains("shorter than --seq-len + 1 = 5"));
    }
}
