#!/usr/bin/env bash
# End-to-end tests of `kvik quantize`: `quantize_test.sh KVIK CASE` runs one case; exit 0 = pass.
set -uo pipefail
kvik=$1
case_name=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/kvik-quantize-XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error STATUS CMD... : must exit with STATUS and print exactly one "error: ..." line.
expect_error() {
  local want=$1; shift
  local out status
  out=$("$@" 2>&1 >/dev/null); status=$?
  [[ $status -eq $want ]] || fail "expected exit $want, got $status from: $*"
  [[ $(grep -c '^error: ' <<<"$out") -eq 1 ]] || fail "expected one 'error:' line from $*, got: $out"
  echo "$out"
}

"$kvik" make-model --preset tiny -o "$work/tiny.gguf" >/dev/null || fail "make-model failed"

case $case_name in
  quantized_models_generate_and_prefill_matches_decode)
    for type in q8_0 q4_0; do
      out=$("$kvik" quantize "$work/tiny.gguf" "$work/$type.gguf" --type $type) || fail "quantize $type"
      grep -q "wrote $work/$type.gguf" <<<"$out" || fail "no summary line: $out"
      "$kvik" inspect "$work/$type.gguf" | grep -q "$type" || fail "inspect does not show $type"
      # Cached decode (one token at a time) must equal recomputing the whole prefix (batched MatMul),
      # at 1 and 2 threads.
      a=$("$kvik" generate -m "$work/$type.gguf" -p "once upon a time" -n 24 --temp 0 2>/dev/null)
      b=$("$kvik" generate -m "$work/$type.gguf" -p "once upon a time" -n 24 --temp 0 --no-cache -t 1 2>/dev/null)
      [[ -n "$a" && "$a" == "$b" ]] || fail "$type: cached and --no-cache greedy outputs differ"
    done
    "$kvik" quantize "$work/tiny.gguf" "$work/mixed.gguf" --type q4_0 --output-type f16 \
        --embedding-type q8_0 >/dev/null || fail "quantize with per-tensor types"
    "$kvik" generate -m "$work/mixed.gguf" -p "hello" -n 4 --temp 0 >/dev/null 2>&1 || fail "mixed model"
    ;;

  quantize_bad_input)
    msg=$(expect_error 1 "$kvik" quantize "$work/absent.gguf" "$work/out.gguf" --type q8_0) || exit 1
    grep -q "absent.gguf" <<<"$msg" || fail "missing file not named: $msg"
    expect_error 2 "$kvik" quantize "$work/tiny.gguf" "$work/out.gguf" --type q9_0 >/dev/null || exit 1
    expect_error 2 "$kvik" quantize "$work/tiny.gguf" >/dev/null || exit 1
    msg=$(expect_error 1 "$kvik" quantize "$work/tiny.gguf" "$work/tiny.gguf" --type q8_0) || exit 1
    grep -q "overwrite" <<<"$msg" || fail "output == input not explained: $msg"
    "$kvik" inspect "$work/tiny.gguf" >/dev/null || fail "the input was damaged"
    head -c 1000 "$work/tiny.gguf" >"$work/cut.gguf"
    expect_error 1 "$kvik" quantize "$work/cut.gguf" "$work/out.gguf" --type q8_0 >/dev/null || exit 1
    [[ ! -e $work/out.gguf ]] || fail "an output was written for bad input"
    ;;

  *) fail "unknown case $case_name" ;;
esac
echo "ok: $case_name"
