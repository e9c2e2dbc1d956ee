//! Each WGSL kernel against its CPU twin in `cpu::ops`, on awkward sizes (not multiples of
//! the workgroup or tile size, 1-row and 1-column cases) and hard numerics (softmax rows
//! with spikes of ±80). Operands sit at non-zero offsets inside larger buffers, as in the
//! trainer. Runs on any adapter, lavapipe included (see tests/common for skipping).
//!
//! Tolerances: f32 on both sides; only the summation order differs (tiled fma on the GPU,
//! faer's blocked GEMM on the CPU), so products of K terms of size ~1 agree to ~K·ε:
//! atol 1e-5, rtol 1e-4 for K ≤ a few hundred. Element-wise kernels agree to a few ulps.

mod common;

use common::{assert_close32 as assert_close, gpu, tokens, uniform};
use elman::rnn::cpu::ops;
use elman::rnn::gpu::buffers::Allocator;
use elman::rnn::gpu::recurrence::single_layer_wave;
use elman::rnn::gpu::kernels::dropout::DropoutParams;
use elman::rnn::gpu::kernels::embedding::EmbeddingParams;
use elman::rnn::gpu::kernels::matmul::{MatmulParams, MatmulTile, MatmulTiling};
use elman::rnn::gpu::kernels::optimizer::OptimizerParams;
use elman::rnn::gpu::kernels::prelude::StepParams;
use elman::rnn::gpu::kernels::reduce::ReduceParams;
use elman::rnn::gpu::kernels::rnn_wave::{WaveBuffers, ROWS_PER_TILE};
use elman::rnn::gpu::kernels::softmax_xent::SoftmaxParams;
use elman::rnn::gpu::kernels::transpose::TransposeParams;
use elman::rnn::gpu::program::ProgramBuilder;
use elman::rnn::gpu::tokens::TokenLayout;
use elman::rnn::gpu::GpuContext;
use elman::rnn::model::Activation;
use elman::choice::Choice;

const ATOL: f32 = common::KERNEL.atol;
const RTOL: f32 = common::KERNEL.rtol;

/// Builds a one-off program with `build`, submits it and waits for nothing (reads wait).
fn run(ctx: &GpuContext, step: Option<&wgpu::Buffer>, build: impl FnOnce(&mut ProgramBuilder)) {
    let mut b = ProgramBuilder::new(ctx, "test", step);
    build(&mut b);
    b.finish().submit(ctx);
}

fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = x[r * cols + c];
        }
    }
    t
}

/// Every tiling a product over `k` can get on this device (None: the launcher's choice):
/// each tile, unsplit and split over K.
fn plans(ctx: &GpuContext, k: u32) -> Vec<Option<MatmulTiling>> {
    let mut out = vec![None];
    for tile in MatmulTile::ALL.into_iter().filter(|&t| ctx.kernels.has(t.kernel())) {
        for splits in [1, 3] {
            out.push(Some(MatmulTiling::with_splits(tile, k, splits)));
        }
    }
    out
}

