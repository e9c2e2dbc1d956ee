// embedding: the lookup X = embedding[tokens] and its adjoint.
//
//   embedding_gather:       dst[r, j] = src[src_off + tokens[tok_off + r]·d + j]       r < rows
//   embedding_scatter_add:  dst[dst_off + v·d + j] = Σ_{r : tokens[r] = v} src[r, j]     v < vocab
// The scatter-add is computed as a gather per vocabulary row (no float atomics): the host
// uploads, with each batch, the rows sorted by token (order, at order_off) and where each
// token's run starts (offsets [V+1], at offsets_off), so thread (v, j) sums its own rows
// in a fixed order — deterministic, and every table row is written (unseen tokens get 0).
//
// | binding | name   | access     | gather                    | scatter_add                    |
// |---------|--------|------------|---------------------------|--------------------------------|
// | 0       | src    | read       | table [V, d] at src_off   | d_rows [rows, d]               |
// | 1       | tokens | read       | token ids at tok_off      | order, offsets                 |
// | 2       | dst    | read_write | rows [rows, d]            | grad table [V, d] at dst_off   |
// | 3       | p      | uniform    | Params                    | Params                         |

// From the host (embedding.rs): WG, threads per workgroup.

struct Params {
    rows: u32,
    d: u32,
    vocab: u32,
    src_off: u32,
    dst_off: u32,
    tok_off: u32,
    order_off: u32,
    offsets_off: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// Flat thread index over a 2-D grid (large counts exceed 65535 workgroups in x).
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG, 1, 1)
fn embedding_gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_index(gid, nwg);
    if e >= p.rows * p.d {
        return;
    }
    let r = e / p.d;
    let j = e % p.d;
    let tok = min(tokens[p.tok_off + r], p.vocab - 1u);
    dst[e] = src[p.src_off + tok * p.d + j];
}

@compute @workgroup_size(WG, 1, 1)
fn embedding_scatter_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_index(gid, nwg);
    if e >= p.vocab * p.d {
        return;
    }
    let v = e / p.d;
    let j = e % p.d;
    let start = tokens[p.offsets_off + v];
    let end = tokens[p.offsets_off + v + 1u];
    var s = 0.0;
    for (var q = start; q < end; q++) {
        s += src[tokens[p.order_off + q] * p.d + j];
    }
    dst[p.dst_off + e] = s;
}
