// rnn_wave: the body of the recurrent kernels, shared by rnn_step.wgsl (one dispatch per
// wave of the layer wavefront) and rnn_persistent.wgsl (every wave of a chunk in one
// dispatch); their modules join it before either file (rnn_step.rs, rnn_persistent.rs),
// which declares `p` (the wave's Params: a uniform per dispatch, or a workgroup copy per
// wave). A wave runs up to LANES = 4 lanes side by side, lane = one layer at one time
// step: forward wave w runs layer l at step t = w − l, backward wave w runs layer l at step
// t = T − 1 − (w − (L − 1 − l)), so a chunk of T steps through L layers is T + L − 1
// dependent dispatches each way.
//
//   forward,  layer l, step t:  H^l_t  = φ(X^l_t·W_xh^l + b^l + H^l_{t-1}·W_hh^l)
//             (layer 0: X^0·W_xh^0 + b^0 = P^0_t comes from a batched GEMM; layer l ≥ 1
//             reads X^l_t = H^{l-1}_t, or under dropout its masked copy, which layer l−1
//             wrote one wave earlier);
//   backward, layer l, step t:  dZ^l_t = (dH^l_t + dZ^l_{t+1}·W_hh^lᵀ) ⊙ φ'(H^l_t)
//             with dH^l_t = (dZ^{l+1}_t·W_xh^{l+1}ᵀ) ⊙ M_{l+1} below the top layer (the
//             wave before computed dZ^{l+1}_t), and dH^L_t from the output layer's GEMM
//             for the top one; no dZ^l_{t+1} term at the chunk's last step.
// φ is tanh (act = 0) or relu (act = 1); φ' is written in terms of y = φ(z): tanh → 1 − y²,
// relu → [y > 0]. Dropout masks M_s are src/rnn/dropout.rs's hash (dropout.wgsl): the forward
// epilogue of layer l writes H^l_t ⊙ M_{l+1} (the masked input of layer l + 1, or of the
// output layer at the top) beside H^l_t; the backward multiplies the dH^l_t part by
// M_{l+1}. Mask element (i, j) of step t has index (t·n + i)·h + j, as on the CPU.
//
// Each lane is a product Y·W (two of them, K1 then K2, summed): the input part
// (A1 = X^l_t or dZ^{l+1}_t, K1 = its width, B1 = W_xh^l or W_xh^{l+1}ᵀ) and the
// recurrent part (A2 = H^l_{t-1} or dZ^l_{t+1}, K2 = h, B2 = W_hh^l or W_hh^lᵀ); every B
// is read along its rows (the trainer keeps the transposed copies, transpose.wgsl).
// Workgroups: each computes a ROWS × 16 tile of one lane's [n, h] result (ROWS, a
// pipeline-overridable constant, is 4, 8, 16, 32 or 64, chosen per shape so that a wave
// launches ≥ 128 workgroups where it can); its 256 threads are ROWS slots (4 rows × 4
// columns: four vec4 accumulators) times KS = 256 / ROWS slices of K. Thread (slot, s)
// sums k = 4·(s + KS·u) .. +3, u = 0, 1, …, loading per step one vec4 of each of its 4
// rows and the 4 vec4s of B[k..k+3, j..j+3] (64 multiply-adds per 8 loads); the KS
// partial sums are added in a fixed tree order in workgroup memory (deterministic), and
// the slice-0 thread finishes and stores its 16 results. A lane whose widths or offsets
// are not multiples of 4 runs the same layout on a scalar path.
//
// The multiplicative cell (lane flag MI; Wu et al. 2016, src/rnn/cpu/mi.rs):
//   forward   Z_t = α ⊙ P_t ⊙ R_t + β_h ⊙ R_t + β_x ⊙ P_t + b,  H_t = φ(Z_t), with
//             P_t = X_t·W_xh (layer 0: P^0_t from the batched GEMM, without the bias; above:
//             the input part) and R_t = H_{t-1}·W_hh summed apart (a second reduction);
//             P_t and R_t are stored for the backward;
//   backward  G_t = dH_t + dR_{t+1}·W_hhᵀ (input part dP^{l+1}_t·W_xh^{l+1}ᵀ below the top),
//             dZ_t = G_t ⊙ φ'(H_t), dR_t = dZ_t ⊙ (α ⊙ P_t + β_h), dP_t = dZ_t ⊙ (α ⊙ R_t + β_x).
// With α = 0, β_h = β_x = 1 every line is the Elman cell's. RECORD (backward, either cell)
// also stores G_t, whose per-step norms are the gradient flow (src/rnn/train/gradflow.rs).
//
// Guards: a thread's rows past n load row n − 1 again (clamped) and are never stored; a
// thread stores only rows < n and columns < h; every thread reaches the barriers; every
// offset comes from the host's layout of the buffers.
//
// | binding | name  | access     | forward                          | backward                      |
// |---------|-------|------------|----------------------------------|-------------------------------|
// | 0       | x_in  | read       | P^0 [T·n, h_0]                   | dH^L [T·n, h_L]               |
// | 1       | y_out | read_write | all H^l, masked copies, P^l, R^l | all dZ^l (dR^l, dP^l, G^l)     |
// | 2       | w     | read       | parameters (W_xh, W_hh, b, α, β) | W_hhᵀ, W_xhᵀ, a copy of α, β  |
// | 3       | aux   | read       | (unused)                         | all H^l (and mi's P^l, R^l)   |
// | 4       | p/run | uniform    | Params (rnn_step) or Run (rnn_persistent)                        |
// | 5       | step  | uniform    | StepParams (update k, dropout)   | StepParams                    |

