//! matmul.wgsl: C[m, n] ← [C +] op(A)·op(B) [+ bias], the GEMM every batched product uses,
//! in two tilings ([`MatmulTile`]) with K optionally split ([`MatmulTiling`]) and a
//! reduction of the split partials (`matmul_reduce`).

use super::prelude::PRELUDE;
use super::{grid_1d, Access, Kernel, KernelDesc, KernelModule, UniformMirror, Wgsl};
use crate::rnn::gpu::program::{Bind, Cost, ProgramBuilder};

uniform! {
    /// C[m, n] ← [C +] op(A)·op(B) [+ bias], optionally with a row of ones appended to
    /// op(A) whose result row goes to `ones_off`, optionally split over K.
    pub struct MatmulParams {
        pub m: u32,
        pub n: u32,
        pub k: u32,
        /// [`MatmulParams::TRANS_A`] | TRANS_B | ACCUMULATE | BIAS | ONES_ROW.
        pub flags: u32,
        pub a_off: u32,
        pub b_off: u32,
        pub c_off: u32,
        pub bias_off: u32,
        /// ONES_ROW: where row m of the product (the column sums of op(B)) is written.
        pub ones_off: u32,
        /// Split-K (set by the launcher): K per split, the number of splits, and the
        /// elements between two splits' partial blocks in the scratch buffer.
        pub k_chunk: u32,
        pub splits: u32,
        pub split_stride: u32,
    }
}

impl MatmulParams {
    pub const TRANS_A: u32 = 1;
    pub const TRANS_B: u32 = 2;
    pub const ACCUMULATE: u32 = 4;
    pub const BIAS: u32 = 8;
    pub const ONES_ROW: u32 = 16;

    /// Rows of the product: m, plus the row of ones.
    pub fn m_eff(&self) -> u32 {
        self.m + (self.flags & Self::ONES_ROW != 0) as u32
    }
}

/// Threads per workgroup of `matmul_reduce`.
pub const REDUCE_WG: u32 = 256;

/// matmul.wgsl with the flag bits and the reduction's workgroup size.
pub static WGSL: Wgsl = Wgsl {
    file: "matmul.wgsl",
    text: include_str!("matmul.wgsl"),
    constants: &[
        ("TRANS_A", MatmulParams::TRANS_A),
        ("TRANS_B", MatmulParams::TRANS_B),
        ("ACCUMULATE", MatmulParams::ACCUMULATE),
        ("BIAS", MatmulParams::BIAS),
        ("ONES_ROW", MatmulParams::ONES_ROW),
        ("REDUCE_WG", REDUCE_WG),
    ],
    uniforms: &[UniformMirror::of::<MatmulParams>("Params")],
};

/// Side of a matmul workgroup's output tile (matmul.wgsl's overridable `TILE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulTile {
    /// 128×128 with 16×16 threads: the most reuse per loaded value, for large products.
    Large,
    /// 64×64 with 8×8 threads: four times the workgroups, for small or thin products.
    Small,
}

impl MatmulTile {
    pub const ALL: [MatmulTile; 2] = [MatmulTile::Large, MatmulTile::Small];

    pub fn side(self) -> u32 {
        self.kernel().overrides[0].1
    }

    /// The product's pipeline for this tile.
    pub fn kernel(self) -> Kernel {
        match self {
            MatmulTile::Large => &LARGE,
            MatmulTile::Small => &SMALL,
        }
    }
}

const PRODUCT_BINDINGS: &[(u32, Access)] = &[(0, Access::Read), (1, Access::Read), (2, Access::ReadWrite), (3, Access::Read), (4, Access::Uniform)];

