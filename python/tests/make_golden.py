"""Makes golden/*.json: kenlm_script.py run with KenLM's own Python module (pip install
kenlm) on each model in data/ and data/sentences.txt. The tests read the JSON files and
never need kenlm.

    python make_golden.py
"""

import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
MODELS = ["manual3.arpa", "bigram.arpa", "no_unk.arpa"]


def main():
    import kenlm  # noqa: F401  (fails early, naming what is missing)

    (HERE / "golden").mkdir(exist_ok=True)
    for name in MODELS:
        out = subprocess.run(
            [sys.executable, str(HERE / "kenlm_script.py"), str(HERE / "data" / name), str(HERE / "data" / "sentences.txt")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        json.loads(out)
        (HERE / "golden" / (name + ".json")).write_text(out, encoding="utf-8")
        print("wrote golden/%s.json" % name)


if __name__ == "__main__":
    main()
