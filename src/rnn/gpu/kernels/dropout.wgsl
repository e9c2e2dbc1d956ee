// dropout: inverted dropout with masks drawn from a counter-based hash, the WGSL twin of
// src/rnn/dropout.rs (bit-identical multipliers: integer hash, exact float formula).
//
//   base = mix32(site + mix32(k + mix32(seed)))          k = update number (per-step uniform)
//   u_i  = (mix32(base + i) >> 8) · 2^-24                exact in f32 (24 significant bits)
//   M_i  = keep if u_i ≥ p else 0                        keep = 1/(1−p), computed on the host
//   dropout_apply:  x[dst_off + i] ← x[dst_off + i] · M_i                   i < count (in place)
//   dropout_copy:   dst[dst_off + i] = src[src_off + i] · M_i               i < count
// i is the row-major index within the site's [rows, width] block; sites are 0..L−1 (input
// of layer l) and L (the top outputs into the softmax layer). All u32 arithmetic wraps,
// like Rust's wrapping_add/wrapping_mul.
//
// | binding | name | access     | apply                    | copy                     |
// |---------|------|------------|--------------------------|--------------------------|
// | 0       | src  | read       | —                        | [count] at src_off       |
// | 1       | dst  | read_write | x [count] at dst_off     | [count] at dst_off       |
// | 2       | p    | uniform    | Params                   | Params                   |
// | 3       | step | uniform    | StepParams (update k)    | StepParams (update k)    |

// From the host (dropout.rs): WG, threads per workgroup.

struct Params {
    count: u32,
    src_off: u32,
    dst_off: u32,
    seed: u32,
    site: u32,
    // Probability of zeroing an element.
    p: f32,
    // 1/(1−p), so the GPU multiplies by exactly the CPU's f32 value.
    keep: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: StepParams;

// The multiplier of element i: 0 or keep.
fn mask(i: u32) -> f32 {
    return mask_value(mask_base(p.seed, step.update, p.site), i, p.p, p.keep);
}

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG, 1, 1)
fn dropout_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if i >= p.count {
        return;
    }
    dst[p.dst_off + i] *= mask(i);
}

@compute @workgroup_size(WG, 1, 1)
fn dropout_copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if i >= p.count {
        return;
    }
    dst[p.dst_off + i] = src[p.src_off + i] * mask(i);
}
