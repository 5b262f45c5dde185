#!/usr/bin/env bash
# End-to-end measurements of the semantic query cache, as reported in docs/semantic-cache.md.
#   bench/lsh/run.sh [KVIK_BINARY] [QUERIES] [WORK_DIR]
# Generates a Zipf log of QUERIES distinct training queries (+ an independent held-out log of as
# many distinct queries, or HELD_OUT),
# builds the index (time, peak RSS), evaluates hit rate / precision / capacity gain against exact
# match, and measures lookup latency on 1 and 2 threads. Everything is seeded and reproducible.
set -euo pipefail

KVIK=${1:-build/kvik}
QUERIES=${2:-1000000}
WORK=${3:-$(mktemp -d -t kvik-lsh-bench-XXXXXX)}
HELD_OUT=${HELD_OUT:-$QUERIES}  # the next period's log, same size as the training log
mkdir -p "$WORK"
echo "# kvik lsh bench: $QUERIES queries, work dir $WORK"
echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

set -x
"$KVIK" lsh gen-log --seed 1 --queries "$QUERIES" --out "$WORK/train.tsv" \
  --held-out "$WORK/held.tsv" --held-out-queries "$HELD_OUT" --truth "$WORK/truth.tsv" --lexicon "$WORK/lexicon.tsv"
"$KVIK" lsh build --log "$WORK/train.tsv" --lexicon "$WORK/lexicon.tsv" --out "$WORK/index.kvlsh"
"$KVIK" lsh eval --index "$WORK/index.kvlsh" --log "$WORK/held.tsv" --truth "$WORK/truth.tsv" --svg "$WORK/sweep.svg"
"$KVIK" lsh bench --index "$WORK/index.kvlsh" --log "$WORK/held.tsv" --threads 1 --lookups 500000
"$KVIK" lsh bench --index "$WORK/index.kvlsh" --log "$WORK/held.tsv" --threads 2 --lookups 500000