#[test]
fn matmul_matches_cpu_in_every_mode_tiling_and_awkward_shape() {
    let Some(ctx) = gpu() else { return };
    let shapes = [(1, 1, 1), (1, 37, 1), (7, 1, 3), (1, 5, 70), (70, 5, 1), (67, 33, 129), (130, 70, 65), (3, 200, 2), (129, 64, 131)];
    let mut seed = 1;
    for &(m, k, n) in &shapes {
        for (trans_a, trans_b, accumulate, bias, ones) in [
            (false, false, false, true, false),
            (true, false, false, false, true),
            (false, true, true, false, false),
            (true, true, true, true, true),
        ] {
            seed += 1;
            let a = uniform(seed, m * k, -1.0, 1.0);
            let b = uniform(seed + 100, k * n, -1.0, 1.0);
            let c0 = uniform(seed + 200, m * n, -1.0, 1.0);
            let bias_v = uniform(seed + 300, n, -1.0, 1.0);
            let ones_old = uniform(seed + 400, n, -1.0, 1.0);
            // CPU: operands stored as the kernel expects ([k, m] when trans_a, [n, k] when trans_b).
            let a_st = if trans_a { transpose(&a, m, k) } else { a.clone() };
            let b_st = if trans_b { transpose(&b, k, n) } else { b.clone() };
            let mut want = c0.clone();
            ops::matmul(&mut want, &a_st, &b_st, m, k, n, trans_a, trans_b, accumulate);
            if bias {
                ops::add_bias_rows(&mut want, &bias_v);
            }
            // The ONES_ROW row: column sums of op(B) (plus the old values when accumulating).
            let mut want_ones: Vec<f32> = (0..n).map(|j| (0..k).map(|kk| b[kk * n + j]).sum::<f32>()).collect();
            if accumulate {
                want_ones.iter_mut().zip(&ones_old).for_each(|(w, o)| *w += o);
            }
            let flags = ((trans_a as u32) * MatmulParams::TRANS_A)
                | ((trans_b as u32) * MatmulParams::TRANS_B)
                | ((accumulate as u32) * MatmulParams::ACCUMULATE)
                | ((bias as u32) * MatmulParams::BIAS)
                | ((ones as u32) * MatmulParams::ONES_ROW);
            // A at offset 3, B and bias share one buffer at offsets 5 and 5 + k·n, C at 2,
            // the ones row after C and a gap of 4.
            let ones_off = 2 + m * n + 4;
            let p = MatmulParams {
                m: m as u32,
                n: n as u32,
                k: k as u32,
                flags,
                a_off: 3,
                b_off: 5,
                c_off: 2,
                bias_off: 5 + (k * n) as u32,
                ones_off: ones_off as u32,
                ..Default::default()
            };
            for plan in plans(&ctx, p.k) {
                let mut alloc = Allocator::new(&ctx.device);
                let ga = alloc.init("a", &[vec![9.0; 3], a_st.clone()].concat());
                let gb = alloc.init("b", &[vec![9.0; 5], b_st.clone(), bias_v.clone()].concat());
                let gc = alloc.init("c", &[vec![7.0; 2], c0.clone(), vec![7.0; 4], ones_old.clone(), vec![7.0; 3]].concat());
                run(&ctx, None, |pb| match plan {
                    Some(plan) => pb.matmul_tiled(&ga, &gb, &gc, Some(&gb), p, plan),
                    None => pb.matmul(&ga, &gb, &gc, Some(&gb), p),
                });
                let got = ctx.read_f32(&gc, 0, ones_off + n + 3).unwrap();
                let label = format!("matmul m={m} k={k} n={n} ta={trans_a} tb={trans_b} acc={accumulate} bias={bias} ones={ones} plan={plan:?}");
                assert_close(&label, &got[2..2 + m * n], &want, ATOL, RTOL);
                assert_eq!(&got[..2], &[7.0, 7.0], "{label}: wrote before C");
                assert_eq!(&got[2 + m * n..ones_off], &[7.0; 4], "{label}: wrote past C");
                if ones {
                    assert_close(&format!("{label} ones row"), &got[ones_off..ones_off + n], &want_ones, ATOL, RTOL);
                } else {
                    assert_eq!(&got[ones_off..ones_off + n], &ones_old[..], "{label}: wrote the ones row without ONES_ROW");
                }
                assert_eq!(&got[ones_off + n..], &[7.0; 3], "{label}: wrote past the ones row");
            }
        }
    }
}

