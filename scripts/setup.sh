#!/usr/bin/env bash
# Installs what sipdex needs to build and test, from Debian 12 packages only.
# Idempotent: installs only what is missing, and says what it installs.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build clang libclang-rt-14-dev pkg-config
  # required libraries
  librocksdb-dev tao-pegtl-dev libzstd-dev catch2
  # readers, regular expressions, CLI, formatting, JSON, hashing
  zlib1g-dev libarchive-dev libre2-dev libcli11-dev libfmt-dev nlohmann-json3-dev libxxhash-dev
  # the .a files of the static release binary (SIPDEX_STATIC) that the packages above may not pull in
  libsnappy-dev libbz2-dev liblz4-dev liblzma-dev nettle-dev
  # command-line tools used by the demo and the benchmarks as baselines
  zstd xz-utils ripgrep hyperfine gzip time
  # JSON on the command line (bench/gen.sh compares inspect's summary with the ground truth)
  jq
)
# Wanted but not required: the report's browser test skips, saying so, without it.
optional=(chromium)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
missing_optional=()
for p in "${optional[@]}"; do installed "$p" || missing_optional+=("$p"); done

if [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  echo "setup: all $((${#packages[@]} + ${#optional[@]})) packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ${#missing_optional[@]} -gt 0 ]; then
  echo "setup: installing (optional) ${missing_optional[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing_optional[@]}" >/dev/null ||
    echo "setup: could not install ${missing_optional[*]}; the tests that need them will say they were skipped"
fi
echo "setup: done"
