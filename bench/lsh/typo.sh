#!/usr/bin/env bash
# Before/after of spelling correction and the --votes default (docs/semantic-cache.md, "Typos"):
# builds the index of bench/lsh/run.sh's training log four ways and evaluates each on its held-out
# log at the default --min-votes 18 (and 12).
#   bench/lsh/typo.sh [KVIK_BINARY] [WORK_DIR]   (WORK_DIR from bench/lsh/run.sh, or a new one)
set -euo pipefail
KVIK=${1:-build/kvik}
WORK=${2:-$(mktemp -d -t kvik-lsh-typo-XXXXXX)}
mkdir -p "$WORK"
if [[ ! -f "$WORK/held.tsv" ]]; then
  "$KVIK" lsh gen-log --seed 1 --queries 1000000 --out "$WORK/train.tsv" --held-out "$WORK/held.tsv" \
    --held-out-queries 1000000 --truth "$WORK/truth.tsv" --lexicon "$WORK/lexicon.tsv"
fi
run() {
  local name=$1
  shift
  "$KVIK" lsh build --log "$WORK/train.tsv" --lexicon "$WORK/lexicon.tsv" --out "$WORK/$name.kvlsh" "$@" |
    sed "s/^/$name: /"
  "$KVIK" lsh eval --index "$WORK/$name.kvlsh" --log "$WORK/held.tsv" --truth "$WORK/truth.tsv" |
    grep -E '^\| semantic +\| +(12|18) ' | sed "s/^/$name: /" | sort -u
  rm -f "$WORK/$name.kvlsh"
}
run no-typo-votes20 --no-typo-correction --votes 20  # the method before spelling correction
run no-typo-votes22 --no-typo-correction --votes 22
run typo-votes20 --votes 20
run typo-votes22  # the defaults
