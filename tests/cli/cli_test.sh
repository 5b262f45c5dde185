#!/usr/bin/env bash
# End-to-end tests of the kvik binary: `cli_test.sh KVIK CASE` runs one case; exit 0 = pass.
set -uo pipefail
kvik=$1
case_name=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/kvik-cli-XXXXXX")
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error CMD... : must exit non-zero (but not crash: no signal, i.e. status < 128) with a
# single "error: ..." line on stderr.
expect_error() {
  local out status
  out=$("$@" 2>&1 >/dev/null); status=$?
  [[ $status -ne 0 ]] || fail "expected failure from: $*"
  [[ $status -lt 128 ]] || fail "crashed (status $status): $*"
  [[ $(grep -c '^error: ' <<<"$out") -eq 1 ]] || fail "expected one 'error:' line from $*, got: $out"
  echo "$out"
}

tiny() { [[ -f $work/tiny.gguf ]] || "$kvik" make-model --preset tiny -o "$work/tiny.gguf" >/dev/null; echo "$work/tiny.gguf"; }

# patch FILE OFFSET HEXBYTES: overwrite bytes in place.
patch() { $py -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); f.write(bytes.fromhex(sys.argv[3]))" "$@"; }

case $case_name in
  bad_model_files)
    model=$(tiny)
    size=$(stat -c %s "$model")
    # Truncated: in the header, in the metadata, in the tensor infos, and in the tensor data.
    for cut in 3 20 200 5000 $((size - 100)); do
      head -c $cut "$model" >"$work/cut.gguf"
      msg=$(expect_error "$kvik" inspect "$work/cut.gguf") || exit 1
      msg2=$(expect_error "$kvik" generate -m "$work/cut.gguf" -n 1) || exit 1
    done
    cp "$model" "$work/magic.gguf"; patch "$work/magic.gguf" 0 46554747
    expect_error "$kvik" inspect "$work/magic.gguf" | grep -q magic || fail "wrong magic not named"
    cp "$model" "$work/version.gguf"; patch "$work/version.gguf" 4 09000000
    expect_error "$kvik" inspect "$work/version.gguf" | grep -qi version || fail "bad version not named"
    cp "$model" "$work/count.gguf"; patch "$work/count.gguf" 8 ffffffffffffff0f
    expect_error "$kvik" inspect "$work/count.gguf" | grep -qi count || fail "huge tensor count not named"
    cp "$model" "$work/kvcount.gguf"; patch "$work/kvcount.gguf" 16 ffffffffffffff7f
    expect_error "$kvik" inspect "$work/kvcount.gguf" >/dev/null || exit 1
    # Out-of-range tensor offset: the last tensor's offset field sits 8 bytes before the data
    # section's padding; find it via the reference reader's layout instead of guessing.
    off=$($py - "$model" <<'PY'
import sys, struct
sys.path.insert(0, "tests/reference")
import gguf_ref
g = gguf_ref.GGUFFile(sys.argv[1])
print(g.tensor_info_offset_fields[-1] if hasattr(g, "tensor_info_offset_fields") else -1)
PY
)
    if [[ $off -lt 0 ]]; then
      # Fallback: the offset field of the last tensor info ends right before the alignment padding;
      # scan for the known last data offset written as u64.
      off=$($py - "$model" <<'PY'
import sys, struct
data = open(sys.argv[1], 'rb').read()
name = b"output.weight"
i = data.rfind(name)
# name, then u32 n_dims, n_dims u64 dims, u32 type, u64 offset
n_dims = struct.unpack_from('<I', data, i + len(name))[0]
print(i + len(name) + 4 + 8 * n_dims + 4)
PY
)
    fi
    cp "$model" "$work/offset.gguf"; patch "$work/offset.gguf" "$off" 00000000ffff0000
    expect_error "$kvik" inspect "$work/offset.gguf" >/dev/null || exit 1
    expect_error "$kvik" generate -m /nonexistent/model.gguf -n 1 | grep -q nonexistent || fail "missing file not named"
    ;;

  bad_options)
    model=$(tiny)
    for args in "generate --frobnicate" "generate -m $model -n -5" "generate -m $model --temp abc" \
                "kv-size --dtype f8" "kv-size --layers 2" "make-model --preset huge -o $work/x.gguf" \
                "nosuchcommand" "lsh" "lsh build --bogus" "bench -m $model -p -4"; do
      # shellcheck disable=SC2086
      "$kvik" $args >/dev/null 2>"$work/err"; status=$?
      [[ $status -eq 2 ]] || fail "'kvik $args' exited $status, expected 2 (usage error)"
      grep -q '^error: ' "$work/err" || fail "'kvik $args' printed no error line"
    done
    # A bound's message names the bound, not CLI11's "range 0.000000 to 1.797…e308".
    for pair in "generate -m $model --top-k -1|--top-k: must be at least 0, got -1" \
                "kv-size --layers 0 --kv-heads 1 --head-dim 8|--layers: must be at least 1, got 0" \
                "bench -m $model -n 1.5|--n-gen: '1.5' is not an integer"; do
      # shellcheck disable=SC2086
      "$kvik" ${pair%%|*} >/dev/null 2>"$work/err"; status=$?
      [[ $status -eq 2 ]] || fail "'kvik ${pair%%|*}' exited $status, expected 2"
      grep -qF "error: ${pair#*|}" "$work/err" || fail "'kvik ${pair%%|*}': $(cat "$work/err")"
    done
    ;;

  oversize_prompt)
    model=$(tiny)
    prompt=$(printf 'word %.0s' $(seq 1 3000))
    expect_error "$kvik" generate -m "$model" -p "$prompt" -n 4 --ctx 256 | grep -q "more than the context" \
      || fail "oversize prompt not explained"
    ;;

  kv_size)
    out=$("$kvik" kv-size --preset llama-3-8b --ctx 4096 --dtype f16 --json)
    grep -q '"bytes":536870912' <<<"$out" || fail "llama-3-8b 4096 f16 should be 536870912 bytes: $out"
    grep -q '"human":"512 MiB"' <<<"$out" || fail "expected 512 MiB: $out"
    out=$("$kvik" kv-size --layers 32 --kv-heads 32 --head-dim 128 --ctx 4096 --batch 2 --dtype f16 --json)
    grep -q '"bytes":4294967296' <<<"$out" || fail "llama-2-7b-like ×2 should be 4 GiB: $out"
    out=$("$kvik" kv-size --preset gpt-3-175b --dtype f16 --json)  # native 2048 ctx
    grep -q '"bytes":9663676416' <<<"$out" || fail "gpt-3 2048 f16 should be 9 GiB: $out"
    out=$("$kvik" kv-size --layers 2 --kv-heads 2 --head-dim 32 --ctx 100 --dtype q8_0 --json)
    grep -q '"bytes":27200' <<<"$out" || fail "q8_0 uses 34 bytes per 32 values: $out"
    "$kvik" kv-size --preset tinyllama-1.1b --ctx 2048 | grep -q "44 MiB" || fail "tinyllama text output"
    ;;

  memory_matches_formula)
    model=$(tiny)
    for dtype in f32 f16 q8_0; do
      for block in 1 16; do
        line=$("$kvik" generate -m "$model" -p "the cat sat" -n 33 --temp 0 --kv-dtype $dtype \
               --block-size $block 2>&1 >/dev/null | grep '\[kvik\] prefill')
        prompt_tokens=$(sed -E 's/.*prefill ([0-9]+) tok.*/\1/' <<<"$line")
        allocated=$(sed -E 's/.*allocated \(([0-9]+) B\).*/\1/' <<<"$line")
        # The cache holds every token that is fed back: S = prompt + 33 - 1, in whole blocks.
        json=$("$kvik" kv-size --model "$model" --ctx $((prompt_tokens + 32)) --dtype $dtype \
               --block-size $block --json)
        expected=$($py -c 'import json,sys; print(json.load(sys.stdin)["pool_bytes"])' <<<"$json")
        formula=$($py -c 'import json,sys; print(json.load(sys.stdin)["bytes"])' <<<"$json")
        [[ -n $allocated && $allocated -eq $expected ]] || fail "generate allocated '$allocated' B, kv-size says $expected B: $line"
        # With one-token blocks the pool is the formula exactly.
        if [[ $block == 1 && $allocated -ne $formula ]]; then fail "block size 1: $allocated B != formula $formula B"; fi
      done
    done
    ;;

  bench_tests_and_depth_loss)
    model=$(tiny)
    # A pp and a tg test, with and without the warm-up run: one JSON row each, positive tok/s.
    for warm in "" --no-warmup; do
      "$kvik" bench -m "$model" -t 2 -p 8 -n 4 -r 2 $warm --json >"$work/bench.json" ||
        fail "bench $warm failed"
      $py - "$work/bench.json" <<'PY' || fail "bench $warm: $(cat "$work/bench.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
