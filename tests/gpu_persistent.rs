//! The persistent recurrence (rnn_persistent.wgsl: every wave of a chunk in one dispatch
//! with a grid barrier between waves) against the per-wave dispatches it replaces. Both
//! run rnn_wave.wgsl's code on the same tiles in the same order, so training steps, the
//! streamed evaluation and the gradient flow must agree bit for bit, not within a
//! tolerance; the per-wave path itself is checked against the CPU in gpu_parity.rs.
//!
//! On a software adapter the kernel is used only when forced (as here, on 2 workgroups,
//! which lavapipe runs at once). The cases: two relu layers of unequal widths with dropout
//! and Adam (multi-lane waves), the mi cell with SGD momentum, tied weights with a shorter
//! last chunk. Then a barrier made to give up at once: the one-workgroup fallback keeps
//! every step exact, and the trainer's next stats drain switches it to per-wave dispatches.
//! The residency probe has a test of its own. The two share the device's failure flag and,
//! on a software adapter, its few threads, so they take turns (`SERIAL`).

mod common;

use common::{gpu, tokens};
use elman::rnn::gpu::kernels::{rnn_persistent, rnn_step, Kernel};
use elman::rnn::gpu::kernels::rnn_persistent::Polling;
use elman::rnn::gpu::recurrence::{Recurrence, RecurrenceDispatch};
use elman::rnn::gpu::{GpuContext, GpuTrainer};
use elman::rnn::model::init::init_params;
use elman::rnn::model::{Activation, Cell, ModelConfig};
use elman::rnn::backend::{Batch, Evaluate, Optimizer, Trainer, UpdateConfig};
use std::sync::Arc;

const STEPS: usize = 6;

/// Held by each test for its whole run.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Case {
    name: &'static str,
    config: ModelConfig,
    update: UpdateConfig,
    n: usize,
    t: usize,
}

fn cases() -> Vec<Case> {
    let config = |vocab, embed, hidden: Vec<usize>, activation, tied, cell| ModelConfig { vocab, embed, hidden, activation, tied, cell };
    vec![
        Case {
            name: "2 relu layers, dropout, Adam",
            config: config(13, 8, vec![20, 12], Activation::Relu, false, Cell::Elman),
            update: UpdateConfig { dropout: 0.3, dropout_seed: 3, ..UpdateConfig::new(Optimizer::adam(), Some(1.0)) },
            n: 3,
            t: 5,
        },
        Case {
            name: "mi cell, SGD momentum",
            config: config(11, 6, vec![32], Activation::Tanh, false, Cell::Mi),
            update: UpdateConfig::new(Optimizer::Sgd { momentum: 0.9 }, Some(0.5)),
            n: 4,
            t: 6,
        },
        Case {
            name: "tied weights, T' < T",
            config: config(9, 20, vec![20], Activation::Tanh, true, Cell::Elman),
            update: UpdateConfig { weight_decay: 0.01, ..UpdateConfig::new(Optimizer::adam(), Some(1.0)) },
            n: 2,
            t: 7,
        },
    ]
}

/// Step k's batch; the last one is a chunk of T − 2 steps.
fn batch(case: &Case, k: usize) -> Batch {
    let t = if k + 1 == STEPS { case.t - 2 } else { case.t };
    let len = case.n * t;
    Batch { n: case.n, t, inputs: tokens(k as u64, len, case.config.vocab), targets: tokens(k as u64 + 50, len, case.config.vocab) }
}

/// How the recurrence is dispatched: per wave, or persistent forced onto `grid` workgroups
/// (the cases are too small for the probed path, which wants at least 8), with barriers
/// that give up at their first unanswered poll when `give_up`.
#[derive(Clone, Copy)]
enum Mode {
    Waves,
    Persistent { grid: u32, give_up: bool },
}

fn trainer(ctx: &Arc<GpuContext>, case: &Case, mode: Mode) -> GpuTrainer {
    set(ctx, mode);
    let params = init_params::<f32>(&case.config, 5);
    GpuTrainer::new(ctx.clone(), case.config.clone(), &params, case.update, case.n, case.t).unwrap()
}

