// mi_gates: the multiplicative cell's bias and gate gradients of one layer, column sums
// over the R = n·T rows of the chunk (the CPU twin: the gate sums at the end of
// src/rnn/cpu/mi.rs::backward):
//
//   db_j = Σ_r dZ[r, j]            dα_j  = Σ_r dZ[r, j] · P[r, j] · R[r, j]
//   dβ_h_j = Σ_r dZ[r, j] · R[r, j]   dβ_x_j = Σ_r dZ[r, j] · P[r, j]
//
// A workgroup owns COLS = 16 columns; its 256 threads are 16 columns × SLICES = 16 row
// slices. Thread (c, s) sums rows s, s + 16, s + 32, … in order, and the 16 slices are added
// in a fixed tree order in workgroup memory: the sums are deterministic.
//
// Guards: columns ≥ h are neither read nor written; every read is at a row < rows.
//
// | binding | name   | access     | holds                                   |
// |---------|--------|------------|-----------------------------------------|
// | 0       | d_pre  | read       | dZ [R, h] at dz_off                     |
// | 1       | hidden | read       | P, R [R, h] at p_off, r_off             |
// | 2       | grads  | read_write | db at bias_off; dα, dβ_h, dβ_x at gates |
// | 3       | p      | uniform    | Params                                  |

// From the host (mi_gates.rs): COLS, the columns of a workgroup, and SLICES, its row
// slices (COLS × SLICES threads).

struct Params {
    rows: u32,
    h: u32,
    dz_off: u32,
    p_off: u32,
    r_off: u32,
    gate_off: u32,
    gate_stride: u32,
    bias_off: u32,
}

@group(0) @binding(0) var<storage, read> d_pre: array<f32>;
@group(0) @binding(1) var<storage, read> hidden: array<f32>;
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// Per thread: (db, dα, dβ_h, dβ_x).
var<workgroup> sums: array<vec4<f32>, COLS * SLICES>;

@compute @workgroup_size(COLS * SLICES, 1, 1)
fn mi_gate_grads(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let c = li % COLS;
    let s = li / COLS;
    let j = (wid.x + wid.y * nwg.x) * COLS + c;
    var acc = vec4<f32>(0.0);
    if j < p.h {
        for (var r = s; r < p.rows; r += SLICES) {
            let e = r * p.h + j;
            let dz = d_pre[p.dz_off + e];
            let pv = hidden[p.p_off + e];
            let rv = hidden[p.r_off + e];
            acc += vec4<f32>(dz, dz * pv * rv, dz * rv, dz * pv);
        }
    }
    sums[li] = acc;
    workgroupBarrier();
    for (var half = SLICES / 2u; half > 0u; half /= 2u) {
        if s < half {
            sums[li] = sums[li] + sums[li + half * COLS];
        }
        workgroupBarrier();
    }
    if s == 0u && j < p.h {
        let total = sums[li];
        grads[p.bias_off + j] = total.x;
        grads[p.gate_off + j] = total.y;
        grads[p.gate_off + p.gate_stride + j] = total.z;
        grads[p.gate_off + 2u * p.gate_stride + j] = total.w;
    }
}