#[test]
fn rnn_steps_match_cpu_for_tanh_and_relu() {
    let Some(ctx) = gpu() else { return };
    let steps = 3;
    let mut seed = 50;
    // h = 40, 64 and 20 take the vec4 path when W sits at a multiple of 4, the others the
    // scalar one; every tile height runs.
    let cases = [(1, 1), (1, 7), (5, 1), (5, 33), (33, 40), (9, 64), (40, 20)];
    // 262,149 rows in tiles of 4: 65,538 workgroups, past the 65,535 of one grid
    // dimension, so the wave spills into y and the kernel must flatten (x, y).
    let spill = (262_149, 1);
    let runs = cases.iter().flat_map(|c| ROWS_PER_TILE.iter().map(move |r| (c, r))).chain([(&spill, &ROWS_PER_TILE[0])]);
    for (&(rows, h), &tile_rows) in runs {
        for act in [Activation::Tanh, Activation::Relu] {
            seed += 1;
            let block = rows * h;
            // W_hh at an odd offset takes the scalar path, at a multiple of 4 the vec4 one.
            let w_off = if seed % 2 == 0 { 12 } else { 11 };
            let w = uniform(seed, h * h, -1.5, 1.5);
            let p_all = uniform(seed + 1, steps * block, -2.0, 2.0);
            let hs0 = uniform(seed + 2, (steps + 1) * block, -1.0, 1.0);
            let dh = uniform(seed + 3, steps * block, -1.0, 1.0);
            let dz0 = uniform(seed + 4, steps * block, -1.0, 1.0);
            let mut alloc = Allocator::new(&ctx.device);
            let gw = alloc.init("w", &[vec![0.5; w_off], w.clone()].concat());
            // The backward kernel reads W_hhᵀ (the trainer's transposed copy).
            let gwt = alloc.init("w transposed", &[vec![0.5; w_off], transpose(&w, h, h)].concat());
            let gp = alloc.init("p", &p_all);
            let gh = alloc.init("h", &hs0);
            let gdh = alloc.init("dh", &dh);
            let gdz = alloc.init("dz", &dz0);
            let gstep = alloc.uniform("step", bytemuck::bytes_of(&StepParams::default()));
            let t = 1usize;
            let wave = |back: bool, t: usize, recurrent: bool| single_layer_wave(back, act, rows as u32, h as u32, t as u32, recurrent, w_off as u32);
            run(&ctx, Some(&gstep), |pb| {
                pb.rnn_wave(WaveBuffers { x_in: &gp, y_out: &gh, w: &gw, backward_hidden: None }, wave(false, t, true), tile_rows);
                pb.rnn_wave(WaveBuffers { x_in: &gdh, y_out: &gdz, w: &gwt, backward_hidden: Some(&gh) }, wave(true, t, true), tile_rows);
                pb.rnn_wave(WaveBuffers { x_in: &gdh, y_out: &gdz, w: &gwt, backward_hidden: Some(&gh) }, wave(true, steps - 1, false), tile_rows);
            });
            let label = format!("rows={rows} h={h} {} rows/tile={tile_rows}", act.name());
            // Forward: H_1 (block 2) from H_0 (block 1) and P_1.
            let mut want_h = vec![0.0; block];
            ops::rnn_step_forward(act, h, &p_all[t * block..(t + 1) * block], &hs0[t * block..(t + 1) * block], &w, &mut want_h);
            let got_h = ctx.read_f32(&gh, 0, (steps + 1) * block).unwrap();
            assert_close(&format!("rnn_step_forward {label}"), &got_h[(t + 1) * block..(t + 2) * block], &want_h, ATOL, RTOL);
            let untouched = [&hs0[..(t + 1) * block], &hs0[(t + 2) * block..]].concat();
            assert_eq!([&got_h[..(t + 1) * block], &got_h[(t + 2) * block..]].concat(), untouched, "{label}: forward wrote outside H_t");
            // Backward at t = 1 (with dZ_2 as it was) and at the last step (no dZ_{t+1}).
            let got_dz = ctx.read_f32(&gdz, 0, steps * block).unwrap();
            let mut want = vec![0.0; block];
            let h_t = &got_h[(t + 1) * block..(t + 2) * block];
            ops::rnn_step_backward(act, h, &dh[t * block..(t + 1) * block], Some(&dz0[(t + 1) * block..(t + 2) * block]), &w, h_t, &mut want);
            assert_close(&format!("rnn_step_backward {label}"), &got_dz[t * block..(t + 1) * block], &want, ATOL, RTOL);
            let last = steps - 1;
            ops::rnn_step_backward(act, h, &dh[last * block..], None, &w, &got_h[(last + 1) * block..], &mut want);
            assert_close(&format!("rnn_step_backward last {label}"), &got_dz[last * block..], &want, ATOL, RTOL);
        }
    }
}

