"""KenLM's Python API: kenlm_script.py, written for KenLM's module, gives the numbers
KenLM's module gave (golden/*.json, made by make_golden.py) with elman's in its place,
on ARPA files and on the same models as elman binaries; and State, pickling, and the
rest of the API behave as KenLM's do.

Tolerance: KenLM scores in float32 and sums a sentence in float32; elman adds the same
float32 values in float64. Per-token values agree to 1e-6 relative; so do totals. A
perplexity is 10^(-total/words), so its log10 is held to the totals' 1e-6 relative (a
sentence of OOVs at -100 each has a perplexity near 1e82, where float32 sums move the
perplexity itself by more than 1e-5).
"""

import copy
import json
import math
import pickle
import subprocess
import sys

import pytest

import elman
from conftest import DATA, HERE

MODELS = ["manual3.arpa", "bigram.arpa", "no_unk.arpa"]


def script_numbers(model_path):
    out = subprocess.run(
        [sys.executable, str(HERE / "kenlm_script.py"), str(model_path), str(DATA / "sentences.txt"), "--elman"],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)


def assert_same(ours, golden, path="", rel=1e-6):
    if isinstance(golden, dict):
        assert set(ours) == set(golden), path
        for key in golden:
            if key == "perplexity":
                assert_same(math.log10(ours[key]), math.log10(golden[key]), "%s.log10(perplexity)" % path, rel)
            else:
                assert_same(ours[key], golden[key], "%s.%s" % (path, key), rel)
    elif isinstance(golden, list):
        assert len(ours) == len(golden), "%s: %d items, KenLM %d" % (path, len(ours), len(golden))
        for i, (a, b) in enumerate(zip(ours, golden)):
            assert_same(a, b, "%s[%d]" % (path, i), rel)
    elif isinstance(golden, float):
        assert abs(ours - golden) <= rel * max(1.0, abs(golden)), "%s: elman %r, KenLM %r" % (path, ours, golden)
    else:
        assert ours == golden, "%s: elman %r, KenLM %r" % (path, ours, golden)


@pytest.mark.parametrize("name", MODELS)
def test_a_kenlm_script_gives_kenlms_numbers_on_arpa(name):
    golden = json.loads((HERE / "golden" / (name + ".json")).read_text(encoding="utf-8"))
    assert_same(script_numbers(DATA / name), golden)


@pytest.mark.parametrize("layout", ["hashed", "compact"])
@pytest.mark.parametrize("name", MODELS)
def test_a_kenlm_script_gives_kenlms_numbers_on_the_binary_model(name, layout, cli, work):
    binary = work / (name + "." + layout + ".bin")
    cli("ngram", "build-binary", DATA / name, binary, "--layout", layout)
    golden = json.loads((HERE / "golden" / (name + ".json")).read_text(encoding="utf-8"))
    ours = script_numbers(binary)
    assert_same(ours, golden)
    # Exact mode: the binary model scores bit for bit as its ARPA file.
    assert ours["lines"] == script_numbers(DATA / name)["lines"]


def test_states_compare_hash_and_copy_by_their_context():
    model = elman.Model(str(DATA / "bigram.arpa"))
    a, b = elman.State(), elman.State()
    assert a == b and hash(a) == hash(b)
    model.BeginSentenceWrite(a)
    assert a != b and b < a
    c = copy.copy(a)
    d = copy.deepcopy(a)
    assert c == a == d and c is not a
    # The same object as input and output, as some decoders pass it.
    expected = model.BaseScore(a, "the", b)
    assert model.BaseScore(c, "the", c) == expected and c == b
    # After "the": P(cat | the) comes from the stored bigram.
    r = model.BaseFullScore(c, "cat", d)
    assert (r.ngram_length, r.oov) == (2, False)
    assert math.isclose(r.log_prob, -0.4, rel_tol=1e-6)
    assert repr(r).startswith("FullScoreReturn(")
    assert len({a, b, c}) == 2
    assert (a == "not a state") is False


def test_the_rest_of_kenlms_model_api():
    path = DATA / "bigram.arpa"
    model = elman.LanguageModel(path, elman.Config())
    assert model.order == 2
    assert model.path == str(path)
    assert repr(model) == "<Model from bigram.arpa>"
    assert "cat" in model and b"cat" in model and "dog" not in model
    assert model.score(b"the cat sat") == model.score("the cat sat")
    assert repr(model.score("", bos=False, eos=False)) == "0.0"  # as KenLM's, not -0.0
    again = pickle.loads(pickle.dumps(model))
    assert again.score("the cat sat") == model.score("the cat sat")
    # log10 p(the cat sat </s> | <s>) from the bigrams stored: -0.3 -0.4 -0.5 -0.2.
    assert math.isclose(model.score("the cat sat"), -1.4, rel_tol=1e-6)
    assert math.isclose(model.perplexity("the cat sat"), 10 ** (-model.score("the cat sat") / 4), rel_tol=1e-12)
    scores = list(model.full_scores("the dog"))
    assert [(n, oov) for _, n, oov in scores] == [(2, False), (1, True), (1, False)]
    # the -> <unk>: back-off(the) + p(<unk>); <unk> -> </s>: p(</s>).
    assert [round(p, 6) for p, _, _ in scores] == [-0.3, round(-0.3 - 1.2, 6), -0.8]


def test_words_split_on_every_kind_of_whitespace():
    model = elman.Model(DATA / "bigram.arpa")
    plain = model.score("the cat sat")
    for spaced in ["the\tcat  sat", " the\x0bcat\x0csat\r", "the\u00a0cat\u2003sat", "\nthe cat\n sat "]:
        assert model.score(spaced) == plain, repr(spaced)
        assert len(list(model.full_scores(spaced))) == 4
