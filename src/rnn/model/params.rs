//! Parameter tensors (and their gradients and optimizer moments, of the same shapes) in one
//! flat allocation with named views: the layout ([`ParamLayout`]) says where each tensor
//! lives, [`Params`] holds the values. Generic over the element type, so the same code
//! trains in f32 and checks gradients in f64.
//!
//! Shapes: embedding [V, d]; layer l: w_xh [in_l, h_l], w_hh [h_l, h_l], b_h [h_l] (and the
//! multiplicative cell's α, β_h, β_x [h_l]); output.w [h_{L-1}, V], output.b [V]. Every view
//! is row-major.

use super::config::ModelConfig;
use super::layout::{ParamLayout, TensorSlot};
use super::real::Real;
use crate::error::{ElmanError, Result};
use std::sync::Arc;

/// Every trainable tensor of a model, in one allocation laid out by [`ParamLayout`].
#[derive(Clone, Debug, PartialEq)]
pub struct Params<F> {
    layout: Arc<ParamLayout>,
    /// The flat allocation, pads (zeros) included.
    data: Vec<F>,
}

/// The multiplicative cell's per-unit gates of one layer, as views.
#[derive(Clone, Copy, Debug)]
pub struct MiGates<'a, F> {
    pub alpha: &'a [F],
    pub beta_h: &'a [F],
    pub beta_x: &'a [F],
}

/// Mutable views of one layer's gates.
#[derive(Debug)]
pub struct MiGatesMut<'a, F> {
    pub alpha: &'a mut [F],
    pub beta_h: &'a mut [F],
    pub beta_x: &'a mut [F],
}

impl<F: Real> Params<F> {
    /// All-zero tensors of the shapes `config` fixes.
    pub fn zeros(config: &ModelConfig) -> Self {
        Self::zeros_in(Arc::new(ParamLayout::new(config)))
    }

    /// All-zero tensors laid out by `layout`.
    pub fn zeros_in(layout: Arc<ParamLayout>) -> Self {
        let data = vec![F::zero(); layout.total()];
        Params { layout, data }
    }

    /// Zeros of the same layout.
    pub fn zeros_like(&self) -> Self {
        Self::zeros_in(self.layout.clone())
    }

    /// Tensors from a flat allocation laid out by `layout` (pads included, as
    /// [`Params::as_flat`] gives it).
    pub fn from_flat(layout: Arc<ParamLayout>, data: Vec<F>) -> Self {
        assert_eq!(data.len(), layout.total(), "a flat parameter allocation holds its layout's total");
        Params { layout, data }
    }

    pub fn layout(&self) -> &Arc<ParamLayout> {
        &self.layout
    }

    /// Errors unless these tensors have `layout`'s names and shapes (`what` names them).
    pub fn check_layout(&self, layout: &ParamLayout, what: &str) -> Result<()> {
        if *self.layout != *layout {
            let shapes = |l: &ParamLayout| l.slots().iter().map(|s| s.len()).collect::<Vec<_>>();
            return Err(ElmanError::Config(format!("{what}: tensor sizes {:?} do not match the model's {:?}", shapes(&self.layout), shapes(layout))));
        }
        Ok(())
    }

    /// The flat allocation, pads included: what the GPU uploads.
    pub fn as_flat(&self) -> &[F] {
        &self.data
    }

    pub fn as_flat_mut(&mut self) -> &mut [F] {
        &mut self.data
    }

    fn view(&self, slot: &TensorSlot) -> &[F] {
        &self.data[slot.range()]
    }

    fn view_mut(&mut self, pick: impl Fn(&ParamLayout) -> &TensorSlot) -> &mut [F] {
        let range = pick(&self.layout).range();
        &mut self.data[range]
    }

