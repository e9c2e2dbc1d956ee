//! The T-step recurrent loops of one layer on all threads, kept hot for the whole loop:
//! each thread owns a block of the batch rows (no thread ever waits for another: rows are
//! independent through time) or, with too few rows, a block of the hidden columns, the
//! threads then meeting at a spinning barrier after every step (the next step needs the
//! whole state). A thread hand-off per step through the rayon pool costs more than the step's
//! product itself at small widths (h = 128: sleeping and waking threads took ~45 % of a
//! training step); a spin barrier costs well under a microsecond.
//!
//! Forward, for the thread owning columns J:  H_t[:, J] = φ(P_t[:, J] + H_{t−1} · W_hh[:, J])
//! Backward:  dZ_t[:, J] = (dH_t[:, J] + dZ_{t+1} · (W_hhᵀ)[:, J]) ⊙ φ'(H_t[:, J])
//!
//! Every element is one sequential dot product over the full width, computed the same way
//! whatever the split, so a run does not depend on scheduling; the per-step math is
//! [`super::ops::rnn_step_forward`] / [`super::ops::rnn_step_backward`] exactly.

use super::ops::{activate, activation_derivative};
use super::Scalar;
use crate::rnn::model::Activation;
use faer::{Accum, MatMut, MatRef, Par};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Steps whose product has fewer multiply-adds than this run on one thread.
const PARALLEL_MIN_MACS: usize = 1 << 17;
/// Column blocks are whole multiples of this (one AVX-512 register of f32).
const COLUMN_GRAIN: usize = 16;

/// `parts` nearly equal column ranges covering 0..h, in whole grains.
fn column_blocks(h: usize, parts: usize) -> Vec<Range<usize>> {
    let grains = h.div_ceil(COLUMN_GRAIN);
    (0..parts)
        .map(|p| {
            let start = (grains * p / parts * COLUMN_GRAIN).min(h);
            let end = (grains * (p + 1) / parts * COLUMN_GRAIN).min(h);
            start..end
        })
        .collect()
}

/// A barrier for a fixed number of threads that spins (then yields) instead of sleeping.
struct SpinBarrier {
    parties: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn new(parties: usize) -> Self {
        SpinBarrier { parties, arrived: AtomicUsize::new(0), generation: AtomicUsize::new(0) }
    }

    /// Returns once every party has arrived; everything written before a party's arrival
    /// is visible to every party after it returns (release on arrival, acquire on leaving).
    fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.parties {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if spins < 4096 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// A buffer the loop's threads share; see the safety notes where it is read and written.
#[derive(Clone, Copy)]
pub(super) struct Shared<F> {
    ptr: *mut F,
    len: usize,
}

// SAFETY: the threads of one loop write disjoint column blocks of one time slot per step
// and read only slots no thread writes in that step; the barrier orders the steps.
unsafe impl<F: Send> Send for Shared<F> {}
unsafe impl<F: Send> Sync for Shared<F> {}

impl<F> Shared<F> {
    /// Shares `buffer` among one loop's threads.
    pub(super) fn new(buffer: &mut [F]) -> Self {
        Shared { ptr: buffer.as_mut_ptr(), len: buffer.len() }
    }

    /// Rows [row, row + rows) of a row-major [·, width] buffer, read-only.
    ///
    /// # Safety
    /// No thread may write those rows until the caller is done with the view.
    pub(super) unsafe fn rows(&self, row: usize, rows: usize, width: usize) -> MatRef<'_, F> {
        assert!((row + rows) * width <= self.len, "rows inside the buffer");
        unsafe { MatRef::from_raw_parts(self.ptr.add(row * width), rows, width, width as isize, 1) }
    }

    /// Columns `cols` of row `row` of a row-major [·, width] buffer, writable.
    ///
    /// # Safety
    /// No other thread may read or write those elements until the caller is done.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn row_mut(&self, row: usize, width: usize, cols: &Range<usize>) -> &mut [F] {
        assert!(row * width + cols.end <= self.len && cols.end <= width, "row inside the buffer");
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(row * width + cols.start), cols.len()) }
    }

    /// Columns `cols` of rows [row, row + rows) of a row-major [·, width] buffer, writable.
    ///
    /// # Safety
    /// No other thread may read or write those elements until the caller is done.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn block_mut(&self, row: usize, rows: usize, width: usize, cols: &Range<usize>) -> MatMut<'_, F> {
        assert!((row + rows) * width <= self.len && cols.end <= width, "block inside the buffer");
        unsafe { MatMut::from_raw_parts_mut(self.ptr.add(row * width + cols.start), rows, cols.len(), width as isize, 1) }
    }
}

/// How one loop's work is shared among the pool's threads.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Split {
    /// One thread does everything.
    Serial,
    /// Each thread owns a block of batch rows for the whole loop: rows never depend on
    /// each other, so the threads never meet (each reads all of W_hh every step).
    Rows(Vec<Range<usize>>),
    /// Each thread owns a block of hidden columns and the threads meet at a barrier after
    /// every step (each reads only its columns of W_hh).
    Columns(Vec<Range<usize>>),
}

