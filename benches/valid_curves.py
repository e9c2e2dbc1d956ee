#!/usr/bin/env python3
"""Validation curves of several elman runs in one SVG (standard library only).

    python3 benches/valid_curves.py --out curves.svg --title "tinyshakespeare" \
        --x elapsed_s ts-elman ts-mi

Each run folder's log.jsonl gives one line: valid_loss against `--x` (elapsed_s for equal
wall time, step for equal steps). The legend names each run by its folder.
"""
import argparse
import json
import os

W, H, LEFT, RIGHT, TOP, BOTTOM = 760.0, 420.0, 64.0, 190.0, 36.0, 48.0
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def points(run, x_key):
    out = []
    with open(os.path.join(run, "log.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if record.get("valid_loss") is not None:
                out.append((float(record[x_key]), float(record["valid_loss"])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="validation loss")
    ap.add_argument("--x", default="elapsed_s", choices=["elapsed_s", "step"])
    ap.add_argument("--skip", type=int, default=1, help="leave out each run's first N points (the steep start)")
    a = ap.parse_args()
    series = [(os.path.basename(os.path.normpath(r)), points(r, a.x)[a.skip:]) for r in a.runs]
    xs = [x for _, s in series for x, _ in s]
    ys = [y for _, s in series for _, y in s]
    x_max = max(xs) if xs else 1.0
    y_lo, y_hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    pad = max((y_hi - y_lo) * 0.05, 1e-3)
    y_lo, y_hi = y_lo - pad, y_hi + pad
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    sx = lambda x: LEFT + pw * x / x_max
    sy = lambda y: TOP + ph * (1.0 - (y - y_lo) / (y_hi - y_lo))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W:.0f}" height="{H:.0f}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W:.0f}" height="{H:.0f}" fill="white"/>',
           f'<text x="{LEFT:.0f}" y="22" font-size="14">{a.title}</text>',
           f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for i in range(6):
        y = y_lo + (y_hi - y_lo) * i / 5
        out.append(f'<text x="{LEFT - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3f}</text>')
        x = x_max * i / 5
        out.append(f'<text x="{sx(x):.1f}" y="{TOP + ph + 18}" text-anchor="middle">{x:.0f}</text>')
    label = "seconds of training" if a.x == "elapsed_s" else "step"
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 10}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="16" y="{TOP + ph / 2}" transform="rotate(-90 16 {TOP + ph / 2})" text-anchor="middle">validation nats/token</text>')
    for k, (name, s) in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{pts}"/>')
        ly = TOP + 16 + 18 * k
        out.append(f'<line x1="{W - RIGHT + 12}" y1="{ly - 4}" x2="{W - RIGHT + 36}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        best = min(y for _, y in s) if s else float("nan")
        out.append(f'<text x="{W - RIGHT + 42}" y="{ly}">{name} ({best:.4f})</text>')
    out.append("</svg>")
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
