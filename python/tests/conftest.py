"""Shared fixtures: the elman CLI the module is checked against, and small models trained
with it once per session (a char RNN, a word RNN, a word 3-gram as ARPA and binary).

The CLI is $ELMAN_BIN (set by the Rust test that runs this suite), else the repository's
target/release/elman; tests that need it skip, saying why, when neither exists.
"""

import json
import os
import pathlib
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = HERE / "data"
CORPUS = REPO / "corpus" / "manual.txt"


def _elman_bin():
    given = os.environ.get("ELMAN_BIN")
    if given:
        if not pathlib.Path(given).is_file():
            raise RuntimeError("ELMAN_BIN names %s, which is not a file" % given)
        return given
    built = REPO / "target" / "release" / "elman"
    return str(built) if built.is_file() else None


@pytest.fixture(scope="session")
def elman_bin():
    path = _elman_bin()
    if path is None:
        pytest.skip("no elman CLI to compare with: set ELMAN_BIN or run `cargo build --release` first")
    return path


@pytest.fixture(scope="session")
def cli(elman_bin):
    """Runs `elman ARGS...` and returns its standard output (a failure fails the test)."""

    def run(*args, stdin=None):
        done = subprocess.run([elman_bin, *map(str, args)], capture_output=True, text=True, input=stdin)
        if done.returncode != 0:
            raise AssertionError("elman %s failed: %s" % (" ".join(map(str, args)), done.stderr))
        return done.stdout

    return run


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("elman")


@pytest.fixture(scope="session")
def corpus_text():
    return CORPUS.read_text(encoding="utf-8")


def _train_rnn(cli, work, name, hidden, *extra):
    out = work / name
    cli("train", "--data", CORPUS, "--steps", 30, "--embed", 8, "--hidden", hidden, "--seq-len", 16, "--batch", 4,
        "--device", "cpu", "--out", out, "--log-every", 10, "--eval-every", 30, *extra)
    return out


@pytest.fixture(scope="session")
def char_run(cli, work):
    """A two-layer char RNN (24, 16) trained for 30 steps on the embedded manual."""
    return _train_rnn(cli, work, "char", "24,16")


@pytest.fixture(scope="session")
def word_run(cli, work):
    """A one-layer word RNN (20) trained for 30 steps on the embedded manual."""
    return _train_rnn(cli, work, "word", "20", "--tokenizer", "word")


@pytest.fixture(scope="session")
def ngram_models(cli, work):
    """A word 3-gram of the manual as ARPA and as elman binary."""
    arpa, binary = work / "manual.arpa", work / "manual.bin"
    cli("ngram", "train", "--order", 3, "--data", CORPUS, "--out", arpa)
    cli("ngram", "build-binary", arpa, binary)
    return {"arpa": arpa, "binary": binary}


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]