/// The device's recurrence dispatch.
fn dispatch(ctx: &GpuContext) -> Arc<RecurrenceDispatch> {
    RecurrenceDispatch::of(ctx).unwrap()
}

fn set(ctx: &GpuContext, mode: Mode) {
    let polling = if ctx.is_software() { Polling::SOFTWARE } else { Polling::HARDWARE };
    match mode {
        Mode::Waves => dispatch(ctx).set(Recurrence::Waves),
        Mode::Persistent { grid, give_up } => dispatch(ctx).force_persistent(ctx, grid, if give_up { Polling::GIVE_UP_AT_ONCE } else { polling }),
    }
}

/// Whether a barrier gave up so far. One workgroup never waits, so none may; on hardware
/// none may either (every workgroup is resident). On a software adapter a barrier may run
/// out of polls when the machine is busy (Polling::SOFTWARE), and then the fallback ran,
/// which the bit-for-bit checks cover either way; the test asks that at least one run on
/// two workgroups held.
fn barriers_held(ctx: &GpuContext, grid: u32, what: &str) -> bool {
    let failed = dispatch(ctx).persistent_failed(ctx).unwrap();
    if ctx.is_software() && grid > 1 {
        eprintln!("{what}: grid barriers {}", if failed { "gave up (the fallback ran)" } else { "held" });
    } else {
        assert!(!failed, "{what}: a grid barrier gave up");
    }
    !failed
}

fn count(trainer: &GpuTrainer, kernel: fn(&Kernel) -> bool) -> usize {
    trainer.step_dispatches().iter().filter(|d| kernel(&d.kernel)).count()
}

/// Everything a run leaves: per-step (loss, ‖g‖, clipped) bits, the parameters' bits. The
/// shorter last chunk's program is built on first use, in `mode`.
fn run(ctx: &GpuContext, trainer: &mut GpuTrainer, case: &Case, mode: Mode) -> (Vec<(u32, u32, bool)>, Vec<u32>) {
    set(ctx, mode);
    for k in 0..STEPS {
        trainer.step(&batch(case, k), 0.01).unwrap();
    }
    let stats = trainer.drain_stats().unwrap().iter().map(|s| (s.loss.to_bits(), s.grad_norm.to_bits(), s.clipped)).collect();
    let p = trainer.params().unwrap();
    let bits = p.tensors().iter().flat_map(|t| t.iter().map(|v| v.to_bits())).collect();
    (stats, bits)
}

