//! `elman bench`: CPU and GPU training steps in one run, per size: tokens/s each, the
//! GPU/CPU ratio, device names, dispatches per step (total and recurrent) and GPU bytes
//! allocated, as a table or `--json`.

use elman::rnn::devices::DeviceChoice;
use anyhow::Context;
use clap::Args;
use elman::rnn::bench::{random_batches, time_steps, BenchSize};
use elman::rnn::cpu::CpuTrainer;
use elman::rnn::gpu::kernel_bench;
use elman::rnn::gpu::kernels::rnn_persistent::PERSISTENT;
use elman::rnn::gpu::recurrence::{Recurrence, RecurrenceDispatch};
use elman::rnn::gpu::profile::Timer;
use elman::rnn::gpu::{GpuContext, GpuTrainer};
use elman::choice::Choice;
use elman::rnn::model::init::init_params;
use elman::rnn::model::{Cell, ModelConfig};
use elman::rnn::backend::{Evaluate, Optimizer, Trainer, UpdateConfig};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Timed steps per size and device (after --warmup untimed ones).
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Sizes as VxdxhxLxnxT, comma-separated (default: the three of rnn/bench.rs).
    #[arg(long, value_delimiter = ',')]
    pub sizes: Vec<String>,
    /// cpu or gpu alone; auto (default) measures both (the GPU may be a software adapter).
    #[arg(long, value_parser = super::choices::choice::<DeviceChoice>(), default_value = "auto")]
    pub device: DeviceChoice,
    /// Use the GPU adapter whose name contains this text.
    #[arg(long)]
    pub adapter: Option<String>,
    /// One JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Dropout probability on the non-recurrent connections (adds 3 dispatches per step).
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f32,
    /// The recurrent cell to time (mi: multiplicative integration).
    #[arg(long, value_parser = super::choices::choice::<Cell>(), default_value = "elman")]
    pub cell: Cell,
    /// Also time every GPU dispatch of a few steps with timestamp queries and print the
    /// time, GFLOP/s and GB/s per kernel family.
    #[arg(long)]
    pub profile: bool,
    /// Steps the profile takes the median over.
    #[arg(long, default_value_t = 5)]
    pub profile_steps: usize,
    /// Instead of training steps, time one GPU product C[M, N] = op(A)·op(B) (K inner)
    /// for every tiling and transposition: "M,N,K", repeatable.
    #[arg(long)]
    pub gemm: Vec<String>,
    /// Instead of training steps, time chains of --steps dependent recurrent steps on
    /// [N, H] for every rows-per-workgroup choice: "N,H", repeatable.
    #[arg(long)]
    pub rnn: Vec<String>,
    /// How the GPU runs the recurrence: waves (one dispatch per wave), persistent (every
    /// wave of a chunk in one dispatch; hardware adapters only), or both, side by side.
    #[arg(long, default_value = "both")]
    pub recurrence: String,
}

#[derive(serde::Serialize)]
struct Row {
    size: BenchSize,
    tokens_per_step: usize,
    cpu_tokens_per_s: Option<f64>,
    gpu_tokens_per_s: Option<f64>,
    gpu_over_cpu: Option<f64>,
    dispatches_per_step: Option<usize>,
    recurrent_dispatches_per_step: Option<usize>,
    gpu_bytes_allocated: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<ProfileJson>,
    /// The same steps with the persistent recurrence (`--recurrence persistent|both`).
    #[serde(skip_serializing_if = "Option::is_none")]
    persistent: Option<PersistentRow>,
}

#[derive(serde::Serialize)]
struct PersistentRow {
    /// None when the persistent kernel was not used (no resident grid of ≥ 8 workgroups).
    gpu_tokens_per_s: Option<f64>,
    /// Workgroups of its dispatches (the probed resident grid).
    grid: Option<u32>,
    dispatches_per_step: usize,
    /// A grid barrier gave up during the timing (the fallback ran; the speed is not the
    /// kernel's, and later sizes run per wave).
    barrier_gave_up: bool,
}

#[derive(serde::Serialize)]
struct ProfileJson {
    timer: &'static str,
    dispatch_us_per_step: f64,
    wall_us_per_step: f64,
    families: Vec<elman::rnn::gpu::profile::FamilyRow>,
    #[serde(skip)]
    table: String,
}