#[test]
fn transpose_matches_cpu_at_offsets() {
    let Some(ctx) = gpu() else { return };
    for &(rows, cols) in &[(1, 1), (1, 70), (33, 1), (65, 31), (64, 64), (100, 37)] {
        let src = uniform((rows * 131 + cols) as u64, rows * cols, -1.0, 1.0);
        let mut alloc = Allocator::new(&ctx.device);
        let gsrc = alloc.init("src", &[vec![9.0; 5], src.clone()].concat());
        let gdst = alloc.init("dst", &vec![7.0f32; 3 + rows * cols + 4]);
        run(&ctx, None, |pb| pb.transpose(&gsrc, &gdst, TransposeParams { rows: rows as u32, cols: cols as u32, src_off: 5, dst_off: 3 }));
        let got = ctx.read_f32(&gdst, 0, 3 + rows * cols + 4).unwrap();
        let label = format!("transpose {rows}x{cols}");
        assert_eq!(&got[3..3 + rows * cols], &transpose(&src, rows, cols)[..], "{label}");
        assert_eq!([&got[..3], &got[3 + rows * cols..]].concat(), vec![7.0; 7], "{label}: wrote outside dst");
    }
}

#[test]
fn embedding_gather_and_scatter_add_match_cpu() {
    let Some(ctx) = gpu() else { return };
    for &(vocab, d, rows) in &[(1, 1, 1), (11, 5, 37), (300, 3, 7), (13, 70, 260)] {
        let table_off = 6;
        let table = uniform(vocab as u64, vocab * d, -1.0, 1.0);
        let toks = tokens(rows as u64, rows, vocab);
        let d_rows = uniform(7, rows * d, -1.0, 1.0);
        let layout = TokenLayout { capacity: rows + 2, vocab };
        let mut alloc = Allocator::new(&ctx.device);
        let gtable = alloc.init("table", &[vec![3.0; table_off], table.clone()].concat());
        let gtok = alloc.init("tokens", &layout.pack(&toks, &toks));
        let grows = alloc.zeros("rows", rows * d);
        let gdrows = alloc.init("d_rows", &d_rows);
        let ggrad = alloc.init("grad", &vec![5.0f32; table_off + vocab * d]);
        let p = EmbeddingParams {
            rows: rows as u32,
            d: d as u32,
            vocab: vocab as u32,
            src_off: table_off as u32,
            dst_off: table_off as u32,
            tok_off: layout.inputs_off(),
            order_off: layout.order_off(),
            offsets_off: layout.offsets_off(),
        };
        run(&ctx, None, |pb| {
            pb.embedding_gather(&gtable, &gtok, &grows, p);
            pb.embedding_scatter_add(&gdrows, &gtok, &ggrad, EmbeddingParams { src_off: 0, ..p });
        });
        let mut want = vec![0.0; rows * d];
        ops::embedding_gather(&table, &toks, d, &mut want);
        assert_close(&format!("embedding_gather V={vocab} d={d} rows={rows}"), &ctx.read_f32(&grows, 0, rows * d).unwrap(), &want, 0.0, 0.0);
        let mut want = vec![0.0; vocab * d];
        ops::embedding_scatter_add(&mut want, &toks, d, &d_rows);
        let got = ctx.read_f32(&ggrad, 0, table_off + vocab * d).unwrap();
        assert_close(&format!("embedding_scatter_add V={vocab} d={d} rows={rows}"), &got[table_off..], &want, ATOL, RTOL);
        assert_eq!(&got[..table_off], &vec![5.0; table_off][..], "scatter wrote before its offset");
    }
}

