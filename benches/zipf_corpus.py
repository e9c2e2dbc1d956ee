#!/usr/bin/env python3
"""A synthetic corpus for n-gram scaling runs: WORDS Zipf-distributed words (exponent 1)
over TYPES types, in sentences of 5-30 words, one per line, from a fixed seed (no
download). The same arguments always give the same bytes.

    python3 benches/zipf_corpus.py --words 20000000 --types 50000 --seed 1 > zipf20m.txt

Then, side by side (docs/ngram.md has the table):
    /usr/bin/time -v target/release/elman ngram train --order 5 --memory 256M --data zipf20m.txt --out z.arpa
    /usr/bin/time -v lmplz -o 5 -S 256M < zipf20m.txt > z-kenlm.arpa
"""
import argparse
import itertools
import random
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--words", type=int, default=20_000_000)
    p.add_argument("--types", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = random.Random(a.seed)
    names = [f"w{i}" for i in range(a.types)]
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(a.types)))
    out = sys.stdout
    written = 0
    block = []
    while written < a.words:
        length = min(rng.randint(5, 30), a.words - written)
        block.append(" ".join(rng.choices(names, cum_weights=cumulative, k=length)))
        written += length
        if len(block) >= 10_000:
            out.write("\n".join(block) + "\n")
            block.clear()
    if block:
        out.write("\n".join(block) + "\n")


if __name__ == "__main__":
    main()
