#!/usr/bin/env python3
"""Writes lmplz_golden.json: digests of the models KenLM's lmplz builds, for
tests/ngram_lmplz.rs to hold `elman ngram train` to.

Two texts: corpus.txt here (written by this script from a fixed seed: 40,000 words over 1,500
types, mostly a fixed successor, else a skewed choice; sentences of 3-20 words), and, when ../shared/data/ptb is
present, PTB's training text with the literal <unk> spelled UNKWORD (lmplz refuses the
literal one; elman reads either). For each configuration (order, --prune thresholds,
--limit_vocab_file) the digest holds the n-gram count per order, an FNV-1a hash of the
sorted n-gram list (so the sets must be equal), and about 300 of its n-grams' log10 probability
and back-off as lmplz printed them, and per order the sums of all log10 probabilities and
of all back-offs (`<s>`'s probability left out). lmplz runs with --discount_fallback, which elman
applies by itself where the discounts cannot be estimated.

    python3 make_lmplz_golden.py /path/to/kenlm/build/bin/lmplz
"""
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PTB = os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "ptb", "ptb.train.txt")


def corpus():
    rng = random.Random(7)
    words = [f"t{i}" for i in range(1500)]
    skewed = lambda: int(len(words) * rng.random() ** 2.5)
    lines, total = [], 0
    while total < 40000:
        n = rng.randint(3, 20)
        word, line = skewed(), []
        for _ in range(n):
            line.append(words[word])
            # Mostly a fixed successor, so that longer n-grams repeat.
            word = (word * 7 + 3) % len(words) if rng.random() < 0.7 else skewed()
        lines.append(" ".join(line))
        total += n
    return "\n".join(lines) + "\n"


def fnv(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def parse(arpa):
    """{(n, 'w1 w2'): (log10 p, log10 back-off)} from ARPA text."""
    out, n = {}, 0
    for line in arpa.split("\n"):
        if line.startswith("\\") and line.endswith("-grams:"):
            n = int(line[1:line.index("-")])
        elif n and line and not line.startswith("\\"):
            f = line.split("\t")
            out[(n, f[1])] = (float(f[0]), float(f[2]) if len(f) > 2 else 0.0)
    return out


def digest(model):
    keys = sorted(model)
    order = max(n for n, _ in keys)
    listing = "\n".join(f"{n}\t{g}" for n, g in keys)
    step = max(97, len(keys) // 300)
    samples = [[n, g, model[(n, g)][0], model[(n, g)][1]] for n, g in keys[::step] if g != "<s>"]
    sums = [[sum(model[k][i] for k in keys if k[0] == n and k[1] != "<s>") for n in range(1, order + 1)] for i in (0, 1)]
    return {"counts": [sum(1 for k in keys if k[0] == n) for n in range(1, order + 1)], "fnv": fnv(listing), "sums": sums, "samples": samples}


def build(lmplz, text_path, order, prune, vocab):
    args = [lmplz, "-o", str(order), "-S", "1G", "--discount_fallback"]
    if prune:
        args += ["--prune"] + [str(t) for t in prune]
    with tempfile.TemporaryDirectory() as tmp:
        if vocab is not None:
            path = os.path.join(tmp, "vocab.txt")
            with open(path, "w") as f:
                f.write("\n".join(vocab) + "\n")
            args += ["--limit_vocab_file", path]
        with open(text_path, "rb") as text:
            arpa = subprocess.run(args, stdin=text, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout.decode()
    return digest(parse(arpa))


def frequent(text, k):
    counts = {}
    for w in text.split():
        counts[w] = counts.get(w, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))[:k]


def main():
    lmplz = sys.argv[1]
    text = corpus()
    with open(os.path.join(HERE, "corpus.txt"), "w") as f:
        f.write(text)
    golden = {"lmplz": "KenLM built from its source (lmplz -S 1G)", "corpus": [], "ptb": []}
    path = os.path.join(HERE, "corpus.txt")
    for order, prune, vocab_size in [(3, [], None), (4, [0, 1, 1], None), (4, [0, 0, 2, 3], None), (3, [], 150), (3, [0, 1], 200)]:
        vocab = frequent(text, vocab_size) if vocab_size else None
        golden["corpus"].append({"order": order, "prune": prune, "limit_vocab_top": vocab_size, **build(lmplz, path, order, prune, vocab)})
    if os.path.exists(PTB):
        with open(PTB) as f:
            ptb = f.read().replace("<unk>", "UNKWORD")
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as tmp:
            tmp.write(ptb)
        try:
            for order, prune, vocab_size in [(5, [], None), (5, [0, 1, 1, 1], None), (3, [0, 0, 2], 3000)]:
                vocab = frequent(ptb, vocab_size) if vocab_size else None
                golden["ptb"].append({"order": order, "prune": prune, "limit_vocab_top": vocab_size, **build(lmplz, tmp.name, order, prune, vocab)})
        finally:
            os.unlink(tmp.name)
    with open(os.path.join(HERE, "lmplz_golden.json"), "w") as f:
        json.dump(golden, f, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
