#!/usr/bin/env bash
# The main job on a generated sample: install what is missing, build, generate
# about 200 MB of traces for two weeks, ingest them, run the canonical query
# and write the weekly hybrid-readiness report for the last full week.
#   SAMPLE_SIZE=200MB  size of the generated sample
#   OUT=out            where the sample, the index and the report go
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

size=${SAMPLE_SIZE:-200MB}
out=${OUT:-out}

echo "== build"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIPDEX_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target sipdex sipdex-gen
sipdex=build/release/cli/sipdex
gen=build/release/corpus/sipdex-gen

echo "== generate a ${size} sample (seed 7) in ${out}/sample"
rm -rf "${out}/sample"
"$gen" --size "$size" --seed 7 --days 14 --start 2014-07-07 --out "${out}/sample"

echo "== parse it once (sipdex inspect)"
"$sipdex" inspect --format summary "${out}/sample"
