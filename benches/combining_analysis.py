#!/usr/bin/env python3
"""Where one model beats another, token by token (docs/combining.md).

Reads two `elman query --json` outputs over the same text, A and B (e.g. the RNN alone,
and the n-gram model alone: `--ngram M --lambda 0`, so both are on the RNN's outcomes),
and the training text, and prints two Markdown tables of the mean per-token difference
log10 p_A − log10 p_B:
  - by the token's frequency in the training text (buckets by count);
  - by the distance, in tokens, since the same word last occurred in the scored text.
A positive mean: A gives those tokens more probability.

usage: benches/combining_analysis.py A.jsonl B.jsonl TRAIN.txt [NAME_A NAME_B]
"""

import json
import math
import sys
from collections import Counter


def tokens(path):
    """The per-token objects of a query --json output (the summary line left out)."""
    out = []
    with open(path) as f:
        for line in f:
            obj = json.loads(line)
            if "summary" not in obj:
                out.append(obj)
    return out


def table(title, rows, a_name, b_name):
    print(f"| {title} | tokens | share | mean log10 p, {a_name} | mean log10 p, {b_name} | difference | {a_name} better on |")
    print("|---|---|---|---|---|---|---|")
    total = sum(len(r[1]) for r in rows)
    for label, pairs in rows:
        if not pairs:
            continue
        n = len(pairs)
        r = sum(p[0] for p in pairs) / n
        g = sum(p[1] for p in pairs) / n
        better = sum(1 for p in pairs if p[0] > p[1]) / n
        print(f"| {label} | {n:,} | {100 * n / total:.1f} % | {r:.3f} | {g:.3f} | {r - g:+.3f} | {100 * better:.0f} % |")
    print()


def main():
    if len(sys.argv) not in (4, 6):
        sys.exit(__doc__)
    a_name, b_name = sys.argv[4:6] if len(sys.argv) == 6 else ("RNN", "n-gram")
    rnn, ngram = tokens(sys.argv[1]), tokens(sys.argv[2])
    if len(rnn) != len(ngram) or any(a["token"] != b["token"] for a, b in zip(rnn, ngram)):
        sys.exit("the two outputs do not score the same tokens")
    counts = Counter()
    with open(sys.argv[3]) as f:
        for line in f:
            counts.update(line.split())
            counts["<eos>"] += 1

    freq_edges = [(0, 0, "unseen in training"), (1, 10, "1–10"), (11, 100, "11–100"), (101, 1000, "101–1,000"),
                  (1001, 10000, "1,001–10,000"), (10001, math.inf, "> 10,000")]
    by_freq = [(label, []) for _, _, label in freq_edges]
    dist_edges = [(1, 10, "1–10"), (11, 100, "11–100"), (101, 1000, "101–1,000"), (1001, math.inf, "> 1,000"),
                  (None, None, "first occurrence")]
    by_dist = [(label, []) for _, _, label in dist_edges]
    last = {}
    for k, (a, b) in enumerate(zip(rnn, ngram)):
        word = a["token"]
        pair = (a["log10_prob"], b["log10_prob"])
        c = counts.get(word, 0)
        for i, (lo, hi, _) in enumerate(freq_edges):
            if lo <= c <= hi:
                by_freq[i][1].append(pair)
                break
        if word in last:
            d = k - last[word]
            for i, (lo, hi, _) in enumerate(dist_edges[:-1]):
                if lo <= d <= hi:
                    by_dist[i][1].append(pair)
                    break
        else:
            by_dist[-1][1].append(pair)
        last[word] = k
    table("count in the training text", by_freq, a_name, b_name)
    table("tokens since the word last occurred", by_dist, a_name, b_name)


if __name__ == "__main__":
    main()
