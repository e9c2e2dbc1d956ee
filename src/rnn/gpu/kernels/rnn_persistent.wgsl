// rnn_persistent: every wave of a chunk's recurrence (forward or backward) in one dispatch.
// The body, with the math and the tiling, is rnn_wave.wgsl (rnn_persistent.rs puts it
// before this file): wave w here computes exactly what rnn_step's dispatch w would, tile by tile with
// the same code, so the results are bit for bit the per-wave ones.
//
// A dispatch of G workgroups (all resident at once: the host probes for that,
// src/rnn/gpu/recurrence/persistent.rs)
// runs waves first .. first + count − 1 in order. For each wave a workgroup copies the
// wave's Params into workgroup memory (`p`), computes tiles g, g + G, g + 2G, … of the
// wave's `groups` tiles, and then waits at a grid barrier for every other workgroup before
// the next wave, whose lanes read what this one wrote.
//
// The grid barrier (a counter of arrivals in `sync`, zeroed by rnn_persistent_reset just
// before the dispatch): barrier b is passed when the counter reaches (b + 1)·G. A
// workgroup's stores are released before its arrival, and acquired by the others after
// they see the count, through storageBarrier, whose memory scope naga makes the device.
// One thread per workgroup polls; it gives up after `spin_limit` polls at one barrier (or
// `poll_budget` over the dispatch, where set: tests on llvmpipe): it then sets the sticky
// FAILED word and writes 1 into the fallback dispatch's workgroup count (`args`),
// and every workgroup leaves at its next barrier (or at its start). The indirect dispatch
// that follows (FALLBACK: one workgroup, its own counter, FAILED ignored) then runs every
// wave of the chunk again — each wave is a pure function of inputs no wave writes, so a
// rerun from the start is exact — and later dispatches on the device skip straight to
// their fallback until the host reads FAILED and goes back to per-wave dispatches.
//
// | binding | name  | access     | what                                                |
// |---------|-------|------------|-----------------------------------------------------|
// | 0–3, 5  |       |            | as rnn_step (rnn_wave.wgsl's table); y_out atomic u32 |
// | 4       | run   | uniform    | Run                                                 |
// | 6       | waves | read       | the Params of every wave of the program, in order   |
// | 7       | sync  | read_write | FAILED, the two arrival counters (atomic u32)       |
// | 8       | args  | read_write | the fallback's workgroup counts (x, y, z)           |

// From the host (rnn_persistent.rs): the `sync` words FAILED_WORD, PERSISTENT_ARRIVALS,
// FALLBACK_ARRIVALS, and the run flags RUN_BACK, RUN_MI, RUN_FALLBACK, RUN_SLOW_POLL.

