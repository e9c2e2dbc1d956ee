//! The loss curve as a small self-contained SVG: train and validation loss against step.

use std::fmt::Write;

/// The canvas every elman plot draws on, and its margins (the gradient-flow plot widens
/// the right one for its legend).
pub const WIDTH: f64 = 720.0;
pub const HEIGHT: f64 = 420.0;
pub const MARGIN_LEFT: f64 = 64.0;
const MARGIN_RIGHT: f64 = 20.0;
pub const MARGIN_TOP: f64 = 36.0;
pub const MARGIN_BOTTOM: f64 = 48.0;

/// An SVG document plotting `train` and `valid` (step, nats/token) series.
pub fn loss_svg(title: &str, train: &[(u64, f64)], valid: &[(u64, f64)]) -> String {
    let all = train.iter().chain(valid).filter(|(_, y)| y.is_finite());
    let (mut x_max, mut y_min, mut y_max) = (1u64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in all {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    if !y_min.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    let pad = ((y_max - y_min) * 0.05).max(1e-3);
    let (y_lo, y_hi) = ((y_min - pad).max(0.0), y_max + pad);
    let plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let sx = |x: u64| MARGIN_LEFT + plot_w * x as f64 / x_max as f64;
    let sy = |y: f64| MARGIN_TOP + plot_h * (1.0 - (y - y_lo) / (y_hi - y_lo));

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>
"##,
        WIDTH / 2.0,
        escape(title)
    );
    for i in 0..=5 {
        let y = y_lo + (y_hi - y_lo) * i as f64 / 5.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{MARGIN_LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{y:.2}</text>"##,
            WIDTH - MARGIN_RIGHT,
            MARGIN_LEFT - 6.0,
            sy(y) + 4.0,
            py = sy(y)
        );
        let x = (x_max as f64 * i as f64 / 5.0).round() as u64;
        let _ = writeln!(svg, r##"<text x="{:.1}" y="{}" text-anchor="middle">{x}</text>"##, sx(x), HEIGHT - MARGIN_BOTTOM + 18.0);
    }
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="middle">step</text><text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">loss (nats/token)</text>"##,
        MARGIN_LEFT + plot_w / 2.0,
        HEIGHT - 10.0,
        MARGIN_TOP + plot_h / 2.0,
        MARGIN_TOP + plot_h / 2.0
    );
    for (series, color, label, row) in [(train, "#1f77b4", "train", 0), (valid, "#d62728", "validation", 1)] {
        let points: Vec<String> = series.iter().filter(|(_, y)| y.is_finite()).map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
        if !points.is_empty() {
            let _ = writeln!(svg, r##"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"##, points.join(" "));
        }
        let ly = MARGIN_TOP + 14.0 + 16.0 * row as f64;
        let _ = writeln!(
            svg,
            r##"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{label}</text>"##,
            WIDTH - 150.0,
            WIDTH - 126.0,
            WIDTH - 120.0,
            ly + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Text made safe inside SVG markup.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_holds_both_series() {
        let svg = loss_svg("run <1>", &[(10, 3.0), (20, 2.0)], &[(20, 2.5)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("run &lt;1&gt;"));
    }
}
