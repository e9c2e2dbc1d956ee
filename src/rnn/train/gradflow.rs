//! Gradient flow through time, vanishing and exploding gradients made visible:
//! for one chunk, ‖∂L/∂H_t^(l)‖ for every step t and layer l, the norm of each layer's
//! W_hh gradient, the global gradient norm and the clip factor min(1, θ/‖g‖).
//!
//! Backpropagation through time multiplies the gradient by one Jacobian per step,
//!
//! ```text
//! ∂L/∂H_t = dH_t + (∂L/∂H_{t+1} ⊙ φ'(H_{t+1})) · W_hhᵀ
//! ```
//!
//! so the gradient reaching step t from the chunk's end carries a product of T − t factors
//! diag(φ'(H)) · W_hhᵀ: it decays geometrically when their norm is below 1 (tanh's
//! saturation, a small spectral radius) and grows when above (relu with a large one). The
//! norms are taken before clipping, from the same BPTT the training step runs: on the CPU
//! [`crate::rnn::cpu::bptt::loss_gradients_and_flow`] ([`crate::rnn::cpu::flow::measure`]), on a GPU the trainer's own
//! backward waves, which store G_t = ∂L/∂H_t beside dZ_t and sum the squares per step on
//! the GPU (`Trainer::gradient_flow`; tests/gradflow.rs compares the two). This file draws
//! the records.

pub use crate::rnn::backend::{GradFlow, LayerFlow};
use std::fmt::Write;


use crate::rnn::train::plot::{escape, HEIGHT, MARGIN_BOTTOM as BOTTOM, MARGIN_LEFT as LEFT, MARGIN_TOP as TOP, WIDTH};

/// The right margin, wide enough for the legend.
const RIGHT: f64 = 110.0;
/// One hue per layer; records fade from light (early) to full (latest).
const LAYER_COLOURS: [(u8, u8, u8); 6] = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207)];

/// An SVG of log10 ‖∂L/∂H_t‖ against t: one line per layer and record, earlier records
/// lighter, so decay or growth through time and its change over training both show.
pub fn gradflow_svg(title: &str, records: &[GradFlow]) -> String {
    let steps = records.iter().flat_map(|r| r.layers.iter().map(|l| l.hidden_grad_norms.len())).max().unwrap_or(1).max(2);
    let logs = records.iter().flat_map(|r| r.layers.iter().flat_map(|l| l.hidden_grad_norms.iter())).filter(|v| **v > 0.0 && v.is_finite()).map(|v| v.log10());
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in logs {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        (lo, hi) = (-1.0, 0.0);
    }
    let (lo, hi) = ((lo - 0.1).floor(), (hi + 0.1).ceil().max(lo.floor() + 1.0));
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let sx = |t: usize| LEFT + plot_w * t as f64 / (steps - 1) as f64;
    let sy = |v: f64| TOP + plot_h * (1.0 - (v - lo) / (hi - lo));
    let mut svg = String::new();
    let _ = write!(svg, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#);
    let _ = write!(svg, r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/><text x="{LEFT}" y="22" font-size="14">{}</text>"#, escape(title));
    for decade in (lo as i64)..=(hi as i64) {
        let y = sy(decade as f64);
        let _ = write!(svg, r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">1e{decade}</text>"##, LEFT + plot_w, LEFT - 6.0, y + 4.0);
    }
    for tick in 0..=4 {
        let t = (steps - 1) * tick / 4;
        let _ = write!(svg, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t}</text>"#, sx(t), TOP + plot_h + 18.0);
    }
    let _ = write!(svg, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time step t in the chunk (the loss gradient enters at every t; BPTT runs right to left)</text>"#, LEFT + plot_w / 2.0, HEIGHT - 10.0);
    let _ = write!(svg, r#"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">‖∂L/∂H_t‖ (log scale)</text>"#, TOP + plot_h / 2.0);
    let count = records.len().max(1);
    for (k, record) in records.iter().enumerate() {
        let strength = 0.25 + 0.75 * (k + 1) as f64 / count as f64;
        for (l, layer) in record.layers.iter().enumerate() {
            let (r, g, b) = LAYER_COLOURS[l % LAYER_COLOURS.len()];
            let fade = |c: u8| (255.0 - (255.0 - c as f64) * strength).round() as u8;
            let points: Vec<String> = layer
                .hidden_grad_norms
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > 0.0 && v.is_finite())
                .map(|(t, v)| format!("{:.1},{:.1}", sx(t), sy(v.log10())))
                .collect();
            let _ = write!(svg, r#"<polyline fill="none" stroke="rgb({},{},{})" stroke-width="1.5" points="{}"/>"#, fade(r), fade(g), fade(b), points.join(" "));
        }
    }
    let layers = records.last().map_or(0, |r| r.layers.len());
    for l in 0..layers {
        let (r, g, b) = LAYER_COLOURS[l % LAYER_COLOURS.len()];
        let y = TOP + 14.0 + 18.0 * l as f64;
        let _ = write!(svg, r#"<line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="rgb({r},{g},{b})" stroke-width="2"/><text x="{:.1}" y="{:.1}">layer {l}</text>"#, WIDTH - RIGHT + 8.0, WIDTH - RIGHT + 28.0, WIDTH - RIGHT + 32.0, y + 4.0);
    }
    if let (Some(first), Some(last)) = (records.first(), records.last()) {
        if records.len() > 1 && first.step != last.step {
            let _ = write!(svg, r#"<text x="{:.1}" y="{:.1}" font-size="11">steps {}–{}</text>"#, WIDTH - RIGHT + 8.0, TOP + 18.0 * layers as f64 + 24.0, first.step, last.step);
            let _ = write!(svg, r#"<text x="{:.1}" y="{:.1}" font-size="11">(lighter: earlier)</text>"#, WIDTH - RIGHT + 8.0, TOP + 18.0 * layers as f64 + 40.0);
        } else if records.len() > 1 {
            let _ = write!(svg, r#"<text x="{:.1}" y="{:.1}" font-size="11">(lighter: listed</text><text x="{:.1}" y="{:.1}" font-size="11">first in the title)</text>"#, WIDTH - RIGHT + 8.0, TOP + 18.0 * layers as f64 + 24.0, WIDTH - RIGHT + 8.0, TOP + 18.0 * layers as f64 + 40.0);
        }
    }
    svg.push_str("</svg>\n");
    svg
}
