//! elman's errors as Python exceptions, each with the one-line message the CLI prints:
//! a file that cannot be read or loaded raises `OSError` (as KenLM's module does for a
//! model), a GPU that cannot be used `RuntimeError`, too little memory `MemoryError`, and
//! every other refusal (bad settings, text the model cannot read) `ValueError`.

use elman::error::ElmanError;
use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::PyErr;

/// An error met while using a loaded model.
pub fn to_py(e: ElmanError) -> PyErr {
    let message = e.to_string();
    match e {
        ElmanError::Io { .. } | ElmanError::Write { .. } | ElmanError::EmptyInput { .. } => PyOSError::new_err(message),
        ElmanError::Gpu(_) | ElmanError::NoGpuAdapter { .. } | ElmanError::GpuBufferTooLarge { .. } => PyRuntimeError::new_err(message),
        ElmanError::OutOfMemory { .. } => PyMemoryError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// An error met while loading a model file: always `OSError`, as KenLM's `Model` raises
/// for a file it cannot read, whatever is wrong with it.
pub fn load_error(e: ElmanError) -> PyErr {
    PyOSError::new_err(e.to_string())
}

/// A refusal of the caller's arguments.
pub fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}
