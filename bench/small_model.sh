#!/usr/bin/env bash
# The speed issue's targets on the 100M-parameter `small` model, 2 threads:
#   decode (tg128) as a fraction of the measured-bandwidth roofline, per weight type;
#   prefill (pp512) FLOP/s as a fraction of the machine's FMA peak (bench/tensor_bench PeakFma);
#   decode at --depth 2048 vs depth 0, against what the extra KV bytes predict (as a tok/s ratio,
#   and as roofline fractions, each run held to its own bandwidth sample).
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
peak=$("$build/tensor_bench" --benchmark_filter='PeakFma/256/real_time/threads:2' \
       --benchmark_repetitions=3 --benchmark_report_aggregates_only --benchmark_format=json |
       /usr/bin/python3 -c 'import json,sys; b=[x for x in json.load(sys.stdin)["benchmarks"] if x.get("aggregate_name")=="median"][0]; print(b["FLOP/s"])')
echo "FMA peak, 2 threads (tensor_bench PeakFma, median of 3): $(/usr/bin/python3 -c "print(f'{$peak/1e9:.1f}')") GFLOP/s"
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
echo "### Decode at depth 2048 vs 0 (f32, tg64), runs alternated so drift hits both alike"
for ((r = 0; r < reps; ++r)); do
  for d in 0 2048; do
    "$kvik" bench -m models/small-f32.gguf -t 2 -p 0 -n 64 --depth $d -r 1 --json >"$tmp/depth-$d-$r.json"
  done
done
/usr/bin/python3 - "$tmp" "$reps" <<'PY'
import json, statistics, sys
tmp, reps = sys.argv[1], int(sys.argv[2])
runs = {d: [json.load(open(f"{tmp}/depth-{d}-{r}.json"))[0] for r in range(reps)] for d in (0, 2048)}
w, kv = runs[0][0]["weight_bytes"], runs[0][0]["kv_bytes_per_token"]
# Bytes read per decode step, mid-run (32 of the 64 new tokens cached): weights + KV.
predicted = (w + kv * 32) / (w + kv * (2048 + 32))
ta = statistics.median(x["tokens_per_second_median"] for x in runs[0])
tb = statistics.median(x["tokens_per_second_median"] for x in runs[2048])
print(f"depth 0: {ta:.1f} tok/s; depth 2048: {tb:.1f} tok/s = {tb / ta:.3f} of depth 0; "
      f"the extra KV bytes predict {predicted:.3f} (medians of {reps} alternated runs)")
PY
echo
echo "### The same, each run held to its own bandwidth sample (roofline fractions, KV bytes included)"
# The plain ratio above puts depth-0 and depth-2048 runs in different minutes of this VM's
# bandwidth; a roofline fraction divides each run by the bandwidth sampled just before it. Losing no
# more than the KV bytes predict means a fraction at depth 2048 at least that at depth 0.
for ((r = 0; r < reps; ++r)); do
  for d in 0 2048; do
    "$kvik" bench -m models/small-f32.gguf -t 2 -n 64 --depth $d -r 1 --roofline --json \
      >"$tmp/roof-$d-$r.json"
  done
done
/usr/bin/python3 - "$tmp" "$reps" <<'PY'
import json, statistics, sys
tmp, reps = sys.argv[1], int(sys.argv[2])
frac = {d: [json.load(open(f"{tmp}/roof-{d}-{r}.json"))["fraction"] for r in range(reps)]
        for d in (0, 2048)}
fa, fb = statistics.median(frac[0]), statistics.median(frac[2048])
print(f"depth 0: {100 * fa:.1f}% of its roofline; depth 2048: {100 * fb:.1f}% of its roofline; "
      f"ratio {fb / fa:.3f} (goal >= 1; medians of {reps} alternated runs)")
PY