assert [r["test"] for r in rows] == ["pp8", "tg4"], rows
assert all(len(r["samples"]) == 2 and min(r["samples"]) > 0 for r in rows), rows
PY
    done
    "$kvik" bench -m "$model" -t 2 -n 4 --depth 16 --depth-loss -r 1 --json >"$work/loss.json" ||
      fail "bench --depth-loss failed"
    per_token=$("$kvik" kv-size --model "$model" --ctx 1 --dtype f32 --json |
                $py -c 'import json,sys; print(json.load(sys.stdin)["bytes_per_token"])')
    # Depth 0 still caches one token (decode needs a context), so the 15 extra cached tokens add
    # their K/V bytes to every step; the prediction is the ratio of the bytes per step.
    $py - "$work/loss.json" "$per_token" <<'PY' || fail "bench --depth-loss: $(cat "$work/loss.json")"
import json, sys
r, per_token = json.load(open(sys.argv[1])), int(sys.argv[2])
assert r["bytes_per_step_depth"] - r["bytes_per_step_depth0"] == 15 * per_token, r
assert abs(r["ratio_predicted"] - r["bytes_per_step_depth0"] / r["bytes_per_step_depth"]) < 1e-12
assert r["tps_depth0_median"] > 0 and r["tps_depth_median"] > 0
assert abs(r["ratio_measured"] - r["tps_depth_median"] / r["tps_depth0_median"]) < 1e-12
PY
    expect_error "$kvik" bench -m "$model" --depth-loss | grep -q -- "--depth" ||
      fail "--depth-loss without --depth not explained"
    expect_error "$kvik" bench -m "$model" --depth 4 --depth-loss --roofline | grep -q excludes ||
      fail "--depth-loss with --roofline not refused"
    ;;

  bench_roofline)
    model=$(tiny)
    # Both ceilings: the DRAM stream and a plain read of the step's own bytes, each with the
    # fraction of it decode reached.
    "$kvik" bench -m "$model" -t 2 -n 4 -r 2 --roofline --json >"$work/roofline.json" ||
      fail "bench --roofline failed"
    $py - "$work/roofline.json" <<'PY' || fail "bench --roofline: $(cat "$work/roofline.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["read_bandwidth_gbps"] > 0 and r["step_bytes_read_gbps"] > 0, r