/// The split for [n, h] · [h, h] steps: serial when small, by rows when there are rows
/// enough (measured as fast as the column split at h = 512 and 1024, and faster below), by
/// columns when there are not (evaluation with n = 1).
pub(super) fn split_for(n: usize, h: usize) -> Split {
    let threads = rayon::current_num_threads();
    if threads <= 1 || n * h * h < PARALLEL_MIN_MACS {
        Split::Serial
    } else if n >= 2 * threads {
        Split::Rows((0..threads).map(|p| n * p / threads..n * (p + 1) / threads).collect())
    } else if threads <= h.div_ceil(COLUMN_GRAIN) {
        Split::Columns(column_blocks(h, threads))
    } else {
        Split::Serial
    }
}

/// Runs `step(rows, columns, t, sums)` for every t in `times`, shared as `split` says:
/// each thread of the rayon pool takes the block of its index (the caller waits; the pool
/// has nothing else to do meanwhile, so no thread waits for work that cannot start).
/// `sums` is a per-thread array of `slots` f64 the step may add to; the threads' arrays
/// are added in thread order, so the totals do not depend on scheduling.
pub(super) fn run_steps(
    n: usize,
    h: usize,
    split: Split,
    slots: usize,
    times: impl Iterator<Item = usize> + Clone + Send + Sync,
    step: impl Fn(&Range<usize>, &Range<usize>, usize, &mut [f64]) + Sync,
) -> Vec<f64> {
    let per_thread: Vec<Vec<f64>> = match split {
        Split::Serial => {
            let mut sums = vec![0.0; slots];
            for t in times {
                step(&(0..n), &(0..h), t, &mut sums);
            }
            vec![sums]
        }
        Split::Rows(blocks) => rayon::broadcast(|ctx| {
            let mut sums = vec![0.0; slots];
            if let Some(rows) = blocks.get(ctx.index()) {
                for t in times.clone() {
                    step(rows, &(0..h), t, &mut sums);
                }
            }
            sums
        }),
        Split::Columns(blocks) => {
            let barrier = SpinBarrier::new(blocks.len());
            rayon::broadcast(|ctx| {
                let mut sums = vec![0.0; slots];
                if let Some(cols) = blocks.get(ctx.index()) {
                    for t in times.clone() {
                        step(&(0..n), cols, t, &mut sums);
                        barrier.wait();
                    }
                }
                sums
            })
        }
    };
    let mut total = vec![0.0; slots];
    for sums in per_thread {
        for (t, s) in total.iter_mut().zip(sums) {
            *t += s;
        }
    }
    total
}

/// H_t = φ(P_t + H_{t−1} W_hh) for t = 0..steps over `hs` = [H_{−1}; P_0 … P_{T−1}] (each
/// slot [n, h]), which ends as [H_{−1}; H_0 … H_{T−1}].
pub fn forward_steps<F: Scalar>(act: Activation, n: usize, h: usize, steps: usize, w_hh: &[F], hs: &mut [F]) {
    assert_eq!(hs.len(), (steps + 1) * n * h, "hs holds T + 1 slots of [n, h]");
    assert_eq!(w_hh.len(), h * h);
    let shared = Shared { ptr: hs.as_mut_ptr(), len: hs.len() };
    let w = MatRef::from_row_major_slice(w_hh, h, h);
    run_steps(n, h, split_for(n, h), 0, 0..steps, |rows, cols, t, _| {
        // SAFETY: in step t a thread reads rows `rows` of slot t (all of them under a column
        // split) and writes only its own block of slot t + 1; what it reads was finished
        // before the last barrier, or by the same thread (row split).
        let (prev, out) = unsafe { (shared.rows(t * n + rows.start, rows.len(), h), shared.block_mut((t + 1) * n + rows.start, rows.len(), h, cols)) };
        faer::linalg::matmul::matmul(out, Accum::Add, prev, w.subcols(cols.start, cols.len()), F::one(), Par::Seq);
        for r in rows.clone() {
            // SAFETY: the same elements as `out` above, whose use has ended.
            activate_all(act, unsafe { shared.row_mut((t + 1) * n + r, h, cols) });
        }
    });
}