#[test]
fn softmax_xent_matches_cpu_with_spikes_of_80() {
    let Some(ctx) = gpu() else { return };
    for &(rows, vocab) in &[(1, 1), (1, 3), (5, 65), (9, 130), (3, 1000)] {
        let mut logits = uniform(rows as u64 * 7 + vocab as u64, rows * vocab, -3.0, 3.0);
        for r in 0..rows {
            // Spikes: +80 on one entry, −80 on another (same entry when V = 1).
            logits[r * vocab + (r * 7) % vocab] = 80.0;
            logits[r * vocab + (r * 3 + 1) % vocab] = -80.0;
        }
        let targets = tokens(rows as u64, rows, vocab);
        let scale = 1.0 / (rows as f32 * 2.0);
        let layout = TokenLayout { capacity: rows, vocab };
        let mut alloc = Allocator::new(&ctx.device);
        let glog = alloc.init("logits", &logits);
        let glog2 = alloc.init("logits2", &logits);
        let gtok = alloc.init("tokens", &layout.pack(&targets, &targets));
        let gloss = alloc.zeros("loss", rows);
        let gloss2 = alloc.zeros("loss2", rows);
        let p = SoftmaxParams { rows: rows as u32, vocab: vocab as u32, tgt_off: layout.targets_off(), scale };
        run(&ctx, None, |pb| {
            pb.softmax_xent(&glog, &gtok, &gloss, p);
            pb.softmax_xent_loss(&glog2, &gtok, &gloss2, p);
        });
        let mut want_d = vec![0.0; rows * vocab];
        let want_loss = ops::softmax_xent(&logits, &targets, vocab, scale, &mut want_d);
        let label = format!("rows={rows} V={vocab}");
        let got_loss = ctx.read_f32(&gloss, 0, rows).unwrap();
        assert!(got_loss.iter().all(|l| l.is_finite()), "{label}: non-finite loss {got_loss:?}");
        assert_close(&format!("softmax_xent loss {label}"), &got_loss, &want_loss, 1e-4, 1e-5);
        assert_close(&format!("softmax_xent dlogits {label}"), &ctx.read_f32(&glog, 0, rows * vocab).unwrap(), &want_d, 1e-6, 1e-4);
        let want_only = ops::softmax_xent_loss(&logits, &targets, vocab);
        assert_close(&format!("softmax_xent_loss {label}"), &ctx.read_f32(&gloss2, 0, rows).unwrap(), &want_only, 1e-4, 1e-5);
        assert_eq!(ctx.read_f32(&glog2, 0, rows * vocab).unwrap(), logits, "{label}: loss-only kernel wrote the logits");
    }
}

#[test]
fn loss_sum_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    for &count in &[1usize, 65, 300, 4810] {
        let src = uniform(count as u64, count, -1.0, 1.0);
        let mut alloc = Allocator::new(&ctx.device);
        let gsrc = alloc.init("src", &src);
        let gstats = alloc.zeros("stats", 16);
        let gstep = alloc.uniform("step", bytemuck::bytes_of(&StepParams { slot: 2, ..Default::default() }));
        let scale = 1.0 / count as f32;
        run(&ctx, Some(&gstep), |pb| {
            pb.loss_sum(&gsrc, &gstats, ReduceParams { count: count as u32, stride: 4, field: 1, scale, ..Default::default() });
        });
        let want_sum = src.iter().map(|&x| x as f64).sum::<f64>() as f32 * scale;
        let stats = ctx.read_f32(&gstats, 0, 16).unwrap();
        assert_close(&format!("loss_sum count={count}"), &stats[9..10], &[want_sum], ATOL, RTOL);
        assert!(stats.iter().enumerate().all(|(i, &v)| i == 9 || v == 0.0), "loss_sum wrote outside slot 2 field 1: {stats:?}");
    }
}

