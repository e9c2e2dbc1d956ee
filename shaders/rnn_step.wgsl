// rnn_step: the recurrence, one fused dispatch per time step and layer.
//
//   rnn_step_forward  (step t):  H_t  = φ(P_t + H_{t-1}·W_hh)
//   rnn_step_backward (step t):  dZ_t = (dH_t + dZ_{t+1}·W_hhᵀ) ⊙ φ'(H_t)
//                                (no dZ_{t+1} term at the chunk's last step: has_next = 0)
// φ is tanh (act = 0) or relu (act = 1); φ' is written in terms of the output y = φ(z):
// tanh → 1 − y², relu → [y > 0].
//
// Layouts (n = rows, h = width; every buffer row-major, rows time-major t·n + i):
//   forward:  x_in = P [T·n, h]; y_out = H [(T+1)·n, h] with the carried state H_{-1} as
//             its first n rows, so H_{t-1} is row block t and H_t is written to block t+1.
//   backward: x_in = dH [T·n, h]; y_out = dZ [T·n, h] (dZ_{t+1} read from block t+1,
//             dZ_t written to block t); aux = H [(T+1)·n, h] (H_t is block t+1).
// w = the flat parameter buffer, W_hh [h, h] at w_off.
//
// Tiling: 16×16 threads compute a 32×32 tile of the [n, h] result, 2×2 registers each,
// K in slices of 32 through workgroup memory. Bounds checks sit on loads and stores.
//
// | binding | name  | access     | forward           | backward           |
// |---------|-------|------------|-------------------|--------------------|
// | 0       | x_in  | read       | P [T·n, h]        | dH [T·n, h]        |
// | 1       | y_out | read_write | H [(T+1)·n, h]    | dZ [T·n, h]        |
// | 2       | w     | read       | W_hh at w_off     | W_hh at w_off      |
// | 3       | aux   | read       | (unused)          | H [(T+1)·n, h]     |
// | 4       | p     | uniform    | Params            | Params             |

const TILE: u32 = 32u;
const BK: u32 = 32u;
const WG_SIDE: u32 = 16u;
const THREADS: u32 = 256u;
const PER_THREAD: u32 = 2u;

struct Params {
    rows: u32,
    h: u32,
    t: u32,
    act: u32,
    w_off: u32,
    has_next: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x_in: array<f32>;
@group(0) @binding(1) var<storage, read_write> y_out: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> a_tile: array<f32, 1024>; // [BK][TILE]: a_tile[kk * TILE + i]
var<workgroup> b_tile: array<f32, 1024>; // [BK][TILE]: b_tile[kk * TILE + j]

fn activate(z: f32) -> f32 {
    if p.act == 0u {
        // tanh saturates to ±1 in f32 long before |z| = 20; the clamp keeps exp-based
        // implementations from computing inf/inf.
        return tanh(clamp(z, -20.0, 20.0));
    }
    return max(z, 0.0);
}

fn activation_derivative(y: f32) -> f32 {
    if p.act == 0u {
        return 1.0 - y * y;
    }
    return select(0.0, 1.0, y > 0.0);
}

// acc += (y_out rows a_row0.. as [rows, h]) · W (or Wᵀ when trans_w) for this thread's 2×2 block.
fn tile_product(a_row0: u32, trans_w: bool, row0: u32, col0: u32, lid: vec3<u32>, li: u32, acc: ptr<function, array<f32, 4>>) {
    for (var k0 = 0u; k0 < p.h; k0 += BK) {
        for (var r = 0u; r < (TILE * BK) / THREADS; r++) {
            let e = li + r * THREADS;
            let i = e / BK;
            let kk = e % BK;
            var va = 0.0;
            if row0 + i < p.rows && k0 + kk < p.h {
                va = y_out[(a_row0 + row0 + i) * p.h + k0 + kk];
            }
            a_tile[kk * TILE + i] = va;
            var j: u32;
            var kb: u32;
            if trans_w { j = e / BK; kb = e % BK; } else { kb = e / TILE; j = e % TILE; }
            var vb = 0.0;
            if col0 + j < p.h && k0 + kb < p.h {
                if trans_w {
                    vb = w[p.w_off + (col0 + j) * p.h + k0 + kb];
                } else {
                    vb = w[p.w_off + (k0 + kb) * p.h + col0 + j];
                }
            }
            b_tile[kb * TILE + j] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let a0 = a_tile[kk * TILE + lid.y];
            let a1 = a_tile[kk * TILE + lid.y + WG_SIDE];
            let b0 = b_tile[kk * TILE + lid.x];
            let b1 = b_tile[kk * TILE + lid.x + WG_SIDE];
            (*acc)[0] = fma(a0, b0, (*acc)[0]);
            (*acc)[1] = fma(a0, b1, (*acc)[1]);
            (*acc)[2] = fma(a1, b0, (*acc)[2]);
            (*acc)[3] = fma(a1, b1, (*acc)[3]);
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(16, 16, 1)
fn rnn_step_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    var acc: array<f32, 4>;
    tile_product(p.t * p.rows, false, row0, col0, lid, li, &acc);
    for (var r = 0u; r < PER_THREAD; r++) {
        let i = row0 + lid.y + r * WG_SIDE;
        for (var q = 0u; q < PER_THREAD; q++) {
            let j = col0 + lid.x + q * WG_SIDE;
            if i < p.rows && j < p.h {
                let z = x_in[(p.t * p.rows + i) * p.h + j] + acc[r * PER_THREAD + q];
                y_out[((p.t + 1u) * p.rows + i) * p.h + j] = activate(z);
            }
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn rnn_step_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    var acc: array<f32, 4>;
    if p.has_next != 0u {
        tile_product((p.t + 1u) * p.rows, true, row0, col0, lid, li, &acc);
    }
    for (var r = 0u; r < PER_THREAD; r++) {
        let i = row0 + lid.y + r * WG_SIDE;
        for (var q = 0u; q < PER_THREAD; q++) {
            let j = col0 + lid.x + q * WG_SIDE;
            if i < p.rows && j < p.h {
                let here = (p.t * p.rows + i) * p.h + j;
                let y = aux[((p.t + 1u) * p.rows + i) * p.h + j];
                y_out[here] = (x_in[here] + acc[r * PER_THREAD + q]) * activation_derivative(y);
            }
        }
    }
}
