"""A script written for KenLM's Python module, and nothing else: it loads a model and
prints, as JSON, every number the module's API gives for each line of a text —
score (all four bos/eos choices), perplexity, full_scores, the incremental
State/BaseScore/BaseFullScore walk decoders make, and vocabulary membership.

    python kenlm_script.py MODEL SENTENCES          # with KenLM's own module
    python kenlm_script.py MODEL SENTENCES --elman  # with elman's in its place

make_golden.py stores the first as golden/*.json; test_kenlm_api.py checks that the
second gives the same numbers.
"""

import json
import sys


def numbers(kenlm, model_path, sentences):
    model = kenlm.Model(model_path)
    out = {"order": model.order, "repr": repr(model).startswith("<Model from "), "lines": []}
    for sentence in sentences:
        line = {"sentence": sentence}
        for bos in (True, False):
            for eos in (True, False):
                line["score_bos%d_eos%d" % (bos, eos)] = model.score(sentence, bos=bos, eos=eos)
        line["perplexity"] = model.perplexity(sentence)
        line["full_scores"] = [list(x) for x in model.full_scores(sentence)]
        line["full_scores_no_bos_eos"] = [list(x) for x in model.full_scores(sentence, bos=False, eos=False)]

        # The incremental walk a beam-search decoder makes: two states swapped each word.
        state, next_state = kenlm.State(), kenlm.State()
        model.BeginSentenceWrite(state)
        walk = []
        for word in sentence.split() + ["</s>"]:
            walk.append(model.BaseScore(state, word, next_state))
            state, next_state = next_state, state
        line["base_scores"] = walk

        state, next_state = kenlm.State(), kenlm.State()
        model.NullContextWrite(state)
        full = []
        for word in sentence.split():
            r = model.BaseFullScore(state, word, next_state)
            full.append([r.log_prob, r.ngram_length, r.oov])
            state, next_state = next_state, state
        line["base_full_scores_null_context"] = full
        line["contains"] = [word in model for word in sentence.split()]
        out["lines"].append(line)
    return out


def main():
    model_path, sentences_path = sys.argv[1], sys.argv[2]
    if "--elman" in sys.argv[3:]:
        import elman as kenlm
    else:
        import kenlm
    with open(sentences_path, encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f]
    json.dump(numbers(kenlm, model_path, sentences), sys.stdout, separators=(",", ":"), ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
