#!/usr/bin/env bash
# Build time and peak memory at scale (no evaluation): generate QUERIES distinct queries, build,
# then time lookups of the training queries on 2 threads.
#   bench/lsh/build_scale.sh [KVIK_BINARY] [QUERIES] [WORK_DIR]
set -euo pipefail
KVIK=${1:-build/kvik}
QUERIES=${2:-10000000}
WORK=${3:-$(mktemp -d -t kvik-lsh-scale-XXXXXX)}
mkdir -p "$WORK"
echo "# $(date -u +%FT%TZ) on $(nproc) cores; free disk: $(df -h "$WORK" | awk 'NR==2{print $4}')"
set -x
"$KVIK" lsh gen-log --seed 7 --queries "$QUERIES" --out "$WORK/train.tsv" --lexicon "$WORK/lexicon.tsv"
"$KVIK" lsh build --log "$WORK/train.tsv" --lexicon "$WORK/lexicon.tsv" --out "$WORK/index.kvlsh"
"$KVIK" lsh bench --index "$WORK/index.kvlsh" --log "$WORK/train.tsv" --threads 2 --lookups 500000
rm -f "$WORK/index.kvlsh" "$WORK/train.tsv"
