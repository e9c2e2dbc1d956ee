#!/usr/bin/env python3
"""Writes kenlm_golden.json: what KenLM scores for each sentence of srilm_sentences.txt
under each ARPA fixture here, for tests/ngram_arpa.rs to hold elman to.

The fixtures are written as other toolkits write ARPA files (fields apart by spaces or
tabs, trailing blanks, no <unk>, -99 log probabilities, blank lines and CRLF line ends,
a positive log probability as IRSTLM writes some). KenLM's reader wants tabs and nothing
else, so each fixture is first rewritten field for field in KenLM's spelling (the same
numbers and tokens, one tab between fields, a positive log probability as 0, which is
what `build_binary -i` substitutes: KenLM's reader refuses them otherwise); KenLM's Python
module (`pip install kenlm`) then scores that file. Run from this folder:

    python3 make_kenlm_golden.py
"""
import json
import os
import tempfile

import kenlm

FIXTURES = ["srilm_style.arpa", "srilm_variants.arpa"]


def canonical(path):
    """The fixture in KenLM's spelling: stripped lines, tab-separated n-gram fields."""
    out, order, section = [], 0, 0
    with open(path, encoding="utf-8", newline="") as f:
        lines = [line.strip() for line in f.read().replace("\r\n", "\n").split("\n")]
    started = False
    for line in lines:
        if not started:
            if line == "\\data\\":
                started = True
                out.append(line)
            continue
        if line.startswith("ngram "):
            n, count = line[len("ngram "):].split("=")
            out.append(f"ngram {int(n)}={int(count)}")
            order = int(n)
        elif line.startswith("\\") and line.endswith("-grams:"):
            section = int(line[1:line.index("-")])
            out.append(line)
        elif line == "\\end\\" or line == "":
            out.append(line)
        else:
            fields = line.split()
            prob, words, rest = fields[0], fields[1:1 + section], fields[1 + section:]
            if float(prob) > 0:
                prob = "0"
            text = prob + "\t" + " ".join(words)
            if rest:
                text += "\t" + rest[0]
            out.append(text)
    return "\n".join(out).rstrip("\n") + "\n", order


def main():
    sentences = [line.rstrip("\n") for line in open("srilm_sentences.txt", encoding="utf-8")]
    golden = {}
    for name in FIXTURES:
        text, order = canonical(name)
        with tempfile.NamedTemporaryFile("w", suffix=".arpa", delete=False, encoding="utf-8") as tmp:
            tmp.write(text)
        try:
            model = kenlm.Model(tmp.name)
        finally:
            os.unlink(tmp.name)
        rows, total, oov_total, tokens, oovs = [], 0.0, 0.0, 0, 0
        for sentence in sentences:
            scores = [[p, length, oov] for p, length, oov in model.full_scores(sentence)]
            rows.append({"text": sentence, "tokens": scores})
            for p, _, oov in scores:
                total += p
                tokens += 1
                if oov:
                    oovs += 1
                    oov_total += p
        golden[name] = {
            "order": order,
            "sentences": rows,
            "tokens": tokens,
            "oov": oovs,
            "perplexity": 10 ** (-total / tokens),
            "perplexity_excluding_oov": 10 ** (-(total - oov_total) / (tokens - oovs)),
        }
    with open("kenlm_golden.json", "w", encoding="utf-8") as f:
        json.dump({"kenlm": "0.3.0 (Python module)", "fixtures": golden}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
