//! NumPy arrays from Rust vectors without a compiled NumPy dependency (so that one abi3
//! wheel serves every CPython ≥ 3.9): the values go into a `bytearray`, which
//! `numpy.frombuffer` wraps as a writable array (one copy).

use pyo3::prelude::*;
use pyo3::types::PyByteArray;

/// A 1-D `float64` array holding `values`.
pub fn f64_array<'py>(py: Python<'py>, values: &[f64]) -> PyResult<Bound<'py, PyAny>> {
    let mut bytes = Vec::with_capacity(values.len() * 8);
    for v in values {
        bytes.extend_from_slice(&v.to_ne_bytes());
    }
    let buffer = PyByteArray::new(py, &bytes);
    py.import("numpy")?.call_method1("frombuffer", (buffer, "float64"))
}
