#!/usr/bin/env bash
# Installs the Debian packages kvik builds, tests and demos with. Idempotent and quiet when all is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libxxhash-dev
  redis-server libhiredis-dev
  python3 python3-numpy
  chromium
  nodejs npm
)
# clang + its runtime only for the libFuzzer target (make fuzz).
if [[ "${KVIK_WANT_FUZZ:-0}" == 1 ]]; then packages+=(clang libclang-rt-14-dev); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The machine may ship node/npm outside Debian's packages; accept any working npm.
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
# Drop the blanks the substitutions above leave behind.
wanted=(); for p in "${missing[@]}"; do [[ -n "$p" ]] && wanted+=("$p"); done
[[ ${#wanted[@]} -eq 0 ]] && exit 0

echo "bootstrap: installing ${wanted[*]}" >&2
sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${wanted[@]}" >&2