fn measure(trainer: &mut dyn Trainer, size: &BenchSize, args: &BenchArgs) -> anyhow::Result<f64> {
    let warm = random_batches(size, args.warmup, 1);
    time_steps(trainer, &warm, 1e-3)?;
    let batches = random_batches(size, args.steps, 2);
    let secs = time_steps(trainer, &batches, 1e-3)?.as_secs_f64();
    Ok((args.steps * size.tokens_per_step()) as f64 / secs)
}

/// Positive integers separated by ',' or 'x' ("2240,10000,1024"), exactly `count` of them.
fn parse_dims(flag: &str, s: &str, count: usize, example: &str) -> anyhow::Result<Vec<u32>> {
    let v: Option<Vec<u32>> = s.split([',', 'x']).map(|p| p.trim().parse::<u32>().ok().filter(|&x| x > 0)).collect();
    match v {
        Some(v) if v.len() == count => Ok(v),
        _ => anyhow::bail!("{flag} '{s}' is not {count} positive integers separated by commas (e.g. {example})"),
    }
}

/// `--gemm`: GFLOP/s of single products, per tiling.
fn run_gemm(args: &BenchArgs) -> anyhow::Result<()> {
    let shapes = args
        .gemm
        .iter()
        .map(|s| parse_dims("--gemm", s, 3, "2240,10000,1024").map(|d| (d[0], d[1], d[2])))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ctx = GpuContext::new(args.adapter.as_deref(), true).context("elman bench --gemm needs a GPU adapter")?;
    let mut all = Vec::new();
    for shape in shapes {
        all.extend(kernel_bench::run(&ctx, shape, args.steps)?);
    }
    if kernel_bench_header(&ctx, args.json, &all, &format!("median of {} products", args.steps)) {
        return Ok(());
    }
    println!("{:<22} {:>6}  {:<28} {:>10} {:>11} {:>10}", "M,N,K", "layout", "tiling", "workgroups", "µs", "GFLOP/s");
    for r in &all {
        println!(
            "{:<22} {:>6}  {:<28} {:>10} {:>11.1} {:>10.1}",
            format!("{},{},{}", r.m, r.n, r.k),
            r.layout,
            r.plan,
            r.workgroups,
            r.us,
            r.gflop_per_s
        );
    }
    Ok(())
}

/// The line naming the GPU, and whether its timings mean anything.
fn gpu_line(name: &str, software: bool) -> String {
    format!("gpu: {name}{}", if software { "  [software adapter: says nothing about GPU speed]" } else { "" })
}

/// With `json`: prints the whole result as one object and returns true (nothing more to
/// print). Else prints the device, checks and timer lines before a table.
fn kernel_bench_header<R: serde::Serialize>(ctx: &GpuContext, json: bool, results: &[R], what: &str) -> bool {
    let (checks, timer) = (ctx.kernels.checks().describe(), Timer::of(ctx).describe());
    if json {
        let out = serde_json::json!({ "gpu_device": ctx.describe(), "gpu_is_software": ctx.is_software(), "shader_checks": checks, "timer": timer, "results": results });
        println!("{out}");
        return true;
    }
    println!("{}", gpu_line(&ctx.describe(), ctx.is_software()));
    println!("shader runtime checks: {checks}; {timer}; {what}");
    false
}

/// `--rnn`: µs per recurrent step, per rows-per-workgroup choice.
fn run_rnn(args: &BenchArgs) -> anyhow::Result<()> {
    let shapes = args.rnn.iter().map(|s| parse_dims("--rnn", s, 2, "32,512").map(|d| (d[0], d[1]))).collect::<anyhow::Result<Vec<_>>>()?;
    let ctx = GpuContext::new(args.adapter.as_deref(), true).context("elman bench --rnn needs a GPU adapter")?;
    let mut all = Vec::new();
    for shape in shapes {
        all.extend(kernel_bench::run_rnn(&ctx, shape, args.steps)?);
    }
    if kernel_bench_header(&ctx, args.json, &all, &format!("median over a chain of {} steps", args.steps)) {
        return Ok(());
    }
    println!("{:<12} {:>9} {:>10} {:>10} {:>10} {:>10}", "N,H", "direction", "rows/wg", "workgroups", "µs/step", "GFLOP/s");
    for r in &all {
        let rows = format!("{}{}", r.rows_per_workgroup, if r.auto { " (auto)" } else { "" });
        println!("{:<12} {:>9} {:>10} {:>10} {:>10.2} {:>10.1}", format!("{},{}", r.n, r.h), r.direction, rows, r.workgroups, r.us, r.gflop_per_s);
    }
    Ok(())
}