// From the host (rnn_wave.rs): COLS (output columns per workgroup), THREADS (per
// workgroup), LANES (per wave), and the lane flags:
//   HAS_RECURRENT  the K2 part (always forward; backward: t < T − 1)
//   VEC4           every width and offset of the lane is a multiple of 4
//   DROP           forward: write the masked copy; backward: mask dH
//   X_TERM         add x_in (P^0 forward, dH^L backward); else the bias (forward)
//   MI             the multiplicative cell
//   RECORD         backward: store G_t at flow_off

override ROWS: u32 = 8u;

struct Lane {
    h: u32,
    k1: u32,          // width of the input part's rows (0: no input part)
    t: u32,
    flags: u32,
    first_group: u32, // first workgroup of the lane in this dispatch
    groups_x: u32,    // column tiles: ⌈h / 16⌉
    a1_off: u32,      // row 0 of A1 in y_out
    a2_off: u32,      // row 0 of A2 in y_out
    w1_off: u32,      // B1 [k1, h] in w
    w2_off: u32,      // B2 [h, h] in w
    x_off: u32,       // row 0 of the x term in x_in
    bias_off: u32,    // b^l in w (forward, no x term)
    out_off: u32,     // row 0 of the result in y_out
    aux_off: u32,     // row 0 of H^l_t in aux (backward)
    drop_off: u32,    // row 0 of the masked copy in y_out (forward)
    site: u32,        // dropout site of the mask
    gate_off: u32,    // MI: α in w; β_h, β_x at +gate_stride, +2·gate_stride
    gate_stride: u32,
    p_off: u32,       // MI: row 0 of P_t, R_t (forward: in y_out; backward: in aux)
    r_off: u32,
    dp_off: u32,      // MI, backward: row 0 of dP_t, dR_t in y_out
    dr_off: u32,
    flow_off: u32,    // RECORD: row 0 of G_t in y_out
    _pad0: u32,
}

struct Params {
    rows: u32,
    lanes: u32,
    act: u32,
    seed: u32,
    p: f32,
    keep: f32,
    groups: u32,  // workgroups of the wave: the lanes' tiles, one after another
    _pad1: u32,
    lane: array<Lane, LANES>,
}

