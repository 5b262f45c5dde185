#!/usr/bin/env bash
# Why --rows defaults to 2: precision and capacity of --rows 1 vs 2 on a 100K-query generated log.
#   bench/lsh/rows.sh [KVIK_BINARY] [WORK_DIR]
set -euo pipefail
KVIK=${1:-build/kvik}
WORK=${2:-$(mktemp -d -t kvik-lsh-rows-XXXXXX)}
mkdir -p "$WORK"
set -x
"$KVIK" lsh gen-log --seed 1 --queries 100000 --out "$WORK/train.tsv" --held-out "$WORK/held.tsv" \
  --held-out-queries 50000 --truth "$WORK/truth.tsv" --lexicon "$WORK/lexicon.tsv"
for rows in 1 2; do
  "$KVIK" lsh build --log "$WORK/train.tsv" --lexicon "$WORK/lexicon.tsv" --rows "$rows" --out "$WORK/rows$rows.kvlsh"
  "$KVIK" lsh eval --index "$WORK/rows$rows.kvlsh" --log "$WORK/held.tsv" --truth "$WORK/truth.tsv" | head -8
done
