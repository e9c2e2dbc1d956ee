"""elman from Python.

n-gram models with KenLM's Python API (``Model``, ``State``, ``FullScoreReturn``), so
that code written for ``kenlm`` runs after changing the import, and RNN checkpoints
(``Rnn``) scored, stepped and sampled. Every score is a log10 probability, as in KenLM
and ``elman query``.
"""

from ._elman import FullScoreReturn, Model, Rnn, RnnState, State, __version__

LanguageModel = Model
"""KenLM's older name for ``Model``."""


class LoadMethod:
    """KenLM's load methods, accepted for compatibility: elman maps a binary model and
    reads an ARPA file into memory, whichever is asked."""

    LAZY = 0
    POPULATE_OR_LAZY = 1
    POPULATE_OR_READ = 2
    READ = 3
    PARALLEL_READ = 4


class ARPALoadComplain:
    """KenLM's ARPA warning levels, accepted for compatibility (elman refuses a malformed
    ARPA file whatever is asked)."""

    ALL = 0
    EXPENSIVE = 1
    NONE = 2


class Config:
    """KenLM's loading options, accepted by ``Model(path, config)`` for compatibility;
    they change nothing in elman."""

    def __init__(self):
        self.load_method = LoadMethod.LAZY
        self.show_progress = True
        self.arpa_complain = ARPALoadComplain.ALL


__all__ = [
    "ARPALoadComplain",
    "Config",
    "FullScoreReturn",
    "LanguageModel",
    "LoadMethod",
    "Model",
    "Rnn",
    "RnnState",
    "State",
    "__version__",
]