@group(0) @binding(0) var<storage, read> x_in: array<vec4<f32>>;
// Binding 1, y_out, is declared by the including file with its accessors y_vec4, y_elem,
// y_set_vec4 and y_set_elem (vec4 index i, element index e): plain vec4s per wave, or
// atomic words in the persistent kernel, whose waves read what other workgroups wrote
// within the same dispatch (only atomics are coherent across workgroups there).
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> aux: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> step: StepParams;

// Four vec4 partial sums per thread: partial[4·li + q] is row q of thread li's group.
var<workgroup> partial: array<vec4<f32>, 4u * THREADS>;

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

// Multipliers (0 or 1/(1−p)) of mask elements e .. e+3 of the site whose `mask_base` is `base`.
fn mask4(base: u32, e: u32) -> vec4<f32> {
    return vec4<f32>(mask_value(base, e, p.p, p.keep), mask_value(base, e + 1u, p.p, p.keep), mask_value(base, e + 2u, p.p, p.keep), mask_value(base, e + 3u, p.p, p.keep));
}

// acc + a.x·w0 + a.y·w1 + a.z·w2 + a.w·w3 (one row times four rows of B).
fn rank4(acc: vec4<f32>, a: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>) -> vec4<f32> {
    return fma(vec4<f32>(a.w), w3, fma(vec4<f32>(a.z), w2, fma(vec4<f32>(a.y), w1, fma(vec4<f32>(a.x), w0, acc))));
}

// Vec4 k4 of row i of A (rows of width k from element a_off of y_out). Callers pass rows
// clamped to n − 1: a thread's rows past n repeat the last row, and their results are
// never stored, so the K loop needs no branch.
fn a4(a_off: u32, k: u32, i: u32, k4: u32) -> vec4<f32> {
    return y_vec4((a_off + i * k) / 4u + k4);
}

// Element kk of row i of A (scalar path; i clamped as for a4).
fn a1(a_off: u32, k: u32, i: u32, kk: u32) -> f32 {
    let e = a_off + i * k + kk;
    return y_elem(e);
}

// B[kk, j..j+3] of a [k, h] matrix at w_off (scalar path); 0 past column h.
fn b_row(w_off: u32, h: u32, kk: u32, j: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        if j + q < h {
            let e = w_off + kk * h + j + q;
            v[q] = w[e / 4u][e % 4u];
        }
    }
    return v;
}

