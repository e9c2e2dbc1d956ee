//! Text and path arguments as Python passes them: `str` or `bytes` (KenLM's module takes
//! both), and paths as `str`, `bytes` or `os.PathLike`.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use std::path::PathBuf;

/// The bytes of a `str` (UTF-8) or `bytes` argument.
pub fn bytes_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!("{what} must be str or bytes, not {}", obj.get_type().name()?)))
}

/// A `str` or UTF-8 `bytes` argument as a string.
pub fn str_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    String::from_utf8(bytes_of(obj, what)?).map_err(|e| super::errors::value_error(format!("{what} is not valid UTF-8 (byte {})", e.utf8_error().valid_up_to())))
}

/// A path given as `str`, `bytes` or `os.PathLike`.
pub fn path_of(obj: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    let fspath = obj.py().import("os")?.call_method1("fsdecode", (obj,))?;
    Ok(PathBuf::from(fspath.cast::<PyString>()?.to_cow()?.into_owned()))
}
