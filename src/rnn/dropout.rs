//! Dropout masks from a counter-based hash, so any device draws the same mask without
//! shipping it: element i of site s at update k keeps its value (scaled by 1/(1−p)) when
//! u = hash(seed, k, s, i) / 2^24 ≥ p, and is zeroed otherwise (inverted dropout).
//!
//! Sites (Zaremba et al. 2014, non-recurrent connections only): site l < L is the input of
//! layer l (site 0: embedding → layer 0; site l: layer l−1 → layer l); site L is the top
//! layer's output feeding the softmax layer. The WGSL twin is `src/rnn/gpu/kernels/dropout.wgsl`
//! (and prelude.wgsl's `mask_value`, which the recurrent kernels use).

/// The integer mixer (a 32-bit avalanche hash), identical in WGSL.
pub fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Where and when a mask is drawn: the per-run seed, the update number k and the site.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutKey {
    /// Probability of zeroing an element, 0 ≤ p < 1.
    pub p: f32,
    pub seed: u32,
    pub update: u32,
}

impl DropoutKey {
    /// The base hash of one site at this update; element i's draw is mix32(base + i).
    pub fn site_base(&self, site: u32) -> u32 {
        mix32(site.wrapping_add(mix32(self.update.wrapping_add(mix32(self.seed)))))
    }

    /// The multiplier for element `index` of `site`: 0 or 1/(1−p).
    pub fn scale(&self, site: u32, index: u32) -> f32 {
        scale_from_base(self.site_base(site), index, self.p)
    }

    /// The whole mask of `len` elements for `site`.
    pub fn mask(&self, site: u32, len: usize) -> Vec<f32> {
        let base = self.site_base(site);
        (0..len as u32).map(|i| scale_from_base(base, i, self.p)).collect()
    }
}

/// The multiplier of a kept element, 1/(1−p) in f32 (the GPU gets this value, not p, so
/// both devices multiply by the same bits).
pub fn keep_scale(p: f32) -> f32 {
    1.0 / (1.0 - p)
}

fn scale_from_base(base: u32, index: u32, p: f32) -> f32 {
    let u = (mix32(base.wrapping_add(index)) >> 8) as f32 * (1.0 / 16_777_216.0);
    if u >= p {
        keep_scale(p)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_drop_about_p_and_depend_on_every_key_part() {
        let key = DropoutKey { p: 0.3, seed: 7, update: 1 };
        let m = key.mask(0, 100_000);
        let dropped = m.iter().filter(|&&x| x == 0.0).count() as f64 / m.len() as f64;
        assert!((dropped - 0.3).abs() < 0.01, "dropped fraction {dropped}");
        assert!(m.iter().all(|&x| x == 0.0 || (x - 1.0 / 0.7).abs() < 1e-6));
        assert_ne!(m, key.mask(1, 100_000));
        assert_ne!(m, DropoutKey { update: 2, ..key }.mask(0, 100_000));
        assert_ne!(m, DropoutKey { seed: 8, ..key }.mask(0, 100_000));
        assert_eq!(m, key.mask(0, 100_000));
    }
}
