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
//             its first n rows, so H_{t-1} is row block t and H_t is written to block t+1;
//             w = the flat parameter buffer, W_hh [h, h] at w_off.
//   backward: x_in = dH [T·n, h]; y_out = dZ [T·n, h] (dZ_{t+1} read from block t+1,
//             dZ_t written to block t); aux = H [(T+1)·n, h] (H_t is block t+1);
//             w = the transposed copy W_hhᵀ [h, h] at w_off (transpose.wgsl makes it once
//             per step), so both directions compute the same product Y·W with W read
//             along its rows.
//
// The product is small ([n, h]·[h, h] with n = 32, say) and on the critical path, so the
// kernel spreads it over many workgroups: each computes a ROWS × 16 tile of the result
// (ROWS, a pipeline-overridable constant, is 4, 8, 16, 32 or 64, chosen per shape so that
// a step launches ≥ 128 workgroups where the shape allows). Its 256 threads are ROWS
// slots (a group of 4 rows × a group of 4 columns: 16 results in four vec4 accumulators)
// times KS = 256 / ROWS slices of K: thread (slot, s) sums k = 4·(s + KS·u) .. +3 for
// u = 0, 1, …, loading per step one vec4 of each of its 4 rows and the 4 vec4s of
// W[k..k+3, j..j+3] (64 multiply-adds per 8 loads). The KS partial sums of each slot are
// then added in a fixed tree order in workgroup memory (deterministic), and the slice-0
// thread applies φ or φ' and stores its 16 results. When h or w_off is not a multiple of
// 4 the same layout runs a scalar path (one k per iteration, element access into the
// vec4 arrays).
//
// Guards: loads of rows ≥ n read 0; a thread stores only rows < n and columns < h; every
// thread reaches the reduction's barriers.
//
// | binding | name  | access     | forward           | backward           |
// |---------|-------|------------|-------------------|--------------------|
// | 0       | x_in  | read       | P [T·n, h]        | dH [T·n, h]        |
// | 1       | y_out | read_write | H [(T+1)·n, h]    | dZ [T·n, h]        |
// | 2       | w     | read       | W_hh at w_off     | W_hhᵀ at w_off     |
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

// Four vec4 partial sums per thread: partial[4·li + q] is row q of thread li's group.
var<workgroup> partial: array<vec4<f32>, 1024>;

