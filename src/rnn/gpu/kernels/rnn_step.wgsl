// rnn_step: the recurrence, one dispatch per wave of the layer wavefront (T + L − 1 each
// way). The kernel's body, with the math, the tiling and the bindings it shares, is
// rnn_wave.wgsl, which rnn_step.rs puts before this file; here the wave's Params are a
// uniform of their own per dispatch.

@group(0) @binding(1) var<storage, read_write> y_out: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

fn y_vec4(i: u32) -> vec4<f32> {
    return y_out[i];
}

fn y_elem(e: u32) -> f32 {
    return y_out[e / 4u][e % 4u];
}

fn y_set_vec4(i: u32, v: vec4<f32>) {
    y_out[i] = v;
}

fn y_set_elem(e: u32, v: f32) {
    y_out[e / 4u][e % 4u] = v;
}

// Every lane of a model has the same cell, so lane 0's flag says it for the wave.
fn lanes_are_mi() -> bool {
    return (p.lane[0].flags & MI) != 0u;
}

@compute @workgroup_size(THREADS, 1, 1)
fn rnn_step_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    wave(wid.x + wid.y * nwg.x, li, false, lanes_are_mi());
}

@compute @workgroup_size(THREADS, 1, 1)
fn rnn_step_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    wave(wid.x + wid.y * nwg.x, li, true, lanes_are_mi());
}
