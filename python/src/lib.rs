//! `elman._elman`: the Python module's native half, over the elman crate's own code
//! (python/README.md). n-gram models with KenLM's Python API ([`ngram`]); RNN
//! checkpoints scored, stepped and sampled ([`rnn`]); errors as Python exceptions
//! ([`errors`]) and NumPy arrays ([`arrays`]).

mod arrays;
mod errors;
mod ngram;
mod rnn;
mod text;

use pyo3::prelude::*;

#[pymodule]
fn _elman(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<ngram::Model>()?;
    m.add_class::<ngram::State>()?;
    m.add_class::<ngram::FullScoreReturn>()?;
    m.add_class::<rnn::Rnn>()?;
    m.add_class::<rnn::RnnState>()?;
    Ok(())
}