// The 16 results of one thread: rows i0 .. i0+3 (r0..r3), columns j .. j+3.
struct Block {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

fn k_slices() -> u32 {
    return THREADS / ROWS;
}

// The vec4 path needs whole vec4s: rows of h % 4 = 0 elements and W at a multiple of 4.
fn vec4_path() -> bool {
    return p.h % 4u == 0u && p.w_off % 4u == 0u;
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

// Vec4 k4 of row `row` of the A operand (rows of y_out from a_row0), 0 past the n rows.
fn a4(a_row0: u32, i: u32, k4: u32) -> vec4<f32> {
    if i >= p.rows {
        return vec4<f32>(0.0);
    }
    return y_out[(a_row0 + i) * (p.h / 4u) + k4];
}

// Element k of row i of the A operand (scalar path), 0 past the n rows.
fn a1(a_row0: u32, i: u32, k: u32) -> f32 {
    if i >= p.rows {
        return 0.0;
    }
    let e = (a_row0 + i) * p.h + k;
    return y_out[e / 4u][e % 4u];
}

// acc + a.x·w0 + a.y·w1 + a.z·w2 + a.w·w3 (one row times four rows of W).
fn rank4(acc: vec4<f32>, a: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>) -> vec4<f32> {
    return fma(vec4<f32>(a.w), w3, fma(vec4<f32>(a.z), w2, fma(vec4<f32>(a.y), w1, fma(vec4<f32>(a.x), w0, acc))));
}

// W[k, j..j+3] on the scalar path, 0 past column h.
fn w_row(k: u32, j: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        if j + q < p.h {
            let e = p.w_off + k * p.h + j + q;
            v[q] = w[e / 4u][e % 4u];
        }
    }
    return v;
}

// This thread's partial of (rows i0..i0+3 of y_out from a_row0)·W over its K slice,
// columns j..j+3.
fn partial_product(a_row0: u32, i0: u32, j: u32, s: u32) -> Block {
    var b = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    if vec4_path() {
        let h4 = p.h / 4u;
        let w_col = p.w_off / 4u + j / 4u;
        for (var k4 = s; k4 < h4; k4 += k_slices()) {
            let wb = w_col + 4u * k4 * h4; // W[4·k4, j..j+3]
            let w0 = w[wb];
            let w1 = w[wb + h4];
            let w2 = w[wb + 2u * h4];
            let w3 = w[wb + 3u * h4];
            b.r0 = rank4(b.r0, a4(a_row0, i0, k4), w0, w1, w2, w3);
            b.r1 = rank4(b.r1, a4(a_row0, i0 + 1u, k4), w0, w1, w2, w3);
            b.r2 = rank4(b.r2, a4(a_row0, i0 + 2u, k4), w0, w1, w2, w3);
            b.r3 = rank4(b.r3, a4(a_row0, i0 + 3u, k4), w0, w1, w2, w3);
        }
        return b;
    }
    for (var k = s; k < p.h; k += k_slices()) {
        let wk = w_row(k, j);
        b.r0 = fma(vec4<f32>(a1(a_row0, i0, k)), wk, b.r0);
        b.r1 = fma(vec4<f32>(a1(a_row0, i0 + 1u, k)), wk, b.r1);
        b.r2 = fma(vec4<f32>(a1(a_row0, i0 + 2u, k)), wk, b.r2);
        b.r3 = fma(vec4<f32>(a1(a_row0, i0 + 3u, k)), wk, b.r3);
    }
    return b;
}

// Sums the k-slice partials of every slot (fixed tree order); slice 0 gets the totals.
fn reduce_slices(li: u32, s: u32, b: Block) -> Block {
    partial[4u * li] = b.r0;
    partial[4u * li + 1u] = b.r1;
    partial[4u * li + 2u] = b.r2;
    partial[4u * li + 3u] = b.r3;
    workgroupBarrier();
    for (var half = k_slices() / 2u; half > 0u; half /= 2u) {
        if s < half {
            let me = 4u * li;
            let other = 4u * (li + half * ROWS);
            partial[me] = partial[me] + partial[other];
            partial[me + 1u] = partial[me + 1u] + partial[other + 1u];
            partial[me + 2u] = partial[me + 2u] + partial[other + 2u];
            partial[me + 3u] = partial[me + 3u] + partial[other + 3u];
        }
        workgroupBarrier();
    }
    return Block(partial[4u * li], partial[4u * li + 1u], partial[4u * li + 2u], partial[4u * li + 3u]);
}

// Four consecutive elements of a binding from scalar index e, zero past `valid` of them
// (the scalar path's epilogue; which binding: 0 = x_in, 1 = aux).
fn load4(which: u32, e: u32, valid: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        if q < valid {
            let f = e + q;
            if which == 0u {
                v[q] = x_in[f / 4u][f % 4u];
            } else {
                v[q] = aux[f / 4u][f % 4u];
            }
        }
    }
    return v;
}

fn store4(e: u32, valid: u32, v: vec4<f32>) {
    for (var q = 0u; q < 4u; q++) {
        if q < valid {
            y_out[(e + q) / 4u][(e + q) % 4u] = v[q];
        }
    }
}

// Result row i (columns j..j+3) of step t: forward H_t = φ(P_t + sum), backward
// dZ_t = (dH_t + sum) ⊙ φ'(H_t).
fn finish_row(i: u32, j: u32, sum: vec4<f32>, back: bool) {
    if i >= p.rows {
        return;
    }
    let here = (p.t * p.rows + i) * p.h + j;           // P_t / dH_t / dZ_t
    let next = ((p.t + 1u) * p.rows + i) * p.h + j;    // H_t
    if vec4_path() {
        if back {
            y_out[here / 4u] = (x_in[here / 4u] + sum) * activation_derivative(aux[next / 4u]);
        } else {
            y_out[next / 4u] = activate(x_in[here / 4u] + sum);
        }
        return;
    }
    let valid = min(4u, p.h - j);
    if back {
        store4(here, valid, (load4(0u, here, valid) + sum) * activation_derivative(load4(1u, next, valid)));
    } else {
        store4(next, valid, activate(load4(0u, here, valid) + sum));
    }
}

fn step(wid: vec3<u32>, li: u32, back: bool) {
    let slot = li % ROWS;
    let s = li / ROWS;
    let i0 = wid.y * ROWS + 4u * (slot / 4u);
    let j = wid.x * COLS + 4u * (slot % 4u);
    let a_row0 = select(p.t, p.t + 1u, back) * p.rows;
    var b = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    if i0 < p.rows && j < p.h && (!back || p.has_next != 0u) {
        b = partial_product(a_row0, i0, j, s);
    }
    let sum = reduce_slices(li, s, b);
    if s == 0u && j < p.h {
        finish_row(i0, j, sum.r0, back);
        finish_row(i0 + 1u, j, sum.r1, back);
        finish_row(i0 + 2u, j, sum.r2, back);
        finish_row(i0 + 3u, j, sum.r3, back);
    }
}

@compute @workgroup_size(256, 1, 1)
fn rnn_step_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    step(wid, li, false);
}

@compute @workgroup_size(256, 1, 1)
fn rnn_step_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    step(wid, li, true);
}
