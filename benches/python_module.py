"""The Python module side by side with its peers, in one run on one machine:

- n-gram: `Model.score` and `full_scores` over every sentence of a text, elman's module
  (elman binary model) against KenLM's (`pip install kenlm`; a model it loads from ARPA
  is its probing hash structure, the same as its probing binary);
- RNN: `Rnn.score` over a text against `elman eval` on the same checkpoint (the scoring
  time each reports, model loading excluded; tokens/s).

    python benches/python_module.py --arpa ptb5.arpa --binary ptb5.bin \\
        --text ../shared/data/ptb/ptb.test.txt --ckpt RUN [--elman target/release/elman]

Times are the median of --repeats runs (runs alternate between the two sides).
"""

import argparse
import json
import platform
import statistics
import subprocess
import time


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternate(a, b, repeats):
    """Median seconds of a and of b, run one after the other `repeats` times, and the
    median of the pairs' ratios b/a (a pair shares the machine's state of the moment)."""
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(timed(a, 1))
        tb.append(timed(b, 1))
    return statistics.median(ta), statistics.median(tb), statistics.median(y / x for x, y in zip(ta, tb))


def ngram_rows(args, sentences):
    import elman
    import kenlm

    ours, theirs = elman.Model(args.binary), kenlm.Model(args.kenlm_binary or args.arpa)
    words = sum(len(s.split()) + 1 for s in sentences)
    check = sum(ours.score(s) for s in sentences), sum(theirs.score(s) for s in sentences)
    assert abs(check[0] - check[1]) <= 1e-6 * abs(check[1]), check

    def scores(model):
        return lambda: [model.score(s) for s in sentences]

    def full(model):
        return lambda: [list(model.full_scores(s)) for s in sentences]

    rows = []
    for what, make in (("Model.score", scores), ("Model.full_scores", full)):
        t_ours, t_theirs, speedup = alternate(make(ours), make(theirs), args.repeats)
        rows.append((what, words / t_ours, words / t_theirs, speedup))
    return rows


def rnn_row(args, text):
    import elman

    rnn = elman.Rnn(args.ckpt)
    tokens = len(rnn.score(text)[1])

    def python_side():
        rnn.score(text)

    def cli_side():
        out = subprocess.run([args.elman, "eval", "--ckpt", args.ckpt, "--data", args.text, "--json", "--device", "cpu"],
                             capture_output=True, text=True, check=True).stdout
        cli_seconds.append(json.loads(out)["seconds"])

    cli_seconds = []
    python_times = []
    for _ in range(args.repeats):
        python_times.append(timed(python_side, 1))
        cli_side()
    return tokens / statistics.median(python_times), tokens / statistics.median(cli_seconds)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arpa", required=True)
    p.add_argument("--binary", required=True)
    p.add_argument("--kenlm-binary", help="KenLM's probing binary of the same model (build_binary probing); default: the ARPA file")
    p.add_argument("--text", required=True)
    p.add_argument("--ckpt")
    p.add_argument("--elman", default="target/release/elman")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    sentences = text.splitlines()
    print("machine: %s, %s, Python %s" % (platform.processor() or platform.machine(), platform.platform(), platform.python_version()))
    print("| call | elman (words/s) | kenlm (words/s) | elman / kenlm (median of pairs) |")
    print("|---|---|---|---|")
    for what, ours, theirs, speedup in ngram_rows(args, sentences):
        print("| %s | %.0f | %.0f | %.2fx |" % (what, ours, theirs, speedup))
    if args.ckpt:
        python_rate, cli_rate = rnn_row(args, text)
        print()
        print("| scoring | tokens/s |")
        print("|---|---|")
        print("| Rnn.score | %.0f |" % python_rate)
        print("| elman eval | %.0f |" % cli_rate)
        print("Rnn.score / elman eval: %.3f" % (python_rate / cli_rate))


if __name__ == "__main__":
    main()
