// optimizer: in-place updates over the whole flat parameter buffer in one dispatch, the
// gradient pre-scaled by the clip factor c that grad_norm_finish left in clip[0].
//
//   sgd_update:   g = c·grad + wd·p;  m ← μ·m + g;  p ← p − lr·m           (L2 weight decay)
//   adam_update:  g = c·grad;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
//                 p ← p − (lr · (m / bc1) / (√(v / bc2) + ε) + lr·wd·p)    (AdamW)
//                 bc_i = 1 − β_i^k (host, f64)
// lr, bc1, bc2 change every step and come from the per-step uniform.
//
// | binding | name  | access     | shape       |
// |---------|-------|------------|-------------|
// | 0       | param | read_write | [count]     |
// | 1       | grad  | read       | [count]     |
// | 2       | m     | read_write | [count]     |
// | 3       | v     | read_write | [count] (adam only) |
// | 4       | clip  | read       | [4]: c at 0 |
// | 5       | p     | uniform    | Params      |
// | 6       | step  | uniform    | StepParams  |

// From the host (optimizer.rs): WG, threads per workgroup.

struct Params {
    count: u32,
    momentum: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> clip: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<uniform> step: StepParams;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG, 1, 1)
fn sgd_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_index(gid, nwg);
    if e >= p.count {
        return;
    }
    let mm = p.momentum * m[e] + (clip[0] * grad[e] + p.weight_decay * param[e]);
    m[e] = mm;
    param[e] -= step.lr * mm;
}

@compute @workgroup_size(WG, 1, 1)
fn adam_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_index(gid, nwg);
    if e >= p.count {
        return;
    }
    let g = clip[0] * grad[e];
    let mm = p.beta1 * m[e] + (1.0 - p.beta1) * g;
    let vv = p.beta2 * v[e] + (1.0 - p.beta2) * g * g;
    m[e] = mm;
    v[e] = vv;
    param[e] -= step.lr * (mm / step.bc1) / (sqrt(vv / step.bc2) + p.eps) + step.lr * p.weight_decay * param[e];
}