/// dZ_t = (dH_t + dZ_{t+1} W_hhᵀ) ⊙ φ'(H_t) for t = steps−1..0 (no dZ_T): `d_h` and `d_z`
/// are [T·n, h], `hs` the forward's [H_{−1}; H_0 … H_{T−1}]. Returns ‖∂L/∂H_t‖² =
/// ‖dH_t + dZ_{t+1} W_hhᵀ‖² per t when `record` (the gradient flow), else nothing.
#[allow(clippy::too_many_arguments)]
pub fn backward_steps<F: Scalar>(act: Activation, n: usize, h: usize, steps: usize, w_hh: &[F], hs: &[F], d_h: &[F], d_z: &mut [F], record: bool) -> Vec<f64> {
    assert_eq!(d_z.len(), steps * n * h);
    assert_eq!(d_h.len(), d_z.len());
    assert_eq!(hs.len(), (steps + 1) * n * h);
    let shared = Shared { ptr: d_z.as_mut_ptr(), len: d_z.len() };
    let w_t = MatRef::from_row_major_slice(w_hh, h, h).transpose();
    run_steps(n, h, split_for(n, h), if record { steps } else { 0 }, (0..steps).rev(), |rows, cols, t, sums| {
        // SAFETY: in step t a thread reads rows `rows` of dZ's slot t + 1 and writes only its
        // own block of slot t; what it reads was finished before the last barrier, or by the
        // same thread (row split).
        for r in rows.clone() {
            let row = t * n + r;
            unsafe { shared.row_mut(row, h, cols) }.copy_from_slice(&d_h[row * h + cols.start..row * h + cols.end]);
        }
        if t + 1 < steps {
            let (next, out) = unsafe { (shared.rows((t + 1) * n + rows.start, rows.len(), h), shared.block_mut(t * n + rows.start, rows.len(), h, cols)) };
            faer::linalg::matmul::matmul(out, Accum::Add, next, w_t.subcols(cols.start, cols.len()), F::one(), Par::Seq);
        }
        for r in rows.clone() {
            let row = t * n + r;
            let states = &hs[(row + n) * h + cols.start..(row + n) * h + cols.end];
            let own = unsafe { shared.row_mut(row, h, cols) };
            if let Some(sum) = sums.get_mut(t) {
                *sum += own.iter().map(|g| g.to_f64() * g.to_f64()).sum::<f64>();
            }
            scale_by_derivative(act, own, states);
        }
    })
}

/// v ← φ(v) for every element (one branch for the whole run, so the loop vectorizes).
pub(super) fn activate_all<F: Scalar>(act: Activation, values: &mut [F]) {
    match act {
        Activation::Tanh => F::tanh_in_place(values),
        Activation::Relu => values.iter_mut().for_each(|v| *v = activate(Activation::Relu, *v)),
    }
}

/// d ← d ⊙ φ'(y) for every element, φ' written through the outputs y.
pub(super) fn scale_by_derivative<F: Scalar>(act: Activation, d: &mut [F], y: &[F]) {
    match act {
        Activation::Tanh => d.iter_mut().zip(y).for_each(|(d, &y)| *d *= activation_derivative(Activation::Tanh, y)),
        Activation::Relu => d.iter_mut().zip(y).for_each(|(d, &y)| *d *= activation_derivative(Activation::Relu, y)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::cpu::ops;

    fn values(len: usize, seed: f64) -> Vec<f64> {
        (0..len).map(|i| ((i as f64 + seed) * 0.61).sin() * 0.3).collect()
    }

    #[test]
    fn threaded_loops_equal_the_per_step_kernels() {
        // Serial, split by rows, split by columns (too few rows).
        for (n, h, steps) in [(3, 5, 4), (32, 128, 6), (8, 200, 3), (1, 512, 3), (3, 300, 2)] {
            for act in [Activation::Tanh, Activation::Relu] {
                let w = values(h * h, 1.0);
                let mut hs = values((steps + 1) * n * h, 2.0);
                let mut want = hs.clone();
                for t in 0..steps {
                    let (before, after) = want.split_at_mut((t + 1) * n * h);
                    let p = after[..n * h].to_vec();
                    ops::rnn_step_forward(act, h, &p, &before[t * n * h..], &w, &mut after[..n * h]);
                }
                forward_steps(act, n, h, steps, &w, &mut hs);
                assert_eq!(hs, want, "forward n={n} h={h}");

                let d_h = values(steps * n * h, 3.0);
                let mut d_z = vec![0.0; steps * n * h];
                let mut want_dz = vec![0.0; steps * n * h];
                for t in (0..steps).rev() {
                    let (now, later) = want_dz.split_at_mut((t + 1) * n * h);
                    let next = if t + 1 < steps { Some(&later[..n * h]) } else { None };
                    ops::rnn_step_backward(act, h, &d_h[t * n * h..(t + 1) * n * h], next, &w, &hs[(t + 1) * n * h..(t + 2) * n * h], &mut now[t * n * h..]);
                }
                let norms = backward_steps(act, n, h, steps, &w, &hs, &d_h, &mut d_z, true);
                assert_eq!(norms.len(), steps);
                assert!(backward_steps(act, n, h, steps, &w, &hs, &d_h, &mut vec![0.0; steps * n * h], false).is_empty());
                for (g, w) in d_z.iter().zip(&want_dz) {
                    assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "backward n={n} h={h}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn column_blocks_cover_the_width_in_grains() {
        for (h, parts) in [(512, 2), (128, 2), (100, 3), (16, 2), (1000, 7)] {
            let blocks = column_blocks(h, parts);
            assert_eq!(blocks.first().unwrap().start, 0);
            assert_eq!(blocks.last().unwrap().end, h);
            assert!(blocks.windows(2).all(|w| w[0].end == w[1].start));
            assert!(blocks.iter().all(|b| b.start % COLUMN_GRAIN == 0));
        }
    }
}
