//! The training loop, device-agnostic: batches in, steps on a [`Trainer`], periodic
//! evaluation, log lines (stdout, `log.jsonl`, `loss.svg`), atomic checkpoints, and safe
//! stops (Ctrl-C finishes the step and saves; a NaN/Inf loss stops without saving, so the
//! last good checkpoint stays).

use crate::choice::Choice;
use crate::rnn::data::{stream_batches, Batcher, Corpus};
use crate::error::{ElmanError, Result};
use crate::rnn::model::checkpoint::{write_atomic, Checkpoint};
pub use crate::rnn::train::runlog::{LogLine, LogRecord};
use crate::rnn::train::schedule::ValidationState;
use crate::rnn::train::runlog::RunLog;
use crate::rnn::train::settings::TrainSettings;
use crate::rnn::backend::{Evaluate, StepStats, Trainer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Where a run stands: written into checkpoints so a run can continue exactly.
/// (Initialisation is a function of the seed and dropout masks of the update number, so
/// no random-generator state needs saving beyond this.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Steps completed.
    pub step: u64,
    /// Batches handed out by the batcher.
    pub batch_position: u64,
    /// The best validation loss so far and the plateau schedule's state.
    #[serde(default)]
    pub validation: ValidationState,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub progress: Progress,
    pub last_train_loss: Option<f32>,
    pub last_valid_loss: Option<f64>,
    pub checkpoint: PathBuf,
    pub interrupted: bool,
}

/// Set by the Ctrl-C handler; the loop finishes the current step, saves and stops.
pub static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// The file a run directory's latest checkpoint lives in.
pub fn checkpoint_path(out: &Path) -> PathBuf {
    out.join("model.safetensors")
}

/// A checkpoint file from a path that may name a run directory (its latest checkpoint).
pub fn checkpoint_file(p: &Path) -> PathBuf {
    if p.is_dir() {
        checkpoint_path(p)
    } else {
        p.to_path_buf()
    }
}

/// Scores `tokens` as one stream from a zero state (chunks of T, state carried), capped at
/// `max_tokens` predictions (0 = all). Returns (mean nats/token, predictions scored).
pub fn evaluate_stream(model: &mut dyn Evaluate, tokens: &[u32], seq_len: usize, max_tokens: usize) -> Result<(f64, usize)> {
    let end = if max_tokens > 0 { tokens.len().min(max_tokens + 1) } else { tokens.len() };
    let batches = stream_batches(&tokens[..end], seq_len);
    if batches.is_empty() {
        return Err(ElmanError::Data { what: "evaluation text".into(), detail: "needs at least 2 tokens".into() });
    }
    Ok((model.evaluate(&batches)?, end - 1))
}

/// The file a run directory's best checkpoint (lowest validation loss so far) lives in.
pub fn best_checkpoint_path(out: &Path) -> PathBuf {
    out.join("best.safetensors")
}

