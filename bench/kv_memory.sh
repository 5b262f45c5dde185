#!/usr/bin/env bash
# The numbers in docs/kv-memory.md: KV waste (paged vs dense), prefix sharing (32 requests with a
# shared 1,024-token system prompt), bytes per token and decode speed per KV type, and process
# memory vs context against the formula. Writes docs/kv-memory.json and docs/kv-memory.svg.
# usage: bench/kv_memory.sh [BUILD_DIR] [REPS]   (KVIK_SKIP_DONE=1 reuses finished parts)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
reps=${2:-3}
kvik=$build/kvik
model=${KVIK_BENCH_MODEL:-models/small-f32.gguf}
out=$build/kv-memory-raw  # raw outputs, kept for inspection
mkdir -p "$out"
mkdir -p models docs
[[ -f $model ]] || "$kvik" make-model --preset small --dtype f32 -o "$model" >&2

echo "== waste and prefix sharing ($build/kv_memory_bench)" >&2
[[ ${KVIK_SKIP_DONE:-0} == 1 && -s $out/bench.json ]] ||
  KVIK_BENCH_MODEL=$model "$build/kv_memory_bench" --benchmark_format=json >"$out/bench.json"

echo "== decode speed per KV type (tg64 after 1024 cached tokens)" >&2
for dtype in f32 f16 bf16 q8_0 q4_0; do
  [[ ${KVIK_SKIP_DONE:-0} == 1 && -s $out/tg-$dtype.json ]] && continue
  "$kvik" bench -m "$model" -t 2 -p 512 -n 64 --depth 1024 --kv-dtype $dtype -r "$reps" --json \
    >"$out/tg-$dtype.json"
  "$kvik" kv-size --model "$model" --ctx 1 --dtype $dtype --json >"$out/size-$dtype.json"
done

echo "== process memory vs context" >&2
for ctx in 256 512 1024 2048 4095; do
  # Decode one token after ctx - 1 cached ones: the pool holds exactly ctx tokens (4095: the
  # bench keeps one position of the model's 4096 free).
  "$kvik" bench -m "$model" -t 2 -p 0 -n 1 --depth $((ctx - 1)) -r 1 --json >"$out/memory-$ctx.json"
done
/usr/bin/python3 bench/kv_memory_report.py "$out" "$model" docs/kv-memory.json docs/kv-memory.svg