/// The product's pipeline for `tile` = [("TILE", side)]: (side/8)² threads, each an 8×8
/// block; workgroup memory for two operands × two buffers × BK = side/16 rows × (side/4 + 1)
/// vec4s.
const fn tile_kernel(name: &'static str, tile: &'static [(&'static str, u32)]) -> KernelDesc {
    let side = tile[0].1;
    KernelDesc {
        name,
        entry: "matmul",
        overrides: tile,
        workgroup_size: [side / 8, side / 8, 1],
        bindings: PRODUCT_BINDINGS,
        workgroup_bytes: 2 * 2 * (side / 16) * (side / 4 + 1) * 16,
    }
}

/// 128×128 tiles: 16×16 threads.
pub static LARGE: KernelDesc = tile_kernel("matmul/128", &[("TILE", 128)]);

/// 64×64 tiles: 8×8 threads.
pub static SMALL: KernelDesc = tile_kernel("matmul/64", &[("TILE", 64)]);

/// The split-K reduction: C = Σ_z partials_z, then the flags.
pub static REDUCE: KernelDesc = KernelDesc::plain("matmul_reduce", [REDUCE_WG, 1, 1], &[(0, Access::Read), (2, Access::ReadWrite), (3, Access::Read), (4, Access::Uniform)]);

pub static MODULE: KernelModule = KernelModule { parts: &[&PRELUDE, &WGSL], kernels: || vec![&LARGE, &SMALL, &REDUCE] };

/// Workgroups a batched product should launch: measured on an H200 (docs/gpu.md), large
/// tiles run fastest from about 1,000 workgroups on; K is split until a product has that
/// many, as far as K allows.
pub const MATMUL_TARGET_WORKGROUPS: u32 = 1024;
/// Below this many workgroups even with K split, small tiles replace large ones.
pub const MATMUL_MIN_LARGE_WORKGROUPS: u32 = 256;
/// Split-K: the fewest K values per split, the most splits, and the smallest K split at all
/// (a split costs a second dispatch, which a short K does not repay).
pub const MIN_K_PER_SPLIT: u32 = 256;
pub const MAX_SPLITS: u32 = 16;
pub const MIN_K_TO_SPLIT: u32 = 1024;
/// The largest split-K scratch buffer a program may allocate, in f32 elements (64 MiB).
const MAX_SCRATCH_ELEMENTS: u64 = 16 << 20;

/// C ← [C +] op(A)·op(B) [+ bias]: 2·m_eff·n·k FLOPs; A, B and C once (C twice when
/// accumulating).
fn matmul_cost(p: &MatmulParams) -> Cost {
    let (m, n, k) = (p.m_eff() as f64, p.n as f64, p.k as f64);
    let c_reads = if p.flags & MatmulParams::ACCUMULATE != 0 { m * n } else { 0.0 };
    Cost::new(2.0 * m * n * k, m * k + k * n + m * n + c_reads + n)
}

/// How a product is tiled: the tile, and how many slices K is split into (1: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulTiling {
    pub tile: MatmulTile,
    pub splits: u32,
    /// K per split (the last split may get less).
    pub k_chunk: u32,
}

impl MatmulTiling {
    /// The tiling of an [m_eff, n] result with inner dimension k: large tiles when they
    /// alone launch [`MATMUL_TARGET_WORKGROUPS`]; else, when K is long (≥
    /// [`MIN_K_TO_SPLIT`]: the weight gradients, whose K is n·T, and products over the
    /// vocabulary), large tiles with K split toward the target (each split keeping ≥
    /// [`MIN_K_PER_SPLIT`], the partials within `max_scratch` elements) if that reaches
    /// [`MATMUL_MIN_LARGE_WORKGROUPS`], small tiles split the same way if not; short K:
    /// small tiles, unsplit.
    pub fn choose(m_eff: u32, n: u32, k: u32, large_available: bool, max_scratch: u64) -> MatmulTiling {
        let tiles = |t: MatmulTile| m_eff.div_ceil(t.side()) * n.div_ceil(t.side());
        let large = tiles(MatmulTile::Large);
        if large_available && large >= MATMUL_TARGET_WORKGROUPS {
            return MatmulTiling::with_splits(MatmulTile::Large, k, 1);
        }
        if k < MIN_K_TO_SPLIT {
            return MatmulTiling::with_splits(MatmulTile::Small, k, 1);
        }
        let by_scratch = (max_scratch / (m_eff as u64 * n as u64).max(1)).min(MAX_SPLITS as u64) as u32;
        let most = (k / MIN_K_PER_SPLIT).min(by_scratch).clamp(1, MAX_SPLITS);
        let splits = |tiles: u32| MATMUL_TARGET_WORKGROUPS.div_ceil(tiles.max(1)).next_power_of_two().min(most);
        if large_available && large * splits(large) >= MATMUL_MIN_LARGE_WORKGROUPS {
            return MatmulTiling::with_splits(MatmulTile::Large, k, splits(large));
        }
        let small = tiles(MatmulTile::Small);
        MatmulTiling::with_splits(MatmulTile::Small, k, splits(small))
    }

    /// `tile` with K cut into at most `splits` chunks of a multiple of 16.
    pub fn with_splits(tile: MatmulTile, k: u32, splits: u32) -> MatmulTiling {
        let k = k.max(1);
        let k_chunk = k.div_ceil(splits.max(1)).div_ceil(16) * 16;
        MatmulTiling { tile, splits: k.div_ceil(k_chunk), k_chunk }
    }

    /// Workgroups of the product dispatch: [column tiles, row tiles, splits].
    pub fn grid(&self, m_eff: u32, n: u32) -> [u32; 3] {
        let side = self.tile.side();
        [n.div_ceil(side), m_eff.div_ceil(side), self.splits]
    }
}

impl ProgramBuilder<'_> {
    /// The largest split-K scratch this device allows a program.
    fn max_scratch(&self) -> u64 {
        let l = self.context().limits();
        (l.max_storage_buffer_binding_size.min(l.max_buffer_size) / 4).min(MAX_SCRATCH_ELEMENTS)
    }

    /// C ← [C +] op(A)·op(B) [+ bias] [with the ONES_ROW row]: one dispatch, or with
    /// split-K a dispatch into the scratch buffer and a `matmul_reduce` into C. `bias` is
    /// read only when `p.flags` has BIAS.
    pub fn matmul(&mut self, a: &wgpu::Buffer, b: &wgpu::Buffer, c: &wgpu::Buffer, bias: Option<&wgpu::Buffer>, p: MatmulParams) {
        let large = self.context().kernels.has(&LARGE);
        let tiling = MatmulTiling::choose(p.m_eff(), p.n, p.k, large, self.max_scratch());
        self.matmul_tiled(a, b, c, bias, p, tiling);
    }

    /// [`ProgramBuilder::matmul`] with the tiling given (tests and `bench --gemm` try each).
    pub fn matmul_tiled(&mut self, a: &wgpu::Buffer, b: &wgpu::Buffer, c: &wgpu::Buffer, bias: Option<&wgpu::Buffer>, p: MatmulParams, tiling: MatmulTiling) {
        let bias = bias.unwrap_or(b);
        let m_eff = p.m_eff();
        let p = MatmulParams { k_chunk: tiling.k_chunk, splits: tiling.splits, split_stride: m_eff * p.n, ..p };
        let grid = tiling.grid(m_eff, p.n);
        let kernel = tiling.tile.kernel();
        let cost = matmul_cost(&p);
        let params = bytemuck::bytes_of(&p);
        if tiling.splits == 1 {
            let binds = [(0, Bind::Buffer(a)), (1, Bind::Buffer(b)), (2, Bind::Buffer(c)), (3, Bind::Buffer(bias)), (4, Bind::Params)];
            self.push(kernel, &binds, params, grid, cost);
            return;
        }
        let partials = tiling.splits as usize * (m_eff as usize * p.n as usize);
        self.need_scratch(partials);
        let binds = [(0, Bind::Buffer(a)), (1, Bind::Buffer(b)), (2, Bind::Scratch), (3, Bind::Buffer(bias)), (4, Bind::Params)];
        // The partials: the product's FLOPs, its operands read and the partial blocks written.
        let partial_cost = Cost { bytes: cost.bytes + 4.0 * partials as f64, ..cost };
        self.push(kernel, &binds, params, grid, partial_cost);
        let reduce = [(0, Bind::Scratch), (2, Bind::Buffer(c)), (3, Bind::Buffer(bias)), (4, Bind::Params)];
        let out = m_eff as f64 * p.n as f64;
        self.push(&REDUCE, &reduce, params, grid_1d((m_eff * p.n).div_ceil(REDUCE_WG)), Cost::new(partials as f64, partials as f64 + out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiling(m: u32, n: u32, k: u32) -> (MatmulTile, u32) {
        let t = MatmulTiling::choose(m, n, k, true, u64::MAX);
        (t.tile, t.splits)
    }

    #[test]
    fn tilings_follow_the_h200_measurements() {
        use MatmulTile::*;
        // Output layer of the PTB-like size: 1,422 large tiles, no split.
        assert_eq!(tiling(2240, 10000, 1024), (Large, 1));
        // dH = dlogits·W_qᵀ (K = V): 144 large tiles × 8 splits.
        assert_eq!(tiling(2240, 1024, 10000), (Large, 8));
        // [dW_hh; db] at h = 1024, K = n·T = 2240: 72 × 8 (K/8 = 280 ≥ 256).
        assert_eq!(tiling(1025, 1024, 2240), (Large, 8));
        // [dW_hh; db] at h = 512, K = 2048: 20 large × 8 = 160 < 256, so 72 small × 8.
        assert_eq!(tiling(513, 512, 2048), (Small, 8));
        // The input projection (K = d = 64) never splits.
        assert_eq!(tiling(2048, 512, 64), (Small, 1));
        // Without the large pipeline, small tiles.
        assert_eq!(MatmulTiling::choose(2240, 10000, 1024, false, u64::MAX).tile, Small);
        // Scratch too small for two partial blocks: no split.
        assert_eq!(MatmulTiling::choose(513, 512, 2048, true, 513 * 512).splits, 1);
    }

    #[test]
    fn splits_cover_k_exactly() {
        for (k, s) in [(1, 1), (100, 3), (2048, 8), (2240, 8), (10000, 16)] {
            let t = MatmulTiling::with_splits(MatmulTile::Small, k, s);
            assert!(t.k_chunk.is_multiple_of(16) && t.k_chunk * t.splits >= k && t.k_chunk * (t.splits - 1) < k, "{t:?} for k={k}");
        }
    }

    #[test]
    fn the_uniform_is_padded_to_16_bytes_and_each_tile_declares_its_threads() {
        assert_eq!(std::mem::size_of::<MatmulParams>(), 48);
        for tile in MatmulTile::ALL {
            assert_eq!(tile.kernel().workgroup_size, [tile.side() / 8, tile.side() / 8, 1]);
        }
    }
}