struct Run {
    first: u32,      // index in `waves` of this dispatch's first wave
    count: u32,      // waves to run
    arrivals: u32,   // the counter word in `sync` (PERSISTENT_ARRIVALS or FALLBACK_ARRIVALS)
    flags: u32,      // RUN_BACK | RUN_MI | RUN_FALLBACK | RUN_SLOW_POLL
    spin_limit: u32, // polls of the counter at one barrier before it gives up
    poll_budget: u32, // polls over all of the dispatch's barriers (0: no such bound)
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(1) var<storage, read_write> y_out: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> run: Run;
@group(0) @binding(6) var<storage, read> waves: array<Params>;
@group(0) @binding(7) var<storage, read_write> sync: array<atomic<u32>>;
@group(0) @binding(8) var<storage, read_write> args: array<atomic<u32>>;

// The current wave's Params, copied from `waves` (rnn_wave.wgsl reads `p`).
var<workgroup> p: Params;
// Thread 0's verdict, shared: 1 = go on, 0 = leave.
var<workgroup> verdict: u32;

// y_out through atomics: a wave reads rows that other workgroups wrote in the wave before,
// within this dispatch, and the buffer is not Coherent (WGSL cannot say so), so plain
// loads may be served from a cache the barrier does not clean (they were on lavapipe).
// Atomic accesses are coherent at device scope, and the barrier's device-scope fences
// order them. The bits are the same f32s either way.
fn y_elem(e: u32) -> f32 {
    return bitcast<f32>(atomicLoad(&y_out[e]));
}

fn y_vec4(i: u32) -> vec4<f32> {
    let e = 4u * i;
    return vec4<f32>(y_elem(e), y_elem(e + 1u), y_elem(e + 2u), y_elem(e + 3u));
}

fn y_set_elem(e: u32, v: f32) {
    atomicStore(&y_out[e], bitcast<u32>(v));
}

fn y_set_vec4(i: u32, v: vec4<f32>) {
    let e = 4u * i;
    y_set_elem(e, v.x);
    y_set_elem(e + 1u, v.y);
    y_set_elem(e + 2u, v.z);
    y_set_elem(e + 3u, v.w);
}

fn give_up() {
    atomicStore(&sync[FAILED_WORD], 1u);
    atomicStore(&args[0], 1u);
}

// Busy work between two polls (straight-line: no loop), so that a wait spends fewer polls.
fn pause(x0: f32) -> f32 {
    var x = x0;
    x = fma(x, 0.999, 0.001);
    x = fma(x, 0.999, 0.001);
    x = fma(x, 0.999, 0.001);
    x = fma(x, 0.999, 0.001);
    x = fma(x, 0.999, 0.001);
    x = fma(x, 0.999, 0.001);
    x = fma(x, 0.999, 0.001);
    x = fma(x, 0.999, 0.001);
    return x;
}

// 32 pauses: one poll's wait under RUN_SLOW_POLL is 4 of these (llvmpipe counts loop
// iterations, not time, so each poll there should take long).
fn slow_pause(x: f32) -> f32 {
    return pause(pause(pause(pause(pause(pause(pause(pause(x))))))));
}

// Polls this workgroup's thread 0 has spent, over all barriers of the dispatch.
var<private> polls_spent: u32;

// Waits until `needed` arrivals have been counted (this workgroup's included). Returns
// false when this or another workgroup gave up. Only a loop left through its `break` on
// the count passes: a loop that ends any other way (Mesa's llvmpipe silently ends every
// loop of an invocation after 65,535 iterations in all) counts as giving up. FALLBACK runs
// alone: nothing to wait for, it never polls and never gives up.
fn grid_barrier(li: u32, needed: u32) -> bool {
    // Release: every store of this workgroup happens before its arrival.
    storageBarrier();
    if (run.flags & RUN_FALLBACK) != 0u {
        return true;
    }
    if li == 0u {
        var passed = 0u;
        atomicAdd(&sync[run.arrivals], 1u);
        var x = 1.0;
        var polls = 0u;
        loop {
            if atomicLoad(&sync[run.arrivals]) >= needed {
                passed = 1u;
                break;
            }
            let over_budget = run.poll_budget != 0u && polls_spent >= run.poll_budget;
            if atomicLoad(&sync[FAILED_WORD]) != 0u || polls >= run.spin_limit || over_budget {
                break;
            }
            polls += 1u;
            polls_spent += 1u;
            x = pause(x);
            if (run.flags & RUN_SLOW_POLL) != 0u {
                x = slow_pause(slow_pause(slow_pause(slow_pause(x))));
            }
        }
        // (x is never 2; the comparison keeps the pause from being optimized away.)
        if passed == 0u || x == 2.0 {
            give_up();
            passed = 0u;
        }
        verdict = passed;
    }
    // Acquire: the other workgroups' stores are seen by the loads after it.
    let ok = workgroupUniformLoad(&verdict);
    storageBarrier();
    return ok != 0u;
}

@compute @workgroup_size(THREADS, 1, 1)
fn rnn_persistent(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    // (At least 1: a grid-stride loop by 0 would never end, should a backend report no
    // workgroups for an indirect dispatch, as D3D12 does without wgpu's indirect validation.)
    let grid = max(nwg.x * nwg.y, 1u);
    let me = wid.x + wid.y * nwg.x;
    let fallback = (run.flags & RUN_FALLBACK) != 0u;
    if li == 0u {
        verdict = select(1u, 0u, !fallback && atomicLoad(&sync[FAILED_WORD]) != 0u);
    }
    if workgroupUniformLoad(&verdict) == 0u {
        return;
    }
    let back = (run.flags & RUN_BACK) != 0u;
    let mi = (run.flags & RUN_MI) != 0u;
    for (var w = 0u; w < run.count; w++) {
        if li == 0u {
            p = waves[run.first + w];
        }
        workgroupBarrier();
        let tiles = waves[run.first + w].groups;
        for (var g = me; g < tiles; g += grid) {
            wave(g, li, back, mi);
        }
        if w + 1u < run.count && !grid_barrier(li, (w + 1u) * grid) {
            return;
        }
    }
}

// Zeroes both arrival counters before a persistent dispatch (one thread).
@compute @workgroup_size(1, 1, 1)
fn rnn_persistent_reset() {
    atomicStore(&sync[PERSISTENT_ARRIVALS], 0u);
    atomicStore(&sync[FALLBACK_ARRIVALS], 0u);
}
