//! Programs built once per key (a mode and a batch shape) and replayed, with the bytes
//! they hold; the model and the trainer each keep one for the programs they own.

use super::program::Program;
use std::collections::HashMap;
use std::hash::Hash;

/// Prepared programs by key.
pub struct ProgramCache<K> {
    programs: HashMap<K, Program>,
}

impl<K: Copy + Eq + Hash + std::fmt::Debug> ProgramCache<K> {
    pub fn new() -> Self {
        ProgramCache { programs: HashMap::new() }
    }

    /// The program of `key`, built by `build` on first use.
    pub fn get_or_build(&mut self, key: K, build: impl FnOnce() -> Program) -> &Program {
        self.programs.entry(key).or_insert_with(build)
    }

    /// The program of `key`, which must have been built.
    pub fn get(&self, key: K) -> &Program {
        self.programs.get(&key).unwrap_or_else(|| panic!("program {key:?} is built before it is used"))
    }

    /// Bytes the programs allocated (uniforms, their own buffers, scratch growth).
    pub fn bytes(&self) -> u64 {
        self.programs.values().map(|p| p.bytes).sum()
    }

    /// Whether any program runs the persistent recurrence.
    pub fn uses_persistent(&self) -> bool {
        self.programs.values().any(Program::has_persistent)
    }

    /// Drops every program (rebuilt on next use, e.g. with another recurrence).
    pub fn clear(&mut self) {
        self.programs.clear();
    }
}

impl<K: Copy + Eq + Hash + std::fmt::Debug> Default for ProgramCache<K> {
    fn default() -> Self {
        Self::new()
    }
}