/// Runs from `start` to the run's last step (`settings.total_steps`), logging through
/// `log` and into `out`: evaluations every `eval_every` steps update the best checkpoint
/// (`best.safetensors`) and the plateau schedule.
pub fn run(
    trainer: &mut dyn Trainer,
    corpus: &Corpus,
    settings: &TrainSettings,
    start: Progress,
    out: &Path,
    log: &mut dyn FnMut(&LogLine),
) -> Result<Outcome> {
    let mut batcher = Batcher::new(corpus.train.len(), settings.batch, settings.seq_len)?;
    batcher.seek(start.batch_position);
    let total = settings.total_steps(batcher.batches_per_epoch());
    let schedule = settings.lr_schedule(total);
    schedule.validate()?;
    std::fs::create_dir_all(out).map_err(|source| ElmanError::Write { path: out.to_path_buf(), source })?;
    // The settings, and the model they make with this corpus's vocabulary.
    let mut config = serde_json::to_value(settings).expect("settings serialize");
    config["model"] = serde_json::to_value(settings.model_config(corpus.vocab.len())).expect("the model config serializes");
    let config_json = serde_json::to_string_pretty(&config).expect("settings serialize");
    write_atomic(&out.join("config.json"), config_json.as_bytes())?;
    let title = format!(
        "elman: d={} h={:?} {} · n={} T={} · {}",
        settings.embed,
        settings.hidden,
        settings.activation.name(),
        settings.batch,
        settings.seq_len,
        settings.data.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "built-in manual".into())
    );
    let mut run_log = RunLog::open(out, &title, start.step)?;
    // The gradient-flow records so far (a resumed run continues its file), read once.
    let mut flow_records = if settings.grad_flow > 0 { read_gradient_flow(out) } else { Vec::new() };
    let elapsed_before = run_log.elapsed_s();

    let best_path = best_checkpoint_path(out);
    let mut progress = start;
    let tokens_per_step = (settings.batch * settings.seq_len) as f64;
    let ckpt_path = checkpoint_path(out);
    let run_start = Instant::now();
    let mut window_start = Instant::now();
    let mut window_steps = 0u64;
    // Stats of the steps since the last log line (a save between lines drains some early).
    let mut window_stats: Vec<StepStats> = Vec::new();
    let mut last_train = None;
    let mut last_valid = None;
    let mut interrupted = false;
    let zeros: Vec<Vec<f32>> = settings.hidden.iter().map(|&h| vec![0.0; settings.batch * h]).collect();

    while progress.step < total {
        let (batch, epoch_start) = batcher.next_batch(&corpus.train);
        if epoch_start {
            // A new pass: every stream jumps back to its start, so the carried state restarts.
            trainer.set_hidden(&zeros)?;
        }
        let lr = schedule.lr_at(settings.lr, progress.step, total, &progress.validation);
        if settings.grad_flow > 0 && (progress.step + 1).is_multiple_of(settings.grad_flow) {
            let flow = record_gradient_flow(trainer, &batch, progress.step + 1, out)?;
            flow_records.push(flow);
            write_atomic(&out.join("gradflow.svg"), crate::rnn::train::gradflow::gradflow_svg(&title, &flow_records).as_bytes())?;
        }
        trainer.step(&batch, lr)?;
        progress.step += 1;
        progress.batch_position = batcher.position();
        window_steps += 1;

        let out_of_time = settings.max_minutes.is_some_and(|m| run_start.elapsed().as_secs_f64() >= m * 60.0);
        let mut at_end = progress.step == total || out_of_time;
        let stop = STOP_REQUESTED.load(Ordering::SeqCst);
        let eval_now = at_end || (settings.eval_every > 0 && progress.step.is_multiple_of(settings.eval_every));
        let log_now = eval_now || stop || progress.step.is_multiple_of(settings.log_every.max(1));
        // The checkpoint just written as best.safetensors, reused if this step also saves.
        let mut best_now = None;
        if log_now {
            window_stats.extend(trainer.drain_stats()?);
            let stats = std::mem::take(&mut window_stats);
            let train_loss = check_finite(&stats, progress.step)?;
            let valid = if eval_now && corpus.valid.len() >= 2 {
                Some(evaluate_stream(trainer, &corpus.valid, settings.seq_len, settings.eval_tokens)?.0)
            } else {
                None
            };
            let mut note = None;
            if let Some(v) = valid {
                let seen = progress.validation.observe(v, &schedule);
                if seen.new_best {
                    let ckpt = snapshot(trainer, &corpus.vocab, settings, progress)?;
                    ckpt.save(&best_path)?;
                    best_now = Some(ckpt);
                    note = Some(format!("new best, saved {}", best_path.display()));
                }
                if seen.decayed {
                    let cut = format!(
                        "less than {}% better for {} evaluation{}: lr → {:.3e}",
                        settings.min_improvement * 100.0,
                        settings.patience,
                        if settings.patience == 1 { "" } else { "s" },
                        settings.lr * progress.validation.lr_scale
                    );
                    note = Some(note.map_or(cut.clone(), |n| format!("{n}; {cut}")));
                }
                if progress.validation.below_floor(&schedule, settings.lr) {
                    note = Some(format!("{}lr below min-lr: stopping", note.map(|n| format!("{n}; ")).unwrap_or_default()));
                    at_end = true;
                }
            }
            let secs = window_start.elapsed().as_secs_f64();
            let line = LogLine {
                record: LogRecord {
                    step: progress.step,
                    epoch: progress.batch_position as f64 / batcher.batches_per_epoch() as f64,
                    train_loss,
                    valid_loss: valid,
                    grad_norm: mean(stats.iter().map(|s| s.grad_norm)),
                    clipped: mean(stats.iter().map(|s| if s.clipped { 1.0 } else { 0.0 })),
                    tokens_per_s: tokens_per_step * window_steps as f64 / secs,
                    lr,
                    elapsed_s: elapsed_before + run_start.elapsed().as_secs_f64(),
                    note,
                },
                steps: total,
                ms_per_step: secs * 1e3 / window_steps as f64,
            };
            log(&line);
            run_log.record(&line, at_end || stop)?;
            last_train = Some(train_loss);
            if valid.is_some() {
                last_valid = valid;
            }
            window_start = Instant::now();
            window_steps = 0;
        }
        let save_now = at_end || stop || (settings.save_every > 0 && progress.step.is_multiple_of(settings.save_every));
        if save_now {
            if !log_now {
                // Never save parameters that a NaN step has already spoiled.
                window_stats.extend(trainer.drain_stats()?);
                check_finite(&window_stats, progress.step)?;
            }
            match best_now {
                Some(ckpt) => ckpt.save(&ckpt_path)?,
                None => save_checkpoint(trainer, &corpus.vocab, settings, progress, &ckpt_path)?,
            }
        }
        if stop {
            interrupted = true;
            break;
        }
        if out_of_time || at_end {
            break;
        }
    }
    Ok(Outcome { progress, last_train_loss: last_train, last_valid_loss: last_valid, checkpoint: ckpt_path, interrupted })
}

