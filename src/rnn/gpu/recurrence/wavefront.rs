//! The recurrence as a layer wavefront: where every layer's activations live in the
//! concatenated buffers ([`ActivationLayout`]), and the lanes of each wave
//! ([`forward_waves`], [`backward_waves`]) that rnn_step.wgsl runs.
//!
//! Forward wave w runs layer l at step t = w − l; backward wave w runs layer l at step
//! t = T − 1 − (w − (L − 1 − l)). A chunk of T steps through L layers is therefore
//! T + L − 1 dependent dispatches each way, instead of L·T: layer l + 1 at step t − 1
//! runs beside layer l at step t, since it needs only H^l_{t-1}, finished one wave before.
//!
//! Shapes: n rows per step, T steps, h_l the width of layer l, L layers, R = n·T.

use crate::rnn::gpu::buffers::ParamOffsets;
use crate::rnn::model::layout::{aligned, TENSOR_ALIGN};
use crate::rnn::gpu::kernels::rnn_wave::{RnnLane, RnnStepParams};
use crate::rnn::dropout::{keep_scale, DropoutKey};
use crate::rnn::model::{Activation, ModelConfig};

/// Offsets (f32 elements) of each layer's activations in the concatenated buffers, every
/// region aligned to [`TENSOR_ALIGN`].
///
/// - `hidden` buffer: layer l's H^l [(T+1)·n, h_l] at `hidden[l]` (row block 0 is the
///   carried state H_{-1}, block t + 1 is H_t); then, with dropout, the masked copies
///   X^s = H^{s-1} ⊙ M_s [R, h_{s-1}] at `dropped[s]` for s = 1..=L (s = L: the input of
///   the output layer); then, for the mi cell, each layer's P^l and R^l [R, h_l].
/// - `d_pre` buffer: layer l's dZ^l [R, h_l] at `d_pre[l]`; for the mi cell also dR^l and
///   dP^l [R, h_l]; when laid out for the gradient flow, G^l = ∂L/∂H^l [R, h_l].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationLayout {
    pub hidden: Vec<usize>,
    /// Index s (0 unused): the masked copy of H^{s-1}, with dropout.
    pub dropped: Vec<Option<usize>>,
    /// The mi cell's P^l and R^l (forward) in the hidden buffer.
    pub mi_p: Vec<Option<usize>>,
    pub mi_r: Vec<Option<usize>>,
    pub hidden_total: usize,
    pub d_pre: Vec<usize>,
    /// The mi cell's dR^l and dP^l in the d_pre buffer.
    pub mi_dr: Vec<Option<usize>>,
    pub mi_dp: Vec<Option<usize>>,
    /// G^l in the d_pre buffer (gradient-flow layouts only).
    pub flow: Vec<Option<usize>>,
    pub d_pre_total: usize,
}

/// Hands out aligned regions one after another.
struct Regions(usize);

impl Regions {
    fn place(&mut self, len: usize) -> usize {
        let here = self.0;
        self.0 = aligned(self.0 + len);
        here
    }

    fn total(&self) -> usize {
        self.0.max(TENSOR_ALIGN)
    }
}

impl ActivationLayout {
    pub fn new(config: &ModelConfig, n: usize, t: usize, dropout: bool) -> ActivationLayout {
        Self::build(config, n, t, dropout, false)
    }

    /// The layout of a gradient-flow program ([`crate::rnn::gpu::GpuTrainer`]'s
    /// `gradient_flow`): the
    /// same hidden buffer as [`ActivationLayout::new`]'s, a d_pre buffer with G^l besides.
    pub fn for_flow(config: &ModelConfig, n: usize, t: usize, dropout: bool) -> ActivationLayout {
        Self::build(config, n, t, dropout, true)
    }

    fn build(config: &ModelConfig, n: usize, t: usize, dropout: bool, flow: bool) -> ActivationLayout {
        let mi = config.cell == crate::rnn::model::Cell::Mi;
        let rows = n * t;
        let mut at = Regions(0);
        let hidden: Vec<usize> = config.hidden.iter().map(|&h| at.place((t + 1) * n * h)).collect();
        let mut dropped = vec![None];
        dropped.extend(config.hidden.iter().map(|&h| dropout.then(|| at.place(rows * h))));
        let mi_p: Vec<Option<usize>> = config.hidden.iter().map(|&h| mi.then(|| at.place(rows * h))).collect();
        let mi_r: Vec<Option<usize>> = config.hidden.iter().map(|&h| mi.then(|| at.place(rows * h))).collect();
        let hidden_total = at.total();
        let mut at = Regions(0);
        let d_pre = config.hidden.iter().map(|&h| at.place(rows * h)).collect();
        let mi_dr = config.hidden.iter().map(|&h| mi.then(|| at.place(rows * h))).collect();
        let mi_dp = config.hidden.iter().map(|&h| mi.then(|| at.place(rows * h))).collect();
        let flow = config.hidden.iter().map(|&h| flow.then(|| at.place(rows * h))).collect();
        ActivationLayout { hidden, dropped, mi_p, mi_r, hidden_total, d_pre, mi_dr, mi_dp, flow, d_pre_total: at.total() }
    }