// b + this thread's share of A[rows i0..i0+3, :k]·B[:k, j..j+3] (slice s of K); rows
// past n are clamped to n − 1 (i0 < n).
fn accumulate(b0: Block, a_off: u32, k: u32, w_off: u32, h: u32, vec4_path: bool, i_first: u32, j: u32, s: u32) -> Block {
    var b = b0;
    let last = p.rows - 1u;
    let i0 = i_first;
    let i1 = min(i_first + 1u, last);
    let i2 = min(i_first + 2u, last);
    let i3 = min(i_first + 3u, last);
    if vec4_path {
        let h4 = h / 4u;
        let w_col = (w_off + j) / 4u;
        for (var k4 = s; k4 < k / 4u; k4 += k_slices()) {
            let wb = w_col + 4u * k4 * h4; // B[4·k4, j..j+3]
            let w0 = w[wb];
            let w1 = w[wb + h4];
            let w2 = w[wb + 2u * h4];
            let w3 = w[wb + 3u * h4];
            b.r0 = rank4(b.r0, a4(a_off, k, i0, k4), w0, w1, w2, w3);
            b.r1 = rank4(b.r1, a4(a_off, k, i1, k4), w0, w1, w2, w3);
            b.r2 = rank4(b.r2, a4(a_off, k, i2, k4), w0, w1, w2, w3);
            b.r3 = rank4(b.r3, a4(a_off, k, i3, k4), w0, w1, w2, w3);
        }
        return b;
    }
    for (var kk = s; kk < k; kk += k_slices()) {
        let wk = b_row(w_off, h, kk, j);
        b.r0 = fma(vec4<f32>(a1(a_off, k, i0, kk)), wk, b.r0);
        b.r1 = fma(vec4<f32>(a1(a_off, k, i1, kk)), wk, b.r1);
        b.r2 = fma(vec4<f32>(a1(a_off, k, i2, kk)), wk, b.r2);
        b.r3 = fma(vec4<f32>(a1(a_off, k, i3, kk)), wk, b.r3);
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

// Elements e .. e + valid − 1 of a binding (0 = x_in, 1 = aux, 2 = w), zeros after.
fn load4(which: u32, e: u32, valid: u32, vec4_path: bool) -> vec4<f32> {
    if vec4_path {
        if which == 0u {
            return x_in[e / 4u];
        } else if which == 1u {
            return aux[e / 4u];
        }
        return w[e / 4u];
    }
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        if q < valid {
            let f = e + q;
            if which == 0u {
                v[q] = x_in[f / 4u][f % 4u];
            } else if which == 1u {
                v[q] = aux[f / 4u][f % 4u];
            } else {
                v[q] = w[f / 4u][f % 4u];
            }
        }
    }
    return v;
}

fn store4(e: u32, valid: u32, v: vec4<f32>, vec4_path: bool) {
    if vec4_path {
        y_set_vec4(e / 4u, v);
        return;
    }
    for (var q = 0u; q < 4u; q++) {
        if q < valid {
            y_set_elem(e + q, v[q]);
        }
    }
}

// The lane whose workgroups include `g` (lanes hold increasing workgroup ranges).
fn lane_of(g: u32) -> u32 {
    var found = 0u;
    if p.lanes > 1u && g >= p.lane[1].first_group {
        found = 1u;
    }
    if p.lanes > 2u && g >= p.lane[2].first_group {
        found = 2u;
    }
    if p.lanes > 3u && g >= p.lane[3].first_group {
        found = 3u;
    }
    return found;
}

// Finishes result row i (columns j..j+3) of lane `ln` from its summed product `sum`
// (MI forward: the input part P; `rsum` is the recurrent part R).
fn finish_row(ln: Lane, mask_at: u32, i: u32, j: u32, sum: vec4<f32>, rsum: vec4<f32>, back: bool) {
    if i >= p.rows {
        return;
    }
    let v4 = (ln.flags & VEC4) != 0u;
    let mi = (ln.flags & MI) != 0u;
    let valid = min(4u, ln.h - j);
    let row = i * ln.h + j;
    var x = vec4<f32>(0.0);
    if (ln.flags & X_TERM) != 0u {
        x = load4(0u, ln.x_off + row, valid, v4);
    } else if !back && !mi {
        x = load4(2u, ln.bias_off + j, valid, v4);
    }
    if back {
        let g = x + sum;
        if (ln.flags & RECORD) != 0u {
            store4(ln.flow_off + row, valid, g, v4);
        }
        let d = g * activation_derivative(load4(1u, ln.aux_off + row, valid, v4));
        store4(ln.out_off + row, valid, d, v4);
        if mi {
            let alpha = load4(2u, ln.gate_off + j, valid, v4);
            let beta_h = load4(2u, ln.gate_off + ln.gate_stride + j, valid, v4);
            let beta_x = load4(2u, ln.gate_off + 2u * ln.gate_stride + j, valid, v4);
            let pv = load4(1u, ln.p_off + row, valid, v4);
            let rv = load4(1u, ln.r_off + row, valid, v4);
            store4(ln.dr_off + row, valid, d * (alpha * pv + beta_h), v4);
            store4(ln.dp_off + row, valid, d * (alpha * rv + beta_x), v4);
        }
        return;
    }
    var z = x + sum;
    if mi {
        // P = the x term (layer 0) or the input part; R = the recurrent part.
        let pv = x + sum;
        let alpha = load4(2u, ln.gate_off + j, valid, v4);
        let beta_h = load4(2u, ln.gate_off + ln.gate_stride + j, valid, v4);
        let beta_x = load4(2u, ln.gate_off + 2u * ln.gate_stride + j, valid, v4);
        let bias = load4(2u, ln.bias_off + j, valid, v4);
        z = alpha * pv * rsum + beta_h * rsum + beta_x * pv + bias;
        store4(ln.p_off + row, valid, pv, v4);
        store4(ln.r_off + row, valid, rsum, v4);
    }
    let y = activate(z);
    store4(ln.out_off + row, valid, y, v4);
    if (ln.flags & DROP) != 0u {
        store4(ln.drop_off + row, valid, y * mask4(mask_at, (ln.t * p.rows + i) * ln.h + j), v4);
    }
}

// `gid`: the workgroup's index in the wave, (x, y) flattened (past 65,535 workgroups the
// launcher spills into y; the spare ones at the end find no rows and write nothing).
// `mi`: the lanes are the multiplicative cell's (the same for every lane of a model; a
// uniform value, since it decides whether the workgroup reaches a second reduction).
fn wave(gid: u32, li: u32, back: bool, mi: bool) {
    let ln = p.lane[lane_of(gid)];
    let g = gid - ln.first_group;
    let slot = li % ROWS;
    let s = li / ROWS;
    let i0 = (g / ln.groups_x) * ROWS + 4u * (slot / 4u);
    let j = (g % ln.groups_x) * COLS + 4u * (slot % 4u);
    let v4 = (ln.flags & VEC4) != 0u;
    // The lane's dropout mask (used only when its DROP flag is set).
    let mask_at = mask_base(p.seed, step.update, ln.site);
    // The MI forward sums the recurrent part apart (R, a second reduction); every other
    // lane adds it to the input part.
    let split = mi && !back;
    let zero = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var b = zero;
    if i0 < p.rows && j < ln.h {
        if ln.k1 > 0u {
            b = accumulate(b, ln.a1_off, ln.k1, ln.w1_off, ln.h, v4, i0, j, s);
            if back && (ln.flags & DROP) != 0u {
                // dH^l = (dZ^{l+1}·W_xhᵀ) ⊙ M: each slice's share scaled alike.
                let e = (ln.t * p.rows + i0) * ln.h + j;
                b.r0 *= mask4(mask_at, e);
                b.r1 *= mask4(mask_at, e + ln.h);
                b.r2 *= mask4(mask_at, e + 2u * ln.h);
                b.r3 *= mask4(mask_at, e + 3u * ln.h);
            }
        }
        if (ln.flags & HAS_RECURRENT) != 0u && !split {
            b = accumulate(b, ln.a2_off, ln.h, ln.w2_off, ln.h, v4, i0, j, s);
        }
    }
    let sum = reduce_slices(li, s, b);
    var rsum = zero;
    // `split` is the same for the whole workgroup, so every thread reaches the second
    // reduction's barriers or none does.
    if split {
        var r = zero;
        if i0 < p.rows && j < ln.h && (ln.flags & HAS_RECURRENT) != 0u {
            r = accumulate(r, ln.a2_off, ln.h, ln.w2_off, ln.h, v4, i0, j, s);
        }
        rsum = reduce_slices(li, s, r);
    }
    if s == 0u && j < ln.h {
        finish_row(ln, mask_at, i0, j, sum.r0, rsum.r0, back);
        finish_row(ln, mask_at, i0 + 1u, j, sum.r1, rsum.r1, back);
        finish_row(ln, mask_at, i0 + 2u, j, sum.r2, rsum.r2, back);
        finish_row(ln, mask_at, i0 + 3u, j, sum.r3, rsum.r3, back);
    }
}
