//! Where a training step's GPU time goes (`elman bench --profile`): each dispatch timed
//! with timestamp queries, then summed per kernel family with the GFLOP/s and GB/s its
//! shapes imply ([`Cost`]: FLOPs and the fewest bytes, counted by the launchers).
//!
//! Timers, best first: timestamps between the dispatches of one compute pass
//! (TIMESTAMP_QUERY_INSIDE_PASSES); one compute pass per dispatch with timestamps at its
//! beginning and end (TIMESTAMP_QUERY; pass boundaries add a little); neither, in which
//! case the whole submission is timed on the host and no family gets a time of its own.
//! A time between two timestamps includes the barrier wgpu puts before the dispatch, i.e.
//! the wait for its predecessor: what a dependent chain costs.

use super::context::GpuContext;
use super::kernels::Kernel;
use super::program::DispatchInfo;
use crate::error::{ElmanError, Result};

/// How dispatches are timed on this device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Timestamps between the dispatches of one pass.
    InsidePasses,
    /// Each dispatch in its own pass, timestamps at the pass boundaries.
    PassPerDispatch,
    /// No timestamp queries: only the whole submission, on the host clock.
    WholeSubmission,
}

impl Timer {
    /// The best timer the device was opened with.
    pub fn of(ctx: &GpuContext) -> Timer {
        let f = ctx.device.features();
        if f.contains(wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES) {
            Timer::InsidePasses
        } else if f.contains(wgpu::Features::TIMESTAMP_QUERY) {
            Timer::PassPerDispatch
        } else {
            Timer::WholeSubmission
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Timer::InsidePasses => "timestamp queries between dispatches (TIMESTAMP_QUERY_INSIDE_PASSES)",
            Timer::PassPerDispatch => "timestamp queries around one pass per dispatch (TIMESTAMP_QUERY; no timestamps inside passes)",
            Timer::WholeSubmission => "no timestamp queries on this adapter: whole submissions timed on the host, no per-kernel times",
        }
    }

    /// Queries needed to time `dispatches` dispatches (0 for the host timer).
    pub fn queries(self, dispatches: usize) -> usize {
        match self {
            Timer::InsidePasses => dispatches + 1,
            Timer::PassPerDispatch => 2 * dispatches,
            Timer::WholeSubmission => 0,
        }
    }
}

/// A query set with a resolve buffer, sized for one program.
pub struct Timestamps {
    pub set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    count: u32,
}

impl Timestamps {
    /// Room for `count` timestamps (at most wgpu's QUERY_SET_MAX_QUERIES).
    pub fn new(ctx: &GpuContext, count: usize) -> Result<Timestamps> {
        if count == 0 || count > wgpu::QUERY_SET_MAX_QUERIES as usize {
            return Err(ElmanError::Gpu(format!(
                "the profile needs {count} timestamps but a query set holds 1..={}: profile shorter chunks",
                wgpu::QUERY_SET_MAX_QUERIES
            )));
        }
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor { label: Some("profile"), ty: wgpu::QueryType::Timestamp, count: count as u32 });
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile resolve"),
            size: (count * 8) as u64,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        Ok(Timestamps { set, resolve, count: count as u32 })
    }

    /// Appends the resolve to `encoder`, submits it, waits and returns the timestamps in
    /// nanoseconds.
    pub fn submit_and_read(&self, ctx: &GpuContext, mut encoder: wgpu::CommandEncoder) -> Result<Vec<f64>> {
        encoder.resolve_query_set(&self.set, 0..self.count, &self.resolve, 0);
        let raw = ctx.submit_and_read_bytes(encoder, &self.resolve, 0, self.count as u64 * 8)?;
        let period = ctx.queue.get_timestamp_period() as f64;
        Ok(bytemuck::pod_collect_to_vec::<u8, u64>(&raw).iter().map(|&t| t as f64 * period).collect())
    }
}

/// Per-dispatch durations (ns) from the raw timestamps of one timed program.
pub fn durations(timer: Timer, stamps: &[f64], dispatches: usize) -> Vec<f64> {
    // Timestamps may wrap or be reordered by a driver; a negative span counts as 0.
    let span = |a: f64, b: f64| (b - a).max(0.0);
    match timer {
        Timer::InsidePasses => (0..dispatches).map(|i| span(stamps[i], stamps[i + 1])).collect(),
        Timer::PassPerDispatch => (0..dispatches).map(|i| span(stamps[2 * i], stamps[2 * i + 1])).collect(),
        Timer::WholeSubmission => vec![0.0; dispatches],
    }
}

/// One training step, profiled: the program's dispatches with the median time of each
/// over the profiled steps, and the median wall time of a whole step (host clock,
/// submission to completion, timestamps included).
#[derive(Clone, Debug)]
pub struct StepProfile {
    pub timer: Timer,
    pub dispatches: Vec<DispatchInfo>,
    /// Median ns per dispatch (zeros with [`Timer::WholeSubmission`]).
    pub ns: Vec<f64>,
    /// Median wall time of one profiled step, µs.
    pub step_wall_us: f64,
}

