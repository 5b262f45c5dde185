#!/usr/bin/env bash
# The numbers in docs/serving.md: output tokens/s, time-to-first-token and inter-token latency at
# concurrency 1, 4, 16, 64 (streaming chat requests, 64 output tokens each, closed loop), then the
# prefix-cache hit rate of a chat workload whose requests share a system prompt.
# Writes docs/serving.json. usage: bench/serving.sh [KVIK] [MODEL] [SECONDS_PER_LEVEL]
set -euo pipefail
cd "$(dirname "$0")/.."
kvik=${1:-build/kvik}
model=${2:-models/small-f32.gguf}
seconds=${3:-30}
[[ -f $model ]] || "$kvik" make-model --preset small --dtype f32 -o "$model" >&2
out=$(mktemp -d)
start_server() {
  "$kvik" serve -m "$model" --port 0 --parallel 64 --ctx 512 --max-queue 256 "$@" 2>"$out/log" &
  server=$!
  for _ in $(seq 300); do
    port=$(sed -nE 's/.*on http:\/\/127\.0\.0\.1:([0-9]+).*/\1/p' "$out/log")
    [[ -n $port ]] && return
    sleep 0.1
  done
  cat "$out/log"; exit 1
}
stop_server() { kill -TERM "$server"; wait "$server"; }
trap 'kill -TERM ${server:-0} 2>/dev/null || true; rm -rf "$out"' EXIT

start_server
/usr/bin/python3 bench/serving_client.py --port "$port" --concurrency 1,4,16,64 \
  --duration "$seconds" --max-tokens 64 --json "$out/levels.json"
stop_server
start_server
/usr/bin/python3 bench/serving_client.py --port "$port" --concurrency 16 --duration "$seconds" \
  --max-tokens 32 --system-prompt-words 200 --json "$out/shared.json"
stop_server
/usr/bin/python3 - "$out" "$model" <<'PY'
import json, os, sys
out, model = sys.argv[1], sys.argv[2]
levels = json.load(open(os.path.join(out, "levels.json")))
shared = json.load(open(os.path.join(out, "shared.json")))[0]
json.dump({"model": os.path.basename(model), "levels": levels, "shared_system_prompt": shared},
          open("docs/serving.json", "w"), indent=1)
print("| concurrency | requests | output tok/s | TTFT p50 | TTFT p99 | ITL p50 | ITL p99 | errors |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in levels:
    print(f"| {r['concurrency']} | {r['requests']} | {r['output_tokens_per_s']:.1f} | "
          f"{r['ttft_p50_ms']:.0f} ms | {r['ttft_p99_ms']:.0f} ms | {r['itl_p50_ms']:.1f} ms | "
          f"{r['itl_p99_ms']:.1f} ms | {r['errors']} |")
one = [r for r in levels if r["concurrency"] == 1][0]
sixteen = [r for r in levels if r["concurrency"] == 16][0]
print(f"\nbatching gain at 16 vs 1: {sixteen['output_tokens_per_s'] / one['output_tokens_per_s']:.2f}x")
print(f"shared 200-word system prompt, 16 clients: prefix hit rate {100 * shared['prefix_hit_rate']:.1f}% "
      f"of prompt tokens, {shared['output_tokens_per_s']:.1f} output tok/s, "
      f"TTFT p50 {shared['ttft_p50_ms']:.0f} ms")
PY
