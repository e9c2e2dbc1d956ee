//! The numbers `train` reports: n-grams per order, bytes used, peak memory, and what a
//! dense |V|^n table would need (sparse counts are what make n ≥ 3
//! possible at all).

use super::key::SortedKeys;
use super::model::{LogValue, NgramModel};
use crate::host::memory::human_bytes;


/// Bytes of a dense table of one `f32` per possible n-gram over `vocab` tokens.
pub fn dense_table_bytes(vocab: usize, n: usize) -> f64 {
    4.0 * (vocab as f64).powi(n as i32)
}

/// One line per order: stored n-grams against the dense table.
pub fn order_table<W: LogValue>(model: &NgramModel<W>) -> Vec<String> {
    let vocab = model.predicted_ids().len();
    model
        .levels
        .iter()
        .enumerate()
        .map(|(i, level)| {
            let n = i + 1;
            let stored = level.len() * (16 + std::mem::size_of::<W>() * (1 + usize::from(n < model.order())));
            format!(
                "  {n}-grams: {:>10}   sparse {:>10}   dense |V|^{n} table {:>12} ({:.3e} cells)",
                level.len(),
                human_bytes(stored as f64),
                human_bytes(dense_table_bytes(vocab, n)),
                (vocab as f64).powi(n as i32),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dense_table_holds_v_to_the_n_floats() {
        assert_eq!(dense_table_bytes(10, 3), 4000.0);
    }
}
