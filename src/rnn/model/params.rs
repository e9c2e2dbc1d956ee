//! Parameter (and gradient) tensors of the model, one struct generic over the scalar so
//! the same code trains in f32 and checks gradients in f64.
//!
//! Shapes: embedding [V, d]; layer l: w_xh [in_l, h_l], w_hh [h_l, h_l], b_h [h_l];
//! output.w [h_{L-1}, V], output.b [V].

use super::config::{Cell, ModelConfig};
use super::real::Real;
use ndarray::{Array1, Array2};

/// One stacked layer: H_t = φ(X_t W_xh + H_{t-1} W_hh + b_h), or with the multiplicative
/// cell's gates (`mi`) φ(α ⊙ P ⊙ R + β_h ⊙ R + β_x ⊙ P + b_h).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerParams<F> {
    pub w_xh: Array2<F>,
    pub w_hh: Array2<F>,
    pub b_h: Array1<F>,
    /// α, β_h, β_x [h] of the multiplicative cell (`None` for the Elman cell).
    pub mi: Option<MiGates<F>>,
}

/// The multiplicative cell's per-unit gates.
#[derive(Clone, Debug, PartialEq)]
pub struct MiGates<F> {
    pub alpha: Array1<F>,
    pub beta_h: Array1<F>,
    pub beta_x: Array1<F>,
}

/// All trainable tensors; also used for gradients and optimizer moments (same shapes).
#[derive(Clone, Debug, PartialEq)]
pub struct Params<F> {
    pub embedding: Array2<F>,
    pub layers: Vec<LayerParams<F>>,
    pub out_w: Array2<F>,
    pub out_b: Array1<F>,
}

impl<F: Real> Params<F> {
    /// All-zero tensors of the shapes `config` fixes.
    pub fn zeros(config: &ModelConfig) -> Self {
        let layers = (0..config.layers())
            .map(|l| {
                let (i, h) = (config.layer_input(l), config.hidden[l]);
                LayerParams {
                    w_xh: Array2::from_elem((i, h), F::zero()),
                    w_hh: Array2::from_elem((h, h), F::zero()),
                    b_h: Array1::from_elem(h, F::zero()),
                    mi: (config.cell == Cell::Mi).then(|| MiGates {
                        alpha: Array1::from_elem(h, F::zero()),
                        beta_h: Array1::from_elem(h, F::zero()),
                        beta_x: Array1::from_elem(h, F::zero()),
                    }),
                }
            })
            .collect();
        Params {
            embedding: Array2::from_elem((config.vocab, config.embed), F::zero()),
            layers,
            out_w: Array2::from_elem((config.top_hidden(), config.vocab), F::zero()),
            out_b: Array1::from_elem(config.vocab, F::zero()),
        }
    }

    /// output.w ← embeddingᵀ (tied weights: the output layer is the embedding transposed).
    pub fn tie_output(&mut self) {
        self.out_w.assign(&self.embedding.t());
    }

    /// Whether output.w is exactly embeddingᵀ.
    pub fn output_is_tied(&self) -> bool {
        self.out_w.dim() == (self.embedding.ncols(), self.embedding.nrows()) && self.out_w == self.embedding.t()
    }

    /// Every tensor's row-major data in canonical order (the order of
    /// [`ModelConfig::tensor_shapes`]).
    pub fn tensors(&self) -> Vec<&[F]> {
        let mut out: Vec<&[F]> = vec![self.embedding.as_slice().expect("params are standard layout")];
        for l in &self.layers {
            out.push(l.w_xh.as_slice().expect("params are standard layout"));
            out.push(l.w_hh.as_slice().expect("params are standard layout"));
            out.push(l.b_h.as_slice().expect("params are standard layout"));
            if let Some(g) = &l.mi {
                for t in [&g.alpha, &g.beta_h, &g.beta_x] {
                    out.push(t.as_slice().expect("params are standard layout"));
                }
            }
        }
        out.push(self.out_w.as_slice().expect("params are standard layout"));
        out.push(self.out_b.as_slice().expect("params are standard layout"));
        out
    }

    /// Mutable twin of [`Params::tensors`].
    pub fn tensors_mut(&mut self) -> Vec<&mut [F]> {
        let mut out: Vec<&mut [F]> = vec![self.embedding.as_slice_mut().expect("params are standard layout")];
        for l in &mut self.layers {
            out.push(l.w_xh.as_slice_mut().expect("params are standard layout"));
            out.push(l.w_hh.as_slice_mut().expect("params are standard layout"));
            out.push(l.b_h.as_slice_mut().expect("params are standard layout"));
            if let Some(g) = &mut l.mi {
                for t in [&mut g.alpha, &mut g.beta_h, &mut g.beta_x] {
                    out.push(t.as_slice_mut().expect("params are standard layout"));
                }
            }
        }
        out.push(self.out_w.as_slice_mut().expect("params are standard layout"));
        out.push(self.out_b.as_slice_mut().expect("params are standard layout"));
        out
    }

    /// All values concatenated in canonical order.
    pub fn flatten(&self) -> Vec<F> {
        self.tensors().concat()
    }

    /// Overwrites every tensor from a flat vector in canonical order.
    pub fn assign_flat(&mut self, flat: &[F]) {
        let mut offset = 0;
        for t in self.tensors_mut() {
            t.copy_from_slice(&flat[offset..offset + t.len()]);
            offset += t.len();
        }
        assert_eq!(offset, flat.len(), "flat parameter vector has the model's parameter count");
    }

    pub fn fill_zero(&mut self) {
        for t in self.tensors_mut() {
            t.fill(F::zero());
        }
    }

    /// Σ of squares over every tensor, accumulated in f64.
    pub fn sum_squares(&self) -> f64 {
        self.tensors().iter().flat_map(|t| t.iter()).map(|&x| x.to_f64() * x.to_f64()).sum()
    }

    /// The same tensors converted to another scalar type.
    pub fn cast<G: Real>(&self) -> Params<G> {
        let c = |a: &Array2<F>| a.mapv(|x| G::from_f64(x.to_f64()));
        let c1 = |a: &Array1<F>| a.mapv(|x| G::from_f64(x.to_f64()));
        Params {
            embedding: c(&self.embedding),
            layers: self
                .layers
                .iter()
                .map(|l| LayerParams {
                    w_xh: c(&l.w_xh),
                    w_hh: c(&l.w_hh),
                    b_h: c1(&l.b_h),
                    mi: l.mi.as_ref().map(|g| MiGates { alpha: c1(&g.alpha), beta_h: c1(&g.beta_h), beta_x: c1(&g.beta_x) }),
                })
                .collect(),
            out_w: c(&self.out_w),
            out_b: c1(&self.out_b),
        }
    }
}

/// Optimizer moments and update count, in the canonical tensor order of [`Params`] (what
/// a trainer reports and a checkpoint stores).
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState {
    /// Number of updates applied so far (Adam's bias-correction k).
    pub updates: u64,
    /// SGD: the momentum buffer; Adam: first moment m.
    pub first: Params<f32>,
    /// Adam: second moment v (zeros for SGD).
    pub second: Params<f32>,
}
