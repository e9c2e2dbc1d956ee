// matmul: C[m, n] ← [C +] op(A)·op(B) [+ bias], the one GEMM every batched product uses
// (input projection X·W_xh + b_h, logits H·W_q + b_q, dW = Xᵀ·dZ, dX = dZ·W_xhᵀ, ...).
//
//   op(A) = A [m, k] (stored row-major) or Aᵀ with A stored [k, m] when TRANS_A;
//   op(B) = B [k, n] or Bᵀ with B stored [n, k] when TRANS_B;
//   ACCUMULATE adds the old C; BIAS adds bias[j] to every row;
//   ONES_ROW appends a row of ones to op(A): row m of the product, Σ_k op(B)[k, j], is
//   written to ones_off (a weight gradient's bias gradient comes out of the same GEMM:
//   [Xᵀ; 1ᵀ]·dZ = [dW; db]). m_eff = m + 1 then, else m.
// Every operand lives at an element offset inside a larger buffer (flat parameter and
// gradient buffers, per-layer activation buffers), so whole buffers are bound once.
//
// Tiling: a workgroup computes a TILE×TILE block of C (TILE = 128 with 16×16 threads, or
// 64 with 8×8: a pipeline-overridable constant). Each thread owns an 8×8 block held in 16
// vec4 accumulators: rows 4·ty + {0..3} and TILE/2 + 4·ty + {0..3}, columns likewise
// from tx. K advances in slices of BK = TILE/16 staged in workgroup memory, double
// buffered: while the threads multiply slice s they hold slice s+1 in registers (one
// vec4 per operand per thread), so one barrier per slice suffices. The staged tiles are
// stored k-major ([BK][TILE] with one vec4 of padding per row, so the transposing stores
// of row-major operands do not collide in a bank) and read as vec4s.
//
// Split-K: workgroup z of `splits` sums only k in [z·k_chunk, (z+1)·k_chunk) and, when
// splits > 1, writes its raw partial block to C = a scratch buffer at z·split_stride
// (rows 0..m_eff); matmul_reduce then adds the partials in order z = 0, 1, … and applies
// the flags. Deterministic: the same shapes always sum in the same order.
//
// Guards: loads outside op(A)/op(B) or the workgroup's K range read 0; stores outside
// [m_eff, n] are skipped (every thread must reach the barriers, so the checks sit on the
// loads and stores).
//
// | binding | name   | access     | matmul                   | matmul_reduce            |
// |---------|--------|------------|--------------------------|--------------------------|
// | 0       | a      | read       | A at a_off               | partials [splits, m_eff, n] |
// | 1       | b      | read       | B at b_off               | (unused)                 |
// | 2       | c      | read_write | C at c_off, or partials  | C at c_off               |
// | 3       | bias   | read       | bias [n] at bias_off     | bias [n] at bias_off     |
// | 4       | p      | uniform    | Params                   | Params                   |

// From the host (matmul.rs): the flag bits TRANS_A, TRANS_B, ACCUMULATE, BIAS, ONES_ROW,
// and REDUCE_WG, matmul_reduce's threads per workgroup.

override TILE: u32 = 128u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    flags: u32,
    a_off: u32,
    b_off: u32,
    c_off: u32,
    bias_off: u32,
    ones_off: u32,
    k_chunk: u32,
    splits: u32,
    split_stride: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

// Two buffers × BK rows × (TILE/4 + 1) vec4s: row kk of buffer s starts at
// (s·BK + kk)·(TILE/4 + 1).
var<workgroup> a_tile: array<vec4<f32>, 2u * (TILE / 16u) * (TILE / 4u + 1u)>;
var<workgroup> b_tile: array<vec4<f32>, 2u * (TILE / 16u) * (TILE / 4u + 1u)>;

fn bk() -> u32 {
    return TILE / 16u;
}

fn threads() -> u32 {
    return (TILE / 8u) * (TILE / 8u);
}

fn row_vec4s() -> u32 {
    return TILE / 4u + 1u;
}

fn m_eff() -> u32 {
    return p.m + select(0u, 1u, (p.flags & ONES_ROW) != 0u);
}

// Element `r` (0..3) of this thread's share of a [TILE × BK] operand slice, as
// (tile row or column, kk). K-fastest for operands stored with k contiguous (A, or Bᵀ),
// so consecutive threads read consecutive addresses; row-fastest otherwise.
fn slot(li: u32, r: u32, k_contiguous: bool) -> vec2<u32> {
    let e = li + r * threads();
    if k_contiguous {
        return vec2<u32>(e / bk(), e % bk());
    }
    return vec2<u32>(e % TILE, e / TILE);
}

