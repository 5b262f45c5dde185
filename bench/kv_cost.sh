#!/usr/bin/env bash
# KV-cache cost curve on the `small` model: decode ms/token with and without the cache at several
# contexts, the fitted theoretical curves, and a plot. Writes docs/kv-cost.json and docs/kv-cost.svg and prints
# the markdown table that docs/kv-cache.md quotes.
# usage: bench/kv_cost.sh [KVIK] [CONTEXTS] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
kvik=${1:-build/kvik}
contexts=${2:-64,256,1024,2048}
reps=${3:-3}
model=${KVIK_BENCH_MODEL:-models/small-f32.gguf}
mkdir -p "$(dirname "$model")" docs
[[ -f $model ]] || "$kvik" make-model --preset small --dtype f32 -o "$model" >&2
"$kvik" bench -m "$model" -t 2 --kv-cost "$contexts" -r "$reps" --json >docs/kv-cost.json
# One run: the table printed below and the plot both come from docs/kv-cost.json.
/usr/bin/python3 bench/plot_kv_cost.py docs/kv-cost.json docs/kv-cost.svg
