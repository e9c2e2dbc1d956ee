//! Where every parameter tensor lives in the one flat allocation that holds them all: its
//! checkpoint name, its shape and its element offset, each tensor starting on a multiple of
//! [`TENSOR_ALIGN`] elements. The CPU path reads named views of that allocation, the GPU
//! uploads it as it is into one buffer (one dispatch updates every tensor, one reduction
//! takes the global norm), and checkpoints store each view under its name.
//!
//! Canonical order (that of [`ModelConfig::tensor_shapes`]): `embedding` [V, d]; per layer l
//! `layers.{l}.w_xh` [in_l, h_l], `layers.{l}.w_hh` [h_l, h_l], `layers.{l}.b_h` [h_l] (and
//! for the multiplicative cell `alpha`, `beta_h`, `beta_x` [h_l]); `output.w` [h_{L−1}, V],
//! `output.b` [V]. The pads between tensors hold zeros.

use super::config::{Cell, ModelConfig};
use std::ops::Range;

/// Tensor offsets are rounded up to this many elements (256 bytes of f32) so that each
/// tensor starts on a fresh cache line or memory transaction.
pub const TENSOR_ALIGN: usize = 64;

/// `len` rounded up to a multiple of [`TENSOR_ALIGN`].
pub fn aligned(len: usize) -> usize {
    len.div_ceil(TENSOR_ALIGN) * TENSOR_ALIGN
}

/// One tensor of the flat allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSlot {
    /// Its checkpoint name (`layers.0.w_hh`).
    pub name: String,
    pub shape: Vec<usize>,
    /// First element in the flat allocation.
    pub offset: usize,
}

impl TensorSlot {
    /// Elements of the tensor (the product of its shape).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its elements' indices in the flat allocation.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// The tensors of one model, in canonical order, and the allocation's length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    slots: Vec<TensorSlot>,
    /// Elements of the flat allocation, pads included.
    total: usize,
    /// Tensors per layer: w_xh, w_hh, b_h, and α, β_h, β_x for the multiplicative cell.
    layer_tensors: usize,
}

impl ParamLayout {
    /// The layout of `config`'s tensors. `config` must be valid
    /// ([`ModelConfig::validate`] bounds its size).
    pub fn new(config: &ModelConfig) -> Self {
        let mut at = 0;
        let slots = config
            .tensor_shapes()
            .into_iter()
            .map(|(name, shape)| {
                let slot = TensorSlot { name, shape, offset: at };
                at = aligned(at + slot.len());
                slot
            })
            .collect();
        let layer_tensors = if config.cell == Cell::Mi { 6 } else { 3 };
        ParamLayout { slots, total: at.max(TENSOR_ALIGN), layer_tensors }
    }

    /// Every tensor, in canonical order.
    pub fn slots(&self) -> &[TensorSlot] {
        &self.slots
    }

    /// Elements of the flat allocation, pads included.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Elements of the tensors alone (the parameter count).
    pub fn values(&self) -> usize {
        self.slots.iter().map(TensorSlot::len).sum()
    }

    /// Whether the layers carry the multiplicative cell's gates.
    pub fn has_gates(&self) -> bool {
        self.layer_tensors == 6
    }

    /// Layers of the model.
    pub fn layers(&self) -> usize {
        (self.slots.len() - 3) / self.layer_tensors
    }

    fn layer_slot(&self, l: usize, k: usize) -> &TensorSlot {
        &self.slots[1 + self.layer_tensors * l + k]
    }

    pub fn embedding(&self) -> &TensorSlot {
        &self.slots[0]
    }

    pub fn w_xh(&self, l: usize) -> &TensorSlot {
        self.layer_slot(l, 0)
    }

    pub fn w_hh(&self, l: usize) -> &TensorSlot {
        self.layer_slot(l, 1)
    }

    pub fn b_h(&self, l: usize) -> &TensorSlot {
        self.layer_slot(l, 2)
    }

    /// The multiplicative cell's α, β_h, β_x of layer l (None for the Elman cell).
    pub fn gates(&self, l: usize) -> Option<[&TensorSlot; 3]> {
        self.has_gates().then(|| [self.layer_slot(l, 3), self.layer_slot(l, 4), self.layer_slot(l, 5)])
    }

    pub fn out_w(&self) -> &TensorSlot {
        &self.slots[self.slots.len() - 2]
    }

    pub fn out_b(&self) -> &TensorSlot {
        &self.slots[self.slots.len() - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::model::Activation;

    #[test]
    fn tensors_start_aligned_in_canonical_order_and_never_overlap() {
        let config = ModelConfig { vocab: 7, embed: 3, hidden: vec![5, 4], activation: Activation::Tanh, tied: false, cell: Cell::Mi };
        let layout = ParamLayout::new(&config);
        let names: Vec<&str> = layout.slots().iter().map(|s| s.name.as_str()).collect();
        let shapes: Vec<String> = config.tensor_shapes().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, shapes);
        for pair in layout.slots().windows(2) {
            assert!(pair[0].range().end <= pair[1].offset && pair[1].offset % TENSOR_ALIGN == 0);
        }
        assert_eq!(layout.w_hh(1).name, "layers.1.w_hh");
        assert_eq!(layout.gates(0).map(|g| g[2].name.clone()), Some("layers.0.beta_x".to_string()));
        assert_eq!((layout.layers(), layout.out_b().name.as_str()), (2, "output.b"));
        assert_eq!(layout.values() as u64, config.parameter_count().unwrap());
        assert!(layout.total() >= layout.out_b().range().end);
    }
}
