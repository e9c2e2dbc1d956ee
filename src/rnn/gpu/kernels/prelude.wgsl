// prelude: what several kernels share, prepended to every shader file when its module is
// built (WGSL has no includes; KernelModule::source in mod.rs does the joining,
// tests/shaders_validate.rs validates each joined module).
//
//   StepParams — the per-step uniform, mirrored by prelude.rs::StepParams: learning
//                rate, Adam bias corrections 1 − β^k, stats slot, update number k.
//   mix32      — the 32-bit avalanche mixer of src/rnn/dropout.rs::mix32 (dropout masks);
//                u32 arithmetic wraps as Rust's wrapping ops do.
//   mask_base, mask_value — src/rnn/dropout.rs's mask: element i of site s at update k keeps
//                its value (× keep = 1/(1−p)) when u = (mix32(base + i) >> 8) / 2^24 ≥ p,
//                base = mix32(s + mix32(k + mix32(seed))); else it is 0.

struct StepParams {
    lr: f32,
    bc1: f32,
    bc2: f32,
    slot: u32,
    update: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

fn mix32(x0: u32) -> u32 {
    var x = x0;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn mask_base(seed: u32, update: u32, site: u32) -> u32 {
    return mix32(site + mix32(update + mix32(seed)));
}

fn mask_value(base: u32, i: u32, p: f32, keep: f32) -> f32 {
    let u = f32(mix32(base + i) >> 8u) * (1.0 / 16777216.0);
    return select(0.0, keep, u >= p);
}
