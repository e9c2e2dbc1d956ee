//! Model shape: vocabulary V, embedding width d, hidden widths h_0..h_{L-1}, activation φ.

pub use crate::choice::Choice;
use crate::error::{ElmanError, Result};
use serde::{Deserialize, Serialize};

/// The hidden-layer nonlinearity φ in H_t = φ(X_t W_xh + H_{t-1} W_hh + b_h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Tanh,
    Relu,
}

impl Choice for Activation {
    const WHAT: &'static str = "activation";
    const TABLE: &'static [(Self, &'static str, &'static str)] =
        &[(Activation::Tanh, "tanh", "φ(z) = tanh z, φ'(z) = 1 − φ(z)²"), (Activation::Relu, "relu", "φ(z) = max(0, z), φ'(z) = [φ(z) > 0]")];
}

/// The recurrent cell: how X_t W_xh and H_{t−1} W_hh are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// H_t = φ(X_t W_xh + H_{t−1} W_hh + b): the Elman cell.
    #[default]
    Elman,
    /// Multiplicative integration (Wu et al. 2016): H_t = φ(α ⊙ P_t ⊙ R_t + β_h ⊙ R_t +
    /// β_x ⊙ P_t + b) with P_t = X_t W_xh, R_t = H_{t−1} W_hh and per-layer α, β_h, β_x ∈ R^h
    /// (α = 0, β_h = β_x = 1 is the Elman cell).
    Mi,
}

impl Choice for Cell {
    const WHAT: &'static str = "cell";
    const TABLE: &'static [(Self, &'static str, &'static str)] = &[
        (Cell::Elman, "elman", "H_t = φ(X_t W_xh + H_{t−1} W_hh + b)"),
        (Cell::Mi, "mi", "multiplicative integration: φ(α⊙P⊙R + β_h⊙R + β_x⊙P + b), P = X W_xh, R = H W_hh"),
    ];
}

/// Everything that fixes the parameter shapes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// V: vocabulary size.
    pub vocab: usize,
    /// d: embedding width.
    pub embed: usize,
    /// h_l for each stacked layer l (at least one).
    pub hidden: Vec<usize>,
    pub activation: Activation,
    /// Tied input and output embeddings (Press & Wolf 2017): the output layer's weights are
    /// the embedding transposed, W_q = Eᵀ, which needs d = h_{L-1}.
    #[serde(default)]
    pub tied: bool,
    /// The recurrent cell (files without it are Elman).
    #[serde(default)]
    pub cell: Cell,
}

impl ModelConfig {
    /// Rejects zero sizes and an empty layer list.
    pub fn validate(&self) -> Result<()> {
        if self.vocab == 0 {
            return Err(ElmanError::Config("vocabulary size must be > 0".into()));
        }
        if self.embed == 0 {
            return Err(ElmanError::Setting { key: "embed", problem: "must be > 0".into() });
        }
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(ElmanError::Setting { key: "hidden", problem: format!("must list one or more widths > 0, got {:?}", self.hidden) });
        }
        if self.parameter_count().is_none_or(|p| p > 1 << 50) {
            return Err(ElmanError::Config(format!(
                "a model of vocabulary {}, embedding {} and hidden widths {:?} has more than 2^50 parameters",
                self.vocab, self.embed, self.hidden
            )));
        }
        if self.tied && self.embed != self.top_hidden() {
            return Err(ElmanError::Setting {
                key: "tie-weights",
                problem: format!(
                    "needs the embedding width equal to the top layer's width (the output layer uses the embedding transposed): embed is {}, the top layer {}",
                    self.embed,
                    self.top_hidden()
                ),
            });
        }
        Ok(())
    }

    pub fn layers(&self) -> usize {
        self.hidden.len()
    }

    /// in_l: d for layer 0, h_{l-1} above.
    pub fn layer_input(&self, l: usize) -> usize {
        if l == 0 {
            self.embed
        } else {
            self.hidden[l - 1]
        }
    }

    /// h_{L-1}: width feeding the output layer.
    pub fn top_hidden(&self) -> usize {
        *self.hidden.last().expect("validated config has at least one layer")
    }

    /// Every parameter tensor as (checkpoint name, shape), in canonical order.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = vec![("embedding".to_string(), vec![self.vocab, self.embed])];
        for (l, &h) in self.hidden.iter().enumerate() {
            out.push((format!("layers.{l}.w_xh"), vec![self.layer_input(l), h]));
            out.push((format!("layers.{l}.w_hh"), vec![h, h]));
            out.push((format!("layers.{l}.b_h"), vec![h]));
            if self.cell == Cell::Mi {
                out.push((format!("layers.{l}.alpha"), vec![h]));
                out.push((format!("layers.{l}.beta_h"), vec![h]));
                out.push((format!("layers.{l}.beta_x"), vec![h]));
            }
        }
        out.push(("output.w".to_string(), vec![self.top_hidden(), self.vocab]));
        out.push(("output.b".to_string(), vec![self.vocab]));
        out
    }

    /// The number of parameters, or `None` when it does not fit in 64 bits (a hostile
    /// config; [`ModelConfig::validate`] refuses more than 2^50).
    pub fn parameter_count(&self) -> Option<u64> {
        self.tensor_shapes().iter().try_fold(0u64, |sum, (_, shape)| {
            let size = shape.iter().try_fold(1u64, |p, &s| p.checked_mul(s as u64))?;
            sum.checked_add(size)
        })
    }

    /// Forward+backward FLOPs per token: 6·(d·h_0 + Σ h_l² + Σ_{l>0} h_{l-1}h_l + h_{L-1}V).
    pub fn flops_per_token(&self) -> f64 {
        let mut macs = 0usize;
        for l in 0..self.layers() {
            macs += self.layer_input(l) * self.hidden[l] + self.hidden[l] * self.hidden[l];
        }
        macs += self.top_hidden() * self.vocab;
        6.0 * macs as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_design_names() {
        let c = ModelConfig { vocab: 7, embed: 3, hidden: vec![5, 4], activation: Activation::Tanh, tied: false, cell: Default::default() };
        let names: Vec<_> = c.tensor_shapes().into_iter().map(|(n, s)| format!("{n}{s:?}")).collect();
        assert_eq!(
            names,
            [
                "embedding[7, 3]",
                "layers.0.w_xh[3, 5]",
                "layers.0.w_hh[5, 5]",
                "layers.0.b_h[5]",
                "layers.1.w_xh[5, 4]",
                "layers.1.w_hh[4, 4]",
                "layers.1.b_h[4]",
                "output.w[4, 7]",
                "output.b[7]"
            ]
        );
        assert_eq!(c.parameter_count(), Some(21 + 15 + 25 + 5 + 20 + 16 + 4 + 28 + 7));
    }

    #[test]
    fn design_cost_model_example() {
        // docs/design.md's cost model: V=65, d=64, h=512, L=1: 4.0 GFLOP for 2,048 tokens.
        let c = ModelConfig { vocab: 65, embed: 64, hidden: vec![512], activation: Activation::Tanh, tied: false, cell: Default::default() };
        let gflop = c.flops_per_token() * 2048.0 / 1e9;
        assert!((gflop - 4.0).abs() < 0.05, "{gflop}");
    }
}
