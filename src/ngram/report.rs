//! The numbers `train` reports: n-grams per order, bytes used, peak memory, and what a
//! dense |V|^n table would need (the seed's point: sparse counts are what make n ≥ 3
//! possible at all).

use super::key::SortedKeys;
use super::model::{LogValue, NgramModel};

/// Peak resident memory of this process (VmHWM), in bytes, where the OS tells us.
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes in binary units: `92.0 MiB`.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else if value >= 1024.0 {
        format!("{bytes:.2e} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

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
    fn human_bytes_picks_units() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(92.0 * 1024.0 * 1024.0), "92.0 MiB");
        assert!(human_bytes(4.0e30).contains("e"));
        assert_eq!(dense_table_bytes(10, 3), 4000.0);
    }
}
