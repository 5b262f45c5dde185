#!/usr/bin/env bash
# Bounded load test of `kvik serve` (loopback only; stops by itself): 64 concurrent streaming
# clients for 60 s against one server. Fails on any request error or on KV blocks still owned once
# the load stops.
# usage: bench/load.sh [KVIK] [MODEL] [SECONDS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
kvik=${1:-build/kvik}
model=${2:-models/stories15M.gguf}
seconds=${3:-60}
concurrency=${4:-64}
log=$(mktemp)
"$kvik" serve -m "$model" --port 0 --parallel 16 --max-queue 256 2>"$log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do
  port=$(sed -nE 's/.*on http:\/\/127\.0\.0\.1:([0-9]+).*/\1/p' "$log")
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n ${port:-} ]] || { cat "$log"; echo "server did not start"; exit 1; }
/usr/bin/python3 bench/serving_client.py --port "$port" --concurrency "$concurrency" \
  --duration "$seconds" --max-tokens 64
kill -TERM $server
wait $server
echo "load test passed: no errors, no KV blocks left in use, clean shutdown"
