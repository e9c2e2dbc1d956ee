//! The run directory's record: `log.jsonl` (one JSON object per log line, appended, so a
//! resumed run continues it) and `loss.svg` (redrawn at each evaluation and at the end).

use crate::error::Result;
use crate::rnn::model::checkpoint::write_atomic;
use crate::rnn::train::plot::loss_svg;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One printed log line: the record that `log.jsonl` keeps, plus what only the terminal shows.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub record: LogRecord,
    /// The run's total steps.
    pub steps: u64,
    pub ms_per_step: f64,
}

/// One line of `log.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub step: u64,
    /// Passes over the training text so far (fractional).
    #[serde(default)]
    pub epoch: f64,
    /// Mean training loss over the steps since the previous record, nats/token.
    pub train_loss: f32,
    pub valid_loss: Option<f64>,
    /// Mean ‖g‖ before clipping since the previous record.
    pub grad_norm: f32,
    /// Fraction of the steps since the previous record whose gradient was clipped.
    pub clipped: f32,
    pub tokens_per_s: f64,
    /// Learning rate of the record's last step.
    pub lr: f32,
    pub elapsed_s: f64,
    /// What happened at this line: a new best checkpoint, a learning-rate cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Appends records and redraws the plot.
pub struct RunLog {
    jsonl: PathBuf,
    svg: PathBuf,
    title: String,
    records: Vec<LogRecord>,
}

impl RunLog {
    /// Opens `out/log.jsonl`, keeping the records of earlier (resumed) segments up to
    /// `keep_until` steps and dropping any later ones.
    pub fn open(out: &Path, title: &str, keep_until: u64) -> Result<RunLog> {
        let jsonl = out.join("log.jsonl");
        let mut records = Vec::new();
        if let Ok(text) = std::fs::read_to_string(&jsonl) {
            records = text.lines().filter_map(|l| serde_json::from_str::<LogRecord>(l).ok()).filter(|r| r.step <= keep_until).collect();
        }
        let log = RunLog { jsonl, svg: out.join("loss.svg"), title: title.to_string(), records };
        log.rewrite()?;
        Ok(log)
    }

    fn rewrite(&self) -> Result<()> {
        let mut text = String::new();
        for r in &self.records {
            text.push_str(&serde_json::to_string(r).expect("records serialize"));
            text.push('\n');
        }
        write_atomic(&self.jsonl, text.as_bytes())
    }

    /// Elapsed seconds at the end of the kept records (a resumed run continues from there).
    pub fn elapsed_s(&self) -> f64 {
        self.records.last().map(|r| r.elapsed_s).unwrap_or(0.0)
    }

    pub fn records(&self) -> &[LogRecord] {
        &self.records
    }

    /// Appends one line; redraws the plot when it carries a validation loss or `final_line`.
    pub fn record(&mut self, line: &LogLine, final_line: bool) -> Result<()> {
        let r = line.record.clone();
        crate::host::atomic_file::append_line(&self.jsonl, &serde_json::to_string(&r).expect("records serialize"))?;
        let redraw = r.valid_loss.is_some() || final_line;
        self.records.push(r);
        if redraw {
            self.draw()?;
        }
        Ok(())
    }

    /// Writes `loss.svg` from every record so far.
    pub fn draw(&self) -> Result<()> {
        let train: Vec<(u64, f64)> = self.records.iter().map(|r| (r.step, r.train_loss as f64)).collect();
        let valid: Vec<(u64, f64)> = self.records.iter().filter_map(|r| r.valid_loss.map(|v| (r.step, v))).collect();
        write_atomic(&self.svg, loss_svg(&self.title, &train, &valid).as_bytes())
    }
}
