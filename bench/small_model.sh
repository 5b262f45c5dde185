#!/usr/bin/env bash
# The speed issue's targets on the 100M-parameter `small` model, 2 threads:
#   decode (tg128) as a fraction of the measured-bandwidth roofline, per weight type;
#   prefill (pp512) FLOP/s as a fraction of the machine's FMA peak (bench/tensor_bench PeakFma);
#   decode at --depth 2048 vs depth 0, against what the extra KV bytes predict (kvik bench
#   --depth-loss: the two decodes' steps interleaved, so this VM's bandwidth drift hits both alike).
# usage: bench/small_model.sh [BUILD_DIR] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
reps=${2:-5}
kvik=$build/kvik
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p models
[[ -f models/small-f32.gguf ]] || "$kvik" make-model --preset small --dtype f32 -o models/small-f32.gguf
for t in f16 q8_0 q4_0; do
  [[ -f models/small-$t.gguf ]] || "$kvik" make-model --preset small --dtype $t -o models/small-$t.gguf
done
echo "### Decode roofline, tg128, 2 threads, median of $reps"
for t in f32 f16 q8_0 q4_0; do
  echo '```'
  "$kvik" bench -m models/small-$t.gguf -t 2 --roofline -n 128 -r "$reps"
  echo '```'
done
echo
echo "### Prefill pp512 vs FMA peak"
# The machine's peak is the faster of the 256- and 512-bit FMA loops: equal on a Zen 4 (one 512-bit
# FMA is two 256-bit halves), twice as fast at 512 bits on a Xeon with two 512-bit FMA units.
peak=$("$build/tensor_bench" --benchmark_filter='PeakFma/(256|512)/real_time/threads:2' \
       --benchmark_repetitions=3 --benchmark_report_aggregates_only --benchmark_format=json |
       /usr/bin/python3 -c 'import json,sys; print(max(b["FLOP/s"] for b in json.load(sys.stdin)["benchmarks"] if b.get("aggregate_name")=="median"))')
echo "FMA peak, 2 threads (tensor_bench PeakFma, 256 or 512 bits, the faster; median of 3): $(/usr/bin/python3 -c "print(f'{$peak/1e9:.1f}')") GFLOP/s"
for t in f32 f16; do
  json=$("$kvik" bench -m models/small-$t.gguf -t 2 -p 512 -n 0 -r "$reps" --json)
  /usr/bin/python3 - "$json" "$peak" "$t" <<'PY'
import json, sys
rows, peak, t = json.loads(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
tps = rows[0]["tokens_per_second_median"]
flops_per_token = 2 * 100.09e6  # 2 FLOPs per weight per token (attention adds < 2% at 512)
print(f"small-{t} pp512: {tps:.1f} tok/s = {tps * flops_per_token / 1e9:.1f} GFLOP/s = "
      f"{100 * tps * flops_per_token / peak:.0f}% of the FMA peak")
PY
done
echo
echo "### Decode at depth 2048 vs 0 (f32, tg64), their steps interleaved so drift hits both alike"
"$kvik" bench -m models/small-f32.gguf -t 2 -n 64 --depth 2048 --depth-loss -r "$reps"
