//! Opening a model file of either format, told apart by the binary format's magic: ARPA
//! text is parsed into memory, a binary file is mapped and read in place.

use super::arpa::read_arpa_file;
use super::binary::{is_binary_file, BinaryFile};
use super::lm::LanguageModel;
use super::model::NgramModel;
use crate::error::{ElmanError, Result};
use std::path::Path;

/// An opened model file.
pub enum ModelFile {
    Arpa(NgramModel<f32>),
    Binary(BinaryFile),
}

impl ModelFile {
    /// Opens `path` as binary (magic `ELMNGRAM`) or ARPA text (anything else).
    pub fn open(path: &Path) -> Result<Self> {
        let binary = is_binary_file(path).map_err(|source| ElmanError::Io { path: path.to_path_buf(), source })?;
        Ok(if binary { ModelFile::Binary(BinaryFile::open(path)?) } else { ModelFile::Arpa(read_arpa_file(path)?) })
    }

    /// Runs `f` on the model.
    pub fn with<R>(&self, f: impl FnOnce(&dyn LanguageModel) -> R) -> Result<R> {
        Ok(match self {
            ModelFile::Arpa(model) => f(model),
            ModelFile::Binary(file) => f(&file.model()?),
        })
    }

    /// The format's name, for reports.
    pub fn format(&self) -> &'static str {
        match self {
            ModelFile::Arpa(_) => "ARPA",
            ModelFile::Binary(_) => "binary",
        }
    }
}