assert r["decode_tps_median"] > 0 and r["fraction"] > 0 and r["fraction_of_step_bytes_read"] > 0, r
assert abs(r["decode_ceiling_tps"] * (r["weight_bytes"] + r["kv_bytes_per_step"]) / 1e9
           - r["read_bandwidth_gbps"]) < 1e-6 * r["read_bandwidth_gbps"], r
PY
    "$kvik" bench -m "$model" -t 2 -n 4 -r 1 --roofline | grep -q "a plain read of a step's" ||
      fail "bench --roofline does not print the step-bytes ceiling"
    ;;

  generate_greedy_is_deterministic_and_cache_free_path_agrees)
    model=$(tiny)
    a=$("$kvik" generate -m "$model" -p "once upon a time" -n 40 --temp 0 2>/dev/null)
    b=$("$kvik" generate -m "$model" -p "once upon a time" -n 40 --temp 0 --no-cache -t 1 2>/dev/null)
    c=$("$kvik" generate -m "$model" -p "once upon a time" -n 40 --temp 0.9 --seed 5 --stream 2>/dev/null)
    d=$("$kvik" generate -m "$model" -p "once upon a time" -n 40 --temp 0.9 --seed 5 -t 1 2>/dev/null)
    [[ "$a" == "$b" ]] || fail "cached and --no-cache greedy outputs differ"
    [[ "$c" == "$d" ]] || fail "the same seed gave different samples (stream vs not, threads 2 vs 1)"
    [[ "$a" == "once upon a time"* ]] || fail "output does not start with the prompt: $a"
    ;;

  generate_writes_every_byte)
    # The tiny model's byte tokens include <0x00>: on this prompt greedy decoding emits it, and the
    # whole text must come out, the NUL and what follows it included, as it does token by token.
    # The scalar kernels make the tokens the same on every CPU (all three ISAs agree here today).
    model=$(tiny)
    KVIK_ISA=scalar "$kvik" generate -m "$model" -p "The little dog" -n 8 --temp 0 \
      >"$work/whole" 2>/dev/null
    KVIK_ISA=scalar "$kvik" generate -m "$model" -p "The little dog" -n 8 --temp 0 --stream \
      >"$work/streamed" 2>/dev/null
    od -An -tx1 -v "$work/whole" | grep -qw 00 ||
      fail "no NUL byte in the text (lost, or this prompt no longer emits <0x00>: check --stream)"
    cmp -s "$work/whole" "$work/streamed" || fail "the text and the streamed tokens differ"
    [[ $(head -c 14 "$work/whole") == "The little dog" ]] || fail "output does not start with the prompt"
    [[ $(tail -c 1 "$work/whole" | od -An -tx1 | tr -d ' ') == 0a ]] || fail "no final newline"
    [[ $(od -An -tx1 -v "$work/whole" | wc -w) -gt 16 ]] || fail "the text after the NUL is missing"
    ;;

  perplexity)
    model=$(tiny)
    for i in $(seq 40); do echo "The cat sat on the mat, and the dog ran to the park number $i."; done \
      >"$work/text.txt"
    out=$("$kvik" perplexity -m "$model" -f "$work/text.txt" -c 64 -t 2 2>/dev/null) ||
      fail "perplexity failed"
    ppl=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- [0-9.]*$/\1/p' <<<"$out")
    [[ -n $ppl ]] || fail "no 'Final estimate: PPL = X +/- Y' line in: $out"
    $py -c "import sys; sys.exit(0 if float(sys.argv[1]) > 1 else 1)" "$ppl" || fail "PPL $ppl <= 1"
    [[ $(head -c 3 <<<"$out") == "[1]" ]] || fail "no running estimates: $out"
    # Fewer chunks: --chunks 1 is the first running estimate.
    one=$("$kvik" perplexity -m "$model" -f "$work/text.txt" -c 64 --chunks 1 2>/dev/null)
    [[ $(sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p' <<<"$one") == \
       $(sed -n 's/^\[1\]\([0-9.]*\),.*/\1/p' <<<"$out") ]] || fail "--chunks 1 is not chunk 1"
    # Against a base model: itself diverges by nothing; a Q8_0 copy by a little.
    self=$("$kvik" perplexity -m "$model" --kl-base "$model" -f "$work/text.txt" -c 64 2>/dev/null)
    grep -q "PPL ratio 1.00000 | mean KL divergence 0.000000 +/- 0.000000 nats (max 0.0000) | same top token at 100.00%" \
      <<<"$self" || fail "a model against itself: $self"
    "$kvik" quantize "$model" "$work/q8.gguf" --type q8_0 >/dev/null
    q8=$("$kvik" perplexity -m "$work/q8.gguf" --kl-base "$model" -f "$work/text.txt" -c 64 2>/dev/null)
    grep -q "mean KL divergence 0.0[0-9]*[1-9]" <<<"$q8" || fail "no divergence for q8_0: $q8"
    expect_error "$kvik" perplexity -m "$model" --kl-base "$work/missing.gguf" -f "$work/text.txt" \
      >/dev/null || exit 1
    : >"$work/empty.txt"
    expect_error "$kvik" perplexity -m "$model" -f "$work/empty.txt" | grep -q empty ||
      fail "empty text not named"
    expect_error "$kvik" perplexity -m "$model" -f "$work/missing.txt" | grep -q "cannot open" ||
      fail "missing text not named"
    expect_error "$kvik" perplexity -m "$model" -f "$work/text.txt" -c 2000 |
      grep -q "fewer than one chunk" || fail "a text shorter than a chunk not explained"
    expect_error "$kvik" perplexity -m "$model" -f "$work/text.txt" -c 1000000 |
      grep -q "context length" || fail "a context beyond the model's not explained"
    expect_error "$kvik" perplexity -m "$model" -f "$work/text.txt" -c 2 >/dev/null || exit 1
    expect_error "$kvik" perplexity -m "$model" --bogus >/dev/null || exit 1
    ;;

  make_model_is_reproducible)
    "$kvik" make-model --preset tiny --seed 3 -o "$work/a.gguf" >/dev/null
    "$kvik" make-model --preset tiny --seed 3 -o "$work/b.gguf" >/dev/null
    "$kvik" make-model --preset tiny --seed 4 -o "$work/c.gguf" >/dev/null
    cmp -s "$work/a.gguf" "$work/b.gguf" || fail "same seed, different files"
    cmp -s "$work/a.gguf" "$work/c.gguf" && fail "different seeds, same file"
    for dtype in f16 bf16 q8_0 q4_0; do
      "$kvik" make-model --preset tiny --dtype $dtype -o "$work/$dtype.gguf" >/dev/null || fail "make-model $dtype"
      "$kvik" inspect "$work/$dtype.gguf" | grep -q "blk.0.attn_q.weight *$dtype" || fail "inspect shows no $dtype tensor"
    done
    ;;

  *) fail "unknown case $case_name" ;;
esac
echo "ok: $case_name"
