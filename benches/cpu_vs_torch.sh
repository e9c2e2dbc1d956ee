#!/usr/bin/env bash
# elman's CPU path against torch.nn.RNN on the CPU: the same sizes, the same thread count,
# run in alternating pairs (elman, torch, elman, torch, …) so drift hits both; prints each
# pair and the median ratio per size, with the CPU model and SIMD level.
#
#   benches/cpu_vs_torch.sh [PAIRS] [THREADS]        (default 3 pairs, 2 threads)
#
# Needs python3 with torch (`pip install torch`) and ../shared/gpu/torch_rnn_bench.py (or
# TORCH_BENCH=path); skips with a reason when either is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-3}
THREADS=${2:-2}
STEPS=${STEPS:-30}
SIZES=${SIZES:-"65x64x512x1x32x64 65x64x512x2x32x64 65x64x1024x1x64x128 65x64x128x1x32x64"}
TORCH_BENCH=${TORCH_BENCH:-../shared/gpu/torch_rnn_bench.py}
if ! python3 -c "import torch" 2>/dev/null; then
    echo "skipping: python3 cannot import torch (pip install torch)"
    exit 0
fi
if [ ! -f "$TORCH_BENCH" ]; then
    echo "skipping: $TORCH_BENCH not found (set TORCH_BENCH)"
    exit 0
fi
cargo build --release --quiet
ELMAN=target/release/elman
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }
echo "cpu: $(RAYON_NUM_THREADS=$THREADS $ELMAN bench --device cpu --sizes 65x64x16x1x2x2 --steps 1 --warmup 0 --json | field 'd["cpu_device"]')"
echo "torch: $(python3 -c 'import torch; print(torch.__version__, torch.backends.cpu.get_cpu_capability())' 2>/dev/null), $THREADS threads"
for size in $SIZES; do
    IFS=x read -r V D H L N T <<< "$size"
    ratios=()
    for pair in $(seq "$PAIRS"); do
        e=$(RAYON_NUM_THREADS=$THREADS $ELMAN bench --device cpu --sizes "$size" --steps "$STEPS" --json | field 'd["results"][0]["cpu_tokens_per_s"]')
        t=$(python3 "$TORCH_BENCH" --device cpu --threads "$THREADS" --vocab "$V" --embed "$D" --hidden "$H" --layers "$L" \
            --batch "$N" --seq "$T" --steps "$STEPS" --warmup 3 2>/dev/null | field 'd["tokens_per_s"]')
        r=$(python3 -c "print(f'{$e / $t:.3f}')")
        ratios+=("$r")
        printf '%-22s pair %d: elman %9.0f tok/s  torch %9.0f tok/s  ratio %s\n' "$size" "$pair" "$e" "$t" "$r"
    done
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
    echo "$size median elman/torch: $median"
done
