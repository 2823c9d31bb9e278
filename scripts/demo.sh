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

index="${out}/index"
echo "== ingest it into ${index}"
rm -rf "$index"
"$sipdex" ingest --index "$index" "${out}/sample"

echo "== stats"
"$sipdex" stats --index "$index"

echo "== the canonical query: subscriptions refused with ms-diagnostics 2157, by day"
query='method in (SUBSCRIBE, NOTIFY) and (diag = 2157 or resource.diag = 2157) | count by day'
echo "sipdex query '$query'"
"$sipdex" query --index "$index" "$query"

echo "== one refused subscription's dialog (sipdex show CALL-ID)"
call_id=$("$sipdex" query --index "$index" --format jsonl 'type = response and method = SUBSCRIBE and diag = 2157 | limit 1 | fields call_id' | jq -r .call_id)
"$sipdex" show --index "$index" "$call_id"

echo "== the weekly hybrid-readiness report for the last full week"
"$sipdex" report --index "$index" --week last --format html -o "${out}/report.html"
"$sipdex" report --index "$index" --week last --format md -o "${out}/report.md"
echo "report: $(pwd)/${out}/report.html (and report.md beside it)"
