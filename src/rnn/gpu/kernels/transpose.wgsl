// transpose: dst[dst_off + j·rows + i] = src[src_off + i·cols + j] for i < rows, j < cols.
// The trainer keeps W_hhᵀ beside W_hh this way (once per step, before the backward
// recurrence reads it; rnn_step.wgsl, rnn_wave.wgsl).
//
// Tiling: 32×8 threads move a 32×32 tile through workgroup memory (rows padded to 33 so
// the transposed reads do not collide in a bank): reads and writes are both along rows.
// Guards: elements outside [rows, cols] are neither read nor written.
//
// | binding | name | access     | shape                      |
// |---------|------|------------|----------------------------|
// | 0       | src  | read       | [rows, cols] at src_off    |
// | 1       | dst  | read_write | [cols, rows] at dst_off    |
// | 2       | p    | uniform    | Params                     |

// From the host (transpose.rs): TILE, the tile side, and WG_ROWS, the rows of threads
// that walk it.

struct Params {
    rows: u32,
    cols: u32,
    src_off: u32,
    dst_off: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> tile: array<f32, TILE * (TILE + 1u)>; // [TILE][TILE + 1]

@compute @workgroup_size(TILE, WG_ROWS, 1)
fn transpose(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    for (var q = 0u; q < TILE / WG_ROWS; q++) {
        let r = lid.y + q * WG_ROWS;
        if row0 + r < p.rows && col0 + lid.x < p.cols {
            tile[r * (TILE + 1u) + lid.x] = src[p.src_off + (row0 + r) * p.cols + col0 + lid.x];
        }
    }
    workgroupBarrier();
    for (var q = 0u; q < TILE / WG_ROWS; q++) {
        let c = lid.y + q * WG_ROWS; // a column of src, a row of dst
        if col0 + c < p.cols && row0 + lid.x < p.rows {
            dst[p.dst_off + (col0 + c) * p.rows + row0 + lid.x] = tile[lid.x * (TILE + 1u) + c];
        }
    }
}
