//! Host memory: how much this process may still allocate, its peak so far, and byte
//! counts in binary units.

/// Bytes this process may still allocate: `ELMAN_MEMORY_AVAILABLE` when set (bytes; for
/// tests and for sharing a machine), else the lower of /proc/meminfo's MemAvailable and
/// the cgroup's memory.max less its usage; `None` where neither is known (not Linux).
pub fn available_bytes() -> Option<u64> {
    if let Some(bytes) = std::env::var("ELMAN_MEMORY_AVAILABLE").ok().and_then(|v| v.trim().parse().ok()) {
        return Some(bytes);
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib.saturating_mul(1024))
    });
    let read = |name: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{name}")).ok().and_then(|v| v.trim().parse::<u64>().ok());
    let cgroup = read("memory.max").map(|max| max.saturating_sub(read("memory.current").unwrap_or(0)));
    match (meminfo, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_picks_units() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(92.0 * 1024.0 * 1024.0), "92.0 MiB");
        assert!(human_bytes(4.0e30).contains("e"));
    }
}
