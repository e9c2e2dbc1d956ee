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
// w = the flat parameter buffer, W_hh [h, h] at w_off (the trainer aligns it to 64).
//
// The product is small ([n, h]·[h, h] with n = 32, say) and on the critical path, so the
// kernel spreads it over many workgroups: each computes a ROWS × 16 tile of the result
// (ROWS, a pipeline-overridable constant, is 1, 2, 4, 8, 16 or 32, chosen per shape so
// that a step launches ≥ 128 workgroups where the shape allows). Its 256 threads are
// ROWS·4 slots (row, group of 4 columns) times KS = 256 / (ROWS·4) slices of K: thread
// (slot, s) sums k4 = s, s + KS, … (four k per iteration, as vec4 loads), then the KS
// partial sums of each slot are added in a fixed tree order in workgroup memory
// (deterministic), and the slice-0 thread applies φ or φ' and stores four results.
// Forward reads W_hh[k, j..j+3] (row-major: contiguous in j); backward reads
// W_hh[j+q, k..k+3] (contiguous in k) and takes dot products: both are vec4 loads.
// When h or w_off is not a multiple of 4 the same thread layout runs a scalar path (one
// k per iteration, element access into the vec4 arrays).
//
// Guards: a thread whose row or columns fall outside [n, h] loads nothing and stores
// nothing; every thread still reaches the reduction's barriers.
//
// | binding | name  | access     | forward           | backward           |
// |---------|-------|------------|-------------------|--------------------|
// | 0       | x_in  | read       | P [T·n, h]        | dH [T·n, h]        |
// | 1       | y_out | read_write | H [(T+1)·n, h]    | dZ [T·n, h]        |
// | 2       | w     | read       | W_hh at w_off     | W_hh at w_off      |
// | 3       | aux   | read       | (unused)          | H [(T+1)·n, h]     |
// | 4       | p     | uniform    | Params            | Params             |

override ROWS: u32 = 8u;
const COLS: u32 = 16u;
const THREADS: u32 = 256u;

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

@group(0) @binding(0) var<storage, read> x_in: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y_out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> aux: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> partial: array<vec4<f32>, THREADS>;

fn slots() -> u32 {
    return ROWS * 4u;
}

fn k_slices() -> u32 {
    return THREADS / slots();
}

fn activate(z: vec4<f32>) -> vec4<f32> {
    if p.act == 0u {
        // tanh saturates to ±1 in f32 long before |z| = 20; the clamp keeps exp-based
        // implementations from computing inf/inf.
        return tanh(clamp(z, vec4<f32>(-20.0), vec4<f32>(20.0)));
    }
    return max(z, vec4<f32>(0.0));
}

fn activation_derivative(y: vec4<f32>) -> vec4<f32> {
    if p.act == 0u {
        return 1.0 - y * y;
    }
    return select(vec4<f32>(0.0), vec4<f32>(1.0), y > vec4<f32>(0.0));
}

// The vec4 path needs whole vec4s: rows of h % 4 = 0 elements and W_hh at a multiple of 4.
fn vec4_path() -> bool {
    return p.h % 4u == 0u && p.w_off % 4u == 0u;
}

// Scalar element e of each binding (the scalar path).
fn y_at(e: u32) -> f32 {
    return y_out[e / 4u][e % 4u];
}

fn w_at(e: u32) -> f32 {
    return w[e / 4u][e % 4u];
}

// Four consecutive elements from scalar index e, zero past `valid` of them.
fn x4(e: u32, valid: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        if q < valid {
            v[q] = x_in[(e + q) / 4u][(e + q) % 4u];
        }
    }
    return v;
}

fn aux4(e: u32, valid: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        if q < valid {
            v[q] = aux[(e + q) / 4u][(e + q) % 4u];
        }
    }
    return v;
}

fn store_y4(e: u32, valid: u32, v: vec4<f32>) {
    for (var q = 0u; q < 4u; q++) {
        if q < valid {
            y_out[(e + q) / 4u][(e + q) % 4u] = v[q];
        }
    }
}