#[test]
fn persistent_dispatches_match_per_wave_dispatches_bit_for_bit() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(ctx) = gpu() else { return };
    // Asked for but not forced: a software adapter keeps per-wave dispatches, and so does a
    // hardware one for waves this small.
    dispatch(&ctx).set(Recurrence::Persistent);
    let case = &cases()[0];
    let plain = GpuTrainer::new(ctx.clone(), case.config.clone(), &init_params::<f32>(&case.config, 5), case.update, case.n, case.t).unwrap();
    assert_eq!(count(&plain, |k| rnn_persistent::PERSISTENT.contains(*k)), 0);

    let mut held_on_two = 0;
    for case in &cases() {
        for grid in [1, 2] {
            let name = format!("{}, {grid} workgroup(s)", case.name);
            let persistent_mode = Mode::Persistent { grid, give_up: false };
            let mut waves = trainer(&ctx, case, Mode::Waves);
            let mut persistent = trainer(&ctx, case, persistent_mode);
            // One persistent dispatch each way (with its reset and fallback), no per-wave ones.
            assert_eq!(count(&persistent, |k| rnn_persistent::PERSISTENT.contains(*k)), 4, "{name}");
            assert_eq!(count(&persistent, |k| *k == &rnn_persistent::RESET), 2, "{name}");
            assert_eq!(count(&persistent, |k| rnn_step::FORWARD.contains(*k) || rnn_step::BACKWARD.contains(*k)), 0, "{name}");
            assert_eq!(count(&waves, |k| rnn_persistent::PERSISTENT.contains(*k)), 0, "{name}");
            let want = run(&ctx, &mut waves, case, Mode::Waves);
            let got = run(&ctx, &mut persistent, case, persistent_mode);
            assert_eq!(got.0, want.0, "{name}: per-step loss, ‖g‖, clipped");
            assert!(got.1 == want.1, "{name}: parameters differ in their bits");
            held_on_two += (barriers_held(&ctx, grid, &name) && grid == 2) as usize;

            // The streamed evaluation and the gradient flow, each program built in its mode.
            let eval: Vec<Batch> = (0..3).map(|k| batch(case, k)).collect();
            set(&ctx, Mode::Waves);
            let (want_eval, want_flow) = (waves.evaluate(&eval).unwrap(), waves.gradient_flow(&eval[0], 1).unwrap());
            set(&ctx, persistent_mode);
            let (got_eval, got_flow) = (persistent.evaluate(&eval).unwrap(), persistent.gradient_flow(&eval[0], 1).unwrap());
            assert_eq!(got_eval.to_bits(), want_eval.to_bits(), "{name}: evaluation");
            assert_eq!(format!("{got_flow:?}"), format!("{want_flow:?}"), "{name}: gradient flow");
            held_on_two += (barriers_held(&ctx, grid, &name) && grid == 2) as usize;
        }
    }
    // A busy machine can starve one of a software adapter's threads past the polls' budget
    // in every run above; then a few more tries of one evaluation.
    let case = &cases()[2];
    let mut tries = trainer(&ctx, case, Mode::Persistent { grid: 2, give_up: false });
    let eval: Vec<Batch> = (0..3).map(|k| batch(case, k)).collect();
    for attempt in 0..8 {
        if held_on_two > 0 {
            break;
        }
        set(&ctx, Mode::Persistent { grid: 2, give_up: false });
        tries.evaluate(&eval).unwrap();
        held_on_two += barriers_held(&ctx, 2, &format!("extra evaluation {attempt}")) as usize;
    }
    assert!(held_on_two > 0, "no run on two workgroups passed its grid barriers: the barrier itself went untested");

    // A barrier that gives up at its first unanswered poll: the fallback reruns each chunk.
    let case = &cases()[0];
    let failing_mode = Mode::Persistent { grid: 2, give_up: true };
    let mut waves = trainer(&ctx, case, Mode::Waves);
    let mut failing = trainer(&ctx, case, failing_mode);
    let want = run(&ctx, &mut waves, case, Mode::Waves);
    let got = run(&ctx, &mut failing, case, failing_mode);
    assert_eq!(got.0, want.0, "fallback: per-step loss, ‖g‖, clipped");
    assert!(got.1 == want.1, "fallback: parameters differ in their bits");
    assert!(dispatch(&ctx).persistent_failed(&ctx).unwrap(), "no barrier gave up, so the fallback went untested");
    // The drain inside `run` saw the failure: the trainer dispatches per wave again.
    assert_eq!(dispatch(&ctx).current(), Recurrence::Waves);
    assert_eq!(count(&failing, |k| rnn_persistent::PERSISTENT.contains(*k)), 0);
    set(&ctx, Mode::Waves);
    failing.step(&batch(case, 0), 0.01).unwrap();
    waves.step(&batch(case, 0), 0.01).unwrap();
    assert_eq!(failing.drain_stats().unwrap()[0].loss.to_bits(), waves.drain_stats().unwrap()[0].loss.to_bits());
}

/// The residency probe: grid barriers alone (no work) on a grid that cannot all run at once
/// give up, are reported as not resident, and leave the device as they found it; on
/// hardware a grid of 128 is resident (an H100/H200 runs several workgroups per
/// multiprocessor). On a software adapter the kernel is otherwise never used.
#[test]
fn the_residency_probe_reports_what_runs_at_once() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(ctx) = gpu() else { return };
    if ctx.is_software() {
        // llvmpipe runs as many workgroups at once as it has threads (one per core).
        assert!(!dispatch(&ctx).probe_resident(&ctx, 256, 4).unwrap(), "256 workgroups resident at once on a software adapter?");
    } else {
        assert!(dispatch(&ctx).probe_resident(&ctx, 128, 4).unwrap(), "128 workgroups were not resident at once on {}", ctx.describe());
    }
    assert!(!dispatch(&ctx).persistent_failed(&ctx).unwrap(), "the probe left its failure behind");
}