/// The training steps of `size` with every chunk's waves in one persistent dispatch per
/// direction (the grid probed on first use; per-wave dispatches when none is resident).
fn measure_persistent(ctx: &Arc<GpuContext>, config: &ModelConfig, params: &elman::rnn::model::Params<f32>, update: UpdateConfig, size: &BenchSize, args: &BenchArgs) -> anyhow::Result<PersistentRow> {
    let dispatch = RecurrenceDispatch::of(ctx)?;
    dispatch.set(Recurrence::Persistent);
    let failed_before = dispatch.persistent_failed(ctx)?;
    let mut g = GpuTrainer::new(ctx.clone(), config.clone(), params, update, size.n, size.t)?;
    let dispatches = g.step_dispatches();
    let grid = dispatches.iter().find(|d| PERSISTENT.contains(d.kernel) && d.workgroups[0] > 0).map(|d| d.workgroups[0] * d.workgroups[1]);
    let tps = measure(&mut g, size, args)?;
    let barrier_gave_up = grid.is_some() && !failed_before && dispatch.persistent_failed(ctx)?;
    dispatch.set(Recurrence::Waves);
    Ok(PersistentRow { gpu_tokens_per_s: grid.map(|_| tps), grid, dispatches_per_step: dispatches.len(), barrier_gave_up })
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.steps > 0, "--steps must be > 0");
    if !args.gemm.is_empty() {
        return run_gemm(&args);
    }
    if !args.rnn.is_empty() {
        return run_rnn(&args);
    }
    anyhow::ensure!((0.0..1.0).contains(&args.dropout), "--dropout must be in [0, 1), got {}", args.dropout);
    let (time_waves, time_persistent) = match args.recurrence.as_str() {
        "waves" => (true, false),
        "persistent" => (false, true),
        "both" => (true, true),
        other => anyhow::bail!("--recurrence must be waves, persistent or both, got '{other}'"),
    };
    let sizes = if args.sizes.is_empty() {
        BenchSize::defaults()
    } else {
        args.sizes.iter().map(|s| BenchSize::parse(s)).collect::<Result<Vec<_>, _>>()?
    };
    let want_cpu = args.device != DeviceChoice::Gpu;
    let gpu = if args.device == DeviceChoice::Cpu {
        None
    } else {
        Some(Arc::new(GpuContext::new(args.adapter.as_deref(), true).context("elman bench needs a GPU adapter (use --device cpu to measure the CPU alone)")?))
    };
    let update = UpdateConfig { dropout: args.dropout, dropout_seed: 1, ..UpdateConfig::new(Optimizer::adam(), Some(1.0)) };
    let mut cpu_name = None;
    let gpu_name = gpu.as_ref().map(|g| g.describe());
    let mut rows = Vec::new();
    for size in &sizes {
        let config = ModelConfig { cell: args.cell, ..size.config() };
        let params = init_params::<f32>(&config, 1);
        let cpu_tps = if want_cpu {
            let mut cpu = CpuTrainer::new(config.clone(), params.clone(), update, size.n)?;
            cpu_name = Some(cpu.device_name());
            Some(measure(&mut cpu, size, &args)?)
        } else {
            None
        };
        let (mut gpu_tps, mut disp, mut rec, mut bytes, mut profile) = (None, None, None, None, None);
        let mut persistent = None;
        if let Some(ctx) = gpu.as_ref().filter(|c| time_persistent && !c.is_software()) {
            persistent = Some(measure_persistent(ctx, &config, &params, update, size, &args)?);
        }
        if let Some(ctx) = gpu.as_ref().filter(|_| time_waves) {
            RecurrenceDispatch::of(ctx)?.set(Recurrence::Waves);
            let mut g = GpuTrainer::new(ctx.clone(), config.clone(), &params, update, size.n, size.t)?;
            gpu_tps = Some(measure(&mut g, size, &args)?);
            disp = Some(g.dispatches_per_step());
            rec = Some(g.recurrent_dispatches_per_step());
            bytes = Some(g.bytes_allocated());
            if args.profile {
                let p = g.profile(&random_batches(size, args.profile_steps.max(1), 3), 1e-3)?;
                profile = Some(ProfileJson {
                    timer: match p.timer {
                        Timer::InsidePasses => "inside_passes",
                        Timer::PassPerDispatch => "pass_per_dispatch",
                        Timer::WholeSubmission => "whole_submission",
                    },
                    dispatch_us_per_step: p.dispatch_us(),
                    wall_us_per_step: p.step_wall_us,
                    families: p.families(),
                    table: p.table(),
                });
            }
        }
        let ratio = cpu_tps.zip(gpu_tps).map(|(c, g)| g / c);
        rows.push(Row {
            size: *size,
            tokens_per_step: size.tokens_per_step(),
            cpu_tokens_per_s: cpu_tps,
            gpu_tokens_per_s: gpu_tps,
            gpu_over_cpu: ratio,
            dispatches_per_step: disp,
            recurrent_dispatches_per_step: rec,
            gpu_bytes_allocated: bytes,
            profile,
            persistent,
        });
    }
    let software = gpu.as_ref().is_some_and(|g| g.is_software());
    let checks = gpu.as_ref().map(|g| g.kernels.checks().describe());
    let timer = gpu.as_ref().map(|g| Timer::of(g).describe());
    if args.json {
        let out = serde_json::json!({
            "cpu_device": cpu_name,
            "gpu_device": gpu_name,
            "gpu_is_software": software,
            "shader_checks": checks,
            "optimizer": "adam",
            "dropout": args.dropout,
            "cell": args.cell.name(),
            "recurrence": args.recurrence,
            "steps": args.steps,
            "results": rows,
        });
        println!("{out}");
        return Ok(());
    }
    println!("cpu: {}", cpu_name.as_deref().unwrap_or("(not measured)"));
    println!("{}", gpu_line(gpu_name.as_deref().unwrap_or("(not measured)"), software));
    if let Some(c) = &checks {
        println!("shader runtime checks: {c} (ELMAN_SHADER_CHECKS)");
    }
    println!(
        "{} cell, Adam, clip 1.0, dropout {}, {} timed steps after {} warm-up, GPU drained inside the timing",
        args.cell.name(),
        args.dropout,
        args.steps,
        args.warmup
    );
    println!("{:<36} {:>12} {:>12} {:>8} {:>16} {:>10}", "size", "cpu tok/s", "gpu tok/s", "gpu/cpu", "dispatches/step", "gpu MiB");
    let f = |x: Option<f64>, prec: usize| x.map_or("-".to_string(), |v| format!("{v:.prec$}"));
    for r in &rows {
        let disp = r.dispatches_per_step.zip(r.recurrent_dispatches_per_step).map_or("-".into(), |(d, rr)| format!("{d} ({rr} rec)"));
        println!(
            "{:<36} {:>12} {:>12} {:>8} {:>16} {:>10}",
            r.size.label(),
            f(r.cpu_tokens_per_s, 0),
            f(r.gpu_tokens_per_s, 0),
            f(r.gpu_over_cpu, 2),
            disp,
            f(r.gpu_bytes_allocated.map(|b| b as f64 / (1u64 << 20) as f64), 1)
        );
    }
    if rows.iter().any(|r| r.persistent.is_some()) {
        println!("\npersistent recurrence (every wave of a chunk in one dispatch per direction, ELMAN_RECURRENCE=persistent):");
        println!("{:<36} {:>12} {:>12} {:>10} {:>16}", "size", "gpu tok/s", "vs waves", "grid", "dispatches/step");
        for r in &rows {
            if let Some(p) = &r.persistent {
                let vs = p.gpu_tokens_per_s.zip(r.gpu_tokens_per_s).map(|(a, b)| a / b);
                let grid = match (p.grid, p.barrier_gave_up) {
                    (None, _) => "none".to_string(),
                    (Some(g), false) => g.to_string(),
                    (Some(g), true) => format!("{g} (gave up)"),
                };
                println!("{:<36} {:>12} {:>12} {:>10} {:>16}", r.size.label(), f(p.gpu_tokens_per_s, 0), f(vs, 2), grid, p.dispatches_per_step);
            }
        }
    } else if time_persistent && software {
        println!("persistent recurrence: not timed on a software adapter (it is never used there)");
    }
    for r in &rows {
        if let Some(p) = &r.profile {
            println!("\nprofile {} ({} steps, median; {})", r.size.label(), args.profile_steps.max(1), timer.unwrap_or(""));
            print!("{}", p.table);
        }
    }
    let masks = if args.dropout > 0.0 { " + 3 dropout masks" } else { "" };
    let mi = if args.cell == Cell::Mi { " + 2·L for the mi cell" } else { "" };
    println!("dispatches per step = 2·(T + L − 1) recurrent waves (the layer wavefront, each way) + 4·L + 11 batched + 1 per product split over K{masks}{mi}");
    Ok(())
}
