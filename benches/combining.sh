#!/usr/bin/env bash
# The PTB table of docs/combining.md: the test perplexity of an RNN checkpoint alone, of a
# 5-gram alone, and of their combinations (λ fitted by EM on the validation text; the
# cache and dynamic-evaluation settings as given), each row printed with its command.
#
#   benches/combining.sh CKPT NGRAM [PTB_DIR] [DEVICE]
#
# Environment: CACHE="--cache-size 500 --cache-theta 0.3 --cache-lambda 0.1",
# DYNAMIC="--dynamic-lr 0.05", SEQ_LEN (default: the run's), ELMAN (the binary).
set -euo pipefail
ckpt=${1:?usage: benches/combining.sh CKPT NGRAM [PTB_DIR] [DEVICE]}
ngram=${2:?usage: benches/combining.sh CKPT NGRAM [PTB_DIR] [DEVICE]}
ptb=${3:-../shared/data/ptb}
device=${4:-auto}
elman=${ELMAN:-target/release/elman}
cache=${CACHE:---cache-size 500 --cache-theta 0.3 --cache-lambda 0.1}
dynamic=${DYNAMIC:---dynamic-lr 0.05}
seq=${SEQ_LEN:+--seq-len $SEQ_LEN}
test=$ptb/ptb.test.txt
valid=$ptb/ptb.valid.txt
[ -f "$test" ] || { echo "no PTB test text at $test"; exit 1; }

mix="--ngram $ngram --tune-on $valid"
echo "| model | test perplexity | vs the RNN alone | λ | seconds | command |"
echo "|---|---|---|---|---|---|"
kn=$("$elman" ngram eval --model "$ngram" --data "$test" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])')
rnn=""
row() {
    local name=$1; shift
    local out
    out=$("$elman" eval --ckpt "$ckpt" --data "$test" --device "$device" $seq --json "$@" 2>/dev/null)
    read -r ppl lambda seconds < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["perplexity"], j.get("lambda","—"), j["seconds"])' "$out")
    [ -n "$rnn" ] || rnn=$ppl
    python3 -c 'import sys; n,p,r,l,s,c=sys.argv[1:]; l=l if l=="—" else "%.3f"%float(l); print("| %s | %.2f | %+.1f %% | %s | %.1f | `elman eval --ckpt CK --data ptb.test.txt %s` |"%(n,float(p),100*(float(p)/float(r)-1),l,float(s),c))' \
        "$name" "$ppl" "$rnn" "$lambda" "$seconds" "$*"
}
row "RNN" 
echo "| KN5 | $(printf %.2f "$kn") | $(python3 -c "print('%+.1f %%' % (100*($kn/$rnn-1)))") | — | — | \`elman ngram eval --model KN5 --data ptb.test.txt\` |"
row "RNN + KN5" $mix
row "RNN + cache" $cache
row "RNN, dynamic evaluation" $dynamic
row "RNN + cache + dynamic" $cache $dynamic
row "RNN + KN5 + cache" $mix $cache
row "RNN + KN5 + dynamic" $mix $dynamic
row "all: RNN + KN5 + cache + dynamic" $mix $cache $dynamic
