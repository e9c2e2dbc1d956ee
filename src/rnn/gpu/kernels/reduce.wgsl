// reduce: the global gradient norm with its clip factor, and the loss sum. (Bias
// gradients, the column sums of dZ, come out of the weight-gradient GEMMs: matmul.wgsl's
// ONES_ROW.)
//
//   grad_norm_partial:  dst[w] = Σ_{e ≡ w-th slice} src[e]²   over all `count` gradients (pass 1)
//   grad_norm_finish:   ‖g‖ = √(Σ_w src[w]); c = min(1, θ/‖g‖) (1 when θ ≤ 0);   (pass 2)
//                       dst[0] = c (read by the optimizer); stats[slot] = (·, ‖g‖, [c < 1], ·)
//   loss_sum:           stats[slot·stride + field] = scale · Σ_r src[r]         (mean loss)
//   sum_squares:        dst[dst_off + b] = Σ_{k<count} src[src_off + b·count + k]²  for each
//                       of the `field` blocks b, one workgroup each (the gradient flow's
//                       ‖∂L/∂H_t‖² per step, ‖dW_hh‖², ‖g‖²)
// Everything stays on the GPU; `slot` comes from the per-step uniform so many steps'
// stats accumulate before the host reads them back.
//
// | binding | name  | access     | norm_partial   | norm_finish     | loss_sum     |
// |---------|-------|------------|----------------|-----------------|--------------|
// | 0       | src   | read       | grads [count]  | partials        | row_loss     | any          |
// | 1       | dst   | read_write | partials       | clip [4]        | —            | block sums   |
// | 2       | stats | read_write | —              | stats [slots,4] | stats        | —            |
// | 3       | p     | uniform    | Params         | Params          | Params       | Params       |
// | 4       | step  | uniform    | —              | StepParams      | StepParams   | —            |
// (the last column is sum_squares)

// From the host (reduce.rs): WG, threads per workgroup, and NUM_PARTIALS, the partial
// sums of grad_norm_partial (one per workgroup).

struct Params {
    count: u32,
    stride: u32,
    field: u32,
    clip: f32,
    scale: f32,
    src_off: u32,
    dst_off: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: StepParams;

var<workgroup> scratch: array<f32, WG>;

// Sum of one value per thread over the workgroup; every thread gets the total.
fn workgroup_sum(v: f32, li: u32) -> f32 {
    scratch[li] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if li < stride {
            scratch[li] += scratch[li + stride];
        }
        workgroupBarrier();
    }
    let out = scratch[0];
    workgroupBarrier();
    return out;
}

// Dispatched as exactly NUM_PARTIALS workgroups.
@compute @workgroup_size(WG, 1, 1)
fn grad_norm_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    var s = 0.0;
    for (var e = wid.x * WG + li; e < p.count; e += NUM_PARTIALS * WG) {
        let g = src[e];
        s = fma(g, g, s);
    }
    let total = workgroup_sum(s, li);
    if li == 0u {
        dst[wid.x] = total;
    }
}

// One workgroup; `count` = number of partials.
@compute @workgroup_size(WG, 1, 1)
fn grad_norm_finish(@builtin(local_invocation_index) li: u32) {
    var s = 0.0;
    for (var e = li; e < p.count; e += WG) {
        s += src[e];
    }
    let norm = sqrt(workgroup_sum(s, li));
    if li == 0u {
        var c = 1.0;
        if p.clip > 0.0 && norm > p.clip {
            c = p.clip / norm;
        }
        dst[0] = c;
        stats[step.slot * 4u + 1u] = norm;
        stats[step.slot * 4u + 2u] = select(0.0, 1.0, c < 1.0);
    }
}

// One workgroup; `count` = rows.
@compute @workgroup_size(WG, 1, 1)
fn loss_sum(@builtin(local_invocation_index) li: u32) {
    var s = 0.0;
    for (var e = li; e < p.count; e += WG) {
        s += src[e];
    }
    let total = workgroup_sum(s, li);
    if li == 0u {
        stats[step.slot * p.stride + p.field] = total * p.scale;
    }
}

// `field` workgroups (a 1-D grid spilling into y); block b = the workgroup's flat index.
@compute @workgroup_size(WG, 1, 1)
fn sum_squares(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let b = wid.x + wid.y * nwg.x;
    var s = 0.0;
    if b < p.field {
        let base = p.src_off + b * p.count;
        for (var e = li; e < p.count; e += WG) {
            let g = src[base + e];
            s = fma(g, g, s);
        }
    }
    let total = workgroup_sum(s, li);
    if li == 0u && b < p.field {
        dst[p.dst_off + b] = total;
    }
}
