#!/usr/bin/env python3
"""Draws the validation curves of several elman runs in one SVG (the README's comparison figures).

    python3 docs/img/valid_curves.py [--ymax Y] "TITLE" OUT.svg LABEL=runs/a/log.jsonl LABEL=runs/b/log.jsonl ...

Each run's log.jsonl holds one object per log line; the points drawn are those with a
valid_loss (the run's evaluations), against step. --ymax cuts the axis there (points above
it are left out), so that the ends of the runs are told apart. Standard library only.
"""
import json
import sys

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
WIDTH, HEIGHT = 720, 420
LEFT, TOP, RIGHT, BOTTOM = 64.0, 36.0, 570.0, 372.0


def points(path):
    out = []
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            if row.get("valid_loss") is not None:
                out.append((row["step"], row["valid_loss"]))
    return out


def main(argv):
    y_cut = None
    if len(argv) > 2 and argv[1] == "--ymax":
        y_cut = float(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) < 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    title, out_path, runs = argv[1], argv[2], []
    for spec in argv[3:]:
        label, _, path = spec.partition("=")
        runs.append((label, [(x, y) for x, y in points(path) if y_cut is None or y <= y_cut]))
    xs = [x for _, pts in runs for x, _ in pts]
    ys = [y for _, pts in runs for _, y in pts]
    x_max, y_min, y_max = max(xs), min(ys), max(ys)

    def sx(x):
        return LEFT + (RIGHT - LEFT) * x / x_max

    def sy(y):
        return BOTTOM - (BOTTOM - TOP) * (y - y_min) / (y_max - y_min)

    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="64" y="22" font-size="14">{title}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{RIGHT - LEFT}" height="{BOTTOM - TOP}" fill="none" stroke="#888"/>',
    ]
    for i in range(6):
        y = y_min + (y_max - y_min) * i / 5
        x = x_max * i / 5
        svg.append(f'<text x="{LEFT - 6:.1f}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3f}</text>')
        svg.append(f'<text x="{sx(x):.1f}" y="{BOTTOM + 18:.1f}" text-anchor="middle">{x:.0f}</text>')
    svg.append(f'<text x="{(LEFT + RIGHT) / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle">step</text>')
    svg.append(f'<text x="16" y="{(TOP + BOTTOM) / 2:.1f}" transform="rotate(-90 16 {(TOP + BOTTOM) / 2:.1f})" text-anchor="middle">validation nats/token</text>')
    for i, (label, pts) in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        svg.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{line}"/>')
        ly = TOP + 14 + 18 * i
        svg.append(f'<line x1="{RIGHT + 10}" y1="{ly - 4}" x2="{RIGHT + 30}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        svg.append(f'<text x="{RIGHT + 34}" y="{ly}">{label}</text>')
    svg.append("</svg>")
    with open(out_path, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main(sys.argv)