// op(A)[i, k] for k in this workgroup's [k_begin, k_end); 0 outside.
fn load_a(i: u32, k: u32, k_end: u32) -> f32 {
    if k >= k_end || i >= m_eff() {
        return 0.0;
    }
    if i == p.m {
        return 1.0; // the ONES_ROW row
    }
    if (p.flags & TRANS_A) != 0u {
        return a[p.a_off + k * p.m + i];
    }
    return a[p.a_off + i * p.k + k];
}

// op(B)[k, j]; 0 outside.
fn load_b(k: u32, j: u32, k_end: u32) -> f32 {
    if k >= k_end || j >= p.n {
        return 0.0;
    }
    if (p.flags & TRANS_B) != 0u {
        return b[p.b_off + j * p.k + k];
    }
    return b[p.b_off + k * p.n + j];
}

fn fetch_a(li: u32, row0: u32, k0: u32, k_end: u32) -> vec4<f32> {
    let kc = (p.flags & TRANS_A) == 0u;
    let s0 = slot(li, 0u, kc);
    let s1 = slot(li, 1u, kc);
    let s2 = slot(li, 2u, kc);
    let s3 = slot(li, 3u, kc);
    return vec4<f32>(
        load_a(row0 + s0.x, k0 + s0.y, k_end),
        load_a(row0 + s1.x, k0 + s1.y, k_end),
        load_a(row0 + s2.x, k0 + s2.y, k_end),
        load_a(row0 + s3.x, k0 + s3.y, k_end),
    );
}

fn fetch_b(li: u32, col0: u32, k0: u32, k_end: u32) -> vec4<f32> {
    let kc = (p.flags & TRANS_B) != 0u;
    let s0 = slot(li, 0u, kc);
    let s1 = slot(li, 1u, kc);
    let s2 = slot(li, 2u, kc);
    let s3 = slot(li, 3u, kc);
    return vec4<f32>(
        load_b(k0 + s0.y, col0 + s0.x, k_end),
        load_b(k0 + s1.y, col0 + s1.x, k_end),
        load_b(k0 + s2.y, col0 + s2.x, k_end),
        load_b(k0 + s3.y, col0 + s3.x, k_end),
    );
}

// Float `x` of staged row (buf, kk), as (vec4 index, component).
fn staged(buf: u32, s: vec2<u32>) -> vec2<u32> {
    return vec2<u32>((buf * bk() + s.y) * row_vec4s() + s.x / 4u, s.x % 4u);
}

fn stage_a(li: u32, buf: u32, v: vec4<f32>) {
    let kc = (p.flags & TRANS_A) == 0u;
    let t0 = staged(buf, slot(li, 0u, kc));
    let t1 = staged(buf, slot(li, 1u, kc));
    let t2 = staged(buf, slot(li, 2u, kc));
    let t3 = staged(buf, slot(li, 3u, kc));
    a_tile[t0.x][t0.y] = v.x;
    a_tile[t1.x][t1.y] = v.y;
    a_tile[t2.x][t2.y] = v.z;
    a_tile[t3.x][t3.y] = v.w;
}

fn stage_b(li: u32, buf: u32, v: vec4<f32>) {
    let kc = (p.flags & TRANS_B) != 0u;
    let t0 = staged(buf, slot(li, 0u, kc));
    let t1 = staged(buf, slot(li, 1u, kc));
    let t2 = staged(buf, slot(li, 2u, kc));
    let t3 = staged(buf, slot(li, 3u, kc));
    b_tile[t0.x][t0.y] = v.x;
    b_tile[t1.x][t1.y] = v.y;
    b_tile[t2.x][t2.y] = v.z;
    b_tile[t3.x][t3.y] = v.w;
}

// Where result (i, j) of split z goes: the scratch block, C, or the ONES_ROW row.
fn out_index(i: u32, j: u32, z: u32) -> u32 {
    if p.splits > 1u {
        return z * p.split_stride + i * p.n + j;
    }
    return c_index(i, j);
}

// Where C[i, j] lives: row i of C, or for i = m (ONES_ROW) the ones row's result.
fn c_index(i: u32, j: u32) -> u32 {
    return select(p.ones_off + j, p.c_off + i * p.n + j, i < p.m);
}

// Applies BIAS (rows < m) and ACCUMULATE to a finished value of C[i, j] and stores it.
fn finish(i: u32, j: u32, v: f32) {
    let idx = c_index(i, j);
    var out = v;
    if (p.flags & BIAS) != 0u && i < p.m {
        out += bias[p.bias_off + j];
    }
    if (p.flags & ACCUMULATE) != 0u {
        out += c[idx];
    }
    c[idx] = out;
}

// Stores four results of row i, columns j..j+3, skipping those outside [m_eff, n].
fn store4(i: u32, j: u32, z: u32, v: vec4<f32>) {
    if i >= m_eff() {
        return;
    }
    for (var q = 0u; q < 4u; q++) {
        if j + q < p.n {
            if p.splits > 1u {
                c[out_index(i, j + q, z)] = v[q];
            } else {
                finish(i, j + q, v[q]);
            }
        }
    }
}