    pub fn embedding(&self) -> &[F] {
        self.view(self.layout.embedding())
    }
    pub fn embedding_mut(&mut self) -> &mut [F] {
        self.view_mut(|l| l.embedding())
    }
    pub fn w_xh(&self, l: usize) -> &[F] {
        self.view(self.layout.w_xh(l))
    }
    pub fn w_xh_mut(&mut self, l: usize) -> &mut [F] {
        self.view_mut(|p| p.w_xh(l))
    }
    pub fn w_hh(&self, l: usize) -> &[F] {
        self.view(self.layout.w_hh(l))
    }
    pub fn w_hh_mut(&mut self, l: usize) -> &mut [F] {
        self.view_mut(|p| p.w_hh(l))
    }
    pub fn b_h(&self, l: usize) -> &[F] {
        self.view(self.layout.b_h(l))
    }
    pub fn b_h_mut(&mut self, l: usize) -> &mut [F] {
        self.view_mut(|p| p.b_h(l))
    }
    pub fn out_w(&self) -> &[F] {
        self.view(self.layout.out_w())
    }
    pub fn out_w_mut(&mut self) -> &mut [F] {
        self.view_mut(|l| l.out_w())
    }
    pub fn out_b(&self) -> &[F] {
        self.view(self.layout.out_b())
    }
    pub fn out_b_mut(&mut self) -> &mut [F] {
        self.view_mut(|l| l.out_b())
    }

    /// Layer l's gates (None for the Elman cell).
    pub fn gates(&self, l: usize) -> Option<MiGates<'_, F>> {
        let [a, bh, bx] = self.layout.gates(l)?;
        Some(MiGates { alpha: self.view(a), beta_h: self.view(bh), beta_x: self.view(bx) })
    }

    /// Layer l's gates, mutable (None for the Elman cell).
    pub fn gates_mut(&mut self, l: usize) -> Option<MiGatesMut<'_, F>> {
        let ranges = self.layout.gates(l)?.map(|s| s.range());
        let [alpha, beta_h, beta_x] = disjoint_mut(&mut self.data, &ranges).try_into().expect("three gate ranges");
        Some(MiGatesMut { alpha, beta_h, beta_x })
    }

    /// Every tensor's row-major data in canonical order.
    pub fn tensors(&self) -> Vec<&[F]> {
        self.layout.slots().iter().map(|s| self.view(s)).collect()
    }

    /// Mutable twin of [`Params::tensors`].
    pub fn tensors_mut(&mut self) -> Vec<&mut [F]> {
        let ranges: Vec<_> = self.layout.slots().iter().map(TensorSlot::range).collect();
        disjoint_mut(&mut self.data, &ranges)
    }

    /// Every tensor as (checkpoint name, shape, data), in canonical order.
    pub fn named(&self) -> impl Iterator<Item = (&str, &[usize], &[F])> {
        self.layout.slots().iter().map(|s| (s.name.as_str(), s.shape.as_slice(), self.view(s)))
    }

    /// output.w ← embeddingᵀ (tied weights: the output layer is the embedding transposed).
    pub fn tie_output(&mut self) {
        let (v, d) = self.embedding_shape();
        let emb = self.embedding().to_vec();
        let out = self.out_w_mut();
        for (tok, row) in emb.chunks_exact(d).enumerate() {
            for (j, &x) in row.iter().enumerate() {
                out[j * v + tok] = x;
            }
        }
    }

    /// Whether output.w is exactly embeddingᵀ.
    pub fn output_is_tied(&self) -> bool {
        let (v, d) = self.embedding_shape();
        if self.layout.out_w().shape != [d, v] {
            return false;
        }
        let (emb, out) = (self.embedding(), self.out_w());
        (0..v).all(|tok| (0..d).all(|j| emb[tok * d + j] == out[j * v + tok]))
    }

    fn embedding_shape(&self) -> (usize, usize) {
        let shape = &self.layout.embedding().shape;
        (shape[0], shape[1])
    }

    /// All values concatenated in canonical order, without the pads (the parameter vector).
    pub fn flatten(&self) -> Vec<F> {
        self.tensors().concat()
    }

    /// Overwrites every tensor from a parameter vector in canonical order (no pads).
    pub fn assign_flat(&mut self, flat: &[F]) {
        let mut offset = 0;
        for t in self.tensors_mut() {
            t.copy_from_slice(&flat[offset..offset + t.len()]);
            offset += t.len();
        }
        assert_eq!(offset, flat.len(), "flat parameter vector has the model's parameter count");
    }

    pub fn fill_zero(&mut self) {
        self.data.fill(F::zero());
    }

    /// Σ of squares over every tensor, accumulated in f64.
    pub fn sum_squares(&self) -> f64 {
        self.data.iter().map(|&x| x.to_f64() * x.to_f64()).sum()
    }

    /// The same tensors converted to another scalar type.
    pub fn cast<G: Real>(&self) -> Params<G> {
        Params { layout: self.layout.clone(), data: self.data.iter().map(|&x| G::from_f64(x.to_f64())).collect() }
    }
}

