//! Training output: one dense line per log interval; on a terminal, a progress bar under it.

use elman::rnn::train::session::LogLine;
use std::io::{IsTerminal, Write};

/// Prints log lines (stdout) and, when stderr is a terminal, a redrawn progress bar.
pub struct Reporter {
    steps: u64,
    uniform_loss: f64,
    bar: bool,
}

impl Reporter {
    pub fn new(steps: u64, uniform_loss: f64) -> Self {
        Reporter { steps, uniform_loss, bar: std::io::stderr().is_terminal() }
    }

    pub fn line(&mut self, line: &LogLine) {
        let l = &line.record;
        if self.bar {
            eprint!("\r\x1b[2K");
        }
        let valid = l.valid_loss.map(|v| format!(" | valid {v:.4}")).unwrap_or_default();
        let note = l.note.as_ref().map(|n| format!(" | {n}")).unwrap_or_default();
        println!(
            "step {:>6}/{} | ep {:>6.2} | train {:.4}{} | grad norm {:.3} | clipped {:>3.0}% | lr {:.2e} | {:>9.0} tok/s | {:>8.2} ms/step{note}",
            l.step,
            line.steps,
            l.epoch,
            l.train_loss,
            valid,
            l.grad_norm,
            l.clipped * 100.0,
            l.lr,
            l.tokens_per_s,
            line.ms_per_step
        );
        if self.bar {
            let width = 30usize;
            let done = ((l.step as f64 / self.steps as f64) * width as f64).round() as usize;
            eprint!(
                "[{}{}] {}/{} loss {:.3} (uniform {:.3}) {:.0}s",
                "#".repeat(done.min(width)),
                ".".repeat(width - done.min(width)),
                l.step,
                self.steps,
                l.train_loss,
                self.uniform_loss,
                l.elapsed_s
            );
            std::io::stderr().flush().ok();
        }
    }

    pub fn finish(&mut self) {
        if self.bar {
            eprintln!();
        }
    }
}
