"""The module gives the CLI's numbers: n-gram scores as `elman ngram query` prints them
(to the last printed digit: the CLI prints float32 values), RNN scores as `elman query`
and `elman eval` print them (the same float64 values), and samples as `elman sample`
prints them (the same text)."""

import numpy as np
import pytest

import elman
from conftest import DATA, json_lines


def query_lines(stdout):
    """`ngram query` output: per line [(token, id, length, log10)], total, OOVs."""
    lines = []
    for row in stdout.splitlines():
        if not row.startswith("Perplexity") and "Total:" in row:
            fields, total = row.split("Total:")
            tokens = []
            for item in fields.split("\t")[:-1]:
                token_id, length, log10 = item.split(" ")
                token, token_id = token_id.rsplit("=", 1)
                tokens.append((token, int(token_id), int(length), np.float32(log10)))
            value, oov = total.split("OOV:")
            lines.append((tokens, np.float32(value), int(oov)))
    return lines


@pytest.mark.parametrize("kind", ["arpa", "binary"])
def test_ngram_scores_are_ngram_querys_to_the_last_digit(kind, cli, ngram_models, work):
    # Lines without literal markers (`ngram query` reads <s> and </s> as spaces, and
    # KenLM's module scores them as words) or a literal <unk>.
    sentences = [s for s in (DATA / "sentences.txt").read_text(encoding="utf-8").splitlines() if "<" not in s]
    text = work / "parity-sentences.txt"
    text.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    printed = query_lines(cli("ngram", "query", "--model", ngram_models[kind], "--data", text))
    model = elman.Model(ngram_models[kind])
    assert len(printed) == len(sentences)
    for sentence, (tokens, total, oov) in zip(sentences, printed):
        ours = list(model.full_scores(sentence))
        assert [(length, np.float32(p)) for p, length, _ in ours] == [(t[2], t[3]) for t in tokens], sentence
        assert sum(is_oov for _, _, is_oov in ours) == oov
        assert np.float32(model.score(sentence)) == total, sentence


@pytest.mark.parametrize("run", ["char_run", "word_run"])
@pytest.mark.parametrize("sentences", [False, True])
def test_rnn_scores_are_elman_querys(run, sentences, request, cli, corpus_text):
    path = request.getfixturevalue(run)
    text = "\n".join(corpus_text.splitlines()[30:36]) + "\n"
    flags = ["--sentences"] if sentences else []
    printed = json_lines(cli("query", "--ckpt", path, "--json", "--device", "cpu", *flags, stdin=text))
    summary = printed.pop()["summary"]
    rnn = elman.Rnn(path)
    total, per_token = rnn.score(text, sentences=sentences)
    assert per_token.dtype == np.float64
    assert per_token.tolist() == [t["log10_prob"] for t in printed]
    assert total == summary["log10_total"]
    assert rnn.perplexity(text, sentences=sentences) == summary["perplexity"]
    if not sentences:
        data = path / "eval.txt"
        data.write_text(text, encoding="utf-8")
        evaluated = json_lines(cli("eval", "--ckpt", path, "--data", data, "--json", "--device", "cpu"))[0]
        assert rnn.perplexity(text) == evaluated["perplexity"]


@pytest.mark.parametrize("run,prime", [("char_run", "The "), ("char_run", ""), ("word_run", "the model")])
def test_samples_are_elman_samples(run, prime, request, cli):
    path = request.getfixturevalue(run)
    printed = cli("sample", "--ckpt", path, "--len", 60, "--seed", 7, "--temperature", 0.9, "--top-k", 5, "--prime", prime, "--device", "cpu")
    rnn = elman.Rnn(path)
    ours = rnn.sample(60, temperature=0.9, top_k=5, prime=prime, seed=7)
    assert ours + "\n" == printed
    assert rnn.sample(60, temperature=0.9, top_k=5, prime=prime, seed=7) == ours
    assert rnn.sample(60, temperature=0.9, top_k=5, prime=prime, seed=8) != ours