/// Mutable slices of `data` at `ranges`, which are in increasing order and do not overlap.
fn disjoint_mut<'a, F>(data: &'a mut [F], ranges: &[std::ops::Range<usize>]) -> Vec<&'a mut [F]> {
    let mut out = Vec::with_capacity(ranges.len());
    let mut rest = data;
    let mut at = 0;
    for r in ranges {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(r.start - at);
        let (this, tail) = tail.split_at_mut(r.len());
        out.push(this);
        rest = tail;
        at = r.end;
    }
    out
}

/// Optimizer moments and update count, in the layout of [`Params`] (what a trainer reports
/// and a checkpoint stores).
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState {
    /// Number of updates applied so far (Adam's bias-correction k).
    pub updates: u64,
    /// SGD: the momentum buffer; Adam: first moment m.
    pub first: Params<f32>,
    /// Adam: second moment v (zeros for SGD).
    pub second: Params<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::model::{Activation, Cell};

    fn config(cell: Cell) -> ModelConfig {
        ModelConfig { vocab: 5, embed: 3, hidden: vec![4, 3], activation: Activation::Tanh, tied: false, cell }
    }

    #[test]
    fn named_views_see_the_flat_allocation() {
        let mut p = Params::<f32>::zeros(&config(Cell::Mi));
        p.w_hh_mut(1).fill(2.0);
        p.gates_mut(0).unwrap().beta_x.fill(3.0);
        let at = p.layout().w_hh(1).offset;
        assert_eq!(&p.as_flat()[at..at + 9], &[2.0; 9]);
        assert_eq!(p.gates(0).unwrap().beta_x, &[3.0; 4]);
        assert_eq!(p.gates(0).unwrap().alpha, &[0.0; 4]);
        let sizes: Vec<usize> = p.tensors().iter().map(|t| t.len()).collect();
        assert_eq!(sizes, [15, 12, 16, 4, 4, 4, 4, 12, 9, 3, 3, 3, 3, 15, 5]);
        assert_eq!(p.flatten().len(), sizes.iter().sum::<usize>());
        assert_eq!(p.sum_squares(), 9.0 * 4.0 + 4.0 * 9.0);
        assert!(Params::<f32>::zeros(&config(Cell::Elman)).gates(0).is_none());
    }

    #[test]
    fn tying_writes_the_transposed_embedding() {
        let cfg = ModelConfig { embed: 3, hidden: vec![3], tied: true, ..config(Cell::Elman) };
        let mut p = Params::<f64>::zeros(&cfg);
        p.embedding_mut().iter_mut().enumerate().for_each(|(i, x)| *x = i as f64);
        assert!(!p.output_is_tied());
        p.tie_output();
        assert!(p.output_is_tied());
        // E [5, 3]: E[1, 2] = 5 is output.w [3, 5] at [2, 1].
        assert_eq!(p.out_w()[2 * 5 + 1], 5.0);
    }
}
