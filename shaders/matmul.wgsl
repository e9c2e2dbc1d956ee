// matmul: C[m, n] ← [C +] op(A)·op(B) [+ bias], the one GEMM every batched product uses
// (input projection X·W_xh + b_h, logits H·W_q + b_q, dW = Xᵀ·dZ, dX = dZ·W_xhᵀ, ...).
//
//   op(A) = A [m, k] (stored row-major) or Aᵀ with A stored [k, m] when TRANS_A;
//   op(B) = B [k, n] or Bᵀ with B stored [n, k] when TRANS_B;
//   ACCUMULATE adds the old C; BIAS adds bias[j] to every row.
// Every operand lives at an element offset inside a larger buffer (flat parameter and
// gradient buffers, per-layer activation buffers), so whole buffers are bound once.
//
// Tiling: a workgroup of 16×16 threads computes a 64×64 tile of C; each thread owns a
// 4×4 register block (rows ty+16r, columns tx+16c). K advances in slices of 16 staged in
// workgroup memory. Out-of-range loads read 0 and out-of-range stores are skipped (the
// bounds checks sit on loads/stores, since every thread must reach the barriers).
//
// | binding | name   | access     | shape                    |
// |---------|--------|------------|--------------------------|
// | 0       | a      | read       | A at a_off               |
// | 1       | b      | read       | B at b_off               |
// | 2       | c      | read_write | C [m, n] at c_off        |
// | 3       | bias   | read       | bias [n] at bias_off     |
// | 4       | p      | uniform    | Params                   |

const TILE: u32 = 64u;
const BK: u32 = 16u;
const WG_SIDE: u32 = 16u;
const THREADS: u32 = 256u;
const PER_THREAD: u32 = 4u;

const TRANS_A: u32 = 1u;
const TRANS_B: u32 = 2u;
const ACCUMULATE: u32 = 4u;
const BIAS: u32 = 8u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    flags: u32,
    a_off: u32,
    b_off: u32,
    c_off: u32,
    bias_off: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

// a_tile[kk * TILE + i] = op(A)[row0 + i, k0 + kk]; b_tile[kk * TILE + j] = op(B)[k0 + kk, col0 + j].
var<workgroup> a_tile: array<f32, 1024>;
var<workgroup> b_tile: array<f32, 1024>;

@compute @workgroup_size(16, 16, 1)
fn matmul(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let trans_a = (p.flags & TRANS_A) != 0u;
    let trans_b = (p.flags & TRANS_B) != 0u;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        for (var r = 0u; r < (TILE * BK) / THREADS; r++) {
            let e = li + r * THREADS;
            // Consecutive threads walk the operand's contiguous dimension (coalesced loads).
            var i: u32;
            var kk: u32;
            if trans_a { kk = e / TILE; i = e % TILE; } else { i = e / BK; kk = e % BK; }
            var va = 0.0;
            if row0 + i < p.m && k0 + kk < p.k {
                if trans_a {
                    va = a[p.a_off + (k0 + kk) * p.m + row0 + i];
                } else {
                    va = a[p.a_off + (row0 + i) * p.k + k0 + kk];
                }
            }
            a_tile[kk * TILE + i] = va;
            var j: u32;
            if trans_b { j = e / BK; kk = e % BK; } else { kk = e / TILE; j = e % TILE; }
            var vb = 0.0;
            if col0 + j < p.n && k0 + kk < p.k {
                if trans_b {
                    vb = b[p.b_off + (col0 + j) * p.k + k0 + kk];
                } else {
                    vb = b[p.b_off + (k0 + kk) * p.n + col0 + j];
                }
            }
            b_tile[kk * TILE + j] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var r = 0u; r < PER_THREAD; r++) {
                av[r] = a_tile[kk * TILE + lid.y + r * WG_SIDE];
                bv[r] = b_tile[kk * TILE + lid.x + r * WG_SIDE];
            }
            for (var r = 0u; r < PER_THREAD; r++) {
                for (var q = 0u; q < PER_THREAD; q++) {
                    acc[r * PER_THREAD + q] = fma(av[r], bv[q], acc[r * PER_THREAD + q]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < PER_THREAD; r++) {
        let i = row0 + lid.y + r * WG_SIDE;
        for (var q = 0u; q < PER_THREAD; q++) {
            let j = col0 + lid.x + q * WG_SIDE;
            if i < p.m && j < p.n {
                let idx = p.c_off + i * p.n + j;
                var v = acc[r * PER_THREAD + q];
                if (p.flags & BIAS) != 0u { v += bias[p.bias_off + j]; }
                if (p.flags & ACCUMULATE) != 0u { v += c[idx]; }
                c[idx] = v;
            }
        }
    }
}
