//! What CPU the CPU path runs on: its model name and the widest SIMD level it offers (the
//! GEMM kernels faer picks follow it), for bench reports.

/// The CPU's model name (Linux: /proc/cpuinfo), or the architecture.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| text.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The widest SIMD level: AVX-512, AVX2, SSE2 (x86-64), NEON (aarch64), or "scalar".
pub fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return "AVX2";
        }
        "SSE2"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "NEON"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

/// "AMD EPYC, AVX-512, 2 threads".
pub fn describe(threads: usize) -> String {
    let plural = if threads == 1 { "" } else { "s" };
    format!("{}, {}, {threads} thread{plural}", cpu_model(), simd_level())
}