#[test]
fn grad_norm_and_clip_factor_match_cpu() {
    let Some(ctx) = gpu() else { return };
    // 70_001 > 256 partials × 256 threads, so the strided loop wraps.
    for &(count, theta) in &[(1usize, Some(0.1f32)), (1000, None), (1000, Some(1e6)), (70_001, Some(5.0))] {
        let g = uniform(count as u64, count, -0.1, 0.1);
        let mut alloc = Allocator::new(&ctx.device);
        let gg = alloc.init("grads", &g);
        let gpart = alloc.zeros("partials", 256);
        let gclip = alloc.zeros("clip", 4);
        let gstats = alloc.zeros("stats", 8);
        let gstep = alloc.uniform("step", bytemuck::bytes_of(&StepParams { slot: 1, ..Default::default() }));
        run(&ctx, Some(&gstep), |pb| pb.grad_norm(&gg, &gpart, &gclip, &gstats, count as u32, theta));
        let (norm, factor) = ops::grad_norm(&[&g], theta);
        let stats = ctx.read_f32(&gstats, 0, 8).unwrap();
        let label = format!("count={count} theta={theta:?}");
        assert_close(&format!("grad norm {label}"), &stats[5..6], &[norm as f32], 0.0, 1e-5);
        assert_eq!(stats[6], if factor < 1.0 { 1.0 } else { 0.0 }, "{label}: clipped flag");
        assert_close(&format!("clip factor {label}"), &ctx.read_f32(&gclip, 0, 1).unwrap(), &[factor as f32], 0.0, 1e-5);
    }
}

#[test]
fn sgd_and_adam_updates_match_cpu_with_and_without_weight_decay() {
    let Some(ctx) = gpu() else { return };
    let count = 1037;
    let scale = 0.625f32;
    let (lr, beta1, beta2, eps, momentum, k) = (0.01f32, 0.9f32, 0.999f32, 1e-8f32, 0.9f32, 3u64);
    for wd in [0.0f32, 0.1] {
        let p0 = uniform(1, count, -1.0, 1.0);
        let g = uniform(2, count, -1.0, 1.0);
        let m0 = uniform(3, count, -0.1, 0.1);
        let v0 = uniform(4, count, 0.0, 0.01);
        let bc1 = 1.0 - (beta1 as f64).powi(k as i32);
        let bc2 = 1.0 - (beta2 as f64).powi(k as i32);
        let mut alloc = Allocator::new(&ctx.device);
        let (gp_sgd, gm_sgd) = (alloc.init("p", &p0), alloc.init("m", &m0));
        let (gp, gm, gv) = (alloc.init("p", &p0), alloc.init("m", &m0), alloc.init("v", &v0));
        let gg = alloc.init("g", &g);
        let gclip = alloc.init("clip", &[scale, 0.0, 0.0, 0.0]);
        let gstep = alloc.uniform("step", bytemuck::bytes_of(&StepParams { lr, bc1: bc1 as f32, bc2: bc2 as f32, ..Default::default() }));
        let p = OptimizerParams { count: count as u32, momentum, beta1, beta2, eps, weight_decay: wd, ..Default::default() };
        run(&ctx, Some(&gstep), |pb| {
            pb.sgd_update(&gp_sgd, &gg, &gm_sgd, &gclip, p);
            pb.adam_update(&gp, &gg, &gm, &gv, &gclip, p);
        });
        let label = |what: &str| format!("{what}, weight decay {wd}");
        let (mut p_sgd, mut m_sgd) = (p0.clone(), m0.clone());
        ops::sgd_update(&mut p_sgd, &g, &mut m_sgd, lr, momentum, scale, wd);
        assert_close(&label("sgd param"), &ctx.read_f32(&gp_sgd, 0, count).unwrap(), &p_sgd, 1e-6, 1e-5);
        assert_close(&label("sgd momentum"), &ctx.read_f32(&gm_sgd, 0, count).unwrap(), &m_sgd, 1e-6, 1e-5);
        let (mut pa, mut ma, mut va) = (p0.clone(), m0.clone(), v0.clone());
        ops::adam_update(&mut pa, &g, &mut ma, &mut va, lr, beta1, beta2, eps, k, scale, wd);
        assert_close(&label("adam param"), &ctx.read_f32(&gp, 0, count).unwrap(), &pa, 1e-6, 1e-5);
        assert_close(&label("adam m"), &ctx.read_f32(&gm, 0, count).unwrap(), &ma, 1e-7, 1e-5);
        assert_close(&label("adam v"), &ctx.read_f32(&gv, 0, count).unwrap(), &va, 1e-9, 1e-5);
    }
}

