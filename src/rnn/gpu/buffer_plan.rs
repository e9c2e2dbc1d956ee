//! The buffer plan: every storage buffer a GPU model (and, with an update, its trainer)
//! allocates, by role, with its label and size. The limit check (limits.rs) reads it
//! before anything is allocated, and [`allocate`] makes the buffers from the same list.
//!
//! Shapes: n = batch rows, T = steps per chunk, R = n·T, d, h_l, V as in the model.

use super::buffers::{Allocator, ParamOffsets};
use crate::rnn::model::ParamLayout;
use super::recurrence::ActivationLayout;
use crate::rnn::model::ModelConfig;
use crate::rnn::backend::{Optimizer, UpdateConfig};

/// What a planned buffer holds (per layer where it says so).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    // The forward model's (model.rs).
    Params,
    Tokens,
    EmbRows,
    Proj0,
    Hidden,
    Logits,
    RowLoss,
    EvalSums,
    EvalState(usize),
    SampleState(usize),
    // The trainer's (trainer.rs).
    Grads,
    RecurrentT,
    Moment1,
    Moment2,
    DEmbRows,
    DTop,
    DPre,
    Partials,
    Clip,
    Stats,
    State(usize),
    // The gradient-flow program's (trainer.rs, allocated on its first use).
    FlowDPre,
    FlowSums,
}

impl Role {
    /// Whether a forward-only model allocates it.
    pub fn is_forward(self) -> bool {
        matches!(
            self,
            Role::Params | Role::Tokens | Role::EmbRows | Role::Proj0 | Role::Hidden | Role::Logits | Role::RowLoss | Role::EvalSums | Role::EvalState(_) | Role::SampleState(_)
        )
    }
}

/// One planned storage buffer: what it holds, its label, its size in 4-byte elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedBuffer {
    pub role: Role,
    pub label: String,
    pub elements: usize,
}

/// Stats slots kept on the GPU between drains.
pub const STATS_SLOTS: usize = 1024;
/// Evaluation chunks recorded into one command buffer, each summing its loss into a slot of
/// its own in the eval sums buffer (model.rs streams evaluation this way).
pub const CHUNKS_PER_SUBMISSION: usize = 256;

/// Every storage buffer a model for (config, n, T) allocates, with its size: the forward
/// buffers (model.rs), and with `update` also the trainer's (its optimizer's moments, and
/// with dropout the masked copies inside the hidden buffer). The limit check below and the
/// allocation ([`super::buffers::Allocator::allocate`]) both read this one list.
pub fn plan(config: &ModelConfig, n: usize, t: usize, update: Option<&UpdateConfig>) -> Vec<PlannedBuffer> {
    let rows = n * t;
    let layout = ParamOffsets::new(std::sync::Arc::new(ParamLayout::new(config)), config);
    let total = layout.total();
    let dropout = update.is_some_and(|u| u.dropout > 0.0);
    let acts = ActivationLayout::new(config, n, t, dropout);
    let entry = |role, label: &str, elements| PlannedBuffer { role, label: label.to_string(), elements };
    let mut out = vec![
        entry(Role::Params, "params", total),
        entry(Role::Tokens, "tokens", 3 * rows + config.vocab + 1),
        entry(Role::EmbRows, "embedding rows", rows * config.embed),
        entry(Role::Proj0, "layer 0 projection", rows * config.hidden[0]),
        entry(Role::Hidden, "hidden", acts.hidden_total),
        entry(Role::Logits, "logits", rows * config.vocab),
        entry(Role::RowLoss, "row losses", rows),
        entry(Role::EvalSums, "eval sums", CHUNKS_PER_SUBMISSION),
    ];
    for (l, &h) in config.hidden.iter().enumerate() {
        out.push(entry(Role::EvalState(l), &format!("layers.{l} eval state"), n * h));
        out.push(entry(Role::SampleState(l), &format!("layers.{l} sample state"), h));
    }
    if let Some(update) = update {
        let adam = matches!(update.optimizer, Optimizer::Adam { .. });
        out.extend([
            entry(Role::Grads, "grads", total),
            entry(Role::RecurrentT, "recurrent weights transposed", layout.transposed_total),
            entry(Role::Moment1, "moment1", total),
            entry(Role::Moment2, "moment2", if adam { total } else { 1 }),
            entry(Role::DEmbRows, "embedding row grads", rows * config.embed),
            entry(Role::DTop, "top hidden grads", rows * config.top_hidden()),
            entry(Role::DPre, "pre-activation grads", acts.d_pre_total),
            entry(Role::Partials, "norm partials", super::kernels::reduce::NUM_PARTIALS as usize),
            entry(Role::Clip, "clip", 4),
            entry(Role::Stats, "stats", STATS_SLOTS * 4),
        ]);
        for (l, &h) in config.hidden.iter().enumerate() {
            out.push(entry(Role::State(l), &format!("layers.{l} state"), n * h));
        }
    }
    out
}


/// The buffers a trainer adds for its gradient-flow program (no dropout, G^l kept beside
/// dZ^l): the d_pre buffer of [`ActivationLayout::for_flow`] and the norms' sums.
pub fn flow_plan(config: &ModelConfig, n: usize, t: usize, dropout: bool) -> Vec<PlannedBuffer> {
    let acts = ActivationLayout::for_flow(config, n, t, dropout);
    vec![
        PlannedBuffer { role: Role::FlowDPre, label: "gradient-flow pre-activation grads".into(), elements: acts.d_pre_total },
        PlannedBuffer { role: Role::FlowSums, label: "gradient-flow sums".into(), elements: super::step_program::FlowBuffers::sums_len(config.layers(), t) },
    ]
}

/// Every buffer of `plan` whose role `keep` accepts, zero-filled, by role.
pub fn allocate(alloc: &mut Allocator, plan: &[PlannedBuffer], keep: impl Fn(Role) -> bool) -> Allocated {
    Allocated(plan.iter().filter(|b| keep(b.role)).map(|b| (b.role, alloc.zeros(&b.label, b.elements))).collect())
}

/// Buffers made from a plan, taken out one by one by role.
pub struct Allocated(std::collections::HashMap<Role, wgpu::Buffer>);

impl Allocated {
    /// The buffer of `role` (which the plan must hold).
    pub fn take(&mut self, role: Role) -> wgpu::Buffer {
        self.0.remove(&role).unwrap_or_else(|| panic!("the buffer plan holds a {role:?} buffer"))
    }
}