    /// Element offset of row block `block` of layer l's H (block 0: the carried state).
    pub fn hidden_block(&self, config: &ModelConfig, n: usize, l: usize, block: usize) -> usize {
        self.hidden[l] + block * n * config.hidden[l]
    }
}

/// What the waves of one program are laid out from: the model, where its parameters and
/// activations live, the chunk's shape, dropout and whether to record the gradient flow.
pub struct Wavefront<'a> {
    pub config: &'a ModelConfig,
    pub params: &'a ParamOffsets,
    pub acts: &'a ActivationLayout,
    pub n: usize,
    pub t: usize,
    /// Training with dropout: the key (its update number is unused: the kernel reads k
    /// from the step uniform).
    pub dropout: Option<DropoutKey>,
    /// The backward waves also write G^l_t (`acts` must be a gradient-flow layout).
    pub record: bool,
}

impl Wavefront<'_> {
    fn header(&self) -> RnnStepParams {
        let act = activation_code(self.config.activation);
        let (seed, p, keep) = self.dropout.map_or((0, 0.0, 1.0), |k| (k.seed, k.p, keep_scale(k.p)));
        RnnStepParams { rows: self.n as u32, act, seed, p, keep, ..Default::default() }
    }

    /// Offset of row block `t` of an [R, width] region starting at `base`.
    fn block(&self, base: usize, width: usize, t: usize) -> u32 {
        (base + t * self.n * width) as u32
    }

    /// Layer l at step t, forward: input part from H^{l-1}_t (or its masked copy), the
    /// recurrent part from H^l_{t-1}; result H^l_t, and with dropout its masked copy.
    fn forward_lane(&self, l: usize, t: usize) -> RnnLane {
        let (cfg, acts) = (self.config, self.acts);
        let h = cfg.hidden[l];
        let mut lane = RnnLane {
            h: h as u32,
            t: t as u32,
            flags: RnnLane::HAS_RECURRENT,
            a2_off: acts.hidden_block(cfg, self.n, l, t) as u32,
            w1_off: self.params.w_xh(l),
            w2_off: self.params.w_hh(l),
            bias_off: self.params.b_h(l),
            out_off: acts.hidden_block(cfg, self.n, l, t + 1) as u32,
            site: (l + 1) as u32,
            ..Default::default()
        };
        if l == 0 {
            // P^0_t (with b^0) from the batched input GEMM.
            lane.flags |= RnnLane::X_TERM;
            lane.x_off = self.block(0, h, t);
        } else {
            let below = cfg.hidden[l - 1];
            lane.k1 = below as u32;
            lane.a1_off = match acts.dropped[l] {
                Some(base) if self.dropout.is_some() => self.block(base, below, t),
                _ => acts.hidden_block(cfg, self.n, l - 1, t + 1) as u32,
            };
        }
        if let (Some(base), Some(_)) = (acts.dropped[l + 1], self.dropout) {
            lane.flags |= RnnLane::DROP;
            lane.drop_off = self.block(base, h, t);
        }
        if let (Some(p), Some(r)) = (acts.mi_p[l], acts.mi_r[l]) {
            (lane.gate_off, lane.gate_stride) = self.params.gates(l);
            (lane.p_off, lane.r_off) = (self.block(p, h, t), self.block(r, h, t));
            lane.flags |= RnnLane::MI;
        }
        lane.with_vec4_if_aligned()
    }

    /// Where the recurrent part of layer l's backward reads: dR^l (mi) or dZ^l.
    fn d_recurrent(&self, l: usize) -> usize {
        self.acts.mi_dr[l].unwrap_or(self.acts.d_pre[l])
    }

    /// Where the layer below layer l's input gradient comes from: dP^l (mi) or dZ^l.
    fn d_input(&self, l: usize) -> usize {
        self.acts.mi_dp[l].unwrap_or(self.acts.d_pre[l])
    }

    /// Layer l at step t, backward: input part dZ^{l+1}_t·W_xh^{l+1}ᵀ (masked), recurrent
    /// part dZ^l_{t+1}·W_hh^lᵀ (none at the last step), x term dH^L_t at the top.
    fn backward_lane(&self, l: usize, t: usize) -> RnnLane {
        let (cfg, acts) = (self.config, self.acts);
        let h = cfg.hidden[l];
        let top = l + 1 == cfg.layers();
        let mut lane = RnnLane {
            h: h as u32,
            t: t as u32,
            w2_off: self.params.w_hh_t(l),
            out_off: self.block(acts.d_pre[l], h, t),
            aux_off: acts.hidden_block(cfg, self.n, l, t + 1) as u32,
            site: (l + 1) as u32,
            ..Default::default()
        };
        if t + 1 < self.t {
            lane.flags |= RnnLane::HAS_RECURRENT;
            lane.a2_off = self.block(self.d_recurrent(l), h, t + 1);
        }
        if top {
            lane.flags |= RnnLane::X_TERM;
            lane.x_off = self.block(0, h, t);
        } else {
            let above = cfg.hidden[l + 1];
            lane.k1 = above as u32;
            lane.a1_off = self.block(self.d_input(l + 1), above, t);
            lane.w1_off = self.params.w_xh_t(l + 1);
            if self.dropout.is_some() {
                lane.flags |= RnnLane::DROP;
            }
        }
        if let (Some(p), Some(r), Some(dr), Some(dp)) = (acts.mi_p[l], acts.mi_r[l], acts.mi_dr[l], acts.mi_dp[l]) {
            lane.gate_off = self.params.gates_t(l);
            lane.gate_stride = self.params.gates(l).1;
            (lane.p_off, lane.r_off) = (self.block(p, h, t), self.block(r, h, t));
            (lane.dr_off, lane.dp_off) = (self.block(dr, h, t), self.block(dp, h, t));
            lane.flags |= RnnLane::MI;
        }
        if self.record {
            let base = acts.flow[l].expect("a recording wavefront needs a gradient-flow layout");
            lane.flow_off = self.block(base, h, t);
            lane.flags |= RnnLane::RECORD;
        }
        lane.with_vec4_if_aligned()
    }

    /// Packs the lanes of each wave into dispatches of at most [`RnnLane::MAX`] lanes.
    fn pack(&self, waves: Vec<Vec<RnnLane>>) -> Vec<RnnStepParams> {
        let mut out = Vec::new();
        for lanes in waves {
            for chunk in lanes.chunks(RnnLane::MAX) {
                let mut p = self.header();
                p.lanes = chunk.len() as u32;
                p.lane[..chunk.len()].copy_from_slice(chunk);
                out.push(p);
            }
        }
        out
    }
}

