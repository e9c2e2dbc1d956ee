"""Rnn beyond the CLI's numbers: stepping one token at a time from a state the caller
holds gives the scores of a whole-text pass, the vocabulary round-trips, bad arguments
are refused with ValueError, models are shared across threads, and on a GPU (lavapipe in
CI) scores match the CPU's."""

import concurrent.futures
import os

import numpy as np
import pytest

import elman


@pytest.mark.parametrize("run", ["char_run", "word_run"])
def test_stepping_token_by_token_gives_the_streams_scores(run, request, corpus_text):
    rnn = elman.Rnn(request.getfixturevalue(run))
    text = "\n".join(corpus_text.splitlines()[40:43]) + "\n"
    _, per_token = rnn.score(text)
    ids = rnn.encode(text)
    if rnn.tokenizer == "word":
        # A word stream starts from <eos>, so that every word is predicted.
        ids = [rnn.vocab.index("<eos>")] + ids
    state = rnn.initial_state()
    walked = []
    for token, following in zip(ids, ids[1:]):
        log10, state = rnn.step(state, token)
        assert abs(np.sum(10.0 ** log10) - 1.0) < 1e-9
        walked.append(log10[following])
    # elman eval's float32 softmax against step's float64 one.
    np.testing.assert_allclose(walked, per_token, rtol=0, atol=1e-5)


def test_a_state_can_be_stepped_again_and_tokens_go_by_id_or_spelling(char_run):
    rnn = elman.Rnn(char_run)
    start = rnn.initial_state()
    a, after_a = rnn.step(start, "T")
    b, _ = rnn.step(start, rnn.vocab.index("T"))
    assert np.array_equal(a, b)
    c, _ = rnn.step(after_a, "h")
    d, _ = rnn.step(after_a, "h")
    assert np.array_equal(c, d) and not np.array_equal(a, c)
    assert [h.shape for h in after_a.hidden] == [(24,), (16,)]
    assert "RnnState(layers [24, 16])" == repr(after_a)


def test_vocabulary_round_trips(char_run, word_run):
    for run in (char_run, word_run):
        rnn = elman.Rnn(run)
        ids = rnn.encode("the model learns the next token\n")
        assert rnn.decode(ids).split() == "the model learns the next token".split()
        assert len(rnn.vocab) == len(set(rnn.vocab))
    assert elman.Rnn(char_run).tokenizer == "char" and elman.Rnn(word_run).tokenizer == "word"


def test_bad_arguments_raise_value_error_with_the_clis_message(char_run, word_run):
    rnn = elman.Rnn(char_run)
    state = rnn.initial_state()
    with pytest.raises(ValueError, match="outside the vocabulary"):
        rnn.step(state, len(rnn.vocab))
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        rnn.step(state, "\u2603")
    with pytest.raises(ValueError):
        rnn.step(state, -1)
    with pytest.raises(ValueError, match="layer sizes"):
        elman.Rnn(word_run).step(state, 0)
    with pytest.raises(ValueError, match="\u2603"):
        rnn.score("a snowman \u2603 is not in the manual\n")
    with pytest.raises(ValueError, match="device"):
        elman.Rnn(char_run, device="tpu")
    with pytest.raises(ValueError, match="temperature"):
        rnn.sample(5, temperature=0.0)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        rnn.decode([10**6])
    with pytest.raises(TypeError):
        rnn.score(42)


def test_models_are_shared_across_threads(char_run, ngram_models, corpus_text):
    rnn = elman.Rnn(char_run)
    model = elman.Model(ngram_models["binary"])
    lines = [line for line in corpus_text.splitlines() if len(line) > 2][:16]
    serial = [(rnn.score(line + "\n")[0], model.score(line)) for line in lines]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda line: (rnn.score(line + "\n")[0], model.score(line)), lines))
    assert threaded == serial


def test_gpu_scores_match_the_cpu(char_run, corpus_text):
    try:
        gpu = elman.Rnn(char_run, device="gpu")
    except RuntimeError as e:
        if os.environ.get("ELMAN_REQUIRE_GPU") == "1":
            raise
        pytest.skip("no GPU adapter: %s" % e)
    cpu = elman.Rnn(char_run)
    text = "\n".join(corpus_text.splitlines()[:4]) + "\n"
    np.testing.assert_allclose(gpu.score(text)[1], cpu.score(text)[1], rtol=0, atol=1e-4)
    np.testing.assert_allclose(gpu.score(text, sentences=True)[1], cpu.score(text, sentences=True)[1], rtol=0, atol=1e-4)
    assert gpu.device != "cpu"