// This thread's partial of (rows of y_out from a_row0) · W (or Wᵀ when `back`) for row i,
// columns j..j+3, over its K slice.
fn partial_product(a_row0: u32, i: u32, j: u32, s: u32, back: bool) -> vec4<f32> {
    var acc = vec4<f32>(0.0);
    let h = p.h;
    if vec4_path() {
        let h4 = h / 4u;
        let a_base = (a_row0 + i) * h4;
        let w_base = p.w_off / 4u;
        for (var k4 = s; k4 < h4; k4 += k_slices()) {
            let av = y_out[a_base + k4];
            if back {
                let wb = w_base + j * h4 + k4; // W[j, 4·k4 ..]
                acc += vec4<f32>(dot(av, w[wb]), dot(av, w[wb + h4]), dot(av, w[wb + 2u * h4]), dot(av, w[wb + 3u * h4]));
            } else {
                let wb = w_base + 4u * k4 * h4 + j / 4u; // W[4·k4, j ..]
                acc = fma(vec4<f32>(av.x), w[wb], acc);
                acc = fma(vec4<f32>(av.y), w[wb + h4], acc);
                acc = fma(vec4<f32>(av.z), w[wb + 2u * h4], acc);
                acc = fma(vec4<f32>(av.w), w[wb + 3u * h4], acc);
            }
        }
        return acc;
    }
    let valid = min(4u, h - j);
    for (var k = s; k < h; k += k_slices()) {
        let av = y_at((a_row0 + i) * h + k);
        var wv = vec4<f32>(0.0);
        for (var q = 0u; q < 4u; q++) {
            if q < valid {
                if back {
                    wv[q] = w_at(p.w_off + (j + q) * h + k);
                } else {
                    wv[q] = w_at(p.w_off + k * h + j + q);
                }
            }
        }
        acc = fma(vec4<f32>(av), wv, acc);
    }
    return acc;
}

// Sums the k-slice partials of every slot into partial[slot] (fixed tree order).
fn reduce_slices(li: u32, s: u32, acc: vec4<f32>) {
    partial[li] = acc;
    workgroupBarrier();
    for (var half = k_slices() / 2u; half > 0u; half /= 2u) {
        if s < half {
            partial[li] = partial[li] + partial[li + half * slots()];
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256, 1, 1)
fn rnn_step_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let slot = li % slots();
    let s = li / slots();
    let i = wid.y * ROWS + slot / 4u;
    let j = wid.x * COLS + 4u * (slot % 4u);
    let inside = i < p.rows && j < p.h;
    var acc = vec4<f32>(0.0);
    if inside {
        acc = partial_product(p.t * p.rows, i, j, s, false);
    }
    reduce_slices(li, s, acc);
    if s == 0u && inside {
        let sum = partial[slot];
        if vec4_path() {
            let h4 = p.h / 4u;
            let z = x_in[(p.t * p.rows + i) * h4 + j / 4u] + sum;
            y_out[((p.t + 1u) * p.rows + i) * h4 + j / 4u] = activate(z);
        } else {
            let valid = min(4u, p.h - j);
            let z = x4((p.t * p.rows + i) * p.h + j, valid) + sum;
            store_y4(((p.t + 1u) * p.rows + i) * p.h + j, valid, activate(z));
        }
    }
}

@compute @workgroup_size(256, 1, 1)
fn rnn_step_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let slot = li % slots();
    let s = li / slots();
    let i = wid.y * ROWS + slot / 4u;
    let j = wid.x * COLS + 4u * (slot % 4u);
    let inside = i < p.rows && j < p.h;
    var acc = vec4<f32>(0.0);
    if inside && p.has_next != 0u {
        acc = partial_product((p.t + 1u) * p.rows, i, j, s, true);
    }
    reduce_slices(li, s, acc);
    if s == 0u && inside {
        let sum = partial[slot];
        if vec4_path() {
            let h4 = p.h / 4u;
            let here = (p.t * p.rows + i) * h4 + j / 4u;
            let y = aux[((p.t + 1u) * p.rows + i) * h4 + j / 4u];
            y_out[here] = (x_in[here] + sum) * activation_derivative(y);
        } else {
            let valid = min(4u, p.h - j);
            let here = (p.t * p.rows + i) * p.h + j;
            let y = aux4(((p.t + 1u) * p.rows + i) * p.h + j, valid);
            store_y4(here, valid, (x4(here, valid) + sum) * activation_derivative(y));
        }
    }
}