/// One kernel family's share of a step.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FamilyRow {
    pub family: &'static str,
    pub dispatches: usize,
    /// GPU time per step, µs (0 without timestamps).
    pub us: f64,
    /// Of the summed dispatch times.
    pub share: f64,
    pub gflop_per_s: f64,
    pub gb_per_s: f64,
    /// FLOPs and bytes per step counted from the shapes.
    pub flops: f64,
    pub bytes: f64,
}

impl StepProfile {
    /// Summed dispatch times of one step, µs.
    pub fn dispatch_us(&self) -> f64 {
        self.ns.iter().sum::<f64>() / 1e3
    }

    /// Per-family rows, in the order each family first appears in the step.
    pub fn families(&self) -> Vec<FamilyRow> {
        let mut rows: Vec<FamilyRow> = Vec::new();
        for (d, &ns) in self.dispatches.iter().zip(&self.ns) {
            let family = d.kernel.entry;
            let at = match rows.iter().position(|r| r.family == family) {
                Some(i) => i,
                None => {
                    rows.push(FamilyRow { family, dispatches: 0, us: 0.0, share: 0.0, gflop_per_s: 0.0, gb_per_s: 0.0, flops: 0.0, bytes: 0.0 });
                    rows.len() - 1
                }
            };
            let r = &mut rows[at];
            r.dispatches += 1;
            r.us += ns / 1e3;
            r.flops += d.cost.flops;
            r.bytes += d.cost.bytes;
        }
        let total = self.dispatch_us();
        for r in &mut rows {
            r.share = if total > 0.0 { r.us / total } else { 0.0 };
            if r.us > 0.0 {
                r.gflop_per_s = r.flops / (r.us * 1e3);
                r.gb_per_s = r.bytes / (r.us * 1e3);
            }
        }
        rows
    }

    /// The profile as a table, one line per family and a total.
    pub fn table(&self) -> String {
        let mut out = format!(
            "  {:<24} {:>10} {:>10} {:>7} {:>10} {:>9}\n",
            "kernel family", "dispatches", "µs/step", "share", "GFLOP/s", "GB/s"
        );
        for r in self.families() {
            out += &format!(
                "  {:<24} {:>10} {:>10.1} {:>6.1}% {:>10.1} {:>9.1}\n",
                r.family,
                r.dispatches,
                r.us,
                100.0 * r.share,
                r.gflop_per_s,
                r.gb_per_s
            );
        }
        out += &format!(
            "  {:<24} {:>10} {:>10.1}   (wall {:.1} µs/step with the timestamps)\n",
            "total",
            self.dispatches.len(),
            self.dispatch_us(),
            self.step_wall_us
        );
        out
    }
}

/// The element-wise median of equally long rows.
pub fn median_rows(rows: &[Vec<f64>]) -> Vec<f64> {
    let Some(first) = rows.first() else { return Vec::new() };
    (0..first.len())
        .map(|i| {
            let mut col: Vec<f64> = rows.iter().map(|r| r[i]).collect();
            col.sort_by(f64::total_cmp);
            col[col.len() / 2]
        })
        .collect()
}

/// Kernels in the order a step uses them, for callers that list every family.
pub fn families_of(dispatches: &[DispatchInfo]) -> Vec<Kernel> {
    let mut out: Vec<Kernel> = Vec::new();
    for d in dispatches {
        if !out.contains(&d.kernel) {
            out.push(d.kernel);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::gpu::kernels::{matmul, optimizer};
    use crate::rnn::gpu::program::Cost;

    fn info(kernel: Kernel, flops: f64, bytes: f64) -> DispatchInfo {
        DispatchInfo { kernel, workgroups: [1, 1, 1], cost: Cost { flops, bytes } }
    }

    #[test]
    fn families_sum_times_and_costs_in_first_use_order() {
        let p = StepProfile {
            timer: Timer::InsidePasses,
            dispatches: vec![info(&matmul::SMALL, 2e6, 4e3), info(&optimizer::ADAM_UPDATE, 0.0, 8e3), info(&matmul::SMALL, 2e6, 4e3)],
            ns: vec![1000.0, 2000.0, 1000.0],
            step_wall_us: 5.0,
        };
        let f = p.families();
        assert_eq!(f.iter().map(|r| r.family).collect::<Vec<_>>(), ["matmul", "adam_update"]);
        assert_eq!(f[0].dispatches, 2);
        assert!((f[0].us - 2.0).abs() < 1e-12 && (f[0].share - 0.5).abs() < 1e-12);
        // 4e6 FLOPs in 2 µs = 2 TFLOP/s = 2000 GFLOP/s; 8e3 bytes in 2 µs = 4 GB/s.
        assert!((f[0].gflop_per_s - 2000.0).abs() < 1e-9 && (f[0].gb_per_s - 4.0).abs() < 1e-9);
        assert!(p.table().contains("adam_update"));
    }

    #[test]
    fn durations_follow_the_timer_layout() {
        assert_eq!(durations(Timer::InsidePasses, &[0.0, 5.0, 9.0], 2), [5.0, 4.0]);
        assert_eq!(durations(Timer::PassPerDispatch, &[0.0, 5.0, 9.0, 12.0], 2), [5.0, 3.0]);
        assert_eq!(durations(Timer::InsidePasses, &[3.0, 1.0], 1), [0.0]);
        assert_eq!(median_rows(&[vec![1.0, 9.0], vec![3.0, 2.0], vec![2.0, 4.0]]), [2.0, 4.0]);
    }
}
