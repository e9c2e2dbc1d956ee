"""Hostile files through the module, as the CLI's robustness tests and fuzzers put them
to the CLI: every load either succeeds or raises OSError with a one-line message, and
a loaded model's calls return or raise ValueError. A crash would take pytest down with
it, failing the suite.

Inputs: files that are missing, empty, a folder or noise; an ARPA header claiming 10^18
unigrams; and seeded mutations (truncations, flipped and overwritten bytes) of a valid
ARPA file, binary model and checkpoint.
"""

import random

import pytest

import elman

N_MUTANTS = 120


def mutants(data, seed):
    rng = random.Random(seed)
    for i in range(N_MUTANTS):
        b = bytearray(data)
        kind = i % 3
        if kind == 0:
            del b[rng.randrange(len(b)):]
        elif kind == 1:
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        else:
            at = rng.randrange(len(b))
            b[at:at + 8] = rng.choice([b"\xff" * 8, b"\x00" * 8, b"\x7f\xff\xff\xff\xff\xff\xff\xff", b"99999999"])
        yield bytes(b)


def load(kind, path):
    """The model at `path`, or None when loading raised OSError with a one-line message."""
    try:
        return kind(path)
    except OSError as e:
        assert str(e) and "\n" not in str(e)
        return None


def exercise_ngram(path):
    model = load(elman.Model, path)
    for sentence in ["the model", "", "zebra"] if model else []:
        model.score(sentence)
        list(model.full_scores(sentence, bos=False))
        state, out = elman.State(), elman.State()
        model.BeginSentenceWrite(state)
        model.BaseScore(state, "the", out)
    return int(model is not None)


def exercise_rnn(path):
    rnn = load(elman.Rnn, path)
    calls = (lambda: rnn.score("The model.\n"), lambda: rnn.sample(5), lambda: rnn.step(rnn.initial_state(), 0))
    for call in calls if rnn else []:
        try:
            call()
        except ValueError:
            pass
    return int(rnn is not None)


def test_files_that_are_not_models_raise_oserror(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "noise").write_bytes(bytes(random.Random(1).randrange(256) for _ in range(4096)))
    (tmp_path / "huge.arpa").write_text("\\data\\\nngram 1=1000000000000000000\n\n\\1-grams:\n-1\t<unk>\n\n\\end\\\n")
    for name in ["missing", "empty", "noise", "huge.arpa", "."]:
        with pytest.raises(OSError) as info:
            elman.Model(tmp_path / name)
        assert "\n" not in str(info.value)
        with pytest.raises(OSError):
            elman.Rnn(tmp_path / name if name != "." else tmp_path / "missing")
    with pytest.raises(OSError, match="missing"):
        elman.Model(str(tmp_path / "missing"))


@pytest.mark.parametrize("kind", ["arpa", "binary"])
def test_mutated_ngram_models_never_crash(kind, ngram_models, tmp_path):
    data = ngram_models[kind].read_bytes()
    loaded = 0
    for i, mutant in enumerate(mutants(data, seed={"arpa": 1, "binary": 2}[kind])):
        path = tmp_path / ("m%d" % i)
        path.write_bytes(mutant)
        loaded += exercise_ngram(path)
    assert loaded < N_MUTANTS, "some mutants must be refused, or the mutations test nothing"


def test_mutated_checkpoints_never_crash(char_run, tmp_path):
    data = (char_run / "model.safetensors").read_bytes()
    loaded = 0
    for i, mutant in enumerate(mutants(data, seed=5)):
        path = tmp_path / ("c%d.safetensors" % i)
        path.write_bytes(mutant)
        loaded += exercise_rnn(path)
    assert loaded < N_MUTANTS