/// The records of `out`/gradflow.jsonl (none when it does not exist yet).
fn read_gradient_flow(out: &Path) -> Vec<crate::rnn::backend::GradFlow> {
    let text = std::fs::read_to_string(out.join("gradflow.jsonl")).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Measures the gradient flow of the chunk step `step` is about to train on (on the
/// trainer's device, from its parameters and carried state) and appends it to
/// gradflow.jsonl.
fn record_gradient_flow(trainer: &mut dyn Trainer, batch: &crate::rnn::data::batcher::Batch, step: u64, out: &Path) -> Result<crate::rnn::backend::GradFlow> {
    let flow = trainer.gradient_flow(batch, step)?;
    crate::host::atomic_file::append_line(&out.join("gradflow.jsonl"), &serde_json::to_string(&flow).expect("a gradient flow serializes"))?;
    Ok(flow)
}

fn mean(xs: impl Iterator<Item = f32>) -> f32 {
    let (sum, count) = xs.fold((0.0f64, 0usize), |(s, c), x| (s + x as f64, c + 1));
    if count == 0 {
        0.0
    } else {
        (sum / count as f64) as f32
    }
}

/// Mean loss of `stats`, or the divergence error (with advice) if any is NaN/Inf.
fn check_finite(stats: &[StepStats], step: u64) -> Result<f32> {
    let first_step = step + 1 - stats.len() as u64;
    if let Some((i, bad)) = stats.iter().enumerate().find(|(_, s)| !s.loss.is_finite() || !s.grad_norm.is_finite()) {
        let value = if bad.loss.is_finite() { bad.grad_norm } else { bad.loss };
        return Err(ElmanError::Diverged {
            step: first_step + i as u64,
            loss: value,
        });
    }
    Ok(mean(stats.iter().map(|s| s.loss)))
}

/// Writes the trainer's full state (parameters, optimizer, hidden, progress) atomically.
pub fn save_checkpoint(trainer: &mut dyn Trainer, vocab: &crate::rnn::data::Vocab, settings: &TrainSettings, progress: Progress, path: &Path) -> Result<()> {
    snapshot(trainer, vocab, settings, progress)?.save(path)
}

/// The trainer's full state as a checkpoint (one readback from the device).
fn snapshot(trainer: &mut dyn Trainer, vocab: &crate::rnn::data::Vocab, settings: &TrainSettings, progress: Progress) -> Result<Checkpoint> {
    let mut extra = BTreeMap::new();
    extra.insert("progress".into(), serde_json::to_string(&progress).expect("progress serializes"));
    extra.insert("settings".into(), serde_json::to_string(settings).expect("settings serialize"));
    Ok(Checkpoint {
        config: settings.model_config(vocab.len()),
        vocab: Some(vocab.clone()),
        params: trainer.params()?,
        optimizer: Some(trainer.optimizer_state()?),
        hidden: Some(trainer.hidden()?),
        extra,
    })
}

/// The run settings and progress stored in a checkpoint by [`save_checkpoint`].
pub fn stored_run(ckpt: &Checkpoint, path: &Path) -> Result<(TrainSettings, Progress)> {
    let bad = |what: &str| ElmanError::Checkpoint { path: path.to_path_buf(), detail: format!("no usable {what} in its metadata (not a run checkpoint)") };
    let settings = TrainSettings::from_json(ckpt.extra.get("settings").ok_or_else(|| bad("settings"))?)
        .map_err(|e| ElmanError::Checkpoint { path: path.to_path_buf(), detail: format!("unreadable run settings in its metadata ({e})") })?;
    let progress: Progress = serde_json::from_str(ckpt.extra.get("progress").ok_or_else(|| bad("progress"))?).map_err(|_| bad("progress"))?;
    Ok((settings, progress))
}
