// softmax_xent: fused, numerically stable softmax–cross-entropy, one workgroup per row.
//
//   loss_r       = log Σ_j exp(z_rj − max_r) + max_r − z_r[y_r]
//   dlogits[r,:] = (softmax(z_r) − onehot(y_r)) · scale        (scale = 1/(n·T))
// `softmax_xent` writes loss and overwrites the logits with dlogits in place (the logits
// are not needed afterwards); `softmax_xent_loss` (evaluation) writes the loss only.
// Subtracting the row max first keeps exp() ≤ 1, so rows with spikes of ±80 stay finite.
//
// | binding | name     | access     | shape                                   |
// |---------|----------|------------|-----------------------------------------|
// | 0       | logits   | read_write | [rows, V] → dlogits (softmax_xent)      |
// | 1       | tokens   | read       | targets [rows] at tgt_off               |
// | 2       | row_loss | read_write | [rows]                                  |
// | 3       | p        | uniform    | Params                                  |

// From the host (softmax_xent.rs): WG, threads per row.

struct Params {
    rows: u32,
    vocab: u32,
    tgt_off: u32,
    scale: f32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> scratch: array<f32, WG>;

// Tree reduction of one value per thread across the workgroup (op 0 = max, 1 = sum).
fn workgroup_reduce(v: f32, li: u32, op: u32) -> f32 {
    scratch[li] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if li < stride {
            let other = scratch[li + stride];
            if op == 0u {
                scratch[li] = max(scratch[li], other);
            } else {
                scratch[li] = scratch[li] + other;
            }
        }
        workgroupBarrier();
    }
    let out = scratch[0];
    workgroupBarrier();
    return out;
}

// Row r's (max, Σ exp(z − max)); every thread of the workgroup gets both.
fn row_stats(base: u32, li: u32) -> vec2<f32> {
    var m = -3.4e38;
    for (var j = li; j < p.vocab; j += WG) {
        m = max(m, logits[base + j]);
    }
    m = workgroup_reduce(m, li, 0u);
    var s = 0.0;
    for (var j = li; j < p.vocab; j += WG) {
        s += exp(logits[base + j] - m);
    }
    s = workgroup_reduce(s, li, 1u);
    return vec2<f32>(m, s);
}

fn row_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

@compute @workgroup_size(WG, 1, 1)
fn softmax_xent(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let r = row_of(wid, nwg);
    if r >= p.rows {
        return; // the whole workgroup leaves together: r is uniform
    }
    let base = r * p.vocab;
    let ms = row_stats(base, li);
    let y = min(tokens[p.tgt_off + r], p.vocab - 1u);
    if li == 0u {
        row_loss[r] = log(ms.y) + ms.x - logits[base + y];
    }
    // Every thread has read logits[base + y] above (thread 0) before any thread writes.
    workgroupBarrier();
    let inv = 1.0 / ms.y;
    for (var j = li; j < p.vocab; j += WG) {
        var g = exp(logits[base + j] - ms.x) * inv * p.scale;
        if j == y {
            g -= p.scale;
        }
        logits[base + j] = g;
    }
}

@compute @workgroup_size(WG, 1, 1)
fn softmax_xent_loss(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let r = row_of(wid, nwg);
    if r >= p.rows {
        return;
    }
    let base = r * p.vocab;
    let ms = row_stats(base, li);
    if li == 0u {
        row_loss[r] = log(ms.y) + ms.x - logits[base + min(tokens[p.tgt_off + r], p.vocab - 1u)];
    }
}
