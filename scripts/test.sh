#!/usr/bin/env bash
# Installs what is missing, builds sipdex twice (optimised, and with
# AddressSanitizer + UndefinedBehaviorSanitizer), runs every test in both, and
# runs each fuzz target briefly on its committed seed corpus.
#   FUZZ_SECONDS=N  seconds per fuzz target (default 20; 0 skips fuzzing)
#   ASAN_FAULTS=1   also run the fault-injection scripts (tests/reliability, label
#                   fault-script) in the sanitizer build; they always run in the release
#                   build. Off by default to keep CI under 20 minutes on 2 cores (they add
#                   about 5 minutes there).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-20}

echo "== build: release"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$jobs"
echo "== test: release"
ctest --test-dir build/release -j "$jobs" --output-on-failure

echo "== build: asan+ubsan"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSIPDEX_SANITIZE=ON >/dev/null
cmake --build build/asan -j "$jobs"
echo "== test: asan+ubsan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan -j "$jobs" --output-on-failure \
    $([ "${ASAN_FAULTS:-0}" = 1 ] || echo "--label-exclude fault-script")

if [ "$fuzz_seconds" -gt 0 ]; then
  echo "== fuzz: ${fuzz_seconds}s per target"
  CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSIPDEX_FUZZ=ON -DSIPDEX_TESTS=ON >/dev/null
  cmake --build build/fuzz -j "$jobs" --target fuzz_targets
  bash tests/fuzz/run.sh build/fuzz "$fuzz_seconds"
fi
echo "== all tests passed"