/// One wave of a single layer whose buffers hold nothing else (kernel tests and
/// `bench --rnn`): forward H_t = φ(P_t + H_{t-1}·W), P [T·n, h] in x_in, H [(T+1)·n, h]
/// in y_out; backward dZ_t = (dH_t + dZ_{t+1}·Wᵀ) ⊙ φ'(H_t), dH [T·n, h] in x_in,
/// dZ [T·n, h] in y_out, H in aux, Wᵀ at `w_off` (no dZ_{t+1} term unless `recurrent`;
/// forward always has its H_{t-1} term).
pub fn single_layer_wave(back: bool, act: Activation, n: u32, h: u32, t: u32, recurrent: bool, w_off: u32) -> RnnStepParams {
    let block = |t: u32| t * n * h;
    let mut lane = RnnLane { h, t, flags: RnnLane::X_TERM, x_off: block(t), w2_off: w_off, ..Default::default() };
    if back {
        if recurrent {
            lane.flags |= RnnLane::HAS_RECURRENT;
            lane.a2_off = block(t + 1);
        }
        lane.out_off = block(t);
        lane.aux_off = block(t + 1);
    } else {
        lane.flags |= RnnLane::HAS_RECURRENT;
        lane.a2_off = block(t);
        lane.out_off = block(t + 1);
    }
    let act = activation_code(act);
    let mut p = RnnStepParams { rows: n, lanes: 1, act, ..Default::default() };
    p.lane[0] = lane.with_vec4_if_aligned();
    p
}

/// rnn_step.wgsl's `act`: 0 = tanh, 1 = relu.
fn activation_code(activation: Activation) -> u32 {
    match activation {
        Activation::Tanh => 0,
        Activation::Relu => 1,
    }
}

/// Dispatches of the forward recurrence, in order: wave w holds layer l at t = w − l.
pub fn forward_waves(front: &Wavefront) -> Vec<RnnStepParams> {
    let layers = front.config.layers();
    let waves = (0..front.t + layers - 1)
        .map(|w| (0..layers).filter(|&l| w >= l && w - l < front.t).map(|l| front.forward_lane(l, w - l)).collect())
        .collect();
    front.pack(waves)
}