@compute @workgroup_size(TILE / 8u, TILE / 8u, 1)
fn matmul(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let z = wid.z;
    let k_begin = z * p.k_chunk;
    let k_end = min(p.k, k_begin + p.k_chunk);
    let half = TILE / 8u; // vec4 offset of the second half of a staged row

    var c0a = vec4<f32>(0.0); var c0b = vec4<f32>(0.0);
    var c1a = vec4<f32>(0.0); var c1b = vec4<f32>(0.0);
    var c2a = vec4<f32>(0.0); var c2b = vec4<f32>(0.0);
    var c3a = vec4<f32>(0.0); var c3b = vec4<f32>(0.0);
    var c4a = vec4<f32>(0.0); var c4b = vec4<f32>(0.0);
    var c5a = vec4<f32>(0.0); var c5b = vec4<f32>(0.0);
    var c6a = vec4<f32>(0.0); var c6b = vec4<f32>(0.0);
    var c7a = vec4<f32>(0.0); var c7b = vec4<f32>(0.0);

    stage_a(li, 0u, fetch_a(li, row0, k_begin, k_end));
    stage_b(li, 0u, fetch_b(li, col0, k_begin, k_end));
    workgroupBarrier();
    var buf = 0u;
    for (var k0 = k_begin; k0 < k_end; k0 += bk()) {
        let next = k0 + bk();
        let more = next < k_end; // uniform across the workgroup
        var pa = vec4<f32>(0.0);
        var pb = vec4<f32>(0.0);
        if more {
            pa = fetch_a(li, row0, next, k_end);
            pb = fetch_b(li, col0, next, k_end);
        }
        for (var kk = 0u; kk < bk(); kk++) {
            let row = (buf * bk() + kk) * row_vec4s();
            let a0 = a_tile[row + lid.y];
            let a1 = a_tile[row + half + lid.y];
            let b0 = b_tile[row + lid.x];
            let b1 = b_tile[row + half + lid.x];
            c0a = fma(vec4<f32>(a0.x), b0, c0a); c0b = fma(vec4<f32>(a0.x), b1, c0b);
            c1a = fma(vec4<f32>(a0.y), b0, c1a); c1b = fma(vec4<f32>(a0.y), b1, c1b);
            c2a = fma(vec4<f32>(a0.z), b0, c2a); c2b = fma(vec4<f32>(a0.z), b1, c2b);
            c3a = fma(vec4<f32>(a0.w), b0, c3a); c3b = fma(vec4<f32>(a0.w), b1, c3b);
            c4a = fma(vec4<f32>(a1.x), b0, c4a); c4b = fma(vec4<f32>(a1.x), b1, c4b);
            c5a = fma(vec4<f32>(a1.y), b0, c5a); c5b = fma(vec4<f32>(a1.y), b1, c5b);
            c6a = fma(vec4<f32>(a1.z), b0, c6a); c6b = fma(vec4<f32>(a1.z), b1, c6b);
            c7a = fma(vec4<f32>(a1.w), b0, c7a); c7b = fma(vec4<f32>(a1.w), b1, c7b);
        }
        if more {
            stage_a(li, buf ^ 1u, pa);
            stage_b(li, buf ^ 1u, pb);
        }
        workgroupBarrier();
        buf ^= 1u;
    }

    let i0 = row0 + 4u * lid.y;
    let i1 = row0 + TILE / 2u + 4u * lid.y;
    let j0 = col0 + 4u * lid.x;
    let j1 = col0 + TILE / 2u + 4u * lid.x;
    store4(i0, j0, z, c0a); store4(i0, j1, z, c0b);
    store4(i0 + 1u, j0, z, c1a); store4(i0 + 1u, j1, z, c1b);
    store4(i0 + 2u, j0, z, c2a); store4(i0 + 2u, j1, z, c2b);
    store4(i0 + 3u, j0, z, c3a); store4(i0 + 3u, j1, z, c3b);
    store4(i1, j0, z, c4a); store4(i1, j1, z, c4b);
    store4(i1 + 1u, j0, z, c5a); store4(i1 + 1u, j1, z, c5b);
    store4(i1 + 2u, j0, z, c6a); store4(i1 + 2u, j1, z, c6b);
    store4(i1 + 3u, j0, z, c7a); store4(i1 + 3u, j1, z, c7b);
}

// C[i, j] = [C +] Σ_z partials[z·split_stride + i·n + j] [+ bias], i < m_eff, in order of z.
@compute @workgroup_size(REDUCE_WG, 1, 1)
fn matmul_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * REDUCE_WG;
    if e >= m_eff() * p.n {
        return;
    }
    var s = 0.0;
    for (var z = 0u; z < p.splits; z++) {
        s += a[z * p.split_stride + e];
    }
    let n = max(p.n, 1u);
    finish(e / n, e % n, s);
}
