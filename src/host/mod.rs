//! What the machine offers both wings: files replaced atomically, one run per folder, how
//! much memory is available, and the date for naming things.

pub mod atomic_file;
pub mod clock;
pub mod memory;
pub mod run_lock;