/// First differing index of two f32 slices compared bit for bit, with both values.
fn first_bit_mismatch(got: &[f32], want: &[f32]) -> Option<(usize, f32, f32)> {
    assert_eq!(got.len(), want.len(), "lengths differ");
    got.iter().zip(want).enumerate().find(|(_, (g, w))| g.to_bits() != w.to_bits()).map(|(i, (&g, &w))| (i, g, w))
}

#[test]
fn dropout_masks_are_bit_identical_to_the_cpu_masks() {
    use elman::rnn::dropout::DropoutKey;
    let Some(ctx) = gpu() else { return };
    // Wrapping seeds/update numbers, tiny and huge p, counts that are not multiples of 256.
    let cases = [
        (DropoutKey { p: 0.3, seed: 7, update: 1 }, 0u32, 1usize),
        (DropoutKey { p: 0.3, seed: 7, update: 1 }, 2, 1037),
        (DropoutKey { p: 0.5, seed: 0xdead_beef, update: u32::MAX - 3 }, 1, 70_001),
        (DropoutKey { p: 0.9, seed: u32::MAX, update: 12 }, 3, 513),
        (DropoutKey { p: 1e-4, seed: 0, update: 0 }, 0, 256),
    ];
    for (key, site, count) in cases {
        let (off_in, off_out) = (5usize, 3usize);
        let src = uniform(count as u64, count, -2.0, 2.0);
        let mut alloc = Allocator::new(&ctx.device);
        let gones = alloc.init("ones", &[vec![9.0f32; off_out], vec![1.0; count], vec![9.0; 2]].concat());
        let gsrc = alloc.init("src", &[vec![4.0; off_in], src.clone()].concat());
        let gdst = alloc.init("dst", &vec![9.0f32; off_out + count + 2]);
        let gstep = alloc.uniform("step", bytemuck::bytes_of(&StepParams { update: key.update, ..Default::default() }));
        let p = DropoutParams::new(&key, site, count as u32);
        run(&ctx, Some(&gstep), |pb| {
            pb.dropout_apply(&gones, DropoutParams { dst_off: off_out as u32, ..p });
            pb.dropout_copy(&gsrc, &gdst, DropoutParams { src_off: off_in as u32, dst_off: off_out as u32, ..p });
        });
        let label = format!("p={} seed={:#x} update={:#x} site={site} count={count}", key.p, key.seed, key.update);
        let want = key.mask(site, count);
        let kept = want.iter().filter(|&&m| m != 0.0).count();
        assert!(kept > 0 || count < 10, "{label}: the CPU mask keeps nothing");
        let got = ctx.read_f32(&gones, 0, off_out + count + 2).unwrap();
        assert_eq!(first_bit_mismatch(&got[off_out..off_out + count], &want), None, "{label}: dropout_apply multipliers (index, got, want)");
        assert_eq!([&got[..off_out], &got[off_out + count..]].concat(), vec![9.0; off_out + 2], "{label}: dropout_apply wrote outside its range");
        let masked: Vec<f32> = src.iter().zip(&want).map(|(x, m)| x * m).collect();
        let got = ctx.read_f32(&gdst, 0, off_out + count + 2).unwrap();
        assert_eq!(first_bit_mismatch(&got[off_out..off_out + count], &masked), None, "{label}: dropout_copy (index, got, want)");
        assert_eq!([&got[..off_out], &got[off_out + count..]].concat(), vec![9.0; off_out + 2], "{label}: dropout_copy wrote outside its range");
    }
}
