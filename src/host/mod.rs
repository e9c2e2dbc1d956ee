//! What the machine offers both wings: files replaced atomically, one run per folder, and
//! how much memory is available.

pub mod atomic_file;
pub mod memory;
pub mod run_lock;
