#!/usr/bin/env bash
# stories15M speed: prefill/decode tokens/s for F32, F16, Q8_0 at 1 and 2 threads, and the decode
# roofline fraction. Prints markdown for docs/performance.md.
# usage: bench/stories15m.sh [KVIK] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
kvik=${1:-build/kvik}
reps=${2:-5}
dir=${KVIK_MODEL_DIR:-models}
scripts/fetch-model.sh "$dir" >/dev/null
for dtype in f32 f16 q8_0; do
  out=$dir/stories15M-$dtype.gguf
  [[ -f $out ]] || "$kvik" convert --from llama2c --model "$dir/model.bin" --tokenizer "$dir/tokenizer.bin" \
    --dtype $dtype -o "$out" >/dev/null
done
echo "### Prefill (pp128) and decode (tg128), median of $reps"
echo
first=1
for dtype in f32 f16 q8_0; do
  for threads in 1 2; do
    "$kvik" bench -m "$dir/stories15M-$dtype.gguf" -t $threads -p 128 -n 128 -r "$reps" |
      if [[ $first == 1 ]]; then cat; else tail -n +3; fi
    first=0
  done
done
echo
echo "### Decode roofline (2 threads)"
echo
for dtype in f32 f16 q8_0; do
  echo '```'
  "$kvik" bench -m "$dir/stories15M-$dtype.gguf" -t 2 -n 128 -r "$reps" --roofline
  echo '```'
done