/// Dispatches of the backward recurrence, in order: wave w holds layer l at
/// t = T − 1 − (w − (L − 1 − l)), the top layer first.
pub fn backward_waves(front: &Wavefront) -> Vec<RnnStepParams> {
    let layers = front.config.layers();
    let waves = (0..front.t + layers - 1)
        .map(|w| {
            (0..layers)
                .rev()
                .filter_map(|l| {
                    let lag = layers - 1 - l;
                    (w >= lag && w - lag < front.t).then(|| front.backward_lane(l, front.t - 1 - (w - lag)))
                })
                .collect()
        })
        .collect();
    front.pack(waves)
}

/// Dependent recurrent dispatches per training step: T + L − 1 waves each way (a wave of
/// more than [`RnnLane::MAX`] lanes takes more than one dispatch).
pub fn recurrent_dispatches(layers: usize, t: usize) -> usize {
    let per_wave = |lanes: usize| lanes.div_ceil(RnnLane::MAX);
    2 * (0..t + layers - 1).map(|w| per_wave((0..layers).filter(|&l| w >= l && w - l < t).count())).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(hidden: Vec<usize>) -> ModelConfig {
        ModelConfig { vocab: 11, embed: 6, hidden, activation: Activation::Tanh, tied: false, cell: Default::default() }
    }

    #[test]
    fn waves_cover_every_layer_and_step_once_in_dependency_order() {
        let cfg = config(vec![8, 12, 4]);
        let params = ParamOffsets::new(std::sync::Arc::new(crate::rnn::model::ParamLayout::new(&cfg)), &cfg);
        let acts = ActivationLayout::new(&cfg, 3, 5, false);
        let front = Wavefront { config: &cfg, params: &params, acts: &acts, n: 3, t: 5, dropout: None, record: false };
        let fwd = forward_waves(&front);
        assert_eq!(fwd.len(), 5 + 3 - 1);
        let mut done = std::collections::HashSet::new();
        for wave in &fwd {
            for lane in &wave.lane[..wave.lanes as usize] {
                let l = cfg.hidden.iter().position(|&h| h as u32 == lane.h).unwrap();
                // Its inputs were finished in an earlier wave.
                if l > 0 {
                    assert!(done.contains(&(l - 1, lane.t)), "layer {l} step {} before its input", lane.t);
                }
                if lane.t > 0 {
                    assert!(done.contains(&(l, lane.t - 1)));
                }
                assert!(done.insert((l, lane.t)));
            }
            // Lanes of one wave never depend on each other.
            for a in &wave.lane[..wave.lanes as usize] {
                for b in &wave.lane[..wave.lanes as usize] {
                    assert!(a == b || a.out_off != b.a1_off && a.out_off != b.a2_off);
                }
            }
        }
        assert_eq!(done.len(), 3 * 5);
        let bwd = backward_waves(&front);
        assert_eq!(bwd.len(), 5 + 3 - 1);
        let first = &bwd[0].lane[0];
        assert_eq!((first.h, first.t, first.flags & RnnLane::X_TERM, first.flags & RnnLane::HAS_RECURRENT), (4, 4, RnnLane::X_TERM, 0));
        assert_eq!(recurrent_dispatches(3, 5), 2 * 7);
        assert_eq!(recurrent_dispatches(1, 64), 128);
        // Six layers over six steps: the waves hold 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1 lanes, and
        // the three of more than four take two dispatches each.
        assert_eq!(recurrent_dispatches(6, 6), 2 * (11 + 3));
    }

    #[test]
    fn masked_copies_are_written_forward_and_read_by_the_next_layer() {
        let cfg = config(vec![8, 12]);
        let params = ParamOffsets::new(std::sync::Arc::new(crate::rnn::model::ParamLayout::new(&cfg)), &cfg);
        let acts = ActivationLayout::new(&cfg, 2, 3, true);
        let key = DropoutKey { p: 0.3, seed: 5, update: 0 };
        let front = Wavefront { config: &cfg, params: &params, acts: &acts, n: 2, t: 3, dropout: Some(key), record: false };
        let fwd = forward_waves(&front);
        // Wave 1: layer 0 at t = 1 and layer 1 at t = 0, reading layer 0's copy of step 0.
        let (l0, l1) = (fwd[1].lane[0], fwd[1].lane[1]);
        assert_eq!(l1.a1_off as usize, acts.dropped[1].unwrap());
        assert_eq!(l0.drop_off as usize, acts.dropped[1].unwrap() + 2 * 8);
        assert!(l0.flags & RnnLane::DROP != 0 && l1.flags & RnnLane::DROP != 0);
        // The top layer's copy feeds the output layer.
        assert_eq!(l1.drop_off as usize, acts.dropped[2].unwrap());
        assert!(acts.dropped[2].unwrap() + 3 * 2 * 12 <= acts.hidden_total);
    }
}
